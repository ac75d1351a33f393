/* llama.cpp's side of the comparisons with llama.cpp (docs/PERFORMANCE.md sections 8 and 14):
 * a small driver of libllama, built from source with it by bench/llama/build_llama.sh (not by
 * the project Makefile, so that `make` never needs llama.cpp), run as a child of
 * bench/llama/llama_bench.mjs exactly as that script runs Switchyard's `encoder_bench serve`.
 *
 *   llama_embed_bench serve MODEL.gguf THREADS NAME=INPUTS:WARMUP:MAX_RUNS...
 *   llama_embed_bench --system-info      (ggml's CPU features, then exit)
 *
 * The model is loaded with embeddings on and the pooling its GGUF declares ({arch}.pooling_type:
 * mean or CLS for bert, last token for qwen3), THREADS threads for both single-token and batch
 * work. The context is sized so that any batch of any workload can go into ONE llama_decode: all
 * its sequences' tokens in one llama_batch, sequence s with seq_id s, n_seq_max at least the
 * largest batch, n_batch = n_ubatch at least its token count (a non-causal model needs the whole
 * batch in one ubatch anyway), and n_ctx room for every sequence at its longest. The memory (the
 * KV cache of a decoder; a BERT has none) is cleared before every batch, so each batch is
 * encoded from nothing, as Switchyard encodes it. The pooled embedding of every sequence is read
 * with llama_get_embeddings_seq. At warm-up each workload's first batch is also timed with one
 * llama_decode per sequence, and the timed passes use whichever of the two ways was faster
 * (one decode a batch suits short sequences; one a sequence suits long ones, since a batched
 * bert decode attends over all of the batch's tokens under a mask): llama.cpp runs with its
 * best batching for each workload, and the pass reply's decode count says which it was.
 *
 * Inputs files are bench/encoder_bench.c's (little-endian int32: magic "SYB1", n_batches, then
 * per batch n_seqs, lens[n_seqs], ids[sum lens]). Commands on stdin, one reply line each on
 * stdout (logs go to stderr):
 *
 *   (start)           ready N_EMBD
 *   pooling           mean | cls | last
 *   dump NAME PATH    the pooled embeddings of the first batch of NAME, float32 [n_seqs][n_embd],
 *                     written to PATH -> ok
 *   warm NAME N       the first batch of NAME N times, then once each way, timed -> ok
 *   pass NAME         every batch of NAME once -> ms MILLISECONDS decodes N (llama_decode calls)
 *   quit
 *
 * Only the model work is timed: filling the llama_batch, llama_decode and reading the pooled
 * embeddings out. */
#define _POSIX_C_SOURCE 200809L
#include "llama.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAGIC 0x31425953u

typedef struct {
	int n_seqs;
	int *lens;
	int32_t *ids; /* all sequences' ids, back to back */
	int n_tokens;
} batch_t;

typedef struct {
	char name[64];
	batch_t *batches;
	int n_batches;
	int per_seq; /* one llama_decode per sequence (chosen at warm-up, the faster way) */
} workload_t;

static void die(const char *msg)
{
	fprintf(stderr, "llama_embed_bench: %s\n", msg);
	exit(2);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void load_inputs(const char *path, workload_t *w)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("cannot open an inputs file");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (size < 8 || size % 4)
		die("inputs file has a bad size");
	int32_t *words = malloc((size_t)size);
	if (!words || fread(words, 1, (size_t)size, f) != (size_t)size)
		die("cannot read an inputs file");
	fclose(f);
	long n = size / 4, at = 2;
	if ((uint32_t)words[0] != MAGIC || words[1] <= 0)
		die("inputs file: bad magic or batch count");
	w->n_batches = words[1];
	w->batches = calloc((size_t)w->n_batches, sizeof(batch_t));
	for (int b = 0; b < w->n_batches; b++) {
		batch_t *bt = &w->batches[b];
		if (at >= n)
			die("inputs file is truncated");
		bt->n_seqs = words[at++];
		if (bt->n_seqs <= 0 || at + bt->n_seqs > n)
			die("inputs file: bad sequence count");
		bt->lens = malloc(sizeof(int) * (size_t)bt->n_seqs);
		for (int s = 0; s < bt->n_seqs; s++) {
			bt->lens[s] = words[at++];
			if (bt->lens[s] <= 0)
				die("inputs file: empty sequence");
			bt->n_tokens += bt->lens[s];
		}
		if (at + bt->n_tokens > n)
			die("inputs file is truncated");
		bt->ids = malloc(sizeof(int32_t) * (size_t)bt->n_tokens);
		memcpy(bt->ids, words + at, sizeof(int32_t) * (size_t)bt->n_tokens);
		at += bt->n_tokens;
	}
	if (at != n)
		die("inputs file has trailing data");
	free(words);
}

