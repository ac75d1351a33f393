/* Decoder-only transformers used as encoders (model_type "qwen3": Qwen3-Embedding and
 * Qwen3-Reranker; "qwen2"; "gemma3_text": EmbeddingGemma, see struct dec_config), as
 * transformers' modeling_qwen3.py, modeling_qwen2.py and modeling_gemma3.py compute them:
 *
 *   x = embed_tokens[id]
 *   per layer (pre-norm):
 *     h = RMSNorm(x)                                  input_layernorm
 *     q, k, v = h W_q^T, h W_k^T, h W_v^T             (+ biases: Qwen2 always on q/k/v,
 *                                                      Qwen3 when attention_bias)
 *     q, k = RMSNorm per head (Qwen3's q_norm, k_norm), then rotary (rope_theta)
 *     x += W_o causal_softmax(q k^T / sqrt(head_dim)) v   grouped-query: num_key_value_heads
 *     h = RMSNorm(x)                                  post_attention_layernorm
 *     x += W_down (silu(h W_gate^T) * (h W_up^T))
 *   out = RMSNorm(x)                                  model.norm
 *
 * The output is the final normed hidden state of every token; the dense head pools it (the
 * last token, for Qwen3-Embedding). Causal attention runs on the shared attention kernel with a
 * distance bias that is 0 for keys at or before the query and -1e30 after it (exactly 0 after
 * the exponential), which computes the scores of future keys only to drop them: a true causal
 * kernel would halve the attention work. Grouped-query attention copies each key/value head
 * to the query heads that share it.
 *
 * Refused at load, naming the key: rope_scaling (any), use_sliding_window true, a hidden_act
 * other than silu. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"
#include "base/threads.h"
#include "model/arch/encoder.h"
#include "model/arch/weight_loader.h"
#include "model/model.h"
#include "tensor/attention.h"
#include "tensor/linear.h"
#include "tensor/ops.h"
#include "tensor/rms_norm.h"
#include "tensor/rope.h"

struct dec_config {
	int vocab, hidden, layers, heads, kv_heads, head_dim, intermediate, max_positions;
	float eps;
	double rope_theta;
	bool qk_norm; /* Qwen3, Gemma3 */
	bool qkv_bias, o_bias;
	/* Gemma3 (EmbeddingGemma): bidirectional attention, RMSNorm scaling by (1 + w), embeddings
	 * times sqrt(hidden), a norm after attention and around the MLP ("sandwich"), GELU-tanh
	 * gate, scores scaled by query_pre_attn_scalar^-0.5, and sliding-window layers (keys within
	 * sliding_window - 1 either side) with their own rotary base. */
	bool gemma;
	float attn_scale;
	int window; /* |i - j| <= window on sliding layers */
	double rope_local_theta;
	bool *sliding; /* [layers] */
};

struct dec_layer {
	float *in_norm, *post_norm; /* [H]; Gemma3: post_norm follows attention */
	float *pre_ff_norm, *post_ff_norm; /* [H], Gemma3 */
	struct linear qkv; /* [(nh + 2 nkv) hd][H]: q, k, v stacked */
	float *qkv_b; /* or NULL */
	float *q_norm, *k_norm; /* [hd], Qwen3 */
	struct linear o; /* [H][nh hd] */
	float *o_b;
	struct linear up_gate; /* [2I][H]: up, then gate */
	struct linear down; /* [H][I] */
};

struct decoder {
	struct dec_config cfg;
	const char *arch;
	float *embed; /* [vocab][H] */
	float *final_norm; /* [H] */
	struct dec_layer *layers;
	struct rope_table rope, rope_local; /* rope_local: Gemma3's sliding layers */
	size_t weight_bytes;
	struct sy_pool *pool;
	/* scratch, grown to the largest batch */
	int cap_rows, cap_seqs, cap_t;
	float *x, *h, *proj, *qkvx, *ctx, *ug, *attn_scratch;
	float *causal; /* [2 cap_t - 1]: 0 up to distance 0, -1e30 after */
	int *pos_ids, *seq_start;
	size_t attn_stride;
};

