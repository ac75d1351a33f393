/* JinaBERT v2, as jinaai/jina-bert-implementation's modeling_bert.py computes it (eval mode):
 *
 *   x = LayerNorm(word[id] + token_type[type])            (no position embeddings)
 *   per layer:  scores = q k^T / sqrt(d) - m_h |j - i|      (ALiBi, symmetric in the encoder)
 *               x = LayerNorm(x + a W_o^T + b_o)
 *               [g | u] = x W_gated^T                         (gated_layers: [2I][H], no bias)
 *               x = LayerNorm(x + (gelu(g) * u) W_wo^T + b_wo)   (mlp.wo, mlp.layernorm)
 *
 * The GEGLU's activation is torch's exact GELU whatever hidden_act says. The ALiBi bias depends on
 * the distance only, so it is tabulated once at load and the BERT layer (arch/bert.c) runs the
 * rest. Config values that would change this computation and are not implemented are refused by
 * name. */
#include "model/arch/jina_bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"
#include "model/arch/bert.h"
#include "model/config.h"

static const struct bert_layer_names jina_names = {
    "encoder.layer.%d.attention.self.query",
    "encoder.layer.%d.attention.self.key",
    "encoder.layer.%d.attention.self.value",
    "encoder.layer.%d.attention.output.dense",
    "encoder.layer.%d.attention.output.LayerNorm",
    "encoder.layer.%d.mlp.gated_layers",
    "encoder.layer.%d.mlp.wo",
    "encoder.layer.%d.mlp.layernorm",
};

void jina_bert_alibi_slopes(int n_heads, double *out)
{
	int p = 1;
	while (p * 2 <= n_heads)
		p *= 2;
	const double start = pow(2.0, -pow(2.0, -(log2((double)p) - 3)));
	for (int i = 0; i < p; i++)
		out[i] = start * pow(start, i);
	if (p < n_heads) {
		double *more = malloc(sizeof(double) * 2 * (size_t)p);
		if (!more)
			return;
		jina_bert_alibi_slopes(2 * p, more);
		for (int i = 0; i < n_heads - p; i++)
			out[p + i] = more[2 * i];
		free(more);
	}
}

/* Whether some auto_map entry names the JinaBERT implementation. */
static bool auto_map_is_jina(const cJSON *config)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(config, "auto_map"))
	{
		if (cJSON_IsString(v) && strstr(v->valuestring, "jina-bert"))
			return true;
	}
	return false;
}

bool jina_bert_encoder_detect(const struct model_desc *d)
{
	if (strcmp(d->model_type, "bert") != 0 || !d->config)
		return false;
	const cJSON *pet = cJSON_GetObjectItemCaseSensitive(d->config, "position_embedding_type");
	return model_desc_architecture(d, "JinaBert", true) || auto_map_is_jina(d->config) ||
	       (cJSON_IsString(pet) && !strcmp(pet->valuestring, "alibi"));
}

/* A string field that must be absent/null (when def_ok) or one of the values in ok[]. */
static enum sy_status check_choice(const struct model_desc *d, const char *key, bool def_ok,
                                   const char *const *ok, int n_ok, struct sy_error *err)
{
	const char *v = NULL;
	enum sy_status s = json_read_string(d->config, key, NULL, NULL, err, &v);
	if (s != SY_OK) {
		sy_error_prefix(err, "%s", d->config_name);
		return s;
	}
	if (!v && def_ok)
		return SY_OK;
	for (int i = 0; v && i < n_ok; i++)
		if (!strcmp(v, ok[i]))
			return SY_OK;
	return sy_error_set(err, SY_ERR_UNSUPPORTED,
	                    "%s: %s \"%.40s\" is not supported by JinaBERT here (only \"%s\")",
	                    d->config_name, key, v ? v : "(absent)", ok[0]);
}

static enum sy_status jina_config(const struct model_desc *d, struct sy_error *err,
                                  struct bert_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->model_type, sizeof cfg->model_type, "bert");
	static const char *const alibi[] = {"alibi"}, *const geglu[] = {"geglu"},
	                         *const mean[] = {"mean"}, *const torch[] = {"torch"};
	enum sy_status s = bert_config_fields(d->config, false, d->config_name, err, cfg);
	if (s == SY_OK)
		s = check_choice(d, "position_embedding_type", true, alibi, 1, err);
	/* JinaBertConfig's default feed-forward is "original" (a plain MLP), not implemented. */
	if (s == SY_OK)
		s = check_choice(d, "feed_forward_type", false, geglu, 1, err);
	/* Only JinaBertModel.encode reads emb_pooler; the pooling here is the
	 * sentence-transformers one. Anything but mean would say the model meant another. */
	if (s == SY_OK)
		s = check_choice(d, "emb_pooler", true, mean, 1, err);
	if (s == SY_OK)
		s = check_choice(d, "attn_implementation", true, torch, 1, err);
	if (s != SY_OK)
		return s;
	cfg->act = BERT_ACT_GELU_ERF; /* the GEGLU's nn.GELU() */
	return bert_config_finish(d->config_name, err, cfg);
}

/* -m_h |rel| for every distance -(T-1) .. T-1 of every head, in float32 as torch has it. */
static enum sy_status alibi_table(const struct bert_config *cfg, struct sy_error *err, float **out)
{
	const int nh = cfg->n_heads, T = cfg->max_tokens, ld = 2 * T - 1;
	double *slopes = malloc(sizeof(double) * (size_t)nh);
	float *table = malloc(sizeof(float) * (size_t)nh * ld);
	if (!slopes || !table) {
		free(slopes);
		free(table);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for the ALiBi table");
	}
	jina_bert_alibi_slopes(nh, slopes);
	for (int h = 0; h < nh; h++) {
		const float m = -(float)slopes[h];
		for (int rel = -(T - 1); rel <= T - 1; rel++)
			table[(size_t)h * ld + (T - 1) + rel] = m * (float)abs(rel);
	}
	free(slopes);
	*out = table;
	return SY_OK;
}

enum sy_status jina_bert_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                      int n_threads, enum linear_precision prec,
                                      struct sy_error *err, struct encoder *out)
{
	struct bert_config cfg;
	enum sy_status s = jina_config(d, err, &cfg);
	struct bert_variant var = {
	    .names = &jina_names, .no_position_table = true, .glu_ffn = true};
	if (s == SY_OK)
		s = alibi_table(&cfg, err, &var.rel_bias);
	struct bert_model *m = NULL;
	if (s == SY_OK)
		s = bert_model_load_variant(&cfg, &var, st, n_threads, prec, err, &m);
	if (s != SY_OK)
		return s;
	bert_encoder_wrap(m, "jina_bert", out);
	return SY_OK;
}
