/* Tests for the tokenizer pipeline (src/text): exact ids against the transformers.js and
 * llama.cpp vectors for bert-base-uncased (through tokenizer.json and through vocab.txt), and
 * small tokenizer.json snippets for each normalizer, pre-tokenizer and post-processor, pairs,
 * truncation, offsets, invalid UTF-8 and malformed files.
 *
 * Expected outputs of the snippets follow the Hugging Face `tokenizers` definitions; they were
 * worked out from the reference source and checked against the library itself (its node
 * bindings, tokenizers 0.23, whose character offsets were converted to the byte offsets used
 * here). The Precompiled charsmap was built by SentencePiece from a ten-rule normalization TSV. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "harness.h"
#include "text/tokenizer.h"

/* ---- Helpers ---- */

static struct tokenizer *bert_json, *bert_vocab;

static struct tokenizer *load_bert_json(void)
{
	if (!bert_json) {
		struct sy_error err = {0};
		const char *p =
		    harness_shared_path("models/bert-base-uncased-tokenizer/tokenizer.json");
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

static struct tokenizer *load_snippet(const char *json)
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
static enum sy_status enc(const struct tokenizer *t, const char *text, const char *pair,
                          const struct tok_encode_params *p, struct tok_encoding *e)
{
	struct sy_error err = {0};
	enum sy_status st =
	    tokenizer_encode(t, text, strlen(text), pair, pair ? strlen(pair) : 0, p, &err, e);
	if (st != SY_OK)
		fprintf(stderr, "    encode failed: %s\n", err.msg);
	return st;
}

#define CHECK_IDS(e, ...)                                                            \
	do {                                                                         \
		static const int32_t _want[] = {__VA_ARGS__};                        \
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
	if (sy_file_read(harness_shared_path("testdata/tokenizers/transformers.js-cases.json"),
	                 &err, &data, &len) != SY_OK) {
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
					const cJSON *name =
					    cJSON_GetObjectItemCaseSensitive(c, "name");
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
		if (tokenizer_encode(t, p, (size_t)(e - p), NULL, 0, &prm, &err, &enc_out) !=
		    SY_OK) {
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

/* ---- tokenizer.json snippets ----
 *
 * Each case is a small tokenizer.json (WordPiece models with a handful of tokens; a piece that is
 * not in the vocabulary becomes [UNK] with the piece's range, so offsets show how the text was
 * split), a text (and pair) and the expected ids, type ids and byte offsets (into the text, or
 * the pair for tokens of the second sequence; (0, 0) for special tokens). n = -1: encoding must
 * fail (Hugging Face reports a truncation error). */

#define WP_NORM                                                                                    \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","    \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]"  \
	"\":3,\"[MASK]\":4,\"hello\":5,\"world\":6,\"h\\u00e9llo\":7,\"H\\u00e9llo\":8,\"Hello\":" \
	"9,\"W\\u00d6RLD\":10,\"ab\":11,\"cd\":12,\"\\u4e2d\":13,\"\\u6587\":14,\"c\":15,\"b\":"   \
	"16}}"
#define WP_SEQ                                                                                    \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"ca\":5,\"va\":6,\"\\u00e7a\":7,\"\\u00c7a\":8,\"\\u00e9\":9,"        \
	"\"e\\u0301\":10,\"fi\":11,\"1\":12,\"Hello\":13,\"hello\":14,\"i\\u0307\":15,\"a\":16,"  \
	"\"b\":17}}"
#define WP_STRIP1                                                                                 \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"hi\":5,\" hi\":6,\"hi \":7,\" hi \":8}}"
#define WP_STRIP2                                                                                 \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"hi\":5,\" hi\":6,\"hi \":7,\"hi  \":8}}"
#define WP_REPLACE                                                                                \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"a\\u2581b\":5,\"\\u2581a\":6,\"a "                                   \
	"b\":7,\"a\":8,\"b\":9,\"X\":10,\"aXb\":11,\"\\u2581hi\":12}}"
#define WP_UNK_ONLY                                                                               \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4}}"
#define WP_META                                                                                    \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","    \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]"  \
	"\":3,\"[MASK]\":4,\"\\u2581Hello\":5,\"\\u2581world\":6,\"Hello\":7,\"\\u2581\":8,"       \
	"\"\\u2581Hello\\u2581world\":9,\"Hello\\u2581world\":10,\"\\u2581a\":11,\"\\u2581b\":12}" \
	"}"
#define WP_BYTES                                                                                  \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"Hello\":5,\"\\u0120Hello\":6,\"\\u0120world\":7,\"'s\":8,"           \
	"\"\\u0120123\":9,\"\\u0120ok\":10,\"\\u0120\":11,\"\\u0120\\u0120\":12,"                 \
	"\"\\u00c3\\u00a9\":13,\"\\u0120\\u00c3\\u00a9\":14,\"!\":15}}"
#define WP_POST                                                                                   \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"hello\":5,\"world\":6,\"a\":7,\"b\":8,\"c\":9,\"d\":10,\"e\":11,"    \
	"\"f\":12,\"g\":13,\"<s>\":14,\"</"                                                       \
	"s>\":15,\"\\u0120hello\":16,\"\\u0120world\":17,\"hello\\u0120\":18,\"\\u0120\":19}}"
#define WP_ADDED                                                                                  \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"hello\":5,\"world\":6,\"a\":7,\"b\":8,\"<mask>\":9}}"
#define WP_TRUNC                                                                                  \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"a\":5,\"b\":6,\"c\":7,\"d\":8,\"e\":9,\"f\":10,\"g\":11,\"h\":12}}"
#define WP_HI                                                                                     \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"hi\":5}}"
#define WP_LONG                                                                                    \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","    \
	"\"max_input_chars_per_word\":5,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]\":" \
	"3,\"[MASK]\":4,\"a\":5,\"##a\":6}}"
#define WP_AT                                                                                     \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"@@\","   \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]" \
	"\":3,\"[MASK]\":4,\"un\":5,\"@@want\":6,\"@@ed\":7,\"want\":8}}"
#define WP_CHARSMAP                                                                                \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","    \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"A\":1,\"1\":2,\"\\u00c1\":3,"   \
	"\"fi\":4,\"...\":5,\"\\u00c5\":6,\"a\":7,\"\\u00e9\":8,\"A\\u00e9\":9,\"x\":10,\"y\":11," \
	"\"z\":12,\"b\":13,\"e\\u0302\":14,\"\\u00e9\\u0302\":15,\"\\u00e9x\":16}}"
#define WP_CHARSMAP_META                                                                         \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","  \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"\\u2581A\":1,\"\\u2581x\":2," \
	"\"\\u2581fi\":3,\"\\u2581...\":4,\"\\u2581\":5}}"
#define WP_NMT                                                                                  \
	"{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\"," \
	"\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"ab\":1,\"c\":2,\"d\":3}}"
/* A precompiled_charsmap built by SentencePiece from ten custom rules (fullwidth A and a,
 * circled 1, A + combining acute, fi ligature, ellipsis, Angstrom sign, ideographic and no-break
 * spaces, e + combining acute). */
#define CHARSMAP                                                                                   \
	"AAQAAAAAAQBBPAMAzAACAIEdAAAPAACAzAgCAIEFAAAVAACAoAUAAAAAAICAnAIAph0AAAIAAICrCQAAhKACABIA" \
	"AICgBQAABgAAgIAEAgCAaQAAgQUAAAwAAIChBQAACAAAgIEFAAAKAACAGwAAAJGsAgAdAAAAHAAAAB8AAAAeAAAA" \
	"rNQCACAAAAAjAAAAIgAAACUAAABlsAMAJwAAACYAAAApAAAAKAAAACsAAAAqAAAALQAAACwAAAAvAAAALgAAALwc" \
	"AgC9oAIAMwAAADIAAAA1AAAANAAAADcAAAA2AAAAOQAAADgAAAA7AAAAOgAAAD0AAAA8AAAAPwAAAD4AAABBAAAA" \
	"QAAAAEMAAABCAAAARQAAAEQAAABHAAAARgAAAEkAAABIAAAASwAAAEoAAABNAAAATAAAAE8AAABOAAAAUQAAAFAA" \
	"AABTAAAAUgAAAFUAAABUAAAAVwAAAFYAAABZAAAAWAAAAFsAAABaAAAAXQAAAFwAAABfAAAAXgAAAGEAAABgAAAA" \
	"YwAAAGIAAABlAAAAZAAAAGcAAABmAAAAaQAAAGgAAABrAAAAagAAAG0AAABsAAAAbwAAAG4AAABxAAAAcAAAAHMA" \
	"AAByAAAAdQAAAHQAAAB3AAAAdgAAAHkAAAB4AAAAewAAAHoAAAB9AAAAfAAAAH8AAAB+AAAAgQAAAIAAAADCqAAA" \
	"ggAAAIUAAACEAAAAhwAAAIYAAACJAAAAiAAAAIsAAACKAAAAjQAAAIwAAACPAAAAjgAAAJEAAACQAAAAkwAAAJIA" \
	"AACVAAAAlAAAAJcAAACWAAAAmQAAAJgAAACbAAAAmgAAAJ0AAACcAAAAnwAAAJ4AAAChAAAAoAAAAOKgAADjxAAA" \
	"pQAAAKQAAACnAAAApgAAAKkAAACoAAAAqwAAAKoAAACtAAAArAAAAK8AAADvjAAAsQAAALAAAACzAAAAsgAAALUA" \
	"AAC0AAAAtwAAALYAAAC5AAAAuAAAALsAAAC6AAAAvQAAALwAAAC/AAAAvgAAAMEAAADAAAAAwwAAAMIAAADFAAAA" \
	"xAAAAMcAAADGAAAAyQAAAMgAAADLAAAAygAAAM0AAADMAAAAzwAAAM4AAADRAAAA0AAAANMAAADSAAAA1QAAANQA" \
	"AADXAAAA1gAAANkAAADYAAAA2wAAANoAAADdAAAA3AAAAN8AAADeAAAA4QAAAOAAAADjAAAA4gAAAOUAAADkAAAA" \
	"5wAAAOYAAADpAAAA6AAAAOsAAADqAAAA7QAAAOwAAADvAAAA7gAAAPEAAADwAAAA8wAAAPIAAAD1AAAA9AAAAPcA" \
	"AAD2AAAA+QAAAPgAAAD7AAAA+gAAAP0AAAD8AAAA/wAAAP4AAAAgAC4uLgAxAEEAYQBmaQDDgQDDhQDDqQA="

struct snippet_case {
	const char *name, *json, *text, *pair;
	bool special; /* add_special_tokens */
	int n;
	int32_t ids[48], type_ids[48];
	uint32_t offsets[96];
};

static const struct snippet_case snippet_cases[] = {
    {.name = "bert_norm_default",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":true,\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "Héllo WÖRLD",
     .special = true,
     .n = 2,
     .ids = {5, 6},
     .type_ids = {0, 0},
     .offsets = {0, 6, 7, 13}},
    {.name = "bert_norm_keep_case",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":true,\"strip_accents\":null,\"lowercase\":false},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "Héllo WÖRLD",
     .special = true,
     .n = 2,
     .ids = {8, 10},
     .type_ids = {0, 0},
     .offsets = {0, 6, 7, 13}},
    {.name = "bert_norm_strip_only",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":true,\"strip_accents\":true,\"lowercase\":false},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "Héllo",
     .special = true,
     .n = 1,
     .ids = {9},
     .type_ids = {0},
     .offsets = {0, 6}},
    {.name = "bert_norm_lower_keep_accents",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":true,\"strip_accents\":false,\"lowercase\":true},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "HÉLLO",
     .special = true,
     .n = 1,
     .ids = {7},
     .type_ids = {0},
     .offsets = {0, 6}},
    {.name = "bert_norm_chinese",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":true,\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "ab中文cd",
     .special = true,
     .n = 4,
     .ids = {11, 13, 14, 12},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 2, 2, 5, 5, 8, 8, 10}},
    {.name = "bert_norm_no_chinese",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":false,\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "ab中文cd",
     .special = true,
     .n = 1,
     .ids = {0},
     .type_ids = {0},
     .offsets = {0, 10}},
    {.name = "bert_norm_clean",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":true,\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "a\x01"
             "b\tc\u200bd�e",
     .special = true,
     .n = 2,
     .ids = {11, 0},
     .type_ids = {0, 0},
     .offsets = {0, 3, 4, 13}},
    {.name = "bert_norm_no_clean",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":false,\"handle_chinese_"
             "chars\":true,\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "a\x01"
             "b\tc",
     .special = true,
     .n = 2,
     .ids = {0, 15},
     .type_ids = {0, 0},
     .offsets = {0, 3, 4, 5}},
    {.name = "nfd_strip_lower",
     .json = "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":"
             "\"StripAccents\"},{\"type\":\"Lowercase\"}]},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_SEQ "}",
     .text = "Ça Va",
     .special = true,
     .n = 2,
     .ids = {5, 6},
     .type_ids = {0, 0},
     .offsets = {0, 3, 4, 6}},
    {.name = "nfc_compose",
     .json = "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"model\":" WP_SEQ "}",
     .text = "e\u0301 Ça",
     .special = true,
     .n = 2,
     .ids = {9, 8},
     .type_ids = {0, 0},
     .offsets = {0, 1, 4, 7}},
    {.name = "nfd_decompose",
     .json = "{\"normalizer\":{\"type\":\"NFD\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"model\":" WP_SEQ "}",
     .text = "é",
     .special = true,
     .n = 1,
     .ids = {10},
     .type_ids = {0},
     .offsets = {0, 2}},
    {.name = "nfkc",
     .json = "{\"normalizer\":{\"type\":\"NFKC\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"model\":" WP_SEQ "}",
     .text = "ﬁ ① Ｈｅｌｌｏ",
     .special = true,
     .n = 3,
     .ids = {11, 12, 13},
     .type_ids = {0, 0, 0},
     .offsets = {0, 3, 4, 7, 8, 23}},
    {.name = "nfkd",
     .json = "{\"normalizer\":{\"type\":\"NFKD\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"model\":" WP_SEQ "}",
     .text = "ﬁ é",
     .special = true,
     .n = 2,
     .ids = {11, 10},
     .type_ids = {0, 0},
     .offsets = {0, 3, 4, 6}},
    {.name = "lowercase",
     .json = "{\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_SEQ "}",
     .text = "HeLLo İ A",
     .special = true,
     .n = 3,
     .ids = {14, 15, 16},
     .type_ids = {0, 0, 0},
     .offsets = {0, 5, 6, 8, 9, 10}},
    {.name = "strip_both",
     .json = "{\"normalizer\":{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":true},"
             "\"model\":" WP_STRIP1 "}",
     .text = "  hi  ",
     .special = true,
     .n = 1,
     .ids = {5},
     .type_ids = {0},
     .offsets = {2, 4}},
    {.name = "strip_left",
     .json = "{\"normalizer\":{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":false},"
             "\"model\":" WP_STRIP2 "}",
     .text = "  hi  ",
     .special = true,
     .n = 1,
     .ids = {8},
     .type_ids = {0},
     .offsets = {2, 6}},
    {.name = "replace_string",
     .json = "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" "
             "\"},\"content\":\"\\u2581\"},\"model\":" WP_REPLACE "}",
     .text = "a b",
     .special = true,
     .n = 1,
     .ids = {5},
     .type_ids = {0},
     .offsets = {0, 3}},
    {.name = "replace_regex",
     .json = "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"content\":"
             "\" \"},\"model\":" WP_REPLACE "}",
     .text = "a \t\n b",
     .special = true,
     .n = 1,
     .ids = {7},
     .type_ids = {0},
     .offsets = {0, 6}},
    {.name = "replace_multi",
     .json = "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\"--\"},\"content\":"
             "\"X\"},\"model\":" WP_REPLACE "}",
     .text = "a--b",
     .special = true,
     .n = 1,
     .ids = {11},
     .type_ids = {0},
     .offsets = {0, 4}},
    {.name = "prepend",
     .json =
         "{\"normalizer\":{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},\"model\":" WP_REPLACE "}",
     .text = "hi",
     .special = true,
     .n = 1,
     .ids = {12},
     .type_ids = {0},
     .offsets = {0, 2}},
    {.name = "prepend_empty",
     .json =
         "{\"normalizer\":{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},\"model\":" WP_REPLACE "}",
     .text = "",
     .special = true,
     .n = 0,
     .ids = {},
     .type_ids = {},
     .offsets = {}},
    {.name = "norm_sequence",
     .json = "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Strip\",\"strip_"
             "left\":true,\"strip_right\":true},{\"type\":\"Replace\",\"pattern\":{\"String\":\" "
             "\"},\"content\":\"\\u2581\"},{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"}]},"
             "\"model\":" WP_REPLACE "}",
     .text = "  a  ",
     .special = true,
     .n = 1,
     .ids = {6},
     .type_ids = {0},
     .offsets = {2, 3}},
    {.name = "pre_whitespace",
     .json = "{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":" WP_UNK_ONLY "}",
     .text = "Hello, world! 123abc é-x  __a",
     .special = true,
     .n = 9,
     .ids = {0, 0, 0, 0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0, 0, 0, 0},
     .offsets = {0, 5, 5, 6, 7, 12, 12, 13, 14, 20, 21, 23, 23, 24, 24, 25, 27, 30}},
    {.name = "pre_whitespace_split",
     .json = "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_UNK_ONLY "}",
     .text = "a  b\tc\u3000d\u00a0e",
     .special = true,
     .n = 5,
     .ids = {0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 1, 3, 4, 5, 6, 9, 10, 12, 13}},
    {.name = "pre_bert",
     .json = "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":" WP_UNK_ONLY "}",
     .text = "Hi,  there!! a$b ¿c?",
     .special = true,
     .n = 11,
     .ids = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     .offsets = {0,  2,  2,  3,  5,  10, 10, 11, 11, 12, 13,
                 14, 14, 15, 15, 16, 17, 19, 19, 20, 20, 21}},
    {.name = "pre_punct_Removed",
     .json = "{\"pre_tokenizer\":{\"type\":\"Punctuation\",\"behavior\":\"Removed\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown!",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 3, 4, 9, 11, 20}},
    {.name = "pre_punct_Isolated",
     .json = "{\"pre_tokenizer\":{\"type\":\"Punctuation\",\"behavior\":\"Isolated\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown!",
     .special = true,
     .n = 7,
     .ids = {0, 0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0, 0},
     .offsets = {0, 3, 3, 4, 4, 9, 9, 10, 10, 11, 11, 20, 20, 21}},
    {.name = "pre_punct_MergedWithPrevious",
     .json = "{\"pre_tokenizer\":{\"type\":\"Punctuation\",\"behavior\":\"MergedWithPrevious\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown!",
     .special = true,
     .n = 4,
     .ids = {0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 4, 4, 10, 10, 11, 11, 21}},
    {.name = "pre_punct_MergedWithNext",
     .json = "{\"pre_tokenizer\":{\"type\":\"Punctuation\",\"behavior\":\"MergedWithNext\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown!",
     .special = true,
     .n = 5,
     .ids = {0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 3, 3, 9, 9, 10, 10, 20, 20, 21}},
    {.name = "pre_punct_Contiguous",
     .json = "{\"pre_tokenizer\":{\"type\":\"Punctuation\",\"behavior\":\"Contiguous\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown!",
     .special = true,
     .n = 6,
     .ids = {0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0},
     .offsets = {0, 3, 3, 4, 4, 9, 9, 11, 11, 20, 20, 21}},
    {.name = "pre_punct_default",
     .json = "{\"pre_tokenizer\":{\"type\":\"Punctuation\"},\"model\":" WP_UNK_ONLY "}",
     .text = "a,.b",
     .special = true,
     .n = 4,
     .ids = {0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 1, 1, 2, 2, 3, 3, 4}},
    {.name = "pre_digits_individual",
     .json = "{\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":true},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "abc123de45",
     .special = true,
     .n = 7,
     .ids = {0, 0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0, 0},
     .offsets = {0, 3, 3, 4, 4, 5, 5, 6, 6, 8, 8, 9, 9, 10}},
    {.name = "pre_digits_contiguous",
     .json = "{\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":false},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "abc123de45",
     .special = true,
     .n = 4,
     .ids = {0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 3, 3, 6, 6, 8, 8, 10}},
    {.name = "pre_split_str_Removed",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":"
             "\"Removed\",\"invert\":false},\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 3, 4, 9, 11, 20}},
    {.name = "pre_split_str_Isolated",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":"
             "\"Isolated\",\"invert\":false},\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown",
     .special = true,
     .n = 6,
     .ids = {0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0},
     .offsets = {0, 3, 3, 4, 4, 9, 9, 10, 10, 11, 11, 20}},
    {.name = "pre_split_str_MergedWithPrevious",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":"
             "\"MergedWithPrevious\",\"invert\":false},\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown",
     .special = true,
     .n = 4,
     .ids = {0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 4, 4, 10, 10, 11, 11, 20}},
    {.name = "pre_split_str_MergedWithNext",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":"
             "\"MergedWithNext\",\"invert\":false},\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown",
     .special = true,
     .n = 4,
     .ids = {0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 3, 3, 9, 9, 10, 10, 20}},
    {.name = "pre_split_str_Contiguous",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":"
             "\"Contiguous\",\"invert\":false},\"model\":" WP_UNK_ONLY "}",
     .text = "the-final--countdown",
     .special = true,
     .n = 5,
     .ids = {0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 3, 3, 4, 4, 9, 9, 11, 11, 20}},
    {.name = "pre_split_regex",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\d+\"},"
             "\"behavior\":\"Isolated\",\"invert\":false},\"model\":" WP_UNK_ONLY "}",
     .text = "ab12cd345",
     .special = true,
     .n = 4,
     .ids = {0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 2, 2, 4, 4, 6, 6, 9}},
    {.name = "pre_split_regex_invert",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},"
             "\"behavior\":\"Removed\",\"invert\":true},\"model\":" WP_UNK_ONLY "}",
     .text = "hi, you there",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 2, 4, 7, 8, 13}},
    {.name = "pre_split_invert_merged_next",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[a-z]+\"},"
             "\"behavior\":\"MergedWithNext\",\"invert\":true},\"model\":" WP_UNK_ONLY "}",
     .text = "ab  cd.ef",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 2, 2, 6, 6, 9}},
    {.name = "pre_char_delim",
     .json = "{\"pre_tokenizer\":{\"type\":\"CharDelimiterSplit\",\"delimiter\":\"|\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "a|b||c",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 2, 3, 5, 6}},
    {.name = "pre_sequence",
     .json = "{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
             "\"WhitespaceSplit\"},{\"type\":\"Digits\",\"individual_digits\":true}]},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "ab12 c3",
     .special = true,
     .n = 5,
     .ids = {0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 2, 2, 3, 3, 4, 5, 6, 6, 7}},
    {.name = "pre_fixed_length",
     .json =
         "{\"pre_tokenizer\":{\"type\":\"FixedLength\",\"length\":3},\"model\":" WP_UNK_ONLY "}",
     .text = "abcdéfgh",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 3, 3, 7, 7, 9}},
    {.name = "pre_metaspace_always",
     .json = "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_"
             "scheme\":\"always\",\"split\":true},\"model\":" WP_META "}",
     .text = "Hello world",
     .special = true,
     .n = 2,
     .ids = {5, 6},
     .type_ids = {0, 0},
     .offsets = {0, 5, 5, 11}},
    {.name = "pre_metaspace_first",
     .json = "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_"
             "scheme\":\"first\",\"split\":true},\"model\":" WP_META "}",
     .text = "Hello world",
     .special = true,
     .n = 2,
     .ids = {5, 6},
     .type_ids = {0, 0},
     .offsets = {0, 5, 5, 11}},
    {.name = "pre_metaspace_never",
     .json = "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_"
             "scheme\":\"never\",\"split\":true},\"model\":" WP_META "}",
     .text = "Hello world",
     .special = true,
     .n = 2,
     .ids = {7, 6},
     .type_ids = {0, 0},
     .offsets = {0, 5, 5, 11}},
    {.name = "pre_metaspace_nosplit",
     .json = "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_"
             "scheme\":\"always\",\"split\":false},\"model\":" WP_META "}",
     .text = "Hello world",
     .special = true,
     .n = 1,
     .ids = {9},
     .type_ids = {0},
     .offsets = {0, 11}},
    {.name = "pre_metaspace_first_added",
     .json = "{\"added_tokens\":[{\"id\":4,\"content\":\"[MASK]\",\"single_word\":false,\"lstrip\":"
             "false,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"pre_tokenizer\":{"
             "\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\","
             "\"split\":true},\"model\":" WP_META "}",
     .text = "a[MASK]b",
     .special = true,
     .n = 3,
     .ids = {11, 4, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 1, 7, 7, 8}},
    {.name = "pre_metaspace_always_added",
     .json = "{\"added_tokens\":[{\"id\":4,\"content\":\"[MASK]\",\"single_word\":false,\"lstrip\":"
             "false,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"pre_tokenizer\":{"
             "\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\","
             "\"split\":true},\"model\":" WP_META "}",
     .text = "a[MASK]b",
     .special = true,
     .n = 3,
     .ids = {11, 4, 12},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 1, 7, 7, 8}},
    {.name = "pre_metaspace_legacy",
     .json = "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"add_prefix_"
             "space\":true},\"model\":" WP_META "}",
     .text = " Hello  world",
     .special = true,
     .n = 3,
     .ids = {5, 8, 6},
     .type_ids = {0, 0, 0},
     .offsets = {0, 6, 6, 7, 7, 13}},
    {.name = "pre_bytelevel",
     .json = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_"
             "offsets\":true,\"use_regex\":true},\"model\":" WP_BYTES "}",
     .text = "Hello world's 123  ok é!",
     .special = true,
     .n = 8,
     .ids = {5, 7, 8, 9, 11, 10, 14, 15},
     .type_ids = {0, 0, 0, 0, 0, 0, 0, 0},
     .offsets = {0, 5, 5, 11, 11, 13, 13, 17, 17, 18, 18, 21, 21, 24, 24, 25}},
    {.name = "pre_bytelevel_prefix",
     .json = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_"
             "offsets\":true,\"use_regex\":true},\"model\":" WP_BYTES "}",
     .text = "Hello world",
     .special = true,
     .n = 2,
     .ids = {6, 7},
     .type_ids = {0, 0},
     .offsets = {0, 5, 5, 11}},
    {.name = "pre_bytelevel_noregex",
     .json = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_"
             "offsets\":true,\"use_regex\":false},\"model\":" WP_BYTES "}",
     .text = "Hello world",
     .special = true,
     .n = 1,
     .ids = {0},
     .type_ids = {0},
     .offsets = {0, 11}},
    {.name = "post_bert_single",
     .json =
         "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{\"type\":"
         "\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},\"model\":" WP_POST "}",
     .text = "hello world",
     .special = true,
     .n = 4,
     .ids = {1, 5, 6, 2},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 0, 0, 5, 6, 11, 0, 0}},
    {.name = "post_bert_pair",
     .json =
         "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{\"type\":"
         "\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},\"model\":" WP_POST "}",
     .text = "hello world",
     .pair = "a b",
     .special = true,
     .n = 7,
     .ids = {1, 5, 6, 2, 7, 8, 2},
     .type_ids = {0, 0, 0, 0, 1, 1, 1},
     .offsets = {0, 0, 0, 5, 6, 11, 0, 0, 0, 1, 2, 3, 0, 0}},
    {.name = "post_bert_nospecial",
     .json =
         "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{\"type\":"
         "\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},\"model\":" WP_POST "}",
     .text = "hello",
     .pair = "world",
     .special = false,
     .n = 2,
     .ids = {5, 6},
     .type_ids = {0, 1},
     .offsets = {0, 5, 0, 5}},
    {.name = "post_roberta_pair",
     .json = "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{\"type\":"
             "\"RobertaProcessing\",\"sep\":[\"</"
             "s>\",15],\"cls\":[\"<s>\",14],\"trim_offsets\":true,\"add_prefix_space\":true},"
             "\"model\":" WP_POST "}",
     .text = "hello world",
     .pair = "a b",
     .special = true,
     .n = 8,
     .ids = {14, 5, 6, 15, 15, 7, 8, 15},
     .type_ids = {0, 0, 0, 0, 0, 0, 0, 0},
     .offsets = {0, 0, 0, 5, 6, 11, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0}},
    {.name = "post_template_pair",
     .json =
         "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{\"type\":"
         "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},{"
         "\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_"
         "id\":0}}],\"pair\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},{\"Sequence\":{"
         "\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":0}},{"
         "\"Sequence\":{\"id\":\"B\",\"type_id\":1}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_"
         "id\":1}}],\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[1],\"tokens\":[\"[CLS]"
         "\"]},\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[2],\"tokens\":[\"[SEP]\"]}}},\"model\":" WP_POST
         "}",
     .text = "hello",
     .pair = "world a",
     .special = true,
     .n = 6,
     .ids = {1, 5, 2, 6, 7, 2},
     .type_ids = {0, 0, 0, 1, 1, 1},
     .offsets = {0, 0, 0, 5, 0, 0, 0, 5, 6, 7, 0, 0}},
    /* Extension: template pieces written as strings (the Python API's syntax). */
    {.name = "post_template_strings_single",
     .json = "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{\"type\":"
             "\"TemplateProcessing\",\"single\":[\"<multi>:3\",\"$A:2\",\"[SEP]\"],\"pair\":[\"$"
             "A\",\"[SEP]\",\"$B:1\",\"<multi>:4\"],\"special_tokens\":{\"<multi>\":{\"id\":\"<"
             "multi>\",\"ids\":[9,10],\"tokens\":[\"<s>\",\"</"
             "s>\"]},\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[2],\"tokens\":[\"[SEP]\"]}}},"
             "\"model\":" WP_POST "}",
     .text = "hello world",
     .special = true,
     .n = 5,
     .ids = {9, 10, 5, 6, 2},
     .type_ids = {3, 3, 2, 2, 0},
     .offsets = {0, 0, 0, 0, 0, 5, 6, 11, 0, 0}},
    /* Extension: template pieces written as strings (the Python API's syntax). */
    {.name = "post_template_strings_pair",
     .json = "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{\"type\":"
             "\"TemplateProcessing\",\"single\":[\"<multi>:3\",\"$A:2\",\"[SEP]\"],\"pair\":[\"$"
             "A\",\"[SEP]\",\"$B:1\",\"<multi>:4\"],\"special_tokens\":{\"<multi>\":{\"id\":\"<"
             "multi>\",\"ids\":[9,10],\"tokens\":[\"<s>\",\"</"
             "s>\"]},\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[2],\"tokens\":[\"[SEP]\"]}}},"
             "\"model\":" WP_POST "}",
     .text = "hello",
     .pair = "world",
     .special = true,
     .n = 5,
     .ids = {5, 2, 6, 9, 10},
     .type_ids = {0, 0, 1, 4, 4},
     .offsets = {0, 5, 0, 0, 0, 5, 0, 0, 0, 0}},
    {.name = "post_bytelevel_trim",
     .json = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_"
             "offsets\":true,\"use_regex\":true},\"post_processor\":{\"type\":\"ByteLevel\",\"add_"
             "prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},\"model\":" WP_POST "}",
     .text = "hello  world",
     .special = true,
     .n = 3,
     .ids = {16, 19, 17},
     .type_ids = {0, 0, 0},
     .offsets = {0, 5, 6, 6, 7, 12}},
    {.name = "post_bytelevel_notrim",
     .json =
         "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":"
         "true,\"use_regex\":true},\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":"
         "true,\"trim_offsets\":false,\"use_regex\":true},\"model\":" WP_POST "}",
     .text = "hello  world",
     .special = true,
     .n = 3,
     .ids = {16, 19, 17},
     .type_ids = {0, 0, 0},
     .offsets = {0, 5, 5, 6, 6, 12}},
    {.name = "post_sequence",
     .json =
         "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":"
         "true,\"use_regex\":true},\"post_processor\":{\"type\":\"Sequence\",\"processors\":[{"
         "\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":"
         "true},{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\","
         "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"["
         "SEP]\",\"type_id\":0}}],\"pair\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},{"
         "\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_"
         "id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}},{\"SpecialToken\":{\"id\":\"[SEP]\","
         "\"type_id\":1}}],\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[1],\"tokens\":["
         "\"[CLS]\"]},\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[2],\"tokens\":[\"[SEP]\"]}}}]},"
         "\"model\":" WP_POST "}",
     .text = "hello world",
     .pair = "hello",
     .special = true,
     .n = 6,
     .ids = {1, 16, 17, 2, 16, 2},
     .type_ids = {0, 0, 0, 0, 1, 1},
     .offsets = {0, 0, 0, 5, 6, 11, 0, 0, 0, 5, 0, 0}},
    {.name = "post_none_pair",
     .json = "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_POST "}",
     .text = "hello",
     .pair = "world",
     .special = true,
     .n = 2,
     .ids = {5, 6},
     .type_ids = {0, 1},
     .offsets = {0, 5, 0, 5}},
    {.name = "added_raw",
     .json =
         "{\"added_tokens\":[{\"id\":4,\"content\":\"[MASK]\",\"single_word\":false,\"lstrip\":"
         "false,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"normalizer\":{\"type\":"
         "\"Lowercase\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED "}",
     .text = "Hello[MASK] World [MASK]",
     .special = true,
     .n = 4,
     .ids = {5, 4, 6, 4},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 5, 5, 11, 12, 17, 18, 24}},
    {.name = "added_lstrip_rstrip",
     .json = "{\"added_tokens\":[{\"id\":20,\"content\":\"<tok>\",\"single_word\":false,\"lstrip\":"
             "true,\"rstrip\":true,\"normalized\":false,\"special\":true}],\"pre_tokenizer\":{"
             "\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED "}",
     .text = "a  <tok>  b",
     .special = true,
     .n = 3,
     .ids = {7, 10, 8},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 1, 10, 10, 11}},
    {.name = "added_single_word",
     .json = "{\"added_tokens\":[{\"id\":20,\"content\":\"ab\",\"single_word\":true,\"lstrip\":"
             "false,\"rstrip\":false,\"normalized\":false,\"special\":false}],\"pre_tokenizer\":{"
             "\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED "}",
     .text = "ab xaby ab, ab",
     .special = true,
     .n = 5,
     .ids = {10, 0, 10, 0, 10},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 2, 3, 7, 8, 10, 10, 11, 12, 14}},
    {.name = "added_normalized",
     .json =
         "{\"added_tokens\":[{\"id\":20,\"content\":\"<MaSk>\",\"single_word\":false,\"lstrip\":"
         "false,\"rstrip\":false,\"normalized\":true,\"special\":false}],\"normalizer\":{\"type\":"
         "\"Lowercase\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED "}",
     .text = "a <MASK> b",
     .special = true,
     .n = 3,
     .ids = {7, 10, 8},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 2, 8, 9, 10}},
    {.name = "added_longest",
     .json =
         "{\"added_tokens\":[{\"id\":20,\"content\":\"<a>\",\"single_word\":false,\"lstrip\":false,"
         "\"rstrip\":false,\"normalized\":false,\"special\":true},{\"id\":21,\"content\":\"<a><b>"
         "\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
         "\"special\":true}],\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED
         "}",
     .text = "x<a><b>y<a>",
     .special = true,
     .n = 4,
     .ids = {0, 11, 0, 10},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 1, 1, 7, 7, 8, 8, 11}},
    {.name = "added_in_vocab",
     .json = "{\"added_tokens\":[{\"id\":5,\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":"
             "false,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"pre_tokenizer\":{"
             "\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED "}",
     .text = "hello<mask>",
     .special = true,
     .n = 2,
     .ids = {5, 9},
     .type_ids = {0, 0},
     .offsets = {0, 5, 5, 11}},
    {.name = "trunc_single",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":5,\"strategy\":"
             "\"LongestFirst\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"["
             "CLS]\",1]},\"model\":" WP_TRUNC "}",
     .text = "a b c d e f",
     .special = true,
     .n = 5,
     .ids = {1, 5, 6, 7, 2},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 0, 0, 1, 2, 3, 4, 5, 0, 0}},
    {.name = "trunc_single_left",
     .json = "{\"truncation\":{\"direction\":\"Left\",\"max_length\":5,\"strategy\":"
             "\"LongestFirst\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"["
             "CLS]\",1]},\"model\":" WP_TRUNC "}",
     .text = "a b c d e f",
     .special = true,
     .n = 5,
     .ids = {1, 8, 9, 10, 2},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 0, 6, 7, 8, 9, 10, 11, 0, 0}},
    {.name = "trunc_longest_first",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":8,\"strategy\":"
             "\"LongestFirst\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"["
             "CLS]\",1]},\"model\":" WP_TRUNC "}",
     .text = "a b c d e f",
     .pair = "g h b",
     .special = true,
     .n = 8,
     .ids = {1, 5, 6, 7, 2, 11, 12, 2},
     .type_ids = {0, 0, 0, 0, 0, 1, 1, 1},
     .offsets = {0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 1, 2, 3, 0, 0}},
    {.name = "trunc_longest_first_even",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":9,\"strategy\":"
             "\"LongestFirst\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"["
             "CLS]\",1]},\"model\":" WP_TRUNC "}",
     .text = "a b c d",
     .pair = "e f g h",
     .special = true,
     .n = 9,
     .ids = {1, 5, 6, 7, 2, 9, 10, 11, 2},
     .type_ids = {0, 0, 0, 0, 0, 1, 1, 1, 1},
     .offsets = {0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0}},
    {.name = "trunc_longest_first_swap",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":7,\"strategy\":"
             "\"LongestFirst\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"["
             "CLS]\",1]},\"model\":" WP_TRUNC "}",
     .text = "a b",
     .pair = "c d e f g h",
     .special = true,
     .n = 7,
     .ids = {1, 5, 6, 2, 7, 8, 2},
     .type_ids = {0, 0, 0, 0, 1, 1, 1},
     .offsets = {0, 0, 0, 1, 2, 3, 0, 0, 0, 1, 2, 3, 0, 0}},
    {.name = "trunc_only_first",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":8,\"strategy\":\"OnlyFirst\","
             "\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{"
             "\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},"
             "\"model\":" WP_TRUNC "}",
     .text = "a b c d e f",
     .pair = "g h b",
     .special = true,
     .n = 8,
     .ids = {1, 5, 6, 2, 11, 12, 6, 2},
     .type_ids = {0, 0, 0, 0, 1, 1, 1, 1},
     .offsets = {0, 0, 0, 1, 2, 3, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0}},
    {.name = "trunc_only_second",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":8,\"strategy\":"
             "\"OnlySecond\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_"
             "processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]}"
             ",\"model\":" WP_TRUNC "}",
     .text = "a b",
     .pair = "c d e f g h",
     .special = true,
     .n = 8,
     .ids = {1, 5, 6, 2, 7, 8, 9, 2},
     .type_ids = {0, 0, 0, 0, 1, 1, 1, 1},
     .offsets = {0, 0, 0, 1, 2, 3, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0}},
    {.name = "trunc_only_second_single",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":3,\"strategy\":"
             "\"OnlySecond\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_"
             "processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]}"
             ",\"model\":" WP_TRUNC "}",
     .text = "a b c d",
     .special = true,
     .n = -1},
    {.name = "trunc_too_short",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":6,\"strategy\":\"OnlyFirst\","
             "\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{"
             "\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},"
             "\"model\":" WP_TRUNC "}",
     .text = "a",
     .pair = "c d e f g h",
     .special = true,
     .n = -1},
    {.name = "trunc_nospecial",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":3,\"strategy\":"
             "\"LongestFirst\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"["
             "CLS]\",1]},\"model\":" WP_TRUNC "}",
     .text = "a b c d e",
     .special = false,
     .n = 3,
     .ids = {5, 6, 7},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 2, 3, 4, 5}},
    {.name = "trunc_zero_room",
     .json = "{\"truncation\":{\"direction\":\"Right\",\"max_length\":2,\"strategy\":"
             "\"LongestFirst\",\"stride\":0},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"["
             "CLS]\",1]},\"model\":" WP_TRUNC "}",
     .text = "a b c",
     .special = true,
     .n = 2,
     .ids = {1, 2},
     .type_ids = {0, 0},
     .offsets = {0, 0, 0, 0}},
    {.name = "x_bert_clean_unicode_ws",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":true,\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_NORM "}",
     .text = "abcd\u2028c\u00a0b\u3000ab",
     .special = true,
     .n = 4,
     .ids = {0, 15, 16, 11},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 6, 9, 10, 12, 13, 16, 18}},
    {.name = "x_whitespace_unicode",
     .json = "{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":" WP_UNK_ONLY "}",
     .text = "nai\u0308ve café x_y ①② Ⓐb ٣٤",
     .special = true,
     .n = 6,
     .ids = {0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0},
     .offsets = {0, 7, 8, 13, 14, 17, 18, 24, 25, 29, 30, 34}},
    {.name = "x_bytelevel_emoji_nl",
     .json = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_"
             "offsets\":true,\"use_regex\":true},\"model\":" WP_BYTES "}",
     .text = "a\n\nb 🦙 é\t x  ",
     .special = true,
     .n = 9,
     .ids = {0, 0, 0, 0, 0, 14, 0, 0, 12},
     .type_ids = {0, 0, 0, 0, 0, 0, 0, 0, 0},
     .offsets = {0, 1, 1, 2, 2, 3, 3, 4, 4, 9, 9, 12, 12, 13, 13, 15, 15, 17}},
    {.name = "x_metaspace_existing",
     .json = "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_"
             "scheme\":\"always\",\"split\":true},\"model\":" WP_META "}",
     .text = "▁Hello  world ",
     .special = true,
     .n = 4,
     .ids = {5, 8, 6, 8},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 8, 8, 9, 9, 15, 15, 16}},
    {.name = "x_split_empty_matches",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"x*\"},\"behavior\":"
             "\"Isolated\",\"invert\":false},\"model\":" WP_UNK_ONLY "}",
     .text = "abxxc",
     .special = true,
     .n = 4,
     .ids = {0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 1, 1, 2, 2, 4, 4, 5}},
    {.name = "x_split_empty_matches_merged",
     .json = "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"x*\"},\"behavior\":"
             "\"MergedWithPrevious\",\"invert\":false},\"model\":" WP_UNK_ONLY "}",
     .text = "abxxc",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 1, 4, 4, 5}},
    {.name = "x_replace_empty_match",
     .json = "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"b*\"},\"content\":\"-"
             "\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_REPLACE "}",
     .text = "abc",
     .special = true,
     .n = 1,
     .ids = {0},
     .type_ids = {0},
     .offsets = {0, 3}},
    {.name = "x_lowercase_greek",
     .json = "{\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_UNK_ONLY "}",
     .text = "ΣΑΣ ǅ",
     .special = true,
     .n = 2,
     .ids = {0, 0},
     .type_ids = {0, 0},
     .offsets = {0, 6, 7, 9}},
    {.name = "x_added_normalized_no_normalizer",
     .json = "{\"added_tokens\":[{\"id\":20,\"content\":\"hello\",\"single_word\":false,\"lstrip\":"
             "false,\"rstrip\":false,\"normalized\":true,\"special\":false}],\"pre_tokenizer\":{"
             "\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED "}",
     .text = "xhellox hello",
     .special = true,
     .n = 4,
     .ids = {0, 5, 0, 5},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 1, 1, 6, 6, 7, 8, 13}},
    {.name = "x_trunc_pair_added",
     .json =
         "{\"truncation\":{\"direction\":\"Right\",\"max_length\":7,\"strategy\":\"LongestFirst\","
         "\"stride\":0},\"added_tokens\":[{\"id\":4,\"content\":\"[MASK]\",\"single_word\":false,"
         "\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"pre_"
         "tokenizer\":{\"type\":\"WhitespaceSplit\"},\"post_processor\":{\"type\":"
         "\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},\"model\":" WP_TRUNC "}",
     .text = "a [MASK] b c",
     .pair = "[MASK] d e",
     .special = true,
     .n = 7,
     .ids = {1, 5, 4, 2, 4, 8, 2},
     .type_ids = {0, 0, 0, 0, 1, 1, 1},
     .offsets = {0, 0, 0, 1, 2, 8, 0, 0, 0, 6, 7, 8, 0, 0}},
    {.name = "x_llama3_split",
     .json =
         "{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
         "\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?"
         "\\\\p{L}+|\\\\p{N}{1,3}| "
         "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
         "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
         "false,\"trim_offsets\":true,\"use_regex\":false}]},\"model\":" WP_UNK_ONLY "}",
     .text = "Hello WORLD's 12345 ok!!\n\n  x",
     .special = true,
     .n = 10,
     .ids = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     .offsets = {0, 5, 5, 11, 11, 13, 13, 14, 14, 17, 17, 19, 19, 22, 22, 26, 26, 27, 27, 29}},
    {.name = "x_digits_unicode",
     .json = "{\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":false},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "a٣٤b½c",
     .special = true,
     .n = 5,
     .ids = {0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 1, 1, 5, 5, 6, 6, 8, 8, 9}},
    {.name = "x_punct_unicode",
     .json = "{\"pre_tokenizer\":{\"type\":\"Punctuation\",\"behavior\":\"Isolated\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "¿qué «x» a+b=c^d",
     .special = true,
     .n = 12,
     .ids = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     .offsets = {0,  2,  2,  7,  7,  9,  9,  10, 10, 12, 12, 14,
                 14, 15, 15, 16, 16, 17, 17, 18, 18, 19, 19, 20}},
    {.name = "x_strip_unicode",
     .json = "{\"normalizer\":{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":true},"
             "\"model\":" WP_HI "}",
     .text = "\u3000\u00a0hi\u2003",
     .special = true,
     .n = 1,
     .ids = {5},
     .type_ids = {0},
     .offsets = {5, 7}},
    {.name = "x_strip_accents",
     .json = "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKD\"},{"
             "\"type\":\"StripAccents\"}]},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "Ça va ё",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 3, 4, 6, 7, 9}},
    {.name = "x_bytelevel_norm",
     .json = "{\"normalizer\":{\"type\":\"ByteLevel\"},\"pre_tokenizer\":{\"type\":"
             "\"WhitespaceSplit\"},\"model\":" WP_BYTES "}",
     .text = "Hello world é",
     .special = true,
     .n = 1,
     .ids = {0},
     .type_ids = {0},
     .offsets = {0, 14}},
    {.name = "x_bert_pre_cjk_norm",
     .json = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_"
             "chars\":true,\"strip_accents\":null,\"lowercase\":true},\"pre_tokenizer\":{\"type\":"
             "\"BertPreTokenizer\"},\"model\":" WP_UNK_ONLY "}",
     .text = "a中b 生活!",
     .special = true,
     .n = 6,
     .ids = {0, 0, 0, 0, 0, 0},
     .type_ids = {0, 0, 0, 0, 0, 0},
     .offsets = {0, 1, 1, 4, 4, 5, 6, 9, 9, 12, 12, 13}},
    {.name = "x_nfc_hangul",
     .json = "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "각 가 e\u0301\u0327",
     .special = true,
     .n = 3,
     .ids = {0, 0, 0},
     .type_ids = {0, 0, 0},
     .offsets = {0, 3, 10, 13, 17, 22}},
    {.name = "x_nfd_reorder",
     .json = "{\"normalizer\":{\"type\":\"NFD\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"model\":" WP_UNK_ONLY "}",
     .text = "a\u0301\u0327 ệ",
     .special = true,
     .n = 2,
     .ids = {0, 0},
     .type_ids = {0, 0},
     .offsets = {0, 5, 6, 9}},
    {.name = "x_added_rstrip_only",
     .json = "{\"added_tokens\":[{\"id\":20,\"content\":\"<t>\",\"single_word\":false,\"lstrip\":"
             "false,\"rstrip\":true,\"normalized\":false,\"special\":true}],\"pre_tokenizer\":{"
             "\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED "}",
     .text = "a <t>  b",
     .special = true,
     .n = 3,
     .ids = {7, 10, 8},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 2, 7, 7, 8}},
    {.name = "x_added_lstrip_at_start",
     .json = "{\"added_tokens\":[{\"id\":20,\"content\":\"<t>\",\"single_word\":false,\"lstrip\":"
             "true,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"pre_tokenizer\":{"
             "\"type\":\"WhitespaceSplit\"},\"model\":" WP_ADDED "}",
     .text = "  <t>b <t>",
     .special = true,
     .n = 3,
     .ids = {10, 8, 10},
     .type_ids = {0, 0, 0},
     .offsets = {0, 5, 5, 6, 6, 10}},
    {.name = "x_wordpiece_long_word",
     .json = "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_LONG "}",
     .text = "aaaaa aaaaaa",
     .special = true,
     .n = 6,
     .ids = {5, 6, 6, 6, 6, 0},
     .type_ids = {0, 0, 0, 0, 0, 0},
     .offsets = {0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 12}},
    {.name = "x_wordpiece_prefix_custom",
     .json = "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_AT "}",
     .text = "unwanted wanted",
     .special = true,
     .n = 5,
     .ids = {5, 6, 7, 8, 7},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 2, 2, 6, 6, 8, 9, 13, 13, 15}},
    {.name = "precompiled_0",
     .json = "{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"" CHARSMAP
             "\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_CHARSMAP "}",
     .text = "Ａ ① A\u0301 ﬁ … Å ａ e\u0301 Ae\u0301",
     .special = true,
     .n = 9,
     .ids = {1, 2, 3, 4, 5, 6, 7, 8, 9},
     .type_ids = {0, 0, 0, 0, 0, 0, 0, 0, 0},
     .offsets = {0, 3, 4, 7, 8, 9, 12, 15, 16, 19, 20, 23, 24, 27, 28, 29, 32, 34}},
    {.name = "precompiled_1",
     .json = "{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"" CHARSMAP
             "\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_CHARSMAP "}",
     .text = "x\u3000y\u00a0z",
     .special = true,
     .n = 3,
     .ids = {10, 11, 12},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 4, 5, 7, 8}},
    {.name = "precompiled_2",
     .json = "{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"" CHARSMAP
             "\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_CHARSMAP "}",
     .text = "e\u0301\u0302 a\u0301 e\u0302",
     .special = true,
     .n = 3,
     .ids = {8, 0, 14},
     .type_ids = {0, 0, 0},
     .offsets = {0, 1, 6, 9, 10, 13}},
    {.name = "precompiled_3",
     .json = "{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"" CHARSMAP
             "\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_CHARSMAP "}",
     .text = "……b ＡＡ",
     .special = true,
     .n = 2,
     .ids = {0, 0},
     .type_ids = {0, 0},
     .offsets = {0, 7, 8, 14}},
    {.name = "precompiled_4",
     .json = "{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"" CHARSMAP
             "\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_CHARSMAP "}",
     .text = "e\u0301x",
     .special = true,
     .n = 1,
     .ids = {16},
     .type_ids = {0},
     .offsets = {0, 4}},
    {.name = "precompiled_5",
     .json = "{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"" CHARSMAP
             "\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"model\":" WP_CHARSMAP "}",
     .text = "👩\u200d💻 Ａ\u0301",
     .special = true,
     .n = 2,
     .ids = {0, 1},
     .type_ids = {0, 0},
     .offsets = {0, 11, 12, 15}},
    {.name = "precompiled_seq",
     .json = "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Precompiled\","
             "\"precompiled_charsmap\":\"" CHARSMAP
             "\"},{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" "
             "\"}]},\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\","
             "\"prepend_scheme\":\"always\",\"split\":true},\"model\":" WP_CHARSMAP_META "}",
     .text = "Ａ  x\u3000 ﬁ …",
     .special = true,
     .n = 4,
     .ids = {1, 2, 3, 4},
     .type_ids = {0, 0, 0, 0},
     .offsets = {0, 3, 4, 6, 9, 13, 13, 17}},
    {.name = "nmt",
     .json = "{\"normalizer\":{\"type\":\"Nmt\"},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
             "\"model\":" WP_NMT "}",
     .text = "a\x01"
             "b\tc\u200bd▁c\ufeffd\x7f"
             "",
     .special = true,
     .n = 5,
     .ids = {1, 2, 3, 2, 3},
     .type_ids = {0, 0, 0, 0, 0},
     .offsets = {0, 3, 4, 5, 8, 9, 12, 13, 16, 17}},
};