/* ---- config ---- */

/* Gemma3's own keys (after the shared ones): the attention scale, the sliding layers and
 * their window and rotary base, bidirectional attention; what this file does not compute
 * (causal Gemma3, logit soft-capping, another activation) is refused naming the key. */
static enum sy_status parse_gemma(const cJSON *o, const char *p, struct sy_error *err,
                                  struct dec_config *c)
{
	c->gemma = true;
	c->qk_norm = true;
	double scalar, window;
	enum sy_status s =
	    json_read_number(o, "query_pre_attn_scalar", p, 1e-6, 1e9, c->head_dim, err, &scalar);
	c->attn_scale = (float)(1.0 / sqrt(scalar));
	if (s == SY_OK)
		s = json_read_number(o, "sliding_window", p, 1, 1 << 24, 4096, err, &window);
	c->window = (int)window - 1; /* distance < sliding_window */
	if (s == SY_OK)
		s = json_read_number(o, "rope_local_base_freq", p, 1.0000001, 1e12, 10000.0, err,
		                     &c->rope_local_theta);
	bool bidir = false;
	if (s == SY_OK)
		s = json_read_bool(o, "use_bidirectional_attention", p, false, err, &bidir);
	if (s == SY_OK && !bidir)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: use_bidirectional_attention false (causal Gemma3) is not "
		                    "supported; EmbeddingGemma sets it",
		                    p);
	const cJSON *cap = cJSON_GetObjectItemCaseSensitive(o, "attn_logit_softcapping");
	if (s == SY_OK && cap && !cJSON_IsNull(cap))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: attn_logit_softcapping is not supported", p);
	const char *act = "";
	if (s == SY_OK)
		s = json_read_string(o, "hidden_activation", p, "gelu_pytorch_tanh", err, &act);
	if (s == SY_OK && strcmp(act, "gelu_pytorch_tanh"))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: hidden_activation \"%.40s\" is not supported "
		                    "(gelu_pytorch_tanh)",
		                    p, act);
	if (s != SY_OK)
		return s;
	c->sliding = calloc((size_t)c->layers, sizeof *c->sliding);
	if (!c->sliding)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const cJSON *types = cJSON_GetObjectItemCaseSensitive(o, "layer_types");
	if (cJSON_IsArray(types)) {
		if (cJSON_GetArraySize(types) != c->layers)
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: layer_types has %d entries for %d layers", p,
			                    cJSON_GetArraySize(types), c->layers);
		for (int i = 0; i < c->layers; i++) {
			const cJSON *t = cJSON_GetArrayItem(types, i);
			const bool sl =
			    cJSON_IsString(t) && !strcmp(t->valuestring, "sliding_attention");
			if (!sl &&
			    !(cJSON_IsString(t) && !strcmp(t->valuestring, "full_attention")))
				return sy_error_set(err, SY_ERR_UNSUPPORTED,
				                    "%s: layer_types[%d]: not sliding_attention or "
				                    "full_attention",
				                    p, i);
			c->sliding[i] = sl;
		}
		return SY_OK;
	}
	long pattern;
	s = json_read_int(o, "sliding_window_pattern", p, 1, 1000, 6, err, &pattern);
	for (int i = 0; s == SY_OK && i < c->layers; i++)
		c->sliding[i] = (i + 1) % pattern != 0;
	return s;
}

