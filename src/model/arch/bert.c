/* BERT-family encoder: weight loading and the post-LN transformer forward.
 *
 * The maths follows transformers' modeling_bert.py (RoBERTa and XLM-R share it; DistilBERT's
 * modeling_distilbert.py is the same computation under other tensor names, without token types):
 *
 *   x = LayerNorm(word[id] + position[pos] + token_type[type])
 *   per layer:  a = Attention(x W_qkv^T + b_qkv)            (per sequence, all heads)
 *               x = LayerNorm(x + a W_o^T + b_o)
 *               x = LayerNorm(x + act(x W_1^T + b_1) W_2^T + b_2)
 *
 * Positions are 0..len-1, except RoBERTa's create_position_ids_from_input_ids: non-padding tokens
 * count up from padding_idx + 1 and padding-id tokens get padding_idx itself.
 *
 * Q, K and V weights are stacked into one [3H][H] matrix at load so one GEMM produces all three;
 * each row of the result is [q | k | v], which attention reads with row stride 3H.
 *
 * The whole forward is one sy_pool_run: every step splits its work by (ith, nth) and a barrier
 * separates steps, so threads are woken once per batch rather than once per kernel. */
#include "model/formats/weights.h"
#include "model/arch/bert.h"
#include "model/arch/weight_loader.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/threads.h"
#include "tensor/attention.h"
#include "tensor/gemm.h"
#include "tensor/linear.h"
#include "model/model.h"
#include "tensor/ops.h"

struct bert_layer {
	struct linear qkv; /* [3H][H]: query, key, value weights stacked */
	float *qkv_bias; /* [3H] */
	struct linear attn_out; /* [H][H] */
	float *attn_out_bias; /* [H] */
	float *ln1_gamma, *ln1_beta; /* [H]: LayerNorm after attention */
	struct linear ffn_up; /* [I][H], or [2I][H] for a GLU feed-forward */
	float *ffn_up_bias; /* [I], NULL for a GLU feed-forward */
	struct linear ffn_down; /* [H][I] */
	float *ffn_down_bias; /* [H] */
	float *ln2_gamma, *ln2_beta; /* [H]: LayerNorm after the feed-forward block */
};

struct bert_model {
	struct bert_config cfg;
	char prefix[32];
	float *word_emb; /* [vocab_size][H] */
	float *pos_emb; /* [max_positions][H] */
	float *type_emb; /* [type_vocab_size][H], NULL without token types */
	float *emb_ln_gamma, *emb_ln_beta; /* [H] */
	struct bert_layer *layers; /* [n_layers] */
	bool glu_ffn; /* ffn_up is [2I][H] without bias: act(first I) * second I (bert.h) */
	/* Attention bias by key-query distance (bert.h), or NULL: [n_heads][rel_ld], distance 0
	 * of each head at max_tokens - 1. */
	float *rel_bias;
	int rel_ld;
	size_t weight_bytes;
	enum linear_precision prec; /* of the encoder's linear layers */
	attention_ext_fn attention; /* bf16 products with int8 layers where the CPU has them */
	struct sy_pool *pool;

	/* Scratch, grown to the largest batch seen (rows = tokens in the batch). */
	int cap_rows, cap_seqs, cap_t;
	float *x; /* [cap_rows][H] hidden state; the forward's output */
	/* qkv, ctx and ffn share one block: the FFN runs after the attention output projection
	 * has consumed ctx, so [qkv | ctx] and ffn are never live at once. This keeps the scratch
	 * at (2H + max(4H, I)) floats per token instead of 6H + I. */
	float *qkv_ffn; /* the shared block, [cap_rows][max(4H, I)] */
	float *qkv; /* [cap_rows][3H], at qkv_ffn */
	float *ctx; /* [cap_rows][H] attention output (heads concatenated), after qkv */
	float *tmp; /* [cap_rows][H] sublayer output before residual + LayerNorm */
	float *ffn; /* [cap_rows][I] ([cap_rows][2I] for a GLU), at qkv_ffn */
	int32_t *pos_ids; /* [cap_rows] */
	int *seq_start; /* [cap_seqs + 1] first row of each sequence */
	float *attn_scratch; /* [pool size][attn_stride] */
	size_t attn_stride;
	long n_scratch_allocs;
};

