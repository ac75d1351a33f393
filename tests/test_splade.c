/* SPLADE (src/model/heads/splade.c) against the independent reference
 * (tools/reference/make_splade.py, tests/golden/splade-tiny.json): the vocabulary weights of
 * every text (one truncated at 64 positions), batched and one by one; detection; a clear error
 * for dense-only checkpoints. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "harness.h"
#include "model_call.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"

static void test_golden(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECKF(sy_file_read("tests/golden/splade-tiny.json", &err, &text, &len) == SY_OK, "%s",
	       err.msg);
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *texts = cJSON_GetObjectItemCaseSensitive(doc, "texts");
	const int n = cJSON_GetArraySize(texts);
	const int V = (int)cJSON_GetObjectItemCaseSensitive(doc, "vocab_size")->valuedouble;
	CHECK(is_family("tests/fixtures/splade-tiny", "splade"));
	CHECK(!is_family("tests/fixtures/bert-tiny", "splade"));
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct model *e = NULL;
	CHECKF(model_open("tests/fixtures/splade-tiny", &opts, &err, &e) == SY_OK, "%s", err.msg);
	if (!e || n <= 0) {
		cJSON_Delete(doc);
		return;
	}
	CHECK_STREQ(e->arch, "splade");
	CHECK(e->encode && e->encode->output == MODEL_OUTPUT_SPARSE);
	CHECK_EQ_INT(model_dims(e), V);
	CHECK_STREQ(model_token(e, 2054), "what");
	const char **tv = calloc((size_t)n, sizeof *tv);
	size_t *lv = calloc((size_t)n, sizeof *lv);
	for (int i = 0; i < n; i++) {
		tv[i] = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(texts, i), "text")
		            ->valuestring;
		lv[i] = strlen(tv[i]);
	}
	float *all = malloc((size_t)n * V * sizeof *all), *one = malloc((size_t)V * sizeof *one);
	float *ref = calloc((size_t)V, sizeof *ref);
	CHECKF(model_encode_texts(e, tv, lv, n, NULL, &err, all, NULL, NULL) == SY_OK, "%s",
	       err.msg);
	double worst = 0, worst_one = 0;
	int active_diff = 0;
	for (int i = 0; i < n; i++) {
		const cJSON *g = cJSON_GetArrayItem(texts, i);
		memset(ref, 0, (size_t)V * sizeof *ref);
		const cJSON *ix = cJSON_GetObjectItemCaseSensitive(g, "indices");
		const cJSON *vx = cJSON_GetObjectItemCaseSensitive(g, "values");
		for (int k = 0; k < cJSON_GetArraySize(ix); k++)
			ref[(int)cJSON_GetArrayItem(ix, k)->valuedouble] =
			    (float)cJSON_GetArrayItem(vx, k)->valuedouble;
		const float *got = all + (size_t)i * V;
		CHECK(model_encode_texts(e, tv + i, lv + i, 1, NULL, &err, one, NULL, NULL) ==
		      SY_OK);
		for (int v = 0; v < V; v++) {
			worst = fmax(worst, fabs(got[v] - ref[v]));
			worst_one = fmax(worst_one, fabs(got[v] - one[v]));
			/* Terms near zero may fall either side of it; any other must agree. */
			if ((got[v] > 1e-4f) != (ref[v] > 1e-4f) && fabs(got[v] - ref[v]) > 1e-5)
				active_diff++;
		}
	}
	printf("  splade-tiny: %d texts, max abs err %.2e over %d terms, batch vs one %.2e, "
	       "active-set differences %d\n",
	       n, worst, V, worst_one, active_diff);
	CHECK(worst <= 1e-5);
	CHECK(worst_one <= 1e-6);
	CHECK_EQ_INT(active_diff, 0);
	free(all);
	free(one);
	free(ref);
	free(tv);
	free(lv);
	model_close(e);
	cJSON_Delete(doc);
}

/* DistilBertForMaskedLM with idf.json (tests/golden/splade-distil-tiny.json): documents
 * through the network with special tokens zeroed, queries inference-free from the idf
 * weights, both kinds mixed in one call. */
