/* Universal Sentence Encoder lite: weight loading, the forward pass and the encode task (see
 * use_lite.h for the computation and where each step comes from in the graph).
 *
 * TF.js stores dense and 1x1-convolution kernels as [in][out] (MatMul x W, Conv2D kernels
 * [1][1][in][out]); they are transposed at load into the [out][in] layout gemm_weights_pack
 * takes. The QKV kernel's output features are [q | k | v] (SplitV into three equal parts), and
 * within each part head h owns features [h * head_dim, (h + 1) * head_dim) (split_last_dimension
 * reshapes [.., d] to [.., heads, head_dim]), which is the layout attention_f32 reads.
 *
 * Prepared texts are packed into a batch (ids back to back, no padding) and the
 * batch runs when the next text would pass a token budget; the whole forward of a batch is one
 * sy_pool_run with barriers between steps. Activations take about 5.4 K floats per token, so
 * the 2048-token budget bounds the scratch at about 45 MB. */
#include "model/arch/use_lite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/threads.h"
#include "model/families.h"
#include "model/formats/tfjs.h"
#include "tensor/attention.h"
#include "tensor/gemm.h"
#include "tensor/linear.h"
#include "tensor/ops.h"
#include "text/use_tokenizer.h"

#define USE_BATCH_TOKENS 2048
#define USE_BATCH_SEQS 1024
#define USE_MAX_LAYERS 8

/* Name prefixes of the graph's tensors. */
#define P_MOD "module/Encoder_en/KonaTransformer/Encode/"
#define P_KONA "module_apply_default/Encoder_en/KonaTransformer/"
#define P_ENC P_KONA "Encode/"
#define P_STACK P_ENC "TransformerStack/"
#define P_HIDDEN "module/Encoder_en/hidden_layers/tanh_layer_0/"

struct use_layer {
	int d_in; /* width of the layer input, and of each of q, k, v */
	int d_out; /* width of the layer output (the residual stream after it) */
	int d_ff; /* feed-forward hidden width */
	int n_heads, head_dim; /* n_heads * head_dim == d_in */
	float attn_scale; /* multiplies q: 1/sqrt(head_dim), stored in the graph */
	float *ln_attn_gamma, *ln_attn_beta; /* [d_in] */
	struct linear qkv; /* [3 d_in][d_in] */
	float *qkv_bias; /* [3 d_in] */
	struct linear attn_out; /* [d_out][d_in] */
	float *attn_out_bias; /* [d_out] */
	int has_res; /* d_in != d_out: the residual goes through a dense layer */
	struct linear res; /* [d_out][d_in] (AdjustResidualInput/dense) */
	float *res_bias; /* [d_out] */
	float *ln_ffn_gamma, *ln_ffn_beta; /* [d_out] */
	struct linear ffn_up; /* [d_ff][d_out] (FFN/conv1) */
	float *ffn_up_bias; /* [d_ff] */
	struct linear ffn_down; /* [d_out][d_ff] (FFN/conv2) */
	float *ffn_down_bias; /* [d_out] */
};

struct use_lite {
	struct use_tokenizer *tok;
	int n_emb_rows, d_emb; /* embedding table [n_emb_rows][d_emb] */
	float *emb;
	float *inv_timescales; /* [d_emb / 2] timing-signal frequencies */
	int n_layers;
	struct use_layer layers[USE_MAX_LAYERS];
	int dims; /* output width */
	struct linear tanh_w; /* [dims][dims] */
	enum linear_precision prec; /* of the linear layers */
	float *tanh_b; /* [dims] */
	float ln_eps;
	int max_tokens; /* tokens kept per text */
	int normalize; /* L2-normalise the output */
	int d_max, ff_max; /* widest layer input and feed-forward width, for the scratch */
	struct sy_pool *pool;

	/* The packed batch being filled. */
	int32_t *ids; /* [cap_tokens] */
	int *lens; /* [cap_seqs] tokens per text */
	int *seq_start; /* [cap_seqs + 1] first row of each text */
	int cap_tokens, cap_seqs;

	/* Activations, grown to the largest batch seen (rows = tokens). */
	int cap_rows, cap_t;
	float *x0; /* [rows][d_emb] embeddings + timing signal */
	float *xn; /* [rows][d_max] layer-norm output */
	float *qkv; /* [rows][3 d_max] */
	float *ctx; /* [rows][d_max] attention output, heads concatenated */
	float *h; /* [rows][dims] residual stream */
	float *tmp; /* [rows][dims] sublayer output before the residual add */
	float *ffn; /* [rows][ff_max] */
	float *pooled; /* [cap_seqs][dims] */
	float *attn_scratch; /* [pool size][attn_stride] */
	attention_ext_fn attention; /* bf16 products with int8 layers where the CPU has them */
	size_t attn_stride;
};

