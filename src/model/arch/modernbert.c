/* ModernBERT encoder (ModernBertModel; the encoder of ModernBertForMaskedLM and the task models,
 * under "model."), as transformers' modeling_modernbert.py computes it:
 *
 *   x = LayerNorm(tok_embeddings[id])                         (embeddings.norm)
 *   per layer l:  a = l == 0 ? x : LayerNorm(x)               (attn_norm; identity on layer 0)
 *                 q, k, v = a Wqkv^T (+ b);  rotary on q, k   (rotate-half, position 0..len-1)
 *                 x += Wo(Attention(q, k, v))                 (local layers: sliding window)
 *                 [u | g] = LayerNorm(x) Wi^T (+ b)           (mlp_norm; u, g halves of 2I)
 *                 x += Wo(act(u) * g)                         (GeGLU with hidden_activation)
 *   x = LayerNorm(x)                                          (final_norm)
 *
 * Layer l is global when l % global_attn_every_n_layers == 0: full attention, rotary base
 * global_rope_theta. The others are local: each query sees the keys within local_attention / 2
 * positions of it, rotary base local_rope_theta. LayerNorms have a bias only with norm_bias, the
 * attention projections with attention_bias, the MLP with mlp_bias.
 *
 * Newer transformers write layer_types and rope_parameters instead of (or beside) the old keys;
 * both are read, and a configuration this file does not compute (another rope_type, rope
 * scaling, a layer pattern other than every n-th global, an unknown activation) is refused at
 * load with the key named.
 *
 * The forward is one sy_pool_run as in bert.c: every step splits its work by (ith, nth) and a
 * barrier separates steps. */
#include "model/arch/encoder.h"
#include "model/arch/weight_loader.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"
#include "base/threads.h"
#include "model/model.h"
#include "tensor/attention.h"
#include "tensor/linear.h"
#include "tensor/ops.h"
#include "tensor/rope.h"

enum mb_act { MB_GELU_ERF, MB_GELU_TANH };

struct mb_config {
	int hidden, n_heads, n_layers, intermediate, vocab_size, max_positions;
	int global_every; /* global_attn_every_n_layers */
	int window; /* local_attention / 2: keys a local query sees on each side */
	double global_theta, local_theta;
	float eps;
	bool norm_bias, attention_bias, mlp_bias;
	enum mb_act act;
};

struct mb_layer {
	float *attn_norm_w, *attn_norm_b; /* [H]; NULL on layer 0 (identity); b NULL without bias */
	struct linear wqkv; /* [3H][H] */
	float *wqkv_b; /* [3H] or NULL */
	struct linear wo; /* [H][H] */
	float *wo_b;
	float *mlp_norm_w, *mlp_norm_b;
	struct linear wi; /* [2I][H] */
	float *wi_b;
	struct linear wo2; /* [H][I] */
	float *wo2_b;
};

struct mb_model {
	struct mb_config cfg;
	float *tok_emb; /* [vocab][H] */
	float *emb_norm_w, *emb_norm_b;
	float *final_norm_w, *final_norm_b;
	struct mb_layer *layers;
	struct rope_table rope_global, rope_local;
	size_t weight_bytes;
	struct sy_pool *pool;

	int cap_rows, cap_seqs, cap_t;
	float *x; /* [rows][H], the output */
	float *tmp; /* [rows][H] normed input / sublayer output */
	float *shared; /* [rows][max(4H, 2I)]: qkv + ctx, then the MLP's [u | g] */
	float *qkv, *ctx, *ffn;
	int *pos; /* [rows] */
	int *seq_start; /* [seqs + 1] */
	float *attn_scratch;
	size_t attn_stride;
	attention_ext_fn attention; /* bf16 products with int8 layers where the CPU has them */
};

/* ---- configuration ---- */

