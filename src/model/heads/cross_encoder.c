/* Cross-encoder: BERT-family encoder + sequence-classification head (see cross_encoder.h). */
#include "model/heads/cross_encoder.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "model/arch/bert.h"
#include "model/config.h"
#include "model/arch/packed_batch.h"
#include "model/formats/safetensors.h"
#include "model/formats/weights.h"
#include "text/tokenizer.h"

#define CE_BATCH_TOKENS 1024 /* tokens per encoder call, as the embedder */

enum ce_head { CE_HEAD_BERT, CE_HEAD_ROBERTA, CE_HEAD_DISTILBERT };

struct cross_encoder {
	struct bert_model *model;
	struct tokenizer *tok;
	enum ce_head head;
	int hidden, n_labels, max_length;
	bool zero_types; /* the model has at most one token type */
	float *w1, *b1; /* [H][H], [H]: pooler / classifier.dense / pre_classifier */
	float *w2, *b2; /* [L][H], [L]: classifier / classifier.out_proj */
	struct packed_batch batch; /* the pairs being filled */
};

/* config.json: the architecture's head, and the number of labels (id2label, else num_labels,
 * else 2 as transformers defaults to). */
static enum sy_status read_head_config(const char *dir, struct sy_error *err, enum ce_head *head,
                                       int *n_labels)
{
	char *path = sy_path_join(dir, "config.json");
	char *text = NULL;
	size_t len = 0;
	enum sy_status s = path ? sy_file_read(path, err, &text, &len) : SY_ERR_NOMEM;
	if (s != SY_OK) {
		free(path);
		return s == SY_ERR_NOMEM ? sy_error_set(err, s, "out of memory") : s;
	}
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *archs = cJSON_GetObjectItemCaseSensitive(doc, "architectures");
	const char *arch = NULL;
	const cJSON *a;
	cJSON_ArrayForEach(a, archs)
	{
		if (cJSON_IsString(a) && strstr(a->valuestring, "ForSequenceClassification"))
			arch = a->valuestring;
	}
	if (!arch) {
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: architectures names no *ForSequenceClassification model, so "
		                 "this is not a cross-encoder",
		                 path);
	} else if (!strncmp(arch, "Bert", 4)) {
		*head = CE_HEAD_BERT;
	} else if (!strncmp(arch, "Roberta", 7) || !strncmp(arch, "XLMRoberta", 10) ||
	           !strncmp(arch, "Camembert", 9)) {
		*head = CE_HEAD_ROBERTA;
	} else if (!strncmp(arch, "DistilBert", 10)) {
		*head = CE_HEAD_DISTILBERT;
	} else {
		s = sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "%s: %s is not supported (BERT, RoBERTa, XLM-RoBERTa, CamemBERT and "
		    "DistilBERT sequence classifiers are)",
		    path, arch);
	}
	if (s == SY_OK) {
		const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(doc, "id2label");
		const cJSON *nl = cJSON_GetObjectItemCaseSensitive(doc, "num_labels");
		*n_labels = cJSON_IsObject(id2label) ? cJSON_GetArraySize(id2label)
		            : cJSON_IsNumber(nl)     ? (int)nl->valuedouble
		                                     : 2;
		if (*n_labels < 1 || *n_labels > 4096)
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: %d labels", path, *n_labels);
	}
	cJSON_Delete(doc);
	free(path);
	return s;
}

bool cross_encoder_detect(const char *dir)
{
	struct sy_error err;
	enum ce_head h;
	int n;
	return read_head_config(dir, &err, &h, &n) == SY_OK;
}

void cross_encoder_close(struct cross_encoder *ce)
{
	if (!ce)
		return;
	bert_model_free(ce->model);
	tokenizer_free(ce->tok);
	free(ce->w1);
	free(ce->b1);
	free(ce->w2);
	free(ce->b2);
	packed_batch_free(&ce->batch);
	free(ce);
}

static enum sy_status load_head(struct cross_encoder *ce, const struct safetensors *st,
                                const char *prefix, struct sy_error *err)
{
	const int H = ce->hidden, L = ce->n_labels;
	char n1[160], n2[160];
	switch (ce->head) {
	case CE_HEAD_BERT:
		snprintf(n1, sizeof n1, "%spooler.dense", prefix);
		snprintf(n2, sizeof n2, "classifier");
		break;
	case CE_HEAD_ROBERTA:
		snprintf(n1, sizeof n1, "classifier.dense");
		snprintf(n2, sizeof n2, "classifier.out_proj");
		break;
	case CE_HEAD_DISTILBERT:
		snprintf(n1, sizeof n1, "pre_classifier");
		snprintf(n2, sizeof n2, "classifier");
		break;
	}
	char name[200];
	snprintf(name, sizeof name, "%s.weight", n1);
	enum sy_status s = safetensors_read_f32(st, name, 2, (int64_t[]){H, H}, err, &ce->w1);
	if (s == SY_OK) {
		snprintf(name, sizeof name, "%s.bias", n1);
		s = safetensors_read_f32(st, name, 1, (int64_t[]){H}, err, &ce->b1);
	}
	if (s == SY_OK) {
		snprintf(name, sizeof name, "%s.weight", n2);
		s = safetensors_read_f32(st, name, 2, (int64_t[]){L, H}, err, &ce->w2);
	}
	if (s == SY_OK) {
		snprintf(name, sizeof name, "%s.bias", n2);
		s = safetensors_read_f32(st, name, 1, (int64_t[]){L}, err, &ce->b2);
	}
	return s;
}