/* ---- loading ---- */

static const struct bert_layer_names bert_names = {
    "encoder.layer.%d.attention.self.query",
    "encoder.layer.%d.attention.self.key",
    "encoder.layer.%d.attention.self.value",
    "encoder.layer.%d.attention.output.dense",
    "encoder.layer.%d.attention.output.LayerNorm",
    "encoder.layer.%d.intermediate.dense",
    "encoder.layer.%d.output.dense",
    "encoder.layer.%d.output.LayerNorm",
};

static const struct bert_layer_names distilbert_names = {
    "transformer.layer.%d.attention.q_lin", "transformer.layer.%d.attention.k_lin",
    "transformer.layer.%d.attention.v_lin", "transformer.layer.%d.attention.out_lin",
    "transformer.layer.%d.sa_layer_norm",   "transformer.layer.%d.ffn.lin1",
    "transformer.layer.%d.ffn.lin2",        "transformer.layer.%d.output_layer_norm",
};

static enum sy_status load_layer(struct weight_loader *l, const struct bert_config *c,
                                 const struct bert_layer_names *nm, bool glu, int i,
                                 struct bert_layer *L)
{
	const int H = c->hidden, I = c->intermediate;
	/* Q, K, V stacked into one [3H][H] layer with one [3H] bias. */
	const char *const qkv[] = {nm->q, nm->k, nm->v};
	enum sy_status s = weight_stacked(l, &L->qkv, &L->qkv_bias, qkv, (int[]){H, H, H}, 3, H, i);
	if (s == SY_OK)
		s = weight_stacked(l, &L->attn_out, &L->attn_out_bias, &nm->o, (int[]){H}, 1, H, i);
	if (s == SY_OK)
		s = weight_stacked_norm(l, &L->ln1_gamma, &L->ln1_beta, nm->ln1, H, i);
	/* GLU: one bias-free [2I][H] matrix, the gated half then the linear half */
	if (s == SY_OK)
		s = weight_stacked(l, &L->ffn_up, glu ? NULL : &L->ffn_up_bias, &nm->up,
		                   (int[]){glu ? 2 * I : I}, 1, H, i);
	if (s == SY_OK)
		s = weight_stacked(l, &L->ffn_down, &L->ffn_down_bias, &nm->down, (int[]){H}, 1, I,
		                   i);
	if (s == SY_OK)
		s = weight_stacked_norm(l, &L->ln2_gamma, &L->ln2_beta, nm->ln2, H, i);
	return s;
}

const char *bert_detect_prefix(const struct safetensors *st)
{
	static const char *const prefixes[] = {"",       "bert.", "roberta.", "distilbert.",
	                                       "model.", "mpnet."};
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "%sembeddings.word_embeddings.weight", prefixes[i]);
		if (safetensors_find(st, name))
			return prefixes[i];
	}
	return NULL;
}

static void layer_free(struct bert_layer *L)
{
	linear_free(&L->qkv);
	linear_free(&L->attn_out);
	linear_free(&L->ffn_up);
	linear_free(&L->ffn_down);
	free(L->qkv_bias);
	free(L->attn_out_bias);
	free(L->ln1_gamma);
	free(L->ln1_beta);
	free(L->ffn_up_bias);
	free(L->ffn_down_bias);
	free(L->ln2_gamma);
	free(L->ln2_beta);
}

static void scratch_free(struct bert_model *m)
{
	free(m->x);
	free(m->qkv_ffn);
	free(m->tmp);
	free(m->pos_ids);
	free(m->seq_start);
	free(m->attn_scratch);
	m->x = m->qkv_ffn = m->qkv = m->ctx = m->tmp = m->ffn = m->attn_scratch = NULL;
	m->pos_ids = NULL;
	m->seq_start = NULL;
	m->cap_rows = m->cap_seqs = m->cap_t = 0;
}

