/* Engine tests: catalogue, lazy loading, the memory budget's LRU eviction, pinning, load
 * failures and their cooldown, batching across concurrent requests, admission limits,
 * per-request options, drain and the idle TTL. Models are the committed tiny fixtures
 * (tests/fixtures), plus use-lite when it is found. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "engine/engine.h"
#include "harness.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"
#include "model/arch/use_lite.h"
#include "tensor/ops.h"

#define BERT "tests/fixtures/bert-tiny"
#define ROBERTA "tests/fixtures/roberta-tiny"
#define DISTIL "tests/fixtures/distilbert-tiny"

static const char *texts[] = {
    "The quick brown fox jumps over the lazy dog.",
    "Embeddings map text to vectors.",
    "a",
    "Switchyard batches items from several requests into one model call, "
    "so a busy server computes more per second.",
    "Ünïcödé and emoji 🚀 also work.",
    "",
    "short",
    "Another sentence, somewhat longer than the short one before it.",
};
#define N_TEXTS ((int)(sizeof texts / sizeof *texts))

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static struct engine_config test_config(void)
{
	struct engine_config c = engine_default_config();
	c.builtin_models = false;
	c.n_threads = 1;
	return c;
}

static struct engine *engine_new(const struct engine_config *c)
{
	struct sy_error err = {0};
	struct engine *e = NULL;
	enum sy_status s = engine_create(c, &err, &e);
	CHECKF(s == SY_OK, "%s", err.msg);
	return e;
}

static void add(struct engine *e, const char *id, const char *path, bool pinned)
{
	struct sy_error err = {0};
	enum sy_status s = engine_model_add(e, id, path, pinned, &err);
	CHECKF(s == SY_OK, "%s: %s", id, err.msg);
}

/* Encodes texts[first, first + n) with the request options given; returns the status. */
static enum sy_status encode(struct engine *e, const char *model, int first, int n, int normalize,
                             bool truncate, bool is_query, struct sy_error *err,
                             struct engine_result *res)
{
	size_t lens[N_TEXTS];
	for (int i = 0; i < n; i++)
		lens[i] = strlen(texts[first + i]);
	struct engine_encode_request req = {.items = {model, n, texts + first, lens, truncate},
	                                    .normalize = normalize,
	                                    .is_query = is_query};
	return engine_encode(e, &req, err, res);
}

/* Reference vectors straight from the embedder. */
static float *direct(const char *path, const char *const *t, int n, int *dims)
{
	struct model_options o = model_default_options();
	o.n_threads = 1;
	struct sy_error err = {0};
	struct model *emb = NULL;
	if (model_open(path, &o, &err, &emb) != SY_OK) {
		CHECKF(0, "%s: %s", path, err.msg);
		return NULL;
	}
	*dims = model_dims(emb);
	size_t *lens = malloc((size_t)n * sizeof *lens);
	float *v = malloc((size_t)n * (size_t)*dims * sizeof *v);
	for (int i = 0; i < n; i++)
		lens[i] = strlen(t[i]);
	enum sy_status s = model_encode_texts(emb, t, lens, n, NULL, &err, v, NULL, NULL);
	CHECKF(s == SY_OK, "%s", err.msg);
	free(lens);
	model_close(emb);
	return v;
}

static double max_diff(const float *a, const float *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]);
		if (d > m)
			m = d;
	}
	return m;
}

static enum engine_model_state state_of(struct engine *e, const char *id)
{
	struct engine_model_info info;
	struct sy_error err = {0};
	if (engine_model_get(e, id, &err, &info) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		return ENGINE_MODEL_FAILED;
	}
	return info.state;
}

static struct engine_model_info info_of(struct engine *e, const char *id)
{
	struct engine_model_info info;
	memset(&info, 0, sizeof info);
	struct sy_error err = {0};
	enum sy_status s = engine_model_get(e, id, &err, &info);
	CHECKF(s == SY_OK, "%s", err.msg);
	return info;
}

/* ---- catalogue and encoding ---- */

static void test_encode_matches_embedder(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	add(e, "org/roberta", ROBERTA, false);
	add(e, "distil", DISTIL, false);
	CHECK_EQ_INT(state_of(e, "bert"), ENGINE_MODEL_AVAILABLE);
	const char *ids[] = {"bert", "org/roberta", "distil"};
	const char *paths[] = {BERT, ROBERTA, DISTIL};
	for (int k = 0; k < 3; k++) {
		int dims = 0;
		float *ref = direct(paths[k], texts, N_TEXTS, &dims);
		struct sy_error err = {0};
		struct engine_result r;
		enum sy_status s = encode(e, ids[k], 0, N_TEXTS, -1, true, false, &err, &r);
		CHECKF(s == SY_OK, "%s: %s", ids[k], err.msg);
		if (s == SY_OK && ref) {
			CHECK_EQ_INT(r.n_items, N_TEXTS);
			CHECK_EQ_INT(r.dims, dims);
			double d = max_diff(r.dense, ref, (size_t)N_TEXTS * dims);
			CHECKF(d <= 1e-6, "%s: max diff %g", ids[k], d);
			for (int i = 0; i < N_TEXTS; i++)
				CHECKF(r.n_tokens[i] >= 2, "%s item %d: %d tokens", ids[k], i,
				       r.n_tokens[i]);
			CHECK(r.total_ms >= r.inference_ms && r.queue_ms >= 0);
			CHECK(r.tokenization_ms > 0); /* items are tokenised before they queue */
		}
		engine_result_free(&r);
		free(ref);
		CHECK_EQ_INT(state_of(e, ids[k]), ENGINE_MODEL_LOADED);
	}
	struct engine_model_info info = info_of(e, "org/roberta");
	CHECK_STREQ(info.arch, "roberta");
	CHECK(info.bytes > 0);
	CHECK_EQ_INT(info.n_requests, 1);
	CHECK_EQ_INT(info.n_items, N_TEXTS);
	CHECK_EQ_INT(info.n_loads, 1);
	CHECK(info.n_batches >= 1);
	CHECK(info.n_tokens >= 2 * N_TEXTS);
	struct engine_stats st;
	engine_stats_get(e, &st);
	CHECK_EQ_INT(st.n_models, 3);
	CHECK_EQ_INT(st.n_loaded, 3);
	CHECK(st.memory_used > 0 && st.memory_used <= st.memory_budget);
	engine_destroy(e);
}

