/* int8 linear layers (see qgemm.h for the arithmetic), AVX2 path (compiled with -mavx2 -mfma
 * -mf16c; reached only through the dispatch table in isa.c):
 *   - W is packed at load into panels of 16 channels: for every group of 4 consecutive inputs
 *     p = 4t..4t+3, 64 bytes hold channels 0-7 (4 bytes each) then channels 8-15. One 32-byte
 *     load gives 8 channels x 4 inputs.
 *   - X rows are quantised into a stack block of up to QGEMM_RB rows as unsigned bytes qx + 128
 *     (padding past k is 128, i.e. zero).
 *   - The micro-kernel keeps a 4 x 16 tile of int32 sums in 8 registers. Per group of 4 inputs
 *     it broadcasts 4 bytes of a row, multiplies them with the two weight vectors (vpmaddubsw:
 *     u8 x s8, pairs summed to int16) and widens pairs again to int32 (vpmaddwd with ones).
 *   - The store removes the +128 offset (128 * column sum), scales by sx[i] * sw[j], adds the
 *     bias and applies the activation while the tile is in L1. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "tensor/kernels.h"
#include "tensor/qgemm.h"
#include "tensor/vecmath.h"

/* The same quantisation as qgemm_quantize_row, vectorised, written as unsigned q + 128 into
 * u[k4] (padding 128). Returns the scale. */
static float quantize_row_u8(const float *x, int k, int k4, uint8_t *u)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 vmax = _mm256_setzero_ps();
	int p = 0;
	for (; p + 8 <= k; p += 8)
		vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + p)));
	float amax = vec_hmax(vmax);
	for (; p < k; p++)
		amax = fmaxf(amax, fabsf(x[p]));
	const float inv = amax > 0 ? (float)QGEMM_XMAX / amax : 0.0f;
	const __m256 vinv = _mm256_set1_ps(inv);
	const __m256i lim = _mm256_set1_epi32(QGEMM_XMAX), nlim = _mm256_set1_epi32(-QGEMM_XMAX);
	const __m256i off = _mm256_set1_epi32(128);
	for (p = 0; p + 8 <= k; p += 8) {
		__m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + p), vinv));
		v = _mm256_add_epi32(_mm256_max_epi32(_mm256_min_epi32(v, lim), nlim), off);
		/* 8 x int32 in [1, 255] -> 8 bytes. */
		__m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
		__m128i w16 = _mm_packus_epi32(lo, hi);
		__m128i b8 = _mm_packus_epi16(w16, w16);
		_mm_storel_epi64((__m128i *)(u + p), b8);
	}
	for (; p < k; p++) {
		long v = lrintf(x[p] * inv);
		v = v > QGEMM_XMAX ? QGEMM_XMAX : v < -QGEMM_XMAX ? -QGEMM_XMAX : v;
		u[p] = (uint8_t)(v + 128);
	}
	for (; p < k4; p++)
		u[p] = 128;
	return amax / (float)QGEMM_XMAX;
}

static inline int32_t load4(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Y tile [mr <= 4][nr <= 16] = dequant(sum over k4 of x rows . panel). */
static void qgemm_tile(const uint8_t *const xr[QGEMM_MR], const float *sx, const int8_t *panel,
                       const float *sw, const int32_t *colsum, const float *bias, int k4, float *y,
                       size_t ldy, int mr, int nr, enum gemm_epilogue epi)
{
	/* Written out for the four rows: with an array and a loop, GCC keeps the accumulators in
	 * memory (a load and a store per step); named variables stay in registers. */
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00;
	__m256i a20 = a00, a21 = a00, a30 = a00, a31 = a00;
	const uint8_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
	const int steps = k4 / 4;
#define QGEMM_ROW(xp, c0, c1)                                                                    \
	do {                                                                                     \
		const __m256i b = _mm256_set1_epi32(load4((xp) + 4 * t));                        \
		c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_maddubs_epi16(b, w0), ones)); \
		c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_maddubs_epi16(b, w1), ones)); \
	} while (0)
	for (int t = 0; t < steps; t++) {
		const __m256i w0 = _mm256_load_si256((const __m256i *)(panel + (size_t)t * 64));
		const __m256i w1 =
		    _mm256_load_si256((const __m256i *)(panel + (size_t)t * 64 + 32));
		QGEMM_ROW(x0, a00, a01);
		QGEMM_ROW(x1, a10, a11);
		QGEMM_ROW(x2, a20, a21);
		QGEMM_ROW(x3, a30, a31);
	}
#undef QGEMM_ROW
	const __m256i acc[2 * QGEMM_MR] = {a00, a01, a10, a11, a20, a21, a30, a31};
	const __m256i c128 = _mm256_set1_epi32(128);
	for (int r = 0; r < mr; r++) {
		float *yr = y + (size_t)r * ldy;
		for (int h = 0; h < 2; h++) {
			const int cn = nr - 8 * h;
			if (cn <= 0)
				break;
			__m256i cs = _mm256_load_si256((const __m256i *)(colsum + 8 * h));
			__m256i v = _mm256_sub_epi32(acc[2 * r + h], _mm256_mullo_epi32(cs, c128));
			__m256 s = _mm256_mul_ps(_mm256_set1_ps(sx[r]), _mm256_load_ps(sw + 8 * h));
			const __m256i mask = vec_mask(cn < 8 ? cn : 8);
			__m256 b =
			    bias ? _mm256_maskload_ps(bias + 8 * h, mask) : _mm256_setzero_ps();
			__m256 out = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), s, b);
			if (cn >= 8)
				_mm256_storeu_ps(yr + 8 * h, out);
			else
				_mm256_maskstore_ps(yr + 8 * h, mask, out);
		}
		SY_EPILOGUE_ROW(avx2, yr, nr, epi);
	}
}

#define SY_ISA_FN(name) name##_avx2
#define SY_ISA_ACT avx2
#include "tensor/qgemm_driver.h"