static enum sy_status read_pos_int(const cJSON *c, const char *key, long def, struct sy_error *err,
                                   int *out)
{
	long v;
	enum sy_status s = json_read_int(c, key, NULL, 1, 1L << 24, def, err, &v);
	if (s == SY_OK && v <= 0)
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: missing", key);
	*out = (int)v;
	return s;
}

/* rope_parameters[kind]: rope_type "default" only; its rope_theta replaces *theta. */
static enum sy_status read_rope_params(const cJSON *rp, const char *kind, struct sy_error *err,
                                       double *theta)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(rp, kind);
	if (!p || cJSON_IsNull(p))
		return SY_OK;
	char path[64];
	snprintf(path, sizeof path, "rope_parameters.%s", kind);
	if (!cJSON_IsObject(p))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: expected object", path);
	const char *type;
	enum sy_status s = json_read_string(p, "rope_type", path, "default", err, &type);
	if (s != SY_OK)
		return s;
	if (strcmp(type, "default") != 0)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s.rope_type: \"%s\" is not supported (only \"default\")",
		                    path, type);
	return json_read_number(p, "rope_theta", path, 1e-6, 1e30, *theta, err, theta);
}

static enum sy_status mb_config_parse(const cJSON *c, struct sy_error *err, struct mb_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	enum sy_status s;
	if ((s = read_pos_int(c, "hidden_size", -1, err, &cfg->hidden)) != SY_OK ||
	    (s = read_pos_int(c, "num_attention_heads", -1, err, &cfg->n_heads)) != SY_OK ||
	    (s = read_pos_int(c, "num_hidden_layers", -1, err, &cfg->n_layers)) != SY_OK ||
	    (s = read_pos_int(c, "intermediate_size", -1, err, &cfg->intermediate)) != SY_OK ||
	    (s = read_pos_int(c, "vocab_size", -1, err, &cfg->vocab_size)) != SY_OK ||
	    (s = read_pos_int(c, "max_position_embeddings", 8192, err, &cfg->max_positions)) !=
	        SY_OK ||
	    (s = read_pos_int(c, "global_attn_every_n_layers", 3, err, &cfg->global_every)) !=
	        SY_OK)
		return s;
	if (cfg->hidden % cfg->n_heads || (cfg->hidden / cfg->n_heads) % 2)
		return sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "num_attention_heads: %d heads do not split hidden_size %d into "
		    "even head sizes",
		    cfg->n_heads, cfg->hidden);
	long local;
	if ((s = json_read_int(c, "local_attention", NULL, 0, 1L << 24, 128, err, &local)) != SY_OK)
		return s;
	cfg->window = (int)(local / 2);
	double eps;
	if ((s = json_read_number(c, "norm_eps", NULL, 0, 1, 1e-5, err, &eps)) != SY_OK)
		return s;
	cfg->eps = (float)eps;
	if ((s = json_read_bool(c, "norm_bias", NULL, false, err, &cfg->norm_bias)) != SY_OK ||
	    (s = json_read_bool(c, "attention_bias", NULL, false, err, &cfg->attention_bias)) !=
	        SY_OK ||
	    (s = json_read_bool(c, "mlp_bias", NULL, false, err, &cfg->mlp_bias)) != SY_OK)
		return s;
	cfg->global_theta = 160000.0;
	cfg->local_theta = 10000.0;
	if ((s = json_read_number(c, "global_rope_theta", NULL, 1e-6, 1e30, cfg->global_theta, err,
	                          &cfg->global_theta)) != SY_OK ||
	    (s = json_read_number(c, "local_rope_theta", NULL, 1e-6, 1e30, cfg->local_theta, err,
	                          &cfg->local_theta)) != SY_OK)
		return s;
	const cJSON *rp = cJSON_GetObjectItemCaseSensitive(c, "rope_parameters");
	if (rp && !cJSON_IsNull(rp)) {
		if (!cJSON_IsObject(rp))
			return sy_error_set(err, SY_ERR_FORMAT, "rope_parameters: expected object");
		if ((s = read_rope_params(rp, "full_attention", err, &cfg->global_theta)) !=
		        SY_OK ||
		    (s = read_rope_params(rp, "sliding_attention", err, &cfg->local_theta)) !=
		        SY_OK)
			return s;
	}
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
	if (rs && !cJSON_IsNull(rs))
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "rope_scaling: not supported");
	/* layer_types, when written, must be the every-n-th pattern the attention follows. */
	const char **types = NULL;
	int n_types = 0;
	if ((s = json_read_strings(c, "layer_types", NULL, err, &types, &n_types)) != SY_OK)
		return s;
	for (int l = 0; types && l < n_types; l++) {
		const char *want =
		    l % cfg->global_every == 0 ? "full_attention" : "sliding_attention";
		if (n_types != cfg->n_layers || strcmp(types[l], want) != 0) {
			free(types);
			return sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "layer_types: not the pattern of global_attn_every_n_layers "
			    "%d over %d layers",
			    cfg->global_every, cfg->n_layers);
		}
	}
	free(types);
	const char *act;
	if ((s = json_read_string(c, "hidden_activation", NULL, "gelu", err, &act)) != SY_OK)
		return s;
	if (!strcmp(act, "gelu"))
		cfg->act = MB_GELU_ERF;
	else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh"))
		cfg->act = MB_GELU_TANH;
	else
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "hidden_activation: \"%s\" is not supported (gelu, gelu_new, "
		                    "gelu_pytorch_tanh)",
		                    act);
	const char *pooling;
	if ((s = json_read_string(c, "classifier_pooling", NULL, "cls", err, &pooling)) != SY_OK)
		return s;
	if (strcmp(pooling, "cls") != 0 && strcmp(pooling, "mean") != 0)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "classifier_pooling: \"%s\" is not cls or mean", pooling);
	return SY_OK;
}

