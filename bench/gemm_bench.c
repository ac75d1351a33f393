/* GEMM micro-benchmark: gemm_linear (the packed kernel of the path isa.c picks) against OpenBLAS
 * cblas_sgemm on the shapes of a BERT encoder, on 1 and 2 threads. Not built by the Makefile; compile by hand from
 * the repository root:
 *
 *   make build/libswitchyard.a
 *   cc -std=c11 -O2 -pthread -D_GNU_SOURCE -Isrc bench/gemm_bench.c build/libswitchyard.a \
 *      -lopenblas -lm -o /tmp/gemm_bench
 *   /tmp/gemm_bench            # the default shapes, then attention
 *   /tmp/gemm_bench m n k ...  # given shapes only
 *   SWITCHYARD_ISA=portable /tmp/gemm_bench   # the portable kernels (src/tensor/isa.c)
 *
 * Each number is the best of 40 rounds of at least 25 ms, ours and OpenBLAS alternating (the best
 * round filters out other load on the machine); one thread is timed in thread CPU time, two in
 * wall-clock time. GFLOP/s counts 2 m n k. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/threads.h"
#include "tensor/attention.h"
#include "tensor/gemm.h"

struct bench_ctx {
	const float *x;
	const struct gemm_weights *w;
	const float *bias;
	enum gemm_epilogue epi;
	float *y;
	int m, n, k;
};

static void bench_part(void *arg, int ith, int nth)
{
	struct bench_ctx *c = arg;
	gemm_linear(c->x, c->k, c->w, c->bias, c->epi, c->y, c->n, c->m, ith, nth);
}

/* One thread is timed in thread CPU time, which leaves out the time other processes on this small
 * machine take the core; two threads in wall-clock time. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(bench_clock, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds per call of one round of at least 25 ms; mode 0 runs ours on pool, mode 1 OpenBLAS. */
static double bench_round(struct sy_pool *pool, struct bench_ctx *c, const float *wt, int mode)
{
	int reps = 0;
	double t0 = now_s(), t;
	do {
		if (mode == 0)
			sy_pool_run(pool, bench_part, c);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->m, c->n, c->k, 1.0f,
			            c->x, c->k, wt, c->k, 0.0f, c->y, c->n);
		reps++;
		t = now_s() - t0;
	} while (t < 0.025);
	return t / reps;
}

/* Attention of one sequence (12 heads of 64, fused QKV rows), one thread, CPU time; GFLOP/s
 * counts the two products, 4 t^2 d per head. */
static void bench_attention(int t)
{
	const int heads = 12, d = 64, width = heads * d, ld = 3 * width;
	float *qkv = malloc(sizeof(float) * t * ld), *out = malloc(sizeof(float) * t * width);
	float *scratch = malloc(sizeof(float) * attention_scratch_floats(t));
	for (long i = 0; i < (long)t * ld; i++)
		qkv[i] = rand() / (float)RAND_MAX - 0.5f;
	bench_clock = CLOCK_THREAD_CPUTIME_ID;
	double best = 1e30;
	for (int round = 0; round < 20; round++) {
		int reps = 0;
		double t0 = now_s(), el;
		do {
			attention_f32(qkv, qkv + width, qkv + 2 * width, ld, out, width, t, t,
			              heads, d, 0.125f, scratch, 0, 1);
			reps++;
			el = now_s() - t0;
		} while (el < 0.025);
		best = el / reps < best ? el / reps : best;
	}
	printf("attention t=%-4d 12x64: %.1f GFLOP/s (%.3f ms)\n", t,
	       4.0 * t * t * d * heads / best * 1e-9, best * 1e3);
	free(qkv);
	free(out);
	free(scratch);
}

int main(int argc, char **argv)
{
	int shapes[32][3] = {{4096, 1536, 384}, {128, 384, 384}, {512, 3072, 768}, {512, 768, 3072},
	                     {512, 2304, 768},  {16, 768, 768},  {1, 1536, 384}};
	int n_shapes = 7;
	if (argc > 3) {
		n_shapes = 0;
		for (int i = 1; i + 2 < argc && n_shapes < 32; i += 3, n_shapes++)
			for (int j = 0; j < 3; j++)
				shapes[n_shapes][j] = atoi(argv[i + j]);
	}
	printf("%-18s %8s %8s %8s %8s   (GFLOP/s)\n", "m x n x k", "ours/1", "blas/1", "ours/2",
	       "blas/2");
	for (int s = 0; s < n_shapes; s++) {
		int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
		float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k);
		float *y = malloc(sizeof(float) * m * n);
		srand(1);
		for (long i = 0; i < (long)m * k; i++)
			x[i] = rand() / (float)RAND_MAX - 0.5f;
		for (long i = 0; i < (long)n * k; i++)
			w[i] = rand() / (float)RAND_MAX - 0.5f;
		struct gemm_weights pw;
		if (gemm_weights_pack(w, n, k, NULL, &pw) != SY_OK)
			return 1;
		struct bench_ctx c = {x, &pw, NULL, GEMM_EPILOGUE_NONE, y, m, n, k};
		double gflop = 2.0 * m * n * k * 1e-9, r[4];
		for (int th = 1; th <= 2; th++) {
			struct sy_pool *pool = sy_pool_create(th);
			openblas_set_num_threads(th);
			bench_clock = th == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
			/* Rounds alternate between the two so both see the same machine load; the
			 * best round of each counts. */
			double best[2] = {1e30, 1e30};
			for (int round = 0; round < 40; round++)
				for (int mode = 0; mode < 2; mode++) {
					double t = bench_round(pool, &c, w, mode);
					best[mode] = t < best[mode] ? t : best[mode];
				}
			r[(th - 1) * 2] = gflop / best[0];
			r[(th - 1) * 2 + 1] = gflop / best[1];
			sy_pool_free(pool);
		}
		char name[64];
		snprintf(name, sizeof name, "%dx%dx%d", m, n, k);
		printf("%-18s %8.1f %8.1f %8.1f %8.1f\n", name, r[0], r[1], r[2], r[3]);
		gemm_weights_free(&pw);
		free(x);
		free(w);
		free(y);
	}
	if (argc <= 3) {
		bench_attention(128);
		bench_attention(512);
	}
	return 0;
}
