/* The post-norm rotary encoder with a gated MLP (rope_glu.c), shared by the architectures that
 * are this shape under other names: NewModel (new_model.c) and NomicBERT (nomic_bert.c). Each
 * reads its own config.json keys and names its tensors; this file loads and runs them. */
#ifndef SY_MODEL_ROPE_GLU_H
#define SY_MODEL_ROPE_GLU_H

#include <stdbool.h>

#include "model/arch/encoder.h"

enum rope_glu_act { ROPE_GLU_GELU_ERF, ROPE_GLU_GELU_TANH, ROPE_GLU_SILU };

struct rope_glu_config {
	int vocab, hidden, layers, heads, intermediate, max_positions, type_vocab;
	float eps;
	/* Rotary positions over the first rot_dim dimensions of each head (0: absolute position
	 * embeddings instead), frequencies inv_freq[rot_dim / 2], pairs interleaved or halves. */
	int rot_dim;
	const float *inv_freq;
	bool interleaved;
	enum rope_glu_act act; /* on the gate */
};

/* Tensor names, printf patterns taking the layer index where per layer. A NULL entry is
 * absent: pos without absolute positions, type without token types; qkv NULL means q, k and v
 * come separately; up_gate NULL means up and gate come separately (stacked at load). The bias
 * flags say which linear layers carry `.bias`. */
struct rope_glu_names {
	const char *word, *type, *pos, *emb_norm;
	const char *qkv, *q, *k, *v;
	const char *o;
	const char *up_gate, *up, *gate;
	const char *down;
	const char *norm1, *norm2;
	bool qkv_bias, o_bias, up_gate_bias, down_bias;
};

/* Loads the encoder from st under prefix (names as above) into out, reporting as arch. */
enum sy_status rope_glu_open(const struct rope_glu_config *cfg, const struct rope_glu_names *names,
                             const struct safetensors *st, const char *prefix, const char *arch,
                             int n_threads, enum linear_precision prec, struct sy_error *err,
                             struct encoder *out);

#endif
