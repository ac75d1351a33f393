/* MPNet encoder, as transformers' modeling_mpnet.py computes it (eval mode):
 *
 *   x = LayerNorm(word[id] + position[pos])        RoBERTa positions: from pad_token_id + 1 on
 *   per layer:  a = Attention(x), scores = q k^T / sqrt(d) + B_h(j - i)
 *               x = LayerNorm(x + a W_o^T + b_o)
 *               x = LayerNorm(x + act(x W_1^T + b_1) W_2^T + b_2)
 *
 * B_h(j - i) = relative_attention_bias.weight[bucket(j - i)][h], one table for every layer. The
 * bucket depends on the distance only, so the bias of every distance up to the longest input is
 * computed once at load, and the BERT layer (arch/bert.c) runs the rest with it. */
#include "model/arch/mpnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"
#include "model/arch/bert.h"
#include "model/config.h"

#define MPNET_MAX_DISTANCE 128 /* fixed in modeling_mpnet.py */

static const struct bert_layer_names mpnet_names = {
    "encoder.layer.%d.attention.attn.q",    "encoder.layer.%d.attention.attn.k",
    "encoder.layer.%d.attention.attn.v",    "encoder.layer.%d.attention.attn.o",
    "encoder.layer.%d.attention.LayerNorm", "encoder.layer.%d.intermediate.dense",
    "encoder.layer.%d.output.dense",        "encoder.layer.%d.output.LayerNorm",
};

int mpnet_relative_bucket(int rel, int num_buckets)
{
	/* Half the buckets for keys after the query; within a half, distances below max_exact
	 * have their own bucket and longer ones share logarithmically wider ones. */
	const int half = num_buckets / 2, max_exact = half / 2;
	int n = -rel;
	int ret = n < 0 ? half : 0;
	n = n < 0 ? -n : n;
	if (n < max_exact)
		return ret + n;
	const float v = logf((float)n / (float)max_exact) /
	                (float)log((double)MPNET_MAX_DISTANCE / max_exact) *
	                (float)(half - max_exact);
	int large = max_exact + (int)v;
	return ret + (large < half - 1 ? large : half - 1);
}

bool mpnet_encoder_detect(const struct model_desc *d)
{
	return !strcmp(d->model_type, "mpnet");
}

/* MPNetConfig: the BERT fields with RoBERTa positions, no token types, and the bucket count. */
static enum sy_status mpnet_config(const struct model_desc *d, struct sy_error *err,
                                   struct bert_config *cfg, int *n_buckets)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->model_type, sizeof cfg->model_type, "mpnet");
	enum sy_status s = bert_config_fields(d->config, true, d->config_name, err, cfg);
	if (s != SY_OK)
		return s;
	cfg->type_vocab_size = 0;
	long nb;
	s = json_read_int(d->config, "relative_attention_num_buckets", NULL, 4, 1 << 16, 32, err,
	                  &nb);
	if (s != SY_OK) {
		sy_error_prefix(err, "%s", d->config_name);
		return s;
	}
	*n_buckets = (int)nb;
	return bert_config_finish(d->config_name, err, cfg);
}

/* The bias of every distance -(T-1) .. T-1 (T = max_tokens) for every head, from the bucket
 * embedding [n_buckets][n_heads]. */
static enum sy_status mpnet_bias_table(const struct safetensors *st, const struct bert_config *cfg,
                                       int n_buckets, struct sy_error *err, float **out)
{
	*out = NULL;
	const char *prefix = bert_detect_prefix(st);
	char name[96];
	snprintf(name, sizeof name, "%sencoder.relative_attention_bias.weight",
	         prefix ? prefix : "");
	const int nh = cfg->n_heads, T = cfg->max_tokens, ld = 2 * T - 1;
	const struct st_tensor *t;
	enum sy_status s = safetensors_get(st, name, 2, (int64_t[]){n_buckets, nh}, err, &t);
	if (s != SY_OK)
		return s;
	float *w = malloc((size_t)n_buckets * nh * sizeof(float));
	float *table = malloc((size_t)nh * ld * sizeof(float));
	if (!w || !table) {
		free(w);
		free(table);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory loading %s", name);
	}
	s = safetensors_tensor_read_f32(t, err, w);
	for (int rel = -(T - 1); s == SY_OK && rel <= T - 1; rel++) {
		const int b = mpnet_relative_bucket(rel, n_buckets);
		for (int h = 0; h < nh; h++)
			table[(size_t)h * ld + (T - 1) + rel] = w[(size_t)b * nh + h];
	}
	free(w);
	if (s != SY_OK) {
		free(table);
		return s;
	}
	*out = table;
	return SY_OK;
}

enum sy_status mpnet_encoder_open(const struct model_desc *d, const struct safetensors *st,
                                  int n_threads, enum linear_precision prec, struct sy_error *err,
                                  struct encoder *out)
{
	struct bert_config cfg;
	int n_buckets = 0;
	enum sy_status s = mpnet_config(d, err, &cfg, &n_buckets);
	struct bert_variant var = {.names = &mpnet_names};
	if (s == SY_OK)
		s = mpnet_bias_table(st, &cfg, n_buckets, err, &var.rel_bias);
	struct bert_model *m = NULL;
	if (s == SY_OK)
		s = bert_model_load_variant(&cfg, &var, st, n_threads, prec, err, &m);
	if (s != SY_OK)
		return s;
	bert_encoder_wrap(m, "mpnet", out);
	return SY_OK;
}
