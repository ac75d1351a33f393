/* Tests for the tokenizer pipeline (src/text): exact ids against the transformers.js and
 * llama.cpp vectors for bert-base-uncased (through tokenizer.json and through vocab.txt), and
 * small tokenizer.json snippets for each normalizer, pre-tokenizer and post-processor, pairs,
 * truncation, offsets, invalid UTF-8 and malformed files.
 *
 * Expected outputs of the snippets follow the Hugging Face `tokenizers` definitions; they were
 * worked out by hand and cross-checked against the library's own node bindings (tokenizers
 * 0.23), whose character offsets are converted here with tokenizer_char_offset. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <time.h>

#include "base/file.h"
#include "harness.h"
#include "text/tokenizer.h"

/* ---- Helpers ---- */

static struct tokenizer *bert_json, *bert_vocab;

static struct tokenizer *load_bert_json(void)
{
	if (!bert_json) {
		struct sy_error err = {0};
		const char *p = harness_shared_path("models/bert-base-uncased-tokenizer/tokenizer.json");
		if (tokenizer_load(p, &err, &bert_json) != SY_OK)
			fprintf(stderr, "  cannot load %s: %s\n", p, err.msg);
	}
	return bert_json;
}

static struct tokenizer *load_bert_vocab(void)
{
	if (!bert_vocab) {
		struct sy_error err = {0};
		const char *p = harness_shared_path("models/bert-base-uncased-tokenizer/vocab.txt");
		if (tokenizer_load_vocab_txt(p, true, &err, &bert_vocab) != SY_OK)
			fprintf(stderr, "  cannot load %s: %s\n", p, err.msg);
	}
	return bert_vocab;
}

static __attribute__((unused)) struct tokenizer *load_snippet(const char *json)
{
	struct sy_error err = {0};
	struct tokenizer *t = NULL;
	if (tokenizer_load_json(json, strlen(json), &err, &t) != SY_OK) {
		fprintf(stderr, "  snippet failed to load: %s\n", err.msg);
		return NULL;
	}
	return t;
}

/* Encodes and compares ids with want[0..n). Prints both on mismatch. */
static int ids_equal(const struct tok_encoding *e, const int32_t *want, int n)
{
	int ok = e->n == n;
	for (int i = 0; ok && i < n; i++)
		ok = e->ids[i] == want[i];
	if (!ok) {
		fprintf(stderr, "    got  [");
		for (int i = 0; i < e->n; i++)
			fprintf(stderr, " %d", e->ids[i]);
		fprintf(stderr, " ]\n    want [");
		for (int i = 0; i < n; i++)
			fprintf(stderr, " %d", want[i]);
		fprintf(stderr, " ]\n");
	}
	return ok;
}

static struct tok_encode_params params(int max_length, enum tok_truncation tr, bool special)
{
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = max_length;
	p.truncation = tr;
	p.add_special_tokens = special;
	return p;
}

/* Encodes text (NUL-terminated) with default params; returns the status. */
static __attribute__((unused)) enum sy_status enc(const struct tokenizer *t, const char *text, const char *pair,
			  const struct tok_encode_params *p, struct tok_encoding *e)
{
	struct sy_error err = {0};
	enum sy_status st = tokenizer_encode(t, text, strlen(text), pair, pair ? strlen(pair) : 0,
					     p, &err, e);
	if (st != SY_OK)
		fprintf(stderr, "    encode failed: %s\n", err.msg);
	return st;
}

#define CHECK_IDS(e, ...)                                                              \
	do {                                                                           \
		static const int32_t _want[] = {__VA_ARGS__};                          \
		CHECK(ids_equal((e), _want, (int)(sizeof _want / sizeof _want[0]))); \
	} while (0)

/* ---- transformers.js vectors ---- */

/* cJSON cuts strings at an embedded NUL, so "\u0000" escapes are rewritten to U+10FFFF (absent
 * from the file) before parsing and turned back into NUL bytes afterwards. */
