/* ColBERT late-interaction encoder, in the layout of Stanford's ColBERT checkpoints
 * (colbert-ir/colbertv2.0, answerdotai/answerai-colbert-small-v1): config.json naming
 * HF_ColBERT, the BERT encoder under bert.*, `linear.weight` [dim][hidden] without bias, and
 * the ColBERT settings in artifact.metadata (query_maxlen, doc_maxlen, mask_punctuation,
 * attend_to_mask_tokens, query_token_id, doc_token_id).
 *
 * Encoding, as ColBERT's tokenizers and model do it:
 *   query:    "[CLS] [Q] tokens [SEP]" cut to query_maxlen, then padded to query_maxlen with
 *             [MASK] (query augmentation). The [MASK] positions are not attended to (unless
 *             attend_to_mask_tokens) but each still gets a vector: query_maxlen vectors.
 *   document: "[CLS] [D] tokens [SEP]" cut to doc_maxlen; tokens that are ASCII punctuation
 *             (when mask_punctuation) are dropped from the output.
 * The markers take the place of a "." put before the text ('. ' + text, then position 1
 * replaced), which is how ColBERT keeps room for them. Every kept token's last hidden state is
 * projected by `linear` and L2-normalised. MaxSim relevance of a document to a query is the sum
 * over query vectors of the best dot product with a document vector (colbert_maxsim). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/threads.h"
#include "model/arch/bert.h"
#include "model/heads/colbert.h"
#include "model/config.h"
#include "model/families.h"
#include "model/arch/packed_batch.h"
#include "model/formats/weights.h"
#include "tensor/gemm.h"
#include "text/tokenizer.h"

#define CB_BATCH_TOKENS 1024

struct colbert {
	struct bert_model *model;
	struct tokenizer *tok;
	int hidden, dim, max_tokens;
	int query_maxlen, doc_maxlen;
	bool mask_punctuation, attend_to_mask_tokens;
	int32_t q_marker, d_marker, mask_id;
	int32_t skip[32]; /* ids of the ASCII punctuation characters (document skip-list) */
	int n_skip;
	struct gemm_weights w; /* linear [dim][hidden] */
	float *proj; /* [rows][dim] */
	struct packed_batch batch;
	int *n_valid; /* [cap_seqs] attended tokens of each packed sequence */
	int cap_seqs;
};

bool colbert_detect(const struct model_desc *d)
{
	return d->has[MODEL_FILE_COLBERT_META] || model_desc_architecture(d, "ColBERT", true);
}

static void cb_free(struct colbert *cb)
{
	if (!cb)
		return;
	bert_model_free(cb->model);
	tokenizer_free(cb->tok);
	gemm_weights_free(&cb->w);
	free(cb->proj);
	packed_batch_free(&cb->batch);
	free(cb->n_valid);
	free(cb);
}

static int json_int(const cJSON *o, const char *k, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (int)v->valuedouble : def;
}

