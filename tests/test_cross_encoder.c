/* Cross-encoders (src/model/heads/cross_encoder.c) against the independent reference
 * (tools/reference/make_cross_encoders.py, goldens in tests/golden/<fixture>.json): the logits
 * and scores of every pair, in one packed batch and one pair at a time, for the
 * BertForSequenceClassification (F16), XLMRobertaForSequenceClassification (BF16) and
 * DistilBertForSequenceClassification (F16) layouts, and ModernBertForSequenceClassification
 * (F32, mean pooling, tools/reference/make_modernbert.py);
 * detection, and a clear refusal of models without a classification head. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "harness.h"
#include "model_call.h"
#include "model/registry.h"
#include "model/heads/cross_encoder.h"

static void golden_pairs(const char *name)
{
	char path[256], dir[256];
	snprintf(path, sizeof path, "tests/golden/%s.json", name);
	snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECKF(sy_file_read(path, &err, &text, &len) == SY_OK, "%s", err.msg);
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(doc, "pairs");
	const int n = cJSON_GetArraySize(pairs);
	const int L = (int)cJSON_GetObjectItemCaseSensitive(doc, "num_labels")->valuedouble;
	CHECK(n > 0 && L > 0);
	const char **q = calloc((size_t)n, sizeof *q), **d = calloc((size_t)n, sizeof *d);
	size_t *ql = calloc((size_t)n, sizeof *ql), *dl = calloc((size_t)n, sizeof *dl);
	for (int i = 0; i < n; i++) {
		const cJSON *p = cJSON_GetArrayItem(pairs, i);
		q[i] = cJSON_GetObjectItemCaseSensitive(p, "query")->valuestring;
		d[i] = cJSON_GetObjectItemCaseSensitive(p, "document")->valuestring;
		ql[i] = strlen(q[i]);
		dl[i] = strlen(d[i]);
	}
	CHECK(is_family(dir, "cross-encoder"));
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct cross_encoder *ce = NULL;
	CHECKF(cross_encoder_load(dir, &opts, &err, &ce) == SY_OK, "%s: %s", name, err.msg);
	if (ce) {
		CHECK_EQ_INT(cross_encoder_num_labels(ce), L);
		float *s = malloc((size_t)n * sizeof *s), *lg = malloc((size_t)n * L * sizeof *lg);
		CHECKF(cross_encoder_score(ce, q, ql, d, dl, n, &err, s, lg, NULL) == SY_OK, "%s",
		       err.msg);
		double worst_l = 0, worst_s = 0, worst_one = 0;
		for (int i = 0; i < n; i++) {
			const cJSON *p = cJSON_GetArrayItem(pairs, i);
			const cJSON *gl = cJSON_GetObjectItemCaseSensitive(p, "logits");
			for (int l = 0; l < L; l++)
				worst_l =
				    fmax(worst_l, fabs(lg[(size_t)i * L + l] -
				                       cJSON_GetArrayItem(gl, l)->valuedouble));
			worst_s = fmax(
			    worst_s,
			    fabs(s[i] - cJSON_GetObjectItemCaseSensitive(p, "score")->valuedouble));
			float one;
			CHECK(cross_encoder_score(ce, q + i, ql + i, d + i, dl + i, 1, &err, &one,
			                          NULL, NULL) == SY_OK);
			worst_one = fmax(worst_one, fabs(one - s[i]));
		}
		printf("  %-14s %d pairs: logits max abs err %.2e, scores %.2e; one by one vs "
		       "batch %.2e\n",
		       name, n, worst_l, worst_s, worst_one);
		CHECK(worst_l <= 1e-4);
		CHECK(worst_s <= 1e-5);
		CHECK(worst_one <= 1e-6);
		free(s);
		free(lg);
		cross_encoder_close(ce);
	}
	free(q);
	free(d);
	free(ql);
	free(dl);
	cJSON_Delete(doc);
}

static void test_golden_pairs(void)
{
	golden_pairs("bert-ce-tiny");
	golden_pairs("xlmr-ce-tiny");
	golden_pairs("distilbert-ce-tiny");
	golden_pairs("modernbert-ce-tiny");
}

static void test_not_a_cross_encoder(void)
{
	struct sy_error err = {0};
	struct cross_encoder *ce = NULL;
	CHECK(!is_family("tests/fixtures/bert-tiny", "cross-encoder"));
	CHECK(cross_encoder_load("tests/fixtures/bert-tiny", NULL, &err, &ce) ==
	      SY_ERR_UNSUPPORTED);
	CHECKF(strstr(err.msg, "ForSequenceClassification") != NULL, "%s", err.msg);
	CHECK(ce == NULL);
	CHECK(cross_encoder_load("/nonexistent", NULL, &err, &ce) != SY_OK);
}

int main(void)
{
	RUN(test_golden_pairs);
	RUN(test_not_a_cross_encoder);
	return harness_summary();
}
