/* AVX2+FMA vector math shared by the fast kernels in src/tensor: exp, tanh, the two GELUs, tail
 * masks and horizontal sums. Private to the tensor layer (the public kernels are in ops.h).
 *
 * Each function works on 8 floats and matches its libm twin to a few ulp over the whole float
 * range, NaN and infinities included, so a fused GEMM epilogue gives the same answer as the
 * separate element-wise kernel. Polynomial coefficients were fitted by us: a minimax fit
 * (Lawson's iteratively reweighted least squares on 2000-3000 Chebyshev nodes, 40-digit mpmath
 * targets) of the relative error over the stated interval; the fitted maximum error is given
 * next to each polynomial and is well below fp32 rounding. */
#ifndef SY_TENSOR_VECMATH_H
#define SY_TENSOR_VECMATH_H

#include <immintrin.h>
#include <stdint.h>

/* Eight set lanes followed by eight clear ones: loading 8 lanes from offset 8 - n gives a mask
 * with the first n lanes set. */
static const int32_t vec_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Mask with lanes [0, n) set, for n in [0, 8]; used with maskload/maskstore on row tails. */
static inline __m256i vec_mask(int n)
{
	return _mm256_loadu_si256((const __m256i *)(vec_mask_table + 8 - n));
}

static inline float vec_hsum(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline float vec_hmax(__m256 v)
{
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline double vec_hsum_pd(__m256d v)
{
	__m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
	s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
	return _mm_cvtsd_f64(s);
}

/* e^r = 1 + r + r^2 (P1 + P2 r + .. + P5 r^4) on |r| <= ln(2)/2, with ln 2 in two parts for the
 * reduction r = x - n ln 2; shared with the 16-lane exp of attention_avx512bf16.c. */
#define EXP_LN2_HI 0.693147182464599609375f
#define EXP_LN2_LO (-1.904654323148236e-09f)
#define EXP_P1 4.9999993451679836e-01f
#define EXP_P2 1.6666520689634995e-01f
#define EXP_P3 4.1668387367002e-02f
#define EXP_P4 8.368709842551468e-03f
#define EXP_P5 1.3814612983372165e-03f

/* e^x. Range reduction x = n ln2 + r with |r| <= ln2/2 (ln2 split in a float head and tail, the
 * head product exact through FMA), e^r = 1 + r + r^2 P(r) with P of degree 4 (fitted relative
 * error 3.1e-9), then the result is scaled by 2^n as 2^(n/2) * 2^(n - n/2) so that the whole range
 * from gradual underflow (x >= -103.9) to overflow (x > 88.72 gives inf) is exact in the scale.
 * Clamping to [-104, 89] keeps the integer exponent in range; max/min are ordered so NaN passes. */
static inline __m256 vec_exp(__m256 x)
{
	x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
	                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), r);
	__m256 p = _mm256_set1_ps(EXP_P5);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P4));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P3));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P2));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P1));
	p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
	p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
	__m256i ni = _mm256_cvtps_epi32(n);
	__m256i n1 = _mm256_srai_epi32(ni, 1);
	__m256i n2 = _mm256_sub_epi32(ni, n1);
	__m256i bias = _mm256_set1_epi32(127);
	__m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
	__m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
	return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* tanh x. For |x| < 0.625 an odd polynomial x + x^3 Q(x^2), Q of degree 4 (fitted relative error
 * 4.4e-9); above, 1 - 2 / (e^(2|x|) + 1), which has no cancellation there (tanh >= 0.55). The
 * sign is put back at the end, so tanh(-0) = -0. */
static inline __m256 vec_tanh(__m256 x)
{
	const __m256 sign_bit = _mm256_set1_ps(-0.0f);
	__m256 sign = _mm256_and_ps(x, sign_bit);
	__m256 a = _mm256_andnot_ps(sign_bit, x);
	__m256 z = _mm256_mul_ps(a, a);
	__m256 q = _mm256_set1_ps(-5.704987414252392e-03f);
	q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(2.0639087644194736e-02f));
	q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(-5.373971521808185e-02f));
	q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.3331442199941246e-01f));
	q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(-3.333328194208866e-01f));
	__m256 small = _mm256_fmadd_ps(q, _mm256_mul_ps(z, a), a);
	/* tanh(10) rounds to 1, so capping 2|x| at 20 changes nothing and keeps e finite. */
	__m256 e = vec_exp(_mm256_min_ps(_mm256_set1_ps(20.0f), _mm256_add_ps(a, a)));
	__m256 one = _mm256_set1_ps(1.0f);
	__m256 large =
	    _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
	__m256 r =
	    _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
	return _mm256_or_ps(r, sign);
}

/* The rational erf of vec_gelu_erf: erf(z) = z P(z^2) / Q(z^2) for |z| < GELU_ERF_CUT, P and Q
 * of degree 5 (Q's constant term 1). Shared with the 16-lane copy in qgemm_avx512.c, which must
 * give the same bits. */