static bool json_bool(const cJSON *o, const char *k, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static int32_t token_id(const struct tokenizer *tok, const char *s)
{
	return tokenizer_token_to_id(tok, s, strlen(s));
}

/* artifact.metadata (optional: ColBERT's defaults otherwise) and the special token ids. */
static enum sy_status read_settings(struct colbert *cb, const char *dir, struct sy_error *err)
{
	char *path = sy_path_join(dir, "artifact.metadata");
	char *text = NULL;
	size_t len = 0;
	cJSON *doc = NULL;
	char q_tok[64] = "[unused0]", d_tok[64] = "[unused1]";
	cb->query_maxlen = 32;
	cb->doc_maxlen = 180;
	cb->mask_punctuation = true;
	cb->attend_to_mask_tokens = false;
	if (path && sy_path_exists(path)) {
		enum sy_status s = sy_file_read(path, err, &text, &len);
		if (s != SY_OK) {
			free(path);
			return s;
		}
		doc = cJSON_ParseWithLength(text, len);
		free(text);
		if (!cJSON_IsObject(doc)) {
			cJSON_Delete(doc);
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: not a JSON object", path);
			free(path);
			return s;
		}
		cb->query_maxlen = json_int(doc, "query_maxlen", cb->query_maxlen);
		cb->doc_maxlen = json_int(doc, "doc_maxlen", cb->doc_maxlen);
		cb->mask_punctuation = json_bool(doc, "mask_punctuation", true);
		cb->attend_to_mask_tokens = json_bool(doc, "attend_to_mask_tokens", false);
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(doc, "query_token_id");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "doc_token_id");
		if (cJSON_IsString(q))
			snprintf(q_tok, sizeof q_tok, "%s", q->valuestring);
		if (cJSON_IsString(d))
			snprintf(d_tok, sizeof d_tok, "%s", d->valuestring);
		cJSON_Delete(doc);
	}
	enum sy_status s = SY_OK;
	if (cb->query_maxlen < 4 || cb->doc_maxlen < 3)
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: query_maxlen %d / doc_maxlen %d are too small", path,
		                 cb->query_maxlen, cb->doc_maxlen);
	if (cb->query_maxlen > cb->max_tokens)
		cb->query_maxlen = cb->max_tokens;
	if (cb->doc_maxlen > cb->max_tokens)
		cb->doc_maxlen = cb->max_tokens;
	cb->q_marker = token_id(cb->tok, q_tok);
	cb->d_marker = token_id(cb->tok, d_tok);
	cb->mask_id = token_id(cb->tok, "[MASK]");
	if (cb->mask_id < 0)
		cb->mask_id = token_id(cb->tok, "<mask>");
	if (s == SY_OK && (cb->q_marker < 0 || cb->d_marker < 0 || cb->mask_id < 0))
		s = sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: the tokenizer lacks the marker tokens %s / %s or a mask token", dir, q_tok,
		    d_tok);
	/* The skip-list: the ids the punctuation characters tokenise to on their own. */
	const char *punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
	struct tok_encode_params p = tokenizer_default_params();
	p.add_special_tokens = false;
	p.max_length = -1;
	for (const char *c = punct; s == SY_OK && cb->mask_punctuation && *c; c++) {
		struct tok_encoding enc;
		if (tokenizer_encode(cb->tok, c, 1, NULL, 0, &p, err, &enc) != SY_OK)
			continue;
		if (enc.n >= 1 && cb->n_skip < (int)(sizeof cb->skip / sizeof cb->skip[0]))
			cb->skip[cb->n_skip++] = enc.ids[0];
		tok_encoding_free(&enc);
	}
	free(path);
	return s;
}