/* A model set to int8 loads quantised (its info says so) and stays close to fp32; a loaded
 * model's precision cannot change, an unknown one is refused. */
static void test_int8_precision(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	add(e, "fp", ROBERTA, false);
	add(e, "q", ROBERTA, false);
	struct sy_error err = {0};
	CHECK(engine_model_set_precision(e, "q", LINEAR_INT8, &err) == SY_OK);
	CHECK(engine_model_set_precision(e, "nope", LINEAR_INT8, &err) == SY_ERR_NOT_FOUND);
	struct engine_result rf, rq;
	CHECK(encode(e, "fp", 0, N_TEXTS, -1, true, false, &err, &rf) == SY_OK);
	CHECK(encode(e, "q", 0, N_TEXTS, -1, true, false, &err, &rq) == SY_OK);
	CHECK(info_of(e, "q").precision == LINEAR_INT8);
	CHECK(info_of(e, "fp").precision == LINEAR_FP32);
	CHECK(info_of(e, "q").bytes < info_of(e, "fp").bytes);
	double min_cos = 1;
	for (int i = 0; i < N_TEXTS; i++) {
		const float *a = rf.dense + (size_t)i * rf.dims,
		            *b = rq.dense + (size_t)i * rq.dims;
		double d = 0, na = 0, nb = 0;
		for (int j = 0; j < rf.dims; j++) {
			d += (double)a[j] * b[j];
			na += (double)a[j] * a[j];
			nb += (double)b[j] * b[j];
		}
		double cs = d / sqrt(na * nb);
		min_cos = cs < min_cos ? cs : min_cos;
	}
	CHECKF(min_cos >= 0.995, "int8 vs fp32 through the engine: min cosine %.6f", min_cos);
	CHECK(max_diff(rf.dense, rq.dense, (size_t)N_TEXTS * rf.dims) > 0);
	CHECK(engine_model_set_precision(e, "q", LINEAR_FP32, &err) == SY_ERR_INVALID_ARG);
	engine_result_free(&rf);
	engine_result_free(&rq);
	engine_destroy(e);
}

