/* Tests for Universal Sentence Encoder lite: the TF.js weights reader (a synthetic model with
 * every storage type, and broken variants of it), the USE tokenizer (ids worked out from the
 * reference algorithm, on the real vocabulary and on tiny ones that exercise its tie and
 * unknown-character rules), and the model itself: parity with the TF.js reference outputs
 * (../shared/testdata/use-lite/reference.jsonl), batch-versus-single equality, the token limit,
 * options and the built-in id. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/file.h"
#include "harness.h"
#include "model/families.h"
#include "model/model.h"
#include "model/registry.h"
#include "model/formats/tfjs.h"
#include "model/arch/use_lite.h"
#include "text/use_tokenizer.h"

/* ---- helpers ---- */

static char tmp_root[256];

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (len)
		fwrite(data, 1, len, f);
	fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

/* Returns a malloc'd copy of s with the first occurrence of from replaced by to. */
static char *replace_once(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	if (!p) {
		fprintf(stderr, "test bug: '%s' not in the template\n", from);
		exit(2);
	}
	size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to), sl = strlen(s);
	char *r = malloc(sl - fl + tl + 1);
	memcpy(r, s, a);
	memcpy(r + a, to, tl);
	memcpy(r + a + tl, p + fl, sl - a - fl + 1);
	return r;
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

/* ---- TF.js weights reader ---- */

/* Group 0 (shards s1 = 30 bytes, s2 = 16 bytes; tensor "i" straddles them):
 *   f   float32 [2,3]  1..6                          24 bytes
 *   i   int32   [2]    7, -8                          8
 *   q8  float32 [4]    uint8 q*0.5-1: 0,1,2,255       4
 *   h   float32 [2]    float16 1.0, -2.0              4
 *   q16 int32   [3]    uint16 q*0.25+1: 0,2,5         6
 * Group 1 (shard s3 = 13 bytes): b bool [3] 1,0,1; str string [2] "hi", "". */
static const char *manifest_template =
    "{\"format\":\"graph-model\",\"weightsManifest\":["
    "{\"paths\":[\"s1\",\"s2\"],\"weights\":["
    "{\"name\":\"f\",\"shape\":[2,3],\"dtype\":\"float32\"},"
    "{\"name\":\"i\",\"shape\":[2],\"dtype\":\"int32\"},"
    "{\"name\":\"q8\",\"shape\":[4],\"dtype\":\"float32\","
    "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.5,\"min\":-1}},"
    "{\"name\":\"h\",\"shape\":[2],\"dtype\":\"float32\","
    "\"quantization\":{\"dtype\":\"float16\",\"original_dtype\":\"float32\"}},"
    "{\"name\":\"q16\",\"shape\":[3],\"dtype\":\"int32\","
    "\"quantization\":{\"dtype\":\"uint16\",\"scale\":0.25,\"min\":1}}]},"
    "{\"paths\":[\"s3\"],\"weights\":["
    "{\"name\":\"b\",\"shape\":[3],\"dtype\":\"bool\"},"
    "{\"name\":\"str\",\"shape\":[2],\"dtype\":\"string\"}]}]}";

static unsigned char group0[46], group1[13];

static void make_synthetic(const char *dir, const char *manifest)
{
	unsigned char *p = group0;
	for (int i = 0; i < 6; i++) {
		float v = (float)(i + 1);
		memcpy(p, &v, 4);
		p += 4;
	}
	int32_t iv[2] = {7, -8};
	memcpy(p, iv, 8);
	p += 8;
	const unsigned char q8[4] = {0, 1, 2, 255};
	memcpy(p, q8, 4);
	p += 4;
	const uint16_t h[2] = {0x3C00, 0xC000};
	memcpy(p, h, 4);
	p += 4;
	const uint16_t q16[3] = {0, 2, 5};
	memcpy(p, q16, 6);
	const unsigned char g1[13] = {1, 0, 1, 2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0};
	memcpy(group1, g1, sizeof g1);
	write_file(dir, "model.json", manifest, strlen(manifest));
	write_file(dir, "s1", group0, 30);
	write_file(dir, "s2", group0 + 30, 16);
	write_file(dir, "s3", group1, 13);
}

