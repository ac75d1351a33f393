/* Tests for the int8 linear layer (src/tensor/qgemm.c): the AVX2 kernel against its scalar twin
 * (bit-exact without an activation, since both sum the same integers and round the same float
 * operations; within the GELU kernels' own tolerance with one), on odd shapes, row strides
 * larger than the row, unaligned pointers and thread splits; extreme values (no int16
 * saturation); the accuracy of the quantised result against the fp32 reference; and that no
 * element outside the m x n block of y is written. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "tensor/gemm.h"
#include "tensor/isa.h"
#include "tensor/ops.h"
#include "tensor/qgemm.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

static float rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) * (1.0 / (1 << 24))) * 2.0f - 1.0f;
}

#define SENTINEL 12345.0f

/* Runs the kernel in nth parts (sequentially) and the twin; returns the max abs difference and
 * whether anything outside the block changed. */
static float kernel_vs_twin(int m, int n, int k, int nth, enum gemm_epilogue epi, int with_bias,
                            int *outside)
{
	const int ldx = k + 3, ldy = n + 5;
	float *xb = malloc(((size_t)m * ldx + 1) * sizeof(float)), *x = xb + 1; /* unaligned */
	float *w = malloc((size_t)n * k * sizeof(float));
	float *bias = malloc((size_t)n * sizeof(float));
	float *y = malloc(((size_t)m * ldy + 1) * sizeof(float));
	float *yr = malloc(((size_t)m * ldy + 1) * sizeof(float));
	for (size_t i = 0; i < (size_t)m * ldx; i++)
		x[i] = rnd() * 3.0f;
	for (size_t i = 0; i < (size_t)n * k; i++)
		w[i] = rnd() * 0.2f;
	for (int j = 0; j < n; j++)
		bias[j] = rnd();
	for (size_t i = 0; i < (size_t)m * ldy + 1; i++)
		y[i] = yr[i] = SENTINEL;
	struct qgemm_weights qw;
	struct sy_error err;
	if (qgemm_weights_pack(w, n, k, &err, &qw) != SY_OK) {
		*outside = 1;
		return INFINITY;
	}
	for (int t = 0; t < nth; t++)
		qgemm_linear(x, ldx, &qw, with_bias ? bias : NULL, epi, y, ldy, m, t, nth);
	qgemm_linear_ref(x, ldx, &qw, with_bias ? bias : NULL, epi, yr, ldy, m);
	float d = 0;
	*outside = 0;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < ldy; j++) {
			float a = y[(size_t)i * ldy + j], b = yr[(size_t)i * ldy + j];
			if (j >= n) {
				*outside |= a != SENTINEL;
				continue;
			}
			float e = fabsf(a - b) / (1.0f + fabsf(b));
			d = e > d || isnan(e) ? e : d;
		}
	*outside |= y[(size_t)m * ldy] != SENTINEL;
	qgemm_weights_free(&qw);
	free(xb);
	free(w);
	free(bias);
	free(y);
	free(yr);
	return d;
}

static void test_kernel_matches_twin(void)
{
	static const int ms[] = {1, 3, 4, 5, 17, 48, 49, 100};
	static const int ns[] = {1, 8, 15, 16, 17, 40};
	static const int ks[] = {1, 3, 4, 7, 64, 100, 384};
	int cases = 0;
	for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
		for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
			for (size_t c = 0; c < sizeof ks / sizeof *ks; c++)
				for (int nth = 1; nth <= 3; nth++) {
					int outside;
					float d = kernel_vs_twin(ms[a], ns[b], ks[c], nth,
					                         GEMM_EPILOGUE_NONE, (int)(c & 1),
					                         &outside);
					CHECKF(d == 0.0f && !outside,
					       "m %d n %d k %d nth %d: diff %g outside %d", ms[a],
					       ns[b], ks[c], nth, d, outside);
					cases++;
				}
	static const enum gemm_epilogue epis[] = {GEMM_EPILOGUE_GELU_ERF, GEMM_EPILOGUE_GELU_TANH,
	                                          GEMM_EPILOGUE_RELU, GEMM_EPILOGUE_TANH};
	for (size_t e = 0; e < 4; e++) {
		int outside;
		float d = kernel_vs_twin(37, 40, 100, 2, epis[e], 1, &outside);
		CHECKF(d <= 2e-6f && !outside, "epilogue %d: diff %g", (int)epis[e], d);
		cases++;
	}
	printf("  %d kernel/twin cases\n", cases);
}