/* ---- loading ---- */

struct loader {
	const struct tfjs_weights *w;
	struct sy_error *err;
	enum linear_precision prec;
	char name[512];
};

static const char *nm(struct loader *l, const char *fmt, int i)
{
	snprintf(l->name, sizeof l->name, fmt, i);
	return l->name;
}

/* Size of dimension axis (negative: from the end) of tensor name, or -1. */
static int64_t dim_of(const struct tfjs_weights *w, const char *name, int axis)
{
	const struct tfjs_tensor *t = tfjs_weights_find(w, name);
	if (!t || t->n_dims == 0)
		return -1;
	if (axis < 0)
		axis += t->n_dims;
	return axis >= 0 && axis < t->n_dims ? t->shape[axis] : -1;
}

static enum sy_status ld_vec(struct loader *l, const char *name, int n, float **out)
{
	return tfjs_weights_f32(l->w, name, 1, (int64_t[]){n}, l->err, out);
}

/* Loads a TF [in][out] kernel (with n_lead leading dimensions of 1, as Conv2D kernels have) and
 * packs it transposed. */
static enum sy_status ld_linear(struct loader *l, const char *name, int n_lead, int in, int out,
                                struct linear *gw)
{
	int64_t shape[4] = {1, 1, 1, 1};
	shape[n_lead] = in;
	shape[n_lead + 1] = out;
	float *k;
	enum sy_status s = tfjs_weights_f32(l->w, name, n_lead + 2, shape, l->err, &k);
	if (s != SY_OK)
		return s;
	float *t = malloc((size_t)in * (size_t)out * sizeof *t);
	if (!t) {
		free(k);
		return sy_error_set(l->err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < in; i++)
		for (int o = 0; o < out; o++)
			t[(size_t)o * in + i] = k[(size_t)i * out + o];
	free(k);
	s = linear_pack(t, out, in, l->prec, l->err, gw);
	free(t);
	return s;
}

/* Tensor names of layer %d. */
#define N_HEAD_DIM                                                                               \
	P_STACK "Layer_%d/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/" \
	        "Reshape/shape/3"
#define N_ATTN_SCALE P_STACK "Layer_%d/TransformerLayer/MultiheadAttention/mul/y"
#define N_QKV_SPLIT P_STACK "Layer_%d/TransformerLayer/MultiheadAttention/Const"
#define N_LN_ATTN P_ENC "Layer_%d/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_"
#define N_QKV_K \
	P_MOD "Layer_%d/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0"
#define N_QKV_B                                                                         \
	P_ENC "Layer_%d/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/" \
	      "ConcatPartitions/concat"
#define N_OUT_K \
	P_MOD "Layer_%d/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0"
#define N_OUT_B                                                                            \
	P_ENC "Layer_%d/TransformerLayer/MultiheadAttention/output_transform_single/bias/" \
	      "ConcatPartitions/concat"
#define N_RES_K P_ENC "Layer_%d/TransformerLayer/dense/kernel/ConcatPartitions/concat"
#define N_RES_B P_ENC "Layer_%d/TransformerLayer/dense/bias/ConcatPartitions/concat"
#define N_LN_FFN P_ENC "Layer_%d/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_"
#define N_FFN1_K P_STACK "Layer_%d/TransformerLayer/FFN/conv1/Tensordot/Reshape_1"
#define N_FFN1_B P_ENC "Layer_%d/TransformerLayer/FFN/conv1/bias/ConcatPartitions/concat"
#define N_FFN2_K P_STACK "Layer_%d/TransformerLayer/FFN/conv2/Tensordot/Reshape_1"
#define N_FFN2_B P_ENC "Layer_%d/TransformerLayer/FFN/conv2/bias/ConcatPartitions/concat"
#define LN_SCALE "scale/ConcatPartitions/concat"
#define LN_BIAS "bias/ConcatPartitions/concat"

static enum sy_status ld_layer(struct loader *l, int i, int d_in, int n_heads, struct use_layer *L)
{
	const struct tfjs_weights *w = l->w;
	L->d_in = d_in;
	L->n_heads = n_heads;
	int32_t hd;
	enum sy_status s = tfjs_weights_scalar_i32(w, nm(l, N_HEAD_DIM, i), l->err, &hd);
	if (s != SY_OK)
		return s;
	if (hd <= 0 || (int64_t)hd * n_heads != d_in)
		return sy_error_set(l->err, SY_ERR_FORMAT,
		                    "%s: layer %d: %d heads of width %d do not make its width %d",
		                    w->path, i, n_heads, (int)hd, d_in);
	L->head_dim = hd;
	s = tfjs_weights_scalar_f32(w, nm(l, N_ATTN_SCALE, i), l->err, &L->attn_scale);
	if (s != SY_OK)
		return s;
	int32_t *split;
	s = tfjs_weights_i32(w, nm(l, N_QKV_SPLIT, i), 1, (int64_t[]){3}, l->err, &split);
	if (s != SY_OK)
		return s;
	int even = split[0] == d_in && split[1] == d_in && split[2] == d_in;
	free(split);
	if (!even)
		return sy_error_set(l->err, SY_ERR_FORMAT,
		                    "%s: layer %d: the QKV split is not three parts of %d", w->path,
		                    i, d_in);
	/* The widths after the attention block and inside the FFN come from the kernels. */
	L->d_out = (int)dim_of(w, nm(l, N_OUT_K, i), -1);
	L->d_ff = (int)dim_of(w, nm(l, N_FFN1_K, i), -1);
	if (L->d_out <= 0 || L->d_out > 65536 || L->d_ff <= 0 || L->d_ff > 65536)
		return sy_error_set(l->err, SY_ERR_FORMAT,
		                    "%s: layer %d: missing or malformed output_transform_single or "
		                    "FFN/conv1 kernel",
		                    w->path, i);
	const int di = d_in, dout = L->d_out, dff = L->d_ff;
	L->has_res = di != dout;
	s = ld_vec(l, nm(l, N_LN_ATTN LN_SCALE, i), di, &L->ln_attn_gamma);
	if (s == SY_OK)
		s = ld_vec(l, nm(l, N_LN_ATTN LN_BIAS, i), di, &L->ln_attn_beta);
	if (s == SY_OK)
		s = ld_linear(l, nm(l, N_QKV_K, i), 2, di, 3 * di, &L->qkv);
	if (s == SY_OK)
		s = ld_vec(l, nm(l, N_QKV_B, i), 3 * di, &L->qkv_bias);
	if (s == SY_OK)
		s = ld_linear(l, nm(l, N_OUT_K, i), 2, di, dout, &L->attn_out);
	if (s == SY_OK)
		s = ld_vec(l, nm(l, N_OUT_B, i), dout, &L->attn_out_bias);
	if (s == SY_OK && L->has_res)
		s = ld_linear(l, nm(l, N_RES_K, i), 0, di, dout, &L->res);
	if (s == SY_OK && L->has_res)
		s = ld_vec(l, nm(l, N_RES_B, i), dout, &L->res_bias);
	if (s == SY_OK)
		s = ld_vec(l, nm(l, N_LN_FFN LN_SCALE, i), dout, &L->ln_ffn_gamma);
	if (s == SY_OK)
		s = ld_vec(l, nm(l, N_LN_FFN LN_BIAS, i), dout, &L->ln_ffn_beta);
	if (s == SY_OK)
		s = ld_linear(l, nm(l, N_FFN1_K, i), 0, dout, dff, &L->ffn_up);
	if (s == SY_OK)
		s = ld_vec(l, nm(l, N_FFN1_B, i), dff, &L->ffn_up_bias);
	if (s == SY_OK)
		s = ld_linear(l, nm(l, N_FFN2_K, i), 0, dff, dout, &L->ffn_down);
	if (s == SY_OK)
		s = ld_vec(l, nm(l, N_FFN2_B, i), dout, &L->ffn_down_bias);
	return s;
}

static void layer_free(struct use_layer *L)
{
	linear_free(&L->qkv);
	linear_free(&L->attn_out);
	linear_free(&L->res);
	linear_free(&L->ffn_up);
	linear_free(&L->ffn_down);
	free(L->ln_attn_gamma);
	free(L->ln_attn_beta);
	free(L->qkv_bias);
	free(L->attn_out_bias);
	free(L->res_bias);
	free(L->ln_ffn_gamma);
	free(L->ln_ffn_beta);
	free(L->ffn_up_bias);
	free(L->ffn_down_bias);
}

static void scratch_free(struct use_lite *m)
{
	free(m->x0);
	free(m->xn);
	free(m->qkv);
	free(m->ctx);
	free(m->h);
	free(m->tmp);
	free(m->ffn);
	free(m->attn_scratch);
	m->x0 = m->xn = m->qkv = m->ctx = m->h = m->tmp = m->ffn = m->attn_scratch = NULL;
	m->cap_rows = m->cap_t = 0;
}

static void use_lite_free(struct use_lite *m)
{
	if (!m)
		return;
	use_tokenizer_free(m->tok);
	free(m->emb);
	free(m->inv_timescales);
	for (int i = 0; i < m->n_layers; i++)
		layer_free(&m->layers[i]);
	linear_free(&m->tanh_w);
	free(m->tanh_b);
	scratch_free(m);
	free(m->pooled);
	free(m->ids);
	free(m->lens);
	free(m->seq_start);
	sy_pool_free(m->pool);
	free(m);
}

/* Everything that comes from model.json and the shards. */
static enum sy_status load_weights(struct use_lite *m, const struct tfjs_weights *w,
                                   struct sy_error *err)
{
	struct loader l = {.w = w, .err = err, .prec = m->prec};
	const char *emb = "module/Embeddings_en";
	m->n_emb_rows = (int)dim_of(w, emb, 0);
	m->d_emb = (int)dim_of(w, emb, 1);
	if (m->n_emb_rows <= 0 || m->d_emb <= 0 || m->d_emb % 2 || m->d_emb > 65536)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: %s: expected a [vocabulary][even width] embedding table",
		                    w->path, emb);
	enum sy_status s =
	    tfjs_weights_f32(w, emb, 2, (int64_t[]){m->n_emb_rows, m->d_emb}, err, &m->emb);
	if (s == SY_OK)
		s = tfjs_weights_f32(w, P_STACK "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1",
		                     2, (int64_t[]){1, m->d_emb / 2}, err, &m->inv_timescales);
	int32_t n_heads = 0, max_tokens = 0;
	if (s == SY_OK)
		s = tfjs_weights_scalar_i32(w,
		                            P_STACK
		                            "Layer_1/TransformerLayer/MultiheadAttention/"
		                            "split_heads/split_last_dimension/Reshape/shape/2",
		                            err, &n_heads);
	if (s == SY_OK)
		s = tfjs_weights_scalar_f32(w,
		                            P_STACK "Layer_1/TransformerLayer/FFN/"
		                                    "layer_prepostprocess/layer_norm/Cast/x",
		                            err, &m->ln_eps);
	if (s == SY_OK)
		s = tfjs_weights_scalar_i32(w, P_KONA "ClipToMaxLength/Less/y", err, &max_tokens);
	if (s != SY_OK)
		return s;
	if (n_heads <= 0 || max_tokens <= 0 || max_tokens > 1 << 16 || !(m->ln_eps >= 0))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: implausible hyper-parameters (heads %d, token limit %d)",
		                    w->path, (int)n_heads, (int)max_tokens);
	m->max_tokens = max_tokens;
	int d = m->d_emb;
	m->d_max = d;
	for (int i = 0; i < USE_MAX_LAYERS; i++) {
		if (!tfjs_weights_find(w, nm(&l, N_QKV_K, i)))
			break;
		struct use_layer *L = &m->layers[i];
		m->n_layers = i + 1;
		s = ld_layer(&l, i, d, n_heads, L);
		if (s != SY_OK)
			return s;
		/* Only a first layer can change the width: later ones add into the residual
		 * stream in place. */
		if (L->has_res && i > 0)
			return sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "%s: layer %d changes the width (%d -> %d); only the first "
			    "layer may",
			    w->path, i, L->d_in, L->d_out);
		d = L->d_out;
		if (d > m->d_max)
			m->d_max = d;
		if (L->d_ff > m->ff_max)
			m->ff_max = L->d_ff;
	}
	if (m->n_layers == 0)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: no transformer layers (%sLayer_0/...)",
		                    w->path, P_MOD);
	m->dims = d;
	s = ld_linear(&l, P_HIDDEN "weights", 0, d, d, &m->tanh_w);
	if (s == SY_OK)
		s = ld_vec(&l, P_HIDDEN "bias", d, &m->tanh_b);
	return s;
}

