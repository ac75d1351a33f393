/* GLiNER (src/model/heads/gliner.c) and its DeBERTa-v2 encoder (src/model/arch/deberta_v2.c) against the
 * independent reference (tools/reference/make_gliner.py, tests/golden/gliner-tiny.json): the
 * encoder's last hidden states on a sequence long enough for the log-bucketed relative
 * positions, and the decoded entities (spans, labels, scores, character offsets) of every text
 * with its own labels; plus the refusals (no labels, embedding). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "harness.h"
#include "model/arch/deberta_v2.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"
#include "model/formats/weights.h"
#include "text/tokenizer.h"

#define FIXTURE "tests/fixtures/gliner-tiny"

static cJSON *golden(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECKF(sy_file_read("tests/golden/gliner-tiny.json", &err, &text, &len) == SY_OK, "%s",
	       err.msg);
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	return doc;
}

static void test_encoder(void)
{
	cJSON *doc = golden();
	char *ctext;
	size_t clen;
	struct sy_error err = {0};
	CHECK(sy_file_read(FIXTURE "/gliner_config.json", &err, &ctext, &clen) == SY_OK);
	cJSON *cfg = cJSON_ParseWithLength(ctext, clen);
	free(ctext);
	struct deberta_config dc;
	CHECKF(deberta_config_parse(cJSON_GetObjectItemCaseSensitive(cfg, "encoder_config"), "t",
	                            &err, &dc) == SY_OK,
	       "%s", err.msg);
	struct safetensors *st = NULL;
	struct deberta_model *m = NULL;
	CHECK(model_weights_open(FIXTURE, &err, &st, NULL) == SY_OK);
	CHECKF(deberta_load(&dc, st, "token_rep_layer.bert_layer.model.", 1, &err, &m) == SY_OK,
	       "%s", err.msg);
	safetensors_close(st);
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(doc, "encoder");
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(enc, "ids");
	const cJSON *hid = cJSON_GetObjectItemCaseSensitive(enc, "hidden");
	const int T = cJSON_GetArraySize(ids), H = dc.hidden;
	int32_t *v = malloc((size_t)T * sizeof *v);
	float *out = malloc((size_t)T * H * sizeof *out);
	for (int i = 0; i < T; i++)
		v[i] = (int32_t)cJSON_GetArrayItem(ids, i)->valuedouble;
	double worst = 0;
	if (m && deberta_forward(m, v, T, &err, out) == SY_OK)
		for (int i = 0; i < T; i++)
			for (int d = 0; d < H; d++)
				worst = fmax(worst,
				             fabs(out[(size_t)i * H + d] -
				                  cJSON_GetArrayItem(cJSON_GetArrayItem(hid, i), d)
				                      ->valuedouble));
	else
		CHECKF(0, "forward: %s", err.msg);
	printf("  deberta-v2 (v3 style, log-bucketed relative positions): %d tokens, max abs err "
	       "%.2e\n",
	       T, worst);
	CHECK(worst <= 1e-4);
	/* unsupported variants are named */
	cJSON *bad = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cfg, "encoder_config"), true);
	cJSON_ReplaceItemInObjectCaseSensitive(bad, "share_att_key", cJSON_CreateFalse());
	CHECK(deberta_config_parse(bad, "t", &err, &dc) == SY_ERR_UNSUPPORTED);
	CHECK(strstr(err.msg, "share_att_key") != NULL);
	cJSON_Delete(bad);
	free(v);
	free(out);
	deberta_free(m);
	cJSON_Delete(cfg);
	cJSON_Delete(doc);
}