static void test_snippets(void)
{
	int n_cases = (int)(sizeof snippet_cases / sizeof snippet_cases[0]);
	for (int c = 0; c < n_cases; c++) {
		const struct snippet_case *sc = &snippet_cases[c];
		struct tokenizer *t = load_snippet(sc->json);
		CHECKF(t != NULL, "%s: load failed", sc->name);
		if (!t)
			continue;
		struct tok_encode_params p = tokenizer_default_params();
		p.add_special_tokens = sc->special;
		struct tok_encoding e;
		struct sy_error err = {0};
		enum sy_status st = tokenizer_encode(t, sc->text, strlen(sc->text), sc->pair,
		                                     sc->pair ? strlen(sc->pair) : 0, &p, &err, &e);
		if (sc->n < 0) {
			CHECKF(st == SY_ERR_INVALID_ARG, "%s: expected a truncation error, got %d",
			       sc->name, (int)st);
			if (st == SY_OK)
				tok_encoding_free(&e);
			tokenizer_free(t);
			continue;
		}
		CHECKF(st == SY_OK, "%s: %s", sc->name, err.msg);
		if (st != SY_OK) {
			tokenizer_free(t);
			continue;
		}
		bool same = e.n == sc->n;
		for (int i = 0; same && i < e.n; i++)
			same = e.ids[i] == sc->ids[i] && e.type_ids[i] == sc->type_ids[i] &&
			       e.offsets[2 * i] == sc->offsets[2 * i] &&
			       e.offsets[2 * i + 1] == sc->offsets[2 * i + 1];
		CHECKF(same, "%s: ids / type ids / offsets differ", sc->name);
		if (!same) {
			fprintf(stderr, "    got ");
			for (int i = 0; i < e.n; i++)
				fprintf(stderr, " %d:%d[%u,%u)", e.ids[i], e.type_ids[i],
				        e.offsets[2 * i], e.offsets[2 * i + 1]);
			fprintf(stderr, "\n    want");
			for (int i = 0; i < sc->n; i++)
				fprintf(stderr, " %d:%d[%u,%u)", sc->ids[i], sc->type_ids[i],
				        sc->offsets[2 * i], sc->offsets[2 * i + 1]);
			fprintf(stderr, "\n");
		}
		/* Special tokens are flagged and carry seq -1; the others belong to a text. */
		for (int i = 0; i < e.n; i++) {
			CHECK((e.seq[i] < 0) == (e.special[i] == 1));
			CHECK(e.seq[i] <= (sc->pair ? 1 : 0));
		}
		tok_encoding_free(&e);
		tokenizer_free(t);
	}
}

