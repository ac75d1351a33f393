/* ModernBERT (src/model/arch/modernbert.c) against the independent reference
 * (tools/reference/make_modernbert.py, tests/golden/modernbert-*.json): last hidden states of
 * texts longer than the local window, for a ModernBertModel checkpoint (F32, no prefix, no
 * biases) and a ForMaskedLM one (BF16, under model., every bias, tanh GELU); sentence embeddings
 * through the dense head (registry, tokenizer, mean pooling); batched equals one by one; int8
 * close to fp32; configurations it does not compute refused with the key named. */
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
#include "model/model.h"
#include "model/registry.h"
#include "model_call.h"

#define TINY "tests/fixtures/modernbert-tiny"
#define MLM "tests/fixtures/modernbert-mlm-tiny"

static cJSON *golden(const char *name)
{
	char path[256], *text;
	size_t len;
	struct sy_error err = {0};
	snprintf(path, sizeof path, "tests/golden/%s.json", name);
	if (sy_file_read(path, &err, &text, &len) != SY_OK)
		return NULL;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	return doc;
}

static bool open_encoder(const char *dir, int n_threads, enum linear_precision prec,
                         struct encoder *e, struct sy_error *err)
{
	struct model_desc d;
	if (model_desc_read(dir, err, &d) != SY_OK)
		return false;
	enum sy_status s = encoder_open(&d, n_threads, prec, err, e);
	model_desc_free(&d);
	return s == SY_OK;
}

/* The golden items' ids packed back to back. */
struct packed {
	int n;
	int *lens;
	int32_t *ids;
	int total;
};

static struct packed pack_items(const cJSON *items)
{
	struct packed p = {.n = cJSON_GetArraySize(items)};
	p.lens = calloc((size_t)p.n, sizeof *p.lens);
	for (int i = 0; i < p.n; i++) {
		p.lens[i] = cJSON_GetArraySize(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(items, i), "ids"));
		p.total += p.lens[i];
	}
	p.ids = calloc((size_t)p.total, sizeof *p.ids);
	for (int i = 0, r = 0; i < p.n; i++) {
		const cJSON *ids =
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(items, i), "ids");
		for (int j = 0; j < p.lens[i]; j++)
			p.ids[r++] = (int32_t)cJSON_GetArrayItem(ids, j)->valuedouble;
	}
	return p;
}

static void packed_free(struct packed *p)
{
	free(p->lens);
	free(p->ids);
}

/* Max |hidden - golden| over one item's tokens (hidden: that item's rows). */
static double item_err(const float *hidden, const cJSON *item, int H)
{
	const cJSON *hs = cJSON_GetObjectItemCaseSensitive(item, "last_hidden_state");
	double worst = 0;
	for (int t = 0; t < cJSON_GetArraySize(hs); t++) {
		const cJSON *row = cJSON_GetArrayItem(hs, t);
		for (int h = 0; h < H; h++)
			worst = fmax(worst, fabs(hidden[(size_t)t * H + h] -
			                         cJSON_GetArrayItem(row, h)->valuedouble));
	}
	return worst;
}

/* Hidden states one by one and all packed together, each against the golden; with 1 and 3
 * threads the packed results agree. */
static void check_hidden(const char *name, const char *dir)
{
	cJSON *g = golden(name);
	CHECKF(g != NULL, "golden %s", name);
	if (!g)
		return;
	const int H = (int)cJSON_GetObjectItemCaseSensitive(g, "hidden")->valuedouble;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(g, "items");
	struct packed p = pack_items(items);
	struct sy_error err = {0};
	struct encoder e1, e3;
	CHECKF(open_encoder(dir, 1, LINEAR_FP32, &e1, &err), "%s", err.msg);
	CHECKF(open_encoder(dir, 3, LINEAR_FP32, &e3, &err), "%s", err.msg);
	CHECK_STREQ(e1.arch, "modernbert");
	CHECK_EQ_INT(e1.hidden, H);
	CHECK(!e1.uses_type_ids);
	double worst_single = 0, worst_batch = 0, batch_vs_single = 0, threads = 0;
	float *single = calloc((size_t)p.total * H, sizeof(float));
	for (int i = 0, r = 0; i < p.n; r += p.lens[i], i++) {
		struct encoder_input in = {.n_seqs = 1, .lens = &p.lens[i], .ids = p.ids + r};
		const float *out;
		CHECKF(encoder_forward(&e3, &in, &err, &out) == SY_OK, "%s", err.msg);
		worst_single = fmax(worst_single, item_err(out, cJSON_GetArrayItem(items, i), H));
		memcpy(single + (size_t)r * H, out, sizeof(float) * p.lens[i] * H);
	}
	struct encoder_input in = {.n_seqs = p.n, .lens = p.lens, .ids = p.ids};
	const float *o1, *o3;
	CHECKF(encoder_forward(&e1, &in, &err, &o1) == SY_OK, "%s", err.msg);
	CHECKF(encoder_forward(&e3, &in, &err, &o3) == SY_OK, "%s", err.msg);
	for (int i = 0, r = 0; i < p.n; r += p.lens[i], i++)
		worst_batch = fmax(worst_batch,
		                   item_err(o3 + (size_t)r * H, cJSON_GetArrayItem(items, i), H));
	for (size_t k = 0; k < (size_t)p.total * H; k++) {
		batch_vs_single = fmax(batch_vs_single, fabs(o3[k] - single[k]));
		threads = fmax(threads, fabs(o3[k] - o1[k]));
	}
	printf("  %s: %d texts (%d tokens), max abs err %.2e alone, %.2e packed; packed vs alone "
	       "%.2e, 1 vs 3 threads %.2e\n",
	       name, p.n, p.total, worst_single, worst_batch, batch_vs_single, threads);
	CHECK(worst_single <= 1e-4);
	CHECK(worst_batch <= 1e-4);
	CHECK(batch_vs_single <= 1e-5);
	CHECK(threads <= 1e-5);
	free(single);
	encoder_free(&e1);
	encoder_free(&e3);
	packed_free(&p);
	cJSON_Delete(g);
}

