/* Switchyard's side of the side-by-side benchmark (bench/run.sh, docs/PERFORMANCE.md).
 *
 * Three modes:
 *
 *   encoder_bench peak THREADS
 *       measures the GEMM peak the achieved GFLOP/s are compared with: OpenBLAS cblas_sgemm on
 *       2048x2048x2048 with THREADS threads, best of several rounds. It runs in a process of its
 *       own because OpenBLAS's threads keep spinning for a while after a call, which would steal
 *       cores from the engine if both ran in one process.
 *
 *   encoder_bench run MODEL_DIR THREADS [--min-runs N] [--budget-ms MS]
 *                     NAME=INPUTS:WARMUP:MAX_RUNS... [--check NAME OUT.f32]
 *       loads the encoder once (any architecture the encoder interface opens:
 *       model/arch/encoder.h), then for each workload runs the first batch WARMUP times
 *       untimed, then timed passes over all its batches: at least --min-runs (default 3), at
 *       most MAX_RUNS, and no more once the timed passes have taken --budget-ms (default 15000)
 *       in all. Prints one JSON line per workload with the time of every pass. The ONNX Runtime
 *       side (bench/peer/ort_bench.js) follows the same rule, so each engine gets as many runs
 *       as its own speed allows within the same budget. With --check, the last hidden state of
 *       the first batch of workload NAME (packed: real tokens only, [sum lens][hidden] float32)
 *       is written to OUT.f32, which the ONNX Runtime side compares with its own output.
 *
 *   encoder_bench serve MODEL_DIR THREADS NAME=INPUTS:WARMUP:MAX_RUNS...
 *       what `make bench` uses: bench/peer/ort_bench.js starts this as a child and alternates
 *       one Switchyard pass with one ONNX Runtime pass, so a burst of load from elsewhere on a
 *       shared machine hits both engines alike. After loading it prints "ready HIDDEN", then
 *       answers one command a line: "warm NAME N" (the first batch N times; "ok"), "pass NAME"
 *       (one timed pass over all batches; "ms MILLISECONDS N_BATCHES N_TOKENS"), "lone NAME" (the
 *       first batch once, timed: "ms MILLISECONDS"; the orchestrator idles before it to measure
 *       sporadic traffic), "dump NAME PATH"
 *       (the --check output above; "ok") and "quit". WARMUP and MAX_RUNS are not used here; the
 *       orchestrator decides. On an error it writes the message to stderr and exits with 1.
 *
 * The inputs file is written by bench/run.sh and read by the ONNX Runtime side as well, so both
 * engines see exactly the same token ids. Layout, all little-endian int32:
 *
 *   magic 0x31425953 ("SYB1"), n_batches, then per batch: n_seqs, lens[n_seqs], ids[sum lens].
 *
 * Only encoder_forward is timed: tokenisation and input preparation happen before the clock starts,
 * as on the ONNX Runtime side, so the comparison is engine against engine. */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/file.h"
#include "model/arch/encoder.h"
#include "model/desc.h"

#define INPUTS_MAGIC 0x31425953u
#define MAX_WORKLOADS 32

/* One batch of sequences, as encoder_forward takes it. */
struct bench_batch {
	int n_seqs;
	const int *lens; /* [n_seqs] points into the inputs buffer */
	const int32_t *ids; /* [sum lens] points into the inputs buffer */
	long n_tokens; /* sum lens */
};

struct bench_workload {
	const char *name;
	const char *path;
	int warmup, max_runs;
	char *buf; /* the inputs file, owned */
	int n_batches;
	struct bench_batch *batches; /* [n_batches], owned */
	long n_tokens; /* over all batches */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double *s = malloc((size_t)n * sizeof(*s));
	if (!s)
		return 0.0;
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
	free(s);
	return m;
}