/* ---- loading ---- */

static enum sy_status load_layer(struct weight_loader *l, const struct mb_config *c, int i,
                                 struct mb_layer *L)
{
	const int H = c->hidden, I = c->intermediate;
	enum sy_status s = SY_OK;
	if (i > 0) /* layer 0's attention norm is the identity */
		s = weight_norm(l, &L->attn_norm_w, c->norm_bias ? &L->attn_norm_b : NULL, H,
		                "layers.%d.attn_norm", i);
	if (s == SY_OK)
		s = weight_linear(l, &L->wqkv, c->attention_bias ? &L->wqkv_b : NULL, 3 * H, H,
		                  "layers.%d.attn.Wqkv", i);
	if (s == SY_OK)
		s = weight_linear(l, &L->wo, c->attention_bias ? &L->wo_b : NULL, H, H,
		                  "layers.%d.attn.Wo", i);
	if (s == SY_OK)
		s = weight_norm(l, &L->mlp_norm_w, c->norm_bias ? &L->mlp_norm_b : NULL, H,
		                "layers.%d.mlp_norm", i);
	if (s == SY_OK)
		s = weight_linear(l, &L->wi, c->mlp_bias ? &L->wi_b : NULL, 2 * I, H,
		                  "layers.%d.mlp.Wi", i);
	if (s == SY_OK)
		s = weight_linear(l, &L->wo2, c->mlp_bias ? &L->wo2_b : NULL, H, I,
		                  "layers.%d.mlp.Wo", i);
	return s;
}

static void layer_free(struct mb_layer *L)
{
	linear_free(&L->wqkv);
	linear_free(&L->wo);
	linear_free(&L->wi);
	linear_free(&L->wo2);
	free(L->attn_norm_w);
	free(L->attn_norm_b);
	free(L->wqkv_b);
	free(L->wo_b);
	free(L->mlp_norm_w);
	free(L->mlp_norm_b);
	free(L->wi_b);
	free(L->wo2_b);
}

static void scratch_free(struct mb_model *m)
{
	free(m->x);
	free(m->tmp);
	free(m->shared);
	free(m->pos);
	free(m->seq_start);
	free(m->attn_scratch);
	m->x = m->tmp = m->shared = m->qkv = m->ctx = m->ffn = m->attn_scratch = NULL;
	m->pos = m->seq_start = NULL;
	m->cap_rows = m->cap_seqs = m->cap_t = 0;
}