static struct llama_context *ctx;
static struct llama_batch lb;
static int n_embd;
static int n_decodes; /* llama_decode calls made, reported per pass */

/* The sequences [s0, s1) of a batch (ids from the first of them) through one llama_decode,
 * sequence s0 + i with seq_id i; out (if not NULL) gets their pooled embeddings. */
static void decode_seqs(const batch_t *b, const int32_t *ids, int s0, int s1, float *out)
{
	llama_memory_clear(llama_get_memory(ctx), true);
	lb.n_tokens = 0;
	for (int s = s0; s < s1; s++) {
		for (int t = 0; t < b->lens[s]; t++) {
			int i = lb.n_tokens++;
			lb.token[i] = ids[t];
			lb.pos[i] = t;
			lb.n_seq_id[i] = 1;
			lb.seq_id[i][0] = s - s0;
			lb.logits[i] = 1; /* every token is an output: the pooling reads them all */
		}
		ids += b->lens[s];
	}
	n_decodes++;
	if (llama_decode(ctx, lb) != 0)
		die("llama_decode failed");
	for (int s = s0; s < s1; s++) {
		const float *e = llama_get_embeddings_seq(ctx, s - s0);
		if (!e)
			die("llama_get_embeddings_seq returned no embedding");
		if (out)
			memcpy(out + (size_t)s * n_embd, e, sizeof(float) * (size_t)n_embd);
	}
}

/* One batch: all its sequences in one llama_decode, or (per_seq) one llama_decode each. The
 * second is faster for long sequences: llama.cpp's bert attends over every token of the ubatch
 * with a mask that keeps each sequence to itself, so one decode of 32 x 128 tokens does 32
 * times the attention the sequences need. */
static void run_batch(const batch_t *b, float *out, int per_seq)
{
	if (!per_seq) {
		decode_seqs(b, b->ids, 0, b->n_seqs, out);
		return;
	}
	const int32_t *ids = b->ids;
	for (int s = 0; s < b->n_seqs; s++) {
		decode_seqs(b, ids, s, s + 1, out);
		ids += b->lens[s];
	}
}

static workload_t *find(workload_t *ws, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(ws[i].name, name))
			return &ws[i];
	return NULL;
}

