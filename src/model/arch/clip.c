/* CLIP and SigLIP: a text tower and a vision tower that embed into one shared space, as the
 * encode task (text or image items) and the score task (a text query against image items:
 * zero-shot classification).
 *
 * The maths follows transformers' modeling_clip.py and modeling_siglip.py. Both towers are
 * pre-LN transformers:
 *   per layer:  x = x + Attn(LN1(x)) W_o^T + b_o ;  x = x + fc2(act(fc1(LN2(x))))
 * CLIP text:    x = tok[id] + pos[i], causal attention, final LN, the row of the first EOS
 *               (or, in old configs with eos_token_id 2, of the largest id), text_projection.
 * CLIP vision:  patches (conv without bias, done as a GEMM on unfolded patches), a class token
 *               in front, + pos, pre_layrnorm, layers, post_layernorm of the class row,
 *               visual_projection. Activation quick_gelu (x sigmoid(1.702 x)).
 * SigLIP text:  padded to max_position_embeddings (64 as it was trained) with the pad id, no
 *               mask, final LN, the last row, head (linear with bias).
 * SigLIP vision: patches (conv with bias) + pos, no class token, layers, post_layernorm, then
 *               the attention-pooling head: a learned probe attends over the rows
 *               (nn.MultiheadAttention), out_proj, + LN/MLP residual. Activation gelu tanh.
 * Scores: CLIP exp(logit_scale) cos, softmax over the request's items (the engine does the
 * softmax); SigLIP sigmoid(exp(logit_scale) cos + logit_bias).
 *
 * prepare tokenises a text, or decodes and preprocesses an image (image/image.h) into its
 * pixel planes (kept in model_prepared.extra); an image costs its patch count in the batcher's
 * token budget. run packs the items of one kind back to back, in chunks that fit the scratch
 * reserved at open, and runs each tower over a chunk as one thread-pool run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/threads.h"
#include "image/image.h"
#include "model/arch/weight_loader.h"
#include "model/families.h"
#include "model/formats/weights.h"
#include "tensor/attention.h"
#include "tensor/linear.h"
#include "tensor/ops.h"
#include "text/spm.h"
#include "text/tokenizer.h"

#define CLIP_CHUNK_ROWS 2048 /* tokens per tower run, at least one sequence */

enum clip_act { CLIP_ACT_QUICK_GELU, CLIP_ACT_GELU_TANH, CLIP_ACT_GELU_ERF };

struct clip_layer {
	struct linear qkv; /* [3H][H]: q, k, v stacked */
	float *qkv_b; /* [3H] */
	struct linear o; /* [H][H] */
	float *o_b; /* [H] */
	float *ln1_g, *ln1_b, *ln2_g, *ln2_b; /* [H] */
	struct linear fc1; /* [I][H] */
	float *fc1_b; /* [I] */
	struct linear fc2; /* [H][I] */
	float *fc2_b; /* [H] */
};

struct clip_tower {
	int H, I, n_layers, n_heads;
	float eps;
	enum clip_act act;
	struct clip_layer *layers; /* [n_layers] */
	float *pos; /* [n_pos][H] */
	int n_pos;
};

struct clip {
	bool siglip;
	struct clip_tower text, vision;
	struct tokenizer *tok;
	struct image_preproc pp;
	/* text */
	float *tok_emb; /* [vocab][H_text] */
	int vocab;
	float *final_g, *final_b; /* [H_text] */
	struct linear text_proj; /* [dims][H_text] (SigLIP: the head, with text_proj_b) */
	float *text_proj_b; /* [dims] or NULL */
	int eos_id, pad_id;
	bool eos_argmax; /* legacy configs (eos_token_id 2): the EOS is the largest id */
	int max_text; /* tokens per text (SigLIP: every text is padded to it) */
	bool siglip_canon; /* the tokenizer is spiece.model: texts first go through
	                      SiglipTokenizer's lowercasing and canonicalize_text (text/spm.h) */
	/* vision */
	int image_size, patch, grid, n_patches, seq_v; /* seq_v: rows per image */
	struct linear patch_w; /* [H_vision][3 p p] */
	float *patch_b; /* [H_vision] (SigLIP) or NULL */
	float *cls; /* [H_vision] (CLIP) */
	float *pre_g, *pre_b; /* CLIP pre_layrnorm */
	float *post_g, *post_b; /* post_layernorm */
	struct linear vis_proj; /* [dims][H_vision] (CLIP) */
	/* SigLIP's attention-pooling head */
	float *probe_q; /* [H] the probe's query, projected once at load */
	struct linear head_kv; /* [2H][H] */
	float *head_kv_b; /* [2H] */
	struct linear head_o; /* [H][H] */
	float *head_o_b;
	float *head_ln_g, *head_ln_b;
	struct linear head_fc1, head_fc2;
	float *head_fc1_b, *head_fc2_b;
	int dims; /* the shared space */
	float logit_scale, logit_bias; /* exp(logit_scale) already taken */
	size_t weight_bytes;
	struct sy_pool *pool;
	/* scratch for CLIP_CHUNK_ROWS rows */
	int cap_rows;
	float *x, *tmp, *qkv, *ctx, *ffn, *unfold; /* [rows][H], [rows][H], [rows][3H], ... */
	float *causal; /* [2 max_text - 1]: 0 for keys at or before the query, -1e30 after */
	float *attn_scratch;
	size_t attn_stride;
	attention_ext_fn attention; /* bf16 products with int8 layers where the CPU has them */
};

/* What prepare keeps beside the tokens: an image's pixel planes, and for score the query's
 * tokens. Text items of encode have none. */
struct clip_extra {
	float *px; /* [3][S][S], or NULL for a text item */
	struct tok_encoding query; /* score: the query (n 0 otherwise) */
	float *query_px; /* score with an image as the query: its [3][S][S], else NULL */
};

static void clip_free_extra(void *extra)
{
	struct clip_extra *e = extra;
	if (!e)
		return;
	free(e->px);
	free(e->query_px);
	tok_encoding_free(&e->query);
	free(e);
}