/* ---- Offsets ---- */

static void test_offsets_accents(void)
{
	struct tokenizer *t = load_bert_json();
	CHECK(t != NULL);
	if (!t)
		return;
	struct tok_encoding e;
	struct tok_encode_params p = tokenizer_default_params();
	/* "Héllo" is lowercased and stripped of its accent to "hello"; the token still covers the
	 * six original bytes (five characters). */
	CHECK(enc(t, "H\xc3\xa9llo", NULL, &p, &e) == SY_OK);
	CHECK_IDS(&e, 101, 7592, 102);
	CHECK_EQ_INT(e.offsets[2], 0);
	CHECK_EQ_INT(e.offsets[3], 6);
	CHECK_EQ_INT(tokenizer_char_offset("H\xc3\xa9llo", e.offsets[3]), 5);
	CHECK(e.special[0] == 1 && e.special[1] == 0 && e.special[2] == 1);
	CHECK(e.seq[0] == -1 && e.seq[1] == 0 && e.seq[2] == -1);
	CHECK(e.offsets[0] == 0 && e.offsets[1] == 0 && e.offsets[4] == 0 && e.offsets[5] == 0);
	tok_encoding_free(&e);
	/* "[MASK]" written in the text is one token, matched before normalization; the text
	 * around it keeps its offsets. */
	const char *txt = "\xc3\x85ngstr\xc3\xb6m [MASK] caf\xc3\xa9!";
	CHECK(enc(t, txt, NULL, &p, &e) == SY_OK);
	int mask = -1;
	for (int i = 0; i < e.n; i++)
		if (e.ids[i] == 103)
			mask = i;
	CHECK(mask > 0);
	if (mask > 0) {
		CHECK_EQ_INT(e.offsets[2 * mask], 11);
		CHECK_EQ_INT(e.offsets[2 * mask + 1], 17);
		CHECK_EQ_INT(e.offsets[2], 0); /* first word starts at the A-ring */
	}
	CHECK_EQ_INT(e.offsets[2 * (e.n - 2) + 1], strlen(txt)); /* "!" ends the text */
	tok_encoding_free(&e);
}