enum sy_status cross_encoder_open(const char *dir, const struct embed_options *opts,
                                  struct sy_error *err, struct cross_encoder **out)
{
	*out = NULL;
	struct embed_options defaults = embed_default_options();
	if (!opts)
		opts = &defaults;
	struct cross_encoder *ce = calloc(1, sizeof *ce);
	if (!ce)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = read_head_config(dir, err, &ce->head, &ce->n_labels);
	struct bert_config cfg;
	if (s == SY_OK)
		s = bert_config_load(dir, err, &cfg);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(dir, err, &st, NULL);
	if (s == SY_OK)
		s = bert_model_load_st_prec(&cfg, st, opts->n_threads, opts->precision, err,
		                            &ce->model);
	if (s == SY_OK) {
		ce->hidden = cfg.hidden;
		ce->zero_types = cfg.type_vocab_size <= 1;
		s = load_head(ce, st, bert_model_prefix(ce->model), err);
	}
	safetensors_close(st);
	if (s == SY_OK)
		s = tokenizer_load(dir, err, &ce->tok);
	if (s == SY_OK) {
		int m = opts->max_length > 0 ? opts->max_length : tokenizer_max_length(ce->tok);
		ce->max_length = m > 0 && m < cfg.max_tokens ? m : cfg.max_tokens;
		int rows = ce->max_length > CE_BATCH_TOKENS ? ce->max_length : CE_BATCH_TOKENS;
		s = bert_model_reserve(ce->model, rows, rows, ce->max_length, err);
	}
	if (s != SY_OK) {
		cross_encoder_close(ce);
		return s;
	}
	*out = ce;
	return SY_OK;
}

int cross_encoder_num_labels(const struct cross_encoder *ce)
{
	return ce->n_labels;
}

const char *cross_encoder_arch(const struct cross_encoder *ce)
{
	return bert_arch_name(bert_model_config(ce->model)->arch);
}

int cross_encoder_max_tokens(const struct cross_encoder *ce)
{
	return ce->max_length;
}

size_t cross_encoder_bytes(const struct cross_encoder *ce)
{
	return bert_model_weight_bytes(ce->model) + bert_model_scratch_bytes(ce->model) +
	       ((size_t)ce->hidden + 1) * (size_t)(ce->hidden + ce->n_labels) * sizeof(float);
}

/* Head on the first token of each sequence of the packed batch; writes scores and logits. */
static void run_head(const struct cross_encoder *ce, const float *hidden,
                     const struct bert_input *in, float *scores, float *logits)
{
	const int n_seqs = in->n_seqs;
	const int H = ce->hidden, L = ce->n_labels;
	float *h1 = malloc((size_t)H * sizeof *h1), *lg = malloc((size_t)L * sizeof *lg);
	if (!h1 || !lg) {
		free(h1);
		free(lg);
		return;
	}
	int row = 0; /* the first token of sequence s */
	for (int s = 0; s < n_seqs; row += in->lens[s], s++) {
		const float *x = hidden + (size_t)row * H;
		for (int j = 0; j < H; j++) {
			double acc = ce->b1[j];
			const float *w = ce->w1 + (size_t)j * H;
			for (int p = 0; p < H; p++)
				acc += (double)w[p] * x[p];
			h1[j] = ce->head == CE_HEAD_DISTILBERT ? (acc > 0 ? (float)acc : 0.0f)
			                                       : (float)tanh(acc);
		}
		double mx = -INFINITY;
		for (int l = 0; l < L; l++) {
			double acc = ce->b2[l];
			const float *w = ce->w2 + (size_t)l * H;
			for (int p = 0; p < H; p++)
				acc += (double)w[p] * h1[p];
			lg[l] = (float)acc;
			mx = acc > mx ? acc : mx;
		}
		if (logits)
			memcpy(logits + (size_t)s * L, lg, (size_t)L * sizeof *lg);
		if (L == 1) {
			scores[s] = (float)(1.0 / (1.0 + exp(-(double)lg[0])));
		} else {
			double sum = 0;
			for (int l = 0; l < L; l++)
				sum += exp((double)lg[l] - mx);
			scores[s] = (float)(exp((double)lg[L - 1] - mx) / sum);
		}
	}
	free(h1);
	free(lg);
}

