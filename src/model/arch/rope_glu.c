/* The post-norm rotary encoder with a gated MLP that NewModel (GTE v1.5, stella) and NomicBERT
 * (nomic-embed-text) share (see rope_glu.h):
 *
 *   x = LayerNorm(word_emb[id] + type_emb[type] (+ pos_emb[p] when there is no rotary))
 *   per layer:
 *     q, k, v = split(x W_qkv^T + b_qkv)
 *     q, k    = rotary(q, k, position)
 *     x = norm1(x + W_o softmax(q k^T / sqrt(d)) v + b_o)
 *     x = norm2(x + W_down (act(x W_gate^T) * (x W_up^T)) + b_down)
 *
 * Every linear layer is packed once for the GEMM (up and gate stacked as one [2I][H] layer,
 * q, k and v as one [3H][H]); sequences are packed back to back and attention runs per
 * sequence, so no padding is computed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"
#include "base/threads.h"
#include "model/arch/rope_glu.h"
#include "model/arch/weight_loader.h"
#include "model/model.h"
#include "tensor/attention.h"
#include "tensor/gemm.h"
#include "tensor/linear.h"
#include "tensor/ops.h"
#include "tensor/rope.h"

struct rg_layer {
	struct linear qkv, o, up_gate, down;
	float *qkv_b, *o_b, *up_gate_b, *down_b; /* NULL when the layer has none */
	float *attn_g, *attn_b, *mlp_g, *mlp_b;
};

struct rope_glu {
	struct rope_glu_config cfg;
	const char *arch; /* for messages */
	float *word, *type, *pos, *emb_g, *emb_b;
	struct rg_layer *layers;
	struct rope_table rope;
	size_t weight_bytes;
	struct sy_pool *pool;
	/* scratch, grown to the largest batch */
	int cap_rows, cap_seqs, cap_t;
	float *x, *qkv, *ctx, *tmp, *ug, *attn_scratch;
	int *pos_ids, *seq_start;
	size_t attn_stride;
	attention_ext_fn attention; /* bf16 products with int8 layers where the CPU has them */
};

/* ---- loading ---- */

static void model_free(struct rope_glu *m)
{
	if (!m)
		return;
	for (int i = 0; m->layers && i < m->cfg.layers; i++) {
		struct rg_layer *L = &m->layers[i];
		linear_free(&L->qkv);
		linear_free(&L->o);
		linear_free(&L->up_gate);
		linear_free(&L->down);
		free(L->qkv_b);
		free(L->o_b);
		free(L->up_gate_b);
		free(L->down_b);
		free(L->attn_g);
		free(L->attn_b);
		free(L->mlp_g);
		free(L->mlp_b);
	}
	free(m->layers);
	free(m->word);
	free(m->type);
	free(m->pos);
	free(m->emb_g);
	free(m->emb_b);
	rope_table_free(&m->rope);
	sy_pool_free(m->pool);
	free(m->x);
	free(m->qkv);
	free(m->ctx);
	free(m->tmp);
	free(m->ug);
	free(m->attn_scratch);
	free(m->pos_ids);
	free(m->seq_start);
	free(m);
}

static enum sy_status load_layer(struct weight_loader *l, const struct rope_glu_config *c,
                                 const struct rope_glu_names *nm, int li, struct rg_layer *L)
{
	const int H = c->hidden, I = c->intermediate;
	/* q, k and v (up and gate) come as one tensor or as parts stacked at load */
	const char *const qkv[] = {nm->q, nm->k, nm->v}, *const ug[] = {nm->up, nm->gate};
	enum sy_status s = nm->qkv ? weight_stacked(l, &L->qkv, nm->qkv_bias ? &L->qkv_b : NULL,
	                                            &nm->qkv, (int[]){3 * H}, 1, H, li)
	                           : weight_stacked(l, &L->qkv, nm->qkv_bias ? &L->qkv_b : NULL,
	                                            qkv, (int[]){H, H, H}, 3, H, li);
	if (s == SY_OK)
		s = weight_stacked(l, &L->o, nm->o_bias ? &L->o_b : NULL, &nm->o, (int[]){H}, 1, H,
		                   li);
	if (s == SY_OK)
		s = nm->up_gate
		        ? weight_stacked(l, &L->up_gate, nm->up_gate_bias ? &L->up_gate_b : NULL,
		                         &nm->up_gate, (int[]){2 * I}, 1, H, li)
		        : weight_stacked(l, &L->up_gate, nm->up_gate_bias ? &L->up_gate_b : NULL,
		                         ug, (int[]){I, I}, 2, H, li);
	if (s == SY_OK)
		s = weight_stacked(l, &L->down, nm->down_bias ? &L->down_b : NULL, &nm->down,
		                   (int[]){H}, 1, I, li);
	if (s == SY_OK)
		s = weight_stacked_norm(l, &L->attn_g, &L->attn_b, nm->norm1, H, li);
	if (s == SY_OK)
		s = weight_stacked_norm(l, &L->mlp_g, &L->mlp_b, nm->norm2, H, li);
	return s;
}