static void test_char_offset(void)
{
	CHECK_EQ_INT(tokenizer_char_offset("abc", 0), 0);
	CHECK_EQ_INT(tokenizer_char_offset("abc", 3), 3);
	CHECK_EQ_INT(tokenizer_char_offset("h\xc3\xa9llo", 3), 2);
	CHECK_EQ_INT(tokenizer_char_offset("\xf0\x9f\xa6\x99x", 5), 2);
	/* Invalid bytes count one per maximal invalid subsequence, as they are replaced. */
	CHECK_EQ_INT(tokenizer_char_offset("\xff\xfe"
	                                   "a",
	                                   3),
	             3);
	CHECK_EQ_INT(tokenizer_char_offset("\xe2\x82"
	                                   "a",
	                                   3),
	             2);
	CHECK_EQ_INT(tokenizer_char_offset("a\0b", 3), 3);
}

/* ---- Invalid UTF-8 ---- */

/* FixedLength(1) makes every input unit its own piece: ids show U+FFFD, offsets show the bytes
 * each replacement stands for. */
static const char *const unit_json =
    "{\"pre_tokenizer\":{\"type\":\"FixedLength\",\"length\":1},"
    "\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":1,\"b\":2,\"\\ufffd\":3,"
    "\"\\u00e9\":4}}}";