static enum sy_status cb_load(const struct model_desc *d, const struct model_options *opts,
                              struct sy_error *err, struct colbert **out)
{
	const char *dir = d->path;
	*out = NULL;
	struct colbert *cb = calloc(1, sizeof *cb);
	if (!cb)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	struct bert_config cfg;
	enum sy_status s = bert_config_from_desc(d, err, &cfg);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(dir, err, &st, NULL);
	if (s == SY_OK)
		s = bert_model_load_st_prec(&cfg, st, opts->n_threads, opts->precision, err,
		                            &cb->model);
	if (s == SY_OK && !safetensors_find(st, "linear.weight"))
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: a ColBERT checkpoint needs linear.weight (the projection)",
		                 dir);
	float *w = NULL;
	if (s == SY_OK) {
		cb->hidden = cfg.hidden;
		cb->max_tokens = cfg.max_tokens;
		const struct st_tensor *t = safetensors_find(st, "linear.weight");
		cb->dim = t->n_dims == 2 ? (int)t->shape[0] : 0;
		if (cb->dim < 1 || cb->dim > 4096)
			s = sy_error_set(err, SY_ERR_FORMAT, "%s: linear.weight is not [dim][%d]",
			                 dir, cb->hidden);
	}
	if (s == SY_OK)
		s = safetensors_read_f32(st, "linear.weight", 2, (int64_t[]){cb->dim, cb->hidden},
		                         err, &w);
	if (s == SY_OK)
		s = gemm_weights_pack(w, cb->dim, cb->hidden, err, &cb->w);
	free(w);
	safetensors_close(st);
	if (s == SY_OK)
		s = model_tokenizer_load(dir, cfg.vocab_size, err, &cb->tok);
	if (s == SY_OK)
		s = read_settings(cb, dir, err);
	if (s == SY_OK && opts->max_length > 0 && opts->max_length < cb->doc_maxlen)
		cb->doc_maxlen = opts->max_length;
	if (s == SY_OK) {
		int rows = cb->doc_maxlen > CB_BATCH_TOKENS ? cb->doc_maxlen : CB_BATCH_TOKENS;
		if (cb->query_maxlen > rows)
			rows = cb->query_maxlen;
		cb->proj = malloc((size_t)rows * (size_t)cb->dim * sizeof *cb->proj);
		if (!cb->proj)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		if (s == SY_OK)
			s = bert_model_reserve(cb->model, rows, rows, cb->max_tokens, err);
	}
	if (s != SY_OK) {
		cb_free(cb);
		return s;
	}
	*out = cb;
	return SY_OK;
}

static bool skipped(const struct colbert *cb, int32_t id)
{
	for (int i = 0; i < cb->n_skip; i++)
		if (cb->skip[i] == id)
			return true;
	return false;
}

struct cb_proj_ctx {
	struct colbert *cb;
	const float *hidden;
	int rows;
};

static void proj_part(void *p, int ith, int nth)
{
	struct cb_proj_ctx *c = p;
	gemm_linear(c->hidden, c->cb->hidden, &c->cb->w, NULL, GEMM_EPILOGUE_NONE, c->cb->proj,
	            c->cb->dim, c->rows, ith, nth);
}

struct cb_run {
	struct colbert *cb;
	const struct model_item *items;
	struct model_item_result *out;
};

/* Runs one packed chunk and writes each item's kept, normalised vectors. */
static enum sy_status run_chunk(void *ctx, struct packed_batch *pb, int first, int count,
                                struct sy_error *err)
{
	struct cb_run *r = ctx;
	struct colbert *cb = r->cb;
	if (count > cb->cap_seqs) {
		int *nv = realloc(cb->n_valid, (size_t)count * sizeof *nv);
		if (!nv)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		cb->n_valid = nv;
		cb->cap_seqs = count;
	}
	for (int k = 0; k < count; k++) {
		const struct model_item *it = &r->items[first + k];
		/* A query's [MASK] expansion is not attended to (unless the model says so). */
		cb->n_valid[k] = it->in->is_query && !cb->attend_to_mask_tokens ? it->prep->n_tokens
		                                                                : pb->lens[k];
	}
	struct encoder_input in = packed_batch_input(pb);
	in.n_valid = cb->n_valid;
	const float *hidden;
	enum sy_status s = bert_forward(cb->model, &in, err, &hidden);
	if (s == SY_OK) {
		struct cb_proj_ctx pc = {cb, hidden, pb->n_tokens};
		sy_pool_run(bert_model_pool(cb->model), proj_part, &pc);
	}
	const int D = cb->dim;
	int row = 0;
	for (int k = 0; s == SY_OK && k < count; row += pb->lens[k], k++) {
		const int len = pb->lens[k];
		const int32_t *ids = pb->ids + row;
		const bool q = r->items[first + k].in->is_query;
		struct model_item_result *res = &r->out[first + k];
		res->vectors = malloc((size_t)len * D * sizeof *res->vectors);
		if (!res->vectors) {
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			break;
		}
		res->dims = D;
		for (int i = 0; i < len; i++) {
			if (!q && skipped(cb, ids[i]))
				continue;
			const float *v = cb->proj + (size_t)(row + i) * D;
			double ss = 0;
			for (int d = 0; d < D; d++)
				ss += (double)v[d] * v[d];
			const float inv = (float)(1.0 / fmax(sqrt(ss), 1e-12));
			float *o = res->vectors + (size_t)res->n_vectors * D;
			for (int d = 0; d < D; d++)
				o[d] = v[d] * inv;
			res->n_vectors++;
		}
	}
	return s;
}

