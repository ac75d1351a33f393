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
#include "model/embedder.h"
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
	int *n_valid; /* [cap_seqs] per packed sequence */
	int *item; /* [cap_seqs] call item of each packed sequence */
	bool *is_query; /* [cap_seqs] */
	int cap_seqs;
	char *join;
	size_t cap_join;
};

bool colbert_detect(const char *dir)
{
	char *p = sy_path_join(dir, "artifact.metadata");
	bool meta = p && sy_path_exists(p);
	free(p);
	return meta || config_find_architecture(dir, "ColBERT", true, NULL, 0);
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
	free(cb->item);
	free(cb->is_query);
	free(cb->join);
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

static enum sy_status cb_load(const char *dir, const struct embed_options *opts,
                              struct sy_error *err, struct colbert **out)
{
	*out = NULL;
	struct colbert *cb = calloc(1, sizeof *cb);
	if (!cb)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	struct bert_config cfg;
	enum sy_status s = bert_config_load(dir, err, &cfg);
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
		s = tokenizer_load(dir, err, &cb->tok);
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

/* Runs the packed sequences and writes each one's kept, normalised vectors; empties it. */
static enum sy_status run_batch(struct colbert *cb, struct sy_error *err,
                                struct embed_item_result *out)
{
	const int n_seqs = cb->batch.n_seqs;
	if (n_seqs == 0)
		return SY_OK;
	struct bert_input in = packed_batch_input(&cb->batch);
	in.n_valid = cb->n_valid;
	const float *hidden;
	enum sy_status s = bert_forward(cb->model, &in, err, &hidden);
	if (s == SY_OK) {
		struct cb_proj_ctx pc = {cb, hidden, cb->batch.n_tokens};
		sy_pool_run(bert_model_pool(cb->model), proj_part, &pc);
	}
	const int D = cb->dim;
	int row = 0;
	for (int k = 0; s == SY_OK && k < n_seqs; row += cb->batch.lens[k], k++) {
		const int len = cb->batch.lens[k];
		const int32_t *ids = cb->batch.ids + row;
		struct embed_item_result *r = &out[cb->item[k]];
		r->vectors = malloc((size_t)len * D * sizeof *r->vectors);
		if (!r->vectors) {
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			break;
		}
		r->dims = D;
		for (int i = 0; i < len; i++) {
			if (!cb->is_query[k] && skipped(cb, ids[i]))
				continue;
			const float *v = cb->proj + (size_t)(row + i) * D;
			double ss = 0;
			for (int d = 0; d < D; d++)
				ss += (double)v[d] * v[d];
			const float inv = (float)(1.0 / fmax(sqrt(ss), 1e-12));
			float *o = r->vectors + (size_t)r->n_vectors * D;
			for (int d = 0; d < D; d++)
				o[d] = v[d] * inv;
			r->n_vectors++;
		}
	}
	packed_batch_clear(&cb->batch);
	return s;
}

static enum sy_status reserve_seqs(struct colbert *cb, int n, struct sy_error *err)
{
	if (n <= cb->cap_seqs)
		return SY_OK;
	int *nv = realloc(cb->n_valid, (size_t)n * sizeof *nv);
	if (nv)
		cb->n_valid = nv;
	int *it = realloc(cb->item, (size_t)n * sizeof *it);
	if (it)
		cb->item = it;
	bool *q = realloc(cb->is_query, (size_t)n * sizeof *q);
	if (q)
		cb->is_query = q;
	if (!nv || !it || !q)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	cb->cap_seqs = n;
	return SY_OK;
}

/* Tokenises '. ' + text (after an optional prefix) into enc, cut to max_length. */
static enum sy_status tokenize_marked(struct colbert *cb, const char *prefix, size_t pl,
                                      const char *text, size_t len, int max_length,
                                      struct sy_error *err, struct tok_encoding *enc)
{
	const size_t n = 2 + pl + len;
	if (n + 1 > cb->cap_join) {
		char *j = realloc(cb->join, n + 1);
		if (!j)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		cb->join = j;
		cb->cap_join = n + 1;
	}
	memcpy(cb->join, ". ", 2);
	if (pl)
		memcpy(cb->join + 2, prefix, pl);
	memcpy(cb->join + 2 + pl, text, len);
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = max_length;
	p.add_special_tokens = true;
	return tokenizer_encode(cb->tok, cb->join, n, NULL, 0, &p, err, enc);
}

static enum sy_status cb_encode_items(void *impl, const struct embed_call *c, struct sy_error *err,
                                      struct embed_item_result *out, int *n_tokens)
{
	struct colbert *cb = impl;
	enum sy_status s = SY_OK;
	int32_t *ids =
	    malloc((size_t)(cb->query_maxlen > cb->doc_maxlen ? cb->query_maxlen : cb->doc_maxlen) *
	           sizeof *ids);
	if (!ids)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	packed_batch_clear(&cb->batch);
	for (int i = 0; s == SY_OK && i < c->n; i++) {
		const bool q = c->is_query && c->is_query[i];
		const size_t pl = c->prefixes && c->prefixes[i] ? c->prefix_lens[i] : 0;
		struct tok_encoding enc;
		s = tokenize_marked(cb, pl ? c->prefixes[i] : NULL, pl, c->texts[i], c->lens[i],
		                    q ? cb->query_maxlen : cb->doc_maxlen, err, &enc);
		if (s != SY_OK)
			break;
		int n = enc.n;
		memcpy(ids, enc.ids, (size_t)n * sizeof *ids);
		tok_encoding_free(&enc);
		if (n >= 2)
			ids[1] = q ? cb->q_marker : cb->d_marker;
		const int valid = n;
		if (q)
			for (; n < cb->query_maxlen; n++)
				ids[n] = cb->mask_id;
		if (n_tokens)
			n_tokens[i] = valid;
		if (cb->batch.n_seqs > 0 && cb->batch.n_tokens + n > CB_BATCH_TOKENS)
			s = run_batch(cb, err, out);
		const int k = cb->batch.n_seqs;
		if (s == SY_OK)
			s = reserve_seqs(cb, k + 1, err);
		if (s == SY_OK)
			s = packed_batch_add(&cb->batch, ids, NULL, n, err);
		if (s == SY_OK) {
			cb->n_valid[k] = q && !cb->attend_to_mask_tokens ? valid : n;
			cb->item[k] = i;
			cb->is_query[k] = q;
		}
	}
	free(ids);
	if (s == SY_OK)
		return run_batch(cb, err, out);
	packed_batch_clear(&cb->batch);
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

/* ---- as an embedder ---- */

static int cb_dims(const void *impl)
{
	return ((const struct colbert *)impl)->dim;
}

static enum sy_status cb_encode(void *impl, const char *const *texts, const size_t *lens, int n,
                                float *out, struct sy_error *err)
{
	(void)impl, (void)texts, (void)lens, (void)n, (void)out;
	return sy_error_set(err, SY_ERR_UNSUPPORTED,
	                    "a ColBERT model gives one vector per token (multivector output), "
	                    "not one per text");
}

static enum sy_status cb_count_tokens(const void *impl, const char *prefix, size_t prefix_len,
                                      const char *text, size_t len, struct sy_error *err, int *out)
{
	const struct colbert *cb = impl;
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = -1;
	p.add_special_tokens = true;
	struct tok_encoding enc;
	/* The marker replaces the "." ColBERT puts before the text: count it as one token. */
	enum sy_status s = tokenizer_encode(cb->tok, text, len, NULL, 0, &p, err, &enc);
	if (s == SY_OK) {
		*out = enc.n + 1;
		tok_encoding_free(&enc);
	}
	(void)prefix, (void)prefix_len;
	return s;
}

static size_t cb_bytes(const void *impl)
{
	const struct colbert *cb = impl;
	int rows = cb->doc_maxlen > CB_BATCH_TOKENS ? cb->doc_maxlen : CB_BATCH_TOKENS;
	return bert_model_weight_bytes(cb->model) + bert_model_scratch_bytes(cb->model) +
	       (cb->w.packed_len + (size_t)rows * cb->dim) * sizeof(float);
}

static int cb_max_tokens(const void *impl)
{
	return ((const struct colbert *)impl)->doc_maxlen;
}

static bool cb_multivector(const void *impl)
{
	(void)impl;
	return true;
}

static void cb_close(void *impl)
{
	cb_free(impl);
}

static const struct embedder_ext cb_ext = {.count_tokens = cb_count_tokens,
                                           .bytes = cb_bytes,
                                           .max_tokens = cb_max_tokens,
                                           .multivector = cb_multivector,
                                           .encode_items = cb_encode_items};
static const struct embedder_vt cb_vt = {"colbert", cb_dims, cb_encode, cb_close};

enum sy_status colbert_embedder_open(const char *dir, const struct embed_options *opts,
                                     struct sy_error *err, struct embedder *out)
{
	struct embed_options defaults = embed_default_options();
	struct colbert *cb;
	enum sy_status s = cb_load(dir, opts ? opts : &defaults, err, &cb);
	if (s != SY_OK)
		return s;
	out->impl = cb;
	out->vt = &cb_vt;
	out->ext = &cb_ext;
	return SY_OK;
}