static void test_hidden_f32(void)
{
	check_hidden("modernbert-tiny", TINY);
}

static void test_hidden_bf16_prefixed(void)
{
	check_hidden("modernbert-mlm-tiny", MLM);
}

static double cosine(const float *a, const double *b, int n)
{
	double ab = 0, aa = 0, bb = 0;
	for (int i = 0; i < n; i++) {
		ab += a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += b[i] * b[i];
	}
	return ab / sqrt(aa * bb);
}

/* Sentence embeddings through the registry (tokenizer, encoder, mean pooling), fp32 against the
 * golden and int8 against fp32. */
static void test_sentence_embeddings(void)
{
	cJSON *g = golden("modernbert-tiny");
	if (!g)
		return;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(g, "items");
	const int n = cJSON_GetArraySize(items);
	const int H = (int)cJSON_GetObjectItemCaseSensitive(g, "hidden")->valuedouble;
	struct sy_error err = {0};
	struct model_options opts = model_default_options();
	opts.n_threads = 2;
	struct model *m = NULL, *q = NULL;
	CHECKF(model_open(TINY, &opts, &err, &m) == SY_OK, "%s", err.msg);
	opts.precision = LINEAR_INT8;
	CHECKF(model_open(TINY, &opts, &err, &q) == SY_OK, "%s", err.msg);
	if (!m || !q) {
		cJSON_Delete(g);
		return;
	}
	CHECK_STREQ(m->arch, "modernbert");
	CHECK_EQ_INT(model_dims(m), H);
	const char **tv = calloc((size_t)n, sizeof *tv);
	size_t *lv = calloc((size_t)n, sizeof *lv);
	int *ntok = calloc((size_t)n, sizeof *ntok);
	float *out = calloc((size_t)n * H, sizeof(float)),
	      *out8 = calloc((size_t)n * H, sizeof(float));
	double *want = calloc((size_t)H, sizeof(double));
	for (int i = 0; i < n; i++) {
		tv[i] = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(items, i), "text")
		            ->valuestring;
		lv[i] = strlen(tv[i]);
	}
	CHECKF(model_call(m, MODEL_TASK_ENCODE, tv, lv, NULL, NULL, n, &err, out, NULL, ntok) ==
	           SY_OK,
	       "%s", err.msg);
	CHECKF(model_call(q, MODEL_TASK_ENCODE, tv, lv, NULL, NULL, n, &err, out8, NULL, NULL) ==
	           SY_OK,
	       "%s", err.msg);
	double worst = 1, worst8 = 1;
	for (int i = 0; i < n; i++) {
		const cJSON *item = cJSON_GetArrayItem(items, i);
		CHECK_EQ_INT(ntok[i],
		             cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(item, "ids")));
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(item, "sentence_embedding");
		for (int h = 0; h < H; h++)
			want[h] = cJSON_GetArrayItem(e, h)->valuedouble;
		worst = fmin(worst, cosine(out + (size_t)i * H, want, H));
		for (int h = 0; h < H; h++)
			want[h] = out[(size_t)i * H + h];
		worst8 = fmin(worst8, cosine(out8 + (size_t)i * H, want, H));
	}
	printf("  modernbert-tiny sentence embeddings: min cosine %.8f to the golden, int8 %.6f to "
	       "fp32\n",
	       worst, worst8);
	CHECK(worst >= 0.99999);
	CHECK(worst8 >= 0.999);
	free(tv);
	free(lv);
	free(ntok);
	free(out);
	free(out8);
	free(want);
	model_close(m);
	model_close(q);
	cJSON_Delete(g);
}