static enum sy_status use_lite_load(const char *dir, const struct model_options *opts,
                                    struct sy_error *err, struct use_lite **out)
{
	*out = NULL;
	struct use_lite *m = calloc(1, sizeof *m);
	if (!m)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	m->prec = opts->precision;
	m->attention = attention_ext_for(m->prec == LINEAR_INT8);
	char *mj = sy_path_join(dir, "model.json"), *vj = sy_path_join(dir, "vocab.json");
	enum sy_status s = SY_OK;
	if (!mj || !vj)
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	struct tfjs_weights *w = NULL;
	if (s == SY_OK)
		s = tfjs_weights_open(mj, err, &w);
	if (s == SY_OK)
		s = load_weights(m, w, err);
	tfjs_weights_free(w);
	if (s == SY_OK)
		s = use_tokenizer_load(vj, err, &m->tok);
	if (s == SY_OK && use_tokenizer_vocab_size(m->tok) > m->n_emb_rows)
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: %d pieces but the embedding table has %d rows", vj,
		                 use_tokenizer_vocab_size(m->tok), m->n_emb_rows);
	if (s == SY_OK) {
		m->pool = sy_pool_create(opts->n_threads);
		if (!m->pool)
			s = sy_error_set(err, SY_ERR_NOMEM, "cannot create the thread pool");
	}
	free(mj);
	free(vj);
	if (s != SY_OK) {
		use_lite_free(m);
		return s;
	}
	if (opts->max_length > 0 && opts->max_length < m->max_tokens)
		m->max_tokens = opts->max_length;
	m->normalize = opts->normalize != 0;
	*out = m;
	return SY_OK;
}