static enum sy_status open_synthetic(const char *dir, struct sy_error *err, struct tfjs_weights **w)
{
	char path[512];
	snprintf(path, sizeof path, "%s/model.json", dir);
	return tfjs_weights_open(path, err, w);
}

static void test_tfjs_synthetic(void)
{
	char dir[300];
	snprintf(dir, sizeof dir, "%s/ok", tmp_root);
	mkdir(dir, 0700);
	make_synthetic(dir, manifest_template);
	struct sy_error err = {0};
	struct tfjs_weights *w;
	enum sy_status s = open_synthetic(dir, &err, &w);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s != SY_OK)
		return;
	CHECK_EQ_INT(w->n_tensors, 7);
	CHECK_EQ_INT(w->n_groups, 2);
	CHECK_EQ_INT(w->total_bytes, 59);
	float *f;
	CHECK(tfjs_weights_f32(w, "f", 2, (int64_t[]){2, 3}, &err, &f) == SY_OK);
	for (int i = 0; i < 6; i++)
		CHECK(f[i] == (float)(i + 1));
	free(f);
	int32_t *iv;
	CHECK(tfjs_weights_i32(w, "i", 1, (int64_t[]){2}, &err, &iv) == SY_OK);
	CHECK(iv[0] == 7 && iv[1] == -8);
	free(iv);
	CHECK(tfjs_weights_f32(w, "q8", 1, (int64_t[]){4}, &err, &f) == SY_OK);
	CHECK(f[0] == -1.0f && f[1] == -0.5f && f[2] == 0.0f && f[3] == 126.5f);
	free(f);
	CHECK(tfjs_weights_f32(w, "h", 1, (int64_t[]){2}, &err, &f) == SY_OK);
	CHECK(f[0] == 1.0f && f[1] == -2.0f);
	free(f);
	/* Math.round: 1 -> 1, 1.5 -> 2, 2.25 -> 2. */
	CHECK(tfjs_weights_i32(w, "q16", 1, (int64_t[]){3}, &err, &iv) == SY_OK);
	CHECK(iv[0] == 1 && iv[1] == 2 && iv[2] == 2);
	free(iv);
	const struct tfjs_tensor *t = tfjs_weights_find(w, "str");
	CHECK(t && t->dtype == TFJS_DTYPE_STRING && t->n_bytes == 10);
	t = tfjs_weights_find(w, "b");
	CHECK(t && t->dtype == TFJS_DTYPE_BOOL && t->n_bytes == 3 && t->data[2] == 1);
	/* Lookup errors name the tensor. */
	s = tfjs_weights_f32(w, "f", 2, (int64_t[]){3, 2}, &err, &f);
	CHECKF(s == SY_ERR_FORMAT && strstr(err.msg, "[2,3]") && strstr(err.msg, "[3,2]"), "%s",
	       err.msg);
	s = tfjs_weights_f32(w, "i", 1, (int64_t[]){2}, &err, &f);
	CHECKF(s == SY_ERR_FORMAT && strstr(err.msg, "int32"), "%s", err.msg);
	s = tfjs_weights_f32(w, "nope", 1, (int64_t[]){2}, &err, &f);
	CHECKF(s == SY_ERR_NOT_FOUND && strstr(err.msg, "nope"), "%s", err.msg);
	tfjs_weights_free(w);
}

struct bad_case {
	const char *from, *to; /* manifest edit (NULL: none) */
	const char *shard; /* shard to rewrite (NULL: none) */
	long shard_len; /* its new length; -1 removes it */
	enum sy_status want;
	const char *msg_has;
};

