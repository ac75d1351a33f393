/* Fast element-wise and row-wise kernels, AVX2+FMA and F16C path (compiled with -mavx2 -mfma
 * -mf16c; reached only through the dispatch table in isa.c). Each has a scalar twin in
 * ops_ref.c that tests compare it with.
 *
 * Every loop handles 8 floats at a time and finishes the row with a masked load/store, so any n
 * and any alignment work without a scalar tail. Row reductions that decide the result (layer norm
 * mean and variance, the l2 norm) accumulate in double: rows are short (hidden size), and a
 * float sum of a row with a large common offset would shift every normalised output. */
#include <math.h>
#include <string.h>

#include "tensor/kernels.h"
#include "tensor/ops.h"
#include "tensor/vecmath.h"

void layer_norm_f32_avx2(float *y, const float *x, const float *gamma, const float *beta, int n,
                         float eps)
{
	if (n <= 0)
		return;
	__m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
		s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
	}
	double sum = vec_hsum_pd(_mm256_add_pd(s0, s1));
	for (; i < n; i++)
		sum += x[i];
	double mean = sum / n;
	/* The mean as a float head plus a float tail: x - hi is exact for x near the mean, so the
	 * centred values keep full precision even when the row has a large common offset. */
	float mean_hi = (float)mean;
	float mean_lo = (float)(mean - mean_hi);
	const __m256 vhi = _mm256_set1_ps(mean_hi), vlo = _mm256_set1_ps(mean_lo);

	s0 = _mm256_setzero_pd();
	s1 = _mm256_setzero_pd();
	for (i = 0; i < n; i += 8) {
		/* Full vectors, then one masked tail (masked lanes read 0, then are cleared). */
		__m256 v;
		if (i + 8 <= n) {
			v = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vhi), vlo);
		} else {
			__m256i mask = vec_mask(n - i);
			v = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), vhi), vlo);
			v = _mm256_and_ps(v, _mm256_castsi256_ps(mask));
		}
		__m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
		__m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
		s0 = _mm256_fmadd_pd(d0, d0, s0);
		s1 = _mm256_fmadd_pd(d1, d1, s1);
	}
	double var = vec_hsum_pd(_mm256_add_pd(s0, s1)) / n;
	const __m256 inv = _mm256_set1_ps((float)(1.0 / sqrt(var + eps)));
	const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();

	for (i = 0; i + 8 <= n; i += 8) {
		__m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vhi), vlo);
		__m256 g = gamma ? _mm256_loadu_ps(gamma + i) : one;
		__m256 b = beta ? _mm256_loadu_ps(beta + i) : zero;
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_mul_ps(d, inv), g, b));
	}
	if (i < n) {
		/* Masked stores are slow on some cores (AMD), so they are kept to the tail. */
		__m256i mask = vec_mask(n - i);
		__m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), vhi), vlo);
		__m256 g = gamma ? _mm256_maskload_ps(gamma + i, mask) : one;
		__m256 b = beta ? _mm256_maskload_ps(beta + i, mask) : zero;
		_mm256_maskstore_ps(y + i, mask, _mm256_fmadd_ps(_mm256_mul_ps(d, inv), g, b));
	}
}

/* The largest of scale * x[0..n), n >= 1; the scaled values are written back unless scale is 1. */
static float row_scale_max(float *x, int n, float scale)
{
	const __m256 vs = _mm256_set1_ps(scale);
	const int store = scale != 1.0f;
	__m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
		if (store) {
			v0 = _mm256_mul_ps(v0, vs);
			v1 = _mm256_mul_ps(v1, vs);
			_mm256_storeu_ps(x + i, v0);
			_mm256_storeu_ps(x + i + 8, v1);
		}
		m0 = _mm256_max_ps(m0, v0);
		m1 = _mm256_max_ps(m1, v1);
	}
	for (; i < n; i += 8) {
		__m256i mask = vec_mask(n - i < 8 ? n - i : 8);
		__m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, mask), vs);
		if (store)
			_mm256_maskstore_ps(x + i, mask, v);
		m0 = _mm256_max_ps(m0, _mm256_blendv_ps(m0, v, _mm256_castsi256_ps(mask)));
	}
	return vec_hmax(_mm256_max_ps(m0, m1));
}

/* x *= s over n values. */
static void row_scale(float *x, int n, float s)
{
	const __m256 vs = _mm256_set1_ps(s);
	int i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
	if (i < n) {
		__m256i mask = vec_mask(n - i);
		_mm256_maskstore_ps(x + i, mask,
		                    _mm256_mul_ps(_mm256_maskload_ps(x + i, mask), vs));
	}
}