static void test_not_found_and_bad_requests(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	struct sy_error err = {0};
	struct engine_result r;
	CHECK_EQ_INT(encode(e, "nope", 0, 1, -1, true, false, &err, &r), SY_ERR_NOT_FOUND);
	CHECK(strstr(err.msg, "nope") != NULL);
	CHECK_EQ_INT(encode(e, "bert", 0, 0, -1, true, false, &err, &r), SY_ERR_INVALID_ARG);
	size_t len = 1;
	const char *t[] = {"x"};
	struct engine_encode_request req = {.items = {"bert", 1, t, &len, false},
	                                    .outputs = ENGINE_OUTPUT_SPARSE};
	CHECK_EQ_INT(engine_encode(e, &req, &err, &r), SY_ERR_UNSUPPORTED);
	struct engine_model_info info;
	CHECK_EQ_INT(engine_model_get(e, "nope", &err, &info), SY_ERR_NOT_FOUND);
	CHECK_EQ_INT(engine_model_load(e, "nope", &err), SY_ERR_NOT_FOUND);
	CHECK_EQ_INT(engine_model_add(e, "bad id", BERT, false, &err), SY_ERR_INVALID_ARG);
	CHECK_EQ_INT(engine_model_add(e, "", BERT, false, &err), SY_ERR_INVALID_ARG);
	/* Replacing the path of a loaded model is refused; of an unloaded one, allowed. */
	CHECK_EQ_INT(engine_model_load(e, "bert", &err), SY_OK);
	CHECK_EQ_INT(engine_model_add(e, "bert", DISTIL, false, &err), SY_ERR_INVALID_ARG);
	CHECK_EQ_INT(engine_model_unload(e, "bert", &err), SY_OK);
	CHECK_EQ_INT(state_of(e, "bert"), ENGINE_MODEL_AVAILABLE);
	CHECK_EQ_INT(engine_model_add(e, "bert", DISTIL, false, &err), SY_OK);
	CHECK_EQ_INT(encode(e, "bert", 0, 1, -1, true, false, &err, &r), SY_OK);
	CHECK_STREQ(info_of(e, "bert").arch, "distilbert");
	engine_result_free(&r);
	int n = 0;
	CHECK_EQ_INT(engine_count_tokens(e, "bert", "hello world", 11, &err, &n), SY_OK);
	CHECK_EQ_INT(n, 4); /* [CLS] hello world [SEP] */
	engine_destroy(e);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_models_dir(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	struct sy_error err = {0};
	CHECKF(engine_models_dir_add(e, "tests/fixtures", &err) == SY_OK, "%s", err.msg);
	/* Every subdirectory is a model, in name order (helpers add fixtures: list them here). */
	char names[64][256];
	int want = 0;
	DIR *d = opendir("tests/fixtures");
	for (struct dirent *de; d && (de = readdir(d)) && want < 64;)
		if (de->d_name[0] != '.' && de->d_type == DT_DIR)
			snprintf(names[want++], sizeof names[0], "%s", de->d_name);
	if (d)
		closedir(d);
	qsort(names, (size_t)want, sizeof names[0], cmp_names);
	CHECK(want >= 8);
	struct engine_model_info v[64];
	int n = engine_models_list(e, v, 64);
	CHECK_EQ_INT(n, want);
	for (int i = 0; i < n && i < want; i++)
		CHECK_STREQ(v[i].id, names[i]);
	if (n > 0) {
		CHECK_STREQ(v[0].id, "bert-ce-tiny");
		CHECK_STREQ(engine_model_state_str(v[0].state), "available");
		CHECK(v[0].idle_s < 0);
	}
	CHECK_EQ_INT(engine_models_dir_add(e, "tests/no-such-dir", &err), SY_ERR_IO);
	engine_destroy(e);
}

/* ---- memory budget ---- */

/* Resident bytes of bert-tiny as the engine counts them. */
static size_t bert_tiny_bytes(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	add(e, "m", BERT, false);
	struct sy_error err = {0};
	CHECKF(engine_model_load(e, "m", &err) == SY_OK, "%s", err.msg);
	size_t bytes = info_of(e, "m").bytes;
	engine_destroy(e);
	return bytes;
}

static int touch(struct engine *e, const char *id)
{
	struct sy_error err = {0};
	struct engine_result r;
	enum sy_status s = encode(e, id, 0, 2, -1, true, false, &err, &r);
	CHECKF(s == SY_OK, "%s: %s", id, err.msg);
	engine_result_free(&r);
	return s;
}

#define CHECK_STATES(e, sa, sb, sc)                                        \
	do {                                                               \
		CHECK_STREQ(engine_model_state_str(state_of(e, "A")), sa); \
		CHECK_STREQ(engine_model_state_str(state_of(e, "B")), sb); \
		CHECK_STREQ(engine_model_state_str(state_of(e, "C")), sc); \
	} while (0)

static void test_lru_eviction(void)
{
	/* Three copies of one model, so that all three weigh the same; the budget holds two. */
	size_t one = bert_tiny_bytes();
	CHECK(one > 0);
	struct engine_config c = test_config();
	c.memory_budget = 2 * one + one / 2;
	struct engine *e = engine_new(&c);
	add(e, "A", BERT, false);
	add(e, "B", BERT, false);
	add(e, "C", BERT, false);
	touch(e, "A");
	touch(e, "B");
	CHECK_STATES(e, "loaded", "loaded", "available");
	touch(e, "C"); /* A is least recently used */
	CHECK_STATES(e, "available", "loaded", "loaded");
	touch(e, "B");
	touch(e, "A"); /* now C is */
	CHECK_STATES(e, "loaded", "loaded", "available");
	touch(e, "C"); /* and now B */
	CHECK_STATES(e, "loaded", "available", "loaded");
	CHECK_EQ_INT(info_of(e, "A").n_evictions, 1);
	CHECK_EQ_INT(info_of(e, "B").n_evictions, 1);
	CHECK_EQ_INT(info_of(e, "C").n_evictions, 1);
	CHECK_EQ_INT(info_of(e, "A").n_loads, 2);
	struct engine_stats st;
	engine_stats_get(e, &st);
	CHECK_EQ_INT(st.n_evictions, 3);
	CHECK_EQ_INT(st.n_loaded, 2);
	CHECK(st.memory_used <= st.memory_budget);
	CHECK_EQ_INT(st.memory_used, 2 * one);
	engine_destroy(e);
}

static void test_pinned_never_evicted(void)
{
	size_t one = bert_tiny_bytes();
	struct engine_config c = test_config();
	c.memory_budget = 2 * one + one / 2;
	struct engine *e = engine_new(&c);
	add(e, "A", BERT, true);
	add(e, "B", BERT, false);
	add(e, "C", BERT, false);
	struct sy_error err = {0};
	CHECKF(engine_models_load_pinned(e, &err) == SY_OK, "%s", err.msg);
	CHECK_STATES(e, "loaded", "available", "available");
	touch(e, "B");
	touch(e, "C"); /* A is least recently used, but pinned: B goes */
	CHECK_STATES(e, "loaded", "available", "loaded");
	touch(e, "B");
	CHECK_STATES(e, "loaded", "loaded", "available");
	CHECK(info_of(e, "A").pinned);
	CHECK_EQ_INT(info_of(e, "A").n_evictions, 0);
	engine_destroy(e);

	/* Budget for one model only, and that one pinned: another model cannot load, and that is
	 * not held against it (SY_ERR_UNAVAILABLE, state stays available). */
	c.memory_budget = one + one / 2;
	e = engine_new(&c);
	add(e, "A", BERT, true);
	add(e, "B", BERT, false);
	add(e, "C", BERT, false);
	touch(e, "A");
	struct engine_result r;
	CHECK_EQ_INT(encode(e, "B", 0, 1, -1, true, false, &err, &r), SY_ERR_UNAVAILABLE);
	CHECKF(strstr(err.msg, "budget") != NULL, "%s", err.msg);
	CHECK_STATES(e, "loaded", "available", "available");
	engine_destroy(e);
}

static void test_too_big_for_budget(void)
{
	struct engine_config c = test_config();
	c.memory_budget = 1 << 20;
	struct engine *e = engine_new(&c);
	add(e, "big", BERT, false);
	struct sy_error err = {0};
	struct engine_result r;
	CHECK_EQ_INT(encode(e, "big", 0, 1, -1, true, false, &err, &r), SY_ERR_LOAD_FAILED);
	CHECKF(strstr(err.msg, "big") && strstr(err.msg, "needs ~") &&
	           strstr(err.msg, "budget is 1 MB"),
	       "%s", err.msg);
	struct engine_model_info info = info_of(e, "big");
	CHECK_EQ_INT(info.state, ENGINE_MODEL_FAILED);
	CHECK(strstr(info.error, "budget") != NULL);
	CHECK(info.bytes > (size_t)1 << 20);
	engine_destroy(e);
}

/* ---- load failures ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECKF(f != NULL, "%s", path);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_load_failure_cooldown(void)
{
	char dir[] = "/tmp/sy-engine-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	/* bert-tiny with a corrupt config.json (the other files linked). */
	const char *names[] = {"1_Pooling",
	                       "model.safetensors",
	                       "tokenizer.json",
	                       "modules.json",
	                       "config_sentence_transformers.json",
	                       "sentence_bert_config.json",
	                       "special_tokens_map.json",
	                       "tokenizer_config.json",
	                       "vocab.txt"};
	char cwd[2048], src[4096], dst[4096];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(src, sizeof src, "%s/%s/%s", cwd, BERT, names[i]);
		snprintf(dst, sizeof dst, "%s/%s", dir, names[i]);
		CHECK(symlink(src, dst) == 0);
	}
	snprintf(dst, sizeof dst, "%s/config.json", dir);
	write_file(dst, "{\"model_type\": \"bert\", \"hidden_size\": ");

	struct engine_config c = test_config();
	c.load_failure_cooldown_s = 1;
	struct engine *e = engine_new(&c);
	add(e, "broken", dir, false);
	struct sy_error err = {0};
	struct engine_result r;
	CHECK_EQ_INT(encode(e, "broken", 0, 1, -1, true, false, &err, &r), SY_ERR_LOAD_FAILED);
	CHECKF(strstr(err.msg, "broken") && strstr(err.msg, "config.json"), "%s", err.msg);
	struct engine_model_info info = info_of(e, "broken");
	CHECK_EQ_INT(info.state, ENGINE_MODEL_FAILED);
	CHECK(strstr(info.error, "config.json") != NULL);
	CHECK_EQ_INT(info.n_load_failures, 1);
	/* In the cooldown: fails at once, without another attempt. */
	uint64_t t0 = sy_now_ns();
	CHECK_EQ_INT(encode(e, "broken", 0, 1, -1, true, false, &err, &r), SY_ERR_LOAD_FAILED);
	CHECK((sy_now_ns() - t0) < 50000000ull);
	CHECKF(strstr(err.msg, "config.json") && strstr(err.msg, "cooldown"), "%s", err.msg);
	CHECK_EQ_INT(info_of(e, "broken").n_load_failures, 1);
	/* After the cooldown the next request tries again (and fails again). */
	sleep_ms(1100);
	CHECK_EQ_INT(encode(e, "broken", 0, 1, -1, true, false, &err, &r), SY_ERR_LOAD_FAILED);
	CHECK_EQ_INT(info_of(e, "broken").n_load_failures, 2);
	/* Fixed on disk: after the cooldown it loads. */
	snprintf(src, sizeof src, "%s/config.json", BERT);
	char *good = read_text(src);
	unlink(dst);
	write_file(dst, good ? good : "");
	free(good);
	sleep_ms(1100);
	CHECKF(encode(e, "broken", 0, 1, -1, true, false, &err, &r) == SY_OK, "%s", err.msg);
	engine_result_free(&r);
	CHECK_EQ_INT(info_of(e, "broken").state, ENGINE_MODEL_LOADED);
	CHECK_EQ_INT(info_of(e, "broken").error[0], '\0');
	struct engine_stats st;
	engine_stats_get(e, &st);
	CHECK_EQ_INT(st.n_load_failures, 2);
	engine_destroy(e);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(dst, sizeof dst, "%s/%s", dir, names[i]);
		unlink(dst);
	}
	snprintf(dst, sizeof dst, "%s/config.json", dir);
	unlink(dst);
	rmdir(dir);

	/* A path that does not exist fails the same way. */
	e = engine_new(&c);
	add(e, "ghost", "/nonexistent/model", false);
	CHECK_EQ_INT(encode(e, "ghost", 0, 1, -1, true, false, &err, &r), SY_ERR_LOAD_FAILED);
	CHECKF(strstr(err.msg, "/nonexistent/model") != NULL, "%s", err.msg);
	engine_destroy(e);
}

