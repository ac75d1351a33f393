/* int8 linear layers (see qgemm.h for the arithmetic), AVX-512 VNNI path (compiled with the
 * AVX-512 F/BW/VL/VNNI flags; reached only through the dispatch table in isa.c when CPUID has
 * them). The packed layout is the one every path shares: per group of 4 inputs, 64 bytes hold
 * the 4 weights of channels 0..15 in order, so ONE 64-byte load gives the 16 channels x 4 inputs
 * that vpdpbusd multiplies with 4 broadcast activation bytes, summing the 4 products of each
 * channel straight into an int32 lane. The AVX2 path needs three instructions for the same
 * (vpmaddubsw, vpmaddwd, vpaddd) and twice the loads.
 *
 * The integer sums are exact on both paths (the 7-bit weights keep AVX2's int16 pairs from
 * saturating; vpdpbusd has no int16 step at all), so this path and the AVX2 path and the scalar
 * twin agree to the last bit before the float epilogue.
 *
 * The 4 x 16 tile keeps two accumulators per row (even and odd groups of 4 inputs): eight
 * independent vpdpbusd chains hide the instruction's latency. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "tensor/kernels.h"
#include "tensor/qgemm.h"
#include "tensor/vecmath.h"

/* vec_gelu_erf (tensor/vecmath.h) on 16 lanes, the same operations in the same order, so the
 * results equal the 8-lane kernel's bit for bit. Applied to the tile's rows while they are still
 * in registers: the separate epilogue on short rows (16 or 32 floats a call) was bound by the
 * latency of its polynomial chain. */
static inline __m512 gelu_erf16(__m512 x)
{
	const __m512i sign_bit = _mm512_set1_epi32((int)0x80000000u);
	const __m512 one = _mm512_set1_ps(1.0f);
	const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
	const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign_bit, _mm512_castps_si512(z)));
	const __m512 am = _mm512_min_ps(a, _mm512_set1_ps(GELU_ERF_CUT));
	const __m512 s = _mm512_mul_ps(am, am);
	__m512 p = _mm512_set1_ps(GELU_ERF_P5);
	p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(GELU_ERF_P4));
	p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(GELU_ERF_P3));
	p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(GELU_ERF_P2));
	p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(GELU_ERF_P1));
	p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(GELU_ERF_P0));
	__m512 q = _mm512_set1_ps(GELU_ERF_Q5);
	q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(GELU_ERF_Q4));
	q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(GELU_ERF_Q3));
	q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(GELU_ERF_Q2));
	q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(GELU_ERF_Q1));
	q = _mm512_fmadd_ps(q, s, one);
	__m512 e = _mm512_min_ps(one, _mm512_div_ps(_mm512_mul_ps(am, p), q));
	e = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(GELU_ERF_CUT), _CMP_GE_OQ), e,
	                         one);
	e = _mm512_castsi512_ps(_mm512_or_si512(
	    _mm512_castps_si512(e), _mm512_and_si512(_mm512_castps_si512(z), sign_bit)));
	return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), _mm512_add_ps(one, e));
}

/* qgemm_quantize_row's quantisation, written as unsigned q + 128 into u[k4] (padding 128).
 * Returns the scale. */
