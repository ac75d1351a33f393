/* Rotary position embeddings (RoFormer), in the "rotate half" layout of GPT-NeoX and Hugging
 * Face's apply_rotary_pos_emb: within each head, dimension i (i < rot_dim / 2) pairs with
 * i + rot_dim / 2, and the pair at position p turns by the angle p * inv_freq[i], where
 * inv_freq[i] = base^(-2i / rot_dim). The interleaved layout (GPT-J: pairs 2i, 2i + 1) is the
 * other convention some models use. Dimensions past rot_dim are left as they are (partial
 * rotary).
 *
 * The table holds cos and sin per (position, i), computed as Hugging Face does (inv_freq and the
 * angles in float32, then cos/sin), so results match its float32 models. */
#ifndef SY_TENSOR_ROPE_H
#define SY_TENSOR_ROPE_H

#include <stdbool.h>

#include "base/status.h"

struct rope_table {
	int rot_dim; /* rotated dimensions per head (even) */
	int n_pos; /* positions the table covers */
	bool interleaved; /* pairs (2i, 2i+1) instead of (i, i + rot_dim/2) */
	float *cos, *sin; /* [n_pos][rot_dim / 2] */
};

/* Builds the table for positions [0, n_pos) with the given base (rope_theta). */
enum sy_status rope_table_init(struct rope_table *t, int rot_dim, int n_pos, double base,
                               bool interleaved, struct sy_error *err);
/* The same with the frequencies given (rot_dim / 2 of them; scaled variants such as NTK). */
enum sy_status rope_table_init_freqs(struct rope_table *t, int rot_dim, int n_pos,
                                     const float *inv_freq, bool interleaved, struct sy_error *err);
/* inv_freq[i] = 1 / base^(2i / rot_dim) in float32, as torch computes it. */
void rope_inv_freq(float *inv_freq, int rot_dim, double base);
void rope_table_free(struct rope_table *t);

/* Rotates, in place, rows [0, rows) of x (row r at x + r * ld, n_heads heads of head_dim
 * floats each), row r at position pos[r] (< t->n_pos). */
void rope_apply(const struct rope_table *t, float *x, int ld, int rows, const int *pos, int n_heads,
                int head_dim);

#endif