/* ---- concurrency and batching ---- */

struct client {
	struct engine *e;
	const char *model;
	int id, rounds;
	pthread_barrier_t *start;
	const float *ref_default, *ref_raw; /* [N_TEXTS][dims] */
	int dims;
	int n_ok, n_bad;
	enum sy_status last;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	pthread_barrier_wait(c->start);
	for (int k = 0; k < c->rounds; k++) {
		int first = (c->id + k) % N_TEXTS;
		int n = 1 + (c->id + k) % 3;
		if (first + n > N_TEXTS)
			n = N_TEXTS - first;
		int normalize = (c->id + k) % 2 ? 0 : -1;
		struct sy_error err = {0};
		struct engine_result r;
		enum sy_status s =
		    encode(c->e, c->model, first, n, normalize, true, false, &err, &r);
		c->last = s;
		if (s != SY_OK) {
			c->n_bad++;
			continue;
		}
		const float *ref =
		    (normalize ? c->ref_default : c->ref_raw) + (size_t)first * c->dims;
		if (r.dims == c->dims && max_diff(r.dense, ref, (size_t)n * c->dims) <= 1e-6)
			c->n_ok++;
		else
			c->n_bad++;
		engine_result_free(&r);
	}
	return NULL;
}

static void test_concurrent_batching(void)
{
	struct engine_config c = test_config();
	c.max_wait_ms = 5;
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	/* References: the model's default (normalised) and raw vectors, one text at a time. */
	struct sy_error err = {0};
	struct engine_result def, raw;
	CHECK_EQ_INT(encode(e, "bert", 0, N_TEXTS, -1, true, false, &err, &def), SY_OK);
	CHECK_EQ_INT(encode(e, "bert", 0, N_TEXTS, 0, true, false, &err, &raw), SY_OK);
	int dims = def.dims;
	long batches0 = info_of(e, "bert").n_batches;

	enum { N_CLIENTS = 8, ROUNDS = 6 };
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, N_CLIENTS);
	struct client cl[N_CLIENTS];
	pthread_t th[N_CLIENTS];
	for (int i = 0; i < N_CLIENTS; i++) {
		cl[i] = (struct client){.e = e,
		                        .model = "bert",
		                        .id = i,
		                        .rounds = ROUNDS,
		                        .start = &start,
		                        .ref_default = def.dense,
		                        .ref_raw = raw.dense,
		                        .dims = dims};
		pthread_create(&th[i], NULL, client_main, &cl[i]);
	}
	int ok = 0;
	for (int i = 0; i < N_CLIENTS; i++) {
		pthread_join(th[i], NULL);
		ok += cl[i].n_ok;
		CHECKF(cl[i].n_bad == 0, "client %d: %d bad (last status %s)", i, cl[i].n_bad,
		       sy_status_str(cl[i].last));
	}
	pthread_barrier_destroy(&start);
	CHECK_EQ_INT(ok, N_CLIENTS * ROUNDS);
	struct engine_model_info info = info_of(e, "bert");
	long batches = info.n_batches - batches0;
	CHECKF(batches < N_CLIENTS * ROUNDS, "%ld batches for %d requests", batches,
	       N_CLIENTS * ROUNDS);
	CHECK_EQ_INT(info.n_requests, 2 + N_CLIENTS * ROUNDS);
	CHECK_EQ_INT(info.queue_items, 0);
	struct engine_stats st;
	engine_stats_get(e, &st);
	long multi = 0;
	for (int i = 1; i < 8; i++)
		multi += st.batch_size_hist[i];
	CHECK(multi > 0);
	engine_result_free(&def);
	engine_result_free(&raw);
	engine_destroy(e);
}

