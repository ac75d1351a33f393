/* Encoder architectures beyond the BERT family against their independent references (goldens
 * of the form {texts, models: {name: {ids, hidden, embeddings, ...}}}):
 *   - EmbeddingGemma (decoder.c's Gemma3: tools/reference/make_gemma3.py, golden
 *     tests/golden/embeddinggemma-tiny.json: bidirectional, sliding and full layers, sandwich
 *     norms, two Dense layers after pooling, query / document prompts);
 *   - Qwen3-Reranker (src/model/heads/lm_reranker.c over the decoder; golden
 *     tests/golden/qwen3-rerank-tiny.json: scores from the yes/no logits) and mxbai-rerank-v2
 *     (tests/golden/mxbai-rerank-v2-tiny.json: Qwen2 with biases, "1"/"0" logits, its cuts);
 *   - the decoder used as an encoder (src/model/arch/decoder.c: Qwen3-Embedding;
 *     tools/reference/make_qwen3.py, tests/golden/qwen3-emb-tiny.json: BF16, grouped-query
 *     causal attention, q/k norms, last-token pooling, the query instruction prompt);
 *   - the rotary gated-MLP encoders (src/model/arch/rope_glu.c): NomicBERT (nomic_bert.c; tools/reference/make_nomic_bert.py, golden
 * tests/golden/nomic-tiny.json: F32 swiglu without biases; F16 geglu with biases and
 * interleaved rotary on half of each head; the search_query / search_document prefixes) and
 * NewModel (new_model.c: GTE v1.5, stella_en_400M_v5; tools/reference/make_new_model.py,
 * tests/golden/new-tiny.json):
 *   - last hidden states of every text, one at a time and packed in one batch, within 1e-4
 *     (F32 with NTK-scaled rotary and qkv_proj; BF16 with q/k/v_proj and plain rotary);
 *   - sentence embeddings through the dense head (mean pooling + stella's 2_Dense_64 read from
 *     pytorch_model.bin; CLS + Normalize), cosine >= 0.99999;
 *   - stella's prompts: a query gets s2p_query, an instruction naming s2s_query gets that prompt;
 *     the other Dense head (2_Dense_16) by the dense_dims option, and a missing one refused;
 *   - int8 linear layers within cosine 0.99 of fp32 on this fixture: its random weights saturate
 *     attention, and the quantisation scheme of tensor/qgemm.h simulated in the PyTorch
 *     reference gives 0.989 on the 3-token text, so this is the scheme's error, not the
 *     kernel's (no real NewModel checkpoint is available offline to measure);
 *   - config values it does not implement refused naming their key. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../include/switchyard.h"
#include "base/file.h"
#include "harness.h"
#include "model_call.h"
#include "model/arch/encoder.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"

#define F32 "tests/fixtures/new-tiny"
#define BF16 "tests/fixtures/new-bf16-tiny"
#define NOMIC "tests/fixtures/nomic-tiny"
#define NOMIC_F16 "tests/fixtures/nomic-f16-tiny"
#define QWEN3 "tests/fixtures/qwen3-emb-tiny"
#define QWEN3_RERANK "tests/fixtures/qwen3-rerank-tiny"
#define MXBAI_RERANK "tests/fixtures/mxbai-rerank-v2-tiny"
#define GEMMA "tests/fixtures/embeddinggemma-tiny"

static cJSON *golden; /* the golden file of the test running */
static cJSON *golden_new, *golden_nomic, *golden_qwen3, *golden_gemma;

static const cJSON *model_golden(const char *name)
{
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(golden, "models");
	return cJSON_GetObjectItemCaseSensitive(models, name);
}

static int n_texts(void)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(golden, "texts"));
}

static const char *text(int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(golden, "texts"), i)
	    ->valuestring;
}

static const cJSON *row(const cJSON *g, const char *key, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g, key), i);
}

static double cosine_vs(const float *v, const cJSON *want, int n)
{
	double dot = 0, a = 0, b = 0;
	for (int k = 0; k < n; k++) {
		const double w = cJSON_GetArrayItem(want, k)->valuedouble;
		dot += v[k] * w;
		a += (double)v[k] * v[k];
		b += w * w;
	}
	return dot / sqrt(a * b);
}

