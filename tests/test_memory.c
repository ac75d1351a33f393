/* Memory behaviour of the encoder on the all-MiniLM-L6-v2 shape (6 layers, hidden 384, 12
 * heads, FFN 1536, 30522 x 384 embeddings, about 90 MB of fp32 weights):
 *   - resident memory after opening the model, and after encoding a 32 x 128 batch, stays
 *     within the fp32 weights + 20% (activations are sized once, at open);
 *   - the forward pass allocates nothing: every malloc/calloc/realloc of the process is counted
 *     by the wrappers below, and a forward within the reserved batch size must add none.
 * The model is written to a temporary directory with seeded random weights (no file is
 * committed); the tokenizer comes from tests/fixtures/bert-tiny, which has the same vocabulary.
 *
 * Sanitizer builds replace malloc and inflate resident memory with shadow pages, so there both
 * checks are skipped (and say so). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "model/arch/bert.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* ---- allocation counter (glibc: the wrappers forward to the real allocator) ---- */

#if !SANITIZED
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static atomic_long n_allocs;

void *malloc(size_t n);
void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size);
void *calloc(size_t n, size_t size)
{
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n);
void *realloc(void *p, size_t n)
{
	atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
	return __libc_realloc(p, n);
}

static long allocs_now(void)
{
	return atomic_load(&n_allocs);
}
#else
static long allocs_now(void)
{
	return 0;
}
#endif

/* ---- a MiniLM-shape checkpoint with seeded random weights ---- */

enum { VOCAB = 30522, HID = 384, LAYERS = 6, HEADS = 12, FFN = 1536, MAXPOS = 512 };

struct tensor_spec {
	char name[96];
	int64_t d0, d1; /* d1 == 0: a vector */
};

static size_t spec_elems(const struct tensor_spec *t)
{
	return (size_t)t->d0 * (size_t)(t->d1 ? t->d1 : 1);
}

static int build_specs(struct tensor_spec *t)
{
	int n = 0;
#define ADD(nm, a, b)                                            \
	do {                                                     \
		snprintf(t[n].name, sizeof t[n].name, "%s", nm); \
		t[n].d0 = (a);                                   \
		t[n].d1 = (b);                                   \
		n++;                                             \
	} while (0)
	ADD("embeddings.word_embeddings.weight", VOCAB, HID);
	ADD("embeddings.position_embeddings.weight", MAXPOS, HID);
	ADD("embeddings.token_type_embeddings.weight", 2, HID);
	ADD("embeddings.LayerNorm.weight", HID, 0);
	ADD("embeddings.LayerNorm.bias", HID, 0);
	static const char *const sq[] = {"attention.self.query", "attention.self.key",
	                                 "attention.self.value", "attention.output.dense"};
	for (int l = 0; l < LAYERS; l++) {
		char nm[96];
		for (int k = 0; k < 4; k++) {
			snprintf(nm, sizeof nm, "encoder.layer.%d.%s.weight", l, sq[k]);
			ADD(nm, HID, HID);
			snprintf(nm, sizeof nm, "encoder.layer.%d.%s.bias", l, sq[k]);
			ADD(nm, HID, 0);
		}
		snprintf(nm, sizeof nm, "encoder.layer.%d.intermediate.dense.weight", l);
		ADD(nm, FFN, HID);
		snprintf(nm, sizeof nm, "encoder.layer.%d.intermediate.dense.bias", l);
		ADD(nm, FFN, 0);
		snprintf(nm, sizeof nm, "encoder.layer.%d.output.dense.weight", l);
		ADD(nm, HID, FFN);
		snprintf(nm, sizeof nm, "encoder.layer.%d.output.dense.bias", l);
		ADD(nm, HID, 0);
		static const char *const ln[] = {"attention.output.LayerNorm", "output.LayerNorm"};
		for (int k = 0; k < 2; k++) {
			snprintf(nm, sizeof nm, "encoder.layer.%d.%s.weight", l, ln[k]);
			ADD(nm, HID, 0);
			snprintf(nm, sizeof nm, "encoder.layer.%d.%s.bias", l, ln[k]);
			ADD(nm, HID, 0);
		}
	}
#undef ADD
	return n;
}

