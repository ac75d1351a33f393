/* BGE-M3 (src/model/heads/bge_m3.c) against the independent reference
 * (tools/reference/make_bge_m3.py, tests/golden/bge-m3-tiny.json): dense, sparse and
 * multivector from one call (one text cut at the position limit), batched equal to one by one,
 * a subset of outputs per item, the four score modes; and through the engine: several outputs in
 * one request, dense or sparse alone as one-output models give them, and the refusals. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "engine/engine.h"
#include "harness.h"
#include "model_call.h"
#include "model/model.h"
#include "model/registry.h"

#define FIXTURE "tests/fixtures/bge-m3-tiny"

static cJSON *golden;
static const cJSON *g_query, *g_docs, *g_scores;
static int n_docs;

static void load_golden(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECKF(sy_file_read("tests/golden/bge-m3-tiny.json", &err, &text, &len) == SY_OK, "%s",
	       err.msg);
	golden = cJSON_ParseWithLength(text, len);
	free(text);
	g_query = cJSON_GetObjectItemCaseSensitive(golden, "query");
	g_docs = cJSON_GetObjectItemCaseSensitive(golden, "documents");
	g_scores = cJSON_GetObjectItemCaseSensitive(golden, "scores");
	n_docs = cJSON_GetArraySize(g_docs);
}

static const char *gtext(const cJSON *g)
{
	return cJSON_GetObjectItemCaseSensitive(g, "text")->valuestring;
}

static float *floats_of(const cJSON *arr, int *n)
{
	*n = cJSON_GetArraySize(arr);
	float *v = malloc((size_t)(*n > 0 ? *n : 1) * sizeof *v);
	int i = 0;
	for (const cJSON *x = arr->child; x; x = x->next)
		v[i++] = (float)x->valuedouble;
	return v;
}

/* One item's three outputs against its golden. */
static void check_item(const struct model_item_result *r, const cJSON *g, const char *what)
{
	int n;
	float *dense = floats_of(cJSON_GetObjectItemCaseSensitive(g, "dense"), &n);
	CHECKF(r->dense && r->dense_dims == n, "%s: dense dims %d, want %d", what, r->dense_dims,
	       n);
	if (r->dense && r->dense_dims == n) {
		double c = harness_cosine(r->dense, dense, (size_t)n);
		CHECKF(c >= 0.99999, "%s: dense cosine %.7f", what, c);
	}
	free(dense);
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(g, "sparse");
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(sp, "indices");
	const cJSON *vals = cJSON_GetObjectItemCaseSensitive(sp, "values");
	CHECKF(r->n_sparse == cJSON_GetArraySize(ids), "%s: %d sparse terms, want %d", what,
	       r->n_sparse, cJSON_GetArraySize(ids));
	for (int k = 0; k < r->n_sparse && k < cJSON_GetArraySize(ids); k++) {
		CHECKF(r->sparse_ids[k] == cJSON_GetArrayItem(ids, k)->valueint,
		       "%s: sparse term %d is id %d, want %d", what, k, r->sparse_ids[k],
		       cJSON_GetArrayItem(ids, k)->valueint);
		CHECKF(fabs(r->sparse_weights[k] - cJSON_GetArrayItem(vals, k)->valuedouble) < 1e-4,
		       "%s: sparse weight %d: %f, want %f", what, k, r->sparse_weights[k],
		       cJSON_GetArrayItem(vals, k)->valuedouble);
	}
	const cJSON *cv = cJSON_GetObjectItemCaseSensitive(g, "colbert");
	CHECKF(r->n_vectors == cJSON_GetArraySize(cv), "%s: %d colbert vectors, want %d", what,
	       r->n_vectors, cJSON_GetArraySize(cv));
	double worst = 1;
	for (int i = 0; i < r->n_vectors && i < cJSON_GetArraySize(cv); i++) {
		float *v = floats_of(cJSON_GetArrayItem(cv, i), &n);
		CHECK_EQ_INT(r->dims, n);
		if (r->dims == n)
			worst =
			    fmin(worst, harness_cosine(r->vectors + (size_t)i * n, v, (size_t)n));
		free(v);
	}
	CHECKF(worst >= 0.99999, "%s: worst colbert cosine %.7f", what, worst);
}

