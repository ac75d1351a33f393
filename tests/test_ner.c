/* Token classification (src/model/heads/token_classifier.c) and entity grouping
 * (src/model/heads/ner_aggregate.c) against the independent reference (tools/reference/make_ner.py,
 * tests/golden/ner-tiny.json): the entities of every text under each aggregation strategy, all
 * texts in one call (packed) and one by one; the grouping rules on hand-made predictions; the
 * model's label set and the refusal of per-call labels. */
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
#include "model/heads/ner_aggregate.h"
#include "text/tokenizer.h"

#define FIXTURE "tests/fixtures/ner-tiny"

static const char *const STRATEGIES[] = {"simple", "first", "average", "max"};

/* Compares one item's entities with the golden list; returns the worst score error. */
static double compare_entities(const struct model_item_result *r, const cJSON *want,
                               const char *text, const char *what)
{
	double worst = 0;
	CHECKF(r->n_entities == cJSON_GetArraySize(want), "%s: %d entities, want %d", what,
	       r->n_entities, cJSON_GetArraySize(want));
	for (int k = 0; k < r->n_entities && k < cJSON_GetArraySize(want); k++) {
		const cJSON *w = cJSON_GetArrayItem(want, k);
		const struct model_entity *e = &r->entities[k];
		const char *label = cJSON_GetObjectItemCaseSensitive(w, "label")->valuestring;
		const int ws = (int)cJSON_GetObjectItemCaseSensitive(w, "start")->valuedouble;
		const int we = (int)cJSON_GetObjectItemCaseSensitive(w, "end")->valuedouble;
		const double sc = cJSON_GetObjectItemCaseSensitive(w, "score")->valuedouble;
		const int cs = (int)tokenizer_char_offset(text, e->start);
		const int ce = (int)tokenizer_char_offset(text, e->end);
		CHECKF(!strcmp(e->label, label) && cs == ws && ce == we,
		       "%s entity %d: %s [%d,%d), want %s [%d,%d)", what, k, e->label, cs, ce,
		       label, ws, we);
		worst = fmax(worst, fabs(e->score - sc));
	}
	return worst;
}

static void test_golden(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECKF(sy_file_read("tests/golden/ner-tiny.json", &err, &text, &len) == SY_OK, "%s",
	       err.msg);
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *texts = cJSON_GetObjectItemCaseSensitive(doc, "texts");
	const int n = cJSON_GetArraySize(texts);
	CHECK(is_family(FIXTURE, "token-classifier"));
	CHECK(!is_family("tests/fixtures/bert-tiny", "token-classifier"));
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct model *e = NULL;
	CHECKF(model_open(FIXTURE, &opts, &err, &e) == SY_OK, "%s", err.msg);
	if (!e || n <= 0) {
		cJSON_Delete(doc);
		return;
	}
	CHECK_STREQ(e->arch, "token-classifier");
	CHECK(e->extract && !e->encode && !e->score);
	int nl = 0;
	const char *const *labels = model_labels(e, &nl);
	CHECK_EQ_INT(nl, 4);
	if (nl == 4) {
		CHECK_STREQ(labels[0], "MISC");
		CHECK_STREQ(labels[1], "PER");
		CHECK_STREQ(labels[2], "ORG");
		CHECK_STREQ(labels[3], "LOC");
	}
	const char **tv = calloc((size_t)n, sizeof *tv);
	size_t *lv = calloc((size_t)n, sizeof *lv);
	int *ntok = calloc((size_t)n, sizeof *ntok);
	for (int i = 0; i < n; i++) {
		tv[i] = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(texts, i), "text")
		            ->valuestring;
		lv[i] = strlen(tv[i]);
	}
	double worst = 0;
	int n_entities = 0;
	for (int st = 0; st < 4; st++) {
		struct extract_params xp = {.aggregation = ner_aggregation_parse(STRATEGIES[st])};
		struct model_item_result *all = calloc((size_t)n, sizeof *all);
		CHECKF(model_extract_texts(e, tv, lv, n, &xp, &err, all, ntok) == SY_OK, "%s",
		       err.msg);
		for (int i = 0; i < n; i++) {
			const cJSON *g = cJSON_GetArrayItem(texts, i);
			const cJSON *want = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(g, "entities"), STRATEGIES[st]);
			char what[64];
			snprintf(what, sizeof what, "%s text %d", STRATEGIES[st], i);
			worst = fmax(worst, compare_entities(&all[i], want, tv[i], what));
			n_entities += all[i].n_entities;
			CHECK_EQ_INT(
			    ntok[i],
			    (int)cJSON_GetObjectItemCaseSensitive(g, "n_tokens")->valuedouble);
			/* One at a time gives the same entities. */
			struct model_item_result r = {0};
			CHECK(model_extract_texts(e, tv + i, lv + i, 1, &xp, &err, &r, NULL) ==
			      SY_OK);
			CHECK_EQ_INT(r.n_entities, all[i].n_entities);
			for (int k = 0; k < r.n_entities && k < all[i].n_entities; k++)
				CHECK(r.entities[k].start == all[i].entities[k].start &&
				      fabsf(r.entities[k].score - all[i].entities[k].score) <
				          1e-6f);
			model_item_result_free(&r);
			model_item_result_free(&all[i]);
		}
		free(all);
	}
	printf("  ner-tiny: %d texts x 4 strategies, %d entities, max score err %.2e\n", n,
	       n_entities, worst);
	CHECK(n_entities > 100);
	CHECK(worst <= 1e-5);

	/* A threshold drops the weak entities only. */
	struct extract_params strict = {.threshold = 0.7f};
	struct model_item_result r = {0};
	CHECK(model_extract_texts(e, tv, lv, 1, &strict, &err, &r, NULL) == SY_OK);
	for (int k = 0; k < r.n_entities; k++)
		CHECK(r.entities[k].score >= 0.7f);
	model_item_result_free(&r);

	/* Labels per call are for zero-shot models. */
	const char *want_labels[] = {"person"};
	struct extract_params zs = {.labels = want_labels, .n_labels = 1};
	CHECK(model_extract_texts(e, tv, lv, 1, &zs, &err, &r, NULL) == SY_ERR_UNSUPPORTED);
	CHECK(strstr(err.msg, "fixed labels") != NULL);
	model_item_result_free(&r);
	/* It embeds nothing. */
	float dummy[4];
	CHECK(model_encode_texts(e, tv, lv, 1, NULL, &err, dummy, NULL, NULL) ==
	      SY_ERR_UNSUPPORTED);

	free(tv);
	free(lv);
	free(ntok);
	model_close(e);
	cJSON_Delete(doc);
}