static enum sy_status load_weights(struct rope_glu *m, const struct rope_glu_names *nm,
                                   struct weight_loader *l)
{
	const struct rope_glu_config *c = &m->cfg;
	const int H = c->hidden;
	enum sy_status s = weight_tensor(l, &m->word, 2, (int64_t[]){c->vocab, H}, "%s", nm->word);
	if (s == SY_OK && c->type_vocab > 0)
		s = weight_tensor(l, &m->type, 2, (int64_t[]){c->type_vocab, H}, "%s", nm->type);
	if (s == SY_OK && !c->rot_dim)
		s = weight_tensor(l, &m->pos, 2, (int64_t[]){c->max_positions, H}, "%s", nm->pos);
	if (s == SY_OK)
		s = weight_norm(l, &m->emb_g, &m->emb_b, H, "%s", nm->emb_norm);
	if (s == SY_OK) {
		m->layers = calloc((size_t)c->layers, sizeof *m->layers);
		if (!m->layers)
			s = sy_error_set(l->err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; s == SY_OK && i < c->layers; i++)
		s = load_layer(l, c, nm, i, &m->layers[i]);
	return s;
}

/* ---- forward ---- */

static enum sy_status reserve(void *impl, int rows, int n_seqs, int max_t, struct sy_error *err)
{
	struct rope_glu *m = impl;
	if (rows < 0 || n_seqs < 0 || max_t < 0 || rows > (1 << 24) || n_seqs > (1 << 24))
		return sy_error_set(err, SY_ERR_INVALID_ARG, "%s: cannot reserve %d tokens",
		                    m->arch, rows);
	if (max_t > m->cfg.max_positions)
		max_t = m->cfg.max_positions;
	if (rows <= m->cap_rows && n_seqs <= m->cap_seqs && max_t <= m->cap_t)
		return SY_OK;
	const int cr = rows > m->cap_rows ? rows : m->cap_rows;
	const int cs = n_seqs > m->cap_seqs ? n_seqs : m->cap_seqs;
	const int ct = max_t > m->cap_t ? max_t : m->cap_t;
	const size_t r = cr ? (size_t)cr : 1, H = (size_t)m->cfg.hidden,
	             I = (size_t)m->cfg.intermediate;
	m->attn_stride = attention_scratch_floats(ct ? ct : 1);
	const size_t nth = (size_t)sy_pool_size(m->pool);
	float **bufs[] = {&m->x, &m->qkv, &m->ctx, &m->tmp, &m->ug, &m->attn_scratch};
	const size_t sizes[] = {r * H, r * 3 * H, r * H, r * H, r * 2 * I, nth * m->attn_stride};
	bool ok = true;
	for (int i = 0; i < 6; i++) {
		free(*bufs[i]);
		*bufs[i] = malloc(sizes[i] * sizeof(float));
		ok = ok && *bufs[i];
	}
	free(m->pos_ids);
	free(m->seq_start);
	m->pos_ids = malloc(r * sizeof *m->pos_ids);
	m->seq_start = malloc(((size_t)cs + 1) * sizeof *m->seq_start);
	if (!ok || !m->pos_ids || !m->seq_start) {
		m->cap_rows = m->cap_seqs = m->cap_t = 0;
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a batch of %d tokens",
		                    rows);
	}
	m->cap_rows = cr;
	m->cap_seqs = cs;
	m->cap_t = ct;
	return SY_OK;
}

struct fwd {
	struct rope_glu *m;
	const struct encoder_input *in;
	int rows;
	const struct model_stop *stop;
	bool stopped;
};

