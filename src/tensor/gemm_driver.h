/* The blocked GEMM driver shared by every kernel path: cache blocking over k and rows, thread
 * split, and the calls into the path's packing routine, micro-kernel and epilogue. Included once
 * by each gemm_<isa>.c after it defines
 *   SY_ISA_FN(name)      its suffix, e.g. name##_avx2 (the path's gemm_pack_a, gemm_micro_tile);
 *   SY_ISA_ACT           the suffix of the activation kernels its epilogue uses, e.g. avx2;
 * and defines gemm_linear_<isa>. The calls are direct (no table lookup inside the loops), so the
 * compiler sees the same code as when the kernel and driver were one file. Results do not depend
 * on nth, and the blocking is the same on every path. */
#ifndef SY_ISA_FN
#error "define SY_ISA_FN before including tensor/gemm_driver.h"
#endif

#include "base/threads.h"

#ifndef SY_ISA_ACT
#error "define SY_ISA_ACT before including tensor/gemm_driver.h"
#endif

static void gemm_epilogue_rows(float *y, size_t ldy, int mr, int nr, enum gemm_epilogue epi)
{
	for (int r = 0; r < mr; r++)
		SY_EPILOGUE_ROW(SY_ISA_ACT, y + (size_t)r * ldy, nr, epi);
}

#ifndef GEMM_KC
#define GEMM_KC 768 /* most k per block: the k loop then runs as equal blocks of <= 768 */
#endif
#ifndef GEMM_MC
#define GEMM_MC 72 /* row block: a packed MC x KC X block (<= 216 KB) stays in L2 */
#endif

/* The rows [*m0, *m1) and W panels [*j0, *j1) of part ith. Work is counted in micro-tiles per k
 * step; packing X costs about one tile per 6-row panel, and every part that owns columns of a row
 * packs that row. */
static void gemm_partition(int m, int n_panels, int ith, int nth, int *m0, int *m1, int *j0,
                           int *j1)
{
	long rb = (m + GEMM_MR - 1) / GEMM_MR;
	long cost_rows = (rb + nth - 1) / nth * (n_panels + 1);
	long cost_cols = rb * ((n_panels + nth - 1) / nth + 1);
	if (nth == 1 || cost_rows <= cost_cols) {
		int b, e;
		sy_split((int)rb, ith, nth, &b, &e);
		*m0 = b * GEMM_MR;
		*m1 = e * GEMM_MR < m ? e * GEMM_MR : m;
		*j0 = 0;
		*j1 = n_panels;
	} else {
		*m0 = 0;
		*m1 = m;
		sy_split(n_panels, ith, nth, j0, j1);
	}
}

void SY_ISA_FN(gemm_linear)(const float *x, int ldx, const struct gemm_weights *w,
                            const float *bias, enum gemm_epilogue epi, float *y, int ldy, int m,
                            int ith, int nth)
{
	const int n = w->n, k = w->k;
	const int n_panels = (n + GEMM_NR - 1) / GEMM_NR;
	int m0, m1, j0, j1;
	gemm_partition(m, n_panels, ith, nth, &m0, &m1, &j0, &j1);
	if (m1 <= m0 || j1 <= j0)
		return;
	const int c0 = j0 * GEMM_NR, c1 = j1 * GEMM_NR < n ? j1 * GEMM_NR : n;

	if (k == 0) {
		for (int i = m0; i < m1; i++) {
			float *row = y + (size_t)i * ldy;
			for (int j = c0; j < c1; j++)
				row[j] = bias ? bias[j] : 0.0f;
			gemm_epilogue_rows(row + c0, (size_t)ldy, 1, c1 - c0, epi);
		}
		return;
	}

	_Alignas(64) float xpack[GEMM_MC * GEMM_KC];
	/* Equal k blocks, so that k = 1152 runs as 2 x 576 rather than 768 + 384. */
	const int n_kb = (k + GEMM_KC - 1) / GEMM_KC;
	const int kc_step = (k + n_kb - 1) / n_kb;
	for (int pc = 0; pc < k; pc += kc_step) {
		const int kc = k - pc < kc_step ? k - pc : kc_step;
		const int last = pc + kc == k;
		const int mode =
		    (pc > 0 ? GEMM_TILE_ACCUM : 0) | (last && bias ? GEMM_TILE_BIAS : 0);
		for (int ic = m0; ic < m1; ic += GEMM_MC) {
			const int mc = m1 - ic < GEMM_MC ? m1 - ic : GEMM_MC;
			SY_ISA_FN(gemm_pack_a)
			(xpack, x + (size_t)ic * ldx + pc, (size_t)ldx, mc, kc);
			for (int jp = j0; jp < j1; jp++) {
				const float *bp =
				    w->packed + (size_t)jp * GEMM_NR * k + (size_t)pc * GEMM_NR;
				const int col = jp * GEMM_NR;
				const int nr = n - col < GEMM_NR ? n - col : GEMM_NR;
				for (int ir = 0; ir < mc; ir += GEMM_MR) {
					const int mr = mc - ir < GEMM_MR ? mc - ir : GEMM_MR;
					float *c = y + (size_t)(ic + ir) * ldy + col;
					SY_ISA_FN(gemm_micro_tile)
					(kc, xpack + (size_t)ir * kc, bp, GEMM_NR, c, (size_t)ldy,
					 mr, nr, mode, bias ? bias + col : NULL);
				}
			}
			/* The activation over the row block's whole width while it is still in
			 * cache: long rows keep the activation's polynomial chains in flight
			 * (per 6 x 16 tile, two vectors a row, they were latency-bound). */
			if (last && epi != GEMM_EPILOGUE_NONE)
				gemm_epilogue_rows(y + (size_t)ic * ldy + c0, (size_t)ldy, mc,
				                   c1 - c0, epi);
		}
	}
}
