/* Scalar reference kernels: the plainest correct code, in double precision where it is cheap,
 * used as the twin every fast kernel is tested against. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/attention.h"
#include "tensor/gemm.h"
#include "tensor/ops.h"

void layer_norm_f32_ref(float *y, const float *x, const float *gamma, const float *beta, int n,
                        float eps)
{
	double mean = 0, var = 0;
	for (int i = 0; i < n; i++)
		mean += x[i];
	mean /= n;
	for (int i = 0; i < n; i++)
		var += (x[i] - mean) * (x[i] - mean);
	var /= n;
	double inv = 1.0 / sqrt(var + eps);
	for (int i = 0; i < n; i++)
		y[i] = (float)((x[i] - mean) * inv * (gamma ? gamma[i] : 1.0f) +
		               (beta ? beta[i] : 0.0f));
}

void softmax_f32_ref(float *x, int n)
{
	float m = -INFINITY;
	for (int i = 0; i < n; i++)
		m = x[i] > m ? x[i] : m;
	double s = 0;
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - m);
		s += x[i];
	}
	for (int i = 0; i < n; i++)
		x[i] = (float)(x[i] / s);
}

void gelu_erf_f32_ref(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
}

void silu_f32_ref(float *x, int n)
{
	for (int i = 0; i < n; i++) {
		const double v = x[i];
		x[i] = (float)(v / (1.0 + exp(-v)));
	}
}

void gelu_tanh_f32_ref(float *x, int n)
{
	const double c = sqrt(2.0 / M_PI);
	for (int i = 0; i < n; i++) {
		double v = x[i];
		x[i] = (float)(0.5 * v * (1.0 + tanh(c * (v + 0.044715 * v * v * v))));
	}
}

void tanh_f32_ref(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = tanhf(x[i]);
}

void relu_f32_ref(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = x[i] < 0 ? 0 : x[i];
}

void exp_f32_ref(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = expf(x[i]);
}

void add_f32_ref(float *y, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += x[i];
}

void l2_normalize_f32_ref(float *x, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	double norm = sqrt(s);
	double inv = 1.0 / (norm > 1e-12 ? norm : 1e-12);
	for (int i = 0; i < n; i++)
		x[i] = (float)(x[i] * inv);
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

void f16_to_f32_ref(float *dst, const unsigned short *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = half_to_float(src[i]);
}

void bf16_to_f32_ref(float *dst, const unsigned short *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned u = (unsigned)src[i] << 16;
		memcpy(&dst[i], &u, 4);
	}
}

static float epilogue_ref(enum gemm_epilogue epi, float v)
{
	switch (epi) {
	case GEMM_EPILOGUE_NONE: return v;
	case GEMM_EPILOGUE_GELU_ERF: gelu_erf_f32_ref(&v, 1); return v;
	case GEMM_EPILOGUE_GELU_TANH: gelu_tanh_f32_ref(&v, 1); return v;
	case GEMM_EPILOGUE_RELU: return v > 0 ? v : 0;
	case GEMM_EPILOGUE_TANH: return tanhf(v);
	}
	return v;
}

void gemm_linear_ref(const float *x, int ldx, const float *w, const float *bias,
                     enum gemm_epilogue epi, float *y, int ldy, int m, int n, int k)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double s = bias ? bias[j] : 0.0;
			for (int p = 0; p < k; p++)
				s += (double)x[(size_t)i * ldx + p] * w[(size_t)j * k + p];
			y[(size_t)i * ldy + j] = epilogue_ref(epi, (float)s);
		}
}

void attention_f32_ref(const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       int t, int n_valid, int n_heads, int head_dim, float scale)
{
	attention_ext_f32_ref(q, k, v, ld, out, ldo, t, n_valid, -1, NULL, 0, n_heads, head_dim,
	                      scale);
}

void attention_rel_f32_ref(const float *q, const float *k, const float *v, int ld, float *out,
                           int ldo, int t, int n_valid, int n_heads, int head_dim, float scale,
                           const float *rel_bias, int bias_ld)
{
	attention_ext_f32_ref(q, k, v, ld, out, ldo, t, n_valid, -1, rel_bias, bias_ld, n_heads,
	                      head_dim, scale);
}

void attention_window_f32_ref(const float *q, const float *k, const float *v, int ld, float *out,
                              int ldo, int t, int n_valid, int window, int n_heads, int head_dim,
                              float scale)
{
	attention_ext_f32_ref(q, k, v, ld, out, ldo, t, n_valid, window, NULL, 0, n_heads, head_dim,
	                      scale);
}

/* x rounded to the nearest bf16 (ties to even), as a float: what vcvtneps2bf16 keeps. */
static float bf16_round(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
	memcpy(&x, &u, sizeof x);
	return x;
}

/* The attention twin; with bf16, Q, K, V and the exponentials are rounded to bf16 first, the
 * rest in double as without. */
static void attention_ref(const float *q, const float *k, const float *v, int ld, float *out,
                          int ldo, int t, int n_valid, int window, const float *rel_bias,
                          int bias_ld, int n_heads, int head_dim, float scale, bool bf16)
{
	double p[n_valid > 0 ? n_valid : 1];
	double e16[n_valid > 0 ? n_valid : 1];
	for (int h = 0; h < n_heads; h++)
		for (int i = 0; i < t; i++) {
			const float *qi = q + (size_t)i * ld + h * head_dim;
			double m = -INFINITY, s = 0;
			for (int j = 0; j < n_valid; j++) {
				if (window >= 0 && abs(i - j) > window) {
					p[j] = -INFINITY;
					continue;
				}
				const float *kj = k + (size_t)j * ld + h * head_dim;
				double d = 0;
				for (int e = 0; e < head_dim; e++)
					d += bf16 ? (double)bf16_round(qi[e]) * bf16_round(kj[e])
					          : (double)qi[e] * kj[e];
				p[j] = d * scale;
				if (rel_bias)
					p[j] += rel_bias[(ptrdiff_t)h * bias_ld + j - i];
				m = p[j] > m ? p[j] : m;
			}
			for (int j = 0; j < n_valid; j++) {
				p[j] = p[j] == -INFINITY ? 0 : exp(p[j] - m);
				s += p[j];
				e16[j] = bf16 ? bf16_round((float)p[j]) : p[j];
			}
			float *oi = out + (size_t)i * ldo + h * head_dim;
			for (int e = 0; e < head_dim; e++) {
				double acc = 0;
				for (int j = 0; j < n_valid; j++) {
					if (p[j] == 0)
						continue;
					const float vj = v[(size_t)j * ld + h * head_dim + e];
					acc += e16[j] / s * (bf16 ? bf16_round(vj) : vj);
				}
				oi[e] = (float)acc;
			}
		}
}

void attention_ext_f32_ref(const float *q, const float *k, const float *v, int ld, float *out,
                           int ldo, int t, int n_valid, int window, const float *rel_bias,
                           int bias_ld, int n_heads, int head_dim, float scale)
{
	attention_ref(q, k, v, ld, out, ldo, t, n_valid, window, rel_bias, bias_ld, n_heads,
	              head_dim, scale, false);
}

void attention_ext_bf16_ref(const float *q, const float *k, const float *v, int ld, float *out,
                            int ldo, int t, int n_valid, int window, const float *rel_bias,
                            int bias_ld, int n_heads, int head_dim, float scale)
{
	attention_ref(q, k, v, ld, out, ldo, t, n_valid, window, rel_bias, bias_ld, n_heads,
	              head_dim, scale, true);
}