static int write_text(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int copy_file(const char *from, const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *in = fopen(from, "rb"), *out = fopen(path, "wb");
	int rc = in && out ? 0 : -1;
	char buf[65536];
	size_t n;
	while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

/* Writes config.json, model.safetensors (F32; gammas 1, everything else N(0, 0.05)-ish
 * uniform) and the tokenizer into dir. Returns the bytes of tensor data, 0 on failure. */
static size_t write_minilm(const char *dir)
{
	static struct tensor_spec t[8 + LAYERS * 16];
	int n = build_specs(t);
	char cfg[1024];
	snprintf(cfg, sizeof cfg,
	         "{\"model_type\": \"bert\", \"hidden_size\": %d, \"num_hidden_layers\": %d,\n"
	         " \"num_attention_heads\": %d, \"intermediate_size\": %d, \"vocab_size\": %d,\n"
	         " \"max_position_embeddings\": %d, \"type_vocab_size\": 2, \"hidden_act\": "
	         "\"gelu\",\n \"layer_norm_eps\": 1e-12, \"pad_token_id\": 0}\n",
	         HID, LAYERS, HEADS, FFN, VOCAB, MAXPOS);
	if (write_text(dir, "config.json", cfg) != 0 ||
	    copy_file("tests/fixtures/bert-tiny/tokenizer.json", dir, "tokenizer.json") != 0 ||
	    copy_file("tests/fixtures/bert-tiny/tokenizer_config.json", dir,
	              "tokenizer_config.json") != 0)
		return 0;

	/* Header: {"name":{"dtype":"F32","shape":[..],"data_offsets":[a,b]},...} padded to 8. */
	size_t cap = 64 + (size_t)n * 200, len = 0, off = 0;
	char *hdr = malloc(cap);
	len += (size_t)snprintf(hdr + len, cap - len, "{");
	for (int i = 0; i < n; i++) {
		size_t bytes = spec_elems(&t[i]) * sizeof(float);
		char shape[64];
		if (t[i].d1)
			snprintf(shape, sizeof shape, "[%lld,%lld]", (long long)t[i].d0,
			         (long long)t[i].d1);
		else
			snprintf(shape, sizeof shape, "[%lld]", (long long)t[i].d0);
		len += (size_t)snprintf(hdr + len, cap - len,
		                        "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,"
		                        "\"data_offsets\":[%zu,%zu]}",
		                        i ? "," : "", t[i].name, shape, off, off + bytes);
		off += bytes;
	}
	len += (size_t)snprintf(hdr + len, cap - len, "}");
	while (len % 8)
		hdr[len++] = ' ';

	char path[512];
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	FILE *f = fopen(path, "wb");
	uint64_t hlen = len;
	int ok = f && fwrite(&hlen, 8, 1, f) == 1 && fwrite(hdr, 1, len, f) == len;
	free(hdr);
	uint32_t seed = 12345;
	float *buf = malloc((size_t)VOCAB * HID * sizeof(float));
	for (int i = 0; ok && i < n; i++) {
		size_t ne = spec_elems(&t[i]);
		int is_gamma = !t[i].d1 && strstr(t[i].name, "LayerNorm.weight") != NULL;
		for (size_t j = 0; j < ne; j++) {
			seed = seed * 1664525u + 1013904223u;
			buf[j] = is_gamma ? 1.0f : ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.1f;
		}
		ok = fwrite(buf, sizeof(float), ne, f) == ne;
	}
	free(buf);
	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? off : 0;
}

/* ---- measurements ---- */

static size_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void remove_dir(const char *dir)
{
	static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
	                                    "tokenizer_config.json"};
	char path[512];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* 32 texts of about 128 tokens each (ordinary words, so WordPiece keeps them whole). */
static void make_texts(char texts[32][1024], const char *ptrs[32], size_t lens[32])
{
	static const char *const words[] = {
	    "the",     "model", "routes",  "every",   "request", "to",  "a",      "small",
	    "encoder", "and",   "returns", "vectors", "quickly", "for", "search", "agents"};
	for (int i = 0; i < 32; i++) {
		size_t n = 0;
		for (int w = 0; w < 126; w++)
			n += (size_t)snprintf(texts[i] + n, 1024 - n, "%s%s", w ? " " : "",
			                      words[(i * 7 + w * 3) % 16]);
		ptrs[i] = texts[i];
		lens[i] = n;
	}
}

static void test_minilm_memory(void)
{
	if (SANITIZED) {
		printf("  skipped: resident memory and malloc counting are meaningless under "
		       "sanitizers\n");
		return;
	}
	char dir[] = "/tmp/sy-test-memory-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	size_t file_bytes = write_minilm(dir);
	CHECKF(file_bytes > 80u << 20, "writing the MiniLM-shape model failed (%zu bytes)",
	       file_bytes);
	if (file_bytes == 0) {
		remove_dir(dir);
		return;
	}

	struct sy_error err = {0};
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	opts.pooling = POOLING_MEAN;
	size_t rss0 = rss_bytes();
	struct model *e = NULL;
	CHECKF(model_open(dir, &opts, &err, &e) == SY_OK, "%s", err.msg);
	if (!e) {
		remove_dir(dir);
		return;
	}
	size_t rss_open = rss_bytes();
	struct bert_model *m = bert_of_encoder(dense_encoder(e));
	size_t weights = bert_model_weight_bytes(m);
	size_t scratch = bert_model_scratch_bytes(m);

	static char texts[32][1024];
	const char *ptrs[32];
	size_t lens[32];
	make_texts(texts, ptrs, lens);
	float *out = malloc((size_t)32 * HID * sizeof(float));
	CHECKF(model_encode_texts(e, ptrs, lens, 32, NULL, &err, out, NULL, NULL) == SY_OK, "%s",
	       err.msg);
	CHECKF(model_encode_texts(e, ptrs, lens, 32, NULL, &err, out, NULL, NULL) == SY_OK, "%s",
	       err.msg);
	size_t rss_run = rss_bytes();
	double mb = 1.0 / (1 << 20);
	printf("  MiniLM shape: file %.1f MB, fp32 weights held %.1f MB, scratch %.1f MB;\n"
	       "  resident: +%.1f MB after open (%.1f%% over weights), +%.1f MB after two 32x128 "
	       "batches (%.1f%% over weights)\n",
	       file_bytes * mb, weights * mb, scratch * mb, (rss_open - rss0) * mb,
	       100.0 * ((double)(rss_open - rss0) / (double)weights - 1), (rss_run - rss0) * mb,
	       100.0 * ((double)(rss_run - rss0) / (double)weights - 1));
	CHECKF(weights >= file_bytes, "weights held (%zu) < file tensors (%zu)", weights,
	       file_bytes);
	CHECKF((double)(rss_open - rss0) <= 1.2 * (double)weights,
	       "resident after open: +%zu bytes for %zu bytes of weights", rss_open - rss0,
	       weights);
	CHECKF((double)(rss_run - rss0) <= 1.2 * (double)weights,
	       "resident after encoding: +%zu bytes for %zu bytes of weights", rss_run - rss0,
	       weights);

	/* The forward pass itself: a packed batch of 8 sequences of up to 128 tokens (within the 1024-token batch the
	 * embedder feeds) allocates nothing once the model is open. */
	enum { B = 8, T = 128 };
	int seq_lens[B];
	int32_t *ids = malloc((size_t)B * T * sizeof(int32_t));
	for (int s = 0; s < B; s++) {
		seq_lens[s] = T - s; /* varied lengths */
		for (int i = 0; i < T; i++)
			ids[s * T + i] = 1000 + (s * 131 + i * 17) % 20000;
	}
	struct encoder_input in = {.n_seqs = B, .lens = seq_lens, .ids = ids};
	const float *hidden = NULL;
	long before = allocs_now();
	long scratch_before = bert_model_scratch_allocs(m);
	enum sy_status st = bert_forward(m, &in, &err, &hidden);
	long during = allocs_now() - before;
	CHECKF(st == SY_OK, "%s", err.msg);
	printf("  bert_forward of %d tokens: %ld allocations\n", B * T - B * (B - 1) / 2, during);
	CHECK_EQ_INT(during, 0);
	CHECK_EQ_INT(bert_model_scratch_allocs(m), scratch_before);
	/* The counter works: the encode call (tokenisation) does allocate. */
	before = allocs_now();
	CHECK(model_encode_texts(e, ptrs, lens, 1, NULL, &err, out, NULL, NULL) == SY_OK);
	CHECKF(allocs_now() - before > 0, "the allocation counter counts nothing");

	free(ids);
	free(out);
	model_close(e);
	remove_dir(dir);
}

int main(void)
{
	RUN(test_minilm_memory);
	return harness_summary();
}
