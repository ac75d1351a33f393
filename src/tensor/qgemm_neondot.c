/* int8 linear layers (see qgemm.h for the arithmetic), ARM64 path with the dot-product
 * instructions of ARMv8.2 (compiled with +dotprod; reached through isa.c only when the CPU has
 * them, HWCAP_ASIMDDP). The packed layout is the shared one: per group of 4 inputs, 64 bytes hold
 * the 4 weights of channels 0..15 in order, so one 16-byte load is 4 channels x 4 inputs, and
 * `sdot` adds the 4 products of each channel into its int32 lane. sdot multiplies signed by
 * signed, so rows are quantised to plain qx (no +128 offset, padding 0) and no column-sum
 * correction follows; the integer sums are exact and equal the scalar twin's. */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "tensor/kernels.h"
#include "tensor/qgemm.h"

/* qgemm_quantize_row's quantisation, written as signed bytes into u[k4] (padding 0). */
static float quantize_row_u8(const float *x, int k, int k4, uint8_t *u)
{
	float amax = 0;
	for (int p = 0; p < k; p++)
		amax = fmaxf(amax, fabsf(x[p]));
	const float inv = amax > 0 ? (float)QGEMM_XMAX / amax : 0.0f;
	int8_t *q = (int8_t *)u;
	int p = 0;
	for (; p < k; p++) {
		long v = lrintf(x[p] * inv);
		q[p] = (int8_t)(v > QGEMM_XMAX ? QGEMM_XMAX : v < -QGEMM_XMAX ? -QGEMM_XMAX : v);
	}
	for (; p < k4; p++)
		q[p] = 0;
	return amax / (float)QGEMM_XMAX;
}

static inline int8x16_t bcast4(const uint8_t *p)
{
	int32_t v;
	memcpy(&v, p, 4);
	return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

/* Y tile [mr <= 4][nr <= 16] = dequant(sum over k4 of x rows . panel). */
static void qgemm_tile(const uint8_t *const xr[QGEMM_MR], const float *sx, const int8_t *panel,
                       const float *sw, const int32_t *colsum, const float *bias, int k4, float *y,
                       size_t ldy, int mr, int nr, enum gemm_epilogue epi)
{
	(void)colsum; /* signed activations: no offset to remove */
	int32x4_t acc[QGEMM_MR][4];
	for (int r = 0; r < QGEMM_MR; r++)
		for (int v = 0; v < 4; v++)
			acc[r][v] = vdupq_n_s32(0);
	const int steps = k4 / 4;
	for (int t = 0; t < steps; t++) {
		const int8_t *g = panel + (size_t)t * 64;
		const int8x16_t w0 = vld1q_s8(g), w1 = vld1q_s8(g + 16);
		const int8x16_t w2 = vld1q_s8(g + 32), w3 = vld1q_s8(g + 48);
		for (int r = 0; r < QGEMM_MR; r++) {
			const int8x16_t xb = bcast4(xr[r] + 4 * t);
			acc[r][0] = vdotq_s32(acc[r][0], w0, xb);
			acc[r][1] = vdotq_s32(acc[r][1], w1, xb);
			acc[r][2] = vdotq_s32(acc[r][2], w2, xb);
			acc[r][3] = vdotq_s32(acc[r][3], w3, xb);
		}
	}
	for (int r = 0; r < mr; r++) {
		float *yr = y + (size_t)r * ldy;
		int32_t s[QGEMM_NR];
		for (int v = 0; v < 4; v++)
			vst1q_s32(s + 4 * v, acc[r][v]);
		for (int c = 0; c < nr; c++)
			yr[c] = fmaf((float)s[c], sx[r] * sw[c], bias ? bias[c] : 0.0f);
		SY_EPILOGUE_ROW(portable, yr, nr, epi);
	}
}

#define SY_ISA_FN(name) name##_neondot
#define SY_ISA_ACT portable
#include "tensor/qgemm_driver.h"
