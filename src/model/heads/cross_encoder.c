/* Cross-encoder: an encoder (arch/encoder.h) + sequence-classification head (see
 * cross_encoder.h). */
#include "model/heads/cross_encoder.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/json_read.h"
#include "model/arch/bert.h"
#include "model/config.h"
#include "model/arch/packed_batch.h"
#include "model/formats/safetensors.h"
#include "model/families.h"
#include "model/formats/weights.h"
#include "tensor/ops.h"
#include "text/tokenizer.h"

#define CE_BATCH_TOKENS 1024 /* tokens per encoder call, as the dense head */

enum ce_head { CE_HEAD_BERT, CE_HEAD_ROBERTA, CE_HEAD_DISTILBERT, CE_HEAD_MODERNBERT };

struct cross_encoder {
	struct encoder enc;
	struct tokenizer *tok;
	enum ce_head head;
	int hidden, n_labels, max_length;
	bool zero_types; /* the model has at most one token type */
	float *w1, *b1; /* [H][H], [H]: pooler / classifier.dense / pre_classifier / head.dense
	                   (b1 NULL: ModernBERT without classifier_bias) */
	float *w2, *b2; /* [L][H], [L]: classifier / classifier.out_proj */
	/* ModernBERT: pooling (mean or first token), the head's activation and LayerNorm */
	bool mean_pool, act_tanh_approx;
	float *norm_w, *norm_b; /* [H]; norm_b NULL without norm_bias */
	float norm_eps;
	struct packed_batch batch; /* the pairs being filled */
};

/* config.json: the architecture's head, and the number of labels (id2label, else num_labels,
 * else 2 as transformers defaults to). */
static enum sy_status read_head_config(const struct model_desc *d, struct sy_error *err,
                                       enum ce_head *head, int *n_labels)
{
	const char *arch = model_desc_architecture(d, "ForSequenceClassification", true);
	enum sy_status s = SY_OK;
	if (!arch) {
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: architectures names no *ForSequenceClassification model, so "
		                 "this is not a cross-encoder",
		                 d->config_name);
	} else if (!strncmp(arch, "Bert", 4)) {
		*head = CE_HEAD_BERT;
	} else if (!strncmp(arch, "Roberta", 7) || !strncmp(arch, "XLMRoberta", 10) ||
	           !strncmp(arch, "Camembert", 9)) {
		*head = CE_HEAD_ROBERTA;
	} else if (!strncmp(arch, "DistilBert", 10)) {
		*head = CE_HEAD_DISTILBERT;
	} else if (!strncmp(arch, "ModernBert", 10)) {
		*head = CE_HEAD_MODERNBERT;
	} else {
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: %s is not supported (BERT, RoBERTa, XLM-RoBERTa, CamemBERT, "
		                 "DistilBERT and ModernBERT sequence classifiers are)",
		                 d->config_name, arch);
	}
	if (s == SY_OK) {
		const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(d->config, "id2label");
		const cJSON *nl = cJSON_GetObjectItemCaseSensitive(d->config, "num_labels");
		*n_labels = cJSON_IsObject(id2label) ? cJSON_GetArraySize(id2label)
		            : cJSON_IsNumber(nl)     ? (int)nl->valuedouble
		                                     : 2;
		if (*n_labels < 1 || *n_labels > 4096)
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: %d labels", d->config_name,
			                 *n_labels);
	}
	return s;
}

bool cross_encoder_detect(const struct model_desc *d)
{
	struct sy_error err;
	enum ce_head h;
	int n;
	return read_head_config(d, &err, &h, &n) == SY_OK;
}

void cross_encoder_close(struct cross_encoder *ce)
{
	if (!ce)
		return;
	encoder_free(&ce->enc);
	tokenizer_free(ce->tok);
	free(ce->norm_w);
	free(ce->norm_b);
	free(ce->w1);
	free(ce->b1);
	free(ce->w2);
	free(ce->b2);
	packed_batch_free(&ce->batch);
	free(ce);
}

/* ModernBertForSequenceClassification's head options: classifier_pooling, classifier_activation,
 * classifier_bias, norm_bias, norm_eps; anything else is refused naming the key. */
