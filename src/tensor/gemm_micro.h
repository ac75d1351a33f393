/* The GEMM building blocks shared by gemm.c and attention.c: the 6 x 16 AVX2+FMA micro-kernel
 * and the two packing routines that lay operands out the way it streams them. Private to the
 * tensor layer.
 *
 * Layouts (k is the reduction dimension):
 *   packed A: micro-panels of GEMM_MR rows; panel i holds, for p = 0..k-1, the GEMM_MR values
 *             A[6i..6i+5][p] (rows past the end are zero).
 *   packed B: panels of GEMM_NR columns; panel j holds, for p = 0..k-1, the GEMM_NR values
 *             B[p][16j..16j+15] (columns past the end are zero). A range of p is contiguous. */
#ifndef SY_TENSOR_GEMM_MICRO_H
#define SY_TENSOR_GEMM_MICRO_H

#include <stddef.h>

#define GEMM_MR 6 /* rows of a micro-tile */
#define GEMM_NR 16 /* columns of a micro-tile */

/* Tile store modes for gemm_micro_tile. */
enum gemm_tile_mode {
	GEMM_TILE_ACCUM = 1, /* add the values already in C (an earlier k block) */
	GEMM_TILE_BIAS = 2, /* add bias[0..nr) */
};

/* Packs rows [0, m) x columns [0, k) of a (row stride lda) into packed-A micro-panels at dst,
 * which must hold ceil(m / 6) * 6 * k floats. */
void gemm_pack_a(float *restrict dst, const float *a, size_t lda, int m, int k);

/* Packs B = W^T for W rows [0, n) x columns [0, k) (row stride ldw), i.e. B[p][j] = W[j][p], into
 * packed-B panels at dst, which must hold ceil(n / 16) * 16 * k floats. */
void gemm_pack_bt(float *restrict dst, const float *w, size_t ldw, int n, int k);

/* C[0..mr)[0..nr) = (mode & ACCUM ? C : 0) + A * B (+ bias), where A is one packed-A micro-panel
 * (kc steps of 6) and B is kc rows of 16 floats with row stride ldb (a packed-B panel has
 * ldb = 16). Every B row must be readable for 16 floats even when nr < 16. mr <= 6, nr <= 16;
 * C needs no alignment and nothing outside the mr x nr tile is written. */
void gemm_micro_tile(int kc, const float *restrict a, const float *restrict b, size_t ldb, float *c,
                     size_t ldc, int mr, int nr, int mode, const float *bias);

/* The same with A read in place: row r of the tile is a[r * lda + p]. Rows past mr are not read. */
void gemm_micro_tile_rows(int kc, const float *a, size_t lda, const float *restrict b, size_t ldb,
                          float *c, size_t ldc, int mr, int nr, int mode, const float *bias);

#endif