static char *decode_text(const cJSON *s, size_t *len)
{
	const char *v = s->valuestring;
	size_t n = strlen(v), k = 0;
	char *out = malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] == 0xF4 && i + 3 < n && (unsigned char)v[i + 1] == 0x8F &&
		    (unsigned char)v[i + 2] == 0xBF && (unsigned char)v[i + 3] == 0xBF) {
			out[k++] = '\0';
			i += 3;
		} else {
			out[k++] = v[i];
		}
	}
	out[k] = '\0';
	*len = k;
	return out;
}

static cJSON *load_cases(void)
{
	char *data;
	size_t len;
	struct sy_error err = {0};
	if (sy_file_read(harness_shared_path("testdata/tokenizers/transformers.js-cases.json"), &err,
			 &data, &len) != SY_OK) {
		fprintf(stderr, "  %s\n", err.msg);
		return NULL;
	}
	/* "\u0000" (6 bytes) -> "\udbff\udfff" (12 bytes). */
	size_t n0 = 0;
	for (const char *p = data; (p = strstr(p, "\\u0000")); p += 6)
		n0++;
	char *fixed = malloc(len + n0 * 6 + 1), *o = fixed;
	for (const char *p = data; *p;) {
		if (strncmp(p, "\\u0000", 6) == 0) {
			memcpy(o, "\\udbff\\udfff", 12);
			o += 12;
			p += 6;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	cJSON *root = cJSON_Parse(fixed);
	free(fixed);
	free(data);
	return root;
}

/* Runs every case of `key` through t; returns the number of mismatches (or -1 if absent). */
static int run_cases(const struct tokenizer *t, const cJSON *root, const char *key, bool verbose,
		     int *n_cases)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
	if (!cJSON_IsArray(arr))
		return -1;
	int bad = 0;
	*n_cases = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, arr)
	{
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
		const cJSON *pair = cJSON_GetObjectItemCaseSensitive(c, "text_pair");
		const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c, "ids");
		if (!cJSON_IsString(text) || !cJSON_IsArray(ids))
			continue;
		size_t tl, pl = 0;
		char *tx = decode_text(text, &tl), *px = NULL;
		if (cJSON_IsString(pair))
			px = decode_text(pair, &pl);
		struct tok_encoding e;
		struct sy_error err = {0};
		struct tok_encode_params p = tokenizer_default_params();
		p.max_length = -1;
		int n = cJSON_GetArraySize(ids);
		int32_t *want = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
		for (int i = 0; i < n; i++)
			want[i] = (int32_t)cJSON_GetArrayItem(ids, i)->valuedouble;
		(*n_cases)++;
		if (tokenizer_encode(t, tx, tl, px, pl, &p, &err, &e) != SY_OK) {
			bad++;
			if (verbose)
				fprintf(stderr, "    %s: encode failed: %s\n", key, err.msg);
		} else {
			bool same = e.n == n;
			for (int i = 0; same && i < n; i++)
				same = e.ids[i] == want[i];
			if (!same) {
				bad++;
				if (verbose) {
					const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
					fprintf(stderr, "    %s case %s:\n", key,
						cJSON_IsString(name) ? name->valuestring : "?");
					ids_equal(&e, want, n);
				}
			}
			tok_encoding_free(&e);
		}
		free(want);
		free(tx);
		free(px);
	}
	return bad;
}

static void test_transformers_js_bert_json(void)
{
	struct tokenizer *t = load_bert_json();
	cJSON *root = load_cases();
	CHECK(t && root);
	if (!t || !root) {
		cJSON_Delete(root);
		return;
	}
	int n = 0, bad = run_cases(t, root, "Xenova/bert-base-uncased", true, &n);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(n, 30);
	cJSON_Delete(root);
}

static void test_transformers_js_bert_vocab_txt(void)
{
	struct tokenizer *t = load_bert_vocab();
	cJSON *root = load_cases();
	CHECK(t && root);
	if (!t || !root) {
		cJSON_Delete(root);
		return;
	}
	int n = 0, bad = run_cases(t, root, "Xenova/bert-base-uncased", true, &n);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(n, 30);
	cJSON_Delete(root);
}