static void test_tfjs_bad_inputs(void)
{
	static const struct bad_case cases[] = {
	    {NULL, NULL, "s2", -1, SY_ERR_IO, "s2"},
	    {NULL, NULL, "s2", 15, SY_ERR_FORMAT, "short"},
	    {NULL, NULL, "s3", 14, SY_ERR_FORMAT, "hold 14 bytes"},
	    {"\"dtype\":\"int32\"}", "\"dtype\":\"float64\"}", NULL, 0, SY_ERR_UNSUPPORTED,
	     "float64"},
	    {"\"shape\":[2,3]", "\"shape\":[2,-3]", NULL, 0, SY_ERR_FORMAT, "shape[1]"},
	    {"\"shape\":[2,3]", "\"shape\":\"2x3\"", NULL, 0, SY_ERR_FORMAT, "shape"},
	    {"{\"dtype\":\"uint8\"", "{\"dtype\":\"int4\"", NULL, 0, SY_ERR_UNSUPPORTED, "int4"},
	    {"\"scale\":0.5,", "", NULL, 0, SY_ERR_FORMAT, "scale and min"},
	    {"\"name\":\"f\",", "", NULL, 0, SY_ERR_FORMAT, "name"},
	    {"\"s1\"", "\"../s1\"", NULL, 0, SY_ERR_FORMAT, "paths[0]"},
	    {"\"weightsManifest\"", "\"weightManifest\"", NULL, 0, SY_ERR_FORMAT,
	     "weightsManifest"},
	    {"\"dtype\":\"bool\"", "\"dtype\":\"bool\",\"quantization\":{\"dtype\":\"uint8\"}",
	     NULL, 0, SY_ERR_UNSUPPORTED, "bool"},
	    {"{\"name\":\"b\",\"shape\":[3]", "{\"name\":\"b\",\"shape\":[2]", NULL, 0,
	     SY_ERR_FORMAT, "string"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad_case *c = &cases[i];
		char dir[300];
		snprintf(dir, sizeof dir, "%s/bad%zu", tmp_root, i);
		mkdir(dir, 0700);
		char *man = c->from ? replace_once(manifest_template, c->from, c->to)
		                    : strdup(manifest_template);
		make_synthetic(dir, man);
		free(man);
		if (c->shard && c->shard_len < 0) {
			remove_file(dir, c->shard);
		} else if (c->shard) {
			unsigned char buf[64] = {0};
			const unsigned char *src = !strcmp(c->shard, "s3") ? group1 : group0 + 30;
			memcpy(buf, src, !strcmp(c->shard, "s3") ? 13 : 16);
			write_file(dir, c->shard, buf, (size_t)c->shard_len);
		}
		struct sy_error err = {0};
		struct tfjs_weights *w = NULL;
		enum sy_status s = open_synthetic(dir, &err, &w);
		CHECKF(s == c->want && strstr(err.msg, c->msg_has) && strstr(err.msg, "model.json"),
		       "case %zu: status %s, message \"%s\" (want %s with \"%s\")", i,
		       sy_status_str(s), err.msg, sy_status_str(c->want), c->msg_has);
		CHECK(s != SY_OK || w != NULL);
		tfjs_weights_free(w);
	}
	/* A missing model.json. */
	struct sy_error err = {0};
	struct tfjs_weights *w;
	char path[512];
	snprintf(path, sizeof path, "%s/none/model.json", tmp_root);
	CHECK(tfjs_weights_open(path, &err, &w) == SY_ERR_IO && w == NULL);
}

static void test_tfjs_real_manifest(void)
{
	struct sy_error err = {0};
	struct tfjs_weights *w;
	enum sy_status s =
	    tfjs_weights_open(harness_shared_path("models/use-lite/model.json"), &err, &w);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s != SY_OK)
		return;
	CHECK_EQ_INT(w->n_tensors, 61);
	CHECK_EQ_INT(w->total_bytes, 27903656);
	const struct tfjs_tensor *t = tfjs_weights_find(w, "module/Embeddings_en");
	CHECK(t && t->n_dims == 2 && t->shape[0] == 8002 && t->shape[1] == 256);
	/* The timing-signal frequencies stored in the graph are 1e4^(-i/127), i = 0..127. */
	float *f;
	s = tfjs_weights_f32(w,
	                     "module_apply_default/Encoder_en/KonaTransformer/Encode/"
	                     "TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1",
	                     2, (int64_t[]){1, 128}, &err, &f);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s == SY_OK) {
		double worst = 0;
		for (int i = 0; i < 128; i++) {
			double want = exp(-log(1e4) * i / 127.0);
			worst = fmax(worst, fabs(f[i] - want) / want);
		}
		CHECKF(worst < 1e-6, "relative error %g", worst);
		free(f);
	}
	tfjs_weights_free(w);
}

/* ---- tokenizer ---- */

struct tok_case {
	const char *text;
	size_t len; /* 0: strlen */
	int n;
	int32_t ids[12];
};