static void test_distil_idf(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECKF(sy_file_read("tests/golden/splade-distil-tiny.json", &err, &text, &len) == SY_OK,
	       "%s", err.msg);
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *texts = cJSON_GetObjectItemCaseSensitive(doc, "texts");
	const int n = cJSON_GetArraySize(texts);
	const int V = (int)cJSON_GetObjectItemCaseSensitive(doc, "vocab_size")->valuedouble;
	CHECK(is_family("tests/fixtures/splade-distil-tiny", "splade"));
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct model *e = NULL;
	CHECKF(model_open("tests/fixtures/splade-distil-tiny", &opts, &err, &e) == SY_OK, "%s",
	       err.msg);
	if (!e || n <= 0) {
		cJSON_Delete(doc);
		return;
	}
	CHECK(e->encode && e->encode->output == MODEL_OUTPUT_SPARSE);
	/* Interleave: query, document, query, ... so that queries split the packed batches. */
	const char **tv = calloc((size_t)n, sizeof *tv);
	size_t *lv = calloc((size_t)n, sizeof *lv);
	bool *isq = calloc((size_t)n, sizeof *isq);
	int *order = calloc((size_t)n, sizeof *order), *ntok = calloc((size_t)n, sizeof *ntok);
	for (int i = 0, a = 0, b = n - 1; i < n; i++)
		order[i] = i % 2 ? a++ : b--;
	for (int i = 0; i < n; i++) {
		const cJSON *g = cJSON_GetArrayItem(texts, order[i]);
		tv[i] = cJSON_GetObjectItemCaseSensitive(g, "text")->valuestring;
		lv[i] = strlen(tv[i]);
		isq[i] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "is_query"));
	}
	float *out = malloc((size_t)n * V * sizeof *out), *ref = malloc((size_t)V * sizeof *ref);
	CHECKF(model_call(e, MODEL_TASK_ENCODE, tv, lv, isq, NULL, n, &err, out, NULL, ntok) ==
	           SY_OK,
	       "%s", err.msg);
	double worst_doc = 0, worst_query = 0;
	int n_queries = 0, active = 0;
	for (int i = 0; i < n; i++) {
		const cJSON *g = cJSON_GetArrayItem(texts, order[i]);
		memset(ref, 0, (size_t)V * sizeof *ref);
		const cJSON *ix = cJSON_GetObjectItemCaseSensitive(g, "indices");
		const cJSON *vx = cJSON_GetObjectItemCaseSensitive(g, "values");
		for (int k = 0; k < cJSON_GetArraySize(ix); k++)
			ref[(int)cJSON_GetArrayItem(ix, k)->valuedouble] =
			    (float)cJSON_GetArrayItem(vx, k)->valuedouble;
		double worst = 0;
		for (int v = 0; v < V; v++) {
			worst = fmax(worst, fabs(out[(size_t)i * V + v] - ref[v]));
			active += out[(size_t)i * V + v] > 0;
		}
		if (isq[i]) {
			worst_query = fmax(worst_query, worst);
			n_queries++;
		} else {
			worst_doc = fmax(worst_doc, worst);
		}
		CHECK_EQ_INT(ntok[i],
		             (int)cJSON_GetObjectItemCaseSensitive(g, "n_tokens")->valuedouble);
	}
	printf(
	    "  splade-distil-tiny: %d texts (%d inference-free queries), %d active terms, max abs "
	    "err %.2e documents, %.2e queries\n",
	    n, n_queries, active, worst_doc, worst_query);
	CHECK(n_queries == 3 && active > 100);
	CHECK(worst_doc <= 1e-5);
	CHECK(worst_query <= 1e-6);
	free(out);
	free(ref);
	free(tv);
	free(lv);
	free(isq);
	free(order);
	free(ntok);
	model_close(e);
	cJSON_Delete(doc);
}

int main(void)
{
	RUN(test_golden);
	RUN(test_distil_idf);
	return harness_summary();
}
