/* ColBERT (src/model/heads/colbert.c) against the independent reference
 * (tools/reference/make_colbert.py, tests/golden/colbert-tiny.json): query vectors (marker,
 * [MASK] expansion not attended to, a query cut at query_maxlen), document vectors (marker,
 * punctuation dropped, one cut at doc_maxlen), queries and documents mixed in one packed call,
 * and MaxSim scores. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "harness.h"
#include "model_call.h"
#include "model/heads/colbert.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"

#define FIXTURE "tests/fixtures/colbert-tiny"

static double compare_vectors(const struct model_item_result *r, const cJSON *g, int dim,
                              const char *what)
{
	const cJSON *vs = cJSON_GetObjectItemCaseSensitive(g, "vectors");
	CHECKF(r->n_vectors == cJSON_GetArraySize(vs) && r->dims == dim,
	       "%s: %d x %d, want %d x %d", what, r->n_vectors, r->dims, cJSON_GetArraySize(vs),
	       dim);
	double worst = 0;
	for (int i = 0; i < r->n_vectors && i < cJSON_GetArraySize(vs); i++) {
		const cJSON *row = cJSON_GetArrayItem(vs, i);
		for (int d = 0; d < dim; d++)
			worst = fmax(worst, fabs(r->vectors[(size_t)i * dim + d] -
			                         cJSON_GetArrayItem(row, d)->valuedouble));
	}
	return worst;
}

static void test_golden(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECKF(sy_file_read("tests/golden/colbert-tiny.json", &err, &text, &len) == SY_OK, "%s",
	       err.msg);
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *qs = cJSON_GetObjectItemCaseSensitive(doc, "queries");
	const cJSON *ds = cJSON_GetObjectItemCaseSensitive(doc, "documents");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(doc, "maxsim");
	const int nq = cJSON_GetArraySize(qs), nd = cJSON_GetArraySize(ds);
	const int dim = (int)cJSON_GetObjectItemCaseSensitive(doc, "dim")->valuedouble;
	CHECK(is_family(FIXTURE, "colbert"));
	CHECK(!is_family("tests/fixtures/bert-tiny", "colbert"));
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct model *e = NULL;
	CHECKF(model_open(FIXTURE, &opts, &err, &e) == SY_OK, "%s", err.msg);
	if (!e || nq <= 0 || nd <= 0) {
		cJSON_Delete(doc);
		return;
	}
	CHECK_STREQ(e->arch, "colbert");
	CHECK(e->encode && e->encode->output == MODEL_OUTPUT_MULTIVECTOR);
	CHECK(e->score && !e->extract);
	CHECK_EQ_INT(model_dims(e), dim);
	/* Queries and documents interleaved in one call. */
	const int n = nq + nd;
	const char **tv = calloc((size_t)n, sizeof *tv);
	size_t *lv = calloc((size_t)n, sizeof *lv);
	bool *isq = calloc((size_t)n, sizeof *isq);
	int *ntok = calloc((size_t)n, sizeof *ntok);
	const cJSON **gold = calloc((size_t)n, sizeof *gold);
	for (int i = 0, a = 0, b = 0; i < n; i++) {
		const bool q = (i % 2 == 0 && a < nq) || b >= nd;
		gold[i] = q ? cJSON_GetArrayItem(qs, a++) : cJSON_GetArrayItem(ds, b++);
		isq[i] = q;
		tv[i] = cJSON_GetObjectItemCaseSensitive(gold[i], "text")->valuestring;
		lv[i] = strlen(tv[i]);
	}
	struct model_item_result *r = calloc((size_t)n, sizeof *r);
	CHECKF(model_call(e, MODEL_TASK_ENCODE, tv, lv, isq, NULL, n, &err, NULL, r, ntok) == SY_OK,
	       "%s", err.msg);
	double worst = 0;
	for (int i = 0; i < n; i++) {
		char what[32];
		snprintf(what, sizeof what, "%s %d", isq[i] ? "query" : "document", i);
		worst = fmax(worst, compare_vectors(&r[i], gold[i], dim, what));
		CHECK_EQ_INT(
		    ntok[i],
		    (int)cJSON_GetObjectItemCaseSensitive(gold[i], "n_tokens")->valuedouble);
	}
	/* MaxSim of every (query, document) pair. */
	double worst_score = 0;
	for (int i = 0, qi = 0; i < n; i++) {
		if (!isq[i])
			continue;
		for (int j = 0, di = 0; j < n; j++) {
			if (isq[j])
				continue;
			double s = colbert_maxsim(r[i].vectors, r[i].n_vectors, r[j].vectors,
			                          r[j].n_vectors, dim);
			double want =
			    cJSON_GetArrayItem(cJSON_GetArrayItem(ms, qi), di)->valuedouble;
			worst_score = fmax(worst_score, fabs(s - want));
			di++;
		}
		qi++;
	}
	printf("  colbert-tiny: %d queries, %d documents, max abs err %.2e on vectors, %.2e on "
	       "MaxSim\n",
	       nq, nd, worst, worst_score);
	CHECK(worst <= 1e-5);
	CHECK(worst_score <= 1e-4);
	/* The score task (MaxSim inside the ColBERT head) gives the same scores. */
	const char **dt = calloc((size_t)nd, sizeof *dt);
	size_t *dl = calloc((size_t)nd, sizeof *dl);
	float *sc = calloc((size_t)nd, sizeof *sc);
	double worst_task = 0;
	for (int i = 0, k = 0; i < n; i++)
		if (!isq[i]) {
			dt[k] = tv[i];
			dl[k++] = lv[i];
		}
	for (int qi = 0; qi < nq; qi++) {
		const char *q = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(qs, qi), "text")
		                    ->valuestring;
		CHECKF(model_score_pairs(e, q, strlen(q), dt, dl, nd, &err, sc, NULL) == SY_OK,
		       "%s", err.msg);
		for (int di = 0; di < nd; di++)
			worst_task = fmax(
			    worst_task,
			    fabs(sc[di] -
			         cJSON_GetArrayItem(cJSON_GetArrayItem(ms, qi), di)->valuedouble));
	}
	printf("  colbert-tiny score task: max abs err %.2e on MaxSim\n", worst_task);
	CHECK(worst_task <= 1e-4);
	free(dt);
	free(dl);
	free(sc);
	/* A document alone gives the same vectors as in the mixed call. */
	int last = n - 1;
	struct model_item_result r1 = {0};
	CHECK(model_call(e, MODEL_TASK_ENCODE, tv + last, lv + last, isq + last, NULL, 1, &err,
	                 NULL, &r1, NULL) == SY_OK);
	CHECK_EQ_INT(r1.n_vectors, r[last].n_vectors);
	double d1 = 0;
	for (int k = 0; k < r1.n_vectors * dim && r1.n_vectors == r[last].n_vectors; k++)
		d1 = fmax(d1, fabs(r1.vectors[k] - r[last].vectors[k]));
	CHECK(d1 <= 1e-6);
	model_item_result_free(&r1);
	for (int i = 0; i < n; i++)
		model_item_result_free(&r[i]);
	/* One vector per text is not what it gives. */
	float dummy[64];
	CHECK(model_encode_texts(e, tv, lv, 1, NULL, &err, dummy, NULL, NULL) ==
	      SY_ERR_INVALID_ARG);
	CHECK(strstr(err.msg, "multivector") != NULL);
	free(r);
	free(tv);
	free(lv);
	free(isq);
	free(ntok);
	free(gold);
	model_close(e);
	cJSON_Delete(doc);
}

static void test_maxsim(void)
{
	const float q[] = {1, 0, 0, 1};
	const float d[] = {0.6f, 0.8f, 1, 0, 0, 1};
	CHECK(fabs(colbert_maxsim(q, 2, d, 3, 2) - 2.0) < 1e-9);
	CHECK(fabs(colbert_maxsim(q, 2, d, 1, 2) - 1.4) < 1e-6);
	CHECK(colbert_maxsim(q, 2, d, 0, 2) == 0);
	CHECK(colbert_maxsim(q, 0, d, 3, 2) == 0);
}

int main(void)
{
	RUN(test_maxsim);
	RUN(test_golden);
	return harness_summary();
}