void bert_model_free(struct bert_model *m)
{
	if (!m)
		return;
	for (int i = 0; m->layers && i < m->cfg.n_layers; i++)
		layer_free(&m->layers[i]);
	free(m->layers);
	free(m->word_emb);
	free(m->pos_emb);
	free(m->type_emb);
	free(m->emb_ln_gamma);
	free(m->emb_ln_beta);
	free(m->rel_bias);
	scratch_free(m);
	sy_pool_free(m->pool);
	free(m);
}

enum sy_status bert_model_load_st(const struct bert_config *cfg, const struct safetensors *st,
                                  int n_threads, struct sy_error *err, struct bert_model **out)
{
	return bert_model_load_st_prec(cfg, st, n_threads, LINEAR_FP32, err, out);
}

enum sy_status bert_model_load_st_prec(const struct bert_config *cfg, const struct safetensors *st,
                                       int n_threads, enum linear_precision prec,
                                       struct sy_error *err, struct bert_model **out)
{
	return bert_model_load_variant(cfg, NULL, st, n_threads, prec, err, out);
}

enum sy_status bert_model_load_variant(const struct bert_config *cfg,
                                       const struct bert_variant *var, const struct safetensors *st,
                                       int n_threads, enum linear_precision prec,
                                       struct sy_error *err, struct bert_model **out)
{
	*out = NULL;
	const struct bert_variant plain = {0};
	if (!var)
		var = &plain;
	const char *prefix = bert_detect_prefix(st);
	if (!prefix) {
		free(var->rel_bias);
		return sy_error_set(
		    err, SY_ERR_FORMAT,
		    "%s: no embeddings.word_embeddings.weight tensor (with or without "
		    "a bert./roberta./distilbert./model. prefix)",
		    st->path);
	}
	struct bert_model *m = calloc(1, sizeof *m);
	if (!m) {
		free(var->rel_bias);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	m->cfg = *cfg;
	m->glu_ffn = var->glu_ffn;
	m->rel_bias = var->rel_bias;
	m->rel_ld = 2 * cfg->max_tokens - 1;
	snprintf(m->prefix, sizeof m->prefix, "%s", prefix);
	const int H = cfg->hidden;
	m->prec = prec;
	m->attention = attention_ext_for(prec == LINEAR_INT8);
	struct weight_loader l = {.st = st, .prefix = m->prefix, .prec = prec, .err = err};
	enum sy_status s = weight_tensor(&l, &m->word_emb, 2, (int64_t[]){cfg->vocab_size, H},
	                                 "embeddings.word_embeddings.weight");
	if (m->rel_bias)
		l.bytes += (size_t)cfg->n_heads * m->rel_ld * sizeof(float);
	if (s == SY_OK && !var->no_position_table)
		s = weight_tensor(&l, &m->pos_emb, 2, (int64_t[]){cfg->max_positions, H},
		                  "embeddings.position_embeddings.weight");
	if (s == SY_OK && cfg->arch != BERT_ARCH_DISTILBERT && cfg->type_vocab_size > 0)
		s = weight_tensor(&l, &m->type_emb, 2, (int64_t[]){cfg->type_vocab_size, H},
		                  "embeddings.token_type_embeddings.weight");
	if (s == SY_OK)
		s = weight_norm(&l, &m->emb_ln_gamma, &m->emb_ln_beta, H, "embeddings.LayerNorm");
	if (s == SY_OK) {
		m->layers = calloc(cfg->n_layers ? (size_t)cfg->n_layers : 1, sizeof *m->layers);
		if (!m->layers)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	const struct bert_layer_names *nm = var->names                          ? var->names
	                                    : cfg->arch == BERT_ARCH_DISTILBERT ? &distilbert_names
	                                                                        : &bert_names;
	for (int i = 0; s == SY_OK && i < cfg->n_layers; i++)
		s = load_layer(&l, cfg, nm, var->glu_ffn, i, &m->layers[i]);
	if (s == SY_OK) {
		m->pool = sy_pool_create(n_threads);
		if (!m->pool)
			s = sy_error_set(err, SY_ERR_NOMEM, "cannot create the thread pool");
	}
	if (s != SY_OK) {
		bert_model_free(m);
		return s;
	}
	m->weight_bytes = l.bytes;
	*out = m;
	return SY_OK;
}

enum sy_status bert_model_load(const char *dir, int n_threads, struct sy_error *err,
                               struct bert_model **out)
{
	return bert_model_load_prec(dir, n_threads, LINEAR_FP32, err, out);
}

enum sy_status bert_model_load_prec(const char *dir, int n_threads, enum linear_precision prec,
                                    struct sy_error *err, struct bert_model **out)
{
	*out = NULL;
	struct bert_config cfg;
	enum sy_status s = bert_config_load(dir, err, &cfg);
	if (s != SY_OK)
		return s;
	struct safetensors *st;
	s = model_weights_open(dir, err, &st, NULL);
	if (s != SY_OK)
		return s;
	s = bert_model_load_st_prec(&cfg, st, n_threads, prec, err, out);
	safetensors_close(st);
	return s;
}

const struct bert_config *bert_model_config(const struct bert_model *m)
{
	return &m->cfg;
}

const char *bert_model_prefix(const struct bert_model *m)
{
	return m->prefix;
}

enum linear_precision bert_model_precision(const struct bert_model *m)
{
	return m->prec;
}

size_t bert_model_weight_bytes(const struct bert_model *m)
{
	return m->weight_bytes;
}

struct sy_pool *bert_model_pool(struct bert_model *m)
{
	return m->pool;
}

/* Floats per token of the feed-forward activations. */
static size_t ffn_width(const struct bert_model *m)
{
	return (size_t)m->cfg.intermediate * (m->glu_ffn ? 2 : 1);
}

size_t bert_model_scratch_bytes(const struct bert_model *m)
{
	if (!m->x)
		return 0;
	const size_t H = (size_t)m->cfg.hidden, I = ffn_width(m);
	const size_t r = m->cap_rows ? (size_t)m->cap_rows : 1, shared = 4 * H > I ? 4 * H : I;
	return r * (2 * H + shared) * sizeof(float) + r * sizeof(int32_t) +
	       ((size_t)m->cap_seqs + 1) * sizeof(int) +
	       (size_t)sy_pool_size(m->pool) * (m->attn_stride ? m->attn_stride : 1) *
	           sizeof(float);
}

long bert_model_scratch_allocs(const struct bert_model *m)
{
	return m->n_scratch_allocs;
}

/* ---- forward ---- */

/* Grows the scratch to hold rows tokens in n_seqs sequences of at most max_t tokens. */
static enum sy_status scratch_reserve(struct bert_model *m, int rows, int n_seqs, int max_t,
                                      struct sy_error *err)
{
	if (rows <= m->cap_rows && n_seqs <= m->cap_seqs && max_t <= m->cap_t)
		return SY_OK;
	const size_t H = (size_t)m->cfg.hidden, I = ffn_width(m);
	int cr = rows > m->cap_rows ? rows : m->cap_rows;
	int cs = n_seqs > m->cap_seqs ? n_seqs : m->cap_seqs;
	int ct = max_t > m->cap_t ? max_t : m->cap_t;
	scratch_free(m);
	m->n_scratch_allocs++;
	size_t r = cr ? (size_t)cr : 1;
	int nth = sy_pool_size(m->pool);
	m->attn_stride = attention_scratch_floats(ct ? ct : 1);
	m->x = malloc(r * H * sizeof(float));
	const size_t shared = 4 * H > I ? 4 * H : I;
	m->qkv_ffn = malloc(r * shared * sizeof(float));
	m->qkv = m->ffn = m->qkv_ffn;
	m->ctx = m->qkv_ffn ? m->qkv_ffn + r * 3 * H : NULL;
	m->tmp = malloc(r * H * sizeof(float));
	m->pos_ids = malloc(r * sizeof(int32_t));
	m->seq_start = malloc(((size_t)cs + 1) * sizeof(int));
	m->attn_scratch =
	    malloc((size_t)nth * (m->attn_stride ? m->attn_stride : 1) * sizeof(float));
	if (!m->x || !m->qkv_ffn || !m->tmp || !m->pos_ids || !m->seq_start || !m->attn_scratch) {
		scratch_free(m);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a batch of %d tokens",
		                    rows);
	}
	m->cap_rows = cr;
	m->cap_seqs = cs;
	m->cap_t = ct;
	return SY_OK;
}

enum sy_status bert_model_reserve(struct bert_model *m, int rows, int n_seqs, int max_t,
                                  struct sy_error *err)
{
	if (rows < 0 || n_seqs < 0 || max_t < 0 || rows > (1 << 24) || n_seqs > (1 << 24))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "bert: cannot reserve %d tokens in %d sequences", rows, n_seqs);
	if (max_t > m->cfg.max_tokens)
		max_t = m->cfg.max_tokens;
	return scratch_reserve(m, rows, n_seqs, max_t, err);
}