/* The GELU epilogue fused into the tile (the AVX-512 path computes it in registers) equals the
 * path's own element-wise GELU applied after the plain GEMM, bit for bit. */
static void test_fused_gelu_equals_separate(void)
{
	enum { M = 9, N = 40, K = 96 };
	float *x = malloc((size_t)M * K * sizeof(float)),
	      *w = malloc((size_t)N * K * sizeof(float));
	float *bias = malloc(N * sizeof(float)), *a = malloc((size_t)M * N * sizeof(float));
	float *b = malloc((size_t)M * N * sizeof(float));
	for (int i = 0; i < M * K; i++)
		x[i] = rnd() * 4.0f;
	for (int i = 0; i < N * K; i++)
		w[i] = rnd() * 0.3f;
	for (int j = 0; j < N; j++)
		bias[j] = rnd() * 2.0f;
	struct qgemm_weights qw;
	struct sy_error err;
	CHECK(qgemm_weights_pack(w, N, K, &err, &qw) == SY_OK);
	qgemm_linear(x, K, &qw, bias, GEMM_EPILOGUE_GELU_ERF, a, N, M, 0, 1);
	qgemm_linear(x, K, &qw, bias, GEMM_EPILOGUE_NONE, b, N, M, 0, 1);
	gelu_erf_f32(b, M * N);
	int differ = 0;
	for (int i = 0; i < M * N; i++)
		differ += memcmp(&a[i], &b[i], sizeof(float)) != 0;
	CHECKF(differ == 0, "%d of %d values differ", differ, M * N);
	qgemm_weights_free(&qw);
	free(x);
	free(w);
	free(bias);
	free(a);
	free(b);
}

/* Every activation at +-max and every weight at +-max: vpmaddubsw sees 255 * 63 pairs. */
static void test_extremes_no_saturation(void)
{
	enum { M = 5, N = 16, K = 64 };
	float x[M * K], w[N * K], y[M * N], yr[M * N];
	for (int i = 0; i < M * K; i++)
		x[i] = (i / K) % 2 ? -1.0f : 1.0f;
	for (int i = 0; i < N * K; i++)
		w[i] = (i / K + i) % 3 == 0 ? -0.5f : 0.5f;
	struct qgemm_weights qw;
	struct sy_error err;
	CHECK(qgemm_weights_pack(w, N, K, &err, &qw) == SY_OK);
	qgemm_linear(x, K, &qw, NULL, GEMM_EPILOGUE_NONE, y, N, M, 0, 1);
	qgemm_linear_ref(x, K, &qw, NULL, GEMM_EPILOGUE_NONE, yr, N, M);
	float exact[M * N];
	gemm_linear_ref(x, K, w, NULL, GEMM_EPILOGUE_NONE, exact, N, M, N, K);
	for (int i = 0; i < M * N; i++) {
		CHECKF(y[i] == yr[i], "%d: %g vs twin %g", i, y[i], yr[i]);
		/* Values exactly representable after quantisation: the result is exact. */
		CHECKF(fabsf(y[i] - exact[i]) <= 1e-5f * (1 + fabsf(exact[i])), "%d: %g vs %g", i,
		       y[i], exact[i]);
	}
	qgemm_weights_free(&qw);
}

