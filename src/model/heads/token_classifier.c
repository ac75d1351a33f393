/* Token classification (named-entity recognition): a BERT-family encoder with a linear layer
 * over every token's last hidden state, as *ForTokenClassification checkpoints such as
 * dslim/bert-base-NER store it (`classifier.weight` [labels][hidden], `classifier.bias`, label
 * names in config.json id2label). The probabilities of each token's labels go through
 * ner_aggregate (Hugging Face's pipeline rules) to give entity spans.
 *
 * Which tokens continue a word (for the first/average/max strategies) follows the pipeline
 * too: for WordPiece, a token whose vocabulary piece is longer than the text it covers (the
 * "##" of a continuation); for other tokenizers, a token that neither starts the text nor has a
 * space just before or at its start; an unknown token always starts a word.
 *
 * Texts longer than the model's limit are cut there: entities are found in the first
 * max_length tokens only. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/threads.h"
#include "model/arch/bert.h"
#include "model/config.h"
#include "model/families.h"
#include "model/heads/ner_aggregate.h"
#include "model/arch/packed_batch.h"
#include "model/formats/weights.h"
#include "tensor/gemm.h"
#include "tensor/ops.h"
#include "text/tokenizer.h"

#define TC_BATCH_TOKENS 1024

struct token_classifier {
	struct bert_model *model;
	struct tokenizer *tok;
	int hidden, n_labels, max_length;
	bool zero_types, wordpiece;
	int32_t unk_id;
	char **labels; /* [n_labels] id2label */
	char **types; /* entity types (labels without B-/I-, no "O"), [n_types] */
	int n_types;
	struct gemm_weights w; /* classifier [n_labels][hidden] */
	float *b; /* [n_labels] */
	float *probs; /* [TC_BATCH_TOKENS or max_length][n_labels] */
	struct packed_batch batch;
	struct ner_token *toks;
	int cap_toks;
};

/* config.json: a *ForTokenClassification architecture of the BERT family, and its labels. */
static enum sy_status read_config(const struct model_desc *d, struct sy_error *err,
                                  struct token_classifier *tc)
{
	const char *path = d->config_name;
	const cJSON *doc = d->config;
	enum sy_status s = SY_OK;
	const char *arch = model_desc_architecture(d, "ForTokenClassification", true);
	if (!arch) {
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: architectures names no *ForTokenClassification model", path);
	} else if (strncmp(arch, "Bert", 4) && strncmp(arch, "Roberta", 7) &&
	           strncmp(arch, "XLMRoberta", 10) && strncmp(arch, "Camembert", 9) &&
	           strncmp(arch, "DistilBert", 10)) {
		s = sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "%s: %s is not supported (BERT, RoBERTa, XLM-RoBERTa, CamemBERT and "
		    "DistilBERT token classifiers are)",
		    path, arch);
	}
	const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(doc, "id2label");
	int n = s == SY_OK && cJSON_IsObject(id2label) ? cJSON_GetArraySize(id2label) : 0;
	if (s == SY_OK && (n < 1 || n > 4096))
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: a token classifier needs id2label naming its labels", path);
	if (s == SY_OK) {
		tc->n_labels = n;
		tc->labels = calloc((size_t)n, sizeof *tc->labels);
		if (!tc->labels)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	const cJSON *l;
	const cJSON *entries = s == SY_OK ? id2label : (const cJSON *)NULL;
	cJSON_ArrayForEach(l, entries)
	{
		char *end;
		long id = strtol(l->string, &end, 10);
		if (*end || id < 0 || id >= n || !cJSON_IsString(l) || tc->labels[id] ||
		    strlen(l->valuestring) >= sizeof(((struct model_entity *)0)->label)) {
			s = sy_error_set(err, SY_ERR_FORMAT,
			                 "%s: id2label entry \"%s\" is not a label id 0..%d with a "
			                 "name of at most 63 bytes",
			                 path, l->string, n - 1);
			break;
		}
		tc->labels[id] = strdup(l->valuestring);
		if (!tc->labels[id])
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; s == SY_OK && i < n; i++)
		if (!tc->labels[i])
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: id2label lacks label %d", path,
			                 i);
	return s;
}

bool token_classifier_detect(const struct model_desc *d)
{
	return model_desc_architecture(d, "ForTokenClassification", true) != NULL;
}

static void tc_free(struct token_classifier *tc)
{
	if (!tc)
		return;
	bert_model_free(tc->model);
	tokenizer_free(tc->tok);
	for (int i = 0; tc->labels && i < tc->n_labels; i++)
		free(tc->labels[i]);
	free(tc->labels);
	for (int i = 0; i < tc->n_types; i++)
		free(tc->types[i]);
	free(tc->types);
	gemm_weights_free(&tc->w);
	free(tc->b);
	free(tc->probs);
	packed_batch_free(&tc->batch);
	free(tc->toks);
	free(tc);
}