/* Two models, two workers, clients on both at once. */
static void test_concurrent_two_models(void)
{
	struct engine_config c = test_config();
	c.n_workers = 2;
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	add(e, "distil", DISTIL, false);
	const char *ids[] = {"bert", "distil"};
	struct engine_result def[2], raw[2];
	struct sy_error err = {0};
	for (int k = 0; k < 2; k++) {
		CHECK_EQ_INT(encode(e, ids[k], 0, N_TEXTS, -1, true, false, &err, &def[k]), SY_OK);
		CHECK_EQ_INT(encode(e, ids[k], 0, N_TEXTS, 0, true, false, &err, &raw[k]), SY_OK);
	}
	enum { N_CLIENTS = 6, ROUNDS = 5 };
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, N_CLIENTS);
	struct client cl[N_CLIENTS];
	pthread_t th[N_CLIENTS];
	for (int i = 0; i < N_CLIENTS; i++) {
		int k = i % 2;
		cl[i] = (struct client){.e = e,
		                        .model = ids[k],
		                        .id = i,
		                        .rounds = ROUNDS,
		                        .start = &start,
		                        .ref_default = def[k].dense,
		                        .ref_raw = raw[k].dense,
		                        .dims = def[k].dims};
		pthread_create(&th[i], NULL, client_main, &cl[i]);
	}
	for (int i = 0; i < N_CLIENTS; i++) {
		pthread_join(th[i], NULL);
		CHECKF(cl[i].n_ok == ROUNDS, "client %d: %d bad (last status %s)", i, cl[i].n_bad,
		       sy_status_str(cl[i].last));
	}
	pthread_barrier_destroy(&start);
	for (int k = 0; k < 2; k++) {
		engine_result_free(&def[k]);
		engine_result_free(&raw[k]);
	}
	engine_destroy(e);
}

static void test_shared_first_load(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	int dims = 0;
	float *ref = direct(BERT, texts, N_TEXTS, &dims);
	float *raw = calloc((size_t)N_TEXTS * (size_t)dims, sizeof *raw);
	enum { N_CLIENTS = 4 };
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, N_CLIENTS);
	struct client cl[N_CLIENTS];
	pthread_t th[N_CLIENTS];
	for (int i = 0; i < N_CLIENTS; i++) {
		/* Even ids only: every request uses the model's default normalisation. */
		cl[i] = (struct client){.e = e,
		                        .model = "bert",
		                        .id = 2 * i,
		                        .rounds = 1,
		                        .start = &start,
		                        .ref_default = ref,
		                        .ref_raw = raw,
		                        .dims = dims};
		pthread_create(&th[i], NULL, client_main, &cl[i]);
	}
	for (int i = 0; i < N_CLIENTS; i++) {
		pthread_join(th[i], NULL);
		CHECKF(cl[i].n_ok == 1, "client %d: %s", i, sy_status_str(cl[i].last));
	}
	pthread_barrier_destroy(&start);
	CHECK_EQ_INT(info_of(e, "bert").n_loads, 1);
	free(ref);
	free(raw);
	engine_destroy(e);
}

struct slow_req {
	struct engine *e;
	int first, n;
	enum sy_status s;
};

static void *slow_main(void *arg)
{
	struct slow_req *q = arg;
	struct sy_error err = {0};
	struct engine_result r;
	q->s = encode(q->e, "bert", q->first, q->n, -1, true, false, &err, &r);
	if (q->s == SY_OK)
		engine_result_free(&r);
	return NULL;
}

/* Waits until the model has at least n items queued (at most 5 s). */
static bool wait_queued(struct engine *e, long n)
{
	for (int i = 0; i < 500; i++) {
		if (info_of(e, "bert").queue_items >= n)
			return true;
		sleep_ms(10);
	}
	return false;
}

