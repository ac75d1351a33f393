/* Linear-layer GEMM, Y = epi(X W^T + bias), with an AVX2+FMA register-blocked micro-kernel
 * (compiled with -mavx2 -mfma -mf16c; reached only through the dispatch table in isa.c).
 *
 * The structure follows the BLIS/GotoBLAS layering. The micro-kernel keeps a 6 x 16 tile of Y in
 * twelve ymm registers; each step over k broadcasts six values of X and loads sixteen of W, giving
 * twelve independent FMAs (enough to cover the FMA latency on two pipes). Around it:
 *   - W is packed once at load into panels of 16 output features: panel j holds W[16j..16j+15][p]
 *     for p = 0..k-1, 16 floats per p, zero-padded past n. A slice over any range of p is
 *     contiguous, so cache blocking over k needs no repacking.
 *   - X is packed per block of MC rows x KC columns into micro-panels of 6 rows (6 floats per p,
 *     zero-padded past m) on the stack, so the kernel reads one contiguous stream per operand.
 *   - Loops: k blocks of at most KC, then X blocks of MC rows, then W panels, then 6-row
 *     micro-panels. The 16 x kc slice of a W panel is reused by every micro-panel of the X block
 *     (kept in L2). KC is large (768) because on this machine (Zen 4) L2 feeds the kernel fast
 *     enough, while every extra k block costs a read-modify-write pass over Y, which for large
 *     m x n is out of L2: k = 384 in one block ran about 10% faster than in two of 192, and
 *     512 x 3072 x 768 about 5% faster in one block than in two.
 *   - The bias and accumulation of earlier k blocks are fused into the tile store; the activation
 *     is applied to the tile while it is still in L1, after the last k block.
 * Threads split either the rows (in multiples of 6) or the W panels, whichever leaves the
 * busiest part less work; with a few rows (one request) the panels are split. */
#include <stddef.h>

#include "tensor/gemm.h"
#include "tensor/gemm_micro.h"
#include "tensor/kernels.h"
#include "tensor/vecmath.h"

/* Full micro-panels are transposed 8 columns at a time through six row vectors. */
void gemm_pack_a_avx2(float *restrict dst, const float *x, size_t ldx, int mc, int kc)
{
	for (int i = 0; i < mc; i += GEMM_MR) {
		int mr = mc - i < GEMM_MR ? mc - i : GEMM_MR;
		const float *r0 = x + (size_t)i * ldx;
		if (mr == GEMM_MR) {
			int p = 0;
			for (; p + 8 <= kc; p += 8) {
				float t[GEMM_MR][8];
				for (int r = 0; r < GEMM_MR; r++)
					_mm256_storeu_ps(t[r],
					                 _mm256_loadu_ps(r0 + (size_t)r * ldx + p));
				for (int c = 0; c < 8; c++)
					for (int r = 0; r < GEMM_MR; r++)
						dst[(p + c) * GEMM_MR + r] = t[r][c];
			}
			for (; p < kc; p++)
				for (int r = 0; r < GEMM_MR; r++)
					dst[p * GEMM_MR + r] = r0[(size_t)r * ldx + p];
		} else {
			for (int p = 0; p < kc; p++)
				for (int r = 0; r < GEMM_MR; r++)
					dst[p * GEMM_MR + r] =
					    r < mr ? r0[(size_t)r * ldx + p] : 0.0f;
		}
		dst += (size_t)GEMM_MR * kc;
	}
}