static float quantize_row_u8(const float *x, int k, int k4, uint8_t *u)
{
	__m512 vmax = _mm512_setzero_ps();
	int p = 0;
	for (; p + 16 <= k; p += 16)
		vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + p)));
	if (p < k) {
		const __mmask16 m = (__mmask16)((1u << (k - p)) - 1);
		vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + p)));
	}
	const float amax = _mm512_reduce_max_ps(vmax);
	const float inv = amax > 0 ? (float)QGEMM_XMAX / amax : 0.0f;
	const __m512 vinv = _mm512_set1_ps(inv);
	const __m512i lim = _mm512_set1_epi32(QGEMM_XMAX), nlim = _mm512_set1_epi32(-QGEMM_XMAX);
	const __m512i off = _mm512_set1_epi32(128);
	for (p = 0; p < k; p += 16) {
		const int n = k - p < 16 ? k - p : 16;
		const __mmask16 m = (__mmask16)(n == 16 ? 0xffff : (1u << n) - 1);
		/* round to nearest even, as lrintf in the scalar twin */
		__m512i v =
		    _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + p), vinv));
		v = _mm512_add_epi32(_mm512_max_epi32(_mm512_min_epi32(v, lim), nlim), off);
		_mm_mask_storeu_epi8(u + p, m, _mm512_cvtepi32_epi8(v));
	}
	for (p = k; p < k4; p++)
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
	__m512i e0 = _mm512_setzero_si512(), e1 = e0, e2 = e0, e3 = e0;
	__m512i o0 = e0, o1 = e0, o2 = e0, o3 = e0;
	const uint8_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
	const int steps = k4 / 4;
	int t = 0;
	for (; t + 2 <= steps; t += 2) {
		const __m512i we = _mm512_load_si512((const void *)(panel + (size_t)t * 64));
		const __m512i wo = _mm512_load_si512((const void *)(panel + (size_t)t * 64 + 64));
		e0 = _mm512_dpbusd_epi32(e0, _mm512_set1_epi32(load4(x0 + 4 * t)), we);
		e1 = _mm512_dpbusd_epi32(e1, _mm512_set1_epi32(load4(x1 + 4 * t)), we);
		e2 = _mm512_dpbusd_epi32(e2, _mm512_set1_epi32(load4(x2 + 4 * t)), we);
		e3 = _mm512_dpbusd_epi32(e3, _mm512_set1_epi32(load4(x3 + 4 * t)), we);
		o0 = _mm512_dpbusd_epi32(o0, _mm512_set1_epi32(load4(x0 + 4 * t + 4)), wo);
		o1 = _mm512_dpbusd_epi32(o1, _mm512_set1_epi32(load4(x1 + 4 * t + 4)), wo);
		o2 = _mm512_dpbusd_epi32(o2, _mm512_set1_epi32(load4(x2 + 4 * t + 4)), wo);
		o3 = _mm512_dpbusd_epi32(o3, _mm512_set1_epi32(load4(x3 + 4 * t + 4)), wo);
	}
	if (t < steps) {
		const __m512i we = _mm512_load_si512((const void *)(panel + (size_t)t * 64));
		e0 = _mm512_dpbusd_epi32(e0, _mm512_set1_epi32(load4(x0 + 4 * t)), we);
		e1 = _mm512_dpbusd_epi32(e1, _mm512_set1_epi32(load4(x1 + 4 * t)), we);
		e2 = _mm512_dpbusd_epi32(e2, _mm512_set1_epi32(load4(x2 + 4 * t)), we);
		e3 = _mm512_dpbusd_epi32(e3, _mm512_set1_epi32(load4(x3 + 4 * t)), we);
	}
	const __m512i acc[QGEMM_MR] = {_mm512_add_epi32(e0, o0), _mm512_add_epi32(e1, o1),
	                               _mm512_add_epi32(e2, o2), _mm512_add_epi32(e3, o3)};
	const __mmask16 m = (__mmask16)(nr >= 16 ? 0xffff : (1u << nr) - 1);
	const __m512i off =
	    _mm512_mullo_epi32(_mm512_load_si512((const void *)colsum), _mm512_set1_epi32(128));
	const __m512 swv = _mm512_load_ps(sw);
	const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
	for (int r = 0; r < mr; r++) {
		float *yr = y + (size_t)r * ldy;
		const __m512i v = _mm512_sub_epi32(acc[r], off);
		const __m512 s = _mm512_mul_ps(_mm512_set1_ps(sx[r]), swv);
		__m512 o = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), s, b);
		if (epi == GEMM_EPILOGUE_GELU_ERF)
			o = gelu_erf16(o);
		_mm512_mask_storeu_ps(yr, m, o);
	}
}