static struct model *open_m3(void)
{
	struct sy_error err = {0};
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct model *m = NULL;
	CHECKF(model_open(FIXTURE, &opts, &err, &m) == SY_OK, "%s", err.msg);
	return m;
}

static enum sy_status encode(struct model *m, const char *const *texts, int n, unsigned outputs,
                             struct model_item_result *res)
{
	struct model_input *ins = calloc((size_t)n, sizeof *ins);
	for (int i = 0; i < n; i++)
		ins[i] = (struct model_input){.text = texts[i],
		                              .len = strlen(texts[i]),
		                              .truncate = true,
		                              .normalize = -1,
		                              .outputs = outputs};
	struct sy_error err = {0};
	enum sy_status s = model_run_inputs(m, MODEL_TASK_ENCODE, ins, n, &err, NULL, res, NULL);
	CHECKF(s == SY_OK, "%s", err.msg);
	free(ins);
	return s;
}

static void test_detect(void)
{
	CHECK(is_family(FIXTURE, "bge-m3"));
	CHECK(!is_family("tests/fixtures/xlmr-ce-tiny", "bge-m3"));
	CHECK(!is_family("tests/fixtures/roberta-tiny", "bge-m3"));
	struct model *m = open_m3();
	if (!m)
		return;
	CHECK_STREQ(m->arch, "bge-m3");
	CHECK(model_outputs(m) ==
	      (MODEL_OUTPUT_DENSE | MODEL_OUTPUT_SPARSE | MODEL_OUTPUT_MULTIVECTOR));
	CHECK_EQ_INT(model_dims(m), 64);
	CHECK_EQ_INT(model_output_dims(m, MODEL_OUTPUT_SPARSE), 30522);
	CHECK_EQ_INT(model_output_dims(m, MODEL_OUTPUT_MULTIVECTOR), 64);
	CHECK(m->score && m->score->modes && !m->extract);
	CHECK_STREQ(model_token(m, 1037), "a");
	model_close(m);
}

/* The query and every document in one call, all three outputs; then one by one. */
static void test_golden_outputs(void)
{
	struct model *m = open_m3();
	if (!m || n_docs <= 0)
		return;
	const int n = n_docs + 1;
	const char **texts = calloc((size_t)n, sizeof *texts);
	texts[0] = gtext(g_query);
	for (int i = 0; i < n_docs; i++)
		texts[i + 1] = gtext(cJSON_GetArrayItem(g_docs, i));
	struct model_item_result *all = calloc((size_t)n, sizeof *all);
	if (encode(m, texts, n, MODEL_OUTPUTS_ALL, all) == SY_OK) {
		check_item(&all[0], g_query, "query");
		for (int i = 0; i < n_docs; i++) {
			char what[32];
			snprintf(what, sizeof what, "document %d", i);
			check_item(&all[i + 1], cJSON_GetArrayItem(g_docs, i), what);
		}
	}
	for (int i = 0; i < n; i++) {
		struct model_item_result one = {0};
		if (encode(m, &texts[i], 1, MODEL_OUTPUTS_ALL, &one) != SY_OK)
			break;
		CHECK(harness_max_abs_diff(one.dense, all[i].dense, 64) < 1e-5f);
		CHECK(one.n_sparse == all[i].n_sparse && one.n_vectors == all[i].n_vectors);
		if (one.n_sparse == all[i].n_sparse)
			CHECK(harness_max_abs_diff(one.sparse_weights, all[i].sparse_weights,
			                           (size_t)one.n_sparse) < 1e-5f);
		if (one.n_vectors == all[i].n_vectors)
			CHECK(harness_max_abs_diff(one.vectors, all[i].vectors,
			                           (size_t)one.n_vectors * 64) < 1e-5f);
		model_item_result_free(&one);
	}
	/* What is asked for and nothing else; dense by default. */
	struct model_item_result part[2] = {{0}};
	if (encode(m, texts, 1, MODEL_OUTPUT_SPARSE, part) == SY_OK) {
		CHECK(!part[0].dense && !part[0].vectors && part[0].n_sparse == all[0].n_sparse);
		model_item_result_free(&part[0]);
	}
	if (encode(m, texts, 2, 0, part) == SY_OK) {
		CHECK(part[0].dense && !part[0].sparse_ids && !part[0].vectors);
		CHECK(harness_max_abs_diff(part[1].dense, all[1].dense, 64) < 1e-5f);
		model_item_result_free(&part[0]);
		model_item_result_free(&part[1]);
	}
	for (int i = 0; i < n; i++)
		model_item_result_free(&all[i]);
	free(all);
	free(texts);
	model_close(m);
}