static enum sy_status tokenize_marked(const struct colbert *cb, const struct model_input *in,
                                      int max_length, struct sy_error *err,
                                      struct tok_encoding *enc)
{
	const size_t n = 2 + in->prefix_len + in->len;
	char *join = malloc(n + 1);
	if (!join)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	memcpy(join, ". ", 2);
	if (in->prefix_len)
		memcpy(join + 2, in->prefix, in->prefix_len);
	memcpy(join + 2 + in->prefix_len, in->text, in->len);
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = max_length;
	p.add_special_tokens = true;
	enum sy_status s = tokenizer_encode(cb->tok, join, n, NULL, 0, &p, err, enc);
	free(join);
	return s;
}

/* '. ' + text, cut to the query or document length, its '.' replaced by the [Q] or [D]
 * marker; a query is then padded with [MASK] to query_maxlen. With truncate off a text past
 * doc_maxlen fails. n_tokens counts the tokens before the [MASK] padding. */
static enum sy_status cb_prepare(const void *impl, const struct model_input *in,
                                 struct sy_error *err, struct model_prepared *out)
{
	const struct colbert *cb = impl;
	const bool q = in->is_query;
	const int limit = q ? cb->query_maxlen : cb->doc_maxlen;
	struct tok_encoding *enc = &out->enc;
	enum sy_status s = tokenize_marked(cb, in, in->truncate ? limit : -1, err, enc);
	if (s == SY_OK && !in->truncate && enc->n > cb->doc_maxlen) {
		s = model_too_long(err, enc->n, cb->doc_maxlen);
		tok_encoding_free(enc);
	} else if (s == SY_OK && enc->n > limit) {
		tok_encoding_free(enc);
		s = tokenize_marked(cb, in, limit, err, enc);
	}
	if (s != SY_OK)
		return s;
	if (enc->n >= 2)
		enc->ids[1] = q ? cb->q_marker : cb->d_marker;
	out->n_tokens = enc->n;
	if (q && enc->n < cb->query_maxlen) {
		int32_t *ids = realloc(enc->ids, (size_t)cb->query_maxlen * sizeof *ids);
		if (!ids) {
			tok_encoding_free(enc);
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
		enc->ids = ids;
		for (; enc->n < cb->query_maxlen; enc->n++)
			ids[enc->n] = cb->mask_id;
	}
	return SY_OK;
}

static enum sy_status cb_run(void *impl, const struct model_item *items, int n,
                             struct sy_error *err, float *out, struct model_item_result *res)
{
	(void)out;
	struct colbert *cb = impl;
	struct cb_run r = {cb, items, res};
	return packed_batch_chunks(&cb->batch, items, n, CB_BATCH_TOKENS, false, run_chunk, &r,
	                           err);
}

/* ---- the score task: MaxSim of the query's vectors with each document's ---- */

static enum sy_status cb_score_prepare(const void *impl, const struct model_input *in,
                                       struct sy_error *err, struct model_prepared *out)
{
	struct model_input doc = *in; /* the document, with the instruction if any */
	doc.is_query = false;
	return cb_prepare(impl, &doc, err, out);
}

static bool same_query(const struct model_input *a, const struct model_input *b)
{
	return a->query_len == b->query_len &&
	       (a->query == b->query || !memcmp(a->query, b->query, a->query_len));
}

/* Encodes the documents, then each distinct query once (a batch usually holds one). */
static enum sy_status cb_score_run(void *impl, const struct model_item *items, int n,
                                   struct sy_error *err, float *scores)
{
	struct colbert *cb = impl;
	struct model_item_result *docs = calloc((size_t)(n > 0 ? n : 1), sizeof *docs);
	if (!docs)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = cb_run(cb, items, n, err, NULL, docs);
	struct model_item_result qv = {0};
	const struct model_input *qin = NULL;
	for (int i = 0; s == SY_OK && i < n; i++) {
		const struct model_input *in = items[i].in;
		if (!qin || !same_query(qin, in)) {
			model_item_result_free(&qv);
			struct model_input q = {.text = in->query ? in->query : "",
			                        .len = in->query ? in->query_len : 0,
			                        .is_query = true,
			                        .truncate = true};
			struct model_prepared qp = {0};
			s = cb_prepare(cb, &q, err, &qp);
			struct model_item qi = {&q, &qp};
			if (s == SY_OK)
				s = cb_run(cb, &qi, 1, err, NULL, &qv);
			tok_encoding_free(&qp.enc);
			qin = in;
		}
		if (s == SY_OK)
			scores[i] = (float)colbert_maxsim(qv.vectors, qv.n_vectors, docs[i].vectors,
			                                  docs[i].n_vectors, qv.dims);
	}
	model_item_result_free(&qv);
	for (int i = 0; i < n; i++)
		model_item_result_free(&docs[i]);
	free(docs);
	return s;
}

double colbert_maxsim(const float *q, int nq, const float *d, int nd, int dims)
{
	double total = 0;
	for (int i = 0; i < nq; i++) {
		double best = nd > 0 ? -INFINITY : 0;
		for (int j = 0; j < nd; j++) {
			double dot = 0;
			for (int k = 0; k < dims; k++)
				dot += (double)q[(size_t)i * dims + k] * d[(size_t)j * dims + k];
			if (dot > best)
				best = dot;
		}
		total += best;
	}
	return total;
}

/* ---- the model ---- */

static int cb_dims(const void *impl)
{
	return ((const struct colbert *)impl)->dim;
}

static size_t cb_bytes(const void *impl)
{
	const struct colbert *cb = impl;
	int rows = cb->doc_maxlen > CB_BATCH_TOKENS ? cb->doc_maxlen : CB_BATCH_TOKENS;
	return tokenizer_bytes(cb->tok) + bert_model_weight_bytes(cb->model) +
	       bert_model_scratch_bytes(cb->model) +
	       (cb->w.packed_len + (size_t)rows * cb->dim) * sizeof(float);
}

static int cb_max_tokens(const void *impl)
{
	return ((const struct colbert *)impl)->doc_maxlen;
}

static void cb_close(void *impl)
{
	cb_free(impl);
}

/* The tokenizer, for the tokenize and decode routes. */
static const struct tokenizer *cb_tokenizer(const void *impl)
{
	return ((const struct colbert *)impl)->tok;
}

static const struct model_ops cb_ops = {
    .tokenizer = cb_tokenizer, .close = cb_close, .bytes = cb_bytes, .max_tokens = cb_max_tokens};
static const struct model_encode_task cb_encode = {
    .output = MODEL_OUTPUT_MULTIVECTOR,
    .dims = cb_dims,
    .prepare = cb_prepare,
    .run = cb_run,
};
static const struct model_score_task cb_score = {.prepare = cb_score_prepare, .run = cb_score_run};

enum sy_status colbert_open(const struct model_desc *d, const struct model_options *opts,
                            struct sy_error *err, struct model *out)
{
	struct colbert *cb;
	enum sy_status s = cb_load(d, opts, err, &cb);
	if (s != SY_OK)
		return s;
	out->arch = "colbert";
	out->impl = cb;
	out->ops = &cb_ops;
	out->encode = &cb_encode;
	out->score = &cb_score;
	return SY_OK;
}