static enum sy_status modernbert_head_config(struct cross_encoder *ce, const cJSON *c,
                                             bool *dense_bias, bool *norm_bias,
                                             struct sy_error *err)
{
	const char *pooling, *act;
	double eps;
	enum sy_status s = json_read_string(c, "classifier_pooling", NULL, "cls", err, &pooling);
	if (s == SY_OK)
		s = json_read_string(c, "classifier_activation", NULL, "gelu", err, &act);
	if (s == SY_OK)
		s = json_read_bool(c, "classifier_bias", NULL, false, err, dense_bias);
	if (s == SY_OK)
		s = json_read_bool(c, "norm_bias", NULL, false, err, norm_bias);
	if (s == SY_OK)
		s = json_read_number(c, "norm_eps", NULL, 0, 1, 1e-5, err, &eps);
	if (s != SY_OK)
		return s;
	ce->norm_eps = (float)eps;
	if (strcmp(pooling, "cls") != 0 && strcmp(pooling, "mean") != 0)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "classifier_pooling: \"%s\" is not cls or mean", pooling);
	ce->mean_pool = !strcmp(pooling, "mean");
	if (!strcmp(act, "gelu"))
		ce->act_tanh_approx = false;
	else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh"))
		ce->act_tanh_approx = true;
	else
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "classifier_activation: \"%s\" is not supported (gelu, "
		                    "gelu_new, gelu_pytorch_tanh)",
		                    act);
	return SY_OK;
}

static enum sy_status load_modernbert_head(struct cross_encoder *ce, const struct model_desc *d,
                                           const struct safetensors *st, struct sy_error *err)
{
	const int H = ce->hidden, L = ce->n_labels;
	bool dense_bias, norm_bias;
	enum sy_status s = modernbert_head_config(ce, d->config, &dense_bias, &norm_bias, err);
	if (s != SY_OK) {
		sy_error_prefix(err, "%s", d->config_name);
		return s;
	}
	s = safetensors_read_f32(st, "head.dense.weight", 2, (int64_t[]){H, H}, err, &ce->w1);
	if (s == SY_OK && dense_bias)
		s = safetensors_read_f32(st, "head.dense.bias", 1, (int64_t[]){H}, err, &ce->b1);
	if (s == SY_OK)
		s = safetensors_read_f32(st, "head.norm.weight", 1, (int64_t[]){H}, err,
		                         &ce->norm_w);
	if (s == SY_OK && norm_bias)
		s = safetensors_read_f32(st, "head.norm.bias", 1, (int64_t[]){H}, err, &ce->norm_b);
	if (s == SY_OK)
		s = safetensors_read_f32(st, "classifier.weight", 2, (int64_t[]){L, H}, err,
		                         &ce->w2);
	if (s == SY_OK)
		s = safetensors_read_f32(st, "classifier.bias", 1, (int64_t[]){L}, err, &ce->b2);
	return s;
}

