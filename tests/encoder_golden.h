/* Tests' check of an encoder architecture against a golden written by an independent reference
 * (tools/reference/encoder_golden.py: each text alone, last hidden states and mean-pooled,
 * normalised sentence embeddings): hidden states within 1e-4, a packed batch equal to the texts
 * one by one, sentence embeddings through the model API at cosine >= 0.99999, int8 linear layers
 * at cosine >= 0.999; and a config.json value the architecture does not implement refused with
 * a message naming its key. */
#ifndef SY_TESTS_ENCODER_GOLDEN_H
#define SY_TESTS_ENCODER_GOLDEN_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "harness.h"
#include "model/arch/encoder.h"
#include "model/desc.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"

struct golden_text {
	const char *text;
	int n; /* tokens */
	int32_t *ids;
	float *hidden; /* [n][H] */
	float *emb; /* [H] */
};

struct golden {
	cJSON *doc;
	int n_texts, hidden;
	struct golden_text *t;
};

static inline void golden_floats(const cJSON *a, float *out)
{
	int i = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, a) out[i++] = (float)v->valuedouble;
}

static inline bool golden_load(const char *path, struct golden *g)
{
	memset(g, 0, sizeof *g);
	char *text;
	size_t len;
	struct sy_error err = {0};
	if (sy_file_read(path, &err, &text, &len) != SY_OK)
		return false;
	g->doc = cJSON_ParseWithLength(text, len);
	free(text);
	const cJSON *texts = cJSON_GetObjectItemCaseSensitive(g->doc, "texts");
	g->hidden = (int)cJSON_GetObjectItemCaseSensitive(g->doc, "hidden_size")->valuedouble;
	g->n_texts = cJSON_GetArraySize(texts);
	g->t = calloc((size_t)g->n_texts, sizeof *g->t);
	for (int i = 0; i < g->n_texts; i++) {
		const cJSON *o = cJSON_GetArrayItem(texts, i);
		struct golden_text *t = &g->t[i];
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "ids");
		t->text = cJSON_GetObjectItemCaseSensitive(o, "text")->valuestring;
		t->n = cJSON_GetArraySize(ids);
		t->ids = malloc(sizeof(int32_t) * (size_t)t->n);
		for (int j = 0; j < t->n; j++)
			t->ids[j] = (int32_t)cJSON_GetArrayItem(ids, j)->valuedouble;
		t->hidden = malloc(sizeof(float) * (size_t)t->n * g->hidden);
		t->emb = malloc(sizeof(float) * (size_t)g->hidden);
		golden_floats(cJSON_GetObjectItemCaseSensitive(o, "hidden"), t->hidden);
		golden_floats(cJSON_GetObjectItemCaseSensitive(o, "embedding"), t->emb);
	}
	return g->n_texts > 0;
}

static inline void golden_free(struct golden *g)
{
	for (int i = 0; i < g->n_texts; i++) {
		free(g->t[i].ids);
		free(g->t[i].hidden);
		free(g->t[i].emb);
	}
	free(g->t);
	cJSON_Delete(g->doc);
}

/* Sentence embeddings of every text through the model API, batched (all) and one by one
 * (one); returns the worst cosine of all against the golden. */
static inline double golden_embed(struct model *e, const struct golden *g, float *all, float *one,
                                  double *worst_one)
{
	struct sy_error err = {0};
	const int n = g->n_texts, H = g->hidden;
	const char **tv = calloc((size_t)n, sizeof *tv);
	size_t *lv = calloc((size_t)n, sizeof *lv);
	for (int i = 0; i < n; i++) {
		tv[i] = g->t[i].text;
		lv[i] = strlen(tv[i]);
	}
	double worst = 2;
	CHECKF(model_encode_texts(e, tv, lv, n, NULL, &err, all, NULL, NULL) == SY_OK, "%s",
	       err.msg);
	*worst_one = 0;
	for (int i = 0; i < n; i++) {
		CHECK(model_encode_texts(e, tv + i, lv + i, 1, NULL, &err, one, NULL, NULL) ==
		      SY_OK);
		for (int k = 0; k < H; k++)
			*worst_one = fmax(*worst_one, fabs(one[k] - all[(size_t)i * H + k]));
		worst = fmin(worst, harness_cosine(all + (size_t)i * H, g->t[i].emb, (size_t)H));
	}
	free(tv);
	free(lv);
	return worst;
}

