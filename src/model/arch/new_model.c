/* NewModel (model_type "new"): the encoder of Alibaba-NLP's GTE v1.5 models and of
 * stella_en_400M_v5, as its published remote code (Alibaba-NLP/new-impl, modeling.py)
 * computes it:
 *
 *   x = LayerNorm(word_emb[id] + type_emb[type] (+ pos_emb[p] when absolute))
 *   per layer (post-norm):
 *     q, k, v = split(x W_qkv^T + b_qkv)        (or q_proj/k_proj/v_proj when pack_qkv false)
 *     q, k    = rotary(q, k, position)          (position_embedding_type "rope")
 *     x = attn_ln(x + o_proj(softmax(q k^T / sqrt(d)) v))
 *     up, gate = split(x W_up_gate^T)           (no bias; up first)
 *     x = mlp_ln(x + down_proj(act(gate) * up))
 *
 * The rotary frequencies follow rope_theta and rope_scaling: with {"type": "ntk", "factor": f}
 * (GTE v1.5 and stella use f = 2), the base becomes theta * f and the frequencies are divided by
 * f^(2/d); with "mixed_b" each frequency i is divided by exp(a * i^b), a = ln f / (d/2)^b. The
 * remote code applies these to every position once f > 1, which is what is computed here.
 *
 * unpad_inputs and use_memory_efficient_attention change how the reference batches, not what it
 * computes (sequences are packed here anyway). What this file does not implement is refused at
 * load naming the key: logn_attention_scale, layer_norm_type other than layer_norm, another
 * rope_scaling type, an activation other than GELU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"
#include "base/threads.h"
#include "model/arch/encoder.h"
#include "model/arch/weight_loader.h"
#include "model/model.h"
#include "tensor/attention.h"
#include "tensor/gemm.h"
#include "tensor/linear.h"
#include "tensor/ops.h"
#include "tensor/rope.h"

struct new_config {
	int vocab, hidden, layers, heads, intermediate, max_positions, type_vocab;
	float eps;
	bool rope; /* else absolute position embeddings */
	double rope_theta, ntk_factor, ntk_mixed_b; /* factor 1: no scaling; mixed_b 0: none */
	bool pack_qkv;
	enum gemm_epilogue act; /* on the gate */
};

struct new_layer {
	struct linear qkv, o, up_gate, down;
	float *qkv_b, *o_b, *down_b;
	float *attn_g, *attn_b, *mlp_g, *mlp_b;
};

struct new_model {
	struct new_config cfg;
	float *word, *type, *pos, *emb_g, *emb_b;
	struct new_layer *layers;
	struct rope_table rope;
	size_t weight_bytes;
	struct sy_pool *pool;
	/* scratch, grown to the largest batch */
	int cap_rows, cap_seqs, cap_t;
	float *x, *qkv, *ctx, *tmp, *ug, *attn_scratch;
	int *pos_ids, *seq_start;
	size_t attn_stride;
};

/* ---- config ---- */