static enum sy_status parse_config(const struct model_desc *d, bool qwen3, struct sy_error *err,
                                   struct dec_config *c)
{
	const bool gemma = !strcmp(d->model_type, "gemma3_text");
	const cJSON *o = d->config;
	const char *p = d->config_name;
	memset(c, 0, sizeof *c);
	long v[8];
	static const char *const keys[] = {
	    "vocab_size",          "hidden_size", "num_hidden_layers", "num_attention_heads",
	    "num_key_value_heads", "head_dim",    "intermediate_size", "max_position_embeddings"};
	for (int i = 0; i < 8; i++) {
		/* num_key_value_heads defaults to the heads, head_dim to hidden / heads */
		const long def = i == 4 ? v[3] : i == 5 ? v[1] / (v[3] ? v[3] : 1) : 0;
		const bool needed = def == 0 && i != 4 && i != 5;
		if (needed && !cJSON_GetObjectItemCaseSensitive(o, keys[i]))
			return sy_error_set(err, SY_ERR_FORMAT, "%s: %s: missing", p, keys[i]);
		enum sy_status s = json_read_int(o, keys[i], p, 1, 1L << 24, def, err, &v[i]);
		if (s != SY_OK)
			return s;
	}
	*c = (struct dec_config){.vocab = (int)v[0],
	                         .hidden = (int)v[1],
	                         .layers = (int)v[2],
	                         .heads = (int)v[3],
	                         .kv_heads = (int)v[4],
	                         .head_dim = (int)v[5],
	                         .intermediate = (int)v[6],
	                         .max_positions = (int)v[7],
	                         .qk_norm = qwen3};
	if (c->heads % c->kv_heads || c->head_dim % 2 || c->layers > 1000 || c->head_dim > 2048)
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: num_attention_heads %d, num_key_value_heads %d, head_dim %d or "
		    "num_hidden_layers %d out of range",
		    p, c->heads, c->kv_heads, c->head_dim, c->layers);
	double eps;
	enum sy_status s = json_read_number(o, "rms_norm_eps", p, 0, 1, 1e-6, err, &eps);
	c->eps = (float)eps;
	c->attn_scale = (float)(1.0 / sqrt((double)c->head_dim));
	if (s == SY_OK)
		s = json_read_number(o, "rope_theta", p, 1.0000001, 1e12, 10000.0, err,
		                     &c->rope_theta);
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
	if (s == SY_OK && rs && !cJSON_IsNull(rs))
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "%s: rope_scaling is not supported",
		                    p);
	if (s == SY_OK && gemma)
		return parse_gemma(o, p, err, c);
	bool flag = false;
	if (s == SY_OK)
		s = json_read_bool(o, "attention_bias", p, !qwen3, err, &flag);
	c->qkv_bias = flag;
	c->o_bias = qwen3 && flag; /* Qwen2's o_proj never has one */
	if (s == SY_OK)
		s = json_read_bool(o, "use_sliding_window", p, false, err, &flag);
	if (s == SY_OK && flag)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: use_sliding_window true is not supported", p);
	const char *act = "silu";
	if (s == SY_OK)
		s = json_read_string(o, "hidden_act", p, "silu", err, &act);
	if (s == SY_OK && strcmp(act, "silu"))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: hidden_act \"%.40s\" is not supported (silu)", p, act);
	return s;
}

/* ---- loading ---- */

static void decoder_free(struct decoder *m)
{
	if (!m)
		return;
	for (int i = 0; m->layers && i < m->cfg.layers; i++) {
		struct dec_layer *L = &m->layers[i];
		linear_free(&L->qkv);
		linear_free(&L->o);
		linear_free(&L->up_gate);
		linear_free(&L->down);
		free(L->in_norm);
		free(L->post_norm);
		free(L->pre_ff_norm);
		free(L->post_ff_norm);
		free(L->qkv_b);
		free(L->q_norm);
		free(L->k_norm);
		free(L->o_b);
	}
	free(m->layers);
	free(m->embed);
	free(m->final_norm);
	rope_table_free(&m->rope);
	rope_table_free(&m->rope_local);
	free(m->cfg.sliding);
	sy_pool_free(m->pool);
	float *bufs[] = {m->x, m->h, m->proj, m->qkvx, m->ctx, m->ug, m->attn_scratch, m->causal};
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		free(bufs[i]);
	free(m->pos_ids);
	free(m->seq_start);
	free(m);
}

