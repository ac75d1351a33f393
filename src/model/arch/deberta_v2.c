/* DeBERTa-v2/v3 encoder (see deberta_v2.h). The relative-position projections Qr and Kr are
 * fixed per layer, so they are computed once at load and packed per head as GEMM weights; a
 * forward pass then needs, per head, q_i . Kr[r] and k_j . Qr[r] for the 2 span relative buckets
 * r (two GEMMs per head), and gathers them by i - j.
 *
 * The whole forward is one sy_pool_run, as in bert.c: every step splits its work by (ith, nth)
 * (GEMM rows or columns, attention in (head, query row) units) and a barrier separates steps.
 * Every output element is computed by the same code whatever the split, so the result does not
 * depend on the number of threads, bit for bit. */
#include "model/arch/deberta_v2.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/threads.h"
#include "tensor/gemm.h"
#include "model/model.h"
#include "tensor/ops.h"

struct deberta_layer {
	struct gemm_weights q, k, v, o, ff1, ff2;
	float *bq, *bk, *bv, *bo, *b1, *b2;
	float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
	/* [heads]: the head's slice of the query/key projections of the relative embeddings,
	 * Qr/Kr [2 span][head_dim], packed as weights of 2 span outputs */
	struct gemm_weights *qr, *kr;
	int n_heads;
};

struct deberta_model {
	struct deberta_config cfg;
	int span;
	float *word, *pos; /* [vocab][H], [max_positions][H] or NULL */
	float *emb_g, *emb_b;
	struct deberta_layer *layers;
	struct sy_pool *pool;
	/* scratch, grown to the longest sequence */
	int cap_t;
	float *x, *q, *k, *v, *ctx, *tmp, *ff;
	float *qkr, *kqr; /* [heads in a pass][T][2 span]: q_i . Kr[r] and k_i . Qr[r] per head */
	size_t rel_cap; /* floats in each of qkr, kqr */
	float *row; /* [threads][T]: one attention row per thread */
	int *bucket; /* [2T - 1]: the relative index c of i - j = d - (T - 1) */
};

static int json_int(const cJSON *o, const char *k, int def, bool *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v || cJSON_IsNull(v))
		return def;
	if (!cJSON_IsNumber(v)) {
		*ok = false;
		return def;
	}
	return (int)v->valuedouble;
}

static bool json_bool(const cJSON *o, const char *k, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

enum sy_status deberta_config_parse(const cJSON *o, const char *where, struct sy_error *err,
                                    struct deberta_config *c)
{
	memset(c, 0, sizeof *c);
	bool ok = true;
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "model_type");
	if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "deberta-v2") != 0)
		return sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "%s: model_type %s is not supported as an encoder here (deberta-v2 "
		    "is)",
		    where, cJSON_IsString(mt) ? mt->valuestring : "(none)");
	c->vocab = json_int(o, "vocab_size", 128100, &ok);
	c->hidden = json_int(o, "hidden_size", 768, &ok);
	c->layers = json_int(o, "num_hidden_layers", 12, &ok);
	c->heads = json_int(o, "num_attention_heads", 12, &ok);
	c->intermediate = json_int(o, "intermediate_size", 3072, &ok);
	c->max_positions = json_int(o, "max_position_embeddings", 512, &ok);
	c->position_buckets = json_int(o, "position_buckets", -1, &ok);
	c->max_relative_positions = json_int(o, "max_relative_positions", -1, &ok);
	if (c->max_relative_positions < 1)
		c->max_relative_positions = c->max_positions;
	c->position_biased_input = json_bool(o, "position_biased_input", true);
	const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_eps");
	c->eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-7f;
	const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pos_att_type");
	const cJSON *t;
	const cJSON *list = cJSON_IsArray(pat) ? pat : (const cJSON *)NULL;
	if (cJSON_IsString(pat)) {
		c->c2p = strstr(pat->valuestring, "c2p") != NULL;
		c->p2c = strstr(pat->valuestring, "p2c") != NULL;
	}
	cJSON_ArrayForEach(t, list)
	{
		if (cJSON_IsString(t)) {
			c->c2p |= !strcmp(t->valuestring, "c2p");
			c->p2c |= !strcmp(t->valuestring, "p2c");
		}
	}
	const cJSON *nre = cJSON_GetObjectItemCaseSensitive(o, "norm_rel_ebd");
	c->norm_rel_layer_norm = cJSON_IsString(nre) && strstr(nre->valuestring, "layer_norm");
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
	const char *why = NULL;
	if (!ok)
		why = "a size that is not a number";
	else if (c->hidden < 1 || c->heads < 1 || c->hidden % c->heads || c->layers < 1 ||
	         c->vocab < 1 || c->intermediate < 1 || c->layers > 1000)
		why = "hidden_size, num_attention_heads, num_hidden_layers or vocab_size out of "
		      "range";
	else if (!json_bool(o, "relative_attention", false))
		why = "relative_attention false (absolute-position DeBERTa)";
	else if (!json_bool(o, "share_att_key", false))
		why = "share_att_key false (separate position projections)";
	else if (json_int(o, "conv_kernel_size", 0, &ok) > 0)
		why = "conv_kernel_size (the convolution layer)";
	else if (json_int(o, "embedding_size", c->hidden, &ok) != c->hidden)
		why = "embedding_size different from hidden_size";
	else if (json_int(o, "type_vocab_size", 0, &ok) > 0)
		why = "token type embeddings";
	else if (cJSON_IsString(act) && strcmp(act->valuestring, "gelu") != 0)
		why = "a hidden_act other than gelu";
	if (why)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: DeBERTa-v2 with %s is not supported", where, why);
	return SY_OK;
}

