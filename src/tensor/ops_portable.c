/* Element-wise and row-wise kernels, portable path: plain C built for the baseline (SSE2 on
 * x86-64), used when the CPU lacks AVX2 or SWITCHYARD_ISA=portable. Same contracts and accuracy
 * bounds as ops_avx2.c (see ops.h); tests compare both with the scalar twins in ops_ref.c.
 *
 * Loops that the compiler can vectorise for the baseline (add, relu, scaling, conversions) are
 * written flat. Reductions use four independent partial sums (double where the AVX2 path uses
 * double) so they are not one serial dependency chain. The transcendental functions call libm:
 * exp and tanh in float (the twins' own functions, so bit-exact), and the GELUs and SiLU in double
 * (erfc rather than 1 + erf, so negative inputs keep their relative precision), rounded once. */
#include <math.h>
#include <string.h>

#include "tensor/kernels.h"
#include "tensor/ops.h"

void layer_norm_f32_portable(float *y, const float *x, const float *gamma, const float *beta, int n,
                             float eps)
{
	if (n <= 0)
		return;
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		s0 += x[i];
		s1 += x[i + 1];
		s2 += x[i + 2];
		s3 += x[i + 3];
	}
	for (; i < n; i++)
		s0 += x[i];
	const double mean = ((s0 + s1) + (s2 + s3)) / n;
	/* The mean as a float head plus tail, as in ops_avx2.c: x - hi is exact near the mean. */
	const float hi = (float)mean, lo = (float)(mean - hi);
	s0 = s1 = s2 = s3 = 0;
	for (i = 0; i + 4 <= n; i += 4) {
		const double d0 = (x[i] - hi) - lo, d1 = (x[i + 1] - hi) - lo;
		const double d2 = (x[i + 2] - hi) - lo, d3 = (x[i + 3] - hi) - lo;
		s0 += d0 * d0;
		s1 += d1 * d1;
		s2 += d2 * d2;
		s3 += d3 * d3;
	}
	for (; i < n; i++) {
		const double d = (x[i] - hi) - lo;
		s0 += d * d;
	}
	const double var = ((s0 + s1) + (s2 + s3)) / n;
	const float inv = (float)(1.0 / sqrt(var + eps));
	for (i = 0; i < n; i++) {
		const float d = (x[i] - hi) - lo;
		y[i] = d * inv * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
	}
}

float softmax_exp_f32_portable(float *x, int n, float scale)
{
	float m = -INFINITY;
	if (scale != 1.0f)
		for (int i = 0; i < n; i++)
			x[i] *= scale;
	for (int i = 0; i < n; i++)
		m = x[i] > m ? x[i] : m;
	float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		x[i] = expf(x[i] - m);
		x[i + 1] = expf(x[i + 1] - m);
		x[i + 2] = expf(x[i + 2] - m);
		x[i + 3] = expf(x[i + 3] - m);
		a0 += x[i];
		a1 += x[i + 1];
		a2 += x[i + 2];
		a3 += x[i + 3];
	}
	for (; i < n; i++) {
		x[i] = expf(x[i] - m);
		a0 += x[i];
	}
	return 1.0f / ((a0 + a1) + (a2 + a3));
}

static void row_scale(float *x, int n, float s)
{
	for (int i = 0; i < n; i++)
		x[i] *= s;
}

void softmax_f32_portable(float *x, int n)
{
	if (n <= 0)
		return;
	row_scale(x, n, softmax_exp_f32_portable(x, n, 1.0f));
}

void gelu_erf_f32_portable(float *x, int n)
{
	for (int i = 0; i < n; i++) {
		const double v = x[i];
		x[i] = (float)(0.5 * v * erfc(-v * M_SQRT1_2));
	}
}

void gelu_tanh_f32_portable(float *x, int n)
{
	const double c = sqrt(2.0 / M_PI);
	for (int i = 0; i < n; i++) {
		const double v = x[i];
		const double u = c * (v + 0.044715 * v * v * v);
		/* 0.5 v (1 + tanh u) = v / (1 + e^(-2u)): no cancellation for negative v. */
		x[i] = (float)(v / (1.0 + exp(-2.0 * u)));
	}
}

void silu_f32_portable(float *x, int n)
{
	for (int i = 0; i < n; i++) {
		const double v = x[i];
		x[i] = (float)(v / (1.0 + exp(-v)));
	}
}

void relu_f32_portable(float *x, int n)
{
	/* NaN fails the comparison and passes through, as in the AVX2 max. */
	for (int i = 0; i < n; i++)
		x[i] = x[i] < 0 ? 0.0f : x[i];
}

void tanh_f32_portable(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = tanhf(x[i]);
}

void exp_f32_portable(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = expf(x[i]);
}

void add_f32_portable(float *y, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += x[i];
}

void l2_normalize_f32_portable(float *x, int n)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		s0 += (double)x[i] * x[i];
		s1 += (double)x[i + 1] * x[i + 1];
		s2 += (double)x[i + 2] * x[i + 2];
		s3 += (double)x[i + 3] * x[i + 3];
	}
	for (; i < n; i++)
		s0 += (double)x[i] * x[i];
	const double norm = sqrt((s0 + s1) + (s2 + s3));
	row_scale(x, n, (float)(1.0 / (norm > 1e-12 ? norm : 1e-12)));
}

/* IEEE half to float with integer operations only: normal numbers rebias the exponent, subnormals
 * are scaled by 2^-24 exactly, infinities and NaNs (payload kept) map to the float ones. */
static inline float half_to_float(unsigned short h)
{
	const unsigned sign = (unsigned)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f,
	               mant = h & 0x3ff;
	unsigned u;
	float f;
	if (exp == 0) {
		f = (float)mant * 0x1p-24f; /* exact: mant < 2^10 */
		memcpy(&u, &f, 4);
		u |= sign;
	} else if (exp == 31) {
		u = sign | 0x7f800000u | (mant << 13);
	} else {
		u = sign | ((exp + 112) << 23) | (mant << 13);
	}
	memcpy(&f, &u, 4);
	return f;
}

void f16_to_f32_portable(float *dst, const unsigned short *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = half_to_float(src[i]);
}

void bf16_to_f32_portable(float *dst, const unsigned short *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned u = (unsigned)src[i] << 16;
		memcpy(&dst[i], &u, 4);
	}
}