/* Parses the inputs file into w->batches; every count is checked against the file size. */
static enum sy_status workload_load(struct bench_workload *w, int vocab, struct sy_error *err)
{
	size_t len;
	enum sy_status st = sy_file_read(w->path, err, &w->buf, &len);
	if (st != SY_OK)
		return st;
	if (len % 4 != 0 || len < 8)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: size %zu is not a whole header",
		                    w->path, len);
	const int32_t *p = (const int32_t *)w->buf;
	size_t n_words = len / 4, at = 2;
	if ((uint32_t)p[0] != INPUTS_MAGIC)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: bad magic", w->path);
	if (p[1] <= 0 || (size_t)p[1] > n_words)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: bad n_batches %d", w->path, p[1]);
	w->n_batches = p[1];
	w->batches = calloc((size_t)w->n_batches, sizeof(*w->batches));
	if (!w->batches)
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", w->path);
	for (int b = 0; b < w->n_batches; b++) {
		struct bench_batch *bt = &w->batches[b];
		if (at >= n_words || p[at] <= 0 || (size_t)p[at] > n_words - at - 1)
			return sy_error_set(err, SY_ERR_FORMAT, "%s: batch %d: bad n_seqs", w->path,
			                    b);
		bt->n_seqs = p[at++];
		bt->lens = (const int *)&p[at];
		at += (size_t)bt->n_seqs;
		for (int s = 0; s < bt->n_seqs; s++) {
			if (bt->lens[s] <= 0 || bt->lens[s] > 1 << 20)
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "%s: batch %d: bad length %d", w->path, b,
				                    bt->lens[s]);
			bt->n_tokens += bt->lens[s];
		}
		if ((size_t)bt->n_tokens > n_words - at)
			return sy_error_set(err, SY_ERR_FORMAT, "%s: batch %d: ids past the end",
			                    w->path, b);
		bt->ids = &p[at];
		for (long i = 0; i < bt->n_tokens; i++)
			if (bt->ids[i] < 0 || bt->ids[i] >= vocab)
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "%s: batch %d: id %d out of range", w->path, b,
				                    bt->ids[i]);
		at += (size_t)bt->n_tokens;
		w->n_tokens += bt->n_tokens;
	}
	if (at != n_words)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: %zu trailing bytes", w->path,
		                    (n_words - at) * 4);
	return SY_OK;
}

/* Parses NAME=INPUTS:WARMUP:MAX_RUNS; the strings point into arg, which is modified. */
static int workload_parse(char *arg, struct bench_workload *w)
{
	char *eq = strchr(arg, '='), *c2 = strrchr(arg, ':');
	if (!eq || !c2 || c2 < eq)
		return -1;
	*c2 = '\0';
	char *c1 = strrchr(arg, ':');
	if (!c1 || c1 < eq)
		return -1;
	*eq = *c1 = '\0';
	w->name = arg;
	w->path = eq + 1;
	w->warmup = atoi(c1 + 1);
	w->max_runs = atoi(c2 + 1);
	return w->warmup >= 0 && w->max_runs > 0 ? 0 : -1;
}

/* Runs batches [0, n_batches) of w through the encoder. */
static enum sy_status workload_pass(struct encoder *m, const struct bench_workload *w,
                                    int n_batches, struct sy_error *err)
{
	for (int b = 0; b < n_batches; b++) {
		struct encoder_input in = {.n_seqs = w->batches[b].n_seqs,
		                           .lens = w->batches[b].lens,
		                           .ids = w->batches[b].ids,
		                           .type_ids = NULL};
		const float *out;
		enum sy_status st = encoder_forward(m, &in, err, &out);
		if (st != SY_OK)
			return st;
	}
	return SY_OK;
}

/* Warms up on the first batch, then times whole passes (the run rule is in the file comment):
 * ms[0, *n_runs) receives the time of each pass, ms has room for w->max_runs. */
static enum sy_status workload_time(struct encoder *m, const struct bench_workload *w, int min_runs,
                                    double budget_ms, struct sy_error *err, double *ms, int *n_runs)
{
	double spent = 0.0;
	int n = 0;
	for (int r = 0; r < w->warmup; r++) {
		enum sy_status st = workload_pass(m, w, 1, err);
		if (st != SY_OK)
			return st;
	}
	while (n < w->max_runs && (n < min_runs || spent < budget_ms)) {
		double t0 = sy_now_ms();
		enum sy_status st = workload_pass(m, w, w->n_batches, err);
		if (st != SY_OK)
			return st;
		ms[n] = sy_now_ms() - t0;
		spent += ms[n++];
	}
	*n_runs = n;
	return SY_OK;
}

static enum sy_status check_dump(struct encoder *m, const struct bench_workload *w,
                                 const char *path, struct sy_error *err)
{
	const struct bench_batch *bt = &w->batches[0];
	struct encoder_input in = {
	    .n_seqs = bt->n_seqs, .lens = bt->lens, .ids = bt->ids, .type_ids = NULL};
	const float *out;
	enum sy_status st = encoder_forward(m, &in, err, &out);
	if (st != SY_OK)
		return st;
	size_t n = (size_t)bt->n_tokens * (size_t)m->hidden;
	FILE *f = fopen(path, "wb");
	if (!f)
		return sy_error_set(err, SY_ERR_IO, "%s: cannot create", path);
	size_t wrote = fwrite(out, sizeof(float), n, f);
	if (fclose(f) != 0 || wrote != n)
		return sy_error_set(err, SY_ERR_IO, "%s: write failed", path);
	return SY_OK;
}