static void layer_free(struct deberta_layer *l)
{
	struct gemm_weights *g[] = {&l->q, &l->k, &l->v, &l->o, &l->ff1, &l->ff2};
	for (size_t i = 0; i < 6; i++)
		gemm_weights_free(g[i]);
	float *f[] = {l->bq, l->bk,    l->bv,    l->bo,    l->b1,
	              l->b2, l->ln1_g, l->ln1_b, l->ln2_g, l->ln2_b};
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		free(f[i]);
	for (int h = 0; h < l->n_heads; h++) {
		if (l->qr)
			gemm_weights_free(&l->qr[h]);
		if (l->kr)
			gemm_weights_free(&l->kr[h]);
	}
	free(l->qr);
	free(l->kr);
}

void deberta_free(struct deberta_model *m)
{
	if (!m)
		return;
	for (int i = 0; m->layers && i < m->cfg.layers; i++)
		layer_free(&m->layers[i]);
	free(m->layers);
	free(m->word);
	free(m->pos);
	free(m->emb_g);
	free(m->emb_b);
	float *f[] = {m->x, m->q, m->k, m->v, m->ctx, m->tmp, m->ff, m->qkr, m->kqr, m->row};
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		free(f[i]);
	free(m->bucket);
	sy_pool_free(m->pool);
	free(m);
}

static enum sy_status read_vec(const struct safetensors *st, const char *prefix, const char *name,
                               int n, struct sy_error *err, float **out)
{
	char full[256];
	snprintf(full, sizeof full, "%s%s", prefix, name);
	return safetensors_read_f32(st, full, 1, (int64_t[]){n}, err, out);
}

static enum sy_status read_linear(const struct safetensors *st, const char *prefix,
                                  const char *name, int out_f, int in_f, struct sy_error *err,
                                  struct gemm_weights *w, float **bias, float **raw)
{
	char full[256];
	snprintf(full, sizeof full, "%s%s.weight", prefix, name);
	float *W = NULL;
	enum sy_status s = safetensors_read_f32(st, full, 2, (int64_t[]){out_f, in_f}, err, &W);
	if (s == SY_OK)
		s = gemm_weights_pack(W, out_f, in_f, err, w);
	if (s == SY_OK) {
		snprintf(full, sizeof full, "%s%s.bias", prefix, name);
		s = safetensors_read_f32(st, full, 1, (int64_t[]){out_f}, err, bias);
	}
	if (raw && s == SY_OK)
		*raw = W;
	else
		free(W);
	return s;
}

/* The head slices [nr][d] of P [nr][H] (one relative projection), packed per head. */
static enum sy_status pack_heads(const float *P, int nr, int H, int nh, struct sy_error *err,
                                 struct gemm_weights **out)
{
	const int d = H / nh;
	*out = calloc((size_t)nh, sizeof **out);
	float *slice = malloc((size_t)nr * d * sizeof *slice);
	enum sy_status s = *out && slice ? SY_OK : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int h = 0; s == SY_OK && h < nh; h++) {
		for (int r = 0; r < nr; r++)
			memcpy(slice + (size_t)r * d, P + (size_t)r * H + (size_t)h * d,
			       (size_t)d * sizeof *slice);
		s = gemm_weights_pack(slice, nr, d, err, &(*out)[h]);
	}
	free(slice);
	return s;
}

