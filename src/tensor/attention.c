/* Multi-head attention (placeholder: scalar until the vectorised kernel lands). */
#include "base/threads.h"
#include "tensor/attention.h"

size_t attention_scratch_floats(int t)
{
	return (size_t)t;
}

void attention_f32(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
		   int t, int n_valid, int n_heads, int head_dim, float scale, float *scratch,
		   int ith, int nth)
{
	(void)scratch;
	int b, e;
	sy_split(n_heads, ith, nth, &b, &e);
	for (int h = b; h < e; h++)
		attention_f32_ref(q + h * head_dim, k + h * head_dim, v + h * head_dim, ld,
				  out + h * head_dim, ldo, t, n_valid, 1, head_dim, scale);
}