static enum sy_status load_layer(struct weight_loader *l, const struct dec_config *c, int li,
                                 struct dec_layer *L)
{
	const int H = c->hidden, hd = c->head_dim, I = c->intermediate;
	static const char *const qkv[] = {"layers.%d.self_attn.q_proj",
	                                  "layers.%d.self_attn.k_proj",
	                                  "layers.%d.self_attn.v_proj"};
	static const char *const ug[] = {"layers.%d.mlp.up_proj", "layers.%d.mlp.gate_proj"};
	const int qkv_rows[] = {c->heads * hd, c->kv_heads * hd, c->kv_heads * hd};
	const int ug_rows[] = {I, I};
	enum sy_status s = weight_tensor(l, &L->in_norm, 1, (int64_t[]){H},
	                                 "layers.%d.input_layernorm.weight", li);
	if (s == SY_OK)
		s = weight_tensor(l, &L->post_norm, 1, (int64_t[]){H},
		                  "layers.%d.post_attention_layernorm.weight", li);
	if (s == SY_OK && c->gemma)
		s = weight_tensor(l, &L->pre_ff_norm, 1, (int64_t[]){H},
		                  "layers.%d.pre_feedforward_layernorm.weight", li);
	if (s == SY_OK && c->gemma)
		s = weight_tensor(l, &L->post_ff_norm, 1, (int64_t[]){H},
		                  "layers.%d.post_feedforward_layernorm.weight", li);
	if (s == SY_OK)
		s = weight_stacked(l, &L->qkv, c->qkv_bias ? &L->qkv_b : NULL, qkv, qkv_rows, 3, H,
		                   li);
	if (s == SY_OK && c->qk_norm)
		s = weight_tensor(l, &L->q_norm, 1, (int64_t[]){hd},
		                  "layers.%d.self_attn.q_norm.weight", li);
	if (s == SY_OK && c->qk_norm)
		s = weight_tensor(l, &L->k_norm, 1, (int64_t[]){hd},
		                  "layers.%d.self_attn.k_norm.weight", li);
	char name[96];
	snprintf(name, sizeof name, "layers.%d.self_attn.o_proj", li);
	if (s == SY_OK)
		s = weight_linear(l, &L->o, c->o_bias ? &L->o_b : NULL, H, c->heads * hd, "%s",
		                  name);
	if (s == SY_OK)
		s = weight_stacked(l, &L->up_gate, NULL, ug, ug_rows, 2, H, li);
	snprintf(name, sizeof name, "layers.%d.mlp.down_proj", li);
	if (s == SY_OK)
		s = weight_linear(l, &L->down, NULL, H, I, "%s", name);
	return s;
}

static enum sy_status load_weights(struct decoder *m, struct weight_loader *l)
{
	const struct dec_config *c = &m->cfg;
	enum sy_status s =
	    weight_tensor(l, &m->embed, 2, (int64_t[]){c->vocab, c->hidden}, "embed_tokens.weight");
	if (s == SY_OK)
		s = weight_tensor(l, &m->final_norm, 1, (int64_t[]){c->hidden}, "norm.weight");
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
	struct decoder *m = impl;
	const struct dec_config *c = &m->cfg;
	if (rows < 0 || n_seqs < 0 || max_t < 0 || rows > (1 << 24) || n_seqs > (1 << 24))
		return sy_error_set(err, SY_ERR_INVALID_ARG, "%s: cannot reserve %d tokens",
		                    m->arch, rows);
	if (max_t > c->max_positions)
		max_t = c->max_positions;
	if (rows <= m->cap_rows && n_seqs <= m->cap_seqs && max_t <= m->cap_t)
		return SY_OK;
	const int cr = rows > m->cap_rows ? rows : m->cap_rows;
	const int cs = n_seqs > m->cap_seqs ? n_seqs : m->cap_seqs;
	const int ct = max_t > m->cap_t ? max_t : m->cap_t;
	const size_t r = cr ? (size_t)cr : 1, H = (size_t)c->hidden,
	             A = (size_t)c->heads * c->head_dim,
	             P = (size_t)(c->heads + 2 * c->kv_heads) * c->head_dim,
	             I = (size_t)c->intermediate, t = ct ? (size_t)ct : 1;
	m->attn_stride = attention_scratch_floats((int)t);
	float **bufs[] = {&m->x,   &m->h,  &m->proj,         &m->qkvx,
	                  &m->ctx, &m->ug, &m->attn_scratch, &m->causal};
	const size_t sizes[] = {r * H,
	                        r * H,
	                        r * P,
	                        r * 3 * A,
	                        r * A,
	                        r * 2 * I,
	                        (size_t)sy_pool_size(m->pool) * m->attn_stride,
	                        2 * t - 1};
	bool ok = true;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
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
	for (size_t d = 0; d < 2 * t - 1; d++) /* index t - 1 is distance 0 */
		m->causal[d] = d < t ? 0.0f : -1e30f;
	m->cap_rows = cr;
	m->cap_seqs = cs;
	m->cap_t = ct;
	return SY_OK;
}