static void test_queue_full(void)
{
	struct engine_config c = test_config();
	c.max_queue_items = 4;
	c.max_wait_ms = 400; /* the first request waits in the queue meanwhile */
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	struct sy_error err = {0};
	CHECK_EQ_INT(engine_model_load(e, "bert", &err), SY_OK);
	struct slow_req q = {.e = e, .first = 0, .n = 3};
	pthread_t th;
	pthread_create(&th, NULL, slow_main, &q);
	CHECK(wait_queued(e, 3));
	struct engine_result r;
	uint64_t t0 = sy_now_ns();
	CHECK_EQ_INT(encode(e, "bert", 0, 2, -1, true, false, &err, &r), SY_ERR_BUSY);
	CHECK((sy_now_ns() - t0) < 100000000ull);
	CHECKF(strstr(err.msg, "queue full") != NULL, "%s", err.msg);
	CHECK_EQ_INT(encode(e, "bert", 0, 5, -1, true, false, &err, &r), SY_ERR_LIMIT);
	/* One more item still fits, and joins the first request's batch. */
	CHECK_EQ_INT(encode(e, "bert", 3, 1, -1, true, false, &err, &r), SY_OK);
	engine_result_free(&r);
	pthread_join(th, NULL);
	CHECK_EQ_INT(q.s, SY_OK);
	CHECK_EQ_INT(info_of(e, "bert").n_batches, 1);
	engine_destroy(e);
}

/* ---- per-request options ---- */

static void test_normalize_truncate_prompts(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	struct sy_error err = {0};
	struct engine_result def, off, on;
	CHECK_EQ_INT(encode(e, "bert", 0, 3, -1, true, false, &err, &def), SY_OK);
	CHECK_EQ_INT(encode(e, "bert", 0, 3, 0, true, false, &err, &off), SY_OK);
	CHECK_EQ_INT(encode(e, "bert", 0, 3, 1, true, false, &err, &on), SY_OK);
	int d = def.dims;
	for (int i = 0; i < 3; i++) {
		double n2 = 0;
		for (int j = 0; j < d; j++)
			n2 += (double)off.dense[i * d + j] * off.dense[i * d + j];
		CHECKF(fabs(sqrt(n2) - 1) > 1e-3, "item %d: raw norm %g", i, sqrt(n2));
		float *x = malloc((size_t)d * sizeof *x);
		memcpy(x, off.dense + i * d, (size_t)d * sizeof *x);
		l2_normalize_f32(x, d);
		CHECK(max_diff(x, on.dense + i * d, (size_t)d) == 0);
		free(x);
	}
	/* bert-tiny ends with a Normalize module: the default is on. */
	CHECK(max_diff(def.dense, on.dense, (size_t)3 * d) == 0);
	engine_result_free(&def);
	engine_result_free(&off);
	engine_result_free(&on);

	/* bert-tiny takes 64 tokens. */
	char *long_text = malloc(4000);
	long_text[0] = '\0';
	for (int i = 0; i < 200; i++)
		strcat(long_text, "word ");
	const char *t[] = {"short text", long_text};
	size_t lens[] = {strlen(t[0]), strlen(t[1])};
	struct engine_encode_request req = {.items = {"bert", 2, t, lens, true}, .normalize = -1};
	struct engine_result r;
	CHECK_EQ_INT(engine_encode(e, &req, &err, &r), SY_OK);
	CHECK_EQ_INT(r.n_tokens[1], 64);
	CHECK_EQ_INT(r.n_tokens[0], 4);
	engine_result_free(&r);
	req.items.truncate = false;
	CHECK_EQ_INT(engine_encode(e, &req, &err, &r), SY_ERR_LIMIT);
	CHECKF(strstr(err.msg, "item 1") && strstr(err.msg, "202 tokens") && strstr(err.msg, "64"),
	       "%s", err.msg);
	req.items.n_items = 1;
	CHECK_EQ_INT(engine_encode(e, &req, &err, &r), SY_OK);
	engine_result_free(&r);
	free(long_text);

	/* is_query: bert-tiny's "query" prompt is "query: ", joined before the text. */
	const char *q[] = {"query: The quick brown fox jumps over the lazy dog.",
	                   "query: Embeddings map text to vectors."};
	int dims;
	float *ref = direct(BERT, q, 2, &dims);
	struct engine_result plain, query;
	CHECK_EQ_INT(encode(e, "bert", 0, 2, -1, true, false, &err, &plain), SY_OK);
	CHECK_EQ_INT(encode(e, "bert", 0, 2, -1, true, true, &err, &query), SY_OK);
	CHECK(max_diff(plain.dense, query.dense, (size_t)2 * dims) > 1e-3);
	CHECK(ref && max_diff(query.dense, ref, (size_t)2 * dims) <= 1e-6);
	CHECK(query.n_tokens[0] > plain.n_tokens[0]);
	free(ref);
	/* An instruction overrides the prompt. */
	const char *ins[] = {"Represent this: The quick brown fox jumps over the lazy dog."};
	ref = direct(BERT, ins, 1, &dims);
	size_t len0 = strlen(texts[0]);
	struct engine_encode_request ireq = {.items = {"bert", 1, texts, &len0, true},
	                                     .normalize = -1,
	                                     .is_query = true,
	                                     .instruction = "Represent this: "};
	CHECK_EQ_INT(engine_encode(e, &ireq, &err, &r), SY_OK);
	CHECK(ref && max_diff(r.dense, ref, (size_t)dims) <= 1e-6);
	engine_result_free(&r);
	free(ref);
	engine_result_free(&plain);
	engine_result_free(&query);
	/* distilbert-tiny has no prompts: is_query changes nothing. */
	add(e, "distil", DISTIL, false);
	CHECK_EQ_INT(encode(e, "distil", 0, 2, -1, true, false, &err, &plain), SY_OK);
	CHECK_EQ_INT(encode(e, "distil", 0, 2, -1, true, true, &err, &query), SY_OK);
	CHECK(max_diff(plain.dense, query.dense, (size_t)2 * plain.dims) == 0);
	engine_result_free(&plain);
	engine_result_free(&query);
	engine_destroy(e);
}

/* ---- shutdown and idle unload ---- */