enum sy_status deberta_load(const struct deberta_config *cfg, const struct safetensors *st,
                            const char *prefix, int n_threads, struct sy_error *err,
                            struct deberta_model **out)
{
	*out = NULL;
	struct deberta_model *m = calloc(1, sizeof *m);
	if (!m)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	m->cfg = *cfg;
	const int H = cfg->hidden;
	m->span = cfg->position_buckets > 0 ? cfg->position_buckets : cfg->max_relative_positions;
	m->layers = calloc((size_t)cfg->layers, sizeof *m->layers);
	m->pool = sy_pool_create(n_threads);
	char name[160];
	snprintf(name, sizeof name, "%sembeddings.word_embeddings.weight", prefix);
	enum sy_status s =
	    m->layers && m->pool
	        ? safetensors_read_f32(st, name, 2, (int64_t[]){cfg->vocab, H}, err, &m->word)
	        : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (s == SY_OK && cfg->position_biased_input) {
		snprintf(name, sizeof name, "%sembeddings.position_embeddings.weight", prefix);
		s = safetensors_read_f32(st, name, 2, (int64_t[]){cfg->max_positions, H}, err,
		                         &m->pos);
	}
	if (s == SY_OK)
		s = read_vec(st, prefix, "embeddings.LayerNorm.weight", H, err, &m->emb_g);
	if (s == SY_OK)
		s = read_vec(st, prefix, "embeddings.LayerNorm.bias", H, err, &m->emb_b);
	/* the relative embeddings, LayerNormed once */
	float *R = NULL, *rg = NULL, *rb = NULL;
	const int nr = 2 * m->span;
	if (s == SY_OK) {
		snprintf(name, sizeof name, "%sencoder.rel_embeddings.weight", prefix);
		const struct st_tensor *t = safetensors_find(st, name);
		if (!t || t->n_dims != 2 || t->shape[0] < nr || t->shape[1] != H)
			s = sy_error_set(err, SY_ERR_FORMAT,
			                 "%s: expected at least [%d][%d] relative embeddings", name,
			                 nr, H);
		else
			s = safetensors_read_f32(st, name, 2, (int64_t[]){t->shape[0], H}, err, &R);
	}
	if (s == SY_OK && cfg->norm_rel_layer_norm) {
		s = read_vec(st, prefix, "encoder.LayerNorm.weight", H, err, &rg);
		if (s == SY_OK)
			s = read_vec(st, prefix, "encoder.LayerNorm.bias", H, err, &rb);
		for (int r = 0; s == SY_OK && r < nr; r++)
			layer_norm_f32(R + (size_t)r * H, R + (size_t)r * H, rg, rb, H, cfg->eps);
	}
	float *Qr = NULL, *Kr = NULL;
	if (s == SY_OK) {
		Qr = malloc((size_t)nr * H * sizeof *Qr);
		Kr = malloc((size_t)nr * H * sizeof *Kr);
		if (!Qr || !Kr)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; s == SY_OK && i < cfg->layers; i++) {
		struct deberta_layer *l = &m->layers[i];
		l->n_heads = cfg->heads;
		char p[160];
		snprintf(p, sizeof p, "%sencoder.layer.%d.", prefix, i);
		s = read_linear(st, p, "attention.self.query_proj", H, H, err, &l->q, &l->bq, NULL);
		if (s == SY_OK)
			s = read_linear(st, p, "attention.self.key_proj", H, H, err, &l->k, &l->bk,
			                NULL);
		if (s == SY_OK)
			s = read_linear(st, p, "attention.self.value_proj", H, H, err, &l->v,
			                &l->bv, NULL);
		if (s == SY_OK)
			s = read_linear(st, p, "attention.output.dense", H, H, err, &l->o, &l->bo,
			                NULL);
		if (s == SY_OK)
			s = read_linear(st, p, "intermediate.dense", cfg->intermediate, H, err,
			                &l->ff1, &l->b1, NULL);
		if (s == SY_OK)
			s = read_linear(st, p, "output.dense", H, cfg->intermediate, err, &l->ff2,
			                &l->b2, NULL);
		if (s == SY_OK)
			s = read_vec(st, p, "attention.output.LayerNorm.weight", H, err, &l->ln1_g);
		if (s == SY_OK)
			s = read_vec(st, p, "attention.output.LayerNorm.bias", H, err, &l->ln1_b);
		if (s == SY_OK)
			s = read_vec(st, p, "output.LayerNorm.weight", H, err, &l->ln2_g);
		if (s == SY_OK)
			s = read_vec(st, p, "output.LayerNorm.bias", H, err, &l->ln2_b);
		if (s == SY_OK) {
			gemm_linear(R, H, &l->q, l->bq, GEMM_EPILOGUE_NONE, Qr, H, nr, 0, 1);
			gemm_linear(R, H, &l->k, l->bk, GEMM_EPILOGUE_NONE, Kr, H, nr, 0, 1);
			s = pack_heads(Qr, nr, H, cfg->heads, err, &l->qr);
		}
		if (s == SY_OK)
			s = pack_heads(Kr, nr, H, cfg->heads, err, &l->kr);
	}
	free(Qr);
	free(Kr);
	free(R);
	free(rg);
	free(rb);
	if (s != SY_OK) {
		deberta_free(m);
		return s;
	}
	*out = m;
	return SY_OK;
}