static void test_score_modes(void)
{
	struct model *m = open_m3();
	if (!m || n_docs <= 0)
		return;
	const cJSON *hw = cJSON_GetObjectItemCaseSensitive(golden, "hybrid_weights");
	const char *q = gtext(g_query);
	struct {
		const char *key;
		struct score_params p;
		int hybrid; /* index into the golden's hybrid scores, or -1 */
	} cases[] = {
	    {"dense", {.mode = MODEL_SCORE_DEFAULT}, -1},
	    {"dense", {.mode = MODEL_SCORE_DENSE}, -1},
	    {"sparse", {.mode = MODEL_SCORE_SPARSE}, -1},
	    {"colbert", {.mode = MODEL_SCORE_COLBERT}, -1},
	    {"hybrid", {.mode = MODEL_SCORE_HYBRID}, 0},
	    {"hybrid", {.mode = MODEL_SCORE_HYBRID, .has_weights = true}, 1},
	};
	const cJSON *w1 = cJSON_GetArrayItem(hw, 1);
	for (int k = 0; k < 3; k++)
		cases[5].p.weights[k] = (float)cJSON_GetArrayItem(w1, k)->valuedouble;
	struct model_input *ins = calloc((size_t)n_docs, sizeof *ins);
	float *scores = calloc((size_t)n_docs, sizeof *scores);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		for (int i = 0; i < n_docs; i++) {
			const char *t = gtext(cJSON_GetArrayItem(g_docs, i));
			ins[i] = (struct model_input){.text = t,
			                              .len = strlen(t),
			                              .query = q,
			                              .query_len = strlen(q),
			                              .truncate = true,
			                              .normalize = -1,
			                              .score = &cases[c].p};
		}
		struct sy_error err = {0};
		CHECKF(model_run_inputs(m, MODEL_TASK_SCORE, ins, n_docs, &err, scores, NULL,
		                        NULL) == SY_OK,
		       "%s", err.msg);
		for (int i = 0; i < n_docs; i++) {
			const cJSON *g = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetArrayItem(g_scores, i), cases[c].key);
			const double want =
			    cases[c].hybrid >= 0
			        ? cJSON_GetArrayItem(g, cases[c].hybrid)->valuedouble
			        : g->valuedouble;
			CHECKF(fabs(scores[i] - want) < 1e-4,
			       "%s (case %zu) document %d: %f, want %f", cases[c].key, c, i,
			       scores[i], want);
		}
	}
	free(ins);
	free(scores);
	model_close(m);
}

