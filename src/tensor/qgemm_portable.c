/* int8 linear layers, portable path: the shared driver (qgemm_driver.h) with a plain-C tile.
 *
 * Rows are quantised exactly as qgemm_quantize_row, stored as qx + 128 like the AVX2 path. In the
 * packed layout channel c of a panel holds its 4 inputs of group t at bytes 64 t + 4 c, so a tile
 * step reads one 64-byte group and adds, for each of the 4 rows and 16 channels, the 4 products
 * (qx + 128) qw into an int32 sum; the compiler vectorises the channel loop for the baseline.
 * Integer sums are exact, so after removing 128 * colsum they equal the AVX2 path's and the
 * twin's bit for bit, and the float store is the twin's fmaf. */
#include <math.h>
#include <string.h>

#include "tensor/kernels.h"
#include "tensor/ops.h"
#include "tensor/qgemm.h"

static float quantize_row_u8(const float *x, int k, int k4, uint8_t *u)
{
	float amax = 0;
	for (int p = 0; p < k; p++)
		amax = fmaxf(amax, fabsf(x[p]));
	const float inv = amax > 0 ? (float)QGEMM_XMAX / amax : 0.0f;
	int p = 0;
	for (; p < k; p++) {
		long v = lrintf(x[p] * inv);
		v = v > QGEMM_XMAX ? QGEMM_XMAX : v < -QGEMM_XMAX ? -QGEMM_XMAX : v;
		u[p] = (uint8_t)(v + 128);
	}
	for (; p < k4; p++)
		u[p] = 128;
	return amax / (float)QGEMM_XMAX;
}

static void qgemm_tile(const uint8_t *const xr[QGEMM_MR], const float *sx, const int8_t *panel,
                       const float *sw, const int32_t *colsum, const float *bias, int k4, float *y,
                       size_t ldy, int mr, int nr, enum gemm_epilogue epi)
{
	int32_t acc[QGEMM_MR][QGEMM_NR] = {{0}};
	const int steps = k4 / 4;
	for (int t = 0; t < steps; t++) {
		const int8_t *g = panel + (size_t)t * 64;
		for (int r = 0; r < QGEMM_MR; r++) {
			const uint8_t *xp = xr[r] + 4 * t;
			const int32_t x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
			for (int c = 0; c < QGEMM_NR; c++)
				acc[r][c] += x0 * g[4 * c] + x1 * g[4 * c + 1] + x2 * g[4 * c + 2] +
				             x3 * g[4 * c + 3];
		}
	}
	for (int r = 0; r < mr; r++) {
		float *yr = y + (size_t)r * ldy;
		for (int c = 0; c < nr; c++) {
			const int32_t v = acc[r][c] - 128 * colsum[c];
			yr[c] = fmaf((float)v, sx[r] * sw[c], bias ? bias[c] : 0.0f);
		}
		SY_EPILOGUE_ROW(portable, yr, nr, epi);
	}
}

#define SY_ISA_FN(name) name##_portable
#define SY_ISA_ACT portable
#include "tensor/qgemm_driver.h"