static void test_entities(void)
{
	cJSON *doc = golden();
	const float threshold =
	    (float)cJSON_GetObjectItemCaseSensitive(doc, "threshold")->valuedouble;
	struct sy_error err = {0};
	struct model *e = NULL;
	CHECKF(model_open(FIXTURE, NULL, &err, &e) == SY_OK, "%s", err.msg);
	if (!e) {
		cJSON_Delete(doc);
		return;
	}
	CHECK_STREQ(e->arch, "gliner");
	CHECK(e->extract && !e->encode && !e->score);
	int nl;
	CHECK(model_labels(e, &nl) == NULL); /* zero-shot: labels come with each call */
	const cJSON *t;
	double worst = 0;
	int n_ent = 0, n_tok_ok = 0, n_texts = 0;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "texts"))
	{
		const char *text = cJSON_GetObjectItemCaseSensitive(t, "text")->valuestring;
		const cJSON *lab = cJSON_GetObjectItemCaseSensitive(t, "labels");
		const char *labels[16];
		int n = 0;
		const cJSON *l;
		cJSON_ArrayForEach(l, lab) labels[n++] = l->valuestring;
		struct extract_params xp = {
		    .labels = labels, .n_labels = n, .threshold = threshold};
		size_t len = strlen(text);
		struct model_item_result r = {0};
		int ntok = 0;
		CHECKF(model_extract_texts(e, &text, &len, 1, &xp, &err, &r, &ntok) == SY_OK, "%s",
		       err.msg);
		n_tok_ok += ntok == cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "ids"));
		const cJSON *want = cJSON_GetObjectItemCaseSensitive(t, "entities");
		CHECKF(r.n_entities == cJSON_GetArraySize(want), "%s: %d entities, want %d", text,
		       r.n_entities, cJSON_GetArraySize(want));
		for (int k = 0; k < r.n_entities && k < cJSON_GetArraySize(want); k++) {
			const cJSON *w = cJSON_GetArrayItem(want, k);
			const struct model_entity *en = &r.entities[k];
			CHECK_STREQ(en->label,
			            cJSON_GetObjectItemCaseSensitive(w, "label")->valuestring);
			CHECK_EQ_INT(
			    (int)tokenizer_char_offset(text, en->start),
			    (int)cJSON_GetObjectItemCaseSensitive(w, "start")->valuedouble);
			CHECK_EQ_INT((int)tokenizer_char_offset(text, en->end),
			             (int)cJSON_GetObjectItemCaseSensitive(w, "end")->valuedouble);
			worst = fmax(
			    worst, fabs(en->score -
			                cJSON_GetObjectItemCaseSensitive(w, "score")->valuedouble));
			n_ent++;
		}
		model_item_result_free(&r);
		n_texts++;
	}
	printf("  gliner-tiny: %d texts, %d entities, max score err %.2e\n", n_texts, n_ent, worst);
	CHECK(n_ent >= 10);
	CHECK_EQ_INT(n_tok_ok, n_texts);
	CHECK(worst <= 1e-5);
	/* no labels, and embedding, are refused */
	const char *text = "Tim Cook";
	size_t len = strlen(text);
	struct model_item_result r = {0};
	CHECK(model_extract_texts(e, &text, &len, 1, NULL, &err, &r, NULL) == SY_ERR_INVALID_ARG);
	CHECK(strstr(err.msg, "params.labels") != NULL);
	float dummy[4];
	CHECK(model_encode_texts(e, &text, &len, 1, NULL, &err, dummy, NULL, NULL) ==
	      SY_ERR_UNSUPPORTED);
	model_close(e);
	cJSON_Delete(doc);
}

/* The same entities and scores on 1, 2 and 3 threads (the encoder and the heads split their
 * work by (ith, nth); every output is computed by the same code whatever the split), and the
 * same hidden states from the encoder alone. */