struct utf8_case {
	const char *text;
	size_t len;
	int n;
	int32_t ids[8];
	uint32_t offsets[16];
};

static void test_invalid_utf8(void)
{
	static const struct utf8_case cases[] = {
	    /* 0xFF is never valid */
	    {"a\xff"
	     "b",
	     3,
	     3,
	     {1, 3, 2},
	     {0, 1, 1, 2, 2, 3}},
	    /* a truncated two-byte sequence at the end */
	    {"a\xc3", 2, 2, {1, 3}, {0, 1, 1, 2}},
	    /* a truncated three-byte sequence followed by ASCII: one replacement */
	    {"\xe2\x82"
	     "a",
	     3,
	     2,
	     {3, 1},
	     {0, 2, 2, 3}},
	    /* overlong encodings: C0 and C1 never start a sequence, E0 80 is overlong */
	    {"\xc0\xaf", 2, 2, {3, 3}, {0, 1, 1, 2}},
	    {"\xe0\x80\xaf", 3, 3, {3, 3, 3}, {0, 1, 1, 2, 2, 3}},
	    /* lone continuation bytes, each its own replacement */
	    {"\x80\xbf"
	     "a",
	     3,
	     3,
	     {3, 3, 1},
	     {0, 1, 1, 2, 2, 3}},
	    /* an encoded surrogate (ED A0 80) is three maximal subparts */
	    {"\xed\xa0\x80", 3, 3, {3, 3, 3}, {0, 1, 1, 2, 2, 3}},
	    /* beyond U+10FFFF */
	    {"\xf4\x90\x80\x80", 4, 4, {3, 3, 3, 3}, {0, 1, 1, 2, 2, 3, 3, 4}},
	    /* a truncated four-byte sequence, then a valid character */
	    {"\xf0\x9f\x98\xc3\xa9", 5, 2, {3, 4}, {0, 3, 3, 5}},
	    /* embedded NUL is just a character (not in the vocabulary) */
	    {"a\0b", 3, 3, {1, 0, 2}, {0, 1, 1, 2, 2, 3}},
	    /* a real U+FFFD in the input is the same token */
	    {"\xef\xbf\xbd", 3, 1, {3}, {0, 3}},
	};
	struct tokenizer *t = load_snippet(unit_json);
	CHECK(t != NULL);
	if (!t)
		return;
	struct tok_encode_params p = params(-1, TOK_TRUNCATE_LONGEST_FIRST, false);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const struct utf8_case *uc = &cases[c];
		/* Copy into an exact-size heap block so that ASan catches any read past the end. */
		char *buf = malloc(uc->len);
		memcpy(buf, uc->text, uc->len);
		struct tok_encoding e;
		struct sy_error err = {0};
		CHECK(tokenizer_encode(t, buf, uc->len, NULL, 0, &p, &err, &e) == SY_OK);
		bool same = e.n == uc->n;
		for (int i = 0; same && i < e.n; i++)
			same = e.ids[i] == uc->ids[i] && e.offsets[2 * i] == uc->offsets[2 * i] &&
			       e.offsets[2 * i + 1] == uc->offsets[2 * i + 1];
		CHECKF(same, "case %zu", c);
		tok_encoding_free(&e);
		free(buf);
	}
	tokenizer_free(t);
}

