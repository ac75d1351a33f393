/* Multi-head attention, AVX2+FMA path (compiled with -mavx2 -mfma -mf16c): the shared kernel
 * of attention_impl.h on this path's micro-kernel and softmax. */
#include <immintrin.h>

static void att_scale_row(float *o, int n, float s)
{
	const __m256 vs = _mm256_set1_ps(s);
	int e = 0;
	for (; e + 8 <= n; e += 8)
		_mm256_storeu_ps(o + e, _mm256_mul_ps(_mm256_loadu_ps(o + e), vs));
	for (; e < n; e++)
		o[e] *= s;
}

#define SY_ISA_FN(name) name##_avx2
#include "tensor/attention_impl.h"