/* Through the engine: output sets, flat single outputs, score options, refusals. */
static void test_engine(void)
{
	struct engine_config cfg = engine_default_config();
	cfg.n_threads = 2;
	struct engine *e = NULL;
	struct sy_error err = {0};
	CHECKF(engine_create(&cfg, &err, &e) == SY_OK, "%s", err.msg);
	if (!e)
		return;
	CHECK(engine_model_add(e, "m3", FIXTURE, false, &err) == SY_OK);
	CHECK(engine_model_add(e, "bert", "tests/fixtures/bert-tiny", false, &err) == SY_OK);
	CHECK(engine_model_add(e, "ce", "tests/fixtures/bert-ce-tiny", false, &err) == SY_OK);
	const char *texts[] = {gtext(g_query), gtext(cJSON_GetArrayItem(g_docs, 0))};
	const size_t lens[] = {strlen(texts[0]), strlen(texts[1])};
	struct engine_encode_request rq = {.items = {"m3", 2, texts, lens, true},
	                                   .outputs = ENGINE_OUTPUT_DENSE | ENGINE_OUTPUT_SPARSE |
	                                              ENGINE_OUTPUT_MULTIVECTOR,
	                                   .normalize = -1};
	struct engine_result all = {0}, r = {0};
	CHECKF(engine_encode(e, &rq, &err, &all) == SY_OK, "%s", err.msg);
	CHECK(all.items && !all.dense);
	if (all.items) {
		check_item(&all.items[0], g_query, "engine query");
		check_item(&all.items[1], cJSON_GetArrayItem(g_docs, 0), "engine document");
	}
	struct engine_model_info info;
	CHECK(engine_model_get(e, "m3", &err, &info) == SY_OK);
	CHECK(info.outputs == 7u && info.dims == 64);
	/* Dense by default, as a dense model gives it. */
	rq.outputs = 0;
	CHECKF(engine_encode(e, &rq, &err, &r) == SY_OK, "%s", err.msg);
	CHECK(r.dense && !r.items && r.dims == 64);
	if (r.dense && all.items)
		CHECK(harness_max_abs_diff(r.dense + 64, all.items[1].dense, 64) < 1e-6f);
	engine_result_free(&r);
	/* Sparse alone: vocabulary-sized rows, as SPLADE gives them. */
	rq.outputs = ENGINE_OUTPUT_SPARSE;
	CHECKF(engine_encode(e, &rq, &err, &r) == SY_OK, "%s", err.msg);
	CHECK(r.dense && r.dims == 30522);
	if (r.dense && all.items) {
		const struct model_item_result *a = &all.items[1];
		int nz = 0;
		for (int v = 0; v < r.dims; v++)
			nz += r.dense[r.dims + v] != 0;
		CHECK_EQ_INT(nz, a->n_sparse);
		for (int k = 0; k < a->n_sparse; k++)
			CHECK(r.dense[r.dims + a->sparse_ids[k]] == a->sparse_weights[k]);
	}
	engine_result_free(&r);
	engine_result_free(&all);
	/* A dense model asked for sparse and multivector: refused, naming what it lacks. */
	rq.items.model = "bert";
	rq.outputs = ENGINE_OUTPUT_DENSE | ENGINE_OUTPUT_SPARSE;
	err = (struct sy_error){0};
	CHECK(engine_encode(e, &rq, &err, &r) == SY_ERR_UNSUPPORTED);
	CHECKF(strstr(err.msg, "sparse"), "%s", err.msg);
	/* Score with modes through the engine; a cross-encoder refuses the options. */
	struct score_params p = {.mode = MODEL_SCORE_SPARSE};
	struct engine_score_request sr = {.items = {"m3", 1, texts + 1, lens + 1, true},
	                                  .query = texts[0],
	                                  .query_len = lens[0],
	                                  .params = &p};
	CHECKF(engine_score(e, &sr, &err, &r) == SY_OK, "%s", err.msg);
	if (r.scores) {
		const double want =
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(g_scores, 0), "sparse")
		        ->valuedouble;
		CHECKF(fabs(r.scores[0] - want) < 1e-4, "engine sparse score %f, want %f",
		       r.scores[0], want);
	}
	engine_result_free(&r);
	sr.items.model = "ce";
	err = (struct sy_error){0};
	CHECK(engine_score(e, &sr, &err, &r) == SY_ERR_INVALID_ARG);
	CHECKF(strstr(err.msg, "score_mode"), "%s", err.msg);
	p.mode = MODEL_SCORE_DEFAULT;
	CHECK(engine_score(e, &sr, &err, &r) == SY_OK);
	engine_result_free(&r);
	engine_destroy(e);
}

static void test_mode_names(void)
{
	CHECK(model_score_mode_parse("hybrid") == MODEL_SCORE_HYBRID);
	CHECK(model_score_mode_parse("colbert") == MODEL_SCORE_COLBERT);
	CHECK(model_score_mode_parse("Dense") == -1);
	CHECK_STREQ(model_score_mode_name(MODEL_SCORE_SPARSE), "sparse");
	CHECK_STREQ(model_output_name(MODEL_OUTPUT_MULTIVECTOR), "multivector");
}

int main(void)
{
	load_golden();
	RUN(test_mode_names);
	RUN(test_detect);
	RUN(test_golden_outputs);
	RUN(test_score_modes);
	RUN(test_engine);
	cJSON_Delete(golden);
	return harness_summary();
}