/* Random bytes through the real BERT tokenizer and a byte-level one: no crash, offsets in
 * bounds and ordered. */
static void test_random_bytes(void)
{
	struct tokenizer *ts[2] = {
	    load_bert_json(),
	    load_snippet(
	        "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true},"
	        "\"post_processor\":{\"type\":\"ByteLevel\",\"trim_offsets\":true},"
	        "\"normalizer\":{\"type\":\"NFKC\"},"
	        "\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"\\u0120\":1}}}"),
	};
	CHECK(ts[0] && ts[1]);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int it = 0; it < 3000 && ts[0] && ts[1]; it++) {
		size_t len = (size_t)(x >> 58);
		unsigned char *buf = malloc(len ? len : 1);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Mostly high bytes and a few ASCII, to hit every decoder path. */
			buf[i] = (x & 3) ? (unsigned char)(0x80 + (x >> 8) % 128)
			                 : (unsigned char)(x >> 8);
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (int k = 0; k < 2; k++) {
			struct tok_encoding e;
			struct sy_error err = {0};
			struct tok_encode_params p = params(-1, TOK_TRUNCATE_LONGEST_FIRST, true);
			enum sy_status st =
			    tokenizer_encode(ts[k], (const char *)buf, len, NULL, 0, &p, &err, &e);
			CHECKF(st == SY_OK, "%s", err.msg);
			if (st != SY_OK)
				continue;
			uint32_t prev = 0;
			for (int i = 0; i < e.n; i++) {
				if (e.special[i])
					continue;
				CHECK(e.offsets[2 * i] <= e.offsets[2 * i + 1]);
				CHECK(e.offsets[2 * i + 1] <= len);
				CHECK(e.offsets[2 * i] >= prev);
				prev = e.offsets[2 * i];
			}
			tok_encoding_free(&e);
		}
		free(buf);
	}
	tokenizer_free(ts[1]);
}

/* A Precompiled normalizer whose trie is random words must stay in bounds whatever the input. */
static void test_precompiled_random_trie(void)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t x = 0x243F6A8885A308D3ull;
	for (int round = 0; round < 20; round++) {
		/* 4-byte size, 64 random units, then ASCII replacements. */
		unsigned char raw[4 + 256 + 8];
		raw[0] = 0;
		raw[1] = 1; /* 256 bytes of trie */
		raw[2] = raw[3] = 0;
		for (int i = 4; i < 4 + 256; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			raw[i] = (unsigned char)(round & 1 ? x : x & 0x8F);
		}
		memcpy(raw + 260, "ab\0cde\0x", 8);
		char enc64[400], json[700];
		int k = 0;
		for (size_t i = 0; i < sizeof raw; i += 3) {
			uint32_t v = (uint32_t)raw[i] << 16 |
			             (i + 1 < sizeof raw ? (uint32_t)raw[i + 1] << 8 : 0) |
			             (i + 2 < sizeof raw ? raw[i + 2] : 0);
			enc64[k++] = b64[v >> 18];
			enc64[k++] = b64[(v >> 12) & 63];
			enc64[k++] = i + 1 < sizeof raw ? b64[(v >> 6) & 63] : '=';
			enc64[k++] = i + 2 < sizeof raw ? b64[v & 63] : '=';
		}
		enc64[k] = '\0';
		snprintf(
		    json, sizeof json,
		    "{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"%s\"},"
		    "\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}",
		    enc64);
		struct tokenizer *t = load_snippet(json);
		CHECK(t != NULL);
		if (!t)
			continue;
		for (int it = 0; it < 50; it++) {
			unsigned char buf[24];
			for (size_t i = 0; i < sizeof buf; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				buf[i] = (unsigned char)x;
			}
			struct tok_encoding e;
			struct sy_error err = {0};
			struct tok_encode_params p = params(-1, TOK_TRUNCATE_LONGEST_FIRST, false);
			CHECK(tokenizer_encode(t, (const char *)buf, sizeof buf, NULL, 0, &p, &err,
			                       &e) == SY_OK);
			for (int i = 0; i < e.n; i++)
				CHECK(e.offsets[2 * i] <= e.offsets[2 * i + 1] &&
				      e.offsets[2 * i + 1] <= sizeof buf);
			tok_encoding_free(&e);
		}
		tokenizer_free(t);
	}
}