static void check_cases(const struct use_tokenizer *t, const struct tok_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct tok_case *c = &cases[i];
		struct sy_error err = {0};
		int32_t *ids;
		int k;
		enum sy_status s = use_tokenizer_encode(
		    t, c->text, c->len ? c->len : strlen(c->text), &err, &ids, &k);
		int same = s == SY_OK && k == c->n;
		for (int j = 0; same && j < k; j++)
			same = ids[j] == c->ids[j];
		if (!same) {
			char got[256] = "";
			size_t g = 0;
			for (int j = 0; s == SY_OK && j < k && g < sizeof got - 16; j++)
				g += (size_t)snprintf(got + g, sizeof got - g, "%d ", ids[j]);
			CHECKF(same, "case %zu: got %s(%d ids)", i, got, k);
		}
		free(ids);
	}
}

/* Ids computed by following the reference tokenizer step by step on the real vocabulary (and
 * checked against it). */
static void test_tokenizer_real_vocab(void)
{
	struct sy_error err = {0};
	struct use_tokenizer *t;
	enum sy_status s =
	    use_tokenizer_load(harness_shared_path("models/use-lite/vocab.json"), &err, &t);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s != SY_OK)
		return;
	CHECK_EQ_INT(use_tokenizer_vocab_size(t), 8000);
	CHECK_STREQ(use_tokenizer_piece(t, 9), "\xe2\x96\x81the");
	static const struct tok_case cases[] = {
	    {"hello world", 0, 3, {2002, 102, 311}},
	    {"", 0, 0, {0}},
	    /* Every space becomes its own separator piece. */
	    {" ", 0, 2, {30, 30}},
	    /* A tab is unknown (id 0) after the leading separator. */
	    {"\t", 0, 2, {30, 0}},
	    {"Tabs\tand\nnewlines", 0, 8, {803, 1436, 0, 381, 0, 2664, 721, 7}},
	    {"naïve café résumé", 0, 11, {1216, 0, 105, 976, 209, 1133, 1067, 1133, 7, 400, 1133}},
	    /* CJK and emoji: runs of unknown characters collapse into one id 0. */
	    {"日本語のテキスト", 0, 2, {30, 0}},
	    {"emoji 🚀🔥 test", 0, 6, {299, 451, 2501, 30, 0, 748}},
	    /* NFKC: the ligature, full-width letters and the ideographic space. */
	    {"ﬁne ｆｕｌｌ　width", 0, 3, {839, 650, 7916}},
	    /* ':00' has score 0 and ':' a null score (0 too); "”5" is listed three times and
		 * the last entry (4464) wins. */
	    {"12:00:00", 0, 3, {575, 5920, 5920}},
	    {"x:)y", 0, 4, {649, 57, 52, 48}},
	    {"\xe2\x80\x9d"
	     "5",
	     0,
	     2,
	     {30, 4464}},
	    /* A NUL is an ordinary unknown character; invalid UTF-8 becomes U+FFFD, also
		 * unknown (the reserved piece U+FFFD is never matched). */
	    {"abc\0def", 7, 4, {2733, 131, 0, 5512}},
	    {"a\xff"
	     "b",
	     0,
	     3,
	     {11, 0, 151}},
	};
	check_cases(t, cases, sizeof cases / sizeof cases[0]);
	use_tokenizer_free(t);
}