struct fwd_ctx {
	struct bert_model *m;
	const struct encoder_input *in;
	int rows;
	int split_units; /* attention split over (sequence, head) units instead of inside */
	double attn_cost; /* total cost of the (sequence, head) units */
	const struct model_stop *stop; /* the run's, asked by part 0 after each layer */
	bool stopped; /* part 0's answer, read by every part after the layer's last barrier */
};

static enum gemm_epilogue act_epilogue(enum bert_act a)
{
	switch (a) {
	case BERT_ACT_GELU_ERF: return GEMM_EPILOGUE_GELU_ERF;
	case BERT_ACT_GELU_TANH: return GEMM_EPILOGUE_GELU_TANH;
	case BERT_ACT_RELU: return GEMM_EPILOGUE_RELU;
	}
	return GEMM_EPILOGUE_NONE;
}

/* x[r] = LayerNorm(tmp[r] + x[r]) for this part's rows. */
static void residual_norm(struct bert_model *m, int rows, const float *gamma, const float *beta,
                          int ith, int nth)
{
	const int H = m->cfg.hidden;
	int b, e;
	sy_split(rows, ith, nth, &b, &e);
	for (int r = b; r < e; r++) {
		float *t = m->tmp + (size_t)r * H, *x = m->x + (size_t)r * H;
		add_f32(t, x, H);
		layer_norm_f32(x, t, gamma, beta, H, m->cfg.layer_norm_eps);
	}
}

