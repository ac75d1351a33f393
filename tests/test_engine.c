/* Engine tests: catalogue, lazy loading, the memory budget's LRU eviction, pinning, load
 * failures and their cooldown, batching across concurrent requests, admission limits,
 * per-request options, drain and the idle TTL. Models are the committed tiny fixtures
 * (tests/fixtures), plus use-lite when it is found. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "engine/engine.h"
#include "harness.h"
#include "model/embedder.h"
#include "model/use_lite.h"
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

static __attribute__((unused)) void sleep_ms(int ms)
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
			     struct engine_encode_result *res)
{
	size_t lens[N_TEXTS];
	for (int i = 0; i < n; i++)
		lens[i] = strlen(texts[first + i]);
	struct engine_encode_request req = {
	    .model = model,
	    .n_items = n,
	    .texts = texts + first,
	    .lens = lens,
	    .normalize = normalize,
	    .truncate = truncate,
	    .is_query = is_query,
	};
	return engine_encode(e, &req, err, res);
}

/* Reference vectors straight from the embedder. */
static float *direct(const char *path, const char *const *t, int n, int *dims)
{
	struct embed_options o = embed_default_options();
	o.n_threads = 1;
	struct sy_error err = {0};
	struct embedder *emb = NULL;
	if (embedder_open(path, &o, &err, &emb) != SY_OK) {
		CHECKF(0, "%s: %s", path, err.msg);
		return NULL;
	}
	*dims = embedder_dims(emb);
	size_t *lens = malloc((size_t)n * sizeof *lens);
	float *v = malloc((size_t)n * (size_t)*dims * sizeof *v);
	for (int i = 0; i < n; i++)
		lens[i] = strlen(t[i]);
	enum sy_status s = embedder_encode(emb, t, lens, n, v, &err);
	CHECKF(s == SY_OK, "%s", err.msg);
	free(lens);
	embedder_close(emb);
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
		struct engine_encode_result r;
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
			CHECK_EQ_INT(r.tokenize_ms, 0);
		}
		engine_encode_result_free(&r);
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

static void test_not_found_and_bad_requests(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	add(e, "bert", BERT, false);
	struct sy_error err = {0};
	struct engine_encode_result r;
	CHECK_EQ_INT(encode(e, "nope", 0, 1, -1, true, false, &err, &r), SY_ERR_NOT_FOUND);
	CHECK(strstr(err.msg, "nope") != NULL);
	CHECK_EQ_INT(encode(e, "bert", 0, 0, -1, true, false, &err, &r), SY_ERR_INVALID_ARG);
	size_t len = 1;
	const char *t[] = {"x"};
	struct engine_encode_request req = {.model = "bert", .n_items = 1, .texts = t, .lens = &len,
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
	engine_encode_result_free(&r);
	int n = 0;
	CHECK_EQ_INT(engine_count_tokens(e, "bert", "hello world", 11, &err, &n), SY_OK);
	CHECK_EQ_INT(n, 4); /* [CLS] hello world [SEP] */
	engine_destroy(e);
}

static void test_models_dir(void)
{
	struct engine_config c = test_config();
	struct engine *e = engine_new(&c);
	struct sy_error err = {0};
	CHECKF(engine_models_dir_add(e, "tests/fixtures", &err) == SY_OK, "%s", err.msg);
	struct engine_model_info v[8];
	int n = engine_models_list(e, v, 8);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK_STREQ(v[0].id, "bert-tiny");
		CHECK_STREQ(v[1].id, "distilbert-tiny");
		CHECK_STREQ(v[2].id, "roberta-tiny");
		CHECK_STREQ(engine_model_state_str(v[0].state), "available");
		CHECK(v[0].idle_s < 0);
	}
	CHECK_EQ_INT(engine_models_dir_add(e, "tests/no-such-dir", &err), SY_ERR_IO);
	engine_destroy(e);
}

int main(void)
{
	RUN(test_encode_matches_embedder);
	RUN(test_not_found_and_bad_requests);
	RUN(test_models_dir);
	return harness_summary();
}