static struct model *open_model(const char *dir, enum linear_precision prec, int dense_dims)
{
	struct model_options o = model_default_options();
	o.n_threads = 2;
	o.precision = prec;
	o.dense_dims = dense_dims;
	struct model *m = NULL;
	struct sy_error err = {0};
	CHECKF(model_open(dir, &o, &err, &m) == SY_OK, "%s: %s", dir, err.msg);
	return m;
}

/* The encoder's last hidden states on the golden token ids, each text alone and all packed. */
static void check_hidden(const char *dir, const char *name, const char *arch)
{
	struct model *m = open_model(dir, LINEAR_FP32, 0);
	if (!m)
		return;
	CHECK_STREQ(m->arch, arch);
	struct encoder *enc = (struct encoder *)dense_encoder(m);
	const cJSON *g = model_golden(name);
	const int n = n_texts(), H = enc->hidden;
	int32_t ids[1024];
	int lens[16], total = 0;
	for (int i = 0; i < n; i++) {
		const cJSON *r = row(g, "ids", i);
		lens[i] = cJSON_GetArraySize(r);
		for (int k = 0; k < lens[i]; k++)
			ids[total + k] = (int32_t)cJSON_GetArrayItem(r, k)->valueint;
		total += lens[i];
	}
	struct sy_error err = {0};
	double worst = 0, worst_batch = 0;
	float *alone = malloc((size_t)total * H * sizeof *alone);
	for (int i = 0, at = 0; i < n; at += lens[i], i++) {
		const float *h;
		struct encoder_input in = {.n_seqs = 1, .lens = &lens[i], .ids = ids + at};
		CHECKF(encoder_forward(enc, &in, &err, &h) == SY_OK, "%s", err.msg);
		memcpy(alone + (size_t)at * H, h, (size_t)lens[i] * H * sizeof *h);
		const cJSON *want = row(g, "hidden", i);
		CHECK_EQ_INT(cJSON_GetArraySize(want), lens[i] * H);
		for (int k = 0; k < lens[i] * H; k++)
			worst = fmax(worst, fabs(h[k] - cJSON_GetArrayItem(want, k)->valuedouble));
	}
	const float *h;
	struct encoder_input in = {.n_seqs = n, .lens = lens, .ids = ids};
	CHECKF(encoder_forward(enc, &in, &err, &h) == SY_OK, "%s", err.msg);
	for (int k = 0; k < total * H; k++)
		worst_batch = fmax(worst_batch, fabs(h[k] - alone[k]));
	CHECKF(worst < 1e-4, "%s: hidden states differ by %g", name, worst);
	CHECKF(worst_batch < 1e-5, "%s: batched differs from one by one by %g", name, worst_batch);
	printf("  %s: hidden states within %.2g of the reference; batched vs alone %.2g\n", name,
	       worst, worst_batch);
	free(alone);
	model_close(m);
}

static void test_hidden_f32_ntk(void)
{
	golden = golden_new;
	check_hidden(F32, "new-tiny", "new");
}

static void test_hidden_bf16_split_qkv(void)
{
	golden = golden_new;
	check_hidden(BF16, "new-bf16-tiny", "new");
}

/* Sentence embeddings of every text (with tmpl's options) against the golden key. */
static double embeddings_vs(struct model *m, const char *name, const char *key,
                            const struct model_input *tmpl)
{
	const cJSON *g = model_golden(name);
	const int n = n_texts(), dims = model_dims(m);
	const char *tv[16];
	size_t lv[16];
	for (int i = 0; i < n; i++) {
		tv[i] = text(i);
		lv[i] = strlen(tv[i]);
	}
	float *out = malloc((size_t)n * dims * sizeof *out);
	struct sy_error err = {0};
	double worst = 1;
	CHECKF(model_encode_texts(m, tv, lv, n, tmpl, &err, out, NULL, NULL) == SY_OK, "%s",
	       err.msg);
	for (int i = 0; i < n; i++) {
		CHECK_EQ_INT(cJSON_GetArraySize(row(g, key, i)), dims);
		worst = fmin(worst, cosine_vs(out + (size_t)i * dims, row(g, key, i), dims));
	}
	free(out);
	return worst;
}

