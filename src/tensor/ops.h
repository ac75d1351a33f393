/* Element-wise and row-wise kernels. Each fast kernel has a `_ref` scalar twin with the same
 * signature; tests compare them on odd sizes and unaligned pointers.
 *
 * The fast versions (ops.c) use AVX2+FMA and F16C; no pointer needs any alignment. Accuracy
 * against the twins (see tests/test_tensor.c for the exact bounds): exp, tanh and the GELUs within
 * a few ulp (GELU tanh: a few ulp times the condition number of its argument), layer norm and
 * softmax within 1e-6 absolute, add and the conversions bit-exact. */
#ifndef SY_TENSOR_OPS_H
#define SY_TENSOR_OPS_H

#include <stddef.h>

/* y = (x - mean) / sqrt(var + eps) * gamma + beta over one row of n; y may alias x. */
void layer_norm_f32(float *y, const float *x, const float *gamma, const float *beta, int n,
                    float eps);
void layer_norm_f32_ref(float *y, const float *x, const float *gamma, const float *beta, int n,
                        float eps);

/* x = softmax(x) over n, in place (max-subtracted). */
void softmax_f32(float *x, int n);
void softmax_f32_ref(float *x, int n);
/* The unnormalised half of softmax with a scale, for attention: x = exp(scale x - max(scale x))
 * over n >= 1 values, in place; returns 1 / sum, by which the caller scales whatever it derives
 * from x. */
float softmax_exp_f32(float *x, int n, float scale);

/* In place activations over n values. */
void gelu_erf_f32(float *x, int n);
void gelu_erf_f32_ref(float *x, int n);
void gelu_tanh_f32(float *x, int n);
void gelu_tanh_f32_ref(float *x, int n);
/* SiLU, x / (1 + e^-x) (SwiGLU's gate). */
void silu_f32(float *x, int n);
void silu_f32_ref(float *x, int n);
/* max(x, 0); NaN passes through. */
void relu_f32(float *x, int n);
void relu_f32_ref(float *x, int n);
void tanh_f32(float *x, int n);
void tanh_f32_ref(float *x, int n);
/* e^x; results below 2^-126 are gradual-underflow exact, above 88.72 inf. */
void exp_f32(float *x, int n);
void exp_f32_ref(float *x, int n);

/* y += x over n. */
void add_f32(float *y, const float *x, int n);
void add_f32_ref(float *y, const float *x, int n);

/* x *= 1 / max(||x||_2, eps) over n (torch.nn.functional.normalize, eps 1e-12). */
void l2_normalize_f32(float *x, int n);
void l2_normalize_f32_ref(float *x, int n);

/* fp16 / bf16 to fp32 conversion of n values (little-endian uint16 storage). */
void f16_to_f32(float *dst, const unsigned short *src, size_t n);
void bf16_to_f32(float *dst, const unsigned short *src, size_t n);
void f16_to_f32_ref(float *dst, const unsigned short *src, size_t n);
void bf16_to_f32_ref(float *dst, const unsigned short *src, size_t n);

#endif