/* The entity types the labels name, in label order: "B-PER", "I-PER" -> "PER"; "O" left out. */
static enum sy_status collect_types(struct token_classifier *tc, struct sy_error *err)
{
	tc->types = calloc((size_t)tc->n_labels, sizeof *tc->types);
	if (!tc->types)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < tc->n_labels; i++) {
		const char *dash = strchr(tc->labels[i], '-');
		const char *t = dash ? dash + 1 : tc->labels[i];
		bool seen = !strcmp(t, "O");
		for (int j = 0; !seen && j < tc->n_types; j++)
			seen = !strcmp(tc->types[j], t);
		if (seen)
			continue;
		tc->types[tc->n_types] = strdup(t);
		if (!tc->types[tc->n_types])
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		tc->n_types++;
	}
	return SY_OK;
}

static enum sy_status tc_load(const struct model_desc *d, const struct model_options *opts,
                              struct sy_error *err, struct token_classifier **out)
{
	const char *dir = d->path;
	*out = NULL;
	struct token_classifier *tc = calloc(1, sizeof *tc);
	if (!tc)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = read_config(d, err, tc);
	struct bert_config cfg;
	if (s == SY_OK)
		s = bert_config_from_desc(d, err, &cfg);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(dir, err, &st, NULL);
	if (s == SY_OK)
		s = bert_model_load_st_prec(&cfg, st, opts->n_threads, opts->precision, err,
		                            &tc->model);
	float *w = NULL;
	if (s == SY_OK) {
		tc->hidden = cfg.hidden;
		tc->zero_types = cfg.type_vocab_size <= 1;
		s = safetensors_read_f32(st, "classifier.weight", 2,
		                         (int64_t[]){tc->n_labels, tc->hidden}, err, &w);
	}
	if (s == SY_OK)
		s = gemm_weights_pack(w, tc->n_labels, tc->hidden, err, &tc->w);
	free(w);
	if (s == SY_OK)
		s = safetensors_read_f32(st, "classifier.bias", 1, (int64_t[]){tc->n_labels}, err,
		                         &tc->b);
	safetensors_close(st);
	if (s == SY_OK)
		s = collect_types(tc, err);
	if (s == SY_OK)
		s = model_tokenizer_load(dir, cfg.vocab_size, err, &tc->tok);
	if (s == SY_OK) {
		tc->wordpiece = !strcmp(tokenizer_model_kind(tc->tok), "WordPiece");
		tc->unk_id = tokenizer_token_to_id(tc->tok, tc->wordpiece ? "[UNK]" : "<unk>", 5);
		int m = opts->max_length > 0 ? opts->max_length : tokenizer_max_length(tc->tok);
		tc->max_length = m > 0 && m < cfg.max_tokens ? m : cfg.max_tokens;
		int rows = tc->max_length > TC_BATCH_TOKENS ? tc->max_length : TC_BATCH_TOKENS;
		tc->probs = malloc((size_t)rows * (size_t)tc->n_labels * sizeof *tc->probs);
		if (!tc->probs)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		if (s == SY_OK)
			s = bert_model_reserve(tc->model, rows, rows, tc->max_length, err);
	}
	if (s != SY_OK) {
		tc_free(tc);
		return s;
	}
	*out = tc;
	return SY_OK;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static bool is_subword(const struct token_classifier *tc, const struct tok_encoding *enc, int i,
                       const char *text)
{
	const size_t start = enc->offsets[2 * i], end = enc->offsets[2 * i + 1];
	if (enc->ids[i] == tc->unk_id)
		return false;
	if (tc->wordpiece) {
		const char *piece = tokenizer_id_to_token(tc->tok, enc->ids[i]);
		return piece &&
		       utf8_chars(piece, strlen(piece)) != utf8_chars(text + start, end - start);
	}
	return start > 0 && text[start - 1] != ' ' && text[start] != ' ';
}

struct tc_head_ctx {
	struct token_classifier *tc;
	const float *hidden;
	int rows;
};

static void head_part(void *p, int ith, int nth)
{
	struct tc_head_ctx *c = p;
	gemm_linear(c->hidden, c->tc->hidden, &c->tc->w, c->tc->b, GEMM_EPILOGUE_NONE, c->tc->probs,
	            c->tc->n_labels, c->rows, ith, nth);
}

struct tc_run {
	struct token_classifier *tc;
	const struct model_item *items;
	struct model_item_result *out;
};

/* Runs one packed chunk and turns each of its texts into entities. */
static enum sy_status run_chunk(void *ctx, struct packed_batch *pb, int first, int count,
                                struct sy_error *err)
{
	struct tc_run *r = ctx;
	struct token_classifier *tc = r->tc;
	if (pb->n_tokens > tc->cap_toks) {
		struct ner_token *t = realloc(tc->toks, (size_t)pb->n_tokens * sizeof *t);
		if (!t)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		tc->toks = t;
		tc->cap_toks = pb->n_tokens;
	}
	struct encoder_input in = packed_batch_input(pb);
	const float *hidden;
	enum sy_status s = bert_forward(tc->model, &in, err, &hidden);
	if (s != SY_OK)
		return s;
	struct tc_head_ctx hc = {tc, hidden, pb->n_tokens};
	sy_pool_run(bert_model_pool(tc->model), head_part, &hc);
	for (int t = 0; t < pb->n_tokens; t++)
		softmax_f32(tc->probs + (size_t)t * tc->n_labels, tc->n_labels);
	int row = 0;
	for (int k = 0; s == SY_OK && k < count; row += pb->lens[k], k++) {
		const struct model_item *it = &r->items[first + k];
		const struct tok_encoding *enc = &it->prep->enc;
		int nt = 0;
		for (int i = 0; i < enc->n; i++) {
			if (enc->special[i])
				continue;
			tc->toks[nt++] = (struct ner_token){
			    .start = enc->offsets[2 * i],
			    .end = enc->offsets[2 * i + 1],
			    .is_subword = is_subword(tc, enc, i, it->in->text),
			    .probs = tc->probs + (size_t)(row + i) * tc->n_labels};
		}
		const struct extract_params *xp = it->in->extract;
		struct model_item_result *res = &r->out[first + k];
		s = ner_aggregate(tc->toks, nt, (const char *const *)tc->labels, tc->n_labels,
		                  xp ? xp->aggregation : NER_AGG_FIRST,
		                  xp && xp->threshold > 0 ? xp->threshold : 0.0f, err,
		                  &res->entities, &res->n_entities);
	}
	return s;
}

/* The text's tokens (with offsets, for the entity spans). Labels per call are refused here,
 * before the item queues: this model's labels are fixed. */
static enum sy_status tc_prepare(const void *impl, const struct model_input *in,
                                 struct sy_error *err, struct model_prepared *out)
{
	const struct token_classifier *tc = impl;
	if (in->extract && in->extract->labels) {
		char list[256] = "";
		for (int k = 0, at = 0; k < tc->n_types && at < (int)sizeof list - 1; k++)
			at += snprintf(list + at, sizeof list - (size_t)at, "%s%s", k ? ", " : "",
			               tc->types[k]);
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "this NER model has fixed labels (%s); it does not take labels "
		                    "per call (zero-shot labels need a GLiNER model)",
		                    list);
	}
	struct model_input plain = *in; /* no prompt: offsets refer to the text itself */
	plain.prefix = NULL;
	plain.prefix_len = 0;
	enum sy_status s = model_tokenize(tc->tok, &plain, tc->max_length, err, &out->enc);
	if (s == SY_OK)
		out->n_tokens = out->enc.n;
	return s;
}