/* ---- Malformed files ---- */

struct error_case {
	const char *json;
	enum sy_status status;
	const char *msg; /* exact message */
};

#define WP_MIN "\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}"

static void test_errors(void)
{
	static const struct error_case cases[] = {
	    {"{", SY_ERR_FORMAT, "tokenizer.json: invalid JSON near byte 0"},
	    {"[]", SY_ERR_FORMAT, "tokenizer.json: expected a JSON object"},
	    {"{}", SY_ERR_FORMAT, "tokenizer.json: model: missing"},
	    {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":[]}}", SY_ERR_FORMAT,
	     "tokenizer.json: model.vocab: expected object"},
	    {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":\"x\"}}}", SY_ERR_FORMAT,
	     "tokenizer.json: model.vocab[\"a\"]: expected a non-negative integer id"},
	    {"{\"model\":{\"type\":\"Magic\"}}", SY_ERR_UNSUPPORTED,
	     "tokenizer.json: model.type: unknown model \"Magic\""},
	    {"{\"normalizer\":{\"type\":\"Foo\"}," WP_MIN "}", SY_ERR_UNSUPPORTED,
	     "tokenizer.json: normalizer.type: unknown normalizer \"Foo\""},
	    {"{\"normalizer\":{\"lowercase\":true}," WP_MIN "}", SY_ERR_FORMAT,
	     "tokenizer.json: normalizer.type: missing"},
	    {"{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAA=\"}," WP_MIN
	     "}",
	     SY_ERR_FORMAT, "tokenizer.json: normalizer.precompiled_charsmap: too short"},
	    {"{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"!!\"}," WP_MIN
	     "}",
	     SY_ERR_FORMAT, "tokenizer.json: normalizer.precompiled_charsmap: invalid base64"},
	    {"{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"/"
	     "wAAAAAA\"}," WP_MIN "}",
	     SY_ERR_FORMAT,
	     "tokenizer.json: normalizer.precompiled_charsmap: trie size 255 exceeds the data"},
	    {"{\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":1}," WP_MIN "}",
	     SY_ERR_FORMAT, "tokenizer.json: normalizer.lowercase: expected boolean"},
	    {"{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":"
	     "\"Bar\"}]}," WP_MIN "}",
	     SY_ERR_UNSUPPORTED,
	     "tokenizer.json: normalizer.normalizers[1].type: unknown normalizer \"Bar\""},
	    {"{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"(\"},\"content\":\"\"}"
	     "," WP_MIN "}",
	     SY_ERR_UNSUPPORTED, NULL},
	    {"{\"normalizer\":{\"type\":\"Replace\",\"pattern\":\"x\",\"content\":\"\"}," WP_MIN
	     "}",
	     SY_ERR_FORMAT,
	     "tokenizer.json: normalizer.pattern: expected {\"String\": ...} or {\"Regex\": ...}"},
	    {"{\"pre_tokenizer\":{\"type\":\"Qux\"}," WP_MIN "}", SY_ERR_UNSUPPORTED,
	     "tokenizer.json: pre_tokenizer.type: unknown pre-tokenizer \"Qux\""},
	    {"{\"pre_tokenizer\":{\"type\":\"UnicodeScripts\"}," WP_MIN "}", SY_ERR_UNSUPPORTED,
	     "tokenizer.json: pre_tokenizer.type: unsupported pre-tokenizer \"UnicodeScripts\""},
	    {"{\"pre_tokenizer\":{\"type\":\"Punctuation\",\"behavior\":\"Sideways\"}," WP_MIN "}",
	     SY_ERR_FORMAT,
	     "tokenizer.json: pre_tokenizer.behavior: unknown split behavior \"Sideways\""},
	    {"{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Metaspace\","
	     "\"replacement\":\"ab\"}]}," WP_MIN "}",
	     SY_ERR_FORMAT,
	     "tokenizer.json: pre_tokenizer.pretokenizers[0].replacement: expected a single "
	     "character"},
	    {"{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"}}," WP_MIN "}",
	     SY_ERR_FORMAT, "tokenizer.json: pre_tokenizer.behavior: missing"},
	    {"{\"post_processor\":{\"type\":\"Zap\"}," WP_MIN "}", SY_ERR_UNSUPPORTED,
	     "tokenizer.json: post_processor.type: unknown post-processor \"Zap\""},
	    {"{\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\"],\"cls\":[\"[CLS]"
	     "\",1]}," WP_MIN "}",
	     SY_ERR_FORMAT, "tokenizer.json: post_processor.sep: expected [token, id]"},
	    {"{\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":"
	     "{\"id\":\"[X]\",\"type_id\":0}}],\"special_tokens\":{}}," WP_MIN "}",
	     SY_ERR_FORMAT, "tokenizer.json: post_processor.special_tokens: missing \"[X]\""},
	    {"{\"added_tokens\":{}," WP_MIN "}", SY_ERR_FORMAT,
	     "tokenizer.json: added_tokens: expected array"},
	    {"{\"added_tokens\":[{\"id\":1}]," WP_MIN "}", SY_ERR_FORMAT,
	     "tokenizer.json: added_tokens[0].content: missing"},
	    {"{\"truncation\":{\"max_length\":5,\"strategy\":\"Middle\"}," WP_MIN "}",
	     SY_ERR_FORMAT, "tokenizer.json: truncation.strategy: unknown strategy \"Middle\""},
	    {"{\"truncation\":{\"max_length\":-5}," WP_MIN "}", SY_ERR_FORMAT, NULL},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct sy_error err = {0};
		struct tokenizer *t = NULL;
		enum sy_status st =
		    tokenizer_load_json(cases[c].json, strlen(cases[c].json), &err, &t);
		CHECKF(st == cases[c].status, "case %zu: status %d, want %d (%s)", c, (int)st,
		       (int)cases[c].status, err.msg);
		CHECK(t == NULL);
		if (cases[c].msg)
			CHECK_STREQ(err.msg, cases[c].msg);
		else
			CHECKF(strncmp(err.msg, "tokenizer.json: ", 16) == 0, "%s", err.msg);
		tokenizer_free(t);
	}
	/* A file on disk names its path. */
	struct sy_error err = {0};
	struct tokenizer *t = NULL;
	CHECK(tokenizer_load("/nonexistent/tokenizer.json", &err, &t) == SY_ERR_IO);
	CHECK(strstr(err.msg, "/nonexistent/tokenizer.json") != NULL);
	CHECK(tokenizer_load("/nonexistent-dir-for-test/", &err, &t) != SY_OK);
}

/* ---- Parameters, pairs, truncation through params ---- */

static void test_params(void)
{
	struct tokenizer *t = load_bert_json();
	CHECK(t != NULL);
	if (!t)
		return;
	struct tok_encoding e;
	struct tok_encode_params p;
	/* tokenizer.json truncates at 128. */
	char long_text[2000];
	for (int i = 0; i < 300; i++)
		memcpy(long_text + 2 * i, "a ", 2);
	long_text[600] = '\0';
	p = tokenizer_default_params();
	CHECK(enc(t, long_text, NULL, &p, &e) == SY_OK);
	CHECK_EQ_INT(e.n, 128);
	CHECK_EQ_INT(e.ids[127], 102);
	tok_encoding_free(&e);
	p = params(-1, TOK_TRUNCATE_LONGEST_FIRST, true);
	CHECK(enc(t, long_text, NULL, &p, &e) == SY_OK);
	CHECK_EQ_INT(e.n, 302);
	tok_encoding_free(&e);
	p = params(10, TOK_TRUNCATE_LONGEST_FIRST, true);
	CHECK(enc(t, long_text, NULL, &p, &e) == SY_OK);
	CHECK_EQ_INT(e.n, 10);
	tok_encoding_free(&e);
	p = params(10, TOK_TRUNCATE_LONGEST_FIRST, false);
	CHECK(enc(t, long_text, NULL, &p, &e) == SY_OK);
	CHECK_EQ_INT(e.n, 10);
	CHECK_EQ_INT(e.ids[0], 1037);
	tok_encoding_free(&e);
	/* Pairs: [CLS] A [SEP] B [SEP] with type ids 0 / 1 (the TEXT_PAIR case with offsets). */
	p = tokenizer_default_params();
	CHECK(enc(t, "hello", "big world", &p, &e) == SY_OK);
	CHECK_IDS(&e, 101, 7592, 102, 2502, 2088, 102);
	static const int32_t types[] = {0, 0, 0, 1, 1, 1};
	static const int8_t seqs[] = {-1, 0, -1, 1, 1, -1};
	static const uint32_t offs[] = {0, 0, 0, 5, 0, 0, 0, 3, 4, 9, 0, 0};
	for (int i = 0; i < e.n && i < 6; i++) {
		CHECK_EQ_INT(e.type_ids[i], types[i]);
		CHECK_EQ_INT(e.seq[i], seqs[i]);
		CHECK_EQ_INT(e.offsets[2 * i], offs[2 * i]);
		CHECK_EQ_INT(e.offsets[2 * i + 1], offs[2 * i + 1]);
	}
	tok_encoding_free(&e);
	/* Each strategy through params: "a b c d e f" / "g h" at max_length 7 (3 specials). */
	p = params(7, TOK_TRUNCATE_LONGEST_FIRST, true);
	CHECK(enc(t, "a b c d e f", "g h", &p, &e) == SY_OK);
	CHECK_IDS(&e, 101, 1037, 1038, 102, 1043, 1044, 102);
	tok_encoding_free(&e);
	p = params(7, TOK_TRUNCATE_ONLY_FIRST, true);
	CHECK(enc(t, "a b c d e f", "g h", &p, &e) == SY_OK);
	CHECK_IDS(&e, 101, 1037, 1038, 102, 1043, 1044, 102);
	tok_encoding_free(&e);
	p = params(7, TOK_TRUNCATE_ONLY_SECOND, true);
	CHECK(enc(t, "a b", "c d e f g h", &p, &e) == SY_OK);
	CHECK_IDS(&e, 101, 1037, 1038, 102, 1039, 1040, 102);
	tok_encoding_free(&e);
	/* only_second cannot shorten the first text: an error, as in Hugging Face. */
	struct sy_error err = {0};
	p = params(7, TOK_TRUNCATE_ONLY_SECOND, true);
	CHECK(tokenizer_encode(t, "a b c d e f", 11, "g", 1, &p, &err, &e) == SY_ERR_INVALID_ARG);
	CHECK(strstr(err.msg, "only_second") != NULL);
	p = params(7, TOK_TRUNCATE_ONLY_SECOND, true);
	CHECK(tokenizer_encode(t, "a b c d e f", 11, NULL, 0, &p, &err, &e) == SY_ERR_INVALID_ARG);
	p.truncation = (enum tok_truncation)42;
	CHECK(tokenizer_encode(t, "a", 1, NULL, 0, &p, &err, &e) == SY_ERR_INVALID_ARG);
	/* Empty text: only the special tokens. */
	p = tokenizer_default_params();
	CHECK(tokenizer_encode(t, NULL, 0, NULL, 0, &p, &err, &e) == SY_OK);
	CHECK_IDS(&e, 101, 102);
	tok_encoding_free(&e);
	CHECK(tokenizer_encode(t, "", 0, "", 0, NULL, &err, &e) == SY_OK);
	CHECK_IDS(&e, 101, 102, 102);
	tok_encoding_free(&e);
}