static void test_drain_while_busy(void)
{
	struct engine_config c = test_config();
	c.max_wait_ms = 2000; /* requests sit in the queue until the drain flushes them */
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	struct sy_error err = {0};
	CHECK_EQ_INT(engine_model_load(e, "bert", &err), SY_OK);
	enum { N = 4 };
	struct slow_req q[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		q[i] = (struct slow_req){.e = e, .first = i, .n = 2};
		pthread_create(&th[i], NULL, slow_main, &q[i]);
	}
	CHECK(wait_queued(e, 2 * N));
	uint64_t t0 = sy_now_ns();
	engine_drain(e);
	CHECKF(sy_now_ns() - t0 < 1500000000ull, "drain took %.0f ms",
	       (double)(sy_now_ns() - t0) / 1e6);
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(q[i].s, SY_OK);
	}
	struct engine_result r;
	CHECK_EQ_INT(encode(e, "bert", 0, 1, -1, true, false, &err, &r), SY_ERR_UNAVAILABLE);
	CHECK_EQ_INT(engine_model_load(e, "bert", &err), SY_ERR_UNAVAILABLE);
	engine_destroy(e);
}

static void test_idle_ttl(void)
{
	struct engine_config c = test_config();
	c.idle_ttl_s = 1;
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	add(e, "pinned", DISTIL, true);
	touch(e, "bert");
	touch(e, "pinned");
	CHECK_EQ_INT(state_of(e, "bert"), ENGINE_MODEL_LOADED);
	sleep_ms(400);
	CHECK_EQ_INT(state_of(e, "bert"), ENGINE_MODEL_LOADED);
	sleep_ms(1300);
	CHECK_EQ_INT(state_of(e, "bert"), ENGINE_MODEL_AVAILABLE);
	CHECK_EQ_INT(state_of(e, "pinned"), ENGINE_MODEL_LOADED);
	struct engine_stats st;
	engine_stats_get(e, &st);
	CHECK_EQ_INT(st.n_loaded, 1);
	/* It loads again on the next request. */
	touch(e, "bert");
	CHECK_EQ_INT(info_of(e, "bert").n_loads, 2);
	engine_destroy(e);
}

/* ---- the built-in model ---- */

static void test_use_lite(void)
{
	char buf[4096];
	if (!use_lite_resolve(buf, sizeof buf)) {
		fprintf(stderr, "  (use-lite not found: skipped)\n");
		return;
	}
	struct engine_config c = test_config();
	c.builtin_models = true;
	struct engine *e = engine_new(&c);
	struct engine_model_info info = info_of(e, "use-lite");
	CHECK_EQ_INT(info.state, ENGINE_MODEL_AVAILABLE);
	int dims = 0;
	float *ref = direct("use-lite", texts, N_TEXTS, &dims);
	struct sy_error err = {0};
	struct engine_result r;
	enum sy_status s = encode(e, "use-lite", 0, N_TEXTS, -1, true, false, &err, &r);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s == SY_OK && ref) {
		CHECK_EQ_INT(r.dims, dims);
		CHECK(max_diff(r.dense, ref, (size_t)N_TEXTS * dims) <= 1e-6);
	}
	if (s == SY_OK)
		for (int i = 0; i < N_TEXTS; i++)
			CHECKF((r.n_tokens[i] > 0) == (texts[i][0] != '\0'), "item %d: %d tokens",
			       i, r.n_tokens[i]);
	int n_tok = 0;
	CHECK_EQ_INT(engine_count_tokens(e, "use-lite", "hello world", 11, &err, &n_tok), SY_OK);
	CHECK(n_tok >= 2);
	info = info_of(e, "use-lite");
	CHECK_STREQ(info.arch, "use-lite");
	CHECK(info.bytes > 0);
	engine_result_free(&r);
	/* An instruction is joined to the text for embedders without per-item options too. */
	const char *joined[] = {"note: a"};
	float *ref2 = direct("use-lite", joined, 1, &dims);
	size_t len = 1;
	const char *t[] = {"a"};
	struct engine_encode_request req = {
	    .items = {"use-lite", 1, t, &len, true}, .normalize = -1, .instruction = "note: "};
	CHECK_EQ_INT(engine_encode(e, &req, &err, &r), SY_OK);
	CHECK(ref2 && max_diff(r.dense, ref2, (size_t)dims) <= 1e-6);
	engine_result_free(&r);
	free(ref);
	free(ref2);
	engine_destroy(e);
}

/* A request is bounded by its prepared tokens before any model work (issue 23.4): an
 * instruction that goes with every item counts with each. */
static void test_request_token_bound(void)
{
	struct engine_config c = test_config();
	c.max_request_tokens = 40;
	struct engine *e = engine_new(&c);
	if (!e)
		return;
	add(e, "bert", BERT, false);
	struct sy_error err = {0};
	struct engine_result r;
	CHECK_EQ_INT(encode(e, "bert", 0, 2, -1, true, false, &err, &r), SY_OK);
	engine_result_free(&r);
	const char *t[] = {"one", "two", "three", "four"};
	size_t lens[] = {3, 3, 5, 4};
	struct engine_encode_request req = {.items = {"bert", 4, t, lens, true},
	                                    .normalize = -1,
	                                    .instruction = "a long instruction that goes before "
	                                                   "every item of the request"};
	CHECK_EQ_INT(engine_encode(e, &req, &err, &r), SY_ERR_LIMIT);
	CHECKF(strstr(err.msg, "40 tokens one request may") != NULL, "%s", err.msg);
	struct engine_model_info info = info_of(e, "bert");
	CHECK(info.n_batches == 1); /* the refused request ran nothing */
	engine_destroy(e);
}

/* The first request for a model waits for its load at most load_wait_ms like any other (issue
 * 23.9): the load goes on on its own thread, a later request finds the model loaded, and destroy
 * waits for a load still running. */
