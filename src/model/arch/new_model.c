/* NewModel (model_type "new"): the encoder of Alibaba-NLP's GTE v1.5 models and of
 * stella_en_400M_v5, as its published remote code (Alibaba-NLP/new-impl, modeling.py)
 * computes it. It is the post-norm rotary encoder with a gated MLP of rope_glu.c: qkv_proj (or
 * q_proj/k_proj/v_proj when pack_qkv is false) with biases, o_proj, up_gate_proj without bias
 * (up first, then the gate), down_proj, attn_ln and mlp_ln, embeddings.LayerNorm.
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
#include "model/arch/encoder.h"
#include "model/arch/rope_glu.h"
#include "model/arch/weight_loader.h"
#include "tensor/rope.h"

struct new_config {
	struct rope_glu_config rg;
	double rope_theta, ntk_factor, ntk_mixed_b; /* factor 1: no scaling; mixed_b 0: none */
	bool pack_qkv;
};

static enum sy_status parse_sizes(const cJSON *o, const char *p, struct sy_error *err,
                                  struct rope_glu_config *c)
{
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
	*c = (struct rope_glu_config){.vocab = (int)v[0],
	                              .hidden = (int)v[1],
	                              .layers = (int)v[2],
	                              .heads = (int)v[3],
	                              .intermediate = (int)v[4],
	                              .max_positions = (int)v[5],
	                              .type_vocab = (int)v[6]};
	if (c->hidden % c->heads || (c->hidden / c->heads) % 2 || c->layers > 1000)
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: hidden_size %d, num_attention_heads %d or "
		                    "num_hidden_layers %d out of range",
		                    p, c->hidden, c->heads, c->layers);
	double eps;
	enum sy_status s = json_read_number(o, "layer_norm_eps", p, 0, 1, 1e-12, err, &eps);
	c->eps = (float)eps;
	return s;
}

static enum sy_status parse_rope_scaling(const cJSON *o, const char *p, struct sy_error *err,
                                         struct new_config *c)
{
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
	if (!rs || cJSON_IsNull(rs))
		return SY_OK;
	if (!cJSON_IsObject(rs))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: rope_scaling: expected an object or null", p);
	const char *type;
	enum sy_status s = json_read_string_required(rs, "type", "rope_scaling", err, &type);
	if (s == SY_OK && strcmp(type, "ntk"))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: rope_scaling.type \"%.40s\" is not supported (ntk)", p,
		                    type);
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

static enum sy_status parse_config(const struct model_desc *d, struct sy_error *err,
                                   struct new_config *c)
{
	const cJSON *o = d->config;
	const char *p = d->config_name;
	memset(c, 0, sizeof *c);
	c->ntk_factor = 1.0;
	enum sy_status s = parse_sizes(o, p, err, &c->rg);
	bool flag = false;
	if (s == SY_OK)
		s = json_read_bool(o, "pack_qkv", p, true, err, &c->pack_qkv);
	if (s == SY_OK)
		s = json_read_bool(o, "logn_attention_scale", p, false, err, &flag);
	if (s == SY_OK && flag)
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: logn_attention_scale true is not supported", p);
	const char *str = "";
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
			c->rg.act = ROPE_GLU_GELU_ERF;
		else if (!strcmp(str, "gelu_new") || !strcmp(str, "gelu_pytorch_tanh"))
			c->rg.act = ROPE_GLU_GELU_TANH;
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
		c->rg.rot_dim = c->rg.hidden / c->rg.heads;
	else if (strcmp(str, "absolute"))
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: position_embedding_type \"%.40s\" is not supported (rope, "
		                    "absolute)",
		                    p, str);
	s = json_read_number(o, "rope_theta", p, 1.0000001, 1e12, 10000.0, err, &c->rope_theta);
	if (s == SY_OK && c->rg.rot_dim)
		s = parse_rope_scaling(o, p, err, c);
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

bool new_model_encoder_detect(const struct model_desc *d)
{
	return !strcmp(d->model_type, "new");
}

enum sy_status new_model_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                      int n_threads, enum linear_precision prec,
                                      struct sy_error *err, struct encoder *out)
{
	struct new_config c;
	enum sy_status s = parse_config(d, err, &c);
	if (s != SY_OK)
		return s;
	const struct rope_glu_names names = {
	    .word = "embeddings.word_embeddings.weight",
	    .type = "embeddings.token_type_embeddings.weight",
	    .pos = "embeddings.position_embeddings.weight",
	    .emb_norm = "embeddings.LayerNorm",
	    .qkv = c.pack_qkv ? "encoder.layer.%d.attention.qkv_proj" : NULL,
	    .q = "encoder.layer.%d.attention.q_proj",
	    .k = "encoder.layer.%d.attention.k_proj",
	    .v = "encoder.layer.%d.attention.v_proj",
	    .o = "encoder.layer.%d.attention.o_proj",
	    .up_gate = "encoder.layer.%d.mlp.up_gate_proj",
	    .down = "encoder.layer.%d.mlp.down_proj",
	    .norm1 = "encoder.layer.%d.attn_ln",
	    .norm2 = "encoder.layer.%d.mlp_ln",
	    .qkv_bias = true,
	    .o_bias = true,
	    .up_gate_bias = false,
	    .down_bias = true,
	};
	float inv[1024];
	if (c.rg.rot_dim > 2048)
		return sy_error_set(err, SY_ERR_UNSUPPORTED, "%s: heads of %d dimensions",
		                    d->config_name, c.rg.rot_dim);
	if (c.rg.rot_dim) {
		inv_freqs(&c, inv, c.rg.rot_dim);
		c.rg.inv_freq = inv;
	}
	/* NewModel saves its tensors bare; the task models (NewForSequenceClassification, ...)
	 * under "new.". */
	struct weight_loader probe = {.st = st, .prefix = ""};
	const char *prefix = weight_exists(&probe, "%s", names.word) ? "" : "new.";
	return rope_glu_open(&c.rg, &names, st, prefix, "new", n_threads, prec, err, out);
}