/* ---- forward ---- */

static enum sy_status scratch_reserve(struct use_lite *m, int rows, int max_t, struct sy_error *err)
{
	if (rows <= m->cap_rows && max_t <= m->cap_t)
		return SY_OK;
	int cr = rows > m->cap_rows ? rows : m->cap_rows;
	int ct = max_t > m->cap_t ? max_t : m->cap_t;
	scratch_free(m);
	size_t r = cr ? (size_t)cr : 1;
	int nth = sy_pool_size(m->pool);
	m->attn_stride = attention_scratch_floats(ct ? ct : 1);
	m->x0 = malloc(r * (size_t)m->d_emb * sizeof(float));
	m->xn = malloc(r * (size_t)m->d_max * sizeof(float));
	m->qkv = malloc(r * 3 * (size_t)m->d_max * sizeof(float));
	m->ctx = malloc(r * (size_t)m->d_max * sizeof(float));
	m->h = malloc(r * (size_t)m->dims * sizeof(float));
	m->tmp = malloc(r * (size_t)m->dims * sizeof(float));
	m->ffn = malloc(r * (size_t)m->ff_max * sizeof(float));
	m->attn_scratch =
	    malloc((size_t)nth * (m->attn_stride ? m->attn_stride : 1) * sizeof(float));
	if (!m->x0 || !m->xn || !m->qkv || !m->ctx || !m->h || !m->tmp || !m->ffn ||
	    !m->attn_scratch) {
		scratch_free(m);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a batch of %d tokens",
		                    rows);
	}
	m->cap_rows = cr;
	m->cap_t = ct;
	return SY_OK;
}