/* Transposes the 8 x 8 block r[0..8) (8 rows of 8 floats) in registers. */
static inline void transpose8(__m256 r[8])
{
	__m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
	__m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
	__m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
	__m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
	__m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
	__m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
	__m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
	__m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
	r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
	r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
	r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
	r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
	r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
	r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
	r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
	r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Eight W rows at a time become one half (8 columns) of a panel: 8 x 8 blocks are transposed in
 * registers; rows past n read as zero and the k tail is copied one value at a time. */
void gemm_pack_bt_avx2(float *restrict dst, const float *w, size_t ldw, int n, int k)
{
	size_t panels = ((size_t)n + GEMM_NR - 1) / GEMM_NR;
	for (size_t jp = 0; jp < panels; jp++, dst += GEMM_NR * (size_t)k) {
		for (int half = 0; half < GEMM_NR; half += 8) {
			const size_t j0 = jp * GEMM_NR + (size_t)half;
			const int rows = j0 >= (size_t)n ? 0 : n - j0 < 8 ? (int)(n - j0) : 8;
			const float *src = w + j0 * ldw;
			int q = 0;
			for (; q + 8 <= k; q += 8) {
				__m256 r[8];
				for (int i = 0; i < 8; i++)
					r[i] = i < rows ? _mm256_loadu_ps(src + (size_t)i * ldw + q)
					                : _mm256_setzero_ps();
				transpose8(r);
				for (int c = 0; c < 8; c++)
					_mm256_storeu_ps(dst + (size_t)(q + c) * GEMM_NR + half,
					                 r[c]);
			}
			for (; q < k; q++)
				for (int i = 0; i < 8; i++)
					dst[(size_t)q * GEMM_NR + half + i] =
					    i < rows ? src[(size_t)i * ldw + q] : 0.0f;
		}
	}
}

/* The micro-kernel body for both A layouts: A[r][p] is at ar[r][p * step]. Twelve accumulators,
 * two B loads and one broadcast register: 15 of the 16 ymm registers. Inlined into each layout's
 * entry point so that step is a constant. */
static inline __attribute__((always_inline)) void
gemm_micro_body(int kc, const float *const ar[GEMM_MR], const int step, const float *restrict b,
                size_t ldb, float *c, size_t ldc, int mr, int nr, int mode, const float *bias)
{
	const float *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
	/* The tile of C is written (and read, for later k blocks) only after the k loop; fetching
	 * its lines now hides the miss behind the FMAs. */
	for (int r = 0; r < mr; r++) {
		_mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
		_mm_prefetch((const char *)(c + (size_t)r * ldc + GEMM_NR - 1), _MM_HINT_T0);
	}
	__m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
	__m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
	__m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
	__m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
	__m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
	__m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
	for (int p = 0; p < kc; p++) {
		__m256 b0 = _mm256_loadu_ps(b);
		__m256 b1 = _mm256_loadu_ps(b + 8);
		const size_t o = (size_t)p * step;
		__m256 av = _mm256_broadcast_ss(a0 + o);
		c00 = _mm256_fmadd_ps(av, b0, c00);
		c01 = _mm256_fmadd_ps(av, b1, c01);
		av = _mm256_broadcast_ss(a1 + o);
		c10 = _mm256_fmadd_ps(av, b0, c10);
		c11 = _mm256_fmadd_ps(av, b1, c11);
		av = _mm256_broadcast_ss(a2 + o);
		c20 = _mm256_fmadd_ps(av, b0, c20);
		c21 = _mm256_fmadd_ps(av, b1, c21);
		av = _mm256_broadcast_ss(a3 + o);
		c30 = _mm256_fmadd_ps(av, b0, c30);
		c31 = _mm256_fmadd_ps(av, b1, c31);
		av = _mm256_broadcast_ss(a4 + o);
		c40 = _mm256_fmadd_ps(av, b0, c40);
		c41 = _mm256_fmadd_ps(av, b1, c41);
		av = _mm256_broadcast_ss(a5 + o);
		c50 = _mm256_fmadd_ps(av, b0, c50);
		c51 = _mm256_fmadd_ps(av, b1, c51);
		b += ldb;
	}
	if (mr == GEMM_MR && nr == GEMM_NR) {
		__m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
		if (mode & GEMM_TILE_BIAS) {
			bias0 = _mm256_loadu_ps(bias);
			bias1 = _mm256_loadu_ps(bias + 8);
		}
#define GEMM_STORE_ROW(r, v0, v1)                                        \
	do {                                                             \
		float *cr = c + (size_t)(r)*ldc;                         \
		if (mode & GEMM_TILE_ACCUM) {                            \
			v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));     \
			v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8)); \
		}                                                        \
		_mm256_storeu_ps(cr, _mm256_add_ps(v0, bias0));          \
		_mm256_storeu_ps(cr + 8, _mm256_add_ps(v1, bias1));      \
	} while (0)
		GEMM_STORE_ROW(0, c00, c01);
		GEMM_STORE_ROW(1, c10, c11);
		GEMM_STORE_ROW(2, c20, c21);
		GEMM_STORE_ROW(3, c30, c31);
		GEMM_STORE_ROW(4, c40, c41);
		GEMM_STORE_ROW(5, c50, c51);