static bool is_image(const struct model_prepared *p)
{
	return p->extra && ((const struct clip_extra *)p->extra)->px;
}

/* ---- loading ---- */

static const cJSON *obj(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsObject(v) ? v : NULL;
}

static double num(const cJSON *o, const char *k, double def)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static enum sy_status tower_config(const cJSON *c, bool siglip, bool text, const char *name,
                                   struct sy_error *err, struct clip_tower *t)
{
	/* transformers' defaults (CLIPTextConfig, CLIPVisionConfig, Siglip*Config) */
	t->H = (int)num(c, "hidden_size", text ? (siglip ? 768 : 512) : 768);
	t->I = (int)num(c, "intermediate_size", text ? (siglip ? 3072 : 2048) : 3072);
	t->n_layers = (int)num(c, "num_hidden_layers", 12);
	t->n_heads = (int)num(c, "num_attention_heads", text ? (siglip ? 12 : 8) : 12);
	t->eps = (float)num(c, "layer_norm_eps", siglip ? 1e-6 : 1e-5);
	const cJSON *a = c ? cJSON_GetObjectItemCaseSensitive(c, "hidden_act") : NULL;
	const char *act = cJSON_IsString(a) ? a->valuestring
	                  : siglip          ? "gelu_pytorch_tanh"
	                                    : "quick_gelu";
	if (!strcmp(act, "quick_gelu"))
		t->act = CLIP_ACT_QUICK_GELU;
	else if (!strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_new"))
		t->act = CLIP_ACT_GELU_TANH;
	else if (!strcmp(act, "gelu"))
		t->act = CLIP_ACT_GELU_ERF;
	else
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "%s: hidden_act \"%s\"", name, act);
	if (t->H <= 0 || t->I <= 0 || t->n_layers < 0 || t->n_layers > 256 || t->n_heads <= 0 ||
	    t->H % t->n_heads || t->H > 16384 || t->I > 65536)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: bad sizes in %s_config", name,
		                    text ? "text" : "vision");
	return SY_OK;
}

static enum sy_status load_layers(struct weight_loader *l, struct clip_tower *t, const char *pre)
{
	const int H = t->H, I = t->I;
	t->layers = calloc((size_t)(t->n_layers ? t->n_layers : 1), sizeof *t->layers);
	if (!t->layers)
		return sy_error_set(l->err, SY_ERR_NOMEM, "out of memory");
	char q[96], k[96], v[96], o[96], n1[96], n2[96], f1[96], f2[96];
	snprintf(q, sizeof q, "%s.encoder.layers.%%d.self_attn.q_proj", pre);
	snprintf(k, sizeof k, "%s.encoder.layers.%%d.self_attn.k_proj", pre);
	snprintf(v, sizeof v, "%s.encoder.layers.%%d.self_attn.v_proj", pre);
	snprintf(o, sizeof o, "%s.encoder.layers.%%d.self_attn.out_proj", pre);
	snprintf(n1, sizeof n1, "%s.encoder.layers.%%d.layer_norm1", pre);
	snprintf(n2, sizeof n2, "%s.encoder.layers.%%d.layer_norm2", pre);
	snprintf(f1, sizeof f1, "%s.encoder.layers.%%d.mlp.fc1", pre);
	snprintf(f2, sizeof f2, "%s.encoder.layers.%%d.mlp.fc2", pre);
	enum sy_status s = SY_OK;
	for (int i = 0; s == SY_OK && i < t->n_layers; i++) {
		struct clip_layer *L = &t->layers[i];
		const char *const qkv[] = {q, k, v};
		const char *const po[] = {o}, *const p1[] = {f1}, *const p2[] = {f2};
		s = weight_stacked(l, &L->qkv, &L->qkv_b, qkv, (int[]){H, H, H}, 3, H, i);
		if (s == SY_OK)
			s = weight_stacked(l, &L->o, &L->o_b, po, (int[]){H}, 1, H, i);
		if (s == SY_OK)
			s = weight_stacked_norm(l, &L->ln1_g, &L->ln1_b, n1, H, i);
		if (s == SY_OK)
			s = weight_stacked_norm(l, &L->ln2_g, &L->ln2_b, n2, H, i);
		if (s == SY_OK)
			s = weight_stacked(l, &L->fc1, &L->fc1_b, p1, (int[]){I}, 1, H, i);
		if (s == SY_OK)
			s = weight_stacked(l, &L->fc2, &L->fc2_b, p2, (int[]){H}, 1, I, i);
	}
	return s;
}

static void tower_free(struct clip_tower *t)
{
	for (int i = 0; t->layers && i < t->n_layers; i++) {
		struct clip_layer *L = &t->layers[i];
		linear_free(&L->qkv);
		linear_free(&L->o);
		linear_free(&L->fc1);
		linear_free(&L->fc2);
		free(L->qkv_b);
		free(L->o_b);
		free(L->ln1_g);
		free(L->ln1_b);
		free(L->ln2_g);
		free(L->ln2_b);
		free(L->fc1_b);
		free(L->fc2_b);
	}
	free(t->layers);
	free(t->pos);
}

static void clip_close(void *impl)
{
	struct clip *c = impl;
	if (!c)
		return;
	tower_free(&c->text);
	tower_free(&c->vision);
	tokenizer_free(c->tok);
	free(c->tok_emb);
	free(c->final_g);
	free(c->final_b);
	linear_free(&c->text_proj);
	free(c->text_proj_b);
	linear_free(&c->patch_w);
	free(c->patch_b);
	free(c->cls);
	free(c->pre_g);
	free(c->pre_b);
	free(c->post_g);
	free(c->post_b);
	linear_free(&c->vis_proj);
	free(c->probe_q);
	linear_free(&c->head_kv);
	free(c->head_kv_b);
	linear_free(&c->head_o);
	free(c->head_o_b);
	free(c->head_ln_g);
	free(c->head_ln_b);
	linear_free(&c->head_fc1);
	linear_free(&c->head_fc2);
	free(c->head_fc1_b);
	free(c->head_fc2_b);
	free(c->x);
	free(c->tmp);
	free(c->qkv);
	free(c->ctx);
	free(c->ffn);
	free(c->unfold);
	free(c->causal);
	free(c->attn_scratch);
	sy_pool_free(c->pool);
	free(c);
}