static int cmd_peak(int threads)
{
	const int n = 2048, rounds = 6;
	float *a = malloc((size_t)n * n * sizeof(float));
	float *b = malloc((size_t)n * n * sizeof(float));
	float *c = malloc((size_t)n * n * sizeof(float));
	if (!a || !b || !c) {
		fprintf(stderr, "encoder_bench peak: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < (size_t)n * n; i++) {
		a[i] = (float)((i * 7 + 3) % 17) * 0.01f;
		b[i] = (float)((i * 5 + 1) % 13) * 0.01f;
	}
	openblas_set_num_threads(threads);
	double best = 1e30;
	/* The first round also pays for thread start-up and page faults; the best of the rest is
	 * the peak. */
	for (int r = 0; r < rounds; r++) {
		double t0 = sy_now_ms();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n,
		            0.0f, c, n);
		double dt = sy_now_ms() - t0;
		if (r > 0 && dt < best)
			best = dt;
	}
	double gflops = 2.0 * n * n * n / (best * 1e6);
	printf("{\"side\":\"openblas\",\"kind\":\"peak\",\"threads\":%d,\"m\":%d,\"best_ms\":%.3f,"
	       "\"gflops\":%.2f}\n",
	       openblas_get_num_threads(), n, best, gflops);
	free(a);
	free(b);
	free(c);
	return 0;
}

/* What run and serve share: the model and the parsed workloads. */
struct bench_session {
	struct model_desc desc; /* config.json, kept while the encoder is open */
	struct encoder enc;
	struct encoder *m; /* &enc once it is open, else NULL */
	struct bench_workload ws[MAX_WORKLOADS];
	int n_ws;
};

static void session_close(struct bench_session *s)
{
	for (int i = 0; i < s->n_ws; i++) {
		free(s->ws[i].batches);
		free(s->ws[i].buf);
	}
	encoder_free(s->m);
	model_desc_free(&s->desc);
}

/* Loads the encoder from dir, then every inputs file named by s->ws[0, n_ws). */
static int session_open(struct bench_session *s, const char *dir, int threads)
{
	struct sy_error err = {0};
	double t0 = sy_now_ms();
	/* SY_BENCH_QUANTIZE=int8 runs the linear layers in int8 (bench/run.sh's ":int8" shapes). */
	enum linear_precision prec = LINEAR_FP32;
	if (!linear_precision_parse(getenv("SY_BENCH_QUANTIZE"), &prec)) {
		fprintf(stderr, "encoder_bench: SY_BENCH_QUANTIZE must be int8 or none\n");
		return -1;
	}
	/* The architecture comes from config.json, as the engine picks it (BERT, NewModel,
	 * ModernBERT, ...). */
	if (model_desc_read(dir, &err, &s->desc) != SY_OK ||
	    encoder_open(&s->desc, threads, prec, &err, &s->enc) != SY_OK) {
		fprintf(stderr, "encoder_bench: %s: %s\n", dir, err.msg);
		return -1;
	}
	s->m = &s->enc;
	fprintf(stderr,
	        "encoder_bench: loaded %s (%s) in %.0f ms (%zu MB of weights, %d threads)\n", dir,
	        s->m->arch, sy_now_ms() - t0, s->m->ops->weight_bytes(s->m->impl) >> 20, threads);
	for (int i = 0; i < s->n_ws; i++) {
		if (workload_load(&s->ws[i], s->m->vocab_size, &err) != SY_OK) {
			fprintf(stderr, "encoder_bench: %s\n", err.msg);
			return -1;
		}
	}
	return 0;
}

static struct bench_workload *session_find(struct bench_session *s, const char *name)
{
	for (int i = 0; i < s->n_ws; i++)
		if (strcmp(s->ws[i].name, name) == 0)
			return &s->ws[i];
	return NULL;
}

