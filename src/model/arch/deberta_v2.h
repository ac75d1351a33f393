/* DeBERTa-v2/v3 encoder (transformers' DebertaV2Model), the backbone of GLiNER.
 *
 * Embeddings: word (+ absolute positions when position_biased_input) -> LayerNorm. Each layer:
 * disentangled self-attention, score(i, j) = (q_i k_j + q_i Kr[c] + k_j Qr[c]) / sqrt(d * (1 +
 * number of position terms)), where c = clamp(bucket(i - j) + span, 0, 2 span - 1), bucket the
 * log buckets of make_log_bucket_position (identity below position_buckets / 2), span =
 * position_buckets (or max_relative_positions), R the relative embeddings (LayerNormed when
 * norm_rel_ebd has layer_norm), Kr / Qr their key / query projections (shared with the content
 * ones when share_att_key); then dense + LayerNorm, GELU FFN + LayerNorm. Refused clearly:
 * separate position projections (share_att_key false), a convolution layer (conv_kernel_size),
 * embedding_size != hidden_size, token types. One sequence per call, no padding; one call at a
 * time per model. */
#ifndef SY_MODEL_DEBERTA_V2_H
#define SY_MODEL_DEBERTA_V2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/status.h"
#include "model/formats/safetensors.h"

struct deberta_config {
	int vocab, hidden, layers, heads, intermediate, max_positions;
	int position_buckets, max_relative_positions;
	bool c2p, p2c, norm_rel_layer_norm, position_biased_input;
	float eps;
};

/* From a config.json / encoder_config object; names the bad key in err. */
enum sy_status deberta_config_parse(const cJSON *o, const char *where, struct sy_error *err,
                                    struct deberta_config *out);

struct deberta_model;

/* Weights under prefix (e.g. "token_rep_layer.bert_layer.model." in GLiNER checkpoints). The
 * model owns a pool of n_threads threads (<= 0: one per core) that every forward uses; the
 * result does not depend on n_threads. */
enum sy_status deberta_load(const struct deberta_config *cfg, const struct safetensors *st,
                            const char *prefix, int n_threads, struct sy_error *err,
                            struct deberta_model **out);
void deberta_free(struct deberta_model *m);
size_t deberta_bytes(const struct deberta_model *m);
/* The model's thread pool, for heads that run on the same threads (one run at a time). */
struct sy_pool *deberta_pool(struct deberta_model *m);
/* The last hidden states of ids[T] into out[T][hidden]. */
enum sy_status deberta_forward(struct deberta_model *m, const int32_t *ids, int T,
                               struct sy_error *err, float *out);

#endif
