/* Fast element-wise and row-wise kernels (placeholder: scalar until the AVX2 versions land). */
#include <math.h>
#include <string.h>

#include "tensor/ops.h"

void layer_norm_f32(float *y, const float *x, const float *gamma, const float *beta, int n, float eps)
{
	layer_norm_f32_ref(y, x, gamma, beta, n, eps);
}

void softmax_f32(float *x, int n)
{
	softmax_f32_ref(x, n);
}

void gelu_erf_f32(float *x, int n)
{
	gelu_erf_f32_ref(x, n);
}

void gelu_tanh_f32(float *x, int n)
{
	gelu_tanh_f32_ref(x, n);
}

void relu_f32(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = x[i] > 0 ? x[i] : 0;
}

void tanh_f32(float *x, int n)
{
	tanh_f32_ref(x, n);
}

void add_f32(float *y, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += x[i];
}

void l2_normalize_f32(float *x, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	double norm = sqrt(s);
	float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
	for (int i = 0; i < n; i++)
		x[i] *= inv;
}

static float half_to_float(unsigned short h)
{
	unsigned sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	float v;
	if (exp == 0)
		v = ldexpf((float)mant, -24);
	else if (exp == 31)
		v = mant ? NAN : INFINITY;
	else
		v = ldexpf((float)(mant | 0x400), (int)exp - 25);
	return sign ? -v : v;
}

void f16_to_f32(float *dst, const unsigned short *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = half_to_float(src[i]);
}

void bf16_to_f32(float *dst, const unsigned short *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned u = (unsigned)src[i] << 16;
		memcpy(&dst[i], &u, 4);
	}
}