static void test_embeddings(void)
{
	struct model *m = open_model(F32, LINEAR_FP32, 0);
	if (!m)
		return;
	CHECK_EQ_INT(model_dims(m), 64); /* 2_Dense_64, as modules.json names it */
	double c = embeddings_vs(m, "new-tiny", "embeddings", NULL);
	CHECKF(c >= 0.99999, "cosine %.7f", c);
	/* stella's retrieval prompt, joined before the text as sentence-transformers does */
	const char *s2p = model_prompt(m, "s2p_query");
	CHECK(s2p != NULL);
	struct model_input q = {
	    .prefix = s2p, .prefix_len = s2p ? strlen(s2p) : 0, .truncate = true, .normalize = -1};
	double cq = embeddings_vs(m, "new-tiny", "s2p_embeddings", &q);
	CHECKF(cq >= 0.99999, "s2p cosine %.7f", cq);
	model_close(m);
	printf("  new-tiny: embeddings cosine %.7f, with s2p_query %.7f\n", c, cq);

	m = open_model(BF16, LINEAR_FP32, 0);
	if (m) {
		c = embeddings_vs(m, "new-bf16-tiny", "embeddings", NULL);
		CHECKF(c >= 0.99999, "bf16 cosine %.7f", c);
		model_close(m);
	}
}

static void test_dense_dims_option(void)
{
	struct model *m = open_model(F32, LINEAR_FP32, 16);
	if (m) {
		CHECK_EQ_INT(model_dims(m), 16);
		double c = embeddings_vs(m, "new-tiny", "embeddings_dense16", NULL);
		CHECKF(c >= 0.99999, "2_Dense_16 cosine %.7f", c);
		model_close(m);
	}
	struct model_options o = model_default_options();
	o.dense_dims = 17;
	struct sy_error err = {0};
	CHECK_EQ_INT(model_open(F32, &o, &err, &m), SY_ERR_NOT_FOUND);
	CHECKF(strstr(err.msg, "dense_dims") && strstr(err.msg, "2_Dense_17"), "%s", err.msg);
	o.dense_dims = 16; /* a model without N-named heads */
	CHECK_EQ_INT(model_open(BF16, &o, &err, &m), SY_ERR_UNSUPPORTED);
	CHECKF(strstr(err.msg, "dense_dims") != NULL, "%s", err.msg);
}

/* Through the engine: is_query picks s2p_query (stella has no "query" prompt), and an
 * instruction that names one of the model's prompts is that prompt. */
static void test_prompts_through_the_engine(void)
{
	sy_engine_params ep = sy_engine_default_params();
	ep.n_threads = 2;
	sy_engine *e = NULL;
	CHECK_EQ_INT(sy_engine_open(&ep, &e), 0);
	if (!e)
		return;
	CHECK_EQ_INT(sy_model_add(e, "stella", F32), 0);
	const char *t[] = {text(4)};
	sy_encode_params p = sy_encode_default_params();
	p.is_query = 1;
	sy_result *r = NULL;
	CHECK_EQ_INT(sy_encode(e, "stella", t, 1, &p, &r), 0);
	size_t dims = 0;
	const float *v = r ? sy_result_dense(r, 0, &dims) : NULL;
	CHECK_EQ_INT((int)dims, 64);
	if (v) {
		double c = cosine_vs(v, row(model_golden("new-tiny"), "s2p_embeddings", 4), 64);
		CHECKF(c >= 0.99999, "is_query cosine %.7f", c);
	}
	sy_result_free(r);
	/* "s2s_query" as the instruction == the s2s prompt's text as the instruction */
	const char *s2s = cJSON_GetObjectItemCaseSensitive(
	                      cJSON_GetObjectItemCaseSensitive(golden, "prompts"), "s2s_query")
	                      ->valuestring;
	sy_result *a = NULL, *b = NULL;
	p.is_query = 0;
	p.instruction = "s2s_query";
	CHECK_EQ_INT(sy_encode(e, "stella", t, 1, &p, &a), 0);
	p.instruction = s2s;
	CHECK_EQ_INT(sy_encode(e, "stella", t, 1, &p, &b), 0);
	size_t da = 0, db = 0;
	const float *va = a ? sy_result_dense(a, 0, &da) : NULL;
	const float *vb = b ? sy_result_dense(b, 0, &db) : NULL;
	CHECK(va && vb && da == db && !memcmp(va, vb, da * sizeof *va));
	sy_result_free(a);
	sy_result_free(b);
	sy_engine_close(e);
}

/* The worst cosine over the golden texts between dir's embeddings with int8 linear layers and
 * with fp32 ones (the int8 model must also hold fewer bytes). */