/* Tiny vocabularies for the lattice rules. Ids 0..5 are reserved. */
static void test_tokenizer_rules(void)
{
	/* 6 "▁a" -1, 7 "b" -1, 8 "▁ab" -2, 9 "▁" -0.5, 10 "a" -0.5. For "ab" ("▁ab"): best[2]
	 * ties at -1 between "▁a" (start 0) and "▁"+"a" (start 1), and the later start wins;
	 * best[3] ties at -2 between "▁ab" and ...+"b", and "b" wins: [9, 10, 7]. */
	static const char v1[] =
	    "[[\"\xef\xbf\xbd\",0],[\"<s>\",0],[\"</s>\",0],[\"e1\",0],[\"e2\",0],[\"e3\",0],"
	    "[\"\xe2\x96\x81"
	    "a\",-1],[\"b\",-1],[\"\xe2\x96\x81"
	    "ab\",-2],[\"\xe2\x96\x81\",-0.5],"
	    "[\"a\",-0.5]]";
	/* 6 "zq" -3, 7 "q" -1, 8 "c" null, 9 "▁c" -2. "zq": no piece starts with "▁", so it is
	 * unknown (score 0); at "z" only "zq" matches, so there is no unknown edge for "z" alone
	 * and best[2] stays at its initial 0, which makes "q" (-1 + 0) beat "zq" (-3 + 0); the walk
	 * back then lands on position 2 (unknown, the default) and collapses the unknowns:
	 * [0, 7]. "c": "▁c" (-2) loses to the unreached start 1 plus "c" (0): [0, 8]. */
	static const char v2[] =
	    "[[\"\xef\xbf\xbd\",0],[\"<s>\",0],[\"</s>\",0],[\"e1\",0],[\"e2\",0],[\"e3\",0],"
	    "[\"zq\",-3],[\"q\",-1],[\"c\",null],[\"\xe2\x96\x81"
	    "c\",-2]]";
	struct sy_error err = {0};
	struct use_tokenizer *t;
	CHECKF(use_tokenizer_load_json(v1, sizeof v1 - 1, "v1", &err, &t) == SY_OK, "%s", err.msg);
	static const struct tok_case c1[] = {
	    {"ab", 0, 3, {9, 10, 7}},
	    {"a b", 0, 4, {9, 10, 9, 7}},
	    {"abba", 0, 5, {9, 10, 7, 7, 10}},
	};
	check_cases(t, c1, sizeof c1 / sizeof c1[0]);
	use_tokenizer_free(t);
	CHECKF(use_tokenizer_load_json(v2, sizeof v2 - 1, "v2", &err, &t) == SY_OK, "%s", err.msg);
	static const struct tok_case c2[] = {
	    {"zq", 0, 2, {0, 7}},
	    {"zzq", 0, 2, {0, 7}},
	    {"c", 0, 2, {0, 8}},
	    {"cq", 0, 3, {0, 8, 7}},
	};
	check_cases(t, c2, sizeof c2 / sizeof c2[0]);
	use_tokenizer_free(t);
	/* Malformed vocabularies. */
	static const char *bad[] = {
	    "{}", "[[\"a\",1]]", "[1,2,3,4,5,6,7]",
	    "[[\"\",0],[\"\",0],[\"\",0],[\"\",0],[\"\",0],[\"\",0],[\"x\"]]",
	    "[[\"\",0],[\"\",0],[\"\",0],[\"\",0],[\"\",0],[\"\",0],[\"x\",\"1\"]]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err.msg[0] = '\0';
		enum sy_status s =
		    use_tokenizer_load_json(bad[i], strlen(bad[i]), "bad.json", &err, &t);
		CHECKF(s == SY_ERR_FORMAT && strstr(err.msg, "bad.json"), "case %zu: %s", i,
		       err.msg);
	}
}

/* ---- the model ---- */

struct reference {
	int n;
	char *texts[80];
	size_t lens[80];
	double emb[80][512];
};

static struct reference ref;

static int load_reference(void)
{
	if (ref.n)
		return 1;
	char *text;
	size_t len;
	struct sy_error err = {0};
	if (sy_file_read(harness_shared_path("testdata/use-lite/reference.jsonl"), &err, &text,
	                 &len) != SY_OK) {
		CHECKF(0, "%s", err.msg);
		return 0;
	}
	int ok = 1;
	for (char *line = text, *next; line && *line && ok; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		cJSON *j = cJSON_Parse(line);
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "embedding");
		ok = cJSON_IsString(t) && cJSON_GetArraySize(e) == 512 && ref.n < 80;
		if (ok) {
			ref.texts[ref.n] = strdup(t->valuestring);
			ref.lens[ref.n] = strlen(t->valuestring);
			int k = 0;
			for (const cJSON *v = e->child; v; v = v->next)
				ref.emb[ref.n][k++] = v->valuedouble;
			ref.n++;
		}
		cJSON_Delete(j);
	}
	free(text);
	CHECKF(ok && ref.n == 65, "reference.jsonl: %d usable lines", ref.n);
	return ok && ref.n > 0;
}

static struct model *open_model(const struct model_options *opts)
{
	struct sy_error err = {0};
	struct model *e;
	enum sy_status s = model_open(harness_shared_path("models/use-lite"), opts, &err, &e);
	CHECKF(s == SY_OK, "%s", err.msg);
	return s == SY_OK ? e : NULL;
}