/* ---- Vocabulary queries and loaders ---- */

static void test_queries(void)
{
	struct tokenizer *ts[2] = {load_bert_json(), load_bert_vocab()};
	for (int i = 0; i < 2; i++) {
		struct tokenizer *t = ts[i];
		CHECK(t != NULL);
		if (!t)
			continue;
		CHECK_EQ_INT(tokenizer_vocab_size(t), 30522);
		CHECK_EQ_INT(tokenizer_token_to_id(t, "[MASK]", 6), 103);
		CHECK_EQ_INT(tokenizer_token_to_id(t, "hello", 5), 7592);
		CHECK_EQ_INT(tokenizer_token_to_id(t, "##ing", 5), 2075);
		CHECK_EQ_INT(tokenizer_token_to_id(t, "no-such-token", 13), -1);
		CHECK_STREQ(tokenizer_id_to_token(t, 7592), "hello");
		CHECK_STREQ(tokenizer_id_to_token(t, 101), "[CLS]");
		CHECK(tokenizer_id_to_token(t, 30522) == NULL);
		CHECK(tokenizer_id_to_token(t, -1) == NULL);
		CHECK_EQ_INT(tokenizer_pad_id(t), 0);
		CHECK_STREQ(tokenizer_model_kind(t), "WordPiece");
		CHECK_EQ_INT(tokenizer_max_length(t), i == 0 ? 128 : -1);
	}
}

static bool write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static void test_load_directory(void)
{
	char dir[] = "/tmp/sy-text-test-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	/* A cased vocab.txt with CRLF line ends, and tokenizer_config.json saying do_lower_case false. */
	const char *vocab = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nHello\r\nhello\r\n##"
	                    "s\r\n,\r\nw\xc3\xa9\r\n";
	snprintf(path, sizeof path, "%s/vocab.txt", dir);
	CHECK(write_file(path, vocab, strlen(vocab)));
	snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
	CHECK(write_file(path, "{\"do_lower_case\": false, \"strip_accents\": null}", 47));
	struct sy_error err = {0};
	struct tokenizer *t = NULL;
	CHECK(tokenizer_load(dir, &err, &t) == SY_OK);
	if (t) {
		struct tok_encoding e;
		struct tok_encode_params p = tokenizer_default_params();
		CHECK(enc(t, "Hello hellos, w\xc3\xa9 HELLO [MASK]", NULL, &p, &e) == SY_OK);
		CHECK_IDS(&e, 2, 5, 6, 7, 8, 9, 1, 4, 3);
		tok_encoding_free(&e);
		CHECK_EQ_INT(tokenizer_vocab_size(t), 10);
		tokenizer_free(t);
	}
	/* Without the config, do_lower_case defaults to true (and accents are stripped). */
	snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
	remove(path);
	CHECK(tokenizer_load(dir, &err, &t) == SY_OK);
	if (t) {
		struct tok_encoding e;
		struct tok_encode_params p = tokenizer_default_params();
		CHECK(enc(t, "Hello w\xc3\xa9", NULL, &p, &e) == SY_OK);
		CHECK_IDS(&e, 2, 6, 1, 3);
		tok_encoding_free(&e);
		tokenizer_free(t);
	}
	/* tokenizer.json wins over vocab.txt. */
	snprintf(path, sizeof path, "%s/tokenizer.json", dir);
	const char *tj = "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"x\":1}}}";
	CHECK(write_file(path, tj, strlen(tj)));
	CHECK(tokenizer_load(dir, &err, &t) == SY_OK);
	if (t) {
		CHECK_EQ_INT(tokenizer_vocab_size(t), 2);
		CHECK_EQ_INT(tokenizer_max_length(t), -1);
		tokenizer_free(t);
	}
	remove(path);
	snprintf(path, sizeof path, "%s/vocab.txt", dir);
	remove(path);
	CHECK(tokenizer_load(dir, &err, &t) == SY_ERR_NOT_FOUND);
	CHECK(strstr(err.msg, dir) != NULL);
	rmdir(dir);
}

/* ---- Threads and speed ---- */

static const char *const sentences[] = {
    "A man is playing a large flute.",
    "Three men are playing chess.",
    "The company was founded in 2016 by two engineers from Z\xc3\xbcrich.",
    "You should've done this yesterday, but it's fine!",
    "How are you doing? I'm doing great, thanks for asking.",
    "Une femme coupe un oignon en d\xc3\xa9s.",
    "\xe7\x94\x9f\xe6\xb4\xbb\xe7\x9a\x84\xe7\x9c\x9f\xe8\xb0\x9b\xe6\x98\xaf",
    "let a = obj.toString();\ntoString();",
};
#define N_SENT ((int)(sizeof sentences / sizeof sentences[0]))

struct thread_arg {
	const struct tokenizer *t;
	int bad;
	int32_t want[N_SENT][64];
	int want_n[N_SENT];
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	struct tok_encode_params prm = tokenizer_default_params();
	for (int it = 0; it < 200; it++) {
		int s = it % N_SENT;
		struct tok_encoding e;
		struct sy_error err = {0};
		if (tokenizer_encode(a->t, sentences[s], strlen(sentences[s]), NULL, 0, &prm, &err,
		                     &e) != SY_OK) {
			a->bad++;
			continue;
		}
		if (e.n != a->want_n[s] || memcmp(e.ids, a->want[s], (size_t)e.n * 4) != 0)
			a->bad++;
		tok_encoding_free(&e);
	}
	return NULL;
}

static void test_threads(void)
{
	struct tokenizer *t = load_bert_json();
	CHECK(t != NULL);
	if (!t)
		return;
	static struct thread_arg args[4];
	for (int s = 0; s < N_SENT; s++) {
		struct tok_encoding e;
		struct tok_encode_params p = tokenizer_default_params();
		CHECK(enc(t, sentences[s], NULL, &p, &e) == SY_OK);
		CHECK(e.n <= 64);
		for (int k = 0; k < 4; k++) {
			args[k].want_n[s] = e.n;
			memcpy(args[k].want[s], e.ids, (size_t)e.n * 4);
		}
		tok_encoding_free(&e);
	}
	pthread_t th[4];
	for (int k = 0; k < 4; k++) {
		args[k].t = t;
		args[k].bad = 0;
		CHECK(pthread_create(&th[k], NULL, thread_main, &args[k]) == 0);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(th[k], NULL);
		CHECK_EQ_INT(args[k].bad, 0);
	}
}

/* Typical sentences must take microseconds, not milliseconds (the bound is loose enough for
 * sanitizer builds; the measured figure is printed with SY_TEST_VERBOSE). */
static void test_speed(void)
{
	struct tokenizer *t = load_bert_json();
	CHECK(t != NULL);
	if (!t)
		return;
	struct tok_encode_params p = tokenizer_default_params();
	int iters = 4000;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < iters; i++) {
		struct tok_encoding e;
		const char *s = sentences[i % N_SENT];
		if (enc(t, s, NULL, &p, &e) == SY_OK)
			tok_encoding_free(&e);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us =
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
	    iters;
	if (getenv("SY_TEST_VERBOSE"))
		fprintf(stderr, "  %.2f us per sentence\n", us);
	CHECKF(us < 500, "%.1f us per sentence", us);
}

/* What a tokenizer holds is reported for the model's memory budget (issue 23.5): it grows with
 * the vocabulary, by at least the bytes of its entries. */
static void test_tokenizer_bytes(void)
{
	const int n = 200000;
	char *json = malloc((size_t)n * 24 + 256);
	if (!json)
		return;
	int at = sprintf(json, "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"w0\","
	                       "\"vocab\":{");
	for (int i = 0; i < n; i++)
		at += sprintf(json + at, "%s\"w%d\":%d", i ? "," : "", i, i);
	at += sprintf(json + at, "}},\"pre_tokenizer\":{\"type\":\"Whitespace\"}}");
	struct sy_error err = {0};
	struct tokenizer *big = NULL, *small = NULL;
	CHECKF(tokenizer_load_json(json, (size_t)at, &err, &big) == SY_OK, "%s", err.msg);
	const char *tiny = "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"a\",\"vocab\":"
	                   "{\"a\":0,\"b\":1}}}";
	CHECKF(tokenizer_load_json(tiny, strlen(tiny), &err, &small) == SY_OK, "%s", err.msg);
	if (big && small) {
		const size_t b = tokenizer_bytes(big), s = tokenizer_bytes(small);
		printf("  200k-entry vocabulary: %zu bytes held; 2 entries: %zu\n", b, s);
		CHECK(b > (size_t)n * 8 + s && b < (size_t)n * 200);
	}
	tokenizer_free(big);
	tokenizer_free(small);
	free(json);
}

int main(void)
{
	RUN(test_transformers_js_bert_json);
	RUN(test_transformers_js_bert_vocab_txt);
	RUN(test_transformers_js_same_vocab);
	RUN(test_llama_cpp_bge);
	RUN(test_snippets);
	RUN(test_offsets_accents);
	RUN(test_char_offset);
	RUN(test_invalid_utf8);
	RUN(test_random_bytes);
	RUN(test_precompiled_random_trie);
	RUN(test_errors);
	RUN(test_params);
	RUN(test_queries);
	RUN(test_load_directory);
	RUN(test_threads);
	RUN(test_speed);
	RUN(test_tokenizer_bytes);
	tokenizer_free(bert_json);
	tokenizer_free(bert_vocab);
	return harness_summary();
}