#define GELU_ERF_CUT 3.92f
#define GELU_ERF_P0 1.128379107e+00f
#define GELU_ERF_P1 1.873528957e-01f
#define GELU_ERF_P2 5.233611539e-02f
#define GELU_ERF_P3 3.635460045e-03f
#define GELU_ERF_P4 2.820197551e-04f
#define GELU_ERF_P5 2.071762310e-06f
#define GELU_ERF_Q1 4.993703365e-01f
#define GELU_ERF_Q2 1.128397658e-01f
#define GELU_ERF_Q3 1.470441278e-02f
#define GELU_ERF_Q4 1.131368568e-03f
#define GELU_ERF_Q5 3.817318429e-05f

/* GELU with the normal CDF: x Phi(x) = x/2 (1 + erf(z)), z = x / sqrt 2.
 *
 * erf(z) = z P(z^2) / Q(z^2) on |z| < 3.92, P and Q of degree 5 (fitted relative error 6.7e-8
 * on [0, 4]; 3.6e-7 absolute once evaluated in float), and +-1 beyond, where erf rounds to 1
 * anyway (erf(3.92) = 1 - 2.5e-8). No exp and one division: about a third of the work of
 * computing Phi(-|x|) with its Gaussian tail. The price is relative precision in the negative
 * tail, where 1 + erf cancels: the result is exact to 2.1e-7 |x| absolute, under 1e-6 over the
 * whole range (|x| < 5.55; below, the result is x/2 (1 - 1) = -0 as the double reference gives,
 * and NaN for -inf as it does). */
static inline __m256 vec_gelu_erf(__m256 x)
{
	const __m256 sign_bit = _mm256_set1_ps(-0.0f);
	const __m256 one = _mm256_set1_ps(1.0f);
	__m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
	__m256 a = _mm256_andnot_ps(sign_bit, z);
	__m256 am = _mm256_min_ps(a, _mm256_set1_ps(GELU_ERF_CUT));
	__m256 s = _mm256_mul_ps(am, am);
	__m256 p = _mm256_set1_ps(GELU_ERF_P5);
	p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(GELU_ERF_P4));
	p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(GELU_ERF_P3));
	p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(GELU_ERF_P2));
	p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(GELU_ERF_P1));
	p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(GELU_ERF_P0));
	__m256 q = _mm256_set1_ps(GELU_ERF_Q5);
	q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(GELU_ERF_Q4));
	q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(GELU_ERF_Q3));
	q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(GELU_ERF_Q2));
	q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(GELU_ERF_Q1));
	q = _mm256_fmadd_ps(q, s, one);
	__m256 e = _mm256_min_ps(one, _mm256_div_ps(_mm256_mul_ps(am, p), q));
	/* |z| >= 3.92 (and +-inf): exactly 1; NaN fails the comparison and stays NaN. */
	e = _mm256_blendv_ps(e, one, _mm256_cmp_ps(a, _mm256_set1_ps(GELU_ERF_CUT), _CMP_GE_OQ));
	e = _mm256_or_ps(e, _mm256_and_ps(z, sign_bit));
	return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), _mm256_add_ps(one, e));
}

/* The odd polynomial of vec_tanh: tanh u for |u| < 0.625. */
static inline __m256 vec_tanh_small(__m256 u)
{
	__m256 z = _mm256_mul_ps(u, u);
	__m256 q = _mm256_set1_ps(-5.704987414252392e-03f);
	q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(2.0639087644194736e-02f));
	q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(-5.373971521808185e-02f));
	q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.3331442199941246e-01f));
	q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(-3.333328194208866e-01f));
	return _mm256_fmadd_ps(q, _mm256_mul_ps(z, u), u);
}

/* GELU with the tanh approximation, 0.5 x (1 + tanh u) with u = sqrt(2/pi) (x + 0.044715 x^3).
 * Near zero (|u| < 0.625) it is computed as x/2 + (x/2) tanh u with one FMA, which is within an
 * ulp; elsewhere as the sigmoid form x / (1 + e^(-2u)), which keeps relative precision for
 * negative x where 1 + tanh u would cancel. */
static inline __m256 vec_gelu_tanh(__m256 x)
{
	/* u = x (c + 0.044715 c x^2), c = sqrt(2/pi): three roundings. */
	__m256 x2 = _mm256_mul_ps(x, x);
	__m256 u = _mm256_mul_ps(x, _mm256_fmadd_ps(x2, _mm256_set1_ps(0.035677408136300125f),
	                                            _mm256_set1_ps(0.7978845608028654f)));
	__m256 hx = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
	__m256 near = _mm256_fmadd_ps(hx, vec_tanh_small(u), hx);
	__m256 e = vec_exp(_mm256_mul_ps(u, _mm256_set1_ps(-2.0f)));
	__m256 far = _mm256_div_ps(x, _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
	__m256 au = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), u);
	return _mm256_blendv_ps(far, near, _mm256_cmp_ps(au, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

/* SiLU (swish), x sigmoid(x) = x / (1 + e^-x): relative precision on both sides (for large
 * negative x, e^-x grows to inf and the quotient goes to -0, as torch's does). */
static inline __m256 vec_silu(__m256 x)
{
	__m256 e = vec_exp(_mm256_sub_ps(_mm256_setzero_ps(), x));
	return _mm256_div_ps(x, _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
}

#endif
