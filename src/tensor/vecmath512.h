/* 16-lane helpers for the AVX-512 kernel units (include only from *_avx512*.c, which are built
 * with the AVX-512 flags): lane masks, e^x with vscalefps, and softmax_exp_f32's contract on
 * 16 lanes. */
#ifndef SY_TENSOR_VECMATH512_H
#define SY_TENSOR_VECMATH512_H

#include <immintrin.h>
#include <math.h>

#include "tensor/vecmath.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE __mmask16 lanes(int n)
{
	return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* e^x on 16 lanes for x <= 0 (scores minus their row maximum): vec_exp's reduction and
 * polynomial, with 2^n applied by vscalefps, which is exact down through the subnormals, so one
 * instruction replaces the AVX2 version's rounding, conversion and two exponent builds. */
ALWAYS_INLINE __m512 exp16(__m512 x)
{
	x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
	const __m512 n =
	    _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
	                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), r);
	__m512 p = _mm512_set1_ps(EXP_P5);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P4));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P3));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P2));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P1));
	p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
	return _mm512_scalef_ps(_mm512_add_ps(p, _mm512_set1_ps(1.0f)), n);
}

/* softmax_exp_f32's contract on 16 lanes: x[i] = e^(scale x[i] - max), returns 1 / sum. */
static inline float softmax_exp16(float *x, int n, float scale)
{
	const __m512 vs = _mm512_set1_ps(scale);
	__m512 m0 = _mm512_set1_ps(-INFINITY);
	for (int i = 0; i < n; i += 16)
		m0 = _mm512_max_ps(
		    m0, _mm512_mul_ps(_mm512_mask_loadu_ps(m0, lanes(n - i), x + i), vs));
	const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(m0));
	__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
	int i = 0;
	for (; i + 32 <= n; i += 32) {
		const __m512 e0 = exp16(_mm512_fmsub_ps(_mm512_loadu_ps(x + i), vs, vm));
		const __m512 e1 = exp16(_mm512_fmsub_ps(_mm512_loadu_ps(x + i + 16), vs, vm));
		_mm512_storeu_ps(x + i, e0);
		_mm512_storeu_ps(x + i + 16, e1);
		acc0 = _mm512_add_ps(acc0, e0);
		acc1 = _mm512_add_ps(acc1, e1);
	}
	for (; i < n; i += 16) {
		const __mmask16 m = lanes(n - i);
		const __m512 e = exp16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + i), vs, vm));
		_mm512_mask_storeu_ps(x + i, m, e);
		acc0 = _mm512_add_ps(acc0, _mm512_maskz_mov_ps(m, e));
	}
	return 1.0f / _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

#endif
