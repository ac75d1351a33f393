/* BGE-M3 (BAAI/bge-m3): one XLM-RoBERTa encoder with three outputs, as FlagEmbedding's BGEM3
 * model computes them from one forward pass over "<s> text </s>":
 *   dense        the last hidden state of the first token (CLS), L2-normalised;
 *   sparse       per token w = relu(sparse_linear(h)) (a Linear(hidden, 1) with bias, from
 *                sparse_linear.pt); a vocabulary id weighs the max w over its occurrences; the
 *                CLS, EOS, PAD and UNK tokens (special_tokens_map.json) are dropped, as are
 *                weights <= 0;
 *   multivector  colbert_linear(h) (Linear(hidden, dim) with bias, colbert_linear.pt) of every
 *                token after CLS, the final EOS included, each L2-normalised.
 * The two .pt files are torch.save'd state dicts with `weight` and `bias`.
 *
 * The encode task gives any set of the three per item (model_encode_task.outputs), dense by
 * default. The score task encodes query and document with what the mode needs and scores as
 * FlagEmbedding's compute_score does: dense = dot of the normalised vectors; sparse = sum over
 * the ids both have of w_q * w_d; colbert = mean over the query's vectors of the best dot with a
 * document vector; hybrid = (w_dense * dense + w_sparse * sparse + w_colbert * colbert) / (sum
 * of the weights), weights [0.4, 0.2, 0.4] unless the request gives them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "model/arch/encoder.h"
#include "model/arch/packed_batch.h"
#include "model/families.h"
#include "model/formats/weights.h"
#include "tensor/gemm.h"
#include "tensor/ops.h"
#include "text/tokenizer.h"

#define M3_BATCH_TOKENS 1024
#define M3_ALL (MODEL_OUTPUT_DENSE | MODEL_OUTPUT_SPARSE | MODEL_OUTPUT_MULTIVECTOR)

static const float m3_default_weights[3] = {0.4f, 0.2f, 0.4f};

struct bge_m3 {
	struct tokenizer *tok;
	struct encoder enc;
	int hidden, vocab, dim, max_length;
	struct gemm_weights cw; /* colbert_linear.weight [dim][hidden] */
	float *cb; /* colbert_linear.bias [dim] */
	float *sw; /* sparse_linear.weight [hidden] */
	float sb; /* sparse_linear.bias */
	int32_t special[4]; /* cls, eos, pad, unk ids (-1: none) */
	float *proj; /* [rows][dim] */
	int proj_rows;
	struct packed_batch batch;
};

bool bge_m3_detect(const struct model_desc *d)
{
	return d->has[MODEL_FILE_CONFIG] && d->has[MODEL_FILE_COLBERT_LINEAR] &&
	       d->has[MODEL_FILE_SPARSE_LINEAR];
}

static void m3_free(struct bge_m3 *m)
{
	if (!m)
		return;
	tokenizer_free(m->tok);
	encoder_free(&m->enc);
	gemm_weights_free(&m->cw);
	free(m->cb);
	free(m->sw);
	free(m->proj);
	packed_batch_free(&m->batch);
	free(m);
}

/* The id of a special_tokens_map.json entry (a string or {"content": ...}), else of the first
 * of the fallback names the vocabulary has. */
static int32_t special_id(const struct tokenizer *tok, const cJSON *map, const char *key,
                          const char *const *fallback)
{
	const cJSON *v = map ? cJSON_GetObjectItemCaseSensitive(map, key) : NULL;
	if (cJSON_IsObject(v))
		v = cJSON_GetObjectItemCaseSensitive(v, "content");
	if (cJSON_IsString(v))
		return tokenizer_token_to_id(tok, v->valuestring, strlen(v->valuestring));
	for (; *fallback; fallback++) {
		int32_t id = tokenizer_token_to_id(tok, *fallback, strlen(*fallback));
		if (id >= 0)
			return id;
	}
	return -1;
}