static enum sy_status load_head(struct cross_encoder *ce, const struct model_desc *d,
                                const struct safetensors *st, struct sy_error *err)
{
	const int H = ce->hidden, L = ce->n_labels;
	char n1[160], n2[160];
	const struct bert_model *bm = bert_of_encoder(&ce->enc);
	const char *prefix = bm ? bert_model_prefix(bm) : "";
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
	case CE_HEAD_MODERNBERT: return load_modernbert_head(ce, d, st, err);
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

static enum sy_status ce_load(const struct model_desc *d, const struct model_options *opts,
                              struct sy_error *err, struct cross_encoder **out)
{
	*out = NULL;
	struct model_options defaults = model_default_options();
	if (!opts)
		opts = &defaults;
	struct cross_encoder *ce = calloc(1, sizeof *ce);
	if (!ce)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = read_head_config(d, err, &ce->head, &ce->n_labels);
	if (s == SY_OK)
		s = encoder_open(d, opts->n_threads, opts->precision, err, &ce->enc);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(d->path, err, &st, NULL);
	if (s == SY_OK) {
		ce->hidden = ce->enc.hidden;
		/* A single token type (the RoBERTa family's table of one) takes zeros only. */
		double types = 2;
		json_read_has_number(d->config, "type_vocab_size", &types);
		ce->zero_types = !ce->enc.uses_type_ids || types <= 1;
		s = load_head(ce, d, st, err);
	}
	safetensors_close(st);
	if (s == SY_OK)
		s = model_tokenizer_load(d->path, ce->enc.vocab_size, err, &ce->tok);
	if (s == SY_OK) {
		const int cap = ce->enc.max_tokens;
		int m = opts->max_length > 0 ? opts->max_length : tokenizer_max_length(ce->tok);
		ce->max_length = m > 0 && m < cap ? m : cap;
		int rows = ce->max_length > CE_BATCH_TOKENS ? ce->max_length : CE_BATCH_TOKENS;
		s = encoder_reserve(&ce->enc, rows, rows, ce->max_length, err);
	}
	if (s != SY_OK) {
		cross_encoder_close(ce);
		return s;
	}
	*out = ce;
	return SY_OK;
}

enum sy_status cross_encoder_load(const char *dir, const struct model_options *opts,
                                  struct sy_error *err, struct cross_encoder **out)
{
	*out = NULL;
	struct model_desc d;
	enum sy_status s = model_desc_read(dir, err, &d);
	if (s == SY_OK)
		s = ce_load(&d, opts, err, out);
	model_desc_free(&d);
	return s;
}

int cross_encoder_num_labels(const struct cross_encoder *ce)
{
	return ce->n_labels;
}

const char *cross_encoder_arch(const struct cross_encoder *ce)
{
	return ce->enc.arch;
}

int cross_encoder_max_tokens(const struct cross_encoder *ce)
{
	return ce->max_length;
}

size_t cross_encoder_bytes(const struct cross_encoder *ce)
{
	return tokenizer_bytes(ce->tok) + encoder_bytes(&ce->enc) +
	       ((size_t)ce->hidden + 1) * (size_t)(ce->hidden + ce->n_labels) * sizeof(float) +
	       (ce->norm_w ? 2 * (size_t)ce->hidden * sizeof(float) : 0);
}

/* Head on the first token of each sequence of the packed batch (ModernBERT: the first token or
 * the mean of the sequence's tokens, as classifier_pooling says); writes scores and logits. */
static void run_head(const struct cross_encoder *ce, const float *hidden,
                     const struct encoder_input *in, float *scores, float *logits)
{
	const int n_seqs = in->n_seqs;
	const int H = ce->hidden, L = ce->n_labels;
	float *h1 = malloc((size_t)H * sizeof *h1), *lg = malloc((size_t)L * sizeof *lg);
	float *pool = malloc((size_t)H * sizeof *pool);
	if (!h1 || !lg || !pool) {
		free(h1);
		free(lg);
		free(pool);
		return;
	}
	int row = 0; /* the first token of sequence s */
	for (int s = 0; s < n_seqs; row += in->lens[s], s++) {
		const float *x = hidden + (size_t)row * H;
		if (ce->head == CE_HEAD_MODERNBERT && ce->mean_pool && in->lens[s] > 0) {
			for (int j = 0; j < H; j++) {
				double acc = 0;
				for (int t = 0; t < in->lens[s]; t++)
					acc += x[(size_t)t * H + j];
				pool[j] = (float)(acc / in->lens[s]);
			}
			x = pool;
		}
		for (int j = 0; j < H; j++) {
			double acc = ce->b1 ? ce->b1[j] : 0;
			const float *w = ce->w1 + (size_t)j * H;
			for (int p = 0; p < H; p++)
				acc += (double)w[p] * x[p];
			h1[j] = ce->head == CE_HEAD_DISTILBERT   ? (acc > 0 ? (float)acc : 0.0f)
			        : ce->head == CE_HEAD_MODERNBERT ? (float)acc
			                                         : (float)tanh(acc);
		}
		if (ce->head == CE_HEAD_MODERNBERT) {
			if (ce->act_tanh_approx)
				gelu_tanh_f32(h1, H);
			else
				gelu_erf_f32(h1, H);
			layer_norm_f32(h1, h1, ce->norm_w, ce->norm_b, H, ce->norm_eps);
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
	free(pool);
}

/* The pair's tokens: past the model's limit the document is cut first (only_second), and only
 * a query that does not fit on its own is cut too (longest_first). */
static enum sy_status tokenize_pair(const struct cross_encoder *ce, const char *q, size_t ql,
                                    const char *doc, size_t dl, struct sy_error *err,
                                    struct tok_encoding *enc)
{
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = ce->max_length;
	p.add_special_tokens = true;
	p.truncation = TOK_TRUNCATE_ONLY_SECOND;
	enum sy_status s = tokenizer_encode(ce->tok, q, ql, doc, dl, &p, err, enc);
	if (s == SY_ERR_INVALID_ARG) { /* the query alone is too long: cut both */
		p.truncation = TOK_TRUNCATE_LONGEST_FIRST;
		s = tokenizer_encode(ce->tok, q, ql, doc, dl, &p, err, enc);
	}
	return s;
}

struct ce_run {
	struct cross_encoder *ce;
	float *scores, *logits;
};

static enum sy_status run_chunk(void *ctx, struct packed_batch *pb, int first, int count,
                                struct sy_error *err)
{
	(void)count;
	struct ce_run *r = ctx;
	struct encoder_input in = packed_batch_input(pb);
	const float *hidden;
	enum sy_status s = encoder_forward(&r->ce->enc, &in, err, &hidden);
	if (s == SY_OK)
		run_head(r->ce, hidden, &in, r->scores + first,
		         r->logits ? r->logits + (size_t)first * r->ce->n_labels : NULL);
	return s;
}

static enum sy_status run_items(struct cross_encoder *ce, const struct model_item *items, int n,
                                struct sy_error *err, float *scores, float *logits)
{
	struct ce_run r = {ce, scores, logits};
	return packed_batch_chunks(&ce->batch, items, n, CE_BATCH_TOKENS, !ce->zero_types,
	                           run_chunk, &r, err);
}

enum sy_status cross_encoder_score(struct cross_encoder *ce, const char *const *queries,
                                   const size_t *query_lens, const char *const *docs,
                                   const size_t *doc_lens, int n, struct sy_error *err,
                                   float *scores, float *logits, int *n_tokens_out)
{
	struct model_prepared *preps = calloc((size_t)(n > 0 ? n : 1), sizeof *preps);
	struct model_item *items = calloc((size_t)(n > 0 ? n : 1), sizeof *items);
	enum sy_status s =
	    preps && items ? SY_OK : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	int done = 0;
	for (; s == SY_OK && done < n; done++) {
		s = tokenize_pair(ce, queries[done], query_lens[done], docs[done], doc_lens[done],
		                  err, &preps[done].enc);
		items[done].prep = &preps[done];
		if (s == SY_OK && n_tokens_out)
			n_tokens_out[done] = preps[done].enc.n;
	}
	if (s == SY_OK)
		s = run_items(ce, items, n, err, scores, logits);
	for (int i = 0; i < done; i++)
		tok_encoding_free(&preps[i].enc);
	free(preps);
	free(items);
	return s;
}

/* ---- the score task ---- */

static enum sy_status ce_prepare(const void *impl, const struct model_input *in,
                                 struct sy_error *err, struct model_prepared *out)
{
	enum sy_status s =
	    tokenize_pair(impl, in->query ? in->query : "", in->query ? in->query_len : 0, in->text,
	                  in->len, err, &out->enc);
	if (s == SY_OK)
		out->n_tokens = out->enc.n;
	return s;
}

static enum sy_status ce_run(void *impl, const struct model_item *items, int n,
                             struct sy_error *err, float *scores)
{
	return run_items(impl, items, n, err, scores, NULL);
}

static size_t ce_bytes(const void *impl)
{
	return cross_encoder_bytes(impl);
}

static int ce_max_tokens(const void *impl)
{
	return cross_encoder_max_tokens(impl);
}

static void ce_close(void *impl)
{
	cross_encoder_close(impl);
}

/* The tokenizer, for the tokenize and decode routes. */
static const struct tokenizer *ce_tokenizer(const void *impl)
{
	return ((const struct cross_encoder *)impl)->tok;
}

static const struct model_ops ce_ops = {
    .tokenizer = ce_tokenizer, .close = ce_close, .bytes = ce_bytes, .max_tokens = ce_max_tokens};
static const struct model_score_task ce_score = {.prepare = ce_prepare, .run = ce_run};

enum sy_status cross_encoder_open(const struct model_desc *d, const struct model_options *opts,
                                  struct sy_error *err, struct model *out)
{
	struct cross_encoder *ce;
	enum sy_status s = ce_load(d, opts, err, &ce);
	if (s != SY_OK)
		return s;
	out->arch = "cross-encoder";
	out->impl = ce;
	out->ops = &ce_ops;
	out->score = &ce_score;
	return SY_OK;
}