static void test_parity(void)
{
	if (!load_reference())
		return;
	struct model *e = open_model(NULL);
	if (!e)
		return;
	CHECK_STREQ(e->arch, "use-lite");
	CHECK_EQ_INT(model_dims(e), 512);
	float *out = malloc((size_t)ref.n * 512 * sizeof *out);
	struct sy_error err = {0};
	enum sy_status s = model_encode_texts(e, (const char *const *)ref.texts, ref.lens, ref.n,
	                                      NULL, &err, out, NULL, NULL);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s == SY_OK) {
		double min_cos = 2;
		int worst = 0;
		for (int i = 0; i < ref.n; i++) {
			double c = cosine(out + (size_t)i * 512, ref.emb[i], 512);
			CHECKF(c >= 0.9999, "text %d \"%s\": cosine %.6f", i, ref.texts[i], c);
			if (c < min_cos) {
				min_cos = c;
				worst = i;
			}
		}
		printf("use-lite parity: %d texts, min cosine %.9f (1 - min = %.1e, text %d)\n",
		       ref.n, min_cos, 1 - min_cos, worst);
	}
	free(out);
	model_close(e);
}

/* int8 dynamic quantisation of every dense layer (--quantize int8): cosine >= 0.995 to the TF.js
 * reference on every reference text. */
static void test_parity_int8(void)
{
	if (!load_reference())
		return;
	struct model_options opts = model_default_options();
	opts.precision = LINEAR_INT8;
	struct model *e = open_model(&opts);
	if (!e)
		return;
	float *out = malloc((size_t)ref.n * 512 * sizeof *out);
	struct sy_error err = {0};
	enum sy_status s = model_encode_texts(e, (const char *const *)ref.texts, ref.lens, ref.n,
	                                      NULL, &err, out, NULL, NULL);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s == SY_OK) {
		double min_cos = 2, sum = 0;
		for (int i = 0; i < ref.n; i++) {
			double c = cosine(out + (size_t)i * 512, ref.emb[i], 512);
			CHECKF(c >= 0.995, "int8 text %d \"%s\": cosine %.6f", i, ref.texts[i], c);
			min_cos = c < min_cos ? c : min_cos;
			sum += c;
		}
		printf("use-lite int8 parity: %d texts, min cosine %.6f, mean %.6f\n", ref.n,
		       min_cos, sum / ref.n);
		/* It really is quantised: not the fp32 result to the last digits. */
		CHECK(min_cos < 0.9999999);
	}
	free(out);
	model_close(e);
}

/* Each text alone must give what it gives in a batch (texts never see each other), with one
 * thread or several. */
static void test_batch_vs_single(void)
{
	if (!load_reference())
		return;
	struct model_options one = model_default_options();
	one.n_threads = 1;
	struct model *e = open_model(NULL), *e1 = open_model(&one);
	if (!e || !e1) {
		model_close(e);
		model_close(e1);
		return;
	}
	/* The batch, with an empty text added in the middle. */
	const int n = ref.n + 1, mid = ref.n / 2;
	const char *texts[81];
	size_t lens[81];
	for (int i = 0, k = 0; i < n; i++) {
		if (i == mid) {
			texts[i] = "";
			lens[i] = 0;
			continue;
		}
		texts[i] = ref.texts[k];
		lens[i] = ref.lens[k++];
	}
	float *batch = malloc((size_t)n * 512 * sizeof *batch);
	float *single = malloc(512 * sizeof *single);
	struct sy_error err = {0};
	CHECKF(model_encode_texts(e, texts, lens, n, NULL, &err, batch, NULL, NULL) == SY_OK, "%s",
	       err.msg);
	double worst = 0, worst1 = 0;
	for (int i = 0; i < n; i++) {
		CHECKF(model_encode_texts(e, &texts[i], &lens[i], 1, NULL, &err, single, NULL,
		                          NULL) == SY_OK,
		       "%s", err.msg);
		for (int j = 0; j < 512; j++)
			worst = fmax(worst, fabs(single[j] - batch[(size_t)i * 512 + j]));
		CHECKF(model_encode_texts(e1, &texts[i], &lens[i], 1, NULL, &err, single, NULL,
		                          NULL) == SY_OK,
		       "%s", err.msg);
		for (int j = 0; j < 512; j++)
			worst1 = fmax(worst1, fabs(single[j] - batch[(size_t)i * 512 + j]));
	}
	CHECKF(worst <= 1e-6 && worst1 <= 1e-6,
	       "batch vs single differ by %g (same threads), %g (1 thread)", worst, worst1);
	/* The empty text is tanh(bias), normalised: finite and of unit length. */
	double nn = 0;
	for (int j = 0; j < 512; j++)
		nn += (double)batch[(size_t)mid * 512 + j] * batch[(size_t)mid * 512 + j];
	CHECKF(fabs(nn - 1) < 1e-5, "empty text: squared norm %g", nn);
	free(batch);
	free(single);
	model_close(e);
	model_close(e1);
}