static enum sy_status read_specials(struct bge_m3 *m, const char *dir, struct sy_error *err)
{
	char *path = sy_path_join(dir, "special_tokens_map.json");
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	cJSON *map = NULL;
	if (sy_path_exists(path)) {
		char *text = NULL;
		size_t len = 0;
		enum sy_status s = sy_file_read(path, err, &text, &len);
		if (s != SY_OK) {
			free(path);
			return s;
		}
		map = cJSON_ParseWithLength(text, len);
		free(text);
	}
	free(path);
	static const char *const cls[] = {"<s>", "[CLS]", NULL}, *const eos[] = {"</s>", NULL},
	                         *const pad[] = {"<pad>", "[PAD]", NULL},
	                         *const unk[] = {"<unk>", "[UNK]", NULL};
	m->special[0] = special_id(m->tok, map, "cls_token", cls);
	m->special[1] = special_id(m->tok, map, "eos_token", eos);
	m->special[2] = special_id(m->tok, map, "pad_token", pad);
	m->special[3] = special_id(m->tok, map, "unk_token", unk);
	cJSON_Delete(map);
	return SY_OK;
}

/* weight [rows][hidden] and bias [rows] of a torch.save'd Linear state dict. */
static enum sy_status read_linear(const char *dir, const char *name, int hidden, int *rows,
                                  struct sy_error *err, float **w, float **b)
{
	struct safetensors *st = NULL;
	enum sy_status s = model_weights_open_file(dir, name, err, &st);
	if (s != SY_OK)
		return s;
	const struct st_tensor *t = safetensors_find(st, "weight");
	if (!t || t->n_dims != 2 || t->shape[1] != hidden || t->shape[0] < 1 ||
	    t->shape[0] > 65536 || (*rows > 0 && t->shape[0] != *rows))
		s = sy_error_set(err, SY_ERR_FORMAT, "%s/%s: weight is not [%s][%d]", dir, name,
		                 *rows > 0 ? "1" : "dim", hidden);
	if (s == SY_OK) {
		*rows = (int)t->shape[0];
		s = safetensors_read_f32(st, "weight", 2, (int64_t[]){*rows, hidden}, err, w);
	}
	if (s == SY_OK)
		s = safetensors_find(st, "bias")
		        ? safetensors_read_f32(st, "bias", 1, (int64_t[]){*rows}, err, b)
		        : sy_error_set(err, SY_ERR_FORMAT, "%s/%s: no bias", dir, name);
	safetensors_close(st);
	return s;
}