/* Gaussian-like data: the quantised layer stays close to fp32. */
static void test_accuracy_vs_fp32(void)
{
	enum { M = 64, N = 96, K = 384 };
	float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
	float *y = malloc(sizeof(float) * M * N), *ref = malloc(sizeof(float) * M * N);
	for (int i = 0; i < M * K; i++)
		x[i] = rnd() + rnd() + rnd();
	for (int i = 0; i < N * K; i++)
		w[i] = (rnd() + rnd() + rnd()) * 0.05f;
	struct qgemm_weights qw;
	struct sy_error err;
	CHECK(qgemm_weights_pack(w, N, K, &err, &qw) == SY_OK);
	qgemm_linear(x, K, &qw, NULL, GEMM_EPILOGUE_NONE, y, N, M, 0, 1);
	gemm_linear_ref(x, K, w, NULL, GEMM_EPILOGUE_NONE, ref, N, M, N, K);
	double min_cos = 1, worst_rel = 0;
	for (int i = 0; i < M; i++) {
		double d = 0, a = 0, b = 0, e2 = 0;
		for (int j = 0; j < N; j++) {
			double u = y[i * N + j], v = ref[i * N + j];
			d += u * v;
			a += u * u;
			b += v * v;
			e2 += (u - v) * (u - v);
		}
		double c = d / sqrt(a * b);
		min_cos = c < min_cos ? c : min_cos;
		double rel = sqrt(e2 / b);
		worst_rel = rel > worst_rel ? rel : worst_rel;
	}
	printf("  int8 vs fp32 (%dx%dx%d): min row cosine %.6f, worst relative error %.4f\n", M, N,
	       K, min_cos, worst_rel);
	CHECK(min_cos >= 0.999);
	CHECK(worst_rel <= 0.03);
	qgemm_weights_free(&qw);
	free(x);
	free(w);
	free(y);
	free(ref);
}

static void test_quantize_row(void)
{
	float x[7] = {0.5f, -1.0f, 0.25f, 0.0f, 1.0f / 254, -1.0f / 254, 3.0f / 254};
	int8_t q[7];
	float s = qgemm_quantize_row(x, 7, q);
	CHECK(fabsf(s - 1.0f / 127) < 1e-9f);
	/* 0.5 * 127 = 63.5 rounds to even (64); 1/254 * 127 = 0.5 rounds to 0; 3/254*127 = 1.5 -> 2. */
	const int8_t want[7] = {64, -127, 32, 0, 0, 0, 2};
	for (int i = 0; i < 7; i++)
		CHECKF(q[i] == want[i], "q[%d] = %d, want %d", i, q[i], want[i]);
	float z[3] = {0, 0, 0};
	CHECK(qgemm_quantize_row(z, 3, q) == 0.0f && q[0] == 0 && q[2] == 0);
	/* Weight rows: symmetric per channel at 63. */
	float w[2 * 3] = {0.63f, -0.315f, 0.0f, -2.0f, 1.0f, 0.5f};
	struct qgemm_weights qw;
	struct sy_error err;
	CHECK(qgemm_weights_pack(w, 2, 3, &err, &qw) == SY_OK);
	int8_t r[3];
	float sw;
	qgemm_weights_row(&qw, 0, r, &sw);
	CHECK(r[0] == 63 && r[1] == -32 && r[2] == 0); /* -31.5 rounds to even: -32 */
	qgemm_weights_row(&qw, 1, r, &sw);
	CHECK(r[0] == -63 && r[1] == 32 && r[2] == 16); /* 31.5 -> 32, 15.75 -> 16 */
	CHECK(fabsf(sw - 2.0f / 63) < 1e-9f);
	qgemm_weights_free(&qw);
	CHECK(qgemm_weights_pack(w, 0, 3, &err, &qw) == SY_ERR_INVALID_ARG);
}

int main(void)
{
	/* Every kernel path this CPU runs (SWITCHYARD_ISA=<path>: that one only). */
	struct sy_error err;
	if (sy_isa_init(&err) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	const char *forced = getenv("SWITCHYARD_ISA");
	const int one = forced && *forced && strcmp(forced, "auto");
	const enum sy_isa start = sy_isa_current();
	RUN(test_quantize_row);
	for (int isa = 0; isa < SY_ISA_COUNT; isa++) {
		if (one ? isa != (int)start : !sy_isa_supported((enum sy_isa)isa))
			continue;
		sy_isa_set((enum sy_isa)isa);
		printf("-- %s kernels\n", sy_isa_name((enum sy_isa)isa));
		RUN(test_kernel_matches_twin);
		RUN(test_fused_gelu_equals_separate);
		RUN(test_extremes_no_saturation);
		RUN(test_accuracy_vs_fp32);
	}
	sy_isa_set(start);
	return harness_summary();
}