/* A scalar parameter stored as [] or [1]. */
static enum sy_status scalar(const struct safetensors *st, const char *name, bool required,
                             float def, struct sy_error *err, float *out)
{
	*out = def;
	const struct st_tensor *t = safetensors_find(st, name);
	if (!t)
		return required
		           ? sy_error_set(err, SY_ERR_FORMAT, "%s: no %s tensor", st->path, name)
		           : SY_OK;
	if (t->n_elems != 1)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: %s is not a scalar", st->path, name);
	return safetensors_tensor_read_f32(t, err, out);
}

/* SigLIP's pooling head; the probe's query projection is computed here once. */
static enum sy_status load_siglip_head(struct weight_loader *l, struct clip *c)
{
	const int H = c->vision.H, I = c->vision.I;
	float *probe = NULL, *in_w = NULL, *in_b = NULL;
	enum sy_status s =
	    weight_tensor(l, &probe, 3, (int64_t[]){1, 1, H}, "vision_model.head.probe");
	if (s == SY_OK)
		s = weight_tensor(l, &in_w, 2, (int64_t[]){3 * H, H},
		                  "vision_model.head.attention.in_proj_weight");
	if (s == SY_OK)
		s = weight_tensor(l, &in_b, 1, (int64_t[]){3 * H},
		                  "vision_model.head.attention.in_proj_bias");
	if (s == SY_OK) {
		c->probe_q = malloc((size_t)H * sizeof *c->probe_q);
		c->head_kv_b = malloc((size_t)2 * H * sizeof *c->head_kv_b);
		if (!c->probe_q || !c->head_kv_b)
			s = sy_error_set(l->err, SY_ERR_NOMEM, "out of memory");
	}
	if (s == SY_OK) {
		for (int r = 0; r < H; r++) {
			double acc = in_b[r];
			for (int k = 0; k < H; k++)
				acc += (double)in_w[(size_t)r * H + k] * probe[k];
			c->probe_q[r] = (float)acc;
		}
		memcpy(c->head_kv_b, in_b + H, (size_t)2 * H * sizeof *in_b);
		s = linear_pack(in_w + (size_t)H * H, 2 * H, H, l->prec, l->err, &c->head_kv);
	}
	free(probe);
	free(in_w);
	free(in_b);
	if (s == SY_OK)
		s = weight_linear(l, &c->head_o, &c->head_o_b, H, H,
		                  "vision_model.head.attention.out_proj");
	if (s == SY_OK)
		s = weight_norm(l, &c->head_ln_g, &c->head_ln_b, H, "vision_model.head.layernorm");
	if (s == SY_OK)
		s = weight_linear(l, &c->head_fc1, &c->head_fc1_b, I, H,
		                  "vision_model.head.mlp.fc1");
	if (s == SY_OK)
		s = weight_linear(l, &c->head_fc2, &c->head_fc2_b, H, I,
		                  "vision_model.head.mlp.fc2");
	return s;
}

static enum sy_status load_weights(struct clip *c, const struct safetensors *st,
                                   enum linear_precision prec, struct sy_error *err)
{
	struct weight_loader l = {.st = st, .prefix = "", .prec = prec, .err = err};
	c->attention = attention_ext_for(prec == LINEAR_INT8);
	const int Ht = c->text.H, Hv = c->vision.H, p = c->patch;
	enum sy_status s = weight_tensor(&l, &c->tok_emb, 2, (int64_t[]){c->vocab, Ht},
	                                 "text_model.embeddings.token_embedding.weight");
	if (s == SY_OK)
		s = weight_tensor(&l, &c->text.pos, 2, (int64_t[]){c->text.n_pos, Ht},
		                  "text_model.embeddings.position_embedding.weight");
	if (s == SY_OK)
		s = load_layers(&l, &c->text, "text_model");
	if (s == SY_OK)
		s = weight_norm(&l, &c->final_g, &c->final_b, Ht, "text_model.final_layer_norm");
	if (s == SY_OK && c->siglip)
		s = weight_linear(&l, &c->text_proj, &c->text_proj_b, c->dims, Ht,
		                  "text_model.head");
	else if (s == SY_OK)
		s = weight_linear(&l, &c->text_proj, NULL, c->dims, Ht, "text_projection");
	/* The patch convolution [H][3][p][p] is a linear layer over unfolded patches. */
	float *pw = NULL;
	if (s == SY_OK)
		s = weight_tensor(&l, &pw, 4, (int64_t[]){Hv, 3, p, p},
		                  "vision_model.embeddings.patch_embedding.weight");
	if (s == SY_OK)
		s = linear_pack(pw, Hv, 3 * p * p, prec, err, &c->patch_w);
	free(pw);
	if (s == SY_OK && c->siglip)
		s = weight_tensor(&l, &c->patch_b, 1, (int64_t[]){Hv},
		                  "vision_model.embeddings.patch_embedding.bias");
	if (s == SY_OK && !c->siglip)
		s = weight_tensor(&l, &c->cls, 1, (int64_t[]){Hv},
		                  "vision_model.embeddings.class_embedding");
	if (s == SY_OK)
		s = weight_tensor(&l, &c->vision.pos, 2, (int64_t[]){c->vision.n_pos, Hv},
		                  "vision_model.embeddings.position_embedding.weight");
	if (s == SY_OK && !c->siglip)
		s = weight_norm(&l, &c->pre_g, &c->pre_b, Hv, "vision_model.pre_layrnorm");
	if (s == SY_OK)
		s = load_layers(&l, &c->vision, "vision_model");
	if (s == SY_OK)
		s = weight_norm(&l, &c->post_g, &c->post_b, Hv, "vision_model.post_layernorm");
	if (s == SY_OK && !c->siglip)
		s = weight_linear(&l, &c->vis_proj, NULL, c->dims, Hv, "visual_projection");
	if (s == SY_OK && c->siglip)
		s = load_siglip_head(&l, c);
	float scale = 0;
	if (s == SY_OK)
		s = scalar(st, "logit_scale", false, c->siglip ? logf(10.0f) : 2.6592f, err,
		           &scale);
	if (s == SY_OK)
		s = scalar(st, "logit_bias", false, c->siglip ? -10.0f : 0.0f, err, &c->logit_bias);
	c->logit_scale = expf(scale);
	c->weight_bytes = l.bytes;
	return s;
}