/* Only the first 128 tokens reach the model (ClipToMaxLength); --max-length lowers that. */
static void test_token_limit(void)
{
	struct model *e = open_model(NULL);
	struct model_options o4 = model_default_options();
	o4.max_length = 4;
	struct model *e4 = open_model(&o4);
	if (!e || !e4) {
		model_close(e);
		model_close(e4);
		return;
	}
	/* "the cat sat " gives 3 tokens per repetition (one per word). */
	char a[2048] = "", b[2048];
	for (int i = 0; i < 50; i++)
		strcat(a, "the cat sat ");
	snprintf(b, sizeof b, "%smore words at the end", a);
	const char *texts[4] = {a, b, "the cat sat on", "the cat sat on the mat"};
	size_t lens[4] = {strlen(a), strlen(b), strlen(texts[2]), strlen(texts[3])};
	float out[4][512];
	struct sy_error err = {0};
	CHECKF(model_encode_texts(e, texts, lens, 2, NULL, &err, out[0], NULL, NULL) == SY_OK, "%s",
	       err.msg);
	CHECK(memcmp(out[0], out[1], sizeof out[0]) == 0);
	CHECKF(model_encode_texts(e4, texts + 2, lens + 2, 2, NULL, &err, out[2], NULL, NULL) ==
	           SY_OK,
	       "%s", err.msg);
	CHECK(memcmp(out[2], out[3], sizeof out[2]) == 0);
	model_close(e);
	model_close(e4);
}

static void test_options(void)
{
	struct model_options o = model_default_options();
	o.pooling = POOLING_CLS;
	struct sy_error err = {0};
	struct model *e;
	enum sy_status s = model_open(harness_shared_path("models/use-lite"), &o, &err, &e);
	CHECKF(s == SY_ERR_UNSUPPORTED && strstr(err.msg, "cls"), "%s", err.msg);
	o = model_default_options();
	o.normalize = 0;
	e = open_model(&o);
	if (!e)
		return;
	const char *text = "A man is playing a guitar.";
	size_t len = strlen(text);
	float v[512];
	CHECK(model_encode_texts(e, &text, &len, 1, NULL, &err, v, NULL, NULL) == SY_OK);
	double nn = 0;
	for (int j = 0; j < 512; j++) {
		nn += (double)v[j] * v[j];
		CHECK(fabsf(v[j]) <= 1.0f);
	}
	CHECKF(nn > 1.5, "unnormalised squared norm %g", nn);
	model_close(e);
}

static void test_builtin_id(void)
{
	char buf[4096];
	/* From the repository root (where tests run), ../shared holds the model. */
	const char *p = use_lite_resolve(buf, sizeof buf);
	CHECK(p != NULL);
	/* $SWITCHYARD_MODELS comes first. */
	char models[300], link[400], want[400];
	snprintf(models, sizeof models, "%s/models", tmp_root);
	mkdir(models, 0700);
	snprintf(link, sizeof link, "%s/use-lite", models);
	char *target = realpath(harness_shared_path("models/use-lite"), NULL);
	CHECK(target && symlink(target, link) == 0);
	free(target);
	setenv("SWITCHYARD_MODELS", models, 1);
	p = use_lite_resolve(buf, sizeof buf);
	snprintf(want, sizeof want, "%s/use-lite", models);
	CHECK(p && !strcmp(p, want));
	CHECK(use_lite_resolve(buf, 8) == NULL || strlen(buf) < 8);
	struct sy_error err = {0};
	struct model *e;
	enum sy_status s = model_open("use-lite", NULL, &err, &e);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s == SY_OK) {
		CHECK_STREQ(e->arch, "use-lite");
		CHECK(use_lite_model_tokenizer(e) != NULL);
		model_close(e);
	}
	unsetenv("SWITCHYARD_MODELS");
	unlink(link);
	rmdir(models);
}