struct fwd_ctx {
	struct use_lite *m;
	int rows, n_seqs;
	float *out; /* [n_seqs][dims] */
	int split_units; /* attention split over (text, head) units rather than inside each */
	double attn_cost; /* total cost of the (text, head) units */
};

/* x0 = E[id] + (E[id] + timing(pos)) for this part's rows: the graph's AddTimingSignal adds the
 * signal to the gathered embeddings, and Layer_0/add adds that to the embeddings once more. The
 * sum is formed in that order so the rounding matches. The angle pos * f is a float32 product as
 * in the graph (Mul of two float32 tensors); sin and cos are taken in double and rounded. */
static void embed_rows(struct fwd_ctx *c, int ith, int nth)
{
	struct use_lite *m = c->m;
	const int D = m->d_emb, half = D / 2;
	int b, e;
	sy_split(c->n_seqs, ith, nth, &b, &e);
	for (int s = b; s < e; s++) {
		for (int p = 0; p < m->lens[s]; p++) {
			int r = m->seq_start[s] + p;
			const float *er = m->emb + (size_t)m->ids[r] * D;
			float *x = m->x0 + (size_t)r * D;
			for (int i = 0; i < half; i++) {
				float a = (float)p * m->inv_timescales[i];
				x[i] = er[i] + (er[i] + (float)sin((double)a));
				x[half + i] = er[half + i] + (er[half + i] + (float)cos((double)a));
			}
		}
	}
}

/* dst[r] = LayerNorm(src[r]) over n for this part's rows; with add, src[r] += add[r] first. */
static void norm_rows(struct use_lite *m, float *src, const float *add, float *dst, int n,
                      const float *gamma, const float *beta, int rows, int ith, int nth)
{
	int b, e;
	sy_split(rows, ith, nth, &b, &e);
	for (int r = b; r < e; r++) {
		float *x = src + (size_t)r * n;
		if (add)
			add_f32(x, add + (size_t)r * n, n);
		if (dst)
			layer_norm_f32(dst + (size_t)r * m->d_max, x, gamma, beta, n, m->ln_eps);
	}
}