struct fwd {
	struct decoder *m;
	const struct encoder_input *in;
	int rows;
	const struct model_stop *stop;
	bool stopped;
};

/* Per row of this part: q/k norms, rotary, then q and the key/value heads each query head reads
 * laid side by side in qkvx ([q | k | v], nh heads each), as the attention kernel wants them. */
static void heads_prepare(struct fwd *f, const struct dec_layer *L, bool sliding, int ith, int nth)
{
	struct decoder *m = f->m;
	const struct dec_config *c = &m->cfg;
	const int hd = c->head_dim, nh = c->heads, nkv = c->kv_heads, A = nh * hd;
	const int P = (nh + 2 * nkv) * hd, group = nh / nkv;
	const float off = c->gemma ? 1.0f : 0.0f; /* Gemma's norms scale by (1 + w) */
	int lo, hi;
	sy_split(f->rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++) {
		float *p = m->proj + (size_t)r * P, *q = p, *k = p + A, *v = k + nkv * hd;
		if (c->qk_norm) {
			for (int h = 0; h < nh; h++)
				rms_norm_f32(q + h * hd, q + h * hd, L->q_norm, off, hd, c->eps);
			for (int h = 0; h < nkv; h++)
				rms_norm_f32(k + h * hd, k + h * hd, L->k_norm, off, hd, c->eps);
		}
		rope_apply(sliding ? &m->rope_local : &m->rope, q, P, 1, &m->pos_ids[r], nh + nkv,
		           hd);
		float *out = m->qkvx + (size_t)r * 3 * A;
		memcpy(out, q, (size_t)A * sizeof *out);
		for (int h = 0; h < nh; h++) {
			memcpy(out + A + h * hd, k + (h / group) * hd, (size_t)hd * sizeof *out);
			memcpy(out + 2 * A + h * hd, v + (h / group) * hd,
			       (size_t)hd * sizeof *out);
		}
	}
}

static void attention_all(struct fwd *f, bool sliding, int ith, int nth)
{
	struct decoder *m = f->m;
	const int hd = m->cfg.head_dim, nh = m->cfg.heads, A = nh * hd;
	float *scratch = m->attn_scratch + (size_t)ith * m->attn_stride;
	const float *causal0 = m->causal + (m->cap_t - 1); /* distance 0 */
	for (int s = 0; s < f->in->n_seqs; s++) {
		const int len = f->in->lens[s];
		if (len == 0)
			continue;
		const float *q = m->qkvx + (size_t)m->seq_start[s] * 3 * A;
		float *o = m->ctx + (size_t)m->seq_start[s] * A;
		const int nv = f->in->n_valid ? f->in->n_valid[s] : len;
		if (!m->cfg.gemma) /* causal */
			attention_rel_f32(q, q + A, q + 2 * A, 3 * A, o, A, len, nv, nh, hd,
			                  m->cfg.attn_scale, causal0, 0, scratch, ith, nth);
		else /* bidirectional, within the window on sliding layers */
			attention_window_f32(q, q + A, q + 2 * A, 3 * A, o, A, len, nv,
			                     sliding ? m->cfg.window : -1, nh, hd,
			                     m->cfg.attn_scale, scratch, ith, nth);
	}
}

