/* The int8 GEMM driver shared by every kernel path: thread split, quantising blocks of X rows
 * and walking the tiles. Included once by each qgemm_<isa>.c after it defines
 *   SY_ISA_FN(name)   its suffix, e.g. name##_avx2;
 *   quantize_row_u8   static float (const float *x, int k, int k4, uint8_t *u): qx + 128 into
 *                     u[k4] (padding 128), returns the scale (as qgemm_quantize_row);
 *   qgemm_tile        static void, the 4 x 16 tile (see qgemm_avx2.c);
 * and optionally QGEMM_HAS_TILE2 with
 *   qgemm_tile2       static void, the same over two adjacent panels (4 x 32; nr in (16, 32]),
 *                     used for every whole pair of panels of a part;
 * and QGEMM_TILE_GELU when the tiles apply GELU-erf themselves, in registers; else the driver
 * applies every activation over a block's whole rows once its tiles are written (per tile, on
 * rows of 16-32 floats, the activation's polynomial chains were bound by their latency);
 * and defines qgemm_linear_<isa>. */
#ifndef SY_ISA_FN
#error "define SY_ISA_FN before including tensor/qgemm_driver.h"
#endif

#include <stdbool.h>

#include "base/threads.h"

void SY_ISA_FN(qgemm_linear)(const float *x, int ldx, const struct qgemm_weights *w,
                             const float *bias, enum gemm_epilogue epi, float *y, int ldy, int m,
                             int ith, int nth)
{
	const int n = w->n, k = w->k, k4 = w->k4;
	const int n_panels = (n + QGEMM_NR - 1) / QGEMM_NR;
	/* Rows when there are enough for every part, else column panels (each part then
	 * quantises all the rows it needs: few rows, so little repeated work). */
	int m0 = 0, m1 = m, j0 = 0, j1 = n_panels;
	const int row_tiles = (m + QGEMM_MR - 1) / QGEMM_MR;
	if (nth > 1 && row_tiles >= 2 * nth) {
		int b, e;
		sy_split(row_tiles, ith, nth, &b, &e);
		m0 = b * QGEMM_MR;
		m1 = e * QGEMM_MR < m ? e * QGEMM_MR : m;
	} else if (nth > 1) {
		sy_split(n_panels, ith, nth, &j0, &j1);
	}
	if (m0 >= m1 || j0 >= j1)
		return;
	uint8_t xq[QGEMM_RB * (size_t)k4];
	float sx[QGEMM_RB];
#ifdef QGEMM_TILE_GELU
	const bool tile_epi = epi == GEMM_EPILOGUE_GELU_ERF || epi == GEMM_EPILOGUE_NONE;
#else
	const bool tile_epi = epi == GEMM_EPILOGUE_NONE;
#endif
	const enum gemm_epilogue te = tile_epi ? epi : GEMM_EPILOGUE_NONE;
	const int c0 = j0 * QGEMM_NR, c1 = j1 * QGEMM_NR < n ? j1 * QGEMM_NR : n;
	for (int rb = m0; rb < m1; rb += QGEMM_RB) {
		const int rows = m1 - rb < QGEMM_RB ? m1 - rb : QGEMM_RB;
		for (int r = 0; r < rows; r++)
			sx[r] =
			    quantize_row_u8(x + (size_t)(rb + r) * ldx, k, k4, xq + (size_t)r * k4);
		for (int j = j0; j < j1;) {
			const int8_t *panel = w->packed + (size_t)j * QGEMM_NR * k4;
			const int left = n - j * QGEMM_NR;
#ifdef QGEMM_HAS_TILE2
			const int span = j + 1 < j1 ? 2 : 1;
#else
			const int span = 1;
#endif
			const int nr = left < span * QGEMM_NR ? left : span * QGEMM_NR;
			for (int r = 0; r < rows; r += QGEMM_MR) {
				const int mr = rows - r < QGEMM_MR ? rows - r : QGEMM_MR;
				const uint8_t *xr[QGEMM_MR];
				for (int i = 0; i < QGEMM_MR; i++)
					xr[i] = xq + (size_t)(r + (i < mr ? i : mr - 1)) * k4;
#ifdef QGEMM_HAS_TILE2
				if (span == 2) {
					qgemm_tile2(xr, sx + r, panel, w->scale + j * QGEMM_NR,
					            w->colsum + j * QGEMM_NR,
					            bias ? bias + j * QGEMM_NR : NULL, k4,
					            y + (size_t)(rb + r) * ldy + j * QGEMM_NR,
					            (size_t)ldy, mr, nr, te);
					continue;
				}
#endif
				qgemm_tile(xr, sx + r, panel, w->scale + j * QGEMM_NR,
				           w->colsum + j * QGEMM_NR,
				           bias ? bias + j * QGEMM_NR : NULL, k4,
				           y + (size_t)(rb + r) * ldy + j * QGEMM_NR, (size_t)ldy,
				           mr, nr, te);
			}
			j += span;
		}
		if (!tile_epi)
			for (int r = 0; r < rows; r++)
				SY_EPILOGUE_ROW(SY_ISA_ACT, y + (size_t)(rb + r) * ldy + c0,
				                c1 - c0, epi);
	}
}