static enum sy_status tc_run(void *impl, const struct model_item *items, int n,
                             struct sy_error *err, struct model_item_result *res)
{
	struct token_classifier *tc = impl;
	struct tc_run r = {tc, items, res};
	return packed_batch_chunks(&tc->batch, items, n, TC_BATCH_TOKENS, !tc->zero_types,
	                           run_chunk, &r, err);
}

static size_t tc_bytes(const void *impl)
{
	const struct token_classifier *tc = impl;
	int rows = tc->max_length > TC_BATCH_TOKENS ? tc->max_length : TC_BATCH_TOKENS;
	return tokenizer_bytes(tc->tok) + bert_model_weight_bytes(tc->model) +
	       bert_model_scratch_bytes(tc->model) +
	       (tc->w.packed_len + (size_t)rows * tc->n_labels) * sizeof(float);
}

static int tc_max_tokens(const void *impl)
{
	return ((const struct token_classifier *)impl)->max_length;
}

static const char *const *tc_labels(const void *impl, int *n)
{
	const struct token_classifier *tc = impl;
	*n = tc->n_types;
	return (const char *const *)tc->types;
}

static void tc_close(void *impl)
{
	tc_free(impl);
}

/* The tokenizer, for the tokenize and decode routes. */
static const struct tokenizer *tc_tokenizer(const void *impl)
{
	return ((const struct token_classifier *)impl)->tok;
}

static const struct model_ops tc_ops = {
    .tokenizer = tc_tokenizer, .close = tc_close, .bytes = tc_bytes, .max_tokens = tc_max_tokens};
static const struct model_extract_task tc_extract = {
    .labels = tc_labels, .prepare = tc_prepare, .run = tc_run};

enum sy_status token_classifier_open(const struct model_desc *d, const struct model_options *opts,
                                     struct sy_error *err, struct model *out)
{
	struct token_classifier *tc;
	enum sy_status s = tc_load(d, opts, err, &tc);
	if (s != SY_OK)
		return s;
	out->arch = "token-classifier";
	out->impl = tc;
	out->ops = &tc_ops;
	out->extract = &tc_extract;
	return SY_OK;
}