/* Scratch for CLIP_CHUNK_ROWS rows (or one sequence, if longer). */
static enum sy_status reserve(struct clip *c, struct sy_error *err)
{
	int rows = CLIP_CHUNK_ROWS;
	if (rows < c->seq_v)
		rows = c->seq_v;
	if (rows < c->max_text)
		rows = c->max_text;
	const size_t H = (size_t)(c->text.H > c->vision.H ? c->text.H : c->vision.H);
	const size_t I = (size_t)(c->text.I > c->vision.I ? c->text.I : c->vision.I);
	const size_t r = (size_t)rows, pp = 3 * (size_t)c->patch * c->patch;
	const int maxt = c->seq_v > c->max_text ? c->seq_v : c->max_text;
	c->cap_rows = rows;
	c->x = malloc(r * H * sizeof(float));
	c->tmp = malloc(r * H * sizeof(float));
	c->qkv = malloc(r * 3 * H * sizeof(float));
	c->ctx = malloc(r * H * sizeof(float));
	c->ffn = malloc(r * (I > 2 * H ? I : 2 * H) * sizeof(float));
	c->unfold = malloc(r * pp * sizeof(float));
	c->causal = malloc((size_t)(2 * c->max_text - 1) * sizeof(float));
	c->attn_stride = attention_scratch_floats(maxt);
	c->attn_scratch = malloc((size_t)sy_pool_size(c->pool) * c->attn_stride * sizeof(float));
	if (!c->x || !c->tmp || !c->qkv || !c->ctx || !c->ffn || !c->unfold || !c->causal ||
	    !c->attn_scratch)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for the clip scratch");
	for (int d = -(c->max_text - 1); d < c->max_text; d++)
		c->causal[d + c->max_text - 1] = d > 0 ? -1e30f : 0.0f;
	return SY_OK;
}

/* ---- forward ---- */

struct tower_run {
	struct clip *c;
	const struct clip_tower *t;
	int rows, n_seqs, seq_len; /* sequences of seq_len rows each (one kind per run) ... */
	const int *lens; /* ... or of lens[i] rows (CLIP texts), or NULL */
	bool causal;
	const struct model_stop *stop;
	bool stopped;
};

static void act_rows(enum clip_act a, float *x, int rows, int n, int ld, int ith, int nth)
{
	int b, e;
	sy_split(rows, ith, nth, &b, &e);
	for (int r = b; r < e; r++) {
		float *v = x + (size_t)r * ld;
		switch (a) {
		case CLIP_ACT_QUICK_GELU:
			for (int j = 0; j < n; j++)
				v[j] = v[j] / (1.0f + expf(-1.702f * v[j]));
			break;
		case CLIP_ACT_GELU_TANH: gelu_tanh_f32(v, n); break;
		case CLIP_ACT_GELU_ERF: gelu_erf_f32(v, n); break;
		}
	}
}

static void norm_rows(float *y, const float *x, const float *g, const float *b, int rows, int H,
                      float eps, int ith, int nth)
{
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++)
		layer_norm_f32(y + (size_t)r * H, x + (size_t)r * H, g, b, H, eps);
}

static void add_rows(float *x, const float *t, int rows, int H, int ith, int nth)
{
	int lo, hi;
	sy_split(rows, ith, nth, &lo, &hi);
	for (int r = lo; r < hi; r++)
		add_f32(x + (size_t)r * H, t + (size_t)r * H, H);
}

/* The layers of tower t over c->x ([rows][H]), all threads, barriers between steps. */
static void tower_part(void *p, int ith, int nth)
{
	struct tower_run *r = p;
	struct clip *c = r->c;
	const struct clip_tower *t = r->t;
	const int H = t->H, I = t->I, rows = r->rows, hd = H / t->n_heads;
	const float scale = 1.0f / sqrtf((float)hd);
	float *scratch = c->attn_scratch + (size_t)ith * c->attn_stride;
	for (int l = 0; l < t->n_layers; l++) {
		const struct clip_layer *L = &t->layers[l];
		norm_rows(c->tmp, c->x, L->ln1_g, L->ln1_b, rows, H, t->eps, ith, nth);
		sy_pool_barrier(c->pool);
		linear_run(c->tmp, H, &L->qkv, L->qkv_b, GEMM_EPILOGUE_NONE, c->qkv, 3 * H, rows,
		           ith, nth);
		sy_pool_barrier(c->pool);
		for (int s = 0, at = 0; s < r->n_seqs; s++) {
			const int len = r->lens ? r->lens[s] : r->seq_len;
			const float *q = c->qkv + (size_t)at * 3 * H;
			c->attention(q, q + H, q + 2 * H, 3 * H, c->ctx + (size_t)at * H, H, len,
			             len, -1, r->causal ? c->causal + c->max_text - 1 : NULL, 0,
			             t->n_heads, hd, scale, scratch, ith, nth);
			at += len;
		}
		sy_pool_barrier(c->pool);
		linear_run(c->ctx, H, &L->o, L->o_b, GEMM_EPILOGUE_NONE, c->tmp, H, rows, ith, nth);
		sy_pool_barrier(c->pool);
		add_rows(c->x, c->tmp, rows, H, ith, nth);
		sy_pool_barrier(c->pool);
		norm_rows(c->tmp, c->x, L->ln2_g, L->ln2_b, rows, H, t->eps, ith, nth);
		sy_pool_barrier(c->pool);
		linear_run(c->tmp, H, &L->fc1, L->fc1_b,
		           t->act == CLIP_ACT_GELU_TANH  ? GEMM_EPILOGUE_GELU_TANH
		           : t->act == CLIP_ACT_GELU_ERF ? GEMM_EPILOGUE_GELU_ERF
		                                         : GEMM_EPILOGUE_NONE,
		           c->ffn, I, rows, ith, nth);
		sy_pool_barrier(c->pool);
		if (t->act == CLIP_ACT_QUICK_GELU) {
			act_rows(t->act, c->ffn, rows, I, I, ith, nth);
			sy_pool_barrier(c->pool);
		}
		linear_run(c->ffn, I, &L->fc2, L->fc2_b, GEMM_EPILOGUE_NONE, c->tmp, H, rows, ith,
		           nth);
		sy_pool_barrier(c->pool);
		add_rows(c->x, c->tmp, rows, H, ith, nth);
		if (ith == 0 && l + 1 < t->n_layers)
			r->stopped = model_stop_requested(r->stop);
		sy_pool_barrier(c->pool);
		if (r->stopped)
			return;
	}
}