size_t deberta_bytes(const struct deberta_model *m)
{
	const struct deberta_config *c = &m->cfg;
	size_t per = (size_t)4 * c->hidden * c->hidden + (size_t)2 * c->hidden * c->intermediate +
	             (size_t)4 * m->span * c->hidden;
	return ((size_t)c->vocab * c->hidden + per * c->layers +
	        (m->pos ? (size_t)c->max_positions * c->hidden : 0)) *
	           sizeof(float) +
	       (size_t)m->cap_t *
	           (size_t)(6 * c->hidden + c->intermediate + sy_pool_size(m->pool)) *
	           sizeof(float) +
	       2 * m->rel_cap * sizeof(float);
}

struct sy_pool *deberta_pool(struct deberta_model *m)
{
	return m->pool;
}

/* make_log_bucket_position for one relative distance. */
static int log_bucket(int rel, int bucket_size, int max_position)
{
	const int mid = bucket_size / 2;
	const int sign = rel > 0 ? 1 : rel < 0 ? -1 : 0;
	const int abs_pos = rel < mid && rel > -mid ? mid - 1 : abs(rel);
	if (abs_pos <= mid)
		return rel;
	double log_pos =
	    ceil(log((double)abs_pos / mid) / log((double)(max_position - 1) / mid) * (mid - 1)) +
	    mid;
	return (int)log_pos * sign;
}

/* The relative terms are computed for as many heads at a time as fit in this many floats (or one
 * head), so the scratch stays 2 x 4 MB instead of 2 x heads x T x 2 span floats (100 MB for the
 * base shape at 512 tokens). */
#ifndef DEBERTA_REL_FLOATS
#define DEBERTA_REL_FLOATS ((size_t)1 << 20)
#endif

static enum sy_status reserve(struct deberta_model *m, int T, struct sy_error *err)
{
	if (T <= m->cap_t)
		return SY_OK;
	const int H = m->cfg.hidden, I = m->cfg.intermediate, nr = 2 * m->span;
	float **b[] = {&m->x, &m->q, &m->k, &m->v, &m->ctx, &m->tmp};
	for (size_t i = 0; i < 6; i++) {
		free(*b[i]);
		*b[i] = malloc((size_t)T * H * sizeof(float));
	}
	free(m->ff);
	free(m->qkr);
	free(m->kqr);
	free(m->row);
	free(m->bucket);
	m->ff = malloc((size_t)T * I * sizeof(float));
	const size_t per_head = (size_t)T * nr;
	m->rel_cap = per_head > DEBERTA_REL_FLOATS ? per_head : DEBERTA_REL_FLOATS;
	m->qkr = malloc(m->rel_cap * sizeof(float));
	m->kqr = malloc(m->rel_cap * sizeof(float));
	m->row = malloc((size_t)sy_pool_size(m->pool) * T * sizeof(float));
	m->bucket = malloc((size_t)(2 * T) * sizeof(int));
	bool ok = m->ff && m->qkr && m->kqr && m->row && m->bucket;
	for (size_t i = 0; i < 6; i++)
		ok &= *b[i] != NULL;
	m->cap_t = ok ? T : 0;
	return ok ? SY_OK : sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d tokens", T);
}

