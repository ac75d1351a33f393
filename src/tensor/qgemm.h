/* int8 linear layers with dynamic quantisation: Y = epi(X W^T + bias) computed as
 *
 *   Y[i][j] = sx[i] * sw[j] * sum_p qx[i][p] * qw[j][p] + bias[j]
 *
 * where W is quantised once at load, per output channel (row j of the nn.Linear weight), to
 * symmetric 7-bit integers qw in [-63, 63] with sw[j] = max_p |W[j][p]| / 63, and each row of X
 * is quantised when the layer runs to symmetric 8-bit integers qx in [-127, 127] with
 * sx[i] = max_p |X[i][p]| / 127 (rounding to nearest, ties to even).
 *
 * Why 7-bit weights: the AVX2 kernel multiplies unsigned 8-bit activations (qx + 128) by signed
 * 8-bit weights with vpmaddubsw, which adds pairs of products into saturating int16 lanes; with
 * |qw| <= 63 a pair is at most 2 * 255 * 63 = 32130 < 32767, so it never saturates (ONNX
 * Runtime's "reduce_range" makes the same choice on AVX2). The +128 offset is removed with the
 * per-channel sum of qw: sum (qx + 128) qw = sum qx qw + 128 sum qw. Integer sums are exact, so
 * the kernel and its scalar twin agree to the last bit before the float epilogue.
 *
 * Threading as gemm_linear: part ith of nth computes a disjoint block of Y (rows in multiples of
 * 4, or column panels of 16 when there are few rows); each part quantises the rows it reads into
 * a stack buffer, so no scratch memory or extra barrier is needed. Nothing is allocated. */
#ifndef SY_TENSOR_QGEMM_H
#define SY_TENSOR_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "tensor/gemm.h"

#define QGEMM_WMAX 63 /* weights in [-63, 63] */
#define QGEMM_XMAX 127 /* activations in [-127, 127] */

/* Kernel geometry (private to the tensor layer): the packed layout's panel width, and the tile
 * rows and quantised row block of the drivers. */
#define QGEMM_NR 16 /* channels per panel */
#define QGEMM_MR 4 /* rows per micro-tile */
#define QGEMM_RB 48 /* rows quantised per block (48 x k4 bytes of stack) */

struct qgemm_weights {
	int n, k; /* output features, input features */
	int k4; /* k rounded up to a multiple of 4 */
	int8_t *packed; /* panels of 16 channels, layout private to qgemm.c */
	float *scale; /* [n] sw */
	int32_t *colsum; /* [n] sum_p qw[j][p] */
	size_t bytes; /* owned bytes */
};

/* Quantises and packs w (n x k, row stride k, the nn.Linear layout). The caller may free w. */
enum sy_status qgemm_weights_pack(const float *w, int n, int k, struct sy_error *err,
                                  struct qgemm_weights *out);
void qgemm_weights_free(struct qgemm_weights *w);

/* The per-channel quantisation of row j as stored (for tests): qw[k] and the scale. */
void qgemm_weights_row(const struct qgemm_weights *w, int j, int8_t *qw, float *scale);

/* Quantises one row of x (k values) to q[k] in [-127, 127] and returns its scale. */
float qgemm_quantize_row(const float *x, int k, int8_t *q);

/* y[i][j] for rows i < m, as described above; strides in floats; bias may be NULL. Part ith
 * of nth. k of x must equal w->k. Stack use: up to 48 * k4 bytes. */
void qgemm_linear(const float *x, int ldx, const struct qgemm_weights *w, const float *bias,
                  enum gemm_epilogue epi, float *y, int ldy, int m, int ith, int nth);

/* Scalar twin: the same quantisation and integer sums, then the same float epilogue. */
void qgemm_linear_ref(const float *x, int ldx, const struct qgemm_weights *w, const float *bias,
                      enum gemm_epilogue epi, float *y, int ldy, int m);

#endif