/* Other keys whose tokenizer is an uncased English BERT with this very vocabulary. */
static void test_transformers_js_same_vocab(void)
{
	struct tokenizer *t = load_bert_json();
	cJSON *root = load_cases();
	CHECK(t && root);
	if (!t || !root) {
		cJSON_Delete(root);
		return;
	}
	static const char *const keys[] = {
		"Xenova/distilbert-base-uncased-finetuned-sst-2-english",
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		int n = 0, bad = run_cases(t, root, keys[i], true, &n);
		CHECKF(bad == 0 && n > 0, "%s: %d of %d cases differ", keys[i], bad, n);
	}
	cJSON_Delete(root);
}

/* ---- llama.cpp vectors ---- */

static void run_llama_cases(const struct tokenizer *t, int *n_inputs, int *n_bad)
{
	char *inp, *outp;
	size_t il, ol;
	struct sy_error err = {0};
	*n_inputs = *n_bad = 0;
	if (sy_file_read(harness_shared_path(
				 "testdata/tokenizers/llama.cpp-bert-bge/ggml-vocab-bert-bge.gguf.inp"),
			 &err, &inp, &il) != SY_OK ||
	    sy_file_read(harness_shared_path(
				 "testdata/tokenizers/llama.cpp-bert-bge/ggml-vocab-bert-bge.gguf.out"),
			 &err, &outp, &ol) != SY_OK) {
		fprintf(stderr, "  %s\n", err.msg);
		*n_bad = 1;
		return;
	}
	/* Each input is followed by "\n__ggml_vocab_test__\n" (llama.cpp's test-tokenizer-0); each
	 * expected line is " id id ..." terminated by "\n". */
	const char *sep = "\n__ggml_vocab_test__\n";
	size_t sl = strlen(sep);
	char *p = inp, *q = outp;
	while (p < inp + il) {
		char *e = strstr(p, sep);
		if (!e)
			break;
		char *qe = strchr(q, '\n');
		if (!qe) {
			(*n_bad)++;
			break;
		}
		*qe = '\0';
		int32_t want[512];
		int nw = 0;
		for (char *s = q; *s;) {
			char *end;
			long v = strtol(s, &end, 10);
			if (end == s)
				break;
			if (nw < 512)
				want[nw++] = (int32_t)v;
			s = end;
		}
		struct tok_encoding enc_out;
		struct tok_encode_params prm = params(-1, TOK_TRUNCATE_LONGEST_FIRST, false);
		if (tokenizer_encode(t, p, (size_t)(e - p), NULL, 0, &prm, &err, &enc_out) != SY_OK) {
			(*n_bad)++;
		} else {
			if (!ids_equal(&enc_out, want, nw)) {
				(*n_bad)++;
				fprintf(stderr, "    input %d: \"%.*s\"\n", *n_inputs,
					(int)(e - p > 60 ? 60 : e - p), p);
			}
			tok_encoding_free(&enc_out);
		}
		(*n_inputs)++;
		p = e + sl;
		q = qe + 1;
	}
	/* Both files must be consumed exactly. */
	if (p != inp + il || q != outp + ol)
		(*n_bad)++;
	free(inp);
	free(outp);
}

static void test_llama_cpp_bge(void)
{
	struct tokenizer *ts[2] = {load_bert_json(), load_bert_vocab()};
	for (int i = 0; i < 2; i++) {
		CHECK(ts[i] != NULL);
		if (!ts[i])
			continue;
		int n, bad;
		run_llama_cases(ts[i], &n, &bad);
		CHECK_EQ_INT(bad, 0);
		/* 46 inputs: the first is "ied 4 ½ months", the last the long mixed text; empty,
		 * space-only and newline-only inputs are among them. */
		CHECK_EQ_INT(n, 46);
	}
}

int main(void)
{
	RUN(test_transformers_js_bert_json);
	RUN(test_transformers_js_bert_vocab_txt);
	RUN(test_transformers_js_same_vocab);
	RUN(test_llama_cpp_bge);
	tokenizer_free(bert_json);
	tokenizer_free(bert_vocab);
	return harness_summary();
}