static void test_threads(void)
{
	cJSON *doc = golden();
	struct model *e[3] = {NULL, NULL, NULL};
	struct sy_error err = {0};
	for (int t = 0; t < 3; t++) {
		struct model_options o = model_default_options();
		o.n_threads = t + 1;
		CHECKF(model_open(FIXTURE, &o, &err, &e[t]) == SY_OK, "%s", err.msg);
	}
	if (!e[0] || !e[1] || !e[2]) {
		for (int t = 0; t < 3; t++)
			if (e[t])
				model_close(e[t]);
		cJSON_Delete(doc);
		return;
	}
	/* the golden texts with their labels, then a longer one with every label */
	const char *texts[8], *all[16];
	const char *labels[8][16];
	int nlab[8], nt = 0, na = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "texts"))
	{
		if (nt == 7)
			break;
		texts[nt] = cJSON_GetObjectItemCaseSensitive(t, "text")->valuestring;
		nlab[nt] = 0;
		const cJSON *l;
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(t, "labels"))
		{
			labels[nt][nlab[nt]++] = l->valuestring;
			bool seen = false;
			for (int k = 0; k < na; k++)
				seen |= !strcmp(all[k], l->valuestring);
			if (!seen && na < 16)
				all[na++] = l->valuestring;
		}
		nt++;
	}
	char longer[2048] = "";
	for (int k = 0; k < nt; k++) {
		strcat(longer, texts[k]);
		strcat(longer, " ");
	}
	texts[nt] = longer;
	memcpy(labels[nt], all, (size_t)na * sizeof *all);
	nlab[nt++] = na;
	double worst = 0;
	int n_ent = 0;
	for (int k = 0; k < nt; k++) {
		struct extract_params xp = {
		    .labels = labels[k], .n_labels = nlab[k], .threshold = 0.3f};
		size_t len = strlen(texts[k]);
		struct model_item_result r[3] = {{0}};
		for (int th = 0; th < 3; th++)
			CHECKF(model_extract_texts(e[th], &texts[k], &len, 1, &xp, &err, &r[th],
			                           NULL) == SY_OK,
			       "%s", err.msg);
		for (int th = 1; th < 3; th++) {
			CHECKF(r[th].n_entities == r[0].n_entities,
			       "text %d: %d entities on %d threads, %d on one", k, r[th].n_entities,
			       th + 1, r[0].n_entities);
			for (int i = 0; i < r[0].n_entities && i < r[th].n_entities; i++) {
				CHECK_STREQ(r[th].entities[i].label, r[0].entities[i].label);
				CHECK_EQ_INT((int)r[th].entities[i].start,
				             (int)r[0].entities[i].start);
				CHECK_EQ_INT((int)r[th].entities[i].end, (int)r[0].entities[i].end);
				worst = fmax(
				    worst, fabs(r[th].entities[i].score - r[0].entities[i].score));
			}
		}
		n_ent += r[0].n_entities;
		for (int th = 0; th < 3; th++)
			model_item_result_free(&r[th]);
	}
	printf("  gliner-tiny on 1, 2 and 3 threads: %d texts, %d entities, max score diff %.2e\n",
	       nt, n_ent, worst);
	CHECK(n_ent >= 10);
	CHECK(worst <= 1e-5);
	for (int th = 0; th < 3; th++)
		model_close(e[th]);
	cJSON_Delete(doc);
}

/* A base model's tokenizer without the markers: they are taken at class_token_index. */
static void test_base_tokenizer(void)
{
	char dir[] = "/tmp/sy-gliner-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char cmd[512];
	snprintf(cmd, sizeof cmd,
	         "cp " FIXTURE "/gliner_config.json " FIXTURE "/model.safetensors " FIXTURE
	         "/tokenizer_config.json %s/ && grep -v '^<<' " FIXTURE "/vocab.txt > %s/vocab.txt",
	         dir, dir);
	CHECK(system(cmd) == 0);
	struct sy_error err = {0};
	struct model *e = NULL;
	CHECKF(model_open(dir, NULL, &err, &e) == SY_OK, "%s", err.msg);
	const char *text = "Tim Cook is the CEO of Apple.", *labels[] = {"person", "organization"};
	size_t len = strlen(text);
	struct extract_params xp = {.labels = labels, .n_labels = 2, .threshold = 0.85f};
	struct model_item_result r = {0};
	CHECK(e && model_extract_texts(e, &text, &len, 1, &xp, &err, &r, NULL) == SY_OK);
	CHECK_EQ_INT(r.n_entities, 6); /* as with the fixture's own tokenizer (the golden) */
	model_item_result_free(&r);
	model_close(e);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	RUN(test_encoder);
	RUN(test_entities);
	RUN(test_threads);
	RUN(test_base_tokenizer);
	return harness_summary();
}