static void mb_free(struct mb_model *m)
{
	if (!m)
		return;
	for (int i = 0; m->layers && i < m->cfg.n_layers; i++)
		layer_free(&m->layers[i]);
	free(m->layers);
	free(m->tok_emb);
	free(m->emb_norm_w);
	free(m->emb_norm_b);
	free(m->final_norm_w);
	free(m->final_norm_b);
	rope_table_free(&m->rope_global);
	rope_table_free(&m->rope_local);
	scratch_free(m);
	sy_pool_free(m->pool);
	free(m);
}

static size_t shared_cols(const struct mb_config *c)
{
	const size_t a = 4 * (size_t)c->hidden, b = 2 * (size_t)c->intermediate;
	return a > b ? a : b;
}

static enum sy_status scratch_reserve(struct mb_model *m, int rows, int n_seqs, int max_t,
                                      struct sy_error *err)
{
	if (rows <= m->cap_rows && n_seqs <= m->cap_seqs && max_t <= m->cap_t)
		return SY_OK;
	const size_t H = (size_t)m->cfg.hidden;
	int cr = rows > m->cap_rows ? rows : m->cap_rows;
	int cs = n_seqs > m->cap_seqs ? n_seqs : m->cap_seqs;
	int ct = max_t > m->cap_t ? max_t : m->cap_t;
	scratch_free(m);
	size_t r = cr ? (size_t)cr : 1;
	m->attn_stride = attention_scratch_floats(ct ? ct : 1);
	m->x = malloc(r * H * sizeof(float));
	m->tmp = malloc(r * H * sizeof(float));
	m->shared = malloc(r * shared_cols(&m->cfg) * sizeof(float));
	m->qkv = m->ffn = m->shared;
	m->ctx = m->shared ? m->shared + r * 3 * H : NULL;
	m->pos = malloc(r * sizeof(int));
	m->seq_start = malloc(((size_t)cs + 1) * sizeof(int));
	m->attn_scratch = malloc((size_t)sy_pool_size(m->pool) * m->attn_stride * sizeof(float));
	if (!m->x || !m->tmp || !m->shared || !m->pos || !m->seq_start || !m->attn_scratch) {
		scratch_free(m);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a batch of %d tokens",
		                    rows);
	}
	m->cap_rows = cr;
	m->cap_seqs = cs;
	m->cap_t = ct;
	return SY_OK;
}

/* ---- forward ---- */

struct fwd_ctx {
	struct mb_model *m;
	const struct encoder_input *in;
	int rows;
	bool split_units;
	double attn_cost;
	const struct model_stop *stop;
	bool stopped;
};

/* dst[r] = LayerNorm(src[r]) for this part's rows. */
static void norm_rows(const struct mb_model *m, float *dst, const float *src, const float *w,
                      const float *b, int rows, int ith, int nth)
{
	const int H = m->cfg.hidden;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++)
		layer_norm_f32(dst + (size_t)r * H, src + (size_t)r * H, w, b, H, m->cfg.eps);
}