/* The grouping rules on predictions made by hand. */
static void test_aggregate_rules(void)
{
	static const char *const labels[] = {"O", "B-PER", "I-PER", "B-ORG", "I-ORG"};
	/* "Tim Cook of Apple Inc": tokens Tim | Co ##ok | of | App ##le | Inc */
	static const float p[][5] = {
	    {0.1f, 0.8f, 0.1f, 0, 0}, /* Tim: B-PER */
	    {0.1f, 0.1f, 0.8f, 0, 0}, /* Co: I-PER */
	    {0.6f, 0.0f, 0.0f, 0.4f, 0}, /* ##ok: O (word "Cook" is I-PER by first) */
	    {0.9f, 0.05f, 0.05f, 0, 0}, /* of: O */
	    {0.2f, 0, 0, 0.7f, 0.1f}, /* App: B-ORG */
	    {0.1f, 0, 0, 0.05f, 0.85f}, /* ##le: I-ORG */
	    {0.1f, 0, 0, 0.8f, 0.1f}, /* Inc: B-ORG -> a new entity */
	};
	struct ner_token t[7] = {
	    {0, 3, false, p[0]},   {4, 6, false, p[1]},   {6, 8, true, p[2]},
	    {9, 11, false, p[3]},  {12, 15, false, p[4]}, {15, 17, true, p[5]},
	    {18, 21, false, p[6]},
	};
	struct sy_error err = {0};
	struct model_entity *e = NULL;
	int n = 0;
	CHECK(ner_aggregate(t, 7, labels, 5, NER_AGG_FIRST, 0, &err, &e, &n) == SY_OK);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK(!strcmp(e[0].label, "PER") && e[0].start == 0 && e[0].end == 8);
		CHECK(fabsf(e[0].score - 0.8f) < 1e-6f);
		CHECK(!strcmp(e[1].label, "ORG") && e[1].start == 12 && e[1].end == 17);
		CHECK(fabsf(e[1].score - 0.7f) < 1e-6f);
		CHECK(!strcmp(e[2].label, "ORG") && e[2].start == 18 && e[2].end == 21);
	}
	free(e);
	/* simple: "##ok" is O on its own, so "Co" ends the person at byte 6; "##le" (I-ORG)
	 * continues "App". */
	CHECK(ner_aggregate(t, 7, labels, 5, NER_AGG_SIMPLE, 0, &err, &e, &n) == SY_OK);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK(e[0].end == 6 && fabsf(e[0].score - 0.8f) < 1e-6f);
		CHECK(e[1].start == 12 && e[1].end == 17 && fabsf(e[1].score - 0.775f) < 1e-6f);
	}
	free(e);
	/* average: "Cook" = mean(I-PER .8/O .1, O .6/I-PER 0) -> O .35 vs I-PER .4: I-PER. */
	CHECK(ner_aggregate(t, 7, labels, 5, NER_AGG_AVERAGE, 0, &err, &e, &n) == SY_OK);
	CHECK_EQ_INT(n, 3);
	if (n == 3)
		CHECK(e[0].end == 8 && fabsf(e[0].score - (0.8f + 0.4f) / 2) < 1e-6f);
	free(e);
	/* max: "Apple" takes ##le's I-ORG 0.85; an I- after O starts its own entity. */
	CHECK(ner_aggregate(t, 7, labels, 5, NER_AGG_MAX, 0, &err, &e, &n) == SY_OK);
	CHECK_EQ_INT(n, 3);
	if (n == 3)
		CHECK(!strcmp(e[1].label, "ORG") && fabsf(e[1].score - 0.85f) < 1e-6f);
	free(e);
	/* threshold */
	CHECK(ner_aggregate(t, 7, labels, 5, NER_AGG_FIRST, 0.75f, &err, &e, &n) == SY_OK);
	CHECK_EQ_INT(n, 2);
	free(e);
	/* nothing in, nothing out */
	CHECK(ner_aggregate(t, 0, labels, 5, NER_AGG_FIRST, 0, &err, &e, &n) == SY_OK);
	CHECK(n == 0 && e == NULL);
	CHECK_EQ_INT(ner_aggregation_parse("average"), NER_AGG_AVERAGE);
	CHECK_EQ_INT(ner_aggregation_parse("mean"), -1);
}

int main(void)
{
	RUN(test_aggregate_rules);
	RUN(test_golden);
	return harness_summary();
}
