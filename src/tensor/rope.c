/* Rotary position embeddings (see rope.h). */
#include "tensor/rope.h"

#include <math.h>
#include <stdlib.h>

void rope_inv_freq(float *inv_freq, int rot_dim, double base)
{
	/* float32, as torch computes 1 / base ** (arange(0, dim, 2).float() / dim) */
	for (int i = 0; i < rot_dim / 2; i++)
		inv_freq[i] = 1.0f / powf((float)base, (float)(2 * i) / (float)rot_dim);
}

enum sy_status rope_table_init_freqs(struct rope_table *t, int rot_dim, int n_pos,
                                     const float *inv_freq, bool interleaved, struct sy_error *err)
{
	*t = (struct rope_table){0};
	if (rot_dim < 2 || rot_dim % 2 || n_pos < 1)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "rotary embedding: %d dimensions, %d positions", rot_dim,
		                    n_pos);
	const int half = rot_dim / 2;
	t->cos = malloc((size_t)n_pos * half * sizeof *t->cos);
	t->sin = malloc((size_t)n_pos * half * sizeof *t->sin);
	if (!t->cos || !t->sin) {
		rope_table_free(t);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory for a rotary table");
	}
	t->rot_dim = rot_dim;
	t->n_pos = n_pos;
	t->interleaved = interleaved;
	for (int p = 0; p < n_pos; p++)
		for (int i = 0; i < half; i++) {
			const float a =
			    (float)p * inv_freq[i]; /* the float32 product torch forms */
			t->cos[(size_t)p * half + i] = cosf(a);
			t->sin[(size_t)p * half + i] = sinf(a);
		}
	return SY_OK;
}

enum sy_status rope_table_init(struct rope_table *t, int rot_dim, int n_pos, double base,
                               bool interleaved, struct sy_error *err)
{
	*t = (struct rope_table){0};
	if (rot_dim < 2 || rot_dim % 2 || rot_dim > 4096 || !(base > 1.0))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "rotary embedding: %d dimensions, base %g", rot_dim, base);
	float inv[2048];
	rope_inv_freq(inv, rot_dim, base);
	return rope_table_init_freqs(t, rot_dim, n_pos, inv, interleaved, err);
}

void rope_table_free(struct rope_table *t)
{
	free(t->cos);
	free(t->sin);
	*t = (struct rope_table){0};
}

void rope_apply(const struct rope_table *t, float *x, int ld, int rows, const int *pos, int n_heads,
                int head_dim)
{
	const int half = t->rot_dim / 2;
	for (int r = 0; r < rows; r++) {
		const float *c = t->cos + (size_t)pos[r] * half,
		            *s = t->sin + (size_t)pos[r] * half;
		for (int h = 0; h < n_heads; h++) {
			float *v = x + (size_t)r * ld + (size_t)h * head_dim;
			for (int i = 0; i < half; i++) {
				float *a = t->interleaved ? &v[2 * i] : &v[i];
				float *b = t->interleaved ? &v[2 * i + 1] : &v[i + half];
				const float x1 = *a, x2 = *b;
				*a = x1 * c[i] - x2 * s[i];
				*b = x2 * c[i] + x1 * s[i];
			}
		}
	}
}