/* GLU feed-forward: each row [g | u] of ffn (2I wide) gets act(g) * u in its first I floats,
 * which the down projection reads with row stride 2I. */
static void glu_step(struct bert_model *m, int rows, int ith, int nth)
{
	const int I = m->cfg.intermediate;
	int b, e;
	sy_split(rows, ith, nth, &b, &e);
	for (int r = b; r < e; r++) {
		float *g = m->ffn + (size_t)r * 2 * I;
		switch (m->cfg.act) {
		case BERT_ACT_GELU_ERF: gelu_erf_f32(g, I); break;
		case BERT_ACT_GELU_TANH: gelu_tanh_f32(g, I); break;
		case BERT_ACT_RELU:
			for (int j = 0; j < I; j++)
				g[j] = g[j] > 0 ? g[j] : 0;
			break;
		}
		for (int j = 0; j < I; j++)
			g[j] *= g[I + j];
	}
}

static void attention_step(struct fwd_ctx *c, int ith, int nth)
{
	struct bert_model *m = c->m;
	const int H = m->cfg.hidden, nh = m->cfg.n_heads, hd = H / nh;
	const float scale = 1.0f / sqrtf((float)hd);
	float *scratch = m->attn_scratch + (size_t)ith * m->attn_stride;
	const struct encoder_input *in = c->in;
	const float *bias = m->rel_bias ? m->rel_bias + (m->cfg.max_tokens - 1) : NULL;
	if (!c->split_units) {
		/* Few sequences: every thread takes part in each one (heads x rows inside). */
		for (int s = 0; s < in->n_seqs; s++) {
			int len = in->lens[s];
			if (len == 0)
				continue;
			const float *q = m->qkv + (size_t)m->seq_start[s] * 3 * H;
			m->attention(q, q + H, q + 2 * H, 3 * H,
			             m->ctx + (size_t)m->seq_start[s] * H, H, len,
			             in->n_valid ? in->n_valid[s] : len, -1, bias, m->rel_ld, nh,
			             hd, scale, scratch, ith, nth);
		}
		return;
	}
	/* Many sequences: hand out whole (sequence, head) units, balanced by their cost
	 * (about len^2 + len), each unit going to the part its cost midpoint falls in. */
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
			             in->n_valid ? in->n_valid[s] : len, -1,
			             bias ? bias + (size_t)h * m->rel_ld : NULL, m->rel_ld, 1, hd,
			             scale, scratch, 0, 1);
		}
	}
}