float softmax_exp_f32_avx2(float *x, int n, float scale)
{
	const float m = row_scale_max(x, n, scale);
	const __m256 vm = _mm256_set1_ps(m);
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 e0 = vec_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
		__m256 e1 = vec_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm));
		_mm256_storeu_ps(x + i, e0);
		_mm256_storeu_ps(x + i + 8, e1);
		acc0 = _mm256_add_ps(acc0, e0);
		acc1 = _mm256_add_ps(acc1, e1);
	}
	for (; i < n; i += 8) {
		int r = n - i < 8 ? n - i : 8;
		__m256 e;
		if (r == 8) {
			e = vec_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
			_mm256_storeu_ps(x + i, e);
		} else {
			__m256i mask = vec_mask(r);
			e = vec_exp(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), vm));
			e = _mm256_and_ps(e, _mm256_castsi256_ps(mask));
			_mm256_maskstore_ps(x + i, mask, e);
		}
		acc0 = _mm256_add_ps(acc0, e);
	}
	return 1.0f / vec_hsum(_mm256_add_ps(acc0, acc1));
}

void softmax_f32_avx2(float *x, int n)
{
	if (n <= 0)
		return;
	/* Like the reference, a row of all -inf gives NaN (-inf - -inf). */
	row_scale(x, n, softmax_exp_f32_avx2(x, n, 1.0f));
}

/* Applies f to n floats in place, 8 at a time with a masked tail. */
#define MAP_INPLACE(x, n, f)                                                                    \
	do {                                                                                    \
		int i_ = 0;                                                                     \
		for (; i_ + 8 <= (n); i_ += 8)                                                  \
			_mm256_storeu_ps((x) + i_, f(_mm256_loadu_ps((x) + i_)));               \
		if (i_ < (n)) {                                                                 \
			__m256i m_ = vec_mask((n)-i_);                                          \
			_mm256_maskstore_ps((x) + i_, m_, f(_mm256_maskload_ps((x) + i_, m_))); \
		}                                                                               \
	} while (0)

static inline __m256 vec_relu(__m256 v)
{
	/* max(0, v) returns its second operand when either is NaN, so a NaN stays visible. */
	return _mm256_max_ps(_mm256_setzero_ps(), v);
}

void gelu_erf_f32_avx2(float *x, int n)
{
	MAP_INPLACE(x, n, vec_gelu_erf);
}

void gelu_tanh_f32_avx2(float *x, int n)
{
	MAP_INPLACE(x, n, vec_gelu_tanh);
}

void silu_f32_avx2(float *x, int n)
{
	MAP_INPLACE(x, n, vec_silu);
}

void relu_f32_avx2(float *x, int n)
{
	MAP_INPLACE(x, n, vec_relu);
}

void tanh_f32_avx2(float *x, int n)
{
	MAP_INPLACE(x, n, vec_tanh);
}

void exp_f32_avx2(float *x, int n)
{
	MAP_INPLACE(x, n, vec_exp);
}

void add_f32_avx2(float *y, const float *x, int n)
{
	int i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i,
		                 _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
	if (i < n) {
		__m256i m = vec_mask(n - i);
		_mm256_maskstore_ps(
		    y + i, m,
		    _mm256_add_ps(_mm256_maskload_ps(y + i, m), _mm256_maskload_ps(x + i, m)));
	}
}

void l2_normalize_f32_avx2(float *x, int n)
{
	__m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
	for (int i = 0; i < n; i += 8) {
		__m256 v = i + 8 <= n ? _mm256_loadu_ps(x + i)
		                      : _mm256_maskload_ps(x + i, vec_mask(n - i));
		__m256d v0 = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
		__m256d v1 = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
		s0 = _mm256_fmadd_pd(v0, v0, s0);
		s1 = _mm256_fmadd_pd(v1, v1, s1);
	}
	double norm = sqrt(vec_hsum_pd(_mm256_add_pd(s0, s1)));
	row_scale(x, n, (float)(1.0 / (norm > 1e-12 ? norm : 1e-12)));
}

/* F16C converts 8 halves per instruction, subnormals, infinities and NaN payloads included; the
 * tail goes through a zero-padded copy because there is no masked 16-bit load. */
void f16_to_f32_avx2(float *dst, const unsigned short *src, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i,
		                 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
	if (i < n) {
		unsigned short tmp[8] = {0};
		memcpy(tmp, src + i, (n - i) * sizeof *src);
		_mm256_maskstore_ps(dst + i, vec_mask((int)(n - i)),
		                    _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tmp)));
	}
}

/* bf16 is the upper half of an fp32: widen to 32 bits and shift left by 16. */
void bf16_to_f32_avx2(float *dst, const unsigned short *src, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
		_mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
	}
	for (; i < n; i++) {
		unsigned u = (unsigned)src[i] << 16;
		memcpy(&dst[i], &u, 4);
	}
}