static enum sy_status parse_config(const struct model_desc *d, struct sy_error *err,
                                   struct new_config *c)
{
	const cJSON *o = d->config;
	const char *p = d->config_name;
	long v[7];
	static const char *const keys[] = {"vocab_size",        "hidden_size",
	                                   "num_hidden_layers", "num_attention_heads",
	                                   "intermediate_size", "max_position_embeddings",
	                                   "type_vocab_size"};
	static const long defs[] = {30528, 768, 12, 12, 3072, 512, 0};
	for (int i = 0; i < 7; i++) {
		enum sy_status s =
		    json_read_int(o, keys[i], p, i == 6 ? 0 : 1, 1L << 24, defs[i], err, &v[i]);
		if (s != SY_OK)
			return s;
	}
	*c = (struct new_config){.vocab = (int)v[0],
	                         .hidden = (int)v[1],
	                         .layers = (int)v[2],
	                         .heads = (int)v[3],
	                         .intermediate = (int)v[4],
	                         .max_positions = (int)v[5],
	                         .type_vocab = (int)v[6],
	                         .ntk_factor = 1.0};
	if (c->hidden % c->heads || (c->hidden / c->heads) % 2 || c->layers > 1000)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: hidden_size %d, num_attention_heads %d or num_hidden_layers "
		    "%d out of range",
		    p, c->hidden, c->heads, c->layers);
	double eps;
	enum sy_status s = json_read_number(o, "layer_norm_eps", p, 0, 1, 1e-12, err, &eps);
	c->eps = (float)eps;
	bool flag;
	if (s == SY_OK)
		s = json_read_bool(o, "pack_qkv", p, true, err, &c->pack_qkv);
	if (s == SY_OK)
		s = json_read_bool(o, "logn_attention_scale", p, false, err, &flag);
	if (s == SY_OK && flag)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: logn_attention_scale true is not supported", p);
	const char *str;
	if (s == SY_OK)
		s = json_read_string(o, "layer_norm_type", p, "layer_norm", err, &str);
	if (s == SY_OK && strcmp(str, "layer_norm"))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: layer_norm_type \"%.40s\" is not supported (layer_norm)",
		                    p, str);
	if (s == SY_OK)
		s = json_read_string(o, "hidden_act", p, "gelu", err, &str);
	if (s == SY_OK) {
		if (!strcmp(str, "gelu"))
			c->act = GEMM_EPILOGUE_GELU_ERF;
		else if (!strcmp(str, "gelu_new") || !strcmp(str, "gelu_pytorch_tanh"))
			c->act = GEMM_EPILOGUE_GELU_TANH;
		else
			return sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "%s: hidden_act \"%.40s\" is not supported (gelu, gelu_new, "
			    "gelu_pytorch_tanh)",
			    p, str);
	}
	if (s == SY_OK)
		s = json_read_string(o, "position_embedding_type", p, "rope", err, &str);
	if (s != SY_OK)
		return s;
	if (!strcmp(str, "rope"))
		c->rope = true;
	else if (strcmp(str, "absolute"))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: position_embedding_type \"%.40s\" is not supported (rope, "
		                    "absolute)",
		                    p, str);
	s = json_read_number(o, "rope_theta", p, 1.0000001, 1e12, 10000.0, err, &c->rope_theta);
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
	if (s != SY_OK || !c->rope || !rs || cJSON_IsNull(rs))
		return s;
	if (!cJSON_IsObject(rs))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: rope_scaling: expected an object or null", p);
	s = json_read_string_required(rs, "type", "rope_scaling", err, &str);
	if (s == SY_OK && strcmp(str, "ntk"))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: rope_scaling.type \"%.40s\" is not supported (ntk)", p,
		                    str);
	if (s == SY_OK)
		s = json_read_number(rs, "factor", "rope_scaling", 1.0, 1e6, 1.0, err,
		                     &c->ntk_factor);
	const cJSON *mb = cJSON_GetObjectItemCaseSensitive(rs, "mixed_b");
	if (s == SY_OK && mb && !cJSON_IsNull(mb))
		s = json_read_number(rs, "mixed_b", "rope_scaling", 1e-6, 100, 0, err,
		                     &c->ntk_mixed_b);
	if (s != SY_OK)
		sy_error_prefix(err, "%s", p);
	return s;
}

/* The rotary frequencies, NTK-scaled as the remote code does once the factor passes 1. */
static void inv_freqs(const struct new_config *c, float *inv, int dim)
{
	const double f = c->ntk_factor;
	const bool scaled = f > 1.0;
	rope_inv_freq(inv, dim, scaled && c->ntk_mixed_b == 0 ? c->rope_theta * f : c->rope_theta);
	if (!scaled)
		return;
	if (c->ntk_mixed_b == 0) {
		const float div = powf((float)f, 2.0f / (float)dim);
		for (int i = 0; i < dim / 2; i++)
			inv[i] = inv[i] / div;
		return;
	}
	const float a = logf((float)f) / powf((float)dim / 2.0f, (float)c->ntk_mixed_b);
	for (int i = 0; i < dim / 2; i++)
		inv[i] = inv[i] / expf(a * powf((float)(i + 1), (float)c->ntk_mixed_b));
}