/* Texts [first, first + n) of items: ids into rows, the tower, then one pooled row each. */
static enum sy_status text_chunk(struct clip *c, const struct model_item *items, const int *idx,
                                 int n, struct sy_error *err, float *out, int dims)
{
	const int H = c->text.H;
	int lens[CLIP_CHUNK_ROWS], rows = 0; /* embed_items never passes more texts */
	for (int i = 0; i < n; i++) {
		const struct tok_encoding *e = &items[idx[i]].prep->enc;
		lens[i] = e->n;
		for (int j = 0; j < e->n; j++, rows++) {
			const int32_t id = e->ids[j];
			if (id < 0 || id >= c->vocab)
				return sy_error_set(err, SY_ERR_INVALID_ARG,
				                    "token id %d outside 0..%d", (int)id,
				                    c->vocab - 1);
			float *x = c->x + (size_t)rows * H;
			memcpy(x, c->tok_emb + (size_t)id * H, (size_t)H * sizeof *x);
			add_f32(x, c->text.pos + (size_t)j * H, H);
		}
	}
	struct tower_run r = {.c = c,
	                      .t = &c->text,
	                      .rows = rows,
	                      .n_seqs = n,
	                      .lens = lens,
	                      .causal = !c->siglip,
	                      .stop = model_stop_current()};
	sy_pool_run(c->pool, tower_part, &r);
	if (r.stopped)
		return model_stopped_error(err);
	float *pooled = c->tmp;
	for (int i = 0, at = 0; i < n; at += lens[i], i++) {
		const struct tok_encoding *e = &items[idx[i]].prep->enc;
		int pos = e->n - 1; /* SigLIP: the last token */
		if (!c->siglip) {
			pos = 0;
			for (int j = 0; j < e->n; j++) {
				if (c->eos_argmax ? e->ids[j] > e->ids[pos]
				                  : e->ids[j] == c->eos_id) {
					pos = j;
					if (!c->eos_argmax)
						break;
				}
			}
		}
		layer_norm_f32(pooled + (size_t)i * H, c->x + (size_t)(at + pos) * H, c->final_g,
		               c->final_b, H, c->text.eps);
	}
	for (int i = 0; i < n; i++)
		linear_run(pooled + (size_t)i * H, H, &c->text_proj, c->text_proj_b,
		           GEMM_EPILOGUE_NONE, out + (size_t)idx[i] * dims, dims, 1, 0, 1);
	return SY_OK;
}

/* SigLIP's attention pooling of one image's rows x [n][H] into out [H]. */
static void siglip_pool(struct clip *c, const float *x, int n, float *out)
{
	const int H = c->vision.H, nh = c->vision.n_heads, hd = H / nh;
	float *kv = c->qkv; /* [n][2H] */
	float *probs = c->ffn; /* [n] */
	float *o = c->ctx, *h = c->ctx + H, *m = c->unfold;
	linear_run(x, H, &c->head_kv, c->head_kv_b, GEMM_EPILOGUE_NONE, kv, 2 * H, n, 0, 1);
	const float scale = 1.0f / sqrtf((float)hd);
	for (int k = 0; k < nh; k++) {
		for (int j = 0; j < n; j++) {
			float acc = 0;
			for (int d = 0; d < hd; d++)
				acc += c->probe_q[k * hd + d] * kv[(size_t)j * 2 * H + k * hd + d];
			probs[j] = acc * scale;
		}
		softmax_f32(probs, n);
		for (int d = 0; d < hd; d++) {
			float acc = 0;
			for (int j = 0; j < n; j++)
				acc += probs[j] * kv[(size_t)j * 2 * H + H + k * hd + d];
			o[k * hd + d] = acc;
		}
	}
	linear_run(o, H, &c->head_o, c->head_o_b, GEMM_EPILOGUE_NONE, out, H, 1, 0, 1);
	layer_norm_f32(h, out, c->head_ln_g, c->head_ln_b, H, c->vision.eps);
	linear_run(h, H, &c->head_fc1, c->head_fc1_b,
	           c->vision.act == CLIP_ACT_GELU_TANH ? GEMM_EPILOGUE_GELU_TANH
	                                               : GEMM_EPILOGUE_GELU_ERF,
	           m, c->vision.I, 1, 0, 1);
	if (c->vision.act == CLIP_ACT_QUICK_GELU) /* not in any config seen; kept exact anyway */
		act_rows(c->vision.act, m, 1, c->vision.I, c->vision.I, 0, 1);
	linear_run(m, c->vision.I, &c->head_fc2, c->head_fc2_b, GEMM_EPILOGUE_NONE, h, H, 1, 0, 1);
	add_f32(out, h, H);
}