static double int8_worst_cosine(const char *dir)
{
	struct model *f = open_model(dir, LINEAR_FP32, 0);
	struct model *q = open_model(dir, LINEAR_INT8, 0);
	double worst = 1;
	if (!f || !q) {
		model_close(f);
		model_close(q);
		return 0;
	}
	const int n = n_texts(), dims = model_dims(f);
	const char *tv[16];
	size_t lv[16];
	for (int i = 0; i < n; i++) {
		tv[i] = text(i);
		lv[i] = strlen(tv[i]);
	}
	float *a = malloc((size_t)n * dims * sizeof *a), *b = malloc((size_t)n * dims * sizeof *b);
	struct sy_error err = {0};
	CHECK_EQ_INT(model_encode_texts(f, tv, lv, n, NULL, &err, a, NULL, NULL), SY_OK);
	CHECK_EQ_INT(model_encode_texts(q, tv, lv, n, NULL, &err, b, NULL, NULL), SY_OK);
	for (int i = 0; i < n; i++) {
		double dot = 0, na = 0, nb = 0;
		for (int k = 0; k < dims; k++) {
			dot += (double)a[i * dims + k] * b[i * dims + k];
			na += (double)a[i * dims + k] * a[i * dims + k];
			nb += (double)b[i * dims + k] * b[i * dims + k];
		}
		worst = fmin(worst, dot / sqrt(na * nb));
	}
	CHECK(model_bytes(q) < model_bytes(f));
	free(a);
	free(b);
	model_close(f);
	model_close(q);
	return worst;
}

static void test_int8(void)
{
	const double worst = int8_worst_cosine(F32);
	CHECKF(worst >= 0.99, "int8 cosine %.5f", worst);
	printf("  int8 vs fp32: worst cosine %.5f\n", worst);
}

/* A copy of the F32 fixture with one config.json key replaced (value as JSON text). */
static void expect_refused(const char *fixture, const char *key, const char *value, const char *why)
{
	char dir[] = "/tmp/sy-new-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *cfg_text;
	size_t len;
	struct sy_error err = {0};
	char cfg_path[256];
	snprintf(cfg_path, sizeof cfg_path, "%s/config.json", fixture);
	CHECK_EQ_INT(sy_file_read(cfg_path, &err, &cfg_text, &len), SY_OK);
	cJSON *cfg = cJSON_ParseWithLength(cfg_text, len);
	free(cfg_text);
	cJSON_ReplaceItemInObjectCaseSensitive(cfg, key, cJSON_Parse(value));
	char *out = cJSON_Print(cfg);
	cJSON_Delete(cfg);
	char path[256], target[512], cwd[256];
	snprintf(path, sizeof path, "%s/config.json", dir);
	FILE *fp = fopen(path, "w");
	fputs(out, fp);
	fclose(fp);
	free(out);
	static const char *const links[] = {"model.safetensors", "tokenizer.json", "vocab.txt",
	                                    "tokenizer_config.json", "special_tokens_map.json"};
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, links[i]);
		snprintf(target, sizeof target, "%s/%s/%s", cwd, fixture, links[i]);
		CHECK(symlink(target, path) == 0);
	}
	struct model *m = NULL;
	struct model_options o = model_default_options();
	enum sy_status s = model_open(dir, &o, &err, &m);
	CHECKF(s == SY_ERR_UNSUPPORTED && strstr(err.msg, why), "%s=%s: status %d: %s", key, value,
	       (int)s, err.msg);
	model_close(m);
	for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, links[i]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/config.json", dir);
	unlink(path);
	rmdir(dir);
}

static void test_refused_config(void)
{
	expect_refused(F32, "rope_scaling", "{\"type\": \"yarn\", \"factor\": 4.0}",
	               "rope_scaling.type");
	expect_refused(F32, "logn_attention_scale", "true", "logn_attention_scale");
	expect_refused(F32, "layer_norm_type", "\"rms_norm\"", "layer_norm_type");
	expect_refused(F32, "hidden_act", "\"silu\"", "hidden_act");
	expect_refused(F32, "position_embedding_type", "\"alibi\"", "position_embedding_type");
}

/* Through the engine (the public library): texts (golden indexes idx[0..1]) encoded as documents
 * and as queries match the golden's doc_key and query_key rows, so the model's prompts are
 * applied as the engine chooses them. */