static void residual_norm(struct rope_glu *m, int rows, const float *g, const float *b, int ith,
                          int nth)
{
	const int H = m->cfg.hidden;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++) {
		float *t = m->tmp + (size_t)r * H, *x = m->x + (size_t)r * H;
		add_f32(t, x, H);
		layer_norm_f32(x, t, g, b, H, m->cfg.eps);
	}
}

/* Every part takes part in every sequence's attention (heads x query rows inside). */
static void attention_all(struct fwd *f, int ith, int nth)
{
	struct rope_glu *m = f->m;
	const int H = m->cfg.hidden, nh = m->cfg.heads, hd = H / nh;
	float *scratch = m->attn_scratch + (size_t)ith * m->attn_stride;
	for (int s = 0; s < f->in->n_seqs; s++) {
		const int len = f->in->lens[s];
		if (len == 0)
			continue;
		const float *q = m->qkv + (size_t)m->seq_start[s] * 3 * H;
		m->attention(q, q + H, q + 2 * H, 3 * H, m->ctx + (size_t)m->seq_start[s] * H, H,
		             len, f->in->n_valid ? f->in->n_valid[s] : len, -1, NULL, 0, nh, hd,
		             1.0f / sqrtf((float)hd), scratch, ith, nth);
	}
}

/* act(gate) * up into up's place (the first I columns of each ug row). */
static void gate_mul(struct rope_glu *m, int rows, int ith, int nth)
{
	const int I = m->cfg.intermediate;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++) {
		float *up = m->ug + (size_t)r * 2 * I, *gate = up + I;
		switch (m->cfg.act) {
		case ROPE_GLU_GELU_ERF: gelu_erf_f32(gate, I); break;
		case ROPE_GLU_GELU_TANH: gelu_tanh_f32(gate, I); break;
		case ROPE_GLU_SILU: silu_f32(gate, I); break;
		}
		for (int j = 0; j < I; j++)
			up[j] *= gate[j];
	}
}

static void forward_part(void *ctx, int ith, int nth)
{
	struct fwd *f = ctx;
	struct rope_glu *m = f->m;
	const struct rope_glu_config *c = &m->cfg;
	const int H = c->hidden, I = c->intermediate, rows = f->rows, hd = H / c->heads;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++) {
		float *x = m->x + (size_t)r * H;
		memcpy(x, m->word + (size_t)f->in->ids[r] * H, (size_t)H * sizeof *x);
		if (m->type)
			add_f32(x, m->type + (size_t)(f->in->type_ids ? f->in->type_ids[r] : 0) * H,
			        H);
		if (m->pos)
			add_f32(x, m->pos + (size_t)m->pos_ids[r] * H, H);
		layer_norm_f32(x, x, m->emb_g, m->emb_b, H, c->eps);
	}
	sy_pool_barrier(m->pool);
	for (int li = 0; li < c->layers; li++) {
		const struct rg_layer *L = &m->layers[li];
		linear_run(m->x, H, &L->qkv, L->qkv_b, GEMM_EPILOGUE_NONE, m->qkv, 3 * H, rows, ith,
		           nth);
		sy_pool_barrier(m->pool);
		if (c->rot_dim) {
			/* q and k are the first 2H columns: 2 * heads heads of hd each */
			rope_apply(&m->rope, m->qkv + (size_t)lo * 3 * H, 3 * H, hi - lo,
			           m->pos_ids + lo, 2 * c->heads, hd);
			sy_pool_barrier(m->pool);
		}
		attention_all(f, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->ctx, H, &L->o, L->o_b, GEMM_EPILOGUE_NONE, m->tmp, H, rows, ith, nth);
		sy_pool_barrier(m->pool);
		residual_norm(m, rows, L->attn_g, L->attn_b, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->x, H, &L->up_gate, L->up_gate_b, GEMM_EPILOGUE_NONE, m->ug, 2 * I,
		           rows, ith, nth);
		sy_pool_barrier(m->pool);
		gate_mul(m, rows, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->ug, 2 * I, &L->down, L->down_b, GEMM_EPILOGUE_NONE, m->tmp, H, rows,
		           ith, nth);
		sy_pool_barrier(m->pool);
		residual_norm(m, rows, L->mlp_g, L->mlp_b, ith, nth);
		if (ith == 0 && li + 1 < c->layers)
			f->stopped = model_stop_requested(f->stop);
		sy_pool_barrier(m->pool);
		if (f->stopped)
			return;
	}
}