static void norm_rows(struct decoder *m, float *dst, const float *src, const float *w, int rows,
                      int ith, int nth)
{
	const int H = m->cfg.hidden;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++)
		rms_norm_f32(dst + (size_t)r * H, src + (size_t)r * H, w,
		             m->cfg.gemma ? 1.0f : 0.0f, H, m->cfg.eps);
}

/* x += tmp for this part's rows (tmp in h). */
static void residual(struct decoder *m, int rows, int ith, int nth)
{
	const int H = m->cfg.hidden;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++)
		add_f32(m->x + (size_t)r * H, m->h + (size_t)r * H, H);
}

static void swiglu(struct decoder *m, int rows, int ith, int nth)
{
	const int I = m->cfg.intermediate;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++) {
		float *up = m->ug + (size_t)r * 2 * I, *gate = up + I;
		if (m->cfg.gemma)
			gelu_tanh_f32(gate, I);
		else
			silu_f32(gate, I);
		for (int j = 0; j < I; j++)
			up[j] *= gate[j];
	}
}

static void forward_part(void *ctx, int ith, int nth)
{
	struct fwd *f = ctx;
	struct decoder *m = f->m;
	const struct dec_config *c = &m->cfg;
	const int H = c->hidden, I = c->intermediate, rows = f->rows;
	const int A = c->heads * c->head_dim, P = (c->heads + 2 * c->kv_heads) * c->head_dim;
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	/* Gemma scales its embeddings by sqrt(hidden), in float32 as the weights run here. */
	const float escale = c->gemma ? sqrtf((float)H) : 1.0f;
	for (int r = lo; r < hi; r++) {
		float *x = m->x + (size_t)r * H;
		const float *e = m->embed + (size_t)f->in->ids[r] * H;
		for (int k = 0; k < H; k++)
			x[k] = e[k] * escale;
	}
	sy_pool_barrier(m->pool);
	for (int li = 0; li < c->layers; li++) {
		const struct dec_layer *L = &m->layers[li];
		const bool sliding = c->sliding && c->sliding[li];
		norm_rows(m, m->h, m->x, L->in_norm, rows, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->h, H, &L->qkv, L->qkv_b, GEMM_EPILOGUE_NONE, m->proj, P, rows, ith,
		           nth);
		sy_pool_barrier(m->pool);
		heads_prepare(f, L, sliding, ith, nth);
		sy_pool_barrier(m->pool);
		attention_all(f, sliding, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->ctx, A, &L->o, L->o_b, GEMM_EPILOGUE_NONE, m->h, H, rows, ith, nth);
		sy_pool_barrier(m->pool);
		if (c->gemma) { /* x += post_norm(attn); h = pre_ff_norm(x) */
			norm_rows(m, m->h, m->h, L->post_norm, rows, ith, nth);
			residual(m, rows, ith, nth);
			norm_rows(m, m->h, m->x, L->pre_ff_norm, rows, ith, nth);
		} else { /* x += attn; h = post_attention_layernorm(x) */
			residual(m, rows, ith, nth);
			norm_rows(m, m->h, m->x, L->post_norm, rows, ith, nth);
		}
		sy_pool_barrier(m->pool);
		linear_run(m->h, H, &L->up_gate, NULL, GEMM_EPILOGUE_NONE, m->ug, 2 * I, rows, ith,
		           nth);
		sy_pool_barrier(m->pool);
		swiglu(m, rows, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->ug, 2 * I, &L->down, NULL, GEMM_EPILOGUE_NONE, m->h, H, rows, ith,
		           nth);
		sy_pool_barrier(m->pool);
		if (c->gemma)
			norm_rows(m, m->h, m->h, L->post_ff_norm, rows, ith, nth);
		residual(m, rows, ith, nth);
		if (ith == 0 && li + 1 < c->layers)
			f->stopped = model_stop_requested(f->stop);
		sy_pool_barrier(m->pool);
		if (f->stopped)
			return;
	}
	norm_rows(m, m->x, m->x, m->final_norm, rows, ith, nth);
}