#undef GEMM_STORE_ROW
		return;
	}
	/* Edge tile: spill the accumulators and store the valid part with masks. */
	__m256 acc[GEMM_MR][2] = {{c00, c01}, {c10, c11}, {c20, c21},
	                          {c30, c31}, {c40, c41}, {c50, c51}};
	__m256i m0 = vec_mask(nr < 8 ? nr : 8), m1 = vec_mask(nr > 8 ? nr - 8 : 0);
	__m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
	if (mode & GEMM_TILE_BIAS) {
		bias0 = _mm256_maskload_ps(bias, m0);
		bias1 = _mm256_maskload_ps(bias + 8, m1);
	}
	for (int r = 0; r < mr; r++) {
		float *cr = c + (size_t)r * ldc;
		__m256 v0 = acc[r][0], v1 = acc[r][1];
		/* Same order of additions as full tiles, so results do not depend on the split. */
		if (nr == GEMM_NR) {
			/* Only rows are missing: plain loads and stores (masked stores are slow on
			 * AMD cores, and with m < 6 every tile takes this path). */
			if (mode & GEMM_TILE_ACCUM) {
				v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
				v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
			}
			_mm256_storeu_ps(cr, _mm256_add_ps(v0, bias0));
			_mm256_storeu_ps(cr + 8, _mm256_add_ps(v1, bias1));
			continue;
		}
		if (mode & GEMM_TILE_ACCUM) {
			v0 = _mm256_add_ps(v0, _mm256_maskload_ps(cr, m0));
			v1 = _mm256_add_ps(v1, _mm256_maskload_ps(cr + 8, m1));
		}
		_mm256_maskstore_ps(cr, m0, _mm256_add_ps(v0, bias0));
		_mm256_maskstore_ps(cr + 8, m1, _mm256_add_ps(v1, bias1));
	}
}

void gemm_micro_tile_avx2(int kc, const float *restrict a, const float *restrict b, size_t ldb,
                          float *c, size_t ldc, int mr, int nr, int mode, const float *bias)
{
	const float *ar[GEMM_MR] = {a, a + 1, a + 2, a + 3, a + 4, a + 5};
	gemm_micro_body(kc, ar, GEMM_MR, b, ldb, c, ldc, mr, nr, mode, bias);
}

/* Rows past mr repeat the last valid row, so nothing outside A is read; their results are
 * dropped. */
void gemm_micro_tile_rows_avx2(int kc, const float *a, size_t lda, const float *restrict b,
                               size_t ldb, float *c, size_t ldc, int mr, int nr, int mode,
                               const float *bias)
{
	const float *ar[GEMM_MR];
	for (int r = 0; r < GEMM_MR; r++)
		ar[r] = a + (size_t)(r < mr ? r : mr - 1) * lda;
	gemm_micro_body(kc, ar, 1, b, ldb, c, ldc, mr, nr, mode, bias);
}

#define SY_ISA_FN(name) name##_avx2
#define SY_ISA_ACT avx2
#include "tensor/gemm_driver.h"