static void attention_step(struct fwd_ctx *c, const struct use_layer *L, int ith, int nth)
{
	struct use_lite *m = c->m;
	const int d = L->d_in, nh = L->n_heads, hd = L->head_dim, ld = 3 * m->d_max;
	float *scratch = m->attn_scratch + (size_t)ith * m->attn_stride;
	if (!c->split_units) {
		/* Few texts: every thread takes part in each one (heads x rows inside). */
		for (int s = 0; s < c->n_seqs; s++) {
			int len = m->lens[s];
			if (len == 0)
				continue;
			const float *q = m->qkv + (size_t)m->seq_start[s] * ld;
			m->attention(q, q + d, q + 2 * d, ld,
			             m->ctx + (size_t)m->seq_start[s] * m->d_max, m->d_max, len,
			             len, -1, NULL, 0, nh, hd, L->attn_scale, scratch, ith, nth);
		}
		return;
	}
	/* Many texts: hand out whole (text, head) units balanced by their cost (about
	 * len^2 + len), each unit going to the part its cost midpoint falls in. */
	double acc = 0;
	for (int s = 0; s < c->n_seqs; s++) {
		int len = m->lens[s];
		double cost = (double)len * len + len;
		for (int h = 0; h < nh; h++, acc += cost) {
			if (len == 0)
				continue;
			int owner = (int)((acc + cost / 2) * nth / c->attn_cost);
			if (owner >= nth)
				owner = nth - 1;
			if (owner != ith)
				continue;
			const float *q = m->qkv + (size_t)m->seq_start[s] * ld + (size_t)h * hd;
			m->attention(q, q + d, q + 2 * d, ld,
			             m->ctx + (size_t)m->seq_start[s] * m->d_max + (size_t)h * hd,
			             m->d_max, len, len, -1, NULL, 0, 1, hd, L->attn_scale, scratch,
			             0, 1);
		}
	}
}

/* pooled[s] = sum of the text's rows of h / max(len, 1) (the graph's masked Sum and RealDiv). */
static void pool_rows(struct fwd_ctx *c, int ith, int nth)
{
	struct use_lite *m = c->m;
	const int D = m->dims;
	int b, e;
	sy_split(c->n_seqs, ith, nth, &b, &e);
	for (int s = b; s < e; s++) {
		float *p = m->pooled + (size_t)s * D;
		memset(p, 0, (size_t)D * sizeof *p);
		for (int t = 0; t < m->lens[s]; t++)
			add_f32(p, m->h + (size_t)(m->seq_start[s] + t) * D, D);
		float n = (float)(m->lens[s] > 1 ? m->lens[s] : 1);
		for (int j = 0; j < D; j++)
			p[j] /= n;
	}
}

/* y / sqrt(max(sum y^2, 1e-12)), the graph's l2_normalize. */
static void l2_row(float *y, int D)
{
	double ss = 0;
	for (int j = 0; j < D; j++)
		ss += (double)y[j] * y[j];
	float k = (float)(1.0 / sqrt(ss > 1e-12 ? ss : 1e-12));
	for (int j = 0; j < D; j++)
		y[j] *= k;
}

static void l2_rows(struct fwd_ctx *c, int ith, int nth)
{
	int b, e;
	sy_split(c->n_seqs, ith, nth, &b, &e);
	for (int s = b; s < e; s++)
		l2_row(c->out + (size_t)s * c->m->dims, c->m->dims);
}

static void forward_part(void *p, int ith, int nth)
{
	struct fwd_ctx *c = p;
	struct use_lite *m = c->m;
	const int rows = c->rows, dm = m->d_max, D = m->dims;
	if (rows > 0) {
		embed_rows(c, ith, nth);
		sy_pool_barrier(m->pool);
	}
	for (int l = 0; rows > 0 && l < m->n_layers; l++) {
		const struct use_layer *L = &m->layers[l];
		/* Attention block: pre-norm, residual through the dense layer when the width
		 * changes (only layer 0, whose input is x0). */
		const float *in = l == 0 ? m->x0 : m->h;
		norm_rows(m, (float *)in, NULL, m->xn, L->d_in, L->ln_attn_gamma, L->ln_attn_beta,
		          rows, ith, nth);
		if (L->has_res)
			linear_run(m->x0, m->d_emb, &L->res, L->res_bias, GEMM_EPILOGUE_NONE, m->h,
			           D, rows, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->xn, dm, &L->qkv, L->qkv_bias, GEMM_EPILOGUE_NONE, m->qkv, 3 * dm,
		           rows, ith, nth);
		sy_pool_barrier(m->pool);
		attention_step(c, L, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->ctx, dm, &L->attn_out, L->attn_out_bias, GEMM_EPILOGUE_NONE, m->tmp,
		           D, rows, ith, nth);
		sy_pool_barrier(m->pool);
		/* h += attention; then the feed-forward block's pre-norm. */
		norm_rows(m, m->h, m->tmp, m->xn, D, L->ln_ffn_gamma, L->ln_ffn_beta, rows, ith,
		          nth);
		sy_pool_barrier(m->pool);
		linear_run(m->xn, dm, &L->ffn_up, L->ffn_up_bias, GEMM_EPILOGUE_RELU, m->ffn,
		           m->ff_max, rows, ith, nth);
		sy_pool_barrier(m->pool);
		linear_run(m->ffn, m->ff_max, &L->ffn_down, L->ffn_down_bias, GEMM_EPILOGUE_NONE,
		           m->tmp, D, rows, ith, nth);
		sy_pool_barrier(m->pool);
		norm_rows(m, m->h, m->tmp, NULL, D, NULL, NULL, rows, ith, nth);
		sy_pool_barrier(m->pool);
	}
	pool_rows(c, ith, nth);
	sy_pool_barrier(m->pool);
	linear_run(m->pooled, D, &m->tanh_w, m->tanh_b, GEMM_EPILOGUE_TANH, c->out, D, c->n_seqs,
	           ith, nth);
	if (m->normalize) {
		sy_pool_barrier(m->pool);
		l2_rows(c, ith, nth);
	}
}