static void attention_step(struct fwd_ctx *c, int window, int ith, int nth)
{
	struct mb_model *m = c->m;
	const int H = m->cfg.hidden, nh = m->cfg.n_heads, hd = H / nh;
	const float scale = 1.0f / sqrtf((float)hd);
	float *scratch = m->attn_scratch + (size_t)ith * m->attn_stride;
	const struct encoder_input *in = c->in;
	if (!c->split_units) {
		for (int s = 0; s < in->n_seqs; s++) {
			int len = in->lens[s];
			if (len == 0)
				continue;
			const float *q = m->qkv + (size_t)m->seq_start[s] * 3 * H;
			m->attention(q, q + H, q + 2 * H, 3 * H,
			             m->ctx + (size_t)m->seq_start[s] * H, H, len,
			             in->n_valid ? in->n_valid[s] : len, window, NULL, 0, nh, hd,
			             scale, scratch, ith, nth);
		}
		return;
	}
	double acc = 0;
	for (int s = 0; s < in->n_seqs; s++) {
		int len = in->lens[s];
		double cost = (double)len * len + len;
		for (int h = 0; h < nh; h++, acc += cost) {
			if (len == 0)
				continue;
			int owner = (int)((acc + cost / 2) * nth / c->attn_cost);
			if (owner >= nth)
				owner = nth - 1;
			if (owner != ith)
				continue;
			const float *q = m->qkv + (size_t)m->seq_start[s] * 3 * H + (size_t)h * hd;
			m->attention(q, q + H, q + 2 * H, 3 * H,
			             m->ctx + (size_t)m->seq_start[s] * H + (size_t)h * hd, H, len,
			             in->n_valid ? in->n_valid[s] : len, window, NULL, 0, 1, hd,
			             scale, scratch, 0, 1);
		}
	}
}

static void forward_part(void *p, int ith, int nth)
{
	struct fwd_ctx *c = p;
	struct mb_model *m = c->m;
	const struct mb_config *cfg = &m->cfg;
	const int H = cfg->hidden, I = cfg->intermediate, rows = c->rows, nh = cfg->n_heads;
	const struct encoder_input *in = c->in;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);

	for (int r = lo; r < hi; r++) {
		float *x = m->x + (size_t)r * H;
		layer_norm_f32(x, m->tok_emb + (size_t)in->ids[r] * H, m->emb_norm_w, m->emb_norm_b,
		               H, cfg->eps);
	}
	sy_pool_barrier(m->pool);

	for (int l = 0; l < cfg->n_layers; l++) {
		const struct mb_layer *L = &m->layers[l];
		const bool global = l % cfg->global_every == 0;
		const float *a = m->x;
		if (L->attn_norm_w) {
			norm_rows(m, m->tmp, m->x, L->attn_norm_w, L->attn_norm_b, rows, ith, nth);
			sy_pool_barrier(m->pool);
			a = m->tmp;
		}
		linear_run(a, H, &L->wqkv, L->wqkv_b, GEMM_EPILOGUE_NONE, m->qkv, 3 * H, rows, ith,
		           nth);
		sy_pool_barrier(m->pool);
		/* Rotary on q and k: the 2 nh heads at the start of each qkv row. */
		rope_apply(global ? &m->rope_global : &m->rope_local, m->qkv + (size_t)lo * 3 * H,
		           3 * H, hi - lo, m->pos + lo, 2 * nh, H / nh);
		sy_pool_barrier(m->pool);
		attention_step(c, global ? -1 : cfg->window, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->ctx, H, &L->wo, L->wo_b, GEMM_EPILOGUE_NONE, m->tmp, H, rows, ith,
		           nth);
		sy_pool_barrier(m->pool);
		for (int r = lo; r < hi; r++) {
			float *x = m->x + (size_t)r * H, *t = m->tmp + (size_t)r * H;
			add_f32(x, t, H);
			layer_norm_f32(t, x, L->mlp_norm_w, L->mlp_norm_b, H, cfg->eps);
		}
		sy_pool_barrier(m->pool);
		linear_run(m->tmp, H, &L->wi, L->wi_b, GEMM_EPILOGUE_NONE, m->ffn, 2 * I, rows, ith,
		           nth);
		sy_pool_barrier(m->pool);
		/* GeGLU in place: ffn[r][0, I) = act(u) * g. */
		for (int r = lo; r < hi; r++) {
			float *u = m->ffn + (size_t)r * 2 * I;
			const float *g = u + I;
			if (cfg->act == MB_GELU_ERF)
				gelu_erf_f32(u, I);
			else
				gelu_tanh_f32(u, I);
			for (int j = 0; j < I; j++)
				u[j] *= g[j];
		}
		sy_pool_barrier(m->pool);
		linear_run(m->ffn, 2 * I, &L->wo2, L->wo2_b, GEMM_EPILOGUE_NONE, m->tmp, H, rows,
		           ith, nth);
		sy_pool_barrier(m->pool);
		for (int r = lo; r < hi; r++)
			add_f32(m->x + (size_t)r * H, m->tmp + (size_t)r * H, H);
		if (ith == 0 && l + 1 < cfg->n_layers)
			c->stopped = model_stop_requested(c->stop);
		sy_pool_barrier(m->pool);
		if (c->stopped)
			return;
	}
	for (int r = lo; r < hi; r++) {
		float *x = m->x + (size_t)r * H;
		layer_norm_f32(x, x, m->final_norm_w, m->final_norm_b, H, cfg->eps);
	}
}