/* Images idx[0..n) of items: unfold, patch GEMM, embeddings, the tower, pooling. */
static enum sy_status image_chunk(struct clip *c, const struct model_item *items, const int *idx,
                                  int n, struct sy_error *err, float *out, int dims)
{
	const int H = c->vision.H, p = c->patch, G = c->grid, S = c->image_size, P = c->n_patches;
	const int kk = 3 * p * p, T = c->seq_v, first = c->siglip ? 0 : 1;
	for (int i = 0; i < n; i++) {
		const struct clip_extra *px = items[idx[i]].prep->extra;
		/* unfold: patch (gy, gx) row is [c][ky][kx], the conv weight's order */
		for (int gy = 0; gy < G; gy++)
			for (int gx = 0; gx < G; gx++) {
				float *u = c->unfold + ((size_t)i * P + gy * G + gx) * kk;
				for (int ch = 0; ch < 3; ch++)
					for (int ky = 0; ky < p; ky++)
						memcpy(u + (ch * p + ky) * p,
						       px->px + ((size_t)ch * S + gy * p + ky) * S +
						           gx * p,
						       (size_t)p * sizeof(float));
			}
	}
	/* patch embeddings straight into their rows (after the class row for CLIP) */
	for (int i = 0; i < n; i++) {
		float *x = c->x + (size_t)i * T * H;
		linear_run(c->unfold + (size_t)i * P * kk, kk, &c->patch_w, c->patch_b,
		           GEMM_EPILOGUE_NONE, x + (size_t)first * H, H, P, 0, 1);
		if (!c->siglip)
			memcpy(x, c->cls, (size_t)H * sizeof *x);
		for (int r = 0; r < T; r++) {
			add_f32(x + (size_t)r * H, c->vision.pos + (size_t)r * H, H);
			if (c->pre_g)
				layer_norm_f32(x + (size_t)r * H, x + (size_t)r * H, c->pre_g,
				               c->pre_b, H, c->vision.eps);
		}
	}
	struct tower_run r = {.c = c,
	                      .t = &c->vision,
	                      .rows = n * T,
	                      .n_seqs = n,
	                      .seq_len = T,
	                      .stop = model_stop_current()};
	sy_pool_run(c->pool, tower_part, &r);
	if (r.stopped)
		return model_stopped_error(err);
	for (int i = 0; i < n; i++) {
		float *x = c->x + (size_t)i * T * H, *o = out + (size_t)idx[i] * dims;
		if (!c->siglip) {
			layer_norm_f32(c->tmp, x, c->post_g, c->post_b, H, c->vision.eps);
			linear_run(c->tmp, H, &c->vis_proj, NULL, GEMM_EPILOGUE_NONE, o, dims, 1, 0,
			           1);
		} else {
			for (int j = 0; j < T; j++)
				layer_norm_f32(x + (size_t)j * H, x + (size_t)j * H, c->post_g,
				               c->post_b, H, c->vision.eps);
			siglip_pool(c, x, T, o);
		}
	}
	return SY_OK;
}

/* Embeds every item into emb [n][dims]: texts and images each in chunks of the scratch. */
static enum sy_status embed_items(struct clip *c, const struct model_item *items, int n,
                                  struct sy_error *err, float *emb)
{
	int *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
	if (!idx)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = SY_OK;
	for (int kind = 0; kind < 2 && s == SY_OK; kind++) {
		int m = 0, rows = 0;
		for (int i = 0; i <= n && s == SY_OK; i++) {
			const bool image = i < n && is_image(items[i].prep);
			const int cost = i == n ? 0 : image ? c->seq_v : items[i].prep->enc.n;
			const bool mine = i < n && image == (kind == 1);
			if (m && (i == n ||
			          (mine && (rows + cost > c->cap_rows || m == CLIP_CHUNK_ROWS)))) {
				s = kind ? image_chunk(c, items, idx, m, err, emb, c->dims)
				         : text_chunk(c, items, idx, m, err, emb, c->dims);
				m = rows = 0;
			}
			if (mine) {
				idx[m++] = i;
				rows += cost;
			}
		}
	}
	free(idx);
	return s;
}

static enum sy_status clip_run_encode(void *impl, const struct model_item *items, int n,
                                      struct sy_error *err, float *out,
                                      struct model_item_result *res)
{
	(void)res;
	struct clip *c = impl;
	enum sy_status s = embed_items(c, items, n, err, out);
	for (int i = 0; s == SY_OK && i < n; i++)
		if (items[i].in->normalize != 0)
			l2_normalize_f32(out + (size_t)i * c->dims, c->dims);
	return s;
}

/* ---- prepare ---- */

static enum sy_status prepare_image(const struct clip *c, const struct model_image *im,
                                    struct sy_error *err, struct model_prepared *out)
{
	struct image_rgb rgb;
	enum sy_status s =
	    image_decode(im->data, im->len, (enum image_format)im->format, 0, err, &rgb);
	if (s == SY_ERR_LIMIT) /* the client's image, not a model limit: a plain 400 */
		err->status = s = SY_ERR_INVALID_ARG;
	if (s != SY_OK)
		return s;
	struct clip_extra *px = calloc(1, sizeof *px);
	const size_t S = (size_t)c->image_size;
	if (px)
		px->px = malloc(3 * S * S * sizeof *px->px);
	if (!px || !px->px)
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (s == SY_OK)
		s = image_preprocess(&rgb, &c->pp, err, px->px);
	image_rgb_free(&rgb);
	if (s != SY_OK) {
		clip_free_extra(px);
		return s;
	}
	out->extra = px;
	out->n_tokens = c->seq_v;
	return SY_OK;
}

static enum sy_status prepare_text(const struct clip *c, const struct model_input *in,
                                   struct sy_error *err, struct model_prepared *out)
{
	struct model_input canon = *in;
	char *joined = NULL, *text = NULL;
	if (c->siglip_canon) {
		const char *t;
		size_t len;
		enum sy_status s = model_join_prefix(in, err, &t, &len, &joined);
		if (s != SY_OK)
			return s;
		size_t n = 0;
		text = spm_siglip_canonicalize(t, len, &n);
		free(joined);
		if (!text)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		canon.text = text;
		canon.len = n;
		canon.prefix = NULL;
		canon.prefix_len = 0;
	}
	enum sy_status s = model_tokenize(c->tok, &canon, c->max_text, err, &out->enc);
	free(text);
	if (s != SY_OK)
		return s;
	if (c->siglip && out->enc.n < c->max_text) {
		/* Padded to max_length with the pad id, as SigLIP was trained (no mask). */
		int32_t *ids = realloc(out->enc.ids, (size_t)c->max_text * sizeof *ids);
		if (!ids)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		for (int j = out->enc.n; j < c->max_text; j++)
			ids[j] = c->pad_id;
		out->enc.ids = ids;
		out->enc.n = c->max_text;
	}
	if (out->enc.n == 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "text gives no tokens");
	out->n_tokens = out->enc.n;
	return SY_OK;
}