struct fwd_ctx {
	struct deberta_model *m;
	const int32_t *ids;
	int T;
	float scale;
	int heads_per_pass; /* heads whose relative terms fit in qkr/kqr at once */
	const struct model_stop *stop;
	bool stopped;
};

/* Eight independent partial sums, so the adds do not wait on each other (and the compiler may
 * vectorise them); the order is fixed, so the result is the same on every thread. */
static float dot_f32(const float *a, const float *b, int n)
{
	float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	int e = 0;
	for (; e + 8 <= n; e += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += a[e + l] * b[e + l];
	float t = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
	for (; e < n; e++)
		t += a[e] * b[e];
	return t;
}

/* x[r] = LayerNorm(tmp[r] + x[r]) for this part's rows. */
static void residual_norm(struct deberta_model *m, int T, const float *g, const float *b, int ith,
                          int nth)
{
	const int H = m->cfg.hidden;
	int rb, re;
	sy_split(T, ith, nth, &rb, &re);
	for (int i = rb; i < re; i++) {
		float *t = m->tmp + (size_t)i * H, *x = m->x + (size_t)i * H;
		add_f32(t, x, H);
		layer_norm_f32(x, t, g, b, H, m->cfg.eps);
	}
}

/* Disentangled attention for this part's (head, query row) units of heads h0 .. h0 + n_h - 1,
 * whose relative terms are in qkr/kqr. */
static void attention_part(struct fwd_ctx *fc, int h0, int n_h, int ith, int nth)
{
	struct deberta_model *m = fc->m;
	const struct deberta_config *c = &m->cfg;
	const int T = fc->T, H = c->hidden, d = H / c->heads, nr = 2 * m->span;
	float *row = m->row + (size_t)ith * T;
	int ub, ue;
	sy_split(n_h * T, ith, nth, &ub, &ue);
	for (int u = ub; u < ue; u++) {
		const int g = u / T, h = h0 + g, i = u % T, o = h * d;
		const float *q = m->q + (size_t)i * H + o;
		const float *qkr = m->qkr + ((size_t)g * T + i) * nr;
		const float *kqr = m->kqr + (size_t)g * T * nr;
		for (int j = 0; j < T; j++) {
			const int ci = m->bucket[i - j + T - 1];
			float sc = dot_f32(q, m->k + (size_t)j * H + o, d);
			if (c->c2p)
				sc += qkr[ci];
			if (c->p2c)
				sc += kqr[(size_t)j * nr + ci];
			row[j] = sc * fc->scale;
		}
		softmax_f32(row, T);
		float *ctx = m->ctx + (size_t)i * H + o;
		memset(ctx, 0, (size_t)d * sizeof *ctx);
		for (int j = 0; j < T; j++) {
			const float *v = m->v + (size_t)j * H + o;
			const float p = row[j];
			for (int e = 0; e < d; e++)
				ctx[e] += p * v[e];
		}
	}
}

static void forward_part(void *p, int ith, int nth)
{
	struct fwd_ctx *fc = p;
	struct deberta_model *m = fc->m;
	const struct deberta_config *c = &m->cfg;
	const int T = fc->T, H = c->hidden, nh = c->heads, d = H / nh, nr = 2 * m->span;
	int rb, re;
	sy_split(T, ith, nth, &rb, &re);
	for (int i = rb; i < re; i++) {
		float *x = m->x + (size_t)i * H;
		memcpy(x, m->word + (size_t)fc->ids[i] * H, (size_t)H * sizeof *x);
		if (m->pos)
			add_f32(x, m->pos + (size_t)i * H, H);
		layer_norm_f32(x, x, m->emb_g, m->emb_b, H, c->eps);
	}
	sy_pool_barrier(m->pool);
	for (int li = 0; li < c->layers; li++) {
		const struct deberta_layer *l = &m->layers[li];
		gemm_linear(m->x, H, &l->q, l->bq, GEMM_EPILOGUE_NONE, m->q, H, T, ith, nth);
		gemm_linear(m->x, H, &l->k, l->bk, GEMM_EPILOGUE_NONE, m->k, H, T, ith, nth);
		gemm_linear(m->x, H, &l->v, l->bv, GEMM_EPILOGUE_NONE, m->v, H, T, ith, nth);
		sy_pool_barrier(m->pool);
		/* per pass of heads: q_i . Kr[r] and k_i . Qr[r] for every relative index r,
		 * then the attention of those heads */
		for (int h0 = 0; h0 < nh; h0 += fc->heads_per_pass) {
			const int n_h = nh - h0 < fc->heads_per_pass ? nh - h0 : fc->heads_per_pass;
			for (int g = 0; g < n_h; g++) {
				if (c->c2p)
					gemm_linear(m->q + (size_t)(h0 + g) * d, H, &l->kr[h0 + g],
					            NULL, GEMM_EPILOGUE_NONE,
					            m->qkr + (size_t)g * T * nr, nr, T, ith, nth);
				if (c->p2c)
					gemm_linear(m->k + (size_t)(h0 + g) * d, H, &l->qr[h0 + g],
					            NULL, GEMM_EPILOGUE_NONE,
					            m->kqr + (size_t)g * T * nr, nr, T, ith, nth);
			}
			sy_pool_barrier(m->pool);
			attention_part(fc, h0, n_h, ith, nth);
			sy_pool_barrier(m->pool);
		}
		gemm_linear(m->ctx, H, &l->o, l->bo, GEMM_EPILOGUE_NONE, m->tmp, H, T, ith, nth);
		sy_pool_barrier(m->pool);
		residual_norm(m, T, l->ln1_g, l->ln1_b, ith, nth);
		sy_pool_barrier(m->pool);
		gemm_linear(m->x, H, &l->ff1, l->b1, GEMM_EPILOGUE_GELU_ERF, m->ff, c->intermediate,
		            T, ith, nth);
		sy_pool_barrier(m->pool);
		gemm_linear(m->ff, c->intermediate, &l->ff2, l->b2, GEMM_EPILOGUE_NONE, m->tmp, H,
		            T, ith, nth);
		sy_pool_barrier(m->pool);
		residual_norm(m, T, l->ln2_g, l->ln2_b, ith, nth);
		if (ith == 0 && li + 1 < c->layers)
			fc->stopped = model_stop_requested(fc->stop);
		sy_pool_barrier(m->pool);
		if (fc->stopped)
			return;
	}
}

enum sy_status deberta_forward(struct deberta_model *m, const int32_t *ids, int T,
                               struct sy_error *err, float *out)
{
	const struct deberta_config *c = &m->cfg;
	const int H = c->hidden, nh = c->heads, d = H / nh, nr = 2 * m->span;
	if (T < 1)
		return SY_OK;
	if (m->pos && T > c->max_positions)
		return sy_error_set(err, SY_ERR_LIMIT, "%d tokens, more than the %d positions", T,
		                    c->max_positions);
	for (int i = 0; i < T; i++)
		if (ids[i] < 0 || ids[i] >= c->vocab)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "token id %d out of the vocabulary", ids[i]);
	enum sy_status s = reserve(m, T, err);
	if (s != SY_OK)
		return s;
	for (int r = 0; r < 2 * T - 1; r++) { /* i - j = r - (T - 1) */
		int b = c->position_buckets > 0 ? log_bucket(r - (T - 1), c->position_buckets,
		                                             c->max_relative_positions)
		                                : r - (T - 1);
		b += m->span;
		m->bucket[r] = b < 0 ? 0 : b > nr - 1 ? nr - 1 : b;
	}
	struct fwd_ctx fc = {
	    .m = m,
	    .ids = ids,
	    .T = T,
	    .scale = 1.0f / sqrtf((float)d * (float)(1 + (c->c2p ? 1 : 0) + (c->p2c ? 1 : 0))),
	    .stop = model_stop_current(),
	};
	const size_t per_head = (size_t)T * nr, fit = m->rel_cap / per_head;
	fc.heads_per_pass = fit >= (size_t)nh ? nh : (int)fit;
	sy_pool_run(m->pool, forward_part, &fc);
	if (fc.stopped)
		return model_stopped_error(err);
	memcpy(out, m->x, (size_t)T * H * sizeof *out);
	return SY_OK;
}