static enum sy_status mb_forward(void *impl, const struct encoder_input *in, struct sy_error *err,
                                 const float **out)
{
	struct mb_model *m = impl;
	const struct mb_config *cfg = &m->cfg;
	*out = NULL;
	if (in->n_seqs < 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "modernbert: negative batch size");
	long long rows = 0;
	int max_t = 0;
	for (int s = 0; s < in->n_seqs; s++) {
		int len = in->lens[s];
		if (len < 0 || len > cfg->max_positions)
			return sy_error_set(
			    err, SY_ERR_INVALID_ARG,
			    "modernbert: sequence %d has %d tokens; the model takes 0..%d", s, len,
			    cfg->max_positions);
		rows += len;
		max_t = len > max_t ? len : max_t;
	}
	if (rows > (1 << 24))
		return sy_error_set(err, SY_ERR_LIMIT,
		                    "modernbert: batch of %lld tokens is too large", rows);
	for (long long r = 0; r < rows; r++)
		if (in->ids[r] < 0 || in->ids[r] >= cfg->vocab_size)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "modernbert: token id %d outside the vocabulary (%d)",
			                    (int)in->ids[r], cfg->vocab_size);
	enum sy_status s = scratch_reserve(m, (int)rows, in->n_seqs, max_t, err);
	if (s != SY_OK)
		return s;
	struct fwd_ctx c = {.m = m, .in = in, .rows = (int)rows, .stop = model_stop_current()};
	int r = 0;
	for (int q = 0; q < in->n_seqs; q++) {
		m->seq_start[q] = r;
		for (int i = 0; i < in->lens[q]; i++)
			m->pos[r++] = i;
		c.attn_cost += ((double)in->lens[q] * in->lens[q] + in->lens[q]) * cfg->n_heads;
	}
	m->seq_start[in->n_seqs] = r;
	/* A short batch that finds the workers asleep runs on this thread alone (encoder.h). */
	const int solo = rows <= ENCODER_SOLO_MAX_ROWS && sy_pool_asleep(m->pool);
	const int nth = solo ? 1 : sy_pool_size(m->pool);
	c.split_units = nth > 1 && in->n_seqs * cfg->n_heads >= 4 * nth;
	if (rows > 0 && solo)
		sy_pool_run_solo(m->pool, forward_part, &c);
	else if (rows > 0)
		sy_pool_run(m->pool, forward_part, &c);
	if (c.stopped)
		return model_stopped_error(err);
	*out = m->x;
	return SY_OK;
}

static enum sy_status mb_reserve(void *impl, int rows, int n_seqs, int max_t, struct sy_error *err)
{
	struct mb_model *m = impl;
	if (rows < 0 || n_seqs < 0 || max_t < 0 || rows > (1 << 24) || n_seqs > (1 << 24))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "modernbert: cannot reserve %d tokens in %d sequences", rows,
		                    n_seqs);
	if (max_t > m->cfg.max_positions)
		max_t = m->cfg.max_positions;
	return scratch_reserve(m, rows, n_seqs, max_t, err);
}

static size_t mb_weight_bytes(const void *impl)
{
	return ((const struct mb_model *)impl)->weight_bytes;
}