static void engine_prompts_match(const char *dir, const char *name, const char *doc_key,
                                 const char *query_key, const int idx[2])
{
	sy_engine_params ep = sy_engine_default_params();
	ep.n_threads = 2;
	sy_engine *e = NULL;
	CHECK_EQ_INT(sy_engine_open(&ep, &e), 0);
	if (!e)
		return;
	CHECK_EQ_INT(sy_model_add(e, "m", dir), 0);
	const char *t[] = {text(idx[0]), text(idx[1])};
	sy_encode_params p = sy_encode_default_params();
	for (int query = 0; query <= 1; query++) {
		p.is_query = query;
		sy_result *r = NULL;
		CHECK_EQ_INT(sy_encode(e, "m", t, 2, &p, &r), 0);
		for (int i = 0; r && i < 2; i++) {
			size_t dims = 0;
			const float *v = sy_result_dense(r, (size_t)i, &dims);
			const cJSON *want =
			    row(model_golden(name), query ? query_key : doc_key, idx[i]);
			CHECKF(v && cosine_vs(v, want, (int)dims) >= 0.99999,
			       "%s, query=%d item %d", name, query, i);
		}
		sy_result_free(r);
	}
	sy_engine_close(e);
}

static void test_nomic_hidden(void)
{
	golden = golden_nomic;
	check_hidden(NOMIC, "nomic-tiny", "nomic_bert");
	check_hidden(NOMIC_F16, "nomic-f16-tiny", "nomic_bert");
}

/* Sentence embeddings with nomic's prefixes: documents get "search_document: ", queries
 * "search_query: " (the model card's; the fixture has no prompts file), an empty instruction
 * none; the F16 fixture's CLS states as they are. */
static void test_nomic_embeddings(void)
{
	golden = golden_nomic;
	struct model *m = open_model(NOMIC, LINEAR_FP32, 0);
	if (!m)
		return;
	const char *doc = model_prompt(m, "search_document"), *q = model_prompt(m, "search_query");
	CHECK(doc && !strcmp(doc, "search_document: ") && q && !strcmp(q, "search_query: "));
	struct model_input in = {
	    .prefix = doc, .prefix_len = doc ? strlen(doc) : 0, .truncate = true, .normalize = -1};
	double c = embeddings_vs(m, "nomic-tiny", "search_document", &in);
	CHECKF(c >= 0.99999, "search_document cosine %.7f", c);
	in.prefix = q;
	in.prefix_len = q ? strlen(q) : 0;
	c = embeddings_vs(m, "nomic-tiny", "search_query", &in);
	CHECKF(c >= 0.99999, "search_query cosine %.7f", c);
	c = embeddings_vs(m, "nomic-tiny", "embeddings", NULL);
	CHECKF(c >= 0.99999, "no prefix cosine %.7f", c);
	model_close(m);
	m = open_model(NOMIC_F16, LINEAR_FP32, 0);
	if (m) {
		c = embeddings_vs(m, "nomic-f16-tiny", "embeddings", NULL);
		CHECKF(c >= 0.99999, "f16 cosine %.7f", c);
		model_close(m);
	}
	/* Through the engine, is_query picks the query prefix and a plain encode the document
	 * one. */
	golden = golden_nomic;
	engine_prompts_match(NOMIC, "nomic-tiny", "search_document", "search_query",
	                     (const int[2]){2, 0});
}

static void test_nomic_refused(void)
{
	expect_refused(NOMIC, "prenorm", "true", "prenorm");
	expect_refused(NOMIC, "rotary_scaling_factor", "2.0", "rotary_scaling_factor");
	expect_refused(NOMIC, "activation_function", "\"gelu\"", "activation_function");
	expect_refused(NOMIC, "causal", "true", "causal");
}

/* Qwen3-Embedding: every token's state (causal: a prefix's states do not depend on what
 * follows, checked by the reference), the last token's normalised state per text, the query
 * instruction through the engine's is_query, int8, and what is refused. */
static void test_qwen3_embedding(void)
{
	golden = golden_qwen3;
	check_hidden(QWEN3, "qwen3-emb-tiny", "qwen3");
	struct model *m = open_model(QWEN3, LINEAR_FP32, 0);
	if (!m)
		return;
	double c = embeddings_vs(m, "qwen3-emb-tiny", "embeddings", NULL);
	CHECKF(c >= 0.99999, "embeddings cosine %.7f", c);
	const char *qp = model_prompt(m, "query");
	struct model_input q = {
	    .prefix = qp, .prefix_len = qp ? strlen(qp) : 0, .truncate = true, .normalize = -1};
	c = embeddings_vs(m, "qwen3-emb-tiny", "query_embeddings", &q);
	CHECKF(c >= 0.99999, "query cosine %.7f", c);
	model_close(m);
	engine_prompts_match(QWEN3, "qwen3-emb-tiny", "embeddings", "query_embeddings",
	                     (const int[2]){3, 0});
	expect_refused(QWEN3, "rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}",
	               "rope_scaling");
	expect_refused(QWEN3, "use_sliding_window", "true", "use_sliding_window");
	expect_refused(QWEN3, "hidden_act", "\"gelu\"", "hidden_act");
}