/* The 4 x 32 tile over two adjacent panels (panel and panel + 16 * k4): each broadcast of 4
 * activation bytes feeds two vpdpbusd, so a group of 4 inputs takes 2 weight loads and 4
 * broadcasts for 8 vpdpbusd where the 4 x 16 tile takes 1 + 4 for 4 (0.75 loads per vpdpbusd
 * instead of 1.25). Eight accumulator chains, as in qgemm_tile. nr in (16, 32]. */
static void qgemm_tile2(const uint8_t *const xr[QGEMM_MR], const float *sx, const int8_t *panel,
                        const float *sw, const int32_t *colsum, const float *bias, int k4, float *y,
                        size_t ldy, int mr, int nr, enum gemm_epilogue epi)
{
	__m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
	__m512i b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	const uint8_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
	const int8_t *p1 = panel + (size_t)QGEMM_NR * k4;
	const int steps = k4 / 4;
	for (int t = 0; t < steps; t++) {
		const __m512i w0 = _mm512_load_si512((const void *)(panel + (size_t)t * 64));
		const __m512i w1 = _mm512_load_si512((const void *)(p1 + (size_t)t * 64));
		const __m512i v0 = _mm512_set1_epi32(load4(x0 + 4 * t));
		const __m512i v1 = _mm512_set1_epi32(load4(x1 + 4 * t));
		const __m512i v2 = _mm512_set1_epi32(load4(x2 + 4 * t));
		const __m512i v3 = _mm512_set1_epi32(load4(x3 + 4 * t));
		a0 = _mm512_dpbusd_epi32(a0, v0, w0);
		b0 = _mm512_dpbusd_epi32(b0, v0, w1);
		a1 = _mm512_dpbusd_epi32(a1, v1, w0);
		b1 = _mm512_dpbusd_epi32(b1, v1, w1);
		a2 = _mm512_dpbusd_epi32(a2, v2, w0);
		b2 = _mm512_dpbusd_epi32(b2, v2, w1);
		a3 = _mm512_dpbusd_epi32(a3, v3, w0);
		b3 = _mm512_dpbusd_epi32(b3, v3, w1);
	}
	const __m512i acc[2][QGEMM_MR] = {{a0, a1, a2, a3}, {b0, b1, b2, b3}};
	for (int h = 0; h < 2; h++) {
		const int nh = h == 0 ? QGEMM_NR : nr - QGEMM_NR;
		const __mmask16 m = (__mmask16)(nh >= 16 ? 0xffff : (1u << nh) - 1);
		const __m512i off =
		    _mm512_mullo_epi32(_mm512_load_si512((const void *)(colsum + h * QGEMM_NR)),
		                       _mm512_set1_epi32(128));
		const __m512 swv = _mm512_load_ps(sw + h * QGEMM_NR);
		const __m512 b =
		    bias ? _mm512_maskz_loadu_ps(m, bias + h * QGEMM_NR) : _mm512_setzero_ps();
		for (int r = 0; r < mr; r++) {
			const __m512i v = _mm512_sub_epi32(acc[h][r], off);
			const __m512 s = _mm512_mul_ps(_mm512_set1_ps(sx[r]), swv);
			__m512 o = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), s, b);
			if (epi == GEMM_EPILOGUE_GELU_ERF)
				o = gelu_erf16(o);
			_mm512_mask_storeu_ps(y + (size_t)r * ldy + h * QGEMM_NR, m, o);
		}
	}
}

#define QGEMM_HAS_TILE2
/* The tiles take GEMM_EPILOGUE_NONE or _GELU_ERF (in registers); the driver applies the rest. */
#define QGEMM_TILE_GELU
#define SY_ISA_FN(name) name##_avx512
#define SY_ISA_ACT avx2
#include "tensor/qgemm_driver.h"
