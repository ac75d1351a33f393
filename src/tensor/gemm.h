/* Matrix multiplication for linear layers: Y[m][n] = X[m][k] · W[n][k]^T (+ bias[n]).
 *
 * W is in the PyTorch nn.Linear layout (out_features x in_features). It is packed once at load
 * time into the layout the fast kernel streams (`struct gemm_weights`); the forward pass then only
 * reads it. `gemm_linear` computes the rows/columns of part ith of nth, so callers run it inside
 * sy_pool_run; every part writes a disjoint block of Y. `gemm_linear_ref` is the scalar twin that
 * tests compare against. */
#ifndef SY_TENSOR_GEMM_H
#define SY_TENSOR_GEMM_H

#include <stddef.h>

#include "base/status.h"

struct gemm_weights {
	int n, k; /* output features, input features */
	float *packed; /* owned; layout private to gemm.c */
	size_t packed_len;
};

/* Packs w (n x k, row stride k) into out. The caller may free w afterwards. */
enum sy_status gemm_weights_pack(const float *w, int n, int k, struct sy_error *err,
                                 struct gemm_weights *out);
void gemm_weights_free(struct gemm_weights *w);

/* Epilogue applied to each output element after the bias. */
enum gemm_epilogue {
	GEMM_EPILOGUE_NONE,
	GEMM_EPILOGUE_GELU_ERF, /* 0.5 x (1 + erf(x / sqrt 2)) */
	GEMM_EPILOGUE_GELU_TANH, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
	GEMM_EPILOGUE_RELU,
	GEMM_EPILOGUE_TANH,
};

/* y[i][j] = epi(bias[j] + sum_p x[i][p] * W[j][p]) for rows i < m; strides in floats.
 * bias may be NULL. Part ith of nth; x, y need no alignment and must not overlap; nothing outside
 * the m x n block of y is written. Parts split the rows (in multiples of 6) or, for few rows, the
 * columns (in multiples of 16); the result does not depend on nth bit for bit. Each call uses about
 * 220 KB of stack for a packed block of x and allocates nothing. Accuracy: fp32 accumulation
 * (within 2 eps sqrt(k+1) sum_p |x w| of the exact sum), then the epilogue within a few ulp. */
void gemm_linear(const float *x, int ldx, const struct gemm_weights *w, const float *bias,
                 enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth);

/* Scalar twin over the unpacked weights (n x k, row stride k). */
void gemm_linear_ref(const float *x, int ldx, const float *w, const float *bias,
                     enum gemm_epilogue epi, float *y, int ldy, int m, int n, int k);

#endif
