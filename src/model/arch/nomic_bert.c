/* NomicBERT (model_type "nomic_bert": nomic-embed-text-v1 / v1.5), as its published modeling
 * code (nomic-ai/nomic-bert-2048, modeling_hf_nomic_bert.py) computes it with the settings
 * those models use. It is the post-norm rotary encoder with a gated MLP of rope_glu.c under
 * GPT-2-style config keys (n_embd, n_layer, n_head, n_inner, n_positions) and its own tensor
 * names: emb_ln, encoder.layers.N.attn.Wqkv / out_proj (biases per qkv_proj_bias),
 * mlp.fc11 (up) and mlp.fc12 (gate, through SiLU for "swiglu", GELU for "geglu"), mlp.fc2,
 * norm1, norm2. Rotary covers rotary_emb_fraction of each head, base rotary_emb_base, halves or
 * interleaved pairs per rotary_emb_interleaved; with a fraction of 0 a position table is read
 * instead.
 *
 * Queries and documents take the prefixes "search_query: " and "search_document: " (the model
 * card's); a config_sentence_transformers.json with prompts of those names overrides them.
 * Refused at load, naming the key: prenorm, causal or parallel_block true (other block
 * shapes), rotary_scaling_factor or rotary_emb_scale_base set (scaled rotary variants), an
 * activation_function other than swiglu / geglu (the ungated MLP). */
#include <string.h>

#include "base/json_read.h"
#include "model/arch/encoder.h"
#include "model/arch/rope_glu.h"
#include "model/arch/weight_loader.h"
#include "model/model.h"
#include "tensor/rope.h"

/* The first of two keys present (n_embd or hidden_size), as an int in [lo, 1 << 24]. */
static enum sy_status read_int2(const cJSON *o, const char *k1, const char *k2, const char *p,
                                long lo, long def, struct sy_error *err, int *out)
{
	const char *k = cJSON_GetObjectItemCaseSensitive(o, k1) ? k1 : k2;
	long v;
	enum sy_status s = json_read_int(o, k, p, lo, 1L << 24, def, err, &v);
	*out = (int)v;
	return s;
}

/* A key that must be absent, null or false for what is implemented here. */
static enum sy_status refuse_set(const cJSON *o, const char *key, const char *p,
                                 struct sy_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return SY_OK;
	return sy_error_set(err, SY_ERR_UNSUPPORTED, "%s: %s set (%s) is not supported", p, key,
	                    json_read_type_name(v));
}