static enum sy_status forward(void *impl, const struct encoder_input *in, struct sy_error *err,
                              const float **out)
{
	struct rope_glu *m = impl;
	const struct rope_glu_config *c = &m->cfg;
	*out = NULL;
	int rows, max_t;
	enum sy_status s = encoder_input_check(in, m->arch, c->max_positions, c->vocab,
	                                       m->type ? c->type_vocab : 0, err, &rows, &max_t);
	if (s == SY_OK)
		s = reserve(m, rows, in->n_seqs, max_t, err);
	if (s != SY_OK)
		return s;
	encoder_input_positions(in, m->seq_start, m->pos_ids);
	struct fwd f = {.m = m, .in = in, .rows = rows, .stop = model_stop_current()};
	/* A short batch that finds the workers asleep runs on this thread alone (encoder.h). */
	if (rows > 0 && rows <= ENCODER_SOLO_MAX_ROWS && sy_pool_asleep(m->pool))
		sy_pool_run_solo(m->pool, forward_part, &f);
	else if (rows > 0)
		sy_pool_run(m->pool, forward_part, &f);
	if (f.stopped)
		return model_stopped_error(err);
	*out = m->x;
	return SY_OK;
}

/* ---- the encoder interface ---- */

static size_t weight_bytes(const void *impl)
{
	return ((const struct rope_glu *)impl)->weight_bytes;
}

static size_t scratch_bytes(const void *impl)
{
	const struct rope_glu *m = impl;
	const size_t r = (size_t)m->cap_rows, H = (size_t)m->cfg.hidden,
	             I = (size_t)m->cfg.intermediate;
	return r * (6 * H + 2 * I) * sizeof(float) + r * sizeof(int) +
	       (size_t)sy_pool_size(m->pool) * m->attn_stride * sizeof(float) +
	       (size_t)m->rope.n_pos * (size_t)m->rope.rot_dim * sizeof(float);
}

static void encoder_impl_free(void *impl)
{
	model_free(impl);
}

static const struct encoder_ops rope_glu_ops = {
    .forward = forward,
    .reserve = reserve,
    .weight_bytes = weight_bytes,
    .scratch_bytes = scratch_bytes,
    .free = encoder_impl_free,
};

enum sy_status rope_glu_open(const struct rope_glu_config *cfg, const struct rope_glu_names *names,
                             const struct safetensors *st, const char *prefix, const char *arch,
                             int n_threads, enum linear_precision prec, struct sy_error *err,
                             struct encoder *out)
{
	struct rope_glu *m = calloc(1, sizeof *m);
	if (!m)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	m->cfg = *cfg;
	m->arch = arch;
	m->cfg.inv_freq = NULL; /* the caller's; the table below keeps what is needed */
	m->attention = attention_ext_for(prec == LINEAR_INT8);
	const int hd = cfg->hidden / cfg->heads;
	struct weight_loader l = {.st = st, .prefix = prefix, .prec = prec, .err = err};
	enum sy_status s = SY_OK;
	if (cfg->rot_dim < 0 || cfg->rot_dim > hd || cfg->rot_dim % 2)
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: %d rotary dimensions of a %d-wide head",
		                 arch, cfg->rot_dim, hd);
	if (s == SY_OK)
		s = load_weights(m, names, &l);
	if (s == SY_OK && cfg->rot_dim)
		s = rope_table_init_freqs(&m->rope, cfg->rot_dim, cfg->max_positions, cfg->inv_freq,
		                          cfg->interleaved, err);
	if (s == SY_OK) {
		m->pool = sy_pool_create(n_threads);
		if (!m->pool)
			s = sy_error_set(err, SY_ERR_NOMEM, "cannot create the thread pool");
	}
	if (s != SY_OK) {
		model_free(m);
		return s;
	}
	m->weight_bytes = l.bytes;
	*out = (struct encoder){.ops = &rope_glu_ops,
	                        .impl = m,
	                        .arch = arch,
	                        .hidden = cfg->hidden,
	                        .vocab_size = cfg->vocab,
	                        .max_tokens = cfg->max_positions,
	                        .uses_type_ids = cfg->type_vocab > 0};
	return SY_OK;
}