static void test_qwen3_int8(void)
{
	golden = golden_qwen3;
	const double worst = int8_worst_cosine(QWEN3);
	printf("  qwen3 int8 vs fp32: worst cosine %.5f\n", worst);
	CHECKF(worst >= 0.99, "qwen3 int8 cosine %.5f", worst);
}

/* An LLM reranker against its golden: the family's prompt around each (query, document), the
 * answer logits at the last position, scores within 1e-4 of the reference (pairs cut to the
 * model's positions, one with its own instruction), the token counts, batched == one by one,
 * and the same through the engine. */
static void check_lm_reranker(const char *dir, const char *golden_path)
{
	CHECK(is_family(dir, "lm-reranker"));
	char *text_g;
	size_t len;
	struct sy_error err = {0};
	CHECK_EQ_INT(sy_file_read(golden_path, &err, &text_g, &len), SY_OK);
	cJSON *g = cJSON_ParseWithLength(text_g, len);
	free(text_g);
	const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(g, "pairs");
	const cJSON *want = cJSON_GetObjectItemCaseSensitive(g, "scores");
	const int n = cJSON_GetArraySize(pairs);
	struct model *m = open_model(dir, LINEAR_FP32, 0);
	if (!m) {
		cJSON_Delete(g);
		return;
	}
	struct model_input ins[8];
	for (int i = 0; i < n; i++) {
		const cJSON *pr = cJSON_GetArrayItem(pairs, i);
		const char *q = cJSON_GetObjectItemCaseSensitive(pr, "query")->valuestring;
		const char *d = cJSON_GetObjectItemCaseSensitive(pr, "document")->valuestring;
		const cJSON *instr = cJSON_GetObjectItemCaseSensitive(pr, "instruction");
		ins[i] = (struct model_input){
		    .text = d,
		    .len = strlen(d),
		    .query = q,
		    .query_len = strlen(q),
		    .prefix = cJSON_IsString(instr) ? instr->valuestring : NULL,
		    .prefix_len = cJSON_IsString(instr) ? strlen(instr->valuestring) : 0,
		    .truncate = true,
		    .normalize = -1};
	}
	float batched[8], alone[8];
	int n_tokens[8];
	CHECK_EQ_INT(model_run_inputs(m, MODEL_TASK_SCORE, ins, n, &err, batched, NULL, n_tokens),
	             SY_OK);
	double worst = 0;
	for (int i = 0; i < n; i++) {
		CHECK_EQ_INT(
		    model_run_inputs(m, MODEL_TASK_SCORE, &ins[i], 1, &err, &alone[i], NULL, NULL),
		    SY_OK);
		CHECK(alone[i] == batched[i]);
		CHECK_EQ_INT(n_tokens[i], cJSON_GetArraySize(cJSON_GetArrayItem(
		                              cJSON_GetObjectItemCaseSensitive(g, "ids"), i)));
		worst = fmax(worst, fabs(batched[i] - cJSON_GetArrayItem(want, i)->valuedouble));
	}
	CHECKF(worst < 1e-4, "%s: reranker scores differ by %g", dir, worst);
	printf("  %s: scores within %.2g of the reference\n", dir, worst);
	/* a document past the limit with truncate off is refused before any work */
	ins[2].truncate = false;
	CHECK_EQ_INT(model_run_inputs(m, MODEL_TASK_SCORE, &ins[2], 1, &err, alone, NULL, NULL),
	             SY_ERR_LIMIT);
	model_close(m);
	sy_engine_params ep = sy_engine_default_params();
	ep.n_threads = 2;
	sy_engine *e = NULL;
	CHECK_EQ_INT(sy_engine_open(&ep, &e), 0);
	if (e) {
		CHECK_EQ_INT(sy_model_add(e, "rr", dir), 0);
		const cJSON *p0 = cJSON_GetArrayItem(pairs, 0), *p1 = cJSON_GetArrayItem(pairs, 1);
		const char *docs[] = {
		    cJSON_GetObjectItemCaseSensitive(p0, "document")->valuestring,
		    cJSON_GetObjectItemCaseSensitive(p1, "document")->valuestring};
		sy_result *r = NULL;
		CHECK_EQ_INT(sy_score(e, "rr",
		                      cJSON_GetObjectItemCaseSensitive(p0, "query")->valuestring,
		                      docs, 2, &r),
		             0);
		for (int i = 0; r && i < 2; i++)
			CHECK(fabs(sy_result_score(r, (size_t)i) -
			           cJSON_GetArrayItem(want, i)->valuedouble) < 1e-4);
		sy_result_free(r);
		sy_engine_close(e);
	}
	cJSON_Delete(g);
}