/* Per-item options through the encode task: normalize off on one item leaves the tanh output
 * (whose L2-normalised form is the default output), a prefix equals encoding the joined text,
 * token counts grow with the prefix, and truncate off refuses a text past the 128 tokens. */
static void test_encode_ex(void)
{
	struct sy_error err = {0};
	struct model *e;
	enum sy_status s = model_open(harness_shared_path("models/use-lite"), NULL, &err, &e);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s != SY_OK)
		return;
	const int D = model_dims(e);
	const char *plain[2] = {"hello world", "query: hello world"};
	size_t plain_lens[2] = {strlen(plain[0]), strlen(plain[1])};
	float *want = malloc(sizeof(float) * 2 * (size_t)D);
	float *got = malloc(sizeof(float) * 3 * (size_t)D);
	CHECK(model_encode_texts(e, plain, plain_lens, 2, NULL, &err, want, NULL, NULL) == SY_OK);

	const char *texts[3] = {"hello world", "hello world", "hello world"};
	size_t lens[3] = {11, 11, 11};
	const char *prefixes[3] = {NULL, NULL, "query: "};
	size_t prefix_lens[3] = {0, 0, 7};
	signed char norm[3] = {0, -1, 1};
	struct model_input ins[3];
	for (int i = 0; i < 3; i++)
		ins[i] = (struct model_input){.text = texts[i],
		                              .len = lens[i],
		                              .prefix = prefixes[i],
		                              .prefix_len = prefix_lens[i],
		                              .truncate = true,
		                              .normalize = norm[i]};
	int n_tokens[3] = {0};
	s = model_run_inputs(e, MODEL_TASK_ENCODE, ins, 3, &err, got, NULL, n_tokens);
	CHECKF(s == SY_OK, "%s", err.msg);
	CHECK(harness_max_abs_diff(got + D, want, (size_t)D) == 0.0f);
	CHECK(harness_max_abs_diff(got + 2 * D, want + D, (size_t)D) == 0.0f);
	double ss = 0;
	for (int j = 0; j < D; j++)
		ss += (double)got[j] * got[j];
	double norm0 = sqrt(ss);
	CHECKF(fabs(norm0 - 1.0) > 1e-3, "unnormalised norm %f", norm0);
	CHECK(harness_cosine(got, want, (size_t)D) > 0.999999);
	CHECK(n_tokens[0] > 0 && n_tokens[2] > n_tokens[0]);
	CHECK_EQ_INT(n_tokens[1], n_tokens[0]);
	CHECK_EQ_INT(model_max_tokens(e), 128);
	/* 200 words: clipped to 128 tokens by default, refused with truncate off. */
	char long_text[1200] = "";
	for (int i = 0; i < 200; i++)
		strcat(long_text, "word ");
	struct model_input lin = {
	    .text = long_text, .len = strlen(long_text), .truncate = true, .normalize = -1};
	int nt = 0;
	CHECK(model_run_inputs(e, MODEL_TASK_ENCODE, &lin, 1, &err, got, NULL, &nt) == SY_OK);
	CHECK_EQ_INT(nt, 128);
	lin.truncate = false;
	CHECK(model_run_inputs(e, MODEL_TASK_ENCODE, &lin, 1, &err, got, NULL, &nt) ==
	      SY_ERR_LIMIT);
	free(want);
	free(got);
	model_close(e);
}

int main(void)
{
	snprintf(tmp_root, sizeof tmp_root, "/tmp/sy-test-use-lite.XXXXXX");
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(test_tfjs_synthetic);
	RUN(test_tfjs_bad_inputs);
	RUN(test_tfjs_real_manifest);
	RUN(test_tokenizer_real_vocab);
	RUN(test_tokenizer_rules);
	RUN(test_parity);
	RUN(test_parity_int8);
	RUN(test_batch_vs_single);
	RUN(test_token_limit);
	RUN(test_options);
	RUN(test_builtin_id);
	RUN(test_encode_ex);
	for (int i = 0; i < ref.n; i++)
		free(ref.texts[i]);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp_root);
	return harness_summary();
}