static void forward_part(void *p, int ith, int nth)
{
	struct fwd_ctx *c = p;
	struct bert_model *m = c->m;
	const struct bert_config *cfg = &m->cfg;
	const int H = cfg->hidden, I = cfg->intermediate, rows = c->rows;
	const struct encoder_input *in = c->in;

	/* Embeddings. */
	int b, e;
	sy_split(rows, ith, nth, &b, &e);
	for (int r = b; r < e; r++) {
		float *x = m->x + (size_t)r * H;
		memcpy(x, m->word_emb + (size_t)in->ids[r] * H, (size_t)H * sizeof(float));
		if (m->type_emb)
			add_f32(x, m->type_emb + (size_t)(in->type_ids ? in->type_ids[r] : 0) * H,
			        H);
		if (m->pos_emb)
			add_f32(x, m->pos_emb + (size_t)m->pos_ids[r] * H, H);
		layer_norm_f32(x, x, m->emb_ln_gamma, m->emb_ln_beta, H, cfg->layer_norm_eps);
	}
	sy_pool_barrier(m->pool);

	const enum gemm_epilogue act = act_epilogue(cfg->act);
	for (int l = 0; l < cfg->n_layers; l++) {
		const struct bert_layer *L = &m->layers[l];
		linear_run(m->x, H, &L->qkv, L->qkv_bias, GEMM_EPILOGUE_NONE, m->qkv, 3 * H, rows,
		           ith, nth);
		sy_pool_barrier(m->pool);
		attention_step(c, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->ctx, H, &L->attn_out, L->attn_out_bias, GEMM_EPILOGUE_NONE, m->tmp, H,
		           rows, ith, nth);
		sy_pool_barrier(m->pool);
		residual_norm(m, rows, L->ln1_gamma, L->ln1_beta, ith, nth);
		sy_pool_barrier(m->pool);
		if (m->glu_ffn) {
			linear_run(m->x, H, &L->ffn_up, NULL, GEMM_EPILOGUE_NONE, m->ffn, 2 * I,
			           rows, ith, nth);
			sy_pool_barrier(m->pool);
			glu_step(m, rows, ith, nth);
		} else {
			linear_run(m->x, H, &L->ffn_up, L->ffn_up_bias, act, m->ffn, I, rows, ith,
			           nth);
		}
		sy_pool_barrier(m->pool);
		linear_run(m->ffn, m->glu_ffn ? 2 * I : I, &L->ffn_down, L->ffn_down_bias,
		           GEMM_EPILOGUE_NONE, m->tmp, H, rows, ith, nth);
		sy_pool_barrier(m->pool);
		residual_norm(m, rows, L->ln2_gamma, L->ln2_beta, ith, nth);
		if (ith == 0 && l + 1 < cfg->n_layers)
			c->stopped = model_stop_requested(c->stop);
		sy_pool_barrier(m->pool);
		if (c->stopped)
			return;
	}
}