static enum sy_status parse_config(const struct model_desc *d, struct sy_error *err,
                                   struct rope_glu_config *c, double *base, bool *fc1_bias,
                                   bool *fc2_bias, bool *qkv_bias)
{
	const cJSON *o = d->config;
	const char *p = d->config_name;
	memset(c, 0, sizeof *c);
	enum sy_status s = read_int2(o, "n_embd", "hidden_size", p, 1, 768, err, &c->hidden);
	if (s == SY_OK)
		s = read_int2(o, "n_layer", "num_hidden_layers", p, 1, 12, err, &c->layers);
	if (s == SY_OK)
		s = read_int2(o, "n_head", "num_attention_heads", p, 1, 12, err, &c->heads);
	if (s == SY_OK)
		s = read_int2(o, "n_inner", "intermediate_size", p, 1, 4 * c->hidden, err,
		              &c->intermediate);
	if (s == SY_OK)
		s = read_int2(o, "n_positions", "max_position_embeddings", p, 1, 2048, err,
		              &c->max_positions);
	if (s == SY_OK)
		s = read_int2(o, "vocab_size", "vocab_size", p, 1, 30528, err, &c->vocab);
	if (s == SY_OK)
		s = read_int2(o, "type_vocab_size", "type_vocab_size", p, 0, 2, err,
		              &c->type_vocab);
	if (s != SY_OK)
		return s;
	if (c->hidden % c->heads || c->layers > 1000)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: n_embd %d, n_head %d or n_layer %d out of range", p,
		                    c->hidden, c->heads, c->layers);
	const char *keys[] = {"prenorm", "causal", "parallel_block", "rotary_scaling_factor",
	                      "rotary_emb_scale_base"};
	for (size_t i = 0; s == SY_OK && i < sizeof keys / sizeof *keys; i++)
		s = refuse_set(o, keys[i], p, err);
	double eps = 1e-12, fraction = 1.0;
	if (s == SY_OK)
		s = json_read_number(o, "layer_norm_epsilon", p, 0, 1, 1e-12, err, &eps);
	c->eps = (float)eps;
	if (s == SY_OK)
		s = json_read_number(o, "rotary_emb_fraction", p, 0, 1, 1.0, err, &fraction);
	if (s == SY_OK)
		s = json_read_number(o, "rotary_emb_base", p, 1.0000001, 1e12, 10000.0, err, base);
	if (s == SY_OK)
		s = json_read_bool(o, "rotary_emb_interleaved", p, false, err, &c->interleaved);
	if (s == SY_OK)
		s = json_read_bool(o, "qkv_proj_bias", p, true, err, qkv_bias);
	if (s == SY_OK)
		s = json_read_bool(o, "mlp_fc1_bias", p, true, err, fc1_bias);
	if (s == SY_OK)
		s = json_read_bool(o, "mlp_fc2_bias", p, true, err, fc2_bias);
	const char *act = "";
	if (s == SY_OK)
		s = json_read_string(o, "activation_function", p, "swiglu", err, &act);
	if (s != SY_OK)
		return s;
	if (!strcmp(act, "swiglu"))
		c->act = ROPE_GLU_SILU;
	else if (!strcmp(act, "geglu"))
		c->act = ROPE_GLU_GELU_ERF;
	else
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: activation_function \"%.40s\" is not supported (swiglu, "
		                    "geglu)",
		                    p, act);
	/* int(head_dim * fraction), as the reference sizes its rotary embedding */
	c->rot_dim = (int)((double)(c->hidden / c->heads) * fraction);
	if (c->rot_dim % 2)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: rotary_emb_fraction %g gives an odd rotary width %d", p,
		                    fraction, c->rot_dim);
	return SY_OK;
}

bool nomic_bert_encoder_detect(const struct model_desc *d)
{
	return !strcmp(d->model_type, "nomic_bert");
}

enum sy_status nomic_bert_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                       int n_threads, enum linear_precision prec,
                                       struct sy_error *err, struct encoder *out)
{
	struct rope_glu_config c;
	double base = 10000.0;
	bool fc1_bias, fc2_bias, qkv_bias;
	enum sy_status s = parse_config(d, err, &c, &base, &fc1_bias, &fc2_bias, &qkv_bias);
	if (s != SY_OK)
		return s;
	float inv[1024];
	if (c.rot_dim > 2048)
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "%s: %d rotary dimensions",
		                    d->config_name, c.rot_dim);
	if (c.rot_dim) {
		rope_inv_freq(inv, c.rot_dim, base);
		c.inv_freq = inv;
	}
	const struct rope_glu_names names = {
	    .word = "embeddings.word_embeddings.weight",
	    .type = "embeddings.token_type_embeddings.weight",
	    .pos = "embeddings.position_embeddings.weight",
	    .emb_norm = "emb_ln",
	    .qkv = "encoder.layers.%d.attn.Wqkv",
	    .o = "encoder.layers.%d.attn.out_proj",
	    .up = "encoder.layers.%d.mlp.fc11",
	    .gate = "encoder.layers.%d.mlp.fc12",
	    .down = "encoder.layers.%d.mlp.fc2",
	    .norm1 = "encoder.layers.%d.norm1",
	    .norm2 = "encoder.layers.%d.norm2",
	    .qkv_bias = qkv_bias,
	    .o_bias = qkv_bias,
	    .up_gate_bias = fc1_bias,
	    .down_bias = fc2_bias,
	};
	/* NomicBertModel saves its tensors bare; NomicBertForPreTraining under "bert.". */
	struct weight_loader probe = {.st = st, .prefix = ""};
	const char *prefix = weight_exists(&probe, "%s", names.word) ? "" : "bert.";
	s = rope_glu_open(&c, &names, st, prefix, "nomic_bert", n_threads, prec, err, out);
	if (s == SY_OK) {
		out->query_prefix = "search_query: ";
		out->document_prefix = "search_document: ";
		out->matryoshka = MODEL_MRL_LAYER_NORM; /* v1.5's recipe (768 down to 64) */
	}
	return s;
}