static enum sy_status forward(void *impl, const struct encoder_input *in, struct sy_error *err,
                              const float **out)
{
	struct decoder *m = impl;
	const struct dec_config *c = &m->cfg;
	*out = NULL;
	int rows, max_t;
	enum sy_status s =
	    encoder_input_check(in, m->arch, c->max_positions, c->vocab, 0, err, &rows, &max_t);
	if (s == SY_OK)
		s = reserve(m, rows, in->n_seqs, max_t, err);
	if (s != SY_OK)
		return s;
	encoder_input_positions(in, m->seq_start, m->pos_ids);
	struct fwd f = {.m = m, .in = in, .rows = rows, .stop = model_stop_current()};
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
	return ((const struct decoder *)impl)->weight_bytes;
}

static size_t scratch_bytes(const void *impl)
{
	const struct decoder *m = impl;
	const struct dec_config *c = &m->cfg;
	const size_t r = (size_t)m->cap_rows, H = (size_t)c->hidden,
	             A = (size_t)c->heads * c->head_dim,
	             P = (size_t)(c->heads + 2 * c->kv_heads) * c->head_dim,
	             I = (size_t)c->intermediate;
	return (r * (2 * H + P + 4 * A + 2 * I) + 2 * (size_t)m->cap_t) * sizeof(float) +
	       r * sizeof(int) + (size_t)sy_pool_size(m->pool) * m->attn_stride * sizeof(float) +
	       (size_t)m->rope.n_pos * (size_t)m->rope.rot_dim * sizeof(float);
}

static void impl_free(void *impl)
{
	decoder_free(impl);
}

static const struct encoder_ops decoder_ops = {
    .forward = forward,
    .reserve = reserve,
    .weight_bytes = weight_bytes,
    .scratch_bytes = scratch_bytes,
    .free = impl_free,
};

bool decoder_encoder_detect(const struct model_desc *d)
{
	return !strcmp(d->model_type, "qwen3") || !strcmp(d->model_type, "qwen2") ||
	       !strcmp(d->model_type, "gemma3_text");
}

enum sy_status decoder_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                    int n_threads, enum linear_precision prec, struct sy_error *err,
                                    struct encoder *out)
{
	const bool qwen3 = !strcmp(d->model_type, "qwen3");
	const bool gemma = !strcmp(d->model_type, "gemma3_text");
	struct decoder *m = calloc(1, sizeof *m);
	if (!m)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	m->arch = gemma ? "gemma3" : qwen3 ? "qwen3" : "qwen2";
	enum sy_status s = parse_config(d, qwen3, err, &m->cfg);
	/* Qwen3Model saves its tensors bare, Qwen3ForCausalLM (the released checkpoints) under
	 * "model.". */
	struct weight_loader l = {.st = st, .prefix = "", .prec = prec, .err = err};
	if (s == SY_OK && !weight_exists(&l, "embed_tokens.weight"))
		l.prefix = "model.";
	if (s == SY_OK)
		s = load_weights(m, &l);
	if (s == SY_OK)
		s = rope_table_init(&m->rope, m->cfg.head_dim, m->cfg.max_positions,
		                    m->cfg.rope_theta, false, err);
	if (s == SY_OK && gemma)
		s = rope_table_init(&m->rope_local, m->cfg.head_dim, m->cfg.max_positions,
		                    m->cfg.rope_local_theta, false, err);
	if (s == SY_OK) {
		m->pool = sy_pool_create(n_threads);
		if (!m->pool)
			s = sy_error_set(err, SY_ERR_NOMEM, "cannot create the thread pool");
	}
	if (s != SY_OK) {
		decoder_free(m);
		return s;
	}
	m->weight_bytes = l.bytes;
	*out = (struct encoder){.ops = &decoder_ops,
	                        .impl = m,
	                        .arch = m->arch,
	                        .hidden = m->cfg.hidden,
	                        .vocab_size = m->cfg.vocab,
	                        .max_tokens = m->cfg.max_positions,
	                        /* Qwen3-Embedding is trained for it (32 up to its size) */
	                        .matryoshka = qwen3 ? MODEL_MRL_TRUNCATE : MODEL_MRL_NONE};
	return SY_OK;
}