/* Qwen3-Reranker: the card's prompt, "yes" / "no"; the embedding model beside it stays dense. */
static void test_qwen3_reranker(void)
{
	CHECK(is_family(QWEN3, "dense"));
	check_lm_reranker(QWEN3_RERANK, "tests/golden/qwen3-rerank-tiny.json");
}

/* mxbai-rerank-v2 (Qwen2 with biases, tied head, BF16): mixedbread's prompt, "1" / "0", the
 * query cut to 3/4 of max_length and the document to the rest. */
static void test_mxbai_reranker(void)
{
	check_lm_reranker(MXBAI_RERANK, "tests/golden/mxbai-rerank-v2-tiny.json");
}

/* EmbeddingGemma: hidden states (sliding layers with a window narrower than the texts, full
 * layers), the sentence embedding through two Dense layers, and its query / document prompts
 * through the engine; causal Gemma3 and soft-capping refused. */
static void test_embeddinggemma(void)
{
	golden = golden_gemma;
	check_hidden(GEMMA, "embeddinggemma-tiny", "gemma3");
	struct model *m = open_model(GEMMA, LINEAR_FP32, 0);
	if (!m)
		return;
	double c = embeddings_vs(m, "embeddinggemma-tiny", "embeddings", NULL);
	CHECKF(c >= 0.99999, "embeddings cosine %.7f", c);
	model_close(m);
	engine_prompts_match(GEMMA, "embeddinggemma-tiny", "document_embeddings",
	                     "query_embeddings", (const int[2]){3, 1});
	expect_refused(GEMMA, "use_bidirectional_attention", "false",
	               "use_bidirectional_attention");
	expect_refused(GEMMA, "attn_logit_softcapping", "50.0", "attn_logit_softcapping");
	expect_refused(GEMMA, "hidden_activation", "\"silu\"", "hidden_activation");
}

static cJSON *load_golden(const char *path)
{
	char *g;
	size_t len;
	struct sy_error err = {0};
	if (sy_file_read(path, &err, &g, &len) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	cJSON *doc = cJSON_ParseWithLength(g, len);
	free(g);
	return doc;
}

/* The NewModel tests read golden_new; each sets it first. */
#define NEW(fn)                      \
	static void new_##fn(void)   \
	{                            \
		golden = golden_new; \
		fn();                \
	}
NEW(test_embeddings)
NEW(test_dense_dims_option)
NEW(test_prompts_through_the_engine)
NEW(test_int8)
NEW(test_refused_config)

int main(void)
{
	golden_new = load_golden("tests/golden/new-tiny.json");
	golden_nomic = load_golden("tests/golden/nomic-tiny.json");
	golden_qwen3 = load_golden("tests/golden/qwen3-emb-tiny.json");
	golden_gemma = load_golden("tests/golden/embeddinggemma-tiny.json");
	RUN(test_hidden_f32_ntk);
	RUN(test_hidden_bf16_split_qkv);
	RUN(new_test_embeddings);
	RUN(new_test_dense_dims_option);
	RUN(new_test_prompts_through_the_engine);
	RUN(new_test_int8);
	RUN(new_test_refused_config);
	RUN(test_nomic_hidden);
	RUN(test_nomic_embeddings);
	RUN(test_nomic_refused);
	RUN(test_qwen3_embedding);
	RUN(test_qwen3_int8);
	RUN(test_qwen3_reranker);
	RUN(test_mxbai_reranker);
	RUN(test_embeddinggemma);
	cJSON_Delete(golden_new);
	cJSON_Delete(golden_nomic);
	cJSON_Delete(golden_qwen3);
	cJSON_Delete(golden_gemma);
	return harness_summary();
}
