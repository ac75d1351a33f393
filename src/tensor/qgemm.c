/* int8 linear layers (see qgemm.h for the arithmetic): the ISA-neutral part, i.e. quantising and
 * packing W at load, the per-row quantisation and the scalar twin. The kernels are per ISA
 * (qgemm_avx2.c, qgemm_portable.c, chosen at start by isa.c) around the shared driver in
 * qgemm_driver.h. Packed layout: panels of 16 channels; for every group of 4 consecutive inputs
 * p = 4t..4t+3, 64 bytes hold channel c's 4 bytes at offset 4c (channels 0-7, then 8-15). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"
#include "tensor/qgemm.h"

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

enum sy_status qgemm_weights_pack(const float *w, int n, int k, struct sy_error *err,
                                  struct qgemm_weights *out)
{
	memset(out, 0, sizeof *out);
	if (n <= 0 || k <= 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "qgemm_weights_pack: bad shape %dx%d",
		                    n, k);
	const int k4 = (int)round_up((size_t)k, 4);
	const size_t panels = round_up((size_t)n, QGEMM_NR) / QGEMM_NR;
	const size_t npad = panels * QGEMM_NR;
	const size_t wbytes = round_up(panels * QGEMM_NR * (size_t)k4, 64);
	int8_t *p = aligned_alloc(64, wbytes);
	float *scale = aligned_alloc(64, round_up(npad * sizeof(float), 64));
	int32_t *colsum = aligned_alloc(64, round_up(npad * sizeof(int32_t), 64));
	int8_t *row = malloc((size_t)k4);
	if (!p || !scale || !colsum || !row) {
		free(p);
		free(scale);
		free(colsum);
		free(row);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory quantising %dx%d weights", n,
		                    k);
	}
	memset(p, 0, wbytes);
	memset(scale, 0, npad * sizeof(float));
	memset(colsum, 0, npad * sizeof(int32_t));
	for (int j = 0; j < n; j++) {
		const float *wj = w + (size_t)j * k;
		float amax = 0;
		for (int q = 0; q < k; q++)
			amax = fmaxf(amax, fabsf(wj[q]));
		const float inv = amax > 0 ? (float)QGEMM_WMAX / amax : 0.0f;
		int32_t sum = 0;
		memset(row, 0, (size_t)k4);
		for (int q = 0; q < k; q++) {
			long v = lrintf(wj[q] * inv);
			v = v > QGEMM_WMAX ? QGEMM_WMAX : v < -QGEMM_WMAX ? -QGEMM_WMAX : v;
			row[q] = (int8_t)v;
			sum += (int32_t)v;
		}
		scale[j] = amax / (float)QGEMM_WMAX;
		colsum[j] = sum;
		/* Scatter into the panel layout. */
		const size_t panel = (size_t)j / QGEMM_NR;
		const int c = j % QGEMM_NR, half = c / 8, lane = c % 8;
		int8_t *base = p + panel * QGEMM_NR * (size_t)k4;
		for (int t = 0; t < k4 / 4; t++)
			memcpy(base + (size_t)t * 64 + half * 32 + lane * 4, row + 4 * t, 4);
	}
	free(row);
	out->n = n;
	out->k = k;
	out->k4 = k4;
	out->packed = p;
	out->scale = scale;
	out->colsum = colsum;
	out->bytes = wbytes + 2 * round_up(npad * 4, 64);
	return SY_OK;
}

void qgemm_weights_free(struct qgemm_weights *w)
{
	free(w->packed);
	free(w->scale);
	free(w->colsum);
	memset(w, 0, sizeof *w);
}

void qgemm_weights_row(const struct qgemm_weights *w, int j, int8_t *qw, float *scale)
{
	const size_t panel = (size_t)j / QGEMM_NR;
	const int c = j % QGEMM_NR, half = c / 8, lane = c % 8;
	const int8_t *base = w->packed + panel * QGEMM_NR * (size_t)w->k4;
	for (int q = 0; q < w->k; q++)
		qw[q] = base[(size_t)(q / 4) * 64 + half * 32 + lane * 4 + q % 4];
	*scale = w->scale[j];
}

float qgemm_quantize_row(const float *x, int k, int8_t *q)
{
	float amax = 0;
	for (int p = 0; p < k; p++)
		amax = fmaxf(amax, fabsf(x[p]));
	const float inv = amax > 0 ? (float)QGEMM_XMAX / amax : 0.0f;
	for (int p = 0; p < k; p++) {
		long v = lrintf(x[p] * inv);
		q[p] = (int8_t)(v > QGEMM_XMAX ? QGEMM_XMAX : v < -QGEMM_XMAX ? -QGEMM_XMAX : v);
	}
	return amax / (float)QGEMM_XMAX;
}

void qgemm_linear_ref(const float *x, int ldx, const struct qgemm_weights *w, const float *bias,
                      enum gemm_epilogue epi, float *y, int ldy, int m)
{
	const int n = w->n, k = w->k;
	int8_t *qx = malloc((size_t)k), *qw = malloc((size_t)k);
	if (!qx || !qw) {
		free(qx);
		free(qw);
		return;
	}
	for (int i = 0; i < m; i++) {
		const float sx = qgemm_quantize_row(x + (size_t)i * ldx, k, qx);
		float *yi = y + (size_t)i * ldy;
		for (int j = 0; j < n; j++) {
			float sw;
			qgemm_weights_row(w, j, qw, &sw);
			int32_t acc = 0;
			for (int p = 0; p < k; p++)
				acc += (int32_t)qx[p] * qw[p];
			yi[j] = fmaf((float)acc, sx * sw, bias ? bias[j] : 0.0f);
		}
		switch (epi) {
		case GEMM_EPILOGUE_NONE: break;
		case GEMM_EPILOGUE_GELU_ERF: gelu_erf_f32_ref(yi, n); break;
		case GEMM_EPILOGUE_GELU_TANH: gelu_tanh_f32_ref(yi, n); break;
		case GEMM_EPILOGUE_RELU: relu_f32_ref(yi, n); break;
		case GEMM_EPILOGUE_TANH: tanh_f32_ref(yi, n); break;
		}
	}
	free(qx);
	free(qw);
}