static inline void golden_check_model(const char *dir, const char *golden_path, const char *arch)
{
	struct golden g;
	CHECKF(golden_load(golden_path, &g), "cannot read %s", golden_path);
	if (!g.n_texts)
		return;
	struct sy_error err = {0};
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct model *e = NULL;
	CHECKF(model_open(dir, &opts, &err, &e) == SY_OK, "%s", err.msg);
	if (!e) {
		golden_free(&g);
		return;
	}
	CHECK_STREQ(e->arch, arch);
	CHECK_EQ_INT(model_dims(e), g.hidden);
	struct encoder *enc = (struct encoder *)dense_encoder(e);
	const int H = g.hidden, n = g.n_texts;

	/* Hidden states: all texts packed in one batch, then each alone. */
	int rows = 0;
	int *lens = malloc(sizeof(int) * (size_t)n);
	for (int i = 0; i < n; i++)
		rows += lens[i] = g.t[i].n;
	int32_t *ids = malloc(sizeof(int32_t) * (size_t)rows);
	for (int i = 0, r = 0; i < n; r += g.t[i].n, i++)
		memcpy(ids + r, g.t[i].ids, sizeof(int32_t) * (size_t)g.t[i].n);
	float *batch = malloc(sizeof(float) * (size_t)rows * H);
	const float *h = NULL;
	struct encoder_input in = {.n_seqs = n, .lens = lens, .ids = ids};
	CHECKF(encoder_forward(enc, &in, &err, &h) == SY_OK, "%s", err.msg);
	double worst = 0, worst_seq = 0;
	if (h) {
		memcpy(batch, h, sizeof(float) * (size_t)rows * H);
		for (int i = 0, r = 0; i < n; r += g.t[i].n, i++) {
			for (size_t k = 0; k < (size_t)g.t[i].n * H; k++)
				worst =
				    fmax(worst, fabs(batch[(size_t)r * H + k] - g.t[i].hidden[k]));
			struct encoder_input one = {.n_seqs = 1, .lens = &lens[i], .ids = ids + r};
			CHECK(encoder_forward(enc, &one, &err, &h) == SY_OK);
			for (size_t k = 0; h && k < (size_t)g.t[i].n * H; k++)
				worst_seq = fmax(worst_seq, fabs(h[k] - batch[(size_t)r * H + k]));
		}
	}
	printf("  %s: %d texts (%d tokens): hidden max abs err %.2e; packed batch vs one by one "
	       "%.2e\n",
	       arch, n, rows, worst, worst_seq);
	CHECKF(worst <= 1e-4, "hidden max abs err %g", worst);
	CHECKF(worst_seq <= 1e-5, "batch vs one by one %g", worst_seq);

	/* Sentence embeddings through the model API, fp32 then int8. */
	float *all = malloc(sizeof(float) * (size_t)n * H), *one = malloc(sizeof(float) * H);
	double worst_one;
	double cos = golden_embed(e, &g, all, one, &worst_one);
	printf("  %s: sentence embeddings min cosine %.8f; batched vs one by one %.2e\n", arch, cos,
	       worst_one);
	CHECKF(cos >= 0.99999, "cosine %.8f", cos);
	CHECKF(worst_one <= 1e-5, "embeddings batched vs one by one %g", worst_one);
	model_close(e);
	opts.precision = LINEAR_INT8;
	CHECKF(model_open(dir, &opts, &err, &e) == SY_OK, "%s", err.msg);
	if (e) {
		cos = golden_embed(e, &g, all, one, &worst_one);
		printf("  %s int8: sentence embeddings min cosine %.6f\n", arch, cos);
		CHECKF(cos >= 0.999, "int8 cosine %.6f", cos);
		model_close(e);
	}
	free(all);
	free(one);
	free(batch);
	free(ids);
	free(lens);
	golden_free(&g);
}

/* Opens dir's encoder with config.json's key set to json_value (in a temporary copy whose
 * weights link to dir's): it must fail with a message that names the key. */
static inline void golden_check_refused(const char *dir, const char *key, const char *json_value)
{
	char tmp[] = "/tmp/sy-enc-XXXXXX", path[512], target[512], cwd[256];
	CHECK(mkdtemp(tmp) != NULL);
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	struct sy_error err = {0};
	char *text;
	size_t len;
	snprintf(path, sizeof path, "%s/config.json", dir);
	CHECK(sy_file_read(path, &err, &text, &len) == SY_OK);
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, key);
	cJSON_AddItemToObject(doc, key, cJSON_Parse(json_value));
	char *out = cJSON_Print(doc);
	snprintf(path, sizeof path, "%s/config.json", tmp);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(out, f);
		fclose(f);
	}
	free(out);
	cJSON_Delete(doc);
	snprintf(target, sizeof target, "%s/%s/model.safetensors", cwd, dir);
	snprintf(path, sizeof path, "%s/model.safetensors", tmp);
	CHECK(symlink(target, path) == 0);
	struct model_desc d;
	struct encoder enc;
	CHECK(model_desc_read(tmp, &err, &d) == SY_OK);
	enum sy_status s = encoder_open(&d, 1, LINEAR_FP32, &err, &enc);
	printf("  %s = %s: %s\n", key, json_value, s == SY_OK ? "accepted" : err.msg);
	CHECKF(s != SY_OK && strstr(err.msg, key), "%s = %s not refused by name", key, json_value);
	if (s == SY_OK)
		encoder_free(&enc);
	model_desc_free(&d);
	unlink(path);
	snprintf(path, sizeof path, "%s/config.json", tmp);
	unlink(path);
	rmdir(tmp);
}

#endif