/* Runs the packed pairs, writes their scores (and logits), then empties the batch. */
static enum sy_status run_batch(struct cross_encoder *ce, struct sy_error *err, float *scores,
                                float *logits)
{
	if (ce->batch.n_seqs == 0)
		return SY_OK;
	struct bert_input in = packed_batch_input(&ce->batch);
	packed_batch_clear(&ce->batch);
	const float *hidden;
	enum sy_status s = bert_forward(ce->model, &in, err, &hidden);
	if (s == SY_OK)
		run_head(ce, hidden, &in, scores, logits);
	return s;
}

enum sy_status cross_encoder_score(struct cross_encoder *ce, const char *const *queries,
                                   const size_t *query_lens, const char *const *docs,
                                   const size_t *doc_lens, int n, struct sy_error *err,
                                   float *scores, float *logits, int *n_tokens_out)
{
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = ce->max_length;
	p.add_special_tokens = true;
	const int L = ce->n_labels;
	int first = 0;
	packed_batch_clear(&ce->batch);
	for (int i = 0; i < n; i++) {
		struct tok_encoding enc;
		p.truncation = TOK_TRUNCATE_ONLY_SECOND;
		enum sy_status s = tokenizer_encode(ce->tok, queries[i], query_lens[i], docs[i],
		                                    doc_lens[i], &p, err, &enc);
		if (s == SY_ERR_INVALID_ARG) { /* the query alone is too long: cut both */
			p.truncation = TOK_TRUNCATE_LONGEST_FIRST;
			s = tokenizer_encode(ce->tok, queries[i], query_lens[i], docs[i],
			                     doc_lens[i], &p, err, &enc);
		}
		if (s != SY_OK)
			return s;
		if (n_tokens_out)
			n_tokens_out[i] = enc.n;
		if (ce->batch.n_seqs > 0 && ce->batch.n_tokens + enc.n > CE_BATCH_TOKENS) {
			s = run_batch(ce, err, scores + first,
			              logits ? logits + (size_t)first * L : NULL);
			first = i;
		}
		if (s == SY_OK)
			s = packed_batch_add(&ce->batch, enc.ids,
			                     ce->zero_types ? NULL : enc.type_ids, enc.n, err);
		tok_encoding_free(&enc);
		if (s != SY_OK)
			return s;
	}
	return run_batch(ce, err, scores + first, logits ? logits + (size_t)first * L : NULL);
}

/* ---- as an embedder: the engine batches (query, document) items like texts ---- */

static int ce_dims(const void *impl)
{
	(void)impl;
	return 1;
}

static enum sy_status ce_encode(void *impl, const char *const *texts, const size_t *lens, int n,
                                float *out, struct sy_error *err)
{
	return sy_error_set(err, SY_ERR_UNSUPPORTED,
	                    "a cross-encoder scores (query, document) pairs; it does not embed "
	                    "texts");
}

static enum sy_status ce_encode_ex(void *impl, const struct embed_call *c, struct sy_error *err,
                                   float *out, int *n_tokens)
{
	const char **q = malloc((size_t)c->n * sizeof *q);
	size_t *ql = malloc((size_t)c->n * sizeof *ql);
	enum sy_status s = SY_OK;
	if (!q || !ql)
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; s == SY_OK && i < c->n; i++) {
		q[i] = c->prefixes && c->prefixes[i] ? c->prefixes[i] : "";
		ql[i] = c->prefixes && c->prefixes[i] ? c->prefix_lens[i] : 0;
	}
	if (s == SY_OK)
		s = cross_encoder_score(impl, q, ql, c->texts, c->lens, c->n, err, out, NULL,
		                        n_tokens);
	free(q);
	free(ql);
	return s;
}

static size_t ce_bytes(const void *impl)
{
	return cross_encoder_bytes(impl);
}

static int ce_max_tokens(const void *impl)
{
	return cross_encoder_max_tokens(impl);
}

static bool ce_pairs(const void *impl)
{
	(void)impl;
	return true;
}

static void ce_close(void *impl)
{
	cross_encoder_close(impl);
}

static const struct embedder_ext ce_ext = {
    .encode_ex = ce_encode_ex, .bytes = ce_bytes, .max_tokens = ce_max_tokens, .pairs = ce_pairs};
static const struct embedder_vt ce_vt = {"cross-encoder", ce_dims, ce_encode, ce_close};

enum sy_status cross_encoder_embedder_open(const char *dir, const struct embed_options *opts,
                                           struct sy_error *err, struct embedder *out)
{
	struct cross_encoder *ce;
	enum sy_status s = cross_encoder_open(dir, opts, err, &ce);
	if (s != SY_OK)
		return s;
	out->impl = ce;
	out->vt = &ce_vt;
	out->ext = &ce_ext;
	return SY_OK;
}