enum sy_status bert_forward(struct bert_model *m, const struct encoder_input *in,
                            struct sy_error *err, const float **out)
{
	*out = NULL;
	const struct bert_config *cfg = &m->cfg;
	if (in->n_seqs < 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "bert: negative batch size");
	long long rows = 0;
	int max_t = 0;
	for (int s = 0; s < in->n_seqs; s++) {
		int len = in->lens[s];
		if (len < 0 || len > cfg->max_tokens)
			return sy_error_set(
			    err, SY_ERR_INVALID_ARG,
			    "bert: sequence %d has %d tokens; the model takes 0..%d", s, len,
			    cfg->max_tokens);
		rows += len;
		if (len > max_t)
			max_t = len;
	}
	if (rows > (1 << 24))
		return sy_error_set(err, SY_ERR_LIMIT, "bert: batch of %lld tokens is too large",
		                    rows);
	for (long long r = 0; r < rows; r++) {
		if (in->ids[r] < 0 || in->ids[r] >= cfg->vocab_size)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "bert: token id %d outside the vocabulary (%d)",
			                    (int)in->ids[r], cfg->vocab_size);
		if (m->type_emb && in->type_ids &&
		    (in->type_ids[r] < 0 || in->type_ids[r] >= cfg->type_vocab_size))
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "bert: token type id %d outside 0..%d",
			                    (int)in->type_ids[r], cfg->type_vocab_size - 1);
	}
	enum sy_status s = scratch_reserve(m, (int)rows, in->n_seqs, max_t, err);
	if (s != SY_OK)
		return s;

	/* Row offsets and position ids. */
	struct fwd_ctx c = {.m = m, .in = in, .rows = (int)rows, .stop = model_stop_current()};
	int r = 0;
	for (int q = 0; q < in->n_seqs; q++) {
		m->seq_start[q] = r;
		int count = 0;
		for (int i = 0; i < in->lens[q]; i++, r++) {
			if (cfg->arch != BERT_ARCH_ROBERTA)
				m->pos_ids[r] = i;
			else if (in->ids[r] == cfg->pad_token_id)
				m->pos_ids[r] = cfg->pad_token_id;
			else
				m->pos_ids[r] = cfg->pad_token_id + ++count;
		}
		c.attn_cost += ((double)in->lens[q] * in->lens[q] + in->lens[q]) * cfg->n_heads;
	}
	m->seq_start[in->n_seqs] = r;
	/* A short batch that finds the workers asleep (sporadic traffic) runs on this thread
	 * alone rather than wait for them to wake (sy_pool_run_solo). */
	const int solo = rows <= ENCODER_SOLO_MAX_ROWS && sy_pool_asleep(m->pool);
	int nth = solo ? 1 : sy_pool_size(m->pool);
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

/* The encoder interface (arch/encoder.h). */
static enum sy_status enc_forward(void *impl, const struct encoder_input *in, struct sy_error *err,
                                  const float **out)
{
	return bert_forward(impl, in, err, out);
}

static enum sy_status enc_reserve(void *impl, int rows, int n_seqs, int max_t, struct sy_error *err)
{
	return bert_model_reserve(impl, rows, n_seqs, max_t, err);
}

static size_t enc_weight_bytes(const void *impl)
{
	return bert_model_weight_bytes(impl);
}

static size_t enc_scratch_bytes(const void *impl)
{
	return bert_model_scratch_bytes(impl);
}

static void enc_free(void *impl)
{
	bert_model_free(impl);
}

static const struct encoder_ops bert_encoder_ops = {
    .forward = enc_forward,
    .reserve = enc_reserve,
    .weight_bytes = enc_weight_bytes,
    .scratch_bytes = enc_scratch_bytes,
    .free = enc_free,
};

/* The last architecture tried: every config.json left over; its parser names what it lacks. */
bool bert_encoder_detect(const struct model_desc *d)
{
	return d->has[MODEL_FILE_CONFIG];
}

enum sy_status bert_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                 int n_threads, enum linear_precision prec, struct sy_error *err,
                                 struct encoder *out)
{
	struct bert_config cfg;
	enum sy_status s = bert_config_from_desc(d, err, &cfg);
	struct bert_model *m = NULL;
	if (s == SY_OK)
		s = bert_model_load_st_prec(&cfg, st, n_threads, prec, err, &m);
	if (s != SY_OK)
		return s;
	bert_encoder_wrap(m, bert_arch_name(cfg.arch), out);
	return SY_OK;
}

void bert_encoder_wrap(struct bert_model *m, const char *arch, struct encoder *out)
{
	const struct bert_config *cfg = &m->cfg;
	*out = (struct encoder){.ops = &bert_encoder_ops,
	                        .impl = m,
	                        .arch = arch,
	                        .hidden = cfg->hidden,
	                        .vocab_size = cfg->vocab_size,
	                        .max_tokens = cfg->max_tokens,
	                        .uses_type_ids = m->type_emb != NULL};
}

struct bert_model *bert_of_encoder(const struct encoder *e)
{
	return e && e->ops == &bert_encoder_ops ? e->impl : NULL;
}