/* ---- loading ---- */

static void model_free(struct new_model *m)
{
	if (!m)
		return;
	for (int i = 0; m->layers && i < m->cfg.layers; i++) {
		struct new_layer *L = &m->layers[i];
		linear_free(&L->qkv);
		linear_free(&L->o);
		linear_free(&L->up_gate);
		linear_free(&L->down);
		free(L->qkv_b);
		free(L->o_b);
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

/* q_proj, k_proj and v_proj (pack_qkv false) stacked into one [3H][H] layer like qkv_proj. */
static enum sy_status load_split_qkv(struct weight_loader *l, int li, int H, struct new_layer *L)
{
	float *w[3] = {0}, *b[3] = {0};
	static const char *const names[] = {"q", "k", "v"};
	enum sy_status s = SY_OK;
	for (int i = 0; s == SY_OK && i < 3; i++) {
		s = weight_tensor(l, &w[i], 2, (int64_t[]){H, H},
		                  "encoder.layer.%d.attention.%s_proj.weight", li, names[i]);
		if (s == SY_OK)
			s = weight_tensor(l, &b[i], 1, (int64_t[]){H},
			                  "encoder.layer.%d.attention.%s_proj.bias", li, names[i]);
	}
	float *wq = s == SY_OK ? malloc((size_t)3 * H * H * sizeof *wq) : NULL;
	L->qkv_b = s == SY_OK ? malloc((size_t)3 * H * sizeof *L->qkv_b) : NULL;
	if (s == SY_OK && (!wq || !L->qkv_b))
		s = sy_error_set(l->err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; s == SY_OK && i < 3; i++) {
		memcpy(wq + (size_t)i * H * H, w[i], (size_t)H * H * sizeof *wq);
		memcpy(L->qkv_b + (size_t)i * H, b[i], (size_t)H * sizeof *wq);
	}
	if (s == SY_OK) {
		s = linear_pack(wq, 3 * H, H, l->prec, l->err, &L->qkv);
		if (s == SY_OK)
			l->bytes =
			    l->bytes - (size_t)3 * H * H * sizeof(float) + linear_bytes(&L->qkv);
	}
	for (int i = 0; i < 3; i++) {
		free(w[i]);
		free(b[i]);
	}
	free(wq);
	return s;
}

static enum sy_status load_layer(struct weight_loader *l, const struct new_config *c, int li,
                                 struct new_layer *L)
{
	const int H = c->hidden, I = c->intermediate;
	enum sy_status s = c->pack_qkv ? weight_linear(l, &L->qkv, &L->qkv_b, 3 * H, H,
	                                               "encoder.layer.%d.attention.qkv_proj", li)
	                               : load_split_qkv(l, li, H, L);
	if (s == SY_OK)
		s = weight_linear(l, &L->o, &L->o_b, H, H, "encoder.layer.%d.attention.o_proj", li);
	if (s == SY_OK)
		s = weight_linear(l, &L->up_gate, NULL, 2 * I, H,
		                  "encoder.layer.%d.mlp.up_gate_proj", li);
	if (s == SY_OK)
		s = weight_linear(l, &L->down, &L->down_b, H, I, "encoder.layer.%d.mlp.down_proj",
		                  li);
	if (s == SY_OK)
		s = weight_norm(l, &L->attn_g, &L->attn_b, H, "encoder.layer.%d.attn_ln", li);
	if (s == SY_OK)
		s = weight_norm(l, &L->mlp_g, &L->mlp_b, H, "encoder.layer.%d.mlp_ln", li);
	return s;
}

static enum sy_status load_weights(struct new_model *m, struct weight_loader *l)
{
	const struct new_config *c = &m->cfg;
	const int H = c->hidden;
	enum sy_status s = weight_tensor(l, &m->word, 2, (int64_t[]){c->vocab, H},
	                                 "embeddings.word_embeddings.weight");
	if (s == SY_OK && c->type_vocab > 0)
		s = weight_tensor(l, &m->type, 2, (int64_t[]){c->type_vocab, H},
		                  "embeddings.token_type_embeddings.weight");
	if (s == SY_OK && !c->rope)
		s = weight_tensor(l, &m->pos, 2, (int64_t[]){c->max_positions, H},
		                  "embeddings.position_embeddings.weight");
	if (s == SY_OK)
		s = weight_norm(l, &m->emb_g, &m->emb_b, H, "embeddings.LayerNorm");
	if (s == SY_OK) {
		m->layers = calloc((size_t)c->layers, sizeof *m->layers);
		if (!m->layers)
			s = sy_error_set(l->err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; s == SY_OK && i < c->layers; i++)
		s = load_layer(l, c, i, &m->layers[i]);
	return s;
}

/* ---- forward ---- */

static enum sy_status reserve(void *impl, int rows, int n_seqs, int max_t, struct sy_error *err)
{
	struct new_model *m = impl;
	if (rows < 0 || n_seqs < 0 || max_t < 0 || rows > (1 << 24) || n_seqs > (1 << 24))
		return sy_error_set(err, SY_ERR_INVALID_ARG, "new: cannot reserve %d tokens", rows);
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
	struct new_model *m;
	const struct encoder_input *in;
	int rows;
	const struct model_stop *stop;
	bool stopped;
};

static void residual_norm(struct new_model *m, int rows, const float *g, const float *b, int ith,
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
	struct new_model *m = f->m;
	const int H = m->cfg.hidden, nh = m->cfg.heads, hd = H / nh;
	float *scratch = m->attn_scratch + (size_t)ith * m->attn_stride;
	for (int s = 0; s < f->in->n_seqs; s++) {
		const int len = f->in->lens[s];
		if (len == 0)
			continue;
		const float *q = m->qkv + (size_t)m->seq_start[s] * 3 * H;
		attention_f32(q, q + H, q + 2 * H, 3 * H, m->ctx + (size_t)m->seq_start[s] * H, H,
		              len, f->in->n_valid ? f->in->n_valid[s] : len, nh, hd,
		              1.0f / sqrtf((float)hd), scratch, ith, nth);
	}
}

/* act(gate) * up into up's place (the first I columns of each ug row). */
static void gate_mul(struct new_model *m, int rows, int ith, int nth)
{
	const int I = m->cfg.intermediate;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++) {
		float *up = m->ug + (size_t)r * 2 * I, *gate = up + I;
		if (m->cfg.act == GEMM_EPILOGUE_GELU_ERF)
			gelu_erf_f32(gate, I);
		else
			gelu_tanh_f32(gate, I);
		for (int j = 0; j < I; j++)
			up[j] *= gate[j];
	}
}

static void forward_part(void *ctx, int ith, int nth)
{
	struct fwd *f = ctx;
	struct new_model *m = f->m;
	const struct new_config *c = &m->cfg;
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
		const struct new_layer *L = &m->layers[li];
		linear_run(m->x, H, &L->qkv, L->qkv_b, GEMM_EPILOGUE_NONE, m->qkv, 3 * H, rows, ith,
		           nth);
		sy_pool_barrier(m->pool);
		if (c->rope) {
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
		linear_run(m->x, H, &L->up_gate, NULL, GEMM_EPILOGUE_NONE, m->ug, 2 * I, rows, ith,
		           nth);
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
	struct new_model *m = impl;
	const struct new_config *c = &m->cfg;
	*out = NULL;
	long long rows = 0;
	int max_t = 0;
	for (int s = 0; s < in->n_seqs; s++) {
		if (in->lens[s] < 0 || in->lens[s] > c->max_positions)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "new: sequence %d has %d tokens; the model takes 0..%d",
			                    s, in->lens[s], c->max_positions);
		rows += in->lens[s];
		max_t = in->lens[s] > max_t ? in->lens[s] : max_t;
	}
	if (rows > (1 << 24))
		return sy_error_set(err, SY_ERR_LIMIT, "new: batch of %lld tokens is too large",
		                    rows);
	for (long long r = 0; r < rows; r++) {
		if (in->ids[r] < 0 || in->ids[r] >= c->vocab)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "new: token id %d outside the vocabulary (%d)",
			                    (int)in->ids[r], c->vocab);
		if (m->type && in->type_ids &&
		    (in->type_ids[r] < 0 || in->type_ids[r] >= c->type_vocab))
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "new: token type id %d outside 0..%d",
			                    (int)in->type_ids[r], c->type_vocab - 1);
	}
	enum sy_status s = reserve(m, (int)rows, in->n_seqs, max_t, err);
	if (s != SY_OK)
		return s;
	int r = 0;
	for (int q = 0; q < in->n_seqs; q++) {
		m->seq_start[q] = r;
		for (int i = 0; i < in->lens[q]; i++)
			m->pos_ids[r++] = i;
	}
	m->seq_start[in->n_seqs] = r;
	struct fwd f = {.m = m, .in = in, .rows = (int)rows, .stop = model_stop_current()};
	if (rows > 0)
		sy_pool_run(m->pool, forward_part, &f);
	if (f.stopped)
		return model_stopped_error(err);
	*out = m->x;
	return SY_OK;
}