/* Runs the packed batch of n texts into out[n][dims]. */
static enum sy_status run_batch(struct use_lite *m, int n, struct sy_error *err, float *out)
{
	if (n == 0)
		return SY_OK;
	int rows = 0, max_t = 0;
	struct fwd_ctx c = {.m = m, .n_seqs = n, .out = out};
	for (int s = 0; s < n; s++) {
		m->seq_start[s] = rows;
		rows += m->lens[s];
		if (m->lens[s] > max_t)
			max_t = m->lens[s];
		c.attn_cost +=
		    ((double)m->lens[s] * m->lens[s] + m->lens[s]) * m->layers[0].n_heads;
	}
	m->seq_start[n] = rows;
	c.rows = rows;
	enum sy_status s = scratch_reserve(m, rows, max_t, err);
	if (s != SY_OK)
		return s;
	int nth = sy_pool_size(m->pool);
	c.split_units = nth > 1 && n * m->layers[0].n_heads >= 4 * nth;
	sy_pool_run(m->pool, forward_part, &c);
	return SY_OK;
}

static enum sy_status batch_reserve(struct use_lite *m, int tokens, int seqs, struct sy_error *err)
{
	if (tokens > m->cap_tokens) {
		int cap = tokens > 2 * m->cap_tokens ? tokens : 2 * m->cap_tokens;
		int32_t *ids = realloc(m->ids, (size_t)cap * sizeof *ids);
		if (!ids)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d tokens",
			                    tokens);
		m->ids = ids;
		m->cap_tokens = cap;
	}
	if (seqs > m->cap_seqs) {
		int cap = seqs > 2 * m->cap_seqs ? seqs : 2 * m->cap_seqs;
		int *lens = realloc(m->lens, (size_t)cap * sizeof *lens);
		if (lens)
			m->lens = lens;
		int *starts = realloc(m->seq_start, ((size_t)cap + 1) * sizeof *starts);
		if (starts)
			m->seq_start = starts;
		float *pooled = realloc(m->pooled, (size_t)cap * (size_t)m->dims * sizeof *pooled);
		if (pooled)
			m->pooled = pooled;
		if (!lens || !starts || !pooled)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d texts", seqs);
		m->cap_seqs = cap;
	}
	return SY_OK;
}

/* ---- the encode task ---- */

static int use_lite_dims(const void *impl)
{
	return ((const struct use_lite *)impl)->dims;
}

/* prefix + text, tokenised; only the first max_tokens positions reach the model
 * (ClipToMaxLength), unless truncate is off and the text is longer. USE adds no special
 * tokens. */
static enum sy_status use_lite_prepare(const void *impl, const struct model_input *in,
                                       struct sy_error *err, struct model_prepared *out)
{
	const struct use_lite *m = impl;
	const char *text;
	size_t len;
	char *joined;
	if (model_join_prefix(in, err, &text, &len, &joined) != SY_OK)
		return SY_ERR_NOMEM;
	int32_t *ids = NULL;
	int n = 0;
	enum sy_status s = use_tokenizer_encode(m->tok, text, len, err, &ids, &n);
	free(joined);
	if (s == SY_OK && n > m->max_tokens) {
		if (in->truncate)
			n = m->max_tokens;
		else
			s = model_too_long(err, n, m->max_tokens);
	}
	if (s != SY_OK) {
		free(ids);
		return s;
	}
	out->enc.ids = ids;
	out->enc.n = n;
	out->n_tokens = n;
	return SY_OK;
}

/* Packs the items in chunks of USE_BATCH_TOKENS / USE_BATCH_SEQS, runs each without the
 * model's final L2 step, then normalises the rows whose option (or the model default) asks
 * for it. */
