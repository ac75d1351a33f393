/* Linear-layer GEMM, ARM64 NEON path (reached through the dispatch table in isa.c; NEON is part
 * of every ARMv8-A CPU, so this unit needs no extra flags). The packed layouts and the blocked
 * driver are the shared ones (gemm_micro.h, gemm_driver.h); packing is the portable path's.
 *
 * AArch64 has 32 vector registers, so the whole 6 x 16 tile stays in registers in one pass:
 * 24 accumulators (6 rows x 4 vectors of 4 floats), the 4 vectors of a B row, and the A values
 * taken by lane (fmla by element), where the portable kernel, written for the 16 registers of
 * SSE2, makes two 6 x 8 passes over A. Fused multiply-add, one rounding per step. */
#include <arm_neon.h>
#include <stddef.h>

#include "tensor/gemm.h"
#include "tensor/gemm_micro.h"
#include "tensor/kernels.h"

/* The micro-kernel body for both A layouts: A[r][p] is at ar[r][p * step]. */
static inline __attribute__((always_inline)) void
gemm_micro_body(int kc, const float *const ar[GEMM_MR], const int step, const float *restrict b,
                size_t ldb, float *c, size_t ldc, int mr, int nr, int mode, const float *bias)
{
	const float *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
	float32x4_t c00 = vdupq_n_f32(0), c01 = c00, c02 = c00, c03 = c00;
	float32x4_t c10 = c00, c11 = c00, c12 = c00, c13 = c00;
	float32x4_t c20 = c00, c21 = c00, c22 = c00, c23 = c00;
	float32x4_t c30 = c00, c31 = c00, c32 = c00, c33 = c00;
	float32x4_t c40 = c00, c41 = c00, c42 = c00, c43 = c00;
	float32x4_t c50 = c00, c51 = c00, c52 = c00, c53 = c00;
	for (int p = 0; p < kc; p++) {
		const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
		const float32x4_t b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
		const size_t o = (size_t)p * step;
#define GEMM_ROW(ap, x0, x1, x2, x3)          \
	do {                                  \
		const float av = (ap)[o];     \
		x0 = vfmaq_n_f32(x0, b0, av); \
		x1 = vfmaq_n_f32(x1, b1, av); \
		x2 = vfmaq_n_f32(x2, b2, av); \
		x3 = vfmaq_n_f32(x3, b3, av); \
	} while (0)
		GEMM_ROW(a0, c00, c01, c02, c03);
		GEMM_ROW(a1, c10, c11, c12, c13);
		GEMM_ROW(a2, c20, c21, c22, c23);
		GEMM_ROW(a3, c30, c31, c32, c33);
		GEMM_ROW(a4, c40, c41, c42, c43);
		GEMM_ROW(a5, c50, c51, c52, c53);
#undef GEMM_ROW
		b += ldb;
	}
	float32x4_t acc[GEMM_MR][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13},
	                               {c20, c21, c22, c23}, {c30, c31, c32, c33},
	                               {c40, c41, c42, c43}, {c50, c51, c52, c53}};
	/* The store in the same order of additions as the other paths: sum, then C (an earlier k
	 * block), then the bias. */
	for (int r = 0; r < mr; r++) {
		float *cr = c + (size_t)r * ldc;
		if (nr == GEMM_NR) {
			for (int v = 0; v < 4; v++) {
				float32x4_t x = acc[r][v];
				if (mode & GEMM_TILE_ACCUM)
					x = vaddq_f32(x, vld1q_f32(cr + 4 * v));
				if (mode & GEMM_TILE_BIAS)
					x = vaddq_f32(x, vld1q_f32(bias + 4 * v));
				vst1q_f32(cr + 4 * v, x);
			}
			continue;
		}
		float t[GEMM_NR];
		for (int v = 0; v < 4; v++)
			vst1q_f32(t + 4 * v, acc[r][v]);
		for (int j = 0; j < nr; j++) {
			float x = t[j];
			if (mode & GEMM_TILE_ACCUM)
				x += cr[j];
			if (mode & GEMM_TILE_BIAS)
				x += bias[j];
			cr[j] = x;
		}
	}
}

void gemm_micro_tile_neon(int kc, const float *restrict a, const float *restrict b, size_t ldb,
                          float *c, size_t ldc, int mr, int nr, int mode, const float *bias)
{
	const float *ar[GEMM_MR] = {a, a + 1, a + 2, a + 3, a + 4, a + 5};
	gemm_micro_body(kc, ar, GEMM_MR, b, ldb, c, ldc, mr, nr, mode, bias);
}

/* Rows past mr repeat the last valid row, so nothing outside A is read; their results are
 * dropped. */
void gemm_micro_tile_rows_neon(int kc, const float *a, size_t lda, const float *restrict b,
                               size_t ldb, float *c, size_t ldc, int mr, int nr, int mode,
                               const float *bias)
{
	const float *ar[GEMM_MR];
	for (int r = 0; r < GEMM_MR; r++)
		ar[r] = a + (size_t)(r < mr ? r : mr - 1) * lda;
	gemm_micro_body(kc, ar, 1, b, ldb, c, ldc, mr, nr, mode, bias);
}

/* Packing is the portable path's (the layouts are shared). */
static void gemm_pack_a_neon(float *restrict dst, const float *x, size_t ldx, int mc, int kc)
{
	gemm_pack_a_portable(dst, x, ldx, mc, kc);
}

#define SY_ISA_FN(name) name##_neon
#define SY_ISA_ACT portable
#include "tensor/gemm_driver.h"
