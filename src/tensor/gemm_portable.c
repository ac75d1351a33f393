/* Linear-layer GEMM, portable path: the same packed layouts and blocked driver (gemm_driver.h) as
 * gemm_avx2.c, with a micro-kernel in plain C built for the baseline (SSE2 on x86-64).
 *
 * The micro-kernel uses GCC/Clang generic vectors of 4 floats (vector_size(16)), which the
 * compiler lowers to whatever the target has (SSE2 here, NEON on ARM64, scalar code elsewhere);
 * it uses no intrinsics and no instruction outside the baseline. A 6 x 16 tile does not fit the
 * 16 xmm registers of SSE2, so it is computed as two 6 x 8 halves: twelve accumulators, two B
 * vectors and one broadcast, with the packed A micro-panel (6 x kc, in L1) read once per half.
 * Without FMA each step is a multiply and an add (two roundings); the error bound of gemm.h
 * holds all the same. Per element the additions run in the same order as on the AVX2 path
 * (k order, then earlier k blocks, then the bias), so results do not depend on the split. */
#include <stddef.h>
#include <string.h>

#include "tensor/gemm.h"
#include "tensor/gemm_micro.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

typedef float v4f __attribute__((vector_size(16)));

static inline v4f v4_load(const float *p)
{
	v4f v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline void v4_store(float *p, v4f v)
{
	memcpy(p, &v, sizeof v);
}

void gemm_pack_a_portable(float *restrict dst, const float *x, size_t ldx, int mc, int kc)
{
	for (int i = 0; i < mc; i += GEMM_MR) {
		const int mr = mc - i < GEMM_MR ? mc - i : GEMM_MR;
		const float *r0 = x + (size_t)i * ldx;
		for (int r = 0; r < GEMM_MR; r++) {
			if (r < mr) {
				const float *src = r0 + (size_t)r * ldx;
				for (int p = 0; p < kc; p++)
					dst[p * GEMM_MR + r] = src[p];
			} else {
				for (int p = 0; p < kc; p++)
					dst[p * GEMM_MR + r] = 0.0f;
			}
		}
		dst += (size_t)GEMM_MR * kc;
	}
}

void gemm_pack_bt_portable(float *restrict dst, const float *w, size_t ldw, int n, int k)
{
	const size_t panels = ((size_t)n + GEMM_NR - 1) / GEMM_NR;
	for (size_t jp = 0; jp < panels; jp++, dst += GEMM_NR * (size_t)k) {
		for (int c = 0; c < GEMM_NR; c++) {
			const size_t j = jp * GEMM_NR + (size_t)c;
			if (j < (size_t)n) {
				const float *src = w + j * ldw;
				for (int q = 0; q < k; q++)
					dst[(size_t)q * GEMM_NR + c] = src[q];
			} else {
				for (int q = 0; q < k; q++)
					dst[(size_t)q * GEMM_NR + c] = 0.0f;
			}
		}
	}
}

/* One 6 x 8 half of the tile: columns [h, h + 8) of the 16-wide B rows. A[r][p] is at
 * ar[r][p * step]. The sums go to t (6 rows of 8). */
static inline __attribute__((always_inline)) void micro_half(int kc, const float *const ar[GEMM_MR],
                                                             const int step,
                                                             const float *restrict b, size_t ldb,
                                                             int h, float t[GEMM_MR][8])
{
	const float *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
	v4f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
	v4f c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
	b += h;
	for (int p = 0; p < kc; p++) {
		const v4f b0 = v4_load(b), b1 = v4_load(b + 4);
		const size_t o = (size_t)p * step;
		v4f av = a0[o] - (v4f){0};
		c00 += av * b0;
		c01 += av * b1;
		av = a1[o] - (v4f){0};
		c10 += av * b0;
		c11 += av * b1;
		av = a2[o] - (v4f){0};
		c20 += av * b0;
		c21 += av * b1;
		av = a3[o] - (v4f){0};
		c30 += av * b0;
		c31 += av * b1;
		av = a4[o] - (v4f){0};
		c40 += av * b0;
		c41 += av * b1;
		av = a5[o] - (v4f){0};
		c50 += av * b0;
		c51 += av * b1;
		b += ldb;
	}
	v4_store(t[0], c00), v4_store(t[0] + 4, c01);
	v4_store(t[1], c10), v4_store(t[1] + 4, c11);
	v4_store(t[2], c20), v4_store(t[2] + 4, c21);
	v4_store(t[3], c30), v4_store(t[3] + 4, c31);
	v4_store(t[4], c40), v4_store(t[4] + 4, c41);
	v4_store(t[5], c50), v4_store(t[5] + 4, c51);
}

static inline __attribute__((always_inline)) void
micro_body(int kc, const float *const ar[GEMM_MR], const int step, const float *restrict b,
           size_t ldb, float *c, size_t ldc, int mr, int nr, int mode, const float *bias)
{
	for (int h = 0; h < GEMM_NR; h += 8) {
		if (h >= nr)
			break;
		float t[GEMM_MR][8];
		micro_half(kc, ar, step, b, ldb, h, t);
		const int cn = nr - h < 8 ? nr - h : 8;
		for (int r = 0; r < mr; r++) {
			float *cr = c + (size_t)r * ldc + h;
			for (int j = 0; j < cn; j++) {
				float v = t[r][j];
				if (mode & GEMM_TILE_ACCUM)
					v += cr[j];
				cr[j] = v + (mode & GEMM_TILE_BIAS ? bias[h + j] : 0.0f);
			}
		}
	}
}

void gemm_micro_tile_portable(int kc, const float *restrict a, const float *restrict b, size_t ldb,
                              float *c, size_t ldc, int mr, int nr, int mode, const float *bias)
{
	const float *ar[GEMM_MR] = {a, a + 1, a + 2, a + 3, a + 4, a + 5};
	micro_body(kc, ar, GEMM_MR, b, ldb, c, ldc, mr, nr, mode, bias);
}

/* Rows past mr repeat the last valid row, so nothing outside A is read. */
void gemm_micro_tile_rows_portable(int kc, const float *a, size_t lda, const float *restrict b,
                                   size_t ldb, float *c, size_t ldc, int mr, int nr, int mode,
                                   const float *bias)
{
	const float *ar[GEMM_MR];
	for (int r = 0; r < GEMM_MR; r++)
		ar[r] = a + (size_t)(r < mr ? r : mr - 1) * lda;
	micro_body(kc, ar, 1, b, ldb, c, ldc, mr, nr, mode, bias);
}

#define SY_ISA_FN(name) name##_portable
#define SY_ISA_ACT portable
#include "tensor/gemm_driver.h"