static enum sy_status use_lite_run(void *impl, const struct model_item *items, int n,
                                   struct sy_error *err, float *out, struct model_item_result *res)
{
	(void)res;
	struct use_lite *m = impl;
	const int dims = m->dims, model_default = m->normalize;
	int first = 0, n_batch = 0, n_tokens = 0;
	enum sy_status s = SY_OK;
	m->normalize = 0;
	for (int i = 0; i < n && s == SY_OK; i++) {
		const struct tok_encoding *enc = &items[i].prep->enc;
		if (n_batch > 0 &&
		    (n_tokens + enc->n > USE_BATCH_TOKENS || n_batch >= USE_BATCH_SEQS)) {
			s = run_batch(m, n_batch, err, out + (size_t)first * dims);
			first = i;
			n_batch = n_tokens = 0;
		}
		if (s == SY_OK)
			s = batch_reserve(m, n_tokens + enc->n, n_batch + 1, err);
		if (s == SY_OK) {
			if (enc->n > 0)
				memcpy(m->ids + n_tokens, enc->ids,
				       (size_t)enc->n * sizeof *enc->ids);
			m->lens[n_batch++] = enc->n;
			n_tokens += enc->n;
		}
	}
	if (s == SY_OK)
		s = run_batch(m, n_batch, err, out + (size_t)first * dims);
	m->normalize = model_default;
	for (int i = 0; s == SY_OK && i < n; i++) {
		const signed char want = items[i].in->normalize;
		if (want < 0 ? model_default : want)
			l2_row(out + (size_t)i * dims, dims);
	}
	return s;
}

static void use_lite_close(void *impl)
{
	use_lite_free(impl);
}

static int use_lite_max_tokens(const void *impl)
{
	return ((const struct use_lite *)impl)->max_tokens;
}

static const struct model_ops use_lite_ops = {.close = use_lite_close,
                                              .max_tokens = use_lite_max_tokens};
static const struct model_encode_task use_lite_encode = {
    .output = MODEL_OUTPUT_DENSE,
    .dims = use_lite_dims,
    .prepare = use_lite_prepare,
    .run = use_lite_run,
};

/* A TF.js directory (model.json) without a Hugging Face config.json. */
bool use_lite_detect(const struct model_desc *d)
{
	return d->has[MODEL_FILE_TFJS] && !d->has[MODEL_FILE_CONFIG];
}

enum sy_status use_lite_open(const struct model_desc *d, const struct model_options *opts,
                             struct sy_error *err, struct model *out)
{
	if (opts->pooling != POOLING_DEFAULT && opts->pooling != POOLING_MEAN)
		return sy_error_set(
		    err, SY_ERR_UNSUPPORTED,
		    "use-lite: the model pools by its own mean over tokens; pooling "
		    "%s is not available",
		    pooling_mode_name(opts->pooling));
	struct use_lite *m;
	enum sy_status s = use_lite_load(d->path, opts, err, &m);
	if (s != SY_OK)
		return s;
	out->arch = "use-lite";
	out->impl = m;
	out->ops = &use_lite_ops;
	out->encode = &use_lite_encode;
	return SY_OK;
}

const struct use_tokenizer *use_lite_model_tokenizer(const struct model *m)
{
	if (!m || m->ops != &use_lite_ops)
		return NULL;
	return ((const struct use_lite *)m->impl)->tok;
}

/* ---- the built-in id ---- */

/* Writes a/b into buf and returns buf when that directory holds model.json. */
static const char *try_dir(char *buf, size_t cap, const char *a, const char *b)
{
	int k = snprintf(buf, cap, "%s/%s", a, b);
	if (k < 0 || (size_t)k + sizeof "/model.json" > cap)
		return NULL;
	memcpy(buf + k, "/model.json", sizeof "/model.json");
	int ok = sy_path_exists(buf);
	buf[k] = '\0';
	return ok ? buf : NULL;
}

/* Calls try_dir(rel) from the executable's directory and up to two of its parents (the binary
 * sits in the repository root, in a build directory, or in its tests directory). */
static const char *try_exe_dirs(char *buf, size_t cap, const char *rel)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash || slash == exe)
			return NULL;
		*slash = '\0';
		if (try_dir(buf, cap, exe, rel))
			return buf;
	}
	return NULL;
}

const char *use_lite_resolve(char *buf, size_t cap)
{
	const char *env = getenv("SWITCHYARD_MODELS");
	if (env && *env && try_dir(buf, cap, env, USE_LITE_ID))
		return buf;
	if (try_dir(buf, cap, ".", "models/" USE_LITE_ID))
		return buf;
	if (try_exe_dirs(buf, cap, "models/" USE_LITE_ID))
		return buf;
	if (try_dir(buf, cap, "..", "shared/models/" USE_LITE_ID))
		return buf;
	if (try_exe_dirs(buf, cap, "../shared/models/" USE_LITE_ID))
		return buf;
	return NULL;
}