static int cmd_run(int argc, char **argv)
{
	struct bench_session s;
	const char *check_name = NULL, *check_path = NULL;
	int min_runs = 3, rc = 1;
	double budget_ms = 15000.0;
	memset(&s, 0, sizeof(s));
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--min-runs") == 0 && i + 1 < argc) {
			min_runs = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--budget-ms") == 0 && i + 1 < argc) {
			budget_ms = atof(argv[++i]);
		} else if (strcmp(argv[i], "--check") == 0 && i + 2 < argc) {
			check_name = argv[i + 1];
			check_path = argv[i + 2];
			i += 2;
		} else if (s.n_ws < MAX_WORKLOADS && workload_parse(argv[i], &s.ws[s.n_ws]) == 0) {
			s.n_ws++;
		} else {
			fprintf(stderr,
			        "encoder_bench: bad argument %s (NAME=INPUTS:WARMUP:MAX_RUNS)\n",
			        argv[i]);
			return 2;
		}
	}
	if (session_open(&s, argv[0], atoi(argv[1])) != 0)
		goto done;
	struct sy_error err = {0};
	if (check_name) {
		struct bench_workload *w = session_find(&s, check_name);
		if (!w) {
			fprintf(stderr, "encoder_bench: --check %s: no such workload\n",
			        check_name);
			goto done;
		}
		if (check_dump(s.m, w, check_path, &err) != SY_OK) {
			fprintf(stderr, "encoder_bench: check: %s\n", err.msg);
			goto done;
		}
	}
	for (int i = 0; i < s.n_ws; i++) {
		struct bench_workload *w = &s.ws[i];
		int n = 0;
		double *ms = calloc((size_t)w->max_runs, sizeof(*ms));
		if (!ms || workload_time(s.m, w, min_runs, budget_ms, &err, ms, &n) != SY_OK) {
			fprintf(stderr, "encoder_bench: %s: %s\n", w->name,
			        ms ? err.msg : "out of memory");
			free(ms);
			goto done;
		}
		printf("{\"side\":\"switchyard\",\"workload\":\"%s\",\"batches\":%d,\"tokens\":%ld,"
		       "\"median_ms\":%.3f,\"runs_ms\":[",
		       w->name, w->n_batches, w->n_tokens, median(ms, n));
		for (int r = 0; r < n; r++)
			printf("%s%.3f", r ? "," : "", ms[r]);
		printf("]}\n");
		fflush(stdout);
		fprintf(stderr, "encoder_bench: %-10s median %9.2f ms over %d runs\n", w->name,
		        median(ms, n), n);
		free(ms);
	}
	rc = 0;
done:
	session_close(&s);
	return rc;
}

/* The serve protocol: one command a line on stdin, one reply a line on stdout. */
static int cmd_serve(int argc, char **argv)
{
	struct bench_session s;
	char line[4096], cmd[16], name[256], arg[3800];
	int rc = 1;
	memset(&s, 0, sizeof(s));
	for (int i = 2; i < argc; i++) {
		if (s.n_ws >= MAX_WORKLOADS || workload_parse(argv[i], &s.ws[s.n_ws]) != 0) {
			fprintf(stderr, "encoder_bench: bad argument %s\n", argv[i]);
			return 2;
		}
		s.n_ws++;
	}
	if (session_open(&s, argv[0], atoi(argv[1])) != 0)
		goto done;
	printf("ready %d\n", s.m->hidden);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		struct sy_error err = {0};
		struct bench_workload *w;
		arg[0] = '\0';
		int n = sscanf(line, "%15s %255s %3799s", cmd, name, arg);
		if (n >= 1 && strcmp(cmd, "quit") == 0) {
			rc = 0;
			break;
		}
		if (n < 2 || !(w = session_find(&s, name))) {
			fprintf(stderr, "encoder_bench: serve: bad command %s", line);
			break;
		}
		enum sy_status st = SY_OK;
		char reply[128] = "ok";
		if (strcmp(cmd, "warm") == 0) {
			for (int r = 0; r < atoi(arg) && st == SY_OK; r++)
				st = workload_pass(s.m, w, 1, &err);
		} else if (strcmp(cmd, "pass") == 0) {
			double t0 = sy_now_ms();
			st = workload_pass(s.m, w, w->n_batches, &err);
			snprintf(reply, sizeof(reply), "ms %.3f %d %ld", sy_now_ms() - t0,
			         w->n_batches, w->n_tokens);
		} else if (strcmp(cmd, "lone") == 0) {
			double t0 = sy_now_ms();
			st = workload_pass(s.m, w, 1, &err);
			snprintf(reply, sizeof(reply), "ms %.3f", sy_now_ms() - t0);
		} else if (strcmp(cmd, "dump") == 0 && n == 3) {
			st = check_dump(s.m, w, arg, &err);
		} else {
			fprintf(stderr, "encoder_bench: serve: bad command %s", line);
			break;
		}
		if (st != SY_OK) {
			fprintf(stderr, "encoder_bench: serve: %s: %s\n", name, err.msg);
			break;
		}
		printf("%s\n", reply);
		fflush(stdout);
	}
done:
	session_close(&s);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "peak") == 0)
		return cmd_peak(atoi(argv[2]));
	if (argc >= 5 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (argc >= 5 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	fprintf(stderr,
	        "usage: encoder_bench peak THREADS\n"
	        "       encoder_bench run MODEL_DIR THREADS [--min-runs N] [--budget-ms MS] "
	        "NAME=INPUTS:WARMUP:MAX_RUNS... [--check NAME OUT.f32]\n"
	        "       encoder_bench serve MODEL_DIR THREADS NAME=INPUTS:WARMUP:MAX_RUNS...\n");
	return 2;
}