/* A copy of modernbert-tiny (weights linked) whose config.json has key set to the JSON value;
 * opening it must fail naming want. */
static void check_refused(const char *key, const char *value, const char *want)
{
	char dir[] = "/tmp/sy-modernbert-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char cwd[2048], src[4096], dst[4096];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	snprintf(src, sizeof src, "%s/%s/model.safetensors", cwd, TINY);
	snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
	CHECK(symlink(src, dst) == 0);
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECK(sy_file_read(TINY "/config.json", &err, &text, &len) == SY_OK);
	cJSON *c = cJSON_ParseWithLength(text, len);
	free(text);
	cJSON_DeleteItemFromObjectCaseSensitive(c, key);
	cJSON_AddItemToObject(c, key, cJSON_Parse(value));
	char *out = cJSON_Print(c);
	snprintf(dst, sizeof dst, "%s/config.json", dir);
	FILE *f = fopen(dst, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(out, f);
		fclose(f);
	}
	free(out);
	cJSON_Delete(c);
	struct encoder e;
	memset(&err, 0, sizeof err);
	CHECK(!open_encoder(dir, 1, LINEAR_FP32, &e, &err));
	CHECKF(strstr(err.msg, want) && strstr(err.msg, "config.json"), "%s=%s: %s", key, value,
	       err.msg);
	snprintf(dst, sizeof dst, "%s/config.json", dir);
	unlink(dst);
	snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
	unlink(dst);
	rmdir(dir);
}

static void test_refused(void)
{
	check_refused("hidden_activation", "\"silu\"", "hidden_activation");
	check_refused("rope_parameters", "{\"full_attention\": {\"rope_type\": \"yarn\"}}",
	              "rope_parameters.full_attention.rope_type");
	check_refused("rope_scaling", "{\"type\": \"linear\", \"factor\": 2}", "rope_scaling");
	check_refused("layer_types",
	              "[\"full_attention\", \"full_attention\", \"full_attention\", "
	              "\"full_attention\"]",
	              "layer_types");
	check_refused("classifier_pooling", "\"max\"", "classifier_pooling");
	check_refused("hidden_size", "63", "num_attention_heads");
	check_refused("num_hidden_layers", "0", "num_hidden_layers");
}

/* The newer config spelling (layer_types, rope_parameters with the thetas) gives the same
 * model: here rope_parameters swaps in other thetas, which must change the output. */
static void test_new_config_keys(void)
{
	struct sy_error err = {0};
	struct model_desc d;
	CHECK(model_desc_read(TINY, &err, &d) == SY_OK);
	struct encoder a, b, c;
	CHECK(encoder_open(&d, 1, LINEAR_FP32, &err, &a) == SY_OK);
	cJSON_AddItemToObject(d.config, "layer_types",
	                      cJSON_Parse("[\"full_attention\", \"sliding_attention\", "
	                                  "\"full_attention\", \"sliding_attention\"]"));
	cJSON_AddItemToObject(
	    d.config, "rope_parameters",
	    cJSON_Parse("{\"full_attention\": {\"rope_type\": \"default\", "
	                "\"rope_theta\": 160000.0}, \"sliding_attention\": "
	                "{\"rope_type\": \"default\", \"rope_theta\": 10000.0}}"));
	CHECKF(encoder_open(&d, 1, LINEAR_FP32, &err, &b) == SY_OK, "%s", err.msg);
	cJSON_ReplaceItemInObject(d.config, "rope_parameters",
	                          cJSON_Parse("{\"sliding_attention\": {\"rope_theta\": 500.0}}"));
	CHECKF(encoder_open(&d, 1, LINEAR_FP32, &err, &c) == SY_OK, "%s", err.msg);
	model_desc_free(&d);
	int len = 40;
	int32_t ids[40];
	for (int i = 0; i < len; i++)
		ids[i] = 1000 + 37 * i;
	struct encoder_input in = {.n_seqs = 1, .lens = &len, .ids = ids};
	const float *oa, *ob, *oc;
	float *keep = malloc(sizeof(float) * 40 * 64);
	CHECK(encoder_forward(&a, &in, &err, &oa) == SY_OK);
	memcpy(keep, oa, sizeof(float) * 40 * 64);
	CHECK(encoder_forward(&b, &in, &err, &ob) == SY_OK);
	CHECK(memcmp(keep, ob, sizeof(float) * 40 * 64) == 0);
	CHECK(encoder_forward(&c, &in, &err, &oc) == SY_OK);
	CHECK(memcmp(keep, oc, sizeof(float) * 40 * 64) != 0);
	free(keep);
	encoder_free(&a);
	encoder_free(&b);
	encoder_free(&c);
}

int main(void)
{
	RUN(test_hidden_f32);
	RUN(test_hidden_bf16_prefixed);
	RUN(test_sentence_embeddings);
	RUN(test_refused);
	RUN(test_new_config_keys);
	return harness_summary();
}