static void test_first_load_deadline(void)
{
	setenv("SY_TEST_LOAD_DELAY_MS", "600", 1);
	struct engine_config c = test_config();
	c.load_wait_ms = 100;
	struct engine *e = engine_new(&c);
	if (!e) {
		unsetenv("SY_TEST_LOAD_DELAY_MS");
		return;
	}
	add(e, "bert", BERT, false);
	add(e, "distil", DISTIL, false);
	struct sy_error err = {0};
	struct engine_result r;
	const uint64_t t0 = sy_now_ns();
	CHECK_EQ_INT(encode(e, "bert", 0, 1, -1, true, false, &err, &r), SY_ERR_UNAVAILABLE);
	const double waited = (double)(sy_now_ns() - t0) / 1e6;
	CHECKF(waited < 450 && strstr(err.msg, "still loading"), "%.0f ms: %s", waited, err.msg);
	CHECK_EQ_INT(state_of(e, "bert"), ENGINE_MODEL_LOADING);
	for (int i = 0; i < 200 && state_of(e, "bert") == ENGINE_MODEL_LOADING; i++)
		usleep(50 * 1000); /* the load goes on without anyone waiting for it */
	CHECK_EQ_INT(state_of(e, "bert"), ENGINE_MODEL_LOADED);
	CHECK_EQ_INT(encode(e, "bert", 0, 1, -1, true, false, &err, &r), SY_OK);
	engine_result_free(&r);
	/* A load still running when the engine goes away is waited for, not leaked. */
	CHECK_EQ_INT(encode(e, "distil", 0, 1, -1, true, false, &err, &r), SY_ERR_UNAVAILABLE);
	engine_destroy(e);
	unsetenv("SY_TEST_LOAD_DELAY_MS");
}

static bool gone_after(void *ctx)
{
	return sy_now_ns() >= *(const uint64_t *)ctx;
}

/* Work whose caller went away is dropped from the queue (issue 23.4): the request returns soon
 * after, its queued items never run, and the queue holds nothing of it. */
static void test_cancel_gone_caller(void)
{
	struct engine_config c = test_config();
	c.max_wait_ms = 3000; /* a lone request's items wait in the queue for company */
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	struct sy_error err = {0};
	CHECK_EQ_INT(engine_model_load(e, "bert", &err), SY_OK);
	const char *t[] = {"one", "two", "three"};
	size_t lens[] = {3, 3, 5};
	uint64_t when = sy_now_ns() + 200000000ull;
	const struct engine_cancel cancel = {gone_after, &when};
	struct engine_request req = {
	    .task = ENGINE_TASK_ENCODE,
	    .encode = {.items = {"bert", 3, t, lens, true}, .normalize = -1},
	    .cancel = &cancel};
	struct engine_result r;
	const uint64_t t0 = sy_now_ns();
	CHECK_EQ_INT(engine_request_run(e, &req, &err, &r), SY_ERR_UNAVAILABLE);
	const double ms = (double)(sy_now_ns() - t0) / 1e6;
	CHECKF(ms < 1500 && strstr(err.msg, "went away"), "%.0f ms: %s", ms, err.msg);
	struct engine_model_info info = info_of(e, "bert");
	CHECK_EQ_INT((int)info.n_cancelled_items, 3);
	CHECK_EQ_INT((int)info.n_batches, 0);
	CHECK_EQ_INT((int)info.queue_items, 0);
	/* A caller that stays gets its answer. */
	when = UINT64_MAX;
	CHECK_EQ_INT(engine_request_run(e, &req, &err, &r), SY_OK);
	engine_result_free(&r);
	engine_destroy(e);
}

/* A batch already running when its only caller leaves is stopped (between layers, or here
 * before its first: the test hook holds the batch 300 ms), and its items count as cancelled. */
static void test_cancel_running_batch(void)
{
	setenv("SY_TEST_BATCH_DELAY_MS", "300", 1);
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	unsetenv("SY_TEST_BATCH_DELAY_MS");
	add(e, "bert", BERT, false);
	struct sy_error err = {0};
	CHECK_EQ_INT(engine_model_load(e, "bert", &err), SY_OK);
	const char *t[] = {"one", "two", "three"};
	size_t lens[] = {3, 3, 5};
	uint64_t when = sy_now_ns() + 100000000ull;
	const struct engine_cancel cancel = {gone_after, &when};
	struct engine_request req = {
	    .task = ENGINE_TASK_ENCODE,
	    .encode = {.items = {"bert", 3, t, lens, true}, .normalize = -1},
	    .cancel = &cancel};
	struct engine_result r;
	CHECK_EQ_INT(engine_request_run(e, &req, &err, &r), SY_ERR_UNAVAILABLE);
	CHECKF(strstr(err.msg, "went away") != NULL, "%s", err.msg);
	struct engine_model_info info = info_of(e, "bert");
	CHECK_EQ_INT((int)info.n_cancelled_items, 3);
	/* A caller that stays is served by the same slow batches. */
	when = UINT64_MAX;
	CHECK_EQ_INT(engine_request_run(e, &req, &err, &r), SY_OK);
	engine_result_free(&r);
	info = info_of(e, "bert");
	CHECK_EQ_INT((int)info.n_cancelled_items, 3);
	engine_destroy(e);
}

int main(void)
{
	RUN(test_encode_matches_embedder);
	RUN(test_int8_precision);
	RUN(test_not_found_and_bad_requests);
	RUN(test_models_dir);
	RUN(test_lru_eviction);
	RUN(test_pinned_never_evicted);
	RUN(test_too_big_for_budget);
	RUN(test_load_failure_cooldown);
	RUN(test_concurrent_batching);
	RUN(test_concurrent_two_models);
	RUN(test_shared_first_load);
	RUN(test_queue_full);
	RUN(test_normalize_truncate_prompts);
	RUN(test_drain_while_busy);
	RUN(test_idle_ttl);
	RUN(test_use_lite);
	RUN(test_request_token_bound);
	RUN(test_first_load_deadline);
	RUN(test_cancel_gone_caller);
	RUN(test_cancel_running_batch);
	return harness_summary();
}