/* ---- the encoder interface ---- */

static size_t weight_bytes(const void *impl)
{
	return ((const struct new_model *)impl)->weight_bytes;
}

static size_t scratch_bytes(const void *impl)
{
	const struct new_model *m = impl;
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

static const struct encoder_ops new_ops = {
    .forward = forward,
    .reserve = reserve,
    .weight_bytes = weight_bytes,
    .scratch_bytes = scratch_bytes,
    .free = encoder_impl_free,
};

bool new_model_encoder_detect(const struct model_desc *d)
{
	return !strcmp(d->model_type, "new");
}

enum sy_status new_model_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                      int n_threads, enum linear_precision prec,
                                      struct sy_error *err, struct encoder *out)
{
	struct new_model *m = calloc(1, sizeof *m);
	if (!m)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = parse_config(d, err, &m->cfg);
	/* NewModel saves its tensors bare; the task models (NewForSequenceClassification, ...)
	 * under "new.". */
	struct weight_loader l = {.st = st, .prefix = "", .prec = prec, .err = err};
	if (s == SY_OK && !weight_exists(&l, "embeddings.word_embeddings.weight"))
		l.prefix = "new.";
	if (s == SY_OK)
		s = load_weights(m, &l);
	const int hd = m->cfg.hidden / (m->cfg.heads ? m->cfg.heads : 1);
	if (s == SY_OK && m->cfg.rope) {
		float *inv = malloc((size_t)hd / 2 * sizeof *inv + 1);
		if (!inv)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		else {
			inv_freqs(&m->cfg, inv, hd);
			s = rope_table_init_freqs(&m->rope, hd, m->cfg.max_positions, inv, false,
			                          err);
			free(inv);
		}
	}
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
	*out = (struct encoder){.ops = &new_ops,
	                        .impl = m,
	                        .arch = "new",
	                        .hidden = m->cfg.hidden,
	                        .vocab_size = m->cfg.vocab,
	                        .max_tokens = m->cfg.max_positions,
	                        .uses_type_ids = m->cfg.type_vocab > 0};
	return SY_OK;
}