static enum sy_status clip_prepare(const void *impl, const struct model_input *in,
                                   struct sy_error *err, struct model_prepared *out)
{
	const struct clip *c = impl;
	return in->image ? prepare_image(c, in->image, err, out) : prepare_text(c, in, err, out);
}

/* Score: the query (a text) against each item (an image, or a text); the query's tokens are
 * kept in the item's extra. */
static enum sy_status clip_score_prepare(const void *impl, const struct model_input *in,
                                         struct sy_error *err, struct model_prepared *out)
{
	const struct clip *c = impl;
	enum sy_status s = clip_prepare(impl, in, err, out);
	struct clip_extra *e = out->extra;
	if (s == SY_OK && !e) {
		e = out->extra = calloc(1, sizeof *e);
		if (!e)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	struct model_input q = {.text = in->query, .len = in->query_len, .truncate = in->truncate};
	struct model_prepared qp = {0};
	if (s == SY_OK && in->query_image) {
		/* The query image is decoded with each item (the items of a request are prepared
		 * one by one); run embeds it once per request. */
		s = prepare_image(c, in->query_image, err, &qp);
		if (s != SY_OK)
			sy_error_prefix(err, "query: ");
		if (s == SY_OK) {
			struct clip_extra *qe = qp.extra;
			e->query_px = qe->px;
			qe->px = NULL;
			clip_free_extra(qe);
			out->n_tokens += qp.n_tokens;
			return SY_OK;
		}
	} else if (s == SY_OK) {
		s = prepare_text(c, &q, err, &qp);
	}
	if (s == SY_OK) {
		e->query = qp.enc;
		out->n_tokens += qp.n_tokens;
		return SY_OK;
	}
	tok_encoding_free(&qp.enc);
	tok_encoding_free(&out->enc);
	clip_free_extra(out->extra);
	memset(out, 0, sizeof *out);
	return s;
}

static enum sy_status clip_run_score(void *impl, const struct model_item *items, int n,
                                     struct sy_error *err, float *scores)
{
	struct clip *c = impl;
	const int D = c->dims;
	/* The items, then each distinct query once: the items of one request share their query
	 * (the same pointer in the engine's input frame), so a request of n images embeds its
	 * text once, not n times. qi[i] is item i's query among them. */
	struct model_item *all = calloc((size_t)2 * n, sizeof *all);
	struct model_prepared *preps = calloc((size_t)2 * n, sizeof *preps);
	struct clip_extra *qx = calloc((size_t)n, sizeof *qx); /* image queries */
	int *qi = calloc((size_t)n, sizeof *qi);
	float *emb = malloc((size_t)2 * n * D * sizeof *emb);
	enum sy_status s =
	    all && preps && qi && emb ? SY_OK : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	int m = n;
	for (int i = 0; s == SY_OK && i < n; i++) {
		struct clip_extra *e = items[i].prep->extra;
		preps[i] =
		    (struct model_prepared){.enc = items[i].prep->enc, .extra = e->px ? e : NULL};
		all[i] = (struct model_item){items[i].in, &preps[i]};
		const struct model_input *in = items[i].in, *prev = i ? items[i - 1].in : NULL;
		if (prev && in->query == prev->query && in->query_len == prev->query_len &&
		    in->query_image == prev->query_image) {
			qi[i] = qi[i - 1];
			continue;
		}
		qx[i].px = e->query_px;
		preps[m] =
		    (struct model_prepared){.enc = e->query, .extra = e->query_px ? &qx[i] : NULL};
		all[m] = (struct model_item){in, &preps[m]};
		qi[i] = m++;
	}
	if (s == SY_OK)
		s = embed_items(c, all, m, err, emb);
	for (int i = 0; s == SY_OK && i < m; i++)
		l2_normalize_f32(emb + (size_t)i * D, D);
	for (int i = 0; s == SY_OK && i < n; i++) {
		const float *a = emb + (size_t)i * D, *q = emb + (size_t)qi[i] * D;
		double dot = 0;
		for (int k = 0; k < D; k++)
			dot += (double)a[k] * q[k];
		const float logit = c->logit_scale * (float)dot;
		scores[i] = c->siglip ? 1.0f / (1.0f + expf(-(logit + c->logit_bias))) : logit;
	}
	free(all);
	free(preps);
	free(qx);
	free(qi);
	free(emb);
	return s;
}

/* ---- the model ---- */

static size_t clip_bytes(const void *impl)
{
	const struct clip *c = impl;
	const size_t H = (size_t)(c->text.H > c->vision.H ? c->text.H : c->vision.H);
	const size_t I = (size_t)(c->text.I > c->vision.I ? c->text.I : c->vision.I);
	return c->weight_bytes + tokenizer_bytes(c->tok) +
	       (size_t)c->cap_rows * (6 * H + (I > 2 * H ? I : 2 * H) + 3 * c->patch * c->patch) *
	           sizeof(float);
}

static int clip_max_tokens(const void *impl)
{
	return ((const struct clip *)impl)->max_text;
}

static int clip_dims(const void *impl)
{
	return ((const struct clip *)impl)->dims;
}

static const struct tokenizer *clip_tokenizer(const void *impl)
{
	return ((const struct clip *)impl)->tok;
}

static const struct model_ops clip_ops = {
    .close = clip_close,
    .bytes = clip_bytes,
    .max_tokens = clip_max_tokens,
    .free_extra = clip_free_extra,
    .tokenizer = clip_tokenizer,
};

static const struct model_encode_task clip_encode = {
    .output = MODEL_OUTPUT_DENSE,
    .images = true,
    .dims = clip_dims,
    .prepare = clip_prepare,
    .run = clip_run_encode,
};

static const struct model_score_task clip_score_task = {
    .images = true, .softmax = true, .prepare = clip_score_prepare, .run = clip_run_score};
static const struct model_score_task siglip_score_task = {
    .images = true, .prepare = clip_score_prepare, .run = clip_run_score};

bool clip_detect(const struct model_desc *d)
{
	return !strcmp(d->model_type, "clip") || !strcmp(d->model_type, "siglip") ||
	       model_desc_architecture(d, "CLIPModel", false) ||
	       model_desc_architecture(d, "SiglipModel", false);
}

enum sy_status clip_open(const struct model_desc *d, const struct model_options *opts,
                         struct sy_error *err, struct model *out)
{
	if (!d->config)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: not a JSON object", d->config_name);
	struct clip *c = calloc(1, sizeof *c);
	if (!c)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	c->siglip =
	    !strcmp(d->model_type, "siglip") || model_desc_architecture(d, "SiglipModel", false);
	/* Configs written by old transformers versions carry the towers under *_config_dict. */
	const cJSON *tc = obj(d->config, "text_config"), *vc = obj(d->config, "vision_config");
	if (!tc)
		tc = obj(d->config, "text_config_dict");
	if (!vc)
		vc = obj(d->config, "vision_config_dict");
	enum sy_status s = tower_config(tc, c->siglip, true, d->config_name, err, &c->text);
	if (s == SY_OK)
		s = tower_config(vc, c->siglip, false, d->config_name, err, &c->vision);
	c->vocab = (int)num(tc, "vocab_size", c->siglip ? 32000 : 49408);
	c->text.n_pos = (int)num(tc, "max_position_embeddings", c->siglip ? 64 : 77);
	c->eos_id = (int)num(tc, "eos_token_id", 2);
	c->pad_id = (int)num(tc, "pad_token_id", 1);
	c->eos_argmax = !c->siglip && c->eos_id == 2;
	c->image_size = (int)num(vc, "image_size", 224);
	c->patch = (int)num(vc, "patch_size", c->siglip ? 16 : 32);
	if (s == SY_OK && ((int)num(vc, "num_channels", 3) != 3 || c->patch <= 0 ||
	                   c->image_size <= 0 || c->image_size % c->patch || c->image_size > 4096 ||
	                   c->vocab <= 0 || c->text.n_pos <= 0 || c->text.n_pos > 4096))
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: bad vision_config (image_size, patch_size, num_channels) or "
		                 "text_config sizes",
		                 d->config_name);
	c->grid = c->patch > 0 ? c->image_size / c->patch : 0;
	c->n_patches = c->grid * c->grid;
	c->seq_v = c->n_patches + (c->siglip ? 0 : 1);
	c->vision.n_pos = c->seq_v;
	c->max_text = c->text.n_pos;
	if (opts->max_length > 0 && opts->max_length < c->max_text && !c->siglip)
		c->max_text = opts->max_length;
	c->dims = c->siglip ? (int)num(tc, "projection_size", c->text.H)
	                    : (int)num(d->config, "projection_dim", 512);
	if (s == SY_OK && c->siglip && c->dims != c->vision.H)
		s = sy_error_set(err, SY_ERR_UNSUPPORTED,
		                 "%s: text projection_size %d differs from the vision width %d",
		                 d->config_name, c->dims, c->vision.H);
	if (s == SY_OK && (c->dims <= 0 || c->dims > 16384))
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: bad projection size", d->config_name);
	struct safetensors *st = NULL;
	if (s == SY_OK)
		s = model_weights_open(d->path, err, &st, NULL);
	if (s == SY_OK)
		s = load_weights(c, st, opts->precision, err);
	safetensors_close(st);
	if (s == SY_OK)
		s = model_tokenizer_load(d->path, c->vocab, err, &c->tok);
	if (s == SY_OK && c->siglip && !d->has[MODEL_FILE_TOKENIZER_JSON])
		c->siglip_canon = true;
	if (s == SY_OK)
		s = image_preproc_load(d->path, c->image_size, c->siglip, err, &c->pp);
	if (s == SY_OK && (c->pp.out_h != c->image_size || c->pp.out_w != c->image_size))
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: preprocessor_config.json gives %d x %d images, the model "
		                 "takes %d x %d",
		                 d->path, c->pp.out_w, c->pp.out_h, c->image_size, c->image_size);
	if (s == SY_OK) {
		c->pool = sy_pool_create(opts->n_threads);
		if (!c->pool)
			s = sy_error_set(err, SY_ERR_NOMEM, "cannot create the thread pool");
	}
	if (s == SY_OK)
		s = reserve(c, err);
	if (s != SY_OK) {
		clip_close(c);
		return s;
	}
	out->arch = c->siglip ? "siglip" : "clip";
	out->impl = c;
	out->ops = &clip_ops;
	out->encode = &clip_encode;
	out->score = c->siglip ? &siglip_score_task : &clip_score_task;
	return SY_OK;
}

enum sy_status clip_embed_pixels(struct model *m, const float *pixels, int n, struct sy_error *err,
                                 float *out)
{
	if (!m || m->ops != &clip_ops)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "not a clip or siglip model");
	struct clip *c = m->impl;
	const size_t per = 3 * (size_t)c->image_size * c->image_size;
	struct clip_extra *ex = calloc((size_t)(n ? n : 1), sizeof *ex);
	struct model_prepared *p = calloc((size_t)(n ? n : 1), sizeof *p);
	struct model_item *items = calloc((size_t)(n ? n : 1), sizeof *items);
	enum sy_status s =
	    ex && p && items ? SY_OK : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; s == SY_OK && i < n; i++) {
		ex[i].px = (float *)(pixels + per * i);
		p[i].extra = &ex[i];
		items[i].prep = &p[i];
	}
	if (s == SY_OK)
		s = embed_items(c, items, n, err, out);
	free(ex);
	free(p);
	free(items);
	return s;
}