static size_t mb_scratch_bytes(const void *impl)
{
	const struct mb_model *m = impl;
	if (!m->x)
		return 0;
	const size_t r = m->cap_rows ? (size_t)m->cap_rows : 1, H = (size_t)m->cfg.hidden;
	return r * (2 * H + shared_cols(&m->cfg)) * sizeof(float) + r * sizeof(int) +
	       ((size_t)m->cap_seqs + 1) * sizeof(int) +
	       (size_t)sy_pool_size(m->pool) * m->attn_stride * sizeof(float);
}

static void mb_free_impl(void *impl)
{
	mb_free(impl);
}

static const struct encoder_ops modernbert_ops = {
    .forward = mb_forward,
    .reserve = mb_reserve,
    .weight_bytes = mb_weight_bytes,
    .scratch_bytes = mb_scratch_bytes,
    .free = mb_free_impl,
};

bool modernbert_encoder_detect(const struct model_desc *d)
{
	return !strcmp(d->model_type, "modernbert");
}

enum sy_status modernbert_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                       int n_threads, enum linear_precision prec,
                                       struct sy_error *err, struct encoder *out)
{
	struct mb_config cfg;
	enum sy_status s = mb_config_parse(d->config, err, &cfg);
	if (s != SY_OK) {
		sy_error_prefix(err, "%s", d->config_name);
		return s;
	}
	const char *prefix = NULL;
	static const char *const prefixes[] = {"", "model."};
	for (int i = 0; i < 2 && !prefix; i++) {
		char name[64];
		snprintf(name, sizeof name, "%sembeddings.tok_embeddings.weight", prefixes[i]);
		if (safetensors_find(st, name))
			prefix = prefixes[i];
	}
	if (!prefix)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: no embeddings.tok_embeddings.weight tensor (with or without "
		    "a model. prefix)",
		    st->path);
	struct mb_model *m = calloc(1, sizeof *m);
	if (!m)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	m->cfg = cfg;
	m->attention = attention_ext_for(prec == LINEAR_INT8);
	const int H = cfg.hidden;
	struct weight_loader l = {.st = st, .prefix = prefix, .prec = prec, .err = err};
	s = weight_tensor(&l, &m->tok_emb, 2, (int64_t[]){cfg.vocab_size, H},
	                  "embeddings.tok_embeddings.weight");
	if (s == SY_OK)
		s = weight_norm(&l, &m->emb_norm_w, cfg.norm_bias ? &m->emb_norm_b : NULL, H,
		                "embeddings.norm");
	if (s == SY_OK)
		s = weight_norm(&l, &m->final_norm_w, cfg.norm_bias ? &m->final_norm_b : NULL, H,
		                "final_norm");
	if (s == SY_OK && !(m->layers = calloc((size_t)cfg.n_layers, sizeof *m->layers)))
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; s == SY_OK && i < cfg.n_layers; i++)
		s = load_layer(&l, &cfg, i, &m->layers[i]);
	const int hd = H / cfg.n_heads;
	if (s == SY_OK)
		s = rope_table_init(&m->rope_global, hd, cfg.max_positions, cfg.global_theta, false,
		                    err);
	if (s == SY_OK)
		s = rope_table_init(&m->rope_local, hd, cfg.max_positions, cfg.local_theta, false,
		                    err);
	if (s == SY_OK && !(m->pool = sy_pool_create(n_threads)))
		s = sy_error_set(err, SY_ERR_NOMEM, "cannot create the thread pool");
	if (s != SY_OK) {
		mb_free(m);
		return s;
	}
	m->weight_bytes = l.bytes;
	*out = (struct encoder){.ops = &modernbert_ops,
	                        .impl = m,
	                        .arch = "modernbert",
	                        .hidden = H,
	                        .vocab_size = cfg.vocab_size,
	                        .max_tokens = cfg.max_positions,
	                        .uses_type_ids = false};
	return SY_OK;
}