/* llama.cpp's loading chatter goes to stderr only above INFO, so the replies stay clean. */
static void log_cb(enum ggml_log_level level, const char *text, void *user)
{
	(void)user;
	if (level >= GGML_LOG_LEVEL_WARN && level != GGML_LOG_LEVEL_CONT)
		fputs(text, stderr);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--system-info")) {
		llama_log_set(log_cb, NULL);
		llama_backend_init();
		puts(llama_print_system_info());
		return 0;
	}
	if (argc < 5 || strcmp(argv[1], "serve"))
		die("usage: llama_embed_bench serve MODEL.gguf THREADS "
		    "NAME=INPUTS:WARMUP:MAX_RUNS...");
	const char *model_path = argv[2];
	int threads = atoi(argv[3]);
	int n_w = argc - 4;
	workload_t *ws = calloc((size_t)n_w, sizeof(workload_t));
	int max_seqs = 1, max_tokens = 1, max_len = 1;
	for (int i = 0; i < n_w; i++) {
		char spec[4096];
		snprintf(spec, sizeof spec, "%s", argv[4 + i]);
		char *eq = strchr(spec, '='), *colon = strrchr(spec, ':');
		if (!eq || !colon)
			die("bad workload spec (NAME=INPUTS:WARMUP:MAX_RUNS)");
		*colon = 0;
		colon = strrchr(spec, ':');
		if (!colon || colon < eq)
			die("bad workload spec (NAME=INPUTS:WARMUP:MAX_RUNS)");
		*colon = *eq = 0;
		if (strlen(spec) >= sizeof ws[i].name)
			die("workload name too long");
		memcpy(ws[i].name, spec, strlen(spec) + 1);
		load_inputs(eq + 1, &ws[i]);
		for (int b = 0; b < ws[i].n_batches; b++) {
			const batch_t *bt = &ws[i].batches[b];
			if (bt->n_seqs > max_seqs)
				max_seqs = bt->n_seqs;
			if (bt->n_tokens > max_tokens)
				max_tokens = bt->n_tokens;
			for (int s = 0; s < bt->n_seqs; s++)
				if (bt->lens[s] > max_len)
					max_len = bt->lens[s];
		}
	}

	llama_log_set(log_cb, NULL);
	llama_backend_init();
	double t0 = now_ms();
	struct llama_model_params mp = llama_model_default_params();
	mp.n_gpu_layers = 0;
	struct llama_model *model = llama_model_load_from_file(model_path, mp);
	if (!model)
		die("cannot load the model");
	struct llama_context_params cp = llama_context_default_params();
	cp.embeddings = true;
	cp.pooling_type = LLAMA_POOLING_TYPE_UNSPECIFIED; /* the GGUF's */
	cp.n_threads = cp.n_threads_batch = threads;
	cp.n_seq_max = (uint32_t)max_seqs;
	/* Each sequence gets n_ctx / n_seq_max cells of the KV cache (per-sequence streams, llama.cpp's
	 * default for n_seq_max > 1), so n_ctx is the longest sequence, padded to llama.cpp's 256,
	 * times the sequences. */
	cp.n_ctx = (uint32_t)(((max_len + 255) / 256 * 256) * max_seqs);
	/* Rounded up to a multiple of n_seq_max: llama.cpp's worst-case graph reservation rounds its
	 * token count so but not its output count, and mean pooling then fails an assertion (e.g. a
	 * 854-token STS-B batch of 32 sequences). */
	cp.n_batch = cp.n_ubatch = (uint32_t)((max_tokens + max_seqs - 1) / max_seqs * max_seqs);
	ctx = llama_init_from_model(model, cp);
	if (!ctx)
		die("cannot create the context");
	n_embd = llama_model_n_embd(model);
	const char *pooling;
	switch (llama_pooling_type(ctx)) {
	case LLAMA_POOLING_TYPE_MEAN: pooling = "mean"; break;
	case LLAMA_POOLING_TYPE_CLS: pooling = "cls"; break;
	case LLAMA_POOLING_TYPE_LAST: pooling = "last"; break;
	default:
		die("the GGUF declares a pooling this benchmark does not compare (mean, cls, "
		    "last)");
	}
	lb = llama_batch_init(max_tokens, 0, 1);
	fprintf(stderr,
	        "llama_embed_bench: loaded %s in %.0f ms (llama.cpp from source, %s pooling, %d "
	        "threads, "
	        "n_ctx %u, n_batch = n_ubatch %u, n_seq_max %u)\n",
	        model_path, now_ms() - t0, pooling, threads, llama_n_ctx(ctx), llama_n_batch(ctx),
	        llama_n_seq_max(ctx));
	printf("ready %d\n", n_embd);
	fflush(stdout);

	char line[8192];
	while (fgets(line, sizeof line, stdin)) {
		char cmd[32] = "", name[64] = "", arg[4096] = "";
		sscanf(line, "%31s %63s %4095s", cmd, name, arg);
		workload_t *w = find(ws, n_w, name);
		if (!strcmp(cmd, "quit"))
			break;
		if (!strcmp(cmd, "pooling")) {
			printf("%s\n", pooling);
		} else if (!w) {
			printf("error no such workload\n");
		} else if (!strcmp(cmd, "dump")) {
			const batch_t *b = &w->batches[0];
			float *out = malloc(sizeof(float) * (size_t)b->n_seqs * (size_t)n_embd);
			run_batch(b, out, 0);
			FILE *f = fopen(arg, "wb");
			int ok = f && fwrite(out, sizeof(float) * (size_t)n_embd, (size_t)b->n_seqs,
			                     f) == (size_t)b->n_seqs;
			if (f && fclose(f))
				ok = 0;
			free(out);
			printf(ok ? "ok\n" : "error cannot write the dump\n");
		} else if (!strcmp(cmd, "warm")) {
			/* Warm up, then time the first batch once each way and keep the faster:
			 * llama.cpp gets its best batching for each workload. (Once each: the
			 * decoder shapes of make bench-llama take seconds a batch.) */
			for (int r = 0; r < atoi(arg); r++)
				run_batch(&w->batches[0], NULL, 0);
			double best[2];
			for (int mode = 0; mode < 2; mode++) {
				best[mode] = now_ms();
				run_batch(&w->batches[0], NULL, mode);
				best[mode] = now_ms() - best[mode];
			}
			w->per_seq = best[1] < best[0];
			fprintf(stderr,
			        "llama_embed_bench: %s: one decode a batch %.1f ms, one a sequence "
			        "%.1f ms on its first batch: %s\n",
			        w->name, best[0], best[1],
			        w->per_seq ? "one a sequence" : "one a batch");
			printf("ok\n");
		} else if (!strcmp(cmd, "pass")) {
			int d0 = n_decodes;
			double s = now_ms();
			for (int b = 0; b < w->n_batches; b++)
				run_batch(&w->batches[b], NULL, w->per_seq);
			printf("ms %.3f decodes %d\n", now_ms() - s, n_decodes - d0);
		} else {
			printf("error unknown command\n");
		}
		fflush(stdout);
	}
	llama_batch_free(lb);
	llama_free(ctx);
	llama_model_free(model);
	llama_backend_free();
	return 0;
}