static enum sy_status m3_load(const struct model_desc *d, const struct model_options *opts,
                              struct sy_error *err, struct bge_m3 **out)
{
	*out = NULL;
	struct bge_m3 *m = calloc(1, sizeof *m);
	if (!m)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = encoder_open(d, opts->n_threads, opts->precision, err, &m->enc);
	float *w = NULL, *b = NULL;
	if (s == SY_OK) {
		m->hidden = m->enc.hidden;
		m->vocab = m->enc.vocab_size;
		s = read_linear(d->path, "colbert_linear.pt", m->hidden, &m->dim, err, &w, &m->cb);
	}
	if (s == SY_OK)
		s = gemm_weights_pack(w, m->dim, m->hidden, err, &m->cw);
	free(w);
	int one = 1;
	if (s == SY_OK)
		s = read_linear(d->path, "sparse_linear.pt", m->hidden, &one, err, &m->sw, &b);
	if (s == SY_OK)
		m->sb = b[0];
	free(b);
	if (s == SY_OK)
		s = model_tokenizer_load(d->path, m->vocab, err, &m->tok);
	if (s == SY_OK)
		s = read_specials(m, d->path, err);
	if (s == SY_OK) {
		int ml = opts->max_length > 0 ? opts->max_length : tokenizer_max_length(m->tok);
		m->max_length = ml > 0 && ml < m->enc.max_tokens ? ml : m->enc.max_tokens;
		m->proj_rows = m->max_length > M3_BATCH_TOKENS ? m->max_length : M3_BATCH_TOKENS;
		m->proj = malloc((size_t)m->proj_rows * (size_t)m->dim * sizeof *m->proj);
		if (!m->proj)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	if (s == SY_OK)
		s = encoder_reserve(&m->enc, m->proj_rows, m->proj_rows, m->max_length, err);
	if (s != SY_OK) {
		m3_free(m);
		return s;
	}
	*out = m;
	return SY_OK;
}

static bool is_special(const struct bge_m3 *m, int32_t id)
{
	for (int i = 0; i < 4; i++)
		if (m->special[i] == id)
			return true;
	return false;
}

struct term {
	int32_t id;
	float w;
};

static int by_id(const void *a, const void *b)
{
	const struct term *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* The sparse output of one sequence: its tokens' relu(sparse_linear(h)), max per id. */
static enum sy_status sparse_of(const struct bge_m3 *m, const float *h, const int32_t *ids, int len,
                                struct sy_error *err, struct model_item_result *r)
{
	struct term *t = malloc((size_t)(len > 0 ? len : 1) * sizeof *t);
	if (!t)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	int n = 0;
	for (int i = 0; i < len; i++) {
		if (is_special(m, ids[i]))
			continue;
		const float *x = h + (size_t)i * m->hidden;
		double acc = m->sb;
		for (int k = 0; k < m->hidden; k++)
			acc += (double)x[k] * m->sw[k];
		if (acc > 0)
			t[n++] = (struct term){ids[i], (float)acc};
	}
	qsort(t, (size_t)n, sizeof *t, by_id);
	int u = 0;
	for (int i = 0; i < n; i++) {
		if (u > 0 && t[u - 1].id == t[i].id) {
			if (t[i].w > t[u - 1].w)
				t[u - 1].w = t[i].w;
		} else {
			t[u++] = t[i];
		}
	}
	r->sparse_ids = malloc((size_t)(u > 0 ? u : 1) * sizeof *r->sparse_ids);
	r->sparse_weights = malloc((size_t)(u > 0 ? u : 1) * sizeof *r->sparse_weights);
	if (!r->sparse_ids || !r->sparse_weights) {
		free(t);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < u; i++) {
		r->sparse_ids[i] = t[i].id;
		r->sparse_weights[i] = t[i].w;
	}
	r->n_sparse = u;
	free(t);
	return SY_OK;
}

struct m3_run {
	struct bge_m3 *m;
	const struct model_item *items;
	struct model_item_result *res;
	unsigned force; /* non-zero: these outputs for every item (the score task) */
};

static unsigned wanted(const struct m3_run *r, int i)
{
	if (r->force)
		return r->force;
	const unsigned o = r->items[i].in->outputs & M3_ALL;
	return o ? o : MODEL_OUTPUT_DENSE;
}

static enum sy_status run_chunk(void *ctx, struct packed_batch *pb, int first, int count,
                                struct sy_error *err)
{
	struct m3_run *r = ctx;
	struct bge_m3 *m = r->m;
	struct encoder_input in = packed_batch_input(pb);
	const float *hidden;
	enum sy_status s = encoder_forward(&m->enc, &in, err, &hidden);
	if (s != SY_OK)
		return s;
	const int H = m->hidden, D = m->dim;
	unsigned any = 0;
	for (int k = 0; k < count; k++)
		any |= wanted(r, first + k);
	if (any & MODEL_OUTPUT_MULTIVECTOR)
		gemm_linear(hidden, H, &m->cw, m->cb, GEMM_EPILOGUE_NONE, m->proj, D, pb->n_tokens,
		            0, 1);
	int row = 0;
	for (int k = 0; s == SY_OK && k < count; row += pb->lens[k], k++) {
		const int len = pb->lens[k];
		const unsigned want = wanted(r, first + k);
		const signed char nz = r->items[first + k].in->normalize;
		const bool norm = r->force || nz != 0;
		struct model_item_result *res = &r->res[first + k];
		const float *h = hidden + (size_t)row * H;
		if (want & MODEL_OUTPUT_DENSE) {
			res->dense = malloc((size_t)H * sizeof *res->dense);
			if (!res->dense)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			memcpy(res->dense, h, (size_t)H * sizeof *res->dense);
			res->dense_dims = H;
			if (norm)
				l2_normalize_f32(res->dense, H);
		}
		if (want & MODEL_OUTPUT_SPARSE)
			s = sparse_of(m, h, pb->ids + row, len, err, res);
		if (s == SY_OK && (want & MODEL_OUTPUT_MULTIVECTOR)) {
			const int nv = len > 1 ? len - 1 : 0;
			res->vectors = malloc((size_t)(nv > 0 ? nv : 1) * D * sizeof *res->vectors);
			if (!res->vectors)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			memcpy(res->vectors, m->proj + (size_t)(row + 1) * D,
			       (size_t)nv * D * sizeof *res->vectors);
			for (int i = 0; norm && i < nv; i++)
				l2_normalize_f32(res->vectors + (size_t)i * D, D);
			res->n_vectors = nv;
			res->dims = D;
		}
	}
	return s;
}

static enum sy_status m3_prepare(const void *impl, const struct model_input *in,
                                 struct sy_error *err, struct model_prepared *out)
{
	const struct bge_m3 *m = impl;
	enum sy_status s = model_tokenize(m->tok, in, m->max_length, err, &out->enc);
	if (s == SY_OK)
		out->n_tokens = out->enc.n;
	return s;
}

static enum sy_status m3_encode(struct bge_m3 *m, const struct model_item *items, int n,
                                unsigned force, struct sy_error *err, struct model_item_result *res)
{
	struct m3_run r = {m, items, res, force};
	return packed_batch_chunks(&m->batch, items, n, M3_BATCH_TOKENS, true, run_chunk, &r, err);
}

static enum sy_status m3_run(void *impl, const struct model_item *items, int n,
                             struct sy_error *err, float *out, struct model_item_result *res)
{
	(void)out;
	return m3_encode(impl, items, n, 0, err, res);
}

/* ---- the score task ---- */

static double dot(const float *a, const float *b, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

static double sparse_dot(const struct model_item_result *q, const struct model_item_result *d)
{
	double s = 0;
	for (int i = 0, j = 0; i < q->n_sparse && j < d->n_sparse;) {
		if (q->sparse_ids[i] < d->sparse_ids[j]) {
			i++;
		} else if (q->sparse_ids[i] > d->sparse_ids[j]) {
			j++;
		} else {
			s += (double)q->sparse_weights[i++] * d->sparse_weights[j++];
		}
	}
	return s;
}

static double colbert_mean(const struct model_item_result *q, const struct model_item_result *d)
{
	if (q->n_vectors == 0)
		return 0;
	double total = 0;
	for (int i = 0; i < q->n_vectors; i++) {
		double best = d->n_vectors > 0 ? -INFINITY : 0;
		for (int j = 0; j < d->n_vectors; j++) {
			double v = dot(q->vectors + (size_t)i * q->dims,
			               d->vectors + (size_t)j * d->dims, q->dims);
			if (v > best)
				best = v;
		}
		total += best;
	}
	return total / q->n_vectors;
}

static unsigned mode_outputs(enum model_score_mode mode)
{
	switch (mode) {
	case MODEL_SCORE_SPARSE: return MODEL_OUTPUT_SPARSE;
	case MODEL_SCORE_COLBERT: return MODEL_OUTPUT_MULTIVECTOR;
	case MODEL_SCORE_HYBRID: return M3_ALL;
	case MODEL_SCORE_DENSE:
	case MODEL_SCORE_DEFAULT: break;
	}
	return MODEL_OUTPUT_DENSE;
}

static double pair_score(const struct score_params *p, const struct model_item_result *q,
                         const struct model_item_result *d)
{
	const enum model_score_mode mode = p ? p->mode : MODEL_SCORE_DEFAULT;
	switch (mode) {
	case MODEL_SCORE_SPARSE: return sparse_dot(q, d);
	case MODEL_SCORE_COLBERT: return colbert_mean(q, d);
	case MODEL_SCORE_HYBRID: {
		const float *w = p->has_weights ? p->weights : m3_default_weights;
		const double sum = (double)w[0] + w[1] + w[2];
		const double s = w[0] * dot(q->dense, d->dense, q->dense_dims) +
		                 w[1] * sparse_dot(q, d) + w[2] * colbert_mean(q, d);
		return sum > 0 ? s / sum : 0;
	}
	case MODEL_SCORE_DENSE:
	case MODEL_SCORE_DEFAULT: break;
	}
	return dot(q->dense, d->dense, q->dense_dims);
}

static bool same_query(const struct model_input *a, const struct model_input *b)
{
	return a->query_len == b->query_len && a->score == b->score &&
	       (a->query == b->query || !memcmp(a->query, b->query, a->query_len));
}

/* Encodes the documents (one batch) with what each item's mode needs, then each distinct
 * query once. */
static enum sy_status m3_score_run(void *impl, const struct model_item *items, int n,
                                   struct sy_error *err, float *scores)
{
	struct bge_m3 *m = impl;
	struct model_item_result *docs = calloc((size_t)(n > 0 ? n : 1), sizeof *docs);
	if (!docs)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	unsigned need = 0;
	for (int i = 0; i < n; i++)
		need |= mode_outputs(items[i].in->score ? items[i].in->score->mode
		                                        : MODEL_SCORE_DEFAULT);
	enum sy_status s = m3_encode(m, items, n, need, err, docs);
	struct model_item_result qv = {0};
	const struct model_input *qin = NULL;
	for (int i = 0; s == SY_OK && i < n; i++) {
		const struct model_input *in = items[i].in;
		if (!qin || !same_query(qin, in)) {
			model_item_result_free(&qv);
			struct model_input q = {.text = in->query ? in->query : "",
			                        .len = in->query ? in->query_len : 0,
			                        .is_query = true,
			                        .truncate = true,
			                        .normalize = -1};
			struct model_prepared qp = {0};
			s = m3_prepare(m, &q, err, &qp);
			struct model_item qi = {&q, &qp};
			if (s == SY_OK)
				s = m3_encode(m, &qi, 1, need, err, &qv);
			tok_encoding_free(&qp.enc);
			qin = in;
		}
		if (s == SY_OK)
			scores[i] = (float)pair_score(in->score, &qv, &docs[i]);
	}
	model_item_result_free(&qv);
	for (int i = 0; i < n; i++)
		model_item_result_free(&docs[i]);
	free(docs);
	return s;
}

/* ---- the model ---- */

static int m3_output_dims(const void *impl, enum model_output o)
{
	const struct bge_m3 *m = impl;
	return o == MODEL_OUTPUT_SPARSE        ? m->vocab
	       : o == MODEL_OUTPUT_MULTIVECTOR ? m->dim
	                                       : m->hidden;
}

static int m3_dims(const void *impl)
{
	return ((const struct bge_m3 *)impl)->hidden;
}

static const char *m3_token(const void *impl, int id)
{
	return tokenizer_id_to_token(((const struct bge_m3 *)impl)->tok, id);
}

static size_t m3_bytes(const void *impl)
{
	const struct bge_m3 *m = impl;
	return encoder_bytes(&m->enc) + tokenizer_bytes(m->tok) +
	       (m->cw.packed_len + (size_t)m->dim + (size_t)m->hidden +
	        (size_t)m->proj_rows * (size_t)m->dim) *
	           sizeof(float);
}

static int m3_max_tokens(const void *impl)
{
	return ((const struct bge_m3 *)impl)->max_length;
}

static void m3_close(void *impl)
{
	m3_free(impl);
}

/* The tokenizer, for the tokenize and decode routes. */
static const struct tokenizer *m3_tokenizer(const void *impl)
{
	return ((const struct bge_m3 *)impl)->tok;
}

static const struct model_ops m3_ops = {
    .tokenizer = m3_tokenizer, .close = m3_close, .bytes = m3_bytes, .max_tokens = m3_max_tokens};
static const struct model_encode_task m3_encode_task = {
    .output = MODEL_OUTPUT_DENSE,
    .item_limits = true,
    .outputs = M3_ALL,
    .output_dims = m3_output_dims,
    .dims = m3_dims,
    .prepare = m3_prepare,
    .run = m3_run,
    .token = m3_token,
};
static const struct model_score_task m3_score_task = {
    .modes = true, .prepare = m3_prepare, .run = m3_score_run};

enum sy_status bge_m3_open(const struct model_desc *d, const struct model_options *opts,
                           struct sy_error *err, struct model *out)
{
	struct bge_m3 *m;
	enum sy_status s = m3_load(d, opts, err, &m);
	if (s != SY_OK)
		return s;
	out->arch = "bge-m3";
	out->impl = m;
	out->ops = &m3_ops;
	out->encode = &m3_encode_task;
	out->score = &m3_score_task;
	return SY_OK;
}
