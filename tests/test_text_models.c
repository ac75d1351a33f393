/* Tests for the Unigram, BPE and WordLevel tokenizer models (src/text/unigram.c, bpe.c,
 * wordlevel.c). Each model is built from a small hand-written tokenizer.json "model" object; the
 * expected ids were worked out by hand from the algorithm's definition (Hugging Face `tokenizers`
 * semantics) and the working is written next to each case. Inputs are copied into exactly sized
 * heap buffers so the address sanitizer catches any read past a piece. */
#include <cjson/cJSON.h>

#include "harness.h"
#include "text/text_model.h"
#include "text/tokenizer.h"

typedef enum sy_status (*model_builder)(const cJSON *model, struct sy_error *err,
                                        struct text_model *out);

/* Builds a model from JSON text; the cJSON tree is freed at once, so a model that kept a
 * pointer into it would fail under the sanitizer. */
static enum sy_status model_build(model_builder fn, const char *json, struct sy_error *err,
                                  struct text_model *out)
{
	cJSON *j = cJSON_Parse(json);
	if (!j) {
		fprintf(stderr, "  test JSON does not parse: %s\n", json);
		return SY_ERR_INTERNAL;
	}
	memset(out, 0, sizeof *out);
	enum sy_status st = fn(j, err, out);
	cJSON_Delete(j);
	return st;
}

static struct text_model model_load(model_builder fn, const char *json)
{
	struct sy_error err = {0};
	struct text_model m;
	enum sy_status st = model_build(fn, json, &err, &m);
	CHECKF(st == SY_OK, "load failed: %s", err.msg);
	if (st != SY_OK)
		memset(&m, 0, sizeof m);
	return m;
}

static void model_release(struct text_model *m)
{
	if (m->vt)
		m->vt->free(m->impl);
	memset(m, 0, sizeof *m);
}

/* Tokenizes len bytes of text (copied to an exactly sized buffer). */
static enum sy_status model_run(const struct text_model *m, const char *text, size_t len,
                                struct sy_error *err, struct tok_piece_buf *out)
{
	memset(out, 0, sizeof *out);
	if (!m->vt)
		return SY_ERR_INTERNAL;
	char *buf = malloc(len ? len : 1);
	memcpy(buf, text, len);
	enum sy_status st = m->vt->tokenize(m->impl, buf, len, out, err);
	free(buf);
	return st;
}

/* Checks the ids (and, when offs is non-NULL, the [start, end) ranges) of text's tokens. */
static void expect_tokens(int line, const struct text_model *m, const char *text, size_t len, int n,
                          const int32_t *ids, const uint32_t (*offs)[2])
{
	struct sy_error err = {0};
	struct tok_piece_buf out;
	enum sy_status st = model_run(m, text, len, &err, &out);
	int ok = st == SY_OK && out.n == n;
	for (int i = 0; ok && i < n; i++)
		ok = out.v[i].id == ids[i] &&
		     (!offs || (out.v[i].start == offs[i][0] && out.v[i].end == offs[i][1]));
	if (!ok) {
		fprintf(stderr, "  FAIL line %d in %s: \"%.*s\": status %s (%s), got", line,
		        harness_cur_name, (int)len, text, sy_status_str(st), err.msg);
		for (int i = 0; i < out.n; i++)
			fprintf(stderr, " %d(%u,%u)", out.v[i].id, out.v[i].start, out.v[i].end);
		fprintf(stderr, "; want");
		for (int i = 0; i < n; i++)
			fprintf(stderr, " %d", ids[i]);
		fputc('\n', stderr);
		harness_cur_failed = 1;
	}
	free(out.v);
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__})
#define NIDS(...) ((int)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))
#define OFFS(...) ((const uint32_t[][2]){__VA_ARGS__})
/* EXPECT(model, "text", IDS(...), OFFS(...) or NULL), with text a string literal. */
#define EXPECT(m, text, ids, offs)                             \
	expect_tokens(__LINE__, (m), (text), sizeof(text) - 1, \
	              (int)(sizeof(ids) / sizeof(int32_t)), (ids), (offs))
#define EXPECT_IDS(m, text, ...)                                                  \
	expect_tokens(__LINE__, (m), (text), sizeof(text) - 1, NIDS(__VA_ARGS__), \
	              IDS(__VA_ARGS__), NULL)
#define EXPECT_NONE(m, text) expect_tokens(__LINE__, (m), (text), sizeof(text) - 1, 0, NULL, NULL)

/* Expects tokenizing text to fail with status want and a message containing sub. */
static void expect_tok_error(int line, const struct text_model *m, const char *text, size_t len,
                             enum sy_status want, const char *sub)
{
	struct sy_error err = {0};
	struct tok_piece_buf out;
	enum sy_status st = model_run(m, text, len, &err, &out);
	if (st != want || !strstr(err.msg, sub)) {
		fprintf(stderr,
		        "  FAIL line %d in %s: \"%.*s\": status %s (%s), want %s with \"%s\"\n",
		        line, harness_cur_name, (int)len, text, sy_status_str(st), err.msg,
		        sy_status_str(want), sub);
		harness_cur_failed = 1;
	}
	free(out.v);
}
#define EXPECT_TOK_ERROR(m, text, want, sub) \
	expect_tok_error(__LINE__, (m), (text), sizeof(text) - 1, (want), (sub))

/* Expects loading json to fail with SY_ERR_FORMAT (or want) and a message containing sub. */
static void expect_load_error(int line, model_builder fn, const char *json, enum sy_status want,
                              const char *sub)
{
	struct sy_error err = {0};
	struct text_model m;
	enum sy_status st = model_build(fn, json, &err, &m);
	if (st != want || !strstr(err.msg, sub)) {
		fprintf(stderr, "  FAIL line %d in %s: %s: status %s (%s), want \"%s\"\n", line,
		        harness_cur_name, json, sy_status_str(st), err.msg, sub);
		harness_cur_failed = 1;
	}
	if (st == SY_OK)
		model_release(&m);
}
#define EXPECT_LOAD_ERROR(fn, json, sub) \
	expect_load_error(__LINE__, (fn), (json), SY_ERR_FORMAT, (sub))

/* ---- Unigram ---- */

/* The example from the reference's documentation of Unigram::encode. Pieces (id: piece score):
 * 0 <unk> 0, 1 a 0, 2 b 0, 3 c 0, 4 d 0, 5 cd 1, 6 ab 2, 7 abc 5, 8 abcd 10.
 * "abcdacdxx": abcd(10) + a(0) + cd(1) + x + x (unknown, min 0 - 10 each) = -9 is the best path;
 * the two unknown x fuse into one unk: ids 8 1 5 0. */
static void test_unigram_reference_example(void)
{
	struct text_model m = model_load(
	    unigram_from_json, "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],"
	                       "[\"a\",0],[\"b\",0],[\"c\",0],[\"d\",0],[\"cd\",1],[\"ab\",2],"
	                       "[\"abc\",5],[\"abcd\",10]]}");
	EXPECT(&m, "abcdacdxx", IDS(8, 1, 5, 0), OFFS({0, 4}, {4, 5}, {5, 7}, {7, 9}));
	CHECK_STREQ(m.vt->kind, "Unigram");
	model_release(&m);
}

/* Regression: a trie node with more than 8 children (the root here has "a".."l" and "x"), where
 * the binary search stops with the matching child at its upper bound. Pieces: 0 <unk> 0, then
 * single letters a..l at -5 (ids 1..12), 13 x -5, 14 xa -1, ..., 25 xl -1. "xk" must be the one
 * piece xk (24), not x + k (-10); "xa" is 14. */
static void test_unigram_wide_trie_node(void)
{
	char json[2048];
	int n = snprintf(json, sizeof json,
	                 "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0]");
	for (char c = 'a'; c <= 'l'; c++)
		n += snprintf(json + n, sizeof json - (size_t)n, ",[\"%c\",-5]", c);
	n += snprintf(json + n, sizeof json - (size_t)n, ",[\"x\",-5]");
	for (char c = 'a'; c <= 'l'; c++)
		n += snprintf(json + n, sizeof json - (size_t)n, ",[\"x%c\",-1]", c);
	snprintf(json + n, sizeof json - (size_t)n, "]}");
	struct text_model m = model_load(unigram_from_json, json);
	for (char c = 'a'; c <= 'l'; c++) {
		char text[3] = {'x', c, 0};
		EXPECT_IDS(&m, text, 14 + (c - 'a'));
		char one[2] = {c, 0};
		EXPECT_IDS(&m, one, 1 + (c - 'a'));
	}
	model_release(&m);
}

/* Pieces: 0 <unk> 0, 1 a -1, 2 b -1, 3 c -1, 4 ab -1.5, 5 abc -5, 6 bc -1.2.
 * "abc": abc = -5, ab+c = -2.5, a+bc = -2.2, a+b+c = -3: Viterbi picks a+bc (1 6), where a
 * greedy longest match would take abc (5).
 * "ab": ab = -1.5 beats a+b = -2 (4). "bca": bc + a = -2.2 (6 1). */
static void test_unigram_viterbi_not_greedy(void)
{
	struct text_model m = model_load(
	    unigram_from_json, "{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":false,"
	                       "\"vocab\":[[\"<unk>\",0],[\"a\",-1],[\"b\",-1],[\"c\",-1],"
	                       "[\"ab\",-1.5],[\"abc\",-5],[\"bc\",-1.2]]}");
	EXPECT(&m, "abc", IDS(1, 6), OFFS({0, 1}, {1, 3}));
	EXPECT_IDS(&m, "ab", 4);
	EXPECT_IDS(&m, "bca", 6, 1);
	EXPECT_NONE(&m, "");
	model_release(&m);
}

/* The unknown score is exactly min score - 10. Pieces: 0 <unk> 0, 1 q -10 (pins the minimum,
 * so unknown = -20), 2 xy -10, 3 z -10, 4 yz Y, 5 y -1.
 * "xyz": xy + z = -20 against unk(x) + yz = -20 + Y.
 * Y = -0.5: -20 > -20.5, so xy z (2 3). Y = 0.5: -19.5 wins, unk yz (0 4). A penalty of 9 or 11
 * would flip one of the two. */
static void test_unigram_unknown_penalty(void)
{
	struct text_model m = model_load(
	    unigram_from_json, "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],"
	                       "[\"q\",-10],[\"xy\",-10],[\"z\",-10],[\"yz\",-0.5],[\"y\",-1]]}");
	EXPECT(&m, "xyz", IDS(2, 3), OFFS({0, 2}, {2, 3}));
	model_release(&m);
	m = model_load(unigram_from_json,
	               "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],"
	               "[\"q\",-10],[\"xy\",-10],[\"z\",-10],[\"yz\",0.5],[\"y\",-1]]}");
	EXPECT(&m, "xyz", IDS(0, 4), OFFS({0, 1}, {1, 3}));
	model_release(&m);
}

/* Pieces: 0 a -1, 1 <unk> 0, 2 b -2 (unk_id 1, not 0).
 * "axyb": x and y are unknown and adjacent, so they fuse: a unk b (0 1 2).
 * "aé€b": é (2 bytes) and € (3 bytes) fuse into one unk over bytes 1..6.
 * "xa": an unknown at the start. "<unk>": the literal piece (score 0) beats five unknowns, and
 * has unk_id, so it comes out as unk over the whole text. */
static void test_unigram_unknown_fusion(void)
{
	struct text_model m = model_load(unigram_from_json,
	                                 "{\"type\":\"Unigram\",\"unk_id\":1,\"vocab\":[[\"a\",-1],"
	                                 "[\"<unk>\",0],[\"b\",-2]]}");
	EXPECT(&m, "axyb", IDS(0, 1, 2), OFFS({0, 1}, {1, 3}, {3, 4}));
	EXPECT(&m,
	       "a\xC3\xA9\xE2\x82\xAC"
	       "b",
	       IDS(0, 1, 2), OFFS({0, 1}, {1, 6}, {6, 7}));
	EXPECT(&m, "xa", IDS(1, 0), OFFS({0, 1}, {1, 2}));
	EXPECT(&m, "<unk>", IDS(1), OFFS({0, 5}));
	model_release(&m);
}

/* Ties keep the candidate found first. Pieces: 0 <unk> 0, 1 a -1, 2 b -1, 3 ab -2.
 * "ab": ab (-2, found from position 0) reaches the end before a+b (-1 + -1 = -2 exactly, found
 * from position 1), and an equal score does not replace it: ab (3). */
static void test_unigram_tie(void)
{
	struct text_model m = model_load(
	    unigram_from_json, "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],"
	                       "[\"a\",-1],[\"b\",-1],[\"ab\",-2]]}");
	EXPECT_IDS(&m, "ab", 3);
	model_release(&m);
}

/* Byte fallback. Pieces: 0 <unk> 0, 1 a -1, 2 <0xC3> -5, 3 <0xA9> -5, 4 <0x78> -5.
 * "aéa": é is unknown; its bytes C3 A9 both exist: a <0xC3> <0xA9> a (1 2 3 1), each byte token
 * with the range of é. "éx": é and x fuse into one unknown run, all three bytes exist:
 * 2 3 4. "ü" (C3 BC): 0xBC has no token, so the whole run is unk (0). "éü" likewise (0). */
static void test_unigram_byte_fallback(void)
{
	struct text_model m = model_load(
	    unigram_from_json,
	    "{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,\"vocab\":[[\"<unk>\",0],"
	    "[\"a\",-1],[\"<0xC3>\",-5],[\"<0xA9>\",-5],[\"<0x78>\",-5]]}");
	EXPECT(&m,
	       "a\xC3\xA9"
	       "a",
	       IDS(1, 2, 3, 1), OFFS({0, 1}, {1, 3}, {1, 3}, {3, 4}));
	EXPECT(&m, "\xC3\xA9x", IDS(2, 3, 4), OFFS({0, 2}, {0, 2}, {2, 3}));
	EXPECT(&m, "\xC3\xBC", IDS(0), OFFS({0, 2}));
	EXPECT(&m, "\xC3\xA9\xC3\xBC", IDS(0), OFFS({0, 4}));
	model_release(&m);
}

/* Without unk_id. Pieces: 0 a 0, 1 ab -1 (unk_id null).
 * "a" -> 0; "ab" -> 1: b has no piece of its own, but the unknown node for b (-1 + -11) never
 * beats ab (-1), so no error. "ac": c can only be unknown -> error. */
static void test_unigram_no_unk(void)
{
	struct text_model m = model_load(
	    unigram_from_json, "{\"type\":\"Unigram\",\"unk_id\":null,\"vocab\":[[\"a\",0],"
	                       "[\"ab\",-1]]}");
	EXPECT_IDS(&m, "a", 0);
	EXPECT_IDS(&m, "ab", 1);
	EXPECT_TOK_ERROR(&m, "ac", SY_ERR_INVALID_ARG, "unk_id");
	model_release(&m);
	/* An empty vocabulary without unk_id loads, and fails on any character. */
	m = model_load(unigram_from_json, "{\"type\":\"Unigram\",\"vocab\":[]}");
	EXPECT_NONE(&m, "");
	EXPECT_TOK_ERROR(&m, "a", SY_ERR_INVALID_ARG, "unk_id");
	CHECK_EQ_INT(m.vt->vocab_size(m.impl), 0);
	model_release(&m);
}

/* Lookups, and a repeated piece: pieces 0 <unk> 0, 1 a -1, 2 b -1, 3 a -3. As in the
 * reference the last occurrence wins the string -> id map (a -> 3, score -3), so "ab" is still
 * 3 2 but token_to_id("a") is 3; id_to_token follows the list. */
static void test_unigram_lookup(void)
{
	struct text_model m = model_load(
	    unigram_from_json, "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],"
	                       "[\"a\",-1],[\"b\",-1],[\"a\",-3]]}");
	CHECK_EQ_INT(m.vt->vocab_size(m.impl), 4);
	CHECK_EQ_INT(m.vt->token_to_id(m.impl, "a", 1), 3);
	CHECK_EQ_INT(m.vt->token_to_id(m.impl, "b", 1), 2);
	CHECK_EQ_INT(m.vt->token_to_id(m.impl, "zz", 2), -1);
	CHECK_STREQ(m.vt->id_to_token(m.impl, 1), "a");
	CHECK_STREQ(m.vt->id_to_token(m.impl, 0), "<unk>");
	CHECK(m.vt->id_to_token(m.impl, 4) == NULL);
	CHECK(m.vt->id_to_token(m.impl, -1) == NULL);
	EXPECT_IDS(&m, "ab", 3, 2);
	model_release(&m);
}

/* Invalid UTF-8 in a piece (the pipeline never sends it, but nothing may read past the piece).
 * Pieces: 0 <unk> 0, 1 a -1, 2 € -1 (E2 82 AC), 3 b -1.
 * "a\x80b": the stray continuation byte is a one-byte unknown: a unk b.
 * "\xE2\x82": a truncated €; the trie walk stops at the end; the two bytes are two one-byte
 * unknowns, fused: unk over 0..2. "\xC3": one unknown. "b\xF0\x9F": a truncated 4-byte lead. */
static void test_unigram_invalid_utf8(void)
{
	struct text_model m = model_load(
	    unigram_from_json, "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],"
	                       "[\"a\",-1],[\"\\u20ac\",-1],[\"b\",-1]]}");
	EXPECT(&m,
	       "a\x80"
	       "b",
	       IDS(1, 0, 3), OFFS({0, 1}, {1, 2}, {2, 3}));
	EXPECT(&m, "\xE2\x82", IDS(0), OFFS({0, 2}));
	EXPECT(&m, "\xE2\x82\xAC", IDS(2), OFFS({0, 3}));
	EXPECT(&m, "\xC3", IDS(0), OFFS({0, 1}));
	EXPECT(&m, "b\xF0\x9F", IDS(3, 0), OFFS({0, 1}, {1, 3}));
	model_release(&m);
}

/* A piece longer than the stack scratch. Pieces: 0 <unk> 0, 1 a -1, 2 aa -1.5.
 * 1000 a: each aa (-1.5) beats a+a (-2), so 500 aa tokens, each over two bytes. */
static void test_unigram_long(void)
{
	struct text_model m = model_load(
	    unigram_from_json, "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],"
	                       "[\"a\",-1],[\"aa\",-1.5]]}");
	char text[1001];
	memset(text, 'a', 1000);
	struct tok_piece_buf out;
	CHECK(model_run(&m, text, 1000, NULL, &out) == SY_OK);
	CHECK_EQ_INT(out.n, 500);
	int bad = 0;
	for (int i = 0; i < out.n; i++)
		bad += out.v[i].id != 2 || out.v[i].start != 2u * i || out.v[i].end != 2u * i + 2;
	CHECK_EQ_INT(bad, 0);
	free(out.v);
	/* 999 a: one a and 499 aa (-749.5) wherever the a goes, an exact tie. Into position 3,
	 * a+aa (from position 1) is found before aa+a (from position 2) and a tie does not
	 * replace it; likewise further on, so the a comes first: a aa aa ... (1 2 2 ...). */
	CHECK(model_run(&m, text, 999, NULL, &out) == SY_OK);
	CHECK_EQ_INT(out.n, 500);
	CHECK(out.n == 500 && out.v[0].id == 1 && out.v[1].id == 2 && out.v[499].id == 2 &&
	      out.v[499].start == 997);
	free(out.v);
	model_release(&m);
}

static void test_unigram_bad_json(void)
{
	model_builder f = unigram_from_json;
	EXPECT_LOAD_ERROR(f, "[]", "model: expected an object");
	EXPECT_LOAD_ERROR(f, "{\"type\":\"BPE\",\"vocab\":[]}", "model.type");
	EXPECT_LOAD_ERROR(f, "{\"type\":\"Unigram\"}", "model.vocab: missing");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":{}}", "model.vocab: expected an array");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",0],[\"b\"]]}",
	                  "model.vocab[1]: expected [string, number]");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[1,0]]}", "model.vocab[0]: expected [string, number]");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",\"0\"]]}",
	                  "model.vocab[0]: expected [string, number]");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",0,1]]}",
	                  "model.vocab[0]: expected [string, number]");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[\"a\"]}", "model.vocab[0]: expected [string, number]");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",0]],\"unk_id\":1}", "model.unk_id: out of range");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",0]],\"unk_id\":-1}", "model.unk_id: expected");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",0]],\"unk_id\":0.5}", "model.unk_id: expected");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",0]],\"unk_id\":\"0\"}", "model.unk_id: expected");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",0]],\"unk_id\":1e300}",
	                  "model.unk_id: out of range");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[],\"unk_id\":0}", "model.unk_id");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[[\"a\",0]],\"byte_fallback\":1}", "model.byte_fallback");
	/* Empty pieces are allowed (never matched); type may be absent. */
	struct text_model m =
	    model_load(f, "{\"vocab\":[[\"\",0],[\"<unk>\",0],[\"a\",-1]],\"unk_id\":1}");
	EXPECT_IDS(&m, "ab", 2, 1);
	model_release(&m);
}

/* ---- BPE ---- */

/* Merge order is by rank, not left to right. Vocab a0 b1 c2 ab3 bc4.
 * merges [b c, a b]: in "abc" the pairs are (a,b) rank 1 and (b,c) rank 0; bc merges first,
 * then (a,bc) has no merge: a bc (0 4). Left to right would have given ab c.
 * merges [a b, b c]: ab first: ab c (3 2). The tuple format gives the same as the string one,
 * and a leading "#version" line takes no rank. */
static void test_bpe_rank_order(void)
{
	const char *vocab = "\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"bc\":4}";
	char json[512];
	snprintf(json, sizeof json, "{\"type\":\"BPE\",%s,\"merges\":[\"b c\",\"a b\"]}", vocab);
	struct text_model m = model_load(bpe_from_json, json);
	EXPECT(&m, "abc", IDS(0, 4), OFFS({0, 1}, {1, 3}));
	CHECK_STREQ(m.vt->kind, "BPE");
	model_release(&m);
	snprintf(json, sizeof json,
	         "{\"type\":\"BPE\",%s,\"merges\":[[\"b\",\"c\"],[\"a\",\"b\"]]}", vocab);
	m = model_load(bpe_from_json, json);
	EXPECT(&m, "abc", IDS(0, 4), OFFS({0, 1}, {1, 3}));
	model_release(&m);
	snprintf(json, sizeof json, "{\"type\":\"BPE\",%s,\"merges\":[\"a b\",\"b c\"]}", vocab);
	m = model_load(bpe_from_json, json);
	EXPECT(&m, "abc", IDS(3, 2), OFFS({0, 2}, {2, 3}));
	model_release(&m);
	snprintf(json, sizeof json,
	         "{\"type\":\"BPE\",%s,\"merges\":[\"#version: 0.2\",\"a b\",\"b c\"]}", vocab);
	m = model_load(bpe_from_json, json);
	EXPECT_IDS(&m, "abc", 3, 2);
	model_release(&m);
	/* A pair listed twice keeps its last rank (the reference collects into a map):
	 * [a b, b c, a b] gives (a,b) rank 2 > (b,c) rank 1, so a bc. */
	snprintf(json, sizeof json, "{\"type\":\"BPE\",%s,\"merges\":[\"a b\",\"b c\",\"a b\"]}",
	         vocab);
	m = model_load(bpe_from_json, json);
	EXPECT_IDS(&m, "abc", 0, 4);
	model_release(&m);
}

/* Several rounds. Vocab h0 e1 l2 o3 he4 ll5 llo6 hello7; merges [l l, h e, ll o, he llo].
 * "hello": h e l l o -> (l,l) r0: h e ll o -> (h,e) r1: he ll o -> (ll,o) r2: he llo ->
 * (he,llo) r3: hello (7). "hell": h e l l -> he ll (4 5). "lol": no pair merges: l o l. */
static void test_bpe_rounds(void)
{
	struct text_model m = model_load(
	    bpe_from_json,
	    "{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"vocab\":{\"h\":0,\"e\":1,"
	    "\"l\":2,\"o\":3,\"he\":4,\"ll\":5,\"llo\":6,\"hello\":7},"
	    "\"merges\":[\"l l\",\"h e\",\"ll o\",\"he llo\"]}");
	EXPECT(&m, "hello", IDS(7), OFFS({0, 5}));
	EXPECT(&m, "hell", IDS(4, 5), OFFS({0, 2}, {2, 4}));
	EXPECT_IDS(&m, "lol", 2, 3, 2);
	EXPECT_NONE(&m, "");
	CHECK_EQ_INT(m.vt->vocab_size(m.impl), 8);
	CHECK_EQ_INT(m.vt->token_to_id(m.impl, "llo", 3), 6);
	CHECK_STREQ(m.vt->id_to_token(m.impl, 7), "hello");
	CHECK(m.vt->id_to_token(m.impl, 8) == NULL);
	model_release(&m);
}

/* Equal ranks go left first. Vocab a0 aa1 aaaa2; merges [a a, aa aa].
 * "aaa": (a,a) at 0 and at 1, both rank 0; position 0 first: aa a (1 0).
 * "aaaa": aa aa after rank 0, then (aa,aa): aaaa (2).
 * 100 a (more symbols than the stack scratch): 50 aa, then 25 aaaa. */
static void test_bpe_ties_and_long(void)
{
	struct text_model m =
	    model_load(bpe_from_json, "{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"aa\":1,\"aaaa\":2},"
	                              "\"merges\":[\"a a\",\"aa aa\"]}");
	EXPECT(&m, "aaa", IDS(1, 0), OFFS({0, 2}, {2, 3}));
	EXPECT_IDS(&m, "aaaa", 2);
	char text[100];
	memset(text, 'a', sizeof text);
	struct tok_piece_buf out;
	CHECK(model_run(&m, text, sizeof text, NULL, &out) == SY_OK);
	CHECK_EQ_INT(out.n, 25);
	int bad = 0;
	for (int i = 0; i < out.n; i++)
		bad += out.v[i].id != 2 || out.v[i].start != 4u * i || out.v[i].end != 4u * i + 4;
	CHECK_EQ_INT(bad, 0);
	free(out.v);
	model_release(&m);
}

/* continuing_subword_prefix "##". Vocab a0 ##b1 ##c2 ab3 ##bc4 [UNK]5; merges [##b ##c, a ##b]
 * (a merge drops the prefix from its right part: a + ##b = ab, ##b + ##c = ##bc).
 * "abc": a ##b ##c -> (##b,##c) r0: a ##bc (0 4). "ab": a ##b -> ab (3).
 * "axb": x is looked up as ##x, missing: a [UNK] ##b (0 5 1). "b": the first character has no
 * prefix and b alone is not in the vocab: [UNK]. */
static void test_bpe_prefix(void)
{
	struct text_model m = model_load(
	    bpe_from_json,
	    "{\"type\":\"BPE\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
	    "\"vocab\":{\"a\":0,\"##b\":1,\"##c\":2,\"ab\":3,\"##bc\":4,\"[UNK]\":5},"
	    "\"merges\":[\"##b ##c\",\"a ##b\"]}");
	EXPECT(&m, "abc", IDS(0, 4), OFFS({0, 1}, {1, 3}));
	EXPECT(&m, "ab", IDS(3), OFFS({0, 2}));
	EXPECT(&m, "axb", IDS(0, 5, 1), OFFS({0, 1}, {1, 2}, {2, 3}));
	EXPECT_IDS(&m, "b", 5);
	model_release(&m);
}

/* end_of_word_suffix "</w>". Vocab a0 b1 b</w>2 ab</w>3 a</w>4; merges [a b</w>].
 * "ab": a b</w> -> ab</w> (3). "a": a</w> (4). "ba": b a</w> (1 4). */
static void test_bpe_suffix(void)
{
	struct text_model m = model_load(
	    bpe_from_json, "{\"type\":\"BPE\",\"end_of_word_suffix\":\"</w>\","
	                   "\"vocab\":{\"a\":0,\"b\":1,\"b</w>\":2,\"ab</w>\":3,\"a</w>\":4},"
	                   "\"merges\":[\"a b</w>\"]}");
	EXPECT(&m, "ab", IDS(3), OFFS({0, 2}));
	EXPECT_IDS(&m, "a", 4);
	EXPECT(&m, "ba", IDS(1, 4), OFFS({0, 1}, {1, 2}));
	model_release(&m);
}

/* Unknown characters. Vocab a0 <unk>1, no merges.
 * fuse_unk false: "axya" -> a unk unk a (0 1 1 0). fuse_unk true: a unk(xy) a (0 1 0).
 * No unk_token: x and y are dropped: a a (0 0) with offsets of the two a.
 * unk_token not in the vocabulary: loads, and fails only when an unknown is met. */
static void test_bpe_unk(void)
{
	const char *v = "\"vocab\":{\"a\":0,\"<unk>\":1},\"merges\":[]";
	char json[256];
	snprintf(json, sizeof json, "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",%s}", v);
	struct text_model m = model_load(bpe_from_json, json);
	EXPECT(&m, "axya", IDS(0, 1, 1, 0), OFFS({0, 1}, {1, 2}, {2, 3}, {3, 4}));
	model_release(&m);
	snprintf(json, sizeof json,
	         "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,%s}", v);
	m = model_load(bpe_from_json, json);
	EXPECT(&m, "axya", IDS(0, 1, 0), OFFS({0, 1}, {1, 3}, {3, 4}));
	EXPECT(&m, "x\xC3\xA9", IDS(1), OFFS({0, 3}));
	model_release(&m);
	snprintf(json, sizeof json, "{\"type\":\"BPE\",%s}", v);
	m = model_load(bpe_from_json, json);
	EXPECT(&m, "axya", IDS(0, 0), OFFS({0, 1}, {3, 4}));
	EXPECT_NONE(&m, "xy");
	model_release(&m);
	snprintf(json, sizeof json, "{\"type\":\"BPE\",\"unk_token\":\"<missing>\",%s}", v);
	m = model_load(bpe_from_json, json);
	EXPECT_IDS(&m, "a", 0);
	EXPECT_TOK_ERROR(&m, "ax", SY_ERR_FORMAT, "<missing>");
	model_release(&m);
}

/* Byte fallback. Vocab a0 <unk>1 <0xC3>2 <0xA9>3, unk_token <unk>.
 * "aé": é is missing, both its bytes exist: a <0xC3> <0xA9> (0 2 3), the byte tokens carrying
 * the range of é. "aü" (C3 BC): 0xBC is missing, so unk (0 1).
 * With a merge [<0xC3> <0xA9>] -> <0xC3><0xA9>4, the byte tokens merge like any others. */
static void test_bpe_byte_fallback(void)
{
	struct text_model m = model_load(
	    bpe_from_json,
	    "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"vocab\":{\"a\":0,"
	    "\"<unk>\":1,\"<0xC3>\":2,\"<0xA9>\":3},\"merges\":[]}");
	EXPECT(&m, "a\xC3\xA9", IDS(0, 2, 3), OFFS({0, 1}, {1, 3}, {1, 3}));
	EXPECT(&m, "a\xC3\xBC", IDS(0, 1), OFFS({0, 1}, {1, 3}));
	model_release(&m);
	m = model_load(
	    bpe_from_json,
	    "{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{\"a\":0,"
	    "\"<0xC3>\":2,\"<0xA9>\":3,\"<0xC3><0xA9>\":4},\"merges\":[\"<0xC3> <0xA9>\"]}");
	EXPECT(&m,
	       "\xC3\xA9"
	       "a",
	       IDS(4, 0), OFFS({0, 2}, {2, 3}));
	model_release(&m);
}

/* ignore_merges. Vocab a0 b1 c2 ab3 abc4 bc5; merges [b c, a b].
 * Without it "abc" is a bc (0 5) although abc is in the vocabulary; with it, abc (4).
 * "cab" is not in the vocabulary, so merges still apply: c ab (2 3). A nonzero dropout is
 * ignored at inference. */
static void test_bpe_ignore_merges(void)
{
	const char *v = "\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"abc\":4,\"bc\":5},"
	                "\"merges\":[\"b c\",\"a b\"]";
	char json[256];
	snprintf(json, sizeof json, "{\"type\":\"BPE\",\"ignore_merges\":false,%s}", v);
	struct text_model m = model_load(bpe_from_json, json);
	EXPECT_IDS(&m, "abc", 0, 5);
	model_release(&m);
	snprintf(json, sizeof json, "{\"type\":\"BPE\",\"ignore_merges\":true,\"dropout\":0.1,%s}",
	         v);
	m = model_load(bpe_from_json, json);
	EXPECT(&m, "abc", IDS(4), OFFS({0, 3}));
	EXPECT_IDS(&m, "cab", 2, 3);
	EXPECT_IDS(&m, "abc", 4);
	model_release(&m);
}

/* Invalid UTF-8 in a piece: every malformed byte is its own character. Vocab a0 <unk>1.
 * "a\xC3": a unk. "\xF0\x9F\x98": three one-byte unknowns, fused. Prefix model: "a\xE2" looks
 * up "##\xE2", missing: a unk. */
static void test_bpe_invalid_utf8(void)
{
	struct text_model m =
	    model_load(bpe_from_json, "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,"
	                              "\"vocab\":{\"a\":0,\"<unk>\":1},\"merges\":[]}");
	EXPECT(&m, "a\xC3", IDS(0, 1), OFFS({0, 1}, {1, 2}));
	EXPECT(&m, "\xF0\x9F\x98", IDS(1), OFFS({0, 3}));
	model_release(&m);
	m = model_load(
	    bpe_from_json,
	    "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":\"##\","
	    "\"end_of_word_suffix\":\"</w>\",\"byte_fallback\":true,"
	    "\"vocab\":{\"a\":0,\"<unk>\":1},\"merges\":[]}");
	EXPECT(&m, "a\xE2", IDS(0, 1), OFFS({0, 1}, {1, 2}));
	model_release(&m);
}

static void test_bpe_bad_json(void)
{
	model_builder f = bpe_from_json;
	const char *v = "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2}";
	char json[512];
#define BAD(fmt, sub)                                \
	do {                                         \
		snprintf(json, sizeof json, fmt, v); \
		EXPECT_LOAD_ERROR(f, json, sub);     \
	} while (0)
	EXPECT_LOAD_ERROR(f, "\"BPE\"", "model: expected an object");
	EXPECT_LOAD_ERROR(f, "{\"type\":\"WordLevel\",\"vocab\":{},\"merges\":[]}", "model.type");
	EXPECT_LOAD_ERROR(f, "{\"merges\":[]}", "model.vocab: missing");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[],\"merges\":[]}", "model.vocab: expected an object");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":{\"a\":-1},\"merges\":[]}", "model.vocab[\"a\"]");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":{\"a\":0,\"b\":1.5},\"merges\":[]}", "model.vocab[\"b\"]");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":{\"a\":\"0\"},\"merges\":[]}", "model.vocab[\"a\"]");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":{\"a\":3000000000},\"merges\":[]}", "model.vocab[\"a\"]");
	BAD("{%s}", "model.merges: missing");
	BAD("{%s,\"merges\":{}}", "model.merges: expected an array");
	BAD("{%s,\"merges\":[\"a b\",\"ab\"]}", "model.merges[1]: expected");
	BAD("{%s,\"merges\":[\"a b c\"]}", "model.merges[0]: expected");
	BAD("{%s,\"merges\":[\"a  b\"]}", "model.merges[0]: expected");
	BAD("{%s,\"merges\":[[\"a\"]]}", "model.merges[0]: expected");
	BAD("{%s,\"merges\":[[\"a\",1]]}", "model.merges[0]: expected");
	BAD("{%s,\"merges\":[[\"a\",\"b\",\"c\"]]}", "model.merges[0]: expected");
	BAD("{%s,\"merges\":[7]}", "model.merges[0]: expected");
	BAD("{%s,\"merges\":[\"a x\"]}", "model.merges[0]: \"x\" not in vocab");
	BAD("{%s,\"merges\":[[\"y\",\"b\"]]}", "model.merges[0]: \"y\" not in vocab");
	BAD("{%s,\"merges\":[\"a b\",\"b a\"]}",
	    "model.merges[1]: merged token \"ba\" not in vocab");
	BAD("{%s,\"merges\":[],\"dropout\":1.5}", "model.dropout");
	BAD("{%s,\"merges\":[],\"dropout\":\"0\"}", "model.dropout");
	BAD("{%s,\"merges\":[],\"unk_token\":5}", "model.unk_token");
	BAD("{%s,\"merges\":[],\"continuing_subword_prefix\":[]}",
	    "model.continuing_subword_prefix");
	BAD("{%s,\"merges\":[],\"end_of_word_suffix\":true}", "model.end_of_word_suffix");
	BAD("{%s,\"merges\":[],\"fuse_unk\":\"true\"}", "model.fuse_unk");
	BAD("{%s,\"merges\":[],\"byte_fallback\":0}", "model.byte_fallback");
	BAD("{%s,\"merges\":[],\"ignore_merges\":1}", "model.ignore_merges");
	BAD("{%s,\"continuing_subword_prefix\":\"##\",\"merges\":[\"a b\"]}",
	    "is shorter than continuing_subword_prefix");
#undef BAD
	/* Null options, an empty vocabulary and no merges are all valid. */
	struct text_model m =
	    model_load(f, "{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
	                  "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":"
	                  "null,\"fuse_unk\":null,\"byte_fallback\":null,"
	                  "\"ignore_merges\":null,\"vocab\":{},\"merges\":[]}");
	EXPECT_NONE(&m, "abc");
	CHECK_EQ_INT(m.vt->vocab_size(m.impl), 0);
	CHECK(m.vt->id_to_token(m.impl, 0) == NULL);
	model_release(&m);
}

/* ---- End to end, through whole tokenizer.json documents ---- */

/* Encodes text with the document's own settings; checks ids and character offsets. */
static void expect_encode(int line, const struct tokenizer *tok, const char *text, int n,
                          const int32_t *ids, const uint32_t (*char_offs)[2])
{
	struct sy_error err = {0};
	struct tok_encoding enc;
	struct tok_encode_params p = tokenizer_default_params();
	enum sy_status st = tokenizer_encode(tok, text, strlen(text), NULL, 0, &p, &err, &enc);
	int ok = st == SY_OK && enc.n == n;
	for (int i = 0; ok && i < n; i++)
		ok = enc.ids[i] == ids[i] &&
		     tokenizer_char_offset(text, enc.offsets[2 * i]) == char_offs[i][0] &&
		     tokenizer_char_offset(text, enc.offsets[2 * i + 1]) == char_offs[i][1];
	if (!ok) {
		fprintf(stderr, "  FAIL line %d in %s: \"%s\": %s (%s), got", line,
		        harness_cur_name, text, sy_status_str(st), err.msg);
		for (int i = 0; st == SY_OK && i < enc.n; i++)
			fprintf(stderr, " %d(%zu,%zu)", enc.ids[i],
			        tokenizer_char_offset(text, enc.offsets[2 * i]),
			        tokenizer_char_offset(text, enc.offsets[2 * i + 1]));
		fputc('\n', stderr);
		harness_cur_failed = 1;
	}
	if (st == SY_OK)
		tok_encoding_free(&enc);
}
#define EXPECT_ENC(tok, text, ids, offs) \
	expect_encode(__LINE__, (tok), (text), (int)(sizeof(ids) / sizeof(int32_t)), (ids), (offs))

static struct tokenizer *doc_load(const char *json)
{
	struct sy_error err = {0};
	struct tokenizer *tok = NULL;
	enum sy_status st = tokenizer_load_json(json, strlen(json), &err, &tok);
	CHECKF(st == SY_OK, "%s", err.msg);
	return st == SY_OK ? tok : NULL;
}

/* A T5-shaped tokenizer: Metaspace (prepend "▁" always, split) + Unigram + "$A </s>".
 * Pieces: 0 <pad>, 1 </s>, 2 <unk> (0 each), 3 ▁ -2, 4 ▁he -3, 5 llo -3, 6 ▁hello -7,
 * 7 ▁world -4, 8 ▁w -3, 9 orld -3.5, 10 h, 11 e, 12 l, 13 o (-5 each), 14 ! -4.
 * "hello world!" -> pieces "▁hello" "▁world!": ▁he+llo = -6 beats ▁hello = -7; ▁world+! = -8
 * beats ▁w+orld+! = -10.5; then </s>: 4 5 7 14 1. The offsets of ▁he start at h (the ▁ is
 * inserted). "hello 😀": "▁😀" is ▁ + unknown (min -7 - 10): 4 5 3 2 1.
 * "héllo  world": "▁héllo" = ▁ h unk(é) llo (é has no piece); the second space gives a "▁"
 * piece of its own: 3 10 2 5 3 7 1. The same ids and offsets come from the reference. */
static void test_e2e_t5_unigram(void)
{
	struct tokenizer *tok = doc_load(
	    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
	    "{\"id\":0,\"content\":\"<pad>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":"
	    "false,"
	    "\"normalized\":false,\"special\":true},"
	    "{\"id\":1,\"content\":\"</"
	    "s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
	    "\"normalized\":false,\"special\":true},"
	    "{\"id\":2,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":"
	    "false,"
	    "\"normalized\":false,\"special\":true}],"
	    "\"normalizer\":null,"
	    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\","
	    "\"prepend_scheme\":\"always\",\"split\":true},"
	    "\"post_processor\":{\"type\":\"TemplateProcessing\","
	    "\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
	    "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
	    "\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
	    "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}},"
	    "{\"Sequence\":{\"id\":\"B\",\"type_id\":0}},"
	    "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
	    "\"special_tokens\":{\"</s>\":{\"id\":\"</s>\",\"ids\":[1],\"tokens\":[\"</s>\"]}}},"
	    "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\","
	    "\"prepend_scheme\":\"always\",\"split\":true},"
	    "\"model\":{\"type\":\"Unigram\",\"unk_id\":2,\"byte_fallback\":false,\"vocab\":["
	    "[\"<pad>\",0],[\"</s>\",0],[\"<unk>\",0],[\"\\u2581\",-2],[\"\\u2581he\",-3],"
	    "[\"llo\",-3],[\"\\u2581hello\",-7],[\"\\u2581world\",-4],[\"\\u2581w\",-3],"
	    "[\"orld\",-3.5],[\"h\",-5],[\"e\",-5],[\"l\",-5],[\"o\",-5],[\"!\",-4]]}}");
	if (!tok)
		return;
	CHECK_STREQ(tokenizer_model_kind(tok), "Unigram");
	EXPECT_ENC(tok, "hello world!", IDS(4, 5, 7, 14, 1),
	           OFFS({0, 2}, {2, 5}, {5, 11}, {11, 12}, {0, 0}));
	EXPECT_ENC(tok, "hello \xF0\x9F\x98\x80", IDS(4, 5, 3, 2, 1),
	           OFFS({0, 2}, {2, 5}, {5, 6}, {6, 7}, {0, 0}));
	EXPECT_ENC(tok, "h\xC3\xA9llo  world", IDS(3, 10, 2, 5, 3, 7, 1),
	           OFFS({0, 1}, {0, 1}, {1, 2}, {2, 5}, {5, 6}, {6, 12}, {0, 0}));
	EXPECT_ENC(tok, "", IDS(1), OFFS({0, 0}));
	tokenizer_free(tok);
}

/* A RoBERTa-shaped tokenizer: ByteLevel pre-tokenizer (GPT-2 regex, bytes mapped to printable
 * characters: space -> Ġ U+0120, 0xC3 -> Ã, 0xA9 -> ©) + BPE + RobertaProcessing <s> ... </s>.
 * Vocab: 0 <s> 1 <pad> 2 </s> 3 <unk> 4 h 5 e 6 l 7 o 8 Ġ 9 w 10 r 11 d 12 ! 13 Ã 14 © 15 he
 * 16 ll 17 llo 18 hello 19 Ġw 20 or 21 Ġwor 22 Ġworl 23 Ġworld 24 Ã©. Merges by rank:
 * h e, l l, ll o, he llo, Ġ w, o r, Ġw or, Ġwor l, Ġworl d, Ã ©.
 * "hello world!" -> words "hello" "Ġworld" "!": h e l l o -> he l l o -> he ll o -> he llo ->
 * hello; Ġ w o r l d -> Ġw o r l d -> Ġw or l d -> Ġwor l d -> Ġworl d -> Ġworld:
 * 0 18 23 12 2. "héllo" -> h Ã © l l o: ll (rank 1), llo (2), Ã© (9): h Ã© llo: 0 4 24 17 2.
 * "hz!": z is not in the vocabulary: <unk>: 0 4 3 12 2. The reference agrees, offsets
 * included. */
static void test_e2e_roberta_bpe(void)
{
	struct tokenizer *tok = doc_load(
	    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
	    "{\"id\":0,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
	    "\"normalized\":false,\"special\":true},"
	    "{\"id\":1,\"content\":\"<pad>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":"
	    "false,"
	    "\"normalized\":false,\"special\":true},"
	    "{\"id\":2,\"content\":\"</"
	    "s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
	    "\"normalized\":false,\"special\":true},"
	    "{\"id\":3,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":"
	    "false,"
	    "\"normalized\":false,\"special\":true}],"
	    "\"normalizer\":null,"
	    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
	    "\"trim_offsets\":true,\"use_regex\":true},"
	    "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",2],"
	    "\"cls\":[\"<s>\",0],\"trim_offsets\":true,\"add_prefix_space\":false},"
	    "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,"
	    "\"use_regex\":true},"
	    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\","
	    "\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"\",\"fuse_unk\":false,"
	    "\"byte_fallback\":false,\"ignore_merges\":false,\"vocab\":{\"<s>\":0,\"<pad>\":1,"
	    "\"</s>\":2,\"<unk>\":3,\"h\":4,\"e\":5,\"l\":6,\"o\":7,\"\\u0120\":8,\"w\":9,\"r\":10,"
	    "\"d\":11,\"!\":12,\"\\u00c3\":13,\"\\u00a9\":14,\"he\":15,\"ll\":16,\"llo\":17,"
	    "\"hello\":18,\"\\u0120w\":19,\"or\":20,\"\\u0120wor\":21,\"\\u0120worl\":22,"
	    "\"\\u0120world\":23,\"\\u00c3\\u00a9\":24},"
	    "\"merges\":[\"h e\",\"l l\",\"ll o\",\"he llo\",\"\\u0120 w\",\"o r\",\"\\u0120w or\","
	    "\"\\u0120wor l\",\"\\u0120worl d\",\"\\u00c3 \\u00a9\"]}}");
	if (!tok)
		return;
	CHECK_STREQ(tokenizer_model_kind(tok), "BPE");
	EXPECT_ENC(tok, "hello world!", IDS(0, 18, 23, 12, 2),
	           OFFS({0, 0}, {0, 5}, {6, 11}, {11, 12}, {0, 0}));
	EXPECT_ENC(tok, "h\xC3\xA9llo", IDS(0, 4, 24, 17, 2),
	           OFFS({0, 0}, {0, 1}, {1, 2}, {2, 5}, {0, 0}));
	EXPECT_ENC(tok, "hz!", IDS(0, 4, 3, 12, 2), OFFS({0, 0}, {0, 1}, {1, 2}, {2, 3}, {0, 0}));
	EXPECT_ENC(tok, " hello  world", IDS(0, 8, 18, 8, 23, 2),
	           OFFS({0, 0}, {1, 1}, {1, 6}, {7, 7}, {8, 13}, {0, 0}));
	EXPECT_ENC(tok, "", IDS(0, 2), OFFS({0, 0}, {0, 0}));
	tokenizer_free(tok);
}

/* ---- Robustness ---- */

/* Appends "<0x00>".."<0xFF>" to a JSON vocabulary: as [piece, score] entries when scored, else
 * as "piece": id members starting at first_id. */
static void append_byte_tokens(char *json, size_t cap, int scored, int first_id)
{
	for (int b = 0; b < 256; b++) {
		size_t n = strlen(json);
		if (scored)
			snprintf(json + n, cap - n, ",[\"<0x%02X>\",-20]", b);
		else
			snprintf(json + n, cap - n, ",\"<0x%02X>\":%d", b, first_id + b);
	}
}

/* Random bytes, valid and invalid UTF-8, through models with the options on: every call
 * succeeds, every range lies inside the piece (and the sanitizer sees no read past it), every id
 * has a token, and where nothing can be dropped the ranges cover the piece in order (byte
 * tokens of one character share its range). */
static void test_random_bytes(void)
{
	static char uni[16384], bpe_bf[16384];
	snprintf(uni, sizeof uni,
	         "{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,\"vocab\":["
	         "[\"<unk>\",0],[\"a\",-1],[\"ab\",-2],[\"\\u00e9\",-3],[\"a\\u00e9\",-3],"
	         "[\"#\",-4]");
	append_byte_tokens(uni, sizeof uni, 1, 0);
	strcat(uni, "]}");
	snprintf(bpe_bf, sizeof bpe_bf,
	         "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,"
	         "\"byte_fallback\":true,\"continuing_subword_prefix\":\"##\","
	         "\"end_of_word_suffix\":\"</w>\",\"merges\":[\"a ##b\"],"
	         "\"vocab\":{\"<unk>\":0,\"a\":1,\"##b\":2,\"ab\":3,\"<0xC3><0xA9>\":4");
	append_byte_tokens(bpe_bf, sizeof bpe_bf, 0, 5);
	strcat(bpe_bf, "}}");
	struct {
		model_builder fn;
		const char *json;
		int covers;
	} cases[] = {
	    {unigram_from_json, uni, 1},
	    {bpe_from_json, bpe_bf, 1},
	    {bpe_from_json,
	     "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":false,\"merges\":"
	     "[\"a b\"],\"vocab\":{\"<unk>\":0,\"a\":1,\"b\":2,\"ab\":3}}",
	     1},
	    {bpe_from_json,
	     "{\"type\":\"BPE\",\"ignore_merges\":true,\"merges\":[\"a b\"],"
	     "\"vocab\":{\"a\":1,\"b\":2,\"ab\":3}}",
	     0},
	    {wordlevel_from_json, "{\"vocab\":{\"a\":0,\"<unk>\":1},\"unk_token\":\"<unk>\"}", 1},
	};
	static const unsigned char alphabet[] = {'a',  'b',  '#',  '<',  '>',  ' ',  0xC3, 0xA9,
	                                         0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x80, 0xFF};
	uint32_t seed = 12345;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct text_model m = model_load(cases[c].fn, cases[c].json);
		if (!m.vt)
			continue;
		int bad = 0;
		for (int iter = 0; iter < 3000 && !bad; iter++) {
			char text[40];
			seed = seed * 1664525u + 1013904223u;
			size_t len = (seed >> 24) % sizeof text;
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1664525u + 1013904223u;
				text[i] = (char)alphabet[(seed >> 24) % sizeof alphabet];
			}
			struct sy_error err = {0};
			struct tok_piece_buf out;
			if (model_run(&m, text, len, &err, &out) != SY_OK) {
				fprintf(stderr, "  case %zu: %s\n", c, err.msg);
				bad = 1;
			}
			uint32_t prev_s = 0, prev_e = 0;
			for (int i = 0; i < out.n && !bad; i++) {
				const struct tok_piece *t = &out.v[i];
				bad = t->start >= t->end || t->end > len ||
				      !m.vt->id_to_token(m.impl, t->id);
				if (cases[c].covers && !bad)
					bad = !(t->start == prev_e ||
					        (t->start == prev_s && t->end == prev_e && i > 0));
				prev_s = t->start;
				prev_e = t->end;
			}
			if (cases[c].covers && !bad)
				bad = prev_e != len;
			if (bad)
				fprintf(stderr, "  case %zu: bad tokens for %zu random bytes\n", c,
				        len);
			free(out.v);
		}
		CHECK(!bad);
		model_release(&m);
	}
}

/* ---- Cross-check against the reference ---- */

/* Random small models and texts whose ids were produced by the reference implementation
 * (Hugging Face `tokenizers` 0.23.2, the Rust crate through its Node binding, with no normalizer
 * or pre-tokenizer so the whole text reaches the model). Scores are multiples of 0.5, so many
 * Viterbi paths tie; the BPE models mix the merge formats and every option. 40,000 such cases
 * agreed when this was written; these are a few kept as a regression check. */
struct ref_case {
	const char *model;
	const char *text;
	int n;
	int32_t ids[16];
};

static const struct ref_case ref_cases[] = {
    {"{\"type\":\"Unigram\",\"unk_id\":1,\"vocab\":[[\"b\",-1.0],[\"<unk>\",0.0],[\"\342"
     "\202\254\",-6.5],[\"b\",-0.5],[\"aaba\",-9.0],[\"\303\251\",-9.0],[\"\342\202\254a\""
     ",-1.0]],\"byte_fallback\":false}",
     "az\303\251z\303\274bazz",
     5,
     {1, 5, 1, 3, 1}},
    {"{\"type\":\"Unigram\",\"unk_id\":1,\"vocab\":[[\"b\",-1.0],[\"<unk>\",0.0],[\"\342"
     "\202\254\",-6.5],[\"b\",-0.5],[\"aaba\",-9.0],[\"\303\251\",-9.0],[\"\342\202\254a\""
     ",-1.0]],\"byte_fallback\":false}",
     "b\303\251az\303\274azazb",
     4,
     {3, 5, 1, 3}},
    {"{\"type\":\"Unigram\",\"unk_id\":1,\"vocab\":[[\"b\",-1.0],[\"<unk>\",0.0],[\"\342"
     "\202\254\",-6.5],[\"b\",-0.5],[\"aaba\",-9.0],[\"\303\251\",-9.0],[\"\342\202\254a\""
     ",-1.0]],\"byte_fallback\":false}",
     "\303\274z\342\202\254\303\251\342\202\254z\342\202\254\303\251",
     7,
     {1, 2, 5, 2, 1, 2, 5}},
    {"{\"type\":\"Unigram\",\"unk_id\":1,\"vocab\":[[\"b\",-1.0],[\"<unk>\",0.0],[\"\342"
     "\202\254\",-6.5],[\"b\",-0.5],[\"aaba\",-9.0],[\"\303\251\",-9.0],[\"\342\202\254a\""
     ",-1.0]],\"byte_fallback\":false}",
     "bb\303\274baz\303\251",
     6,
     {3, 3, 1, 3, 1, 5}},
    {"{\"type\":\"Unigram\",\"unk_id\":8,\"vocab\":[[\"b\",-8.5],[\"<0xBC>\",-4.5],[\"<0xA"
     "9>\",-7.5],[\"\342\202\254aba\",-3.0],[\"<0xE2>\",-2.0],[\"<0xC3>\",-1.0],[\"\303"
     "\251\",-9.5],[\"<0x7A>\",-7.0],[\"<unk>\",0.0],[\"<0x82>\",-7.5],[\"ba\303\251a\",-1"
     ".5]],\"byte_fallback\":true}",
     "z\303\251\303\274a\303\274",
     3,
     {7, 6, 8}},
    {"{\"type\":\"Unigram\",\"unk_id\":8,\"vocab\":[[\"b\",-8.5],[\"<0xBC>\",-4.5],[\"<0xA"
     "9>\",-7.5],[\"\342\202\254aba\",-3.0],[\"<0xE2>\",-2.0],[\"<0xC3>\",-1.0],[\"\303"
     "\251\",-9.5],[\"<0x7A>\",-7.0],[\"<unk>\",0.0],[\"<0x82>\",-7.5],[\"ba\303\251a\",-1"
     ".5]],\"byte_fallback\":true}",
     "z\303\251b\303\251bzz",
     7,
     {7, 6, 0, 6, 0, 7, 7}},
    {"{\"type\":\"Unigram\",\"unk_id\":8,\"vocab\":[[\"b\",-8.5],[\"<0xBC>\",-4.5],[\"<0xA"
     "9>\",-7.5],[\"\342\202\254aba\",-3.0],[\"<0xE2>\",-2.0],[\"<0xC3>\",-1.0],[\"\303"
     "\251\",-9.5],[\"<0x7A>\",-7.0],[\"<unk>\",0.0],[\"<0x82>\",-7.5],[\"ba\303\251a\",-1"
     ".5]],\"byte_fallback\":true}",
     "\303\251\303\274bzbb\342\202\254\303\274b",
     9,
     {6, 5, 1, 0, 7, 0, 0, 8, 0}},
    {"{\"type\":\"Unigram\",\"unk_id\":8,\"vocab\":[[\"b\",-8.5],[\"<0xBC>\",-4.5],[\"<0xA"
     "9>\",-7.5],[\"\342\202\254aba\",-3.0],[\"<0xE2>\",-2.0],[\"<0xC3>\",-1.0],[\"\303"
     "\251\",-9.5],[\"<0x7A>\",-7.0],[\"<unk>\",0.0],[\"<0x82>\",-7.5],[\"ba\303\251a\",-1"
     ".5]],\"byte_fallback\":true}",
     "z\342\202\254\303\251\303\274aa",
     3,
     {8, 6, 8}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":"
     "null,\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":false,\"ignore_"
     "merges\":true,\"vocab\":{\"a\":0,\"\342\202\254\":1,\"ba\":2,\"aba\":3,\"b\":4},\"me"
     "rges\":[[\"b\",\"a\"],[\"a\",\"ba\"],[\"b\",\"a\"]]}",
     "zaa\303\274\303\251az\303\274aa",
     5,
     {0, 0, 0, 0, 0}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":"
     "null,\"end_of_word_suffix\":\"</w>\",\"fuse_unk\":false,\"byte_fallback\":false,\"ig"
     "nore_merges\":true,\"vocab\":{\"a</w>\":0,\"b</w>\":1,\"\342\202\254</w>\":2,\"a\":3"
     ",\"b\":4,\"bb</w>\":5},\"merges\":[\"b b</w>\"]}",
     "b\303\251\342\202\254aa\303\251\303\251\342\202\254",
     4,
     {4, 3, 3, 2}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_pref"
     "ix\":\"##\",\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":false,\""
     "ignore_merges\":false,\"vocab\":{\"##\303\251\303\251\":0,\"##a\":1,\"<unk>\":2,\"##"
     "b\":3,\"##\303\251\":4,\"##\342\202\254\":5,\"b\":6},\"merges\":[[\"##\303\251\",\"#"
     "#\303\251\"]]}",
     "azzzbzbba",
     6,
     {2, 3, 2, 3, 3, 1}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":"
     "null,\"end_of_word_suffix\":\"</w>\",\"fuse_unk\":true,\"byte_fallback\":false,\"ign"
     "ore_merges\":false,\"vocab\":{\"\342\202\254\":0,\"a\":1,\"\303\251</w>\":2,\"b\":3,"
     "\"\342\202\254</w>\":4,\"ab\":5,\"b</w>\":6,\"a</w>\":7,\"bb\":8},\"merges\":[\"a b"
     "\",\"b b\"]}",
     "b\303\274\303\251a\342\202\254\342\202\254\303\251\303\274",
     4,
     {3, 1, 0, 0}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":"
     "null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore"
     "_merges\":true,\"vocab\":{\"\342\202\254\342\202\254\":0,\"\342\202\254b\":1,\"a\":2"
     ",\"\342\202\254a\":3,\"b\342\202\254\342\202\254\":4,\"a\342\202\254\":5,\"b\":6,\""
     "\342\202\254\":7},\"merges\":[[\"\342\202\254\",\"\342\202\254\"],[\"\342\202\254\","
     "\"a\"],[\"a\",\"\342\202\254\"],[\"b\",\"\342\202\254\342\202\254\"],[\"\342\202\254"
     "\",\"b\"]]}",
     "\303\274a\303\274b\342\202\254\303\251z\303\274z\303\274",
     3,
     {2, 6, 7}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_pref"
     "ix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"i"
     "gnore_merges\":true,\"vocab\":{\"ab\":0,\"\303\251\":1,\"a\":2,\"\342\202\254a\":3,"
     "\"b\":4,\"<unk>\":5,\"\342\202\254\":6,\"a\342\202\254\":7,\"abab\":8,\"\303\251\303"
     "\251\":9},\"merges\":[\"\303\251 \303\251\",\"a \342\202\254\",\"\342\202\254 a\",\""
     "a b\",\"ab ab\"]}",
     "\303\251\303\274\342\202\254\342\202\254zab",
     6,
     {1, 5, 6, 6, 5, 0}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_pref"
     "ix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,\"ign"
     "ore_merges\":true,\"vocab\":{\"<unk>\":0,\"\342\202\254ab\":1,\"a\":2,\"\342\202\254"
     "a\":3,\"<0xC3>\":4,\"\303\251\":5,\"<0x82>\":6,\"<0xE2>\":7,\"bb\":8,\"\342\202\254"
     "\":9,\"b\":10},\"merges\":[\"\342\202\254 a\",\"\342\202\254a b\",\"b b\"]}",
     "\303\251\342\202\254z\303\251a",
     5,
     {5, 9, 0, 5, 2}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_pref"
     "ix\":\"##\",\"end_of_word_suffix\":\"</w>\",\"fuse_unk\":false,\"byte_fallback\":fal"
     "se,\"ignore_merges\":false,\"vocab\":{\"\303\251\":0,\"<unk>\":1,\"\303\251</w>\":2,"
     "\"##\303\251\":3,\"\342\202\254</w>\":4,\"##a</w>\":5,\"##\303\251</w>\":6,\"b</w>\""
     ":7,\"a\":8,\"b\":9,\"\342\202\254\":10,\"##b</w>\":11},\"merges\":[]}",
     "\303\251\342\202\254z\303\274b\303\251",
     6,
     {0, 1, 1, 1, 1, 6}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":"
     "\"##\",\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":false,\"ignor"
     "e_merges\":false,\"vocab\":{\"\342\202\254b\":0,\"##\342\202\254\":1,\"##\303\251\":"
     "2,\"##bbb\":3,\"##a\":4,\"a\":5,\"\342\202\254\":6,\"##b\":7,\"b\":8,\"##bb\":9},\"m"
     "erges\":[[\"\342\202\254\",\"##b\"],[\"##b\",\"##b\"],[\"##b\",\"##bb\"]]}",
     "\342\202\254\303\251\303\251z\303\251a\303\251",
     6,
     {6, 2, 2, 2, 4, 2}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_pref"
     "ix\":null,\"end_of_word_suffix\":\"</w>\",\"fuse_unk\":true,\"byte_fallback\":false,"
     "\"ignore_merges\":true,\"vocab\":{\"a</w>\":0,\"ba\":1,\"b\":2,\"a\":3,\"\342\202"
     "\254\":4,\"\342\202\254</w>\":5,\"<unk>\":6,\"b\342\202\254\":7,\"\303\251</w>\":8,"
     "\"a\303\251</w>\":9,\"b</w>\":10},\"merges\":[\"a \303\251</w>\",\"b \342\202\254\","
     "\"b a\"]}",
     "\342\202\254az\342\202\254\303\251\342\202\254b",
     7,
     {4, 3, 6, 4, 6, 4, 10}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_pref"
     "ix\":\"##\",\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,"
     "\"ignore_merges\":false,\"vocab\":{\"\303\251\":0,\"\303\251b\303\251\":1,\"##b\":2,"
     "\"\303\251b\":3,\"b\":4,\"\342\202\254\":5,\"<unk>\":6,\"##bb\":7,\"bb\":8,\"##\303"
     "\251\":9},\"merges\":[\"\303\251 ##b\",\"b ##b\",\"\303\251 ##b\",\"##b ##b\",\"\303"
     "\251b ##\303\251\"]}",
     "zazbbaaaa",
     8,
     {6, 6, 6, 7, 6, 6, 6, 6}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":"
     "\"##\",\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"igno"
     "re_merges\":false,\"vocab\":{\"ab\342\202\254\":0,\"\342\202\254\":1,\"##\303\251\":"
     "2,\"##b\342\202\254\":3,\"##\342\202\254\":4,\"b\303\251\342\202\254\":5,\"b\":6,\"b"
     "\303\251\":7,\"a\":8,\"##b\":9,\"\303\251\":10,\"##a\":11},\"merges\":[\"##b ##\342"
     "\202\254\",\"b ##\303\251\",\"a ##b\342\202\254\",\"b\303\251 ##\342\202\254\"]}",
     "a\303\274zazzzza",
     3,
     {8, 11, 11}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_pref"
     "ix\":\"##\",\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":true,\""
     "ignore_merges\":true,\"vocab\":{\"##\342\202\254\":0,\"<0x82>\":1,\"##a\":2,\"<0xBC>"
     "\":3,\"<0xA9>\":4,\"<0xC3>\":5,\"\303\251\":6,\"b\":7,\"<0xE2>\":8,\"a\":9,\"<unk>\""
     ":10,\"##\303\251\":11,\"##b\":12,\"\342\202\254\":13},\"merges\":[]}",
     "ba\342\202\254b\303\251z",
     6,
     {7, 2, 0, 12, 11, 10}},
    {"{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_pref"
     "ix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":true,\"ig"
     "nore_merges\":false,\"vocab\":{\"ba\":0,\"a\":1,\"\303\251\":2,\"<0xC3>\":3,\"\303"
     "\251\303\251\":4,\"\342\202\254\":5,\"<0xE2>\":6,\"<0xAC>\":7,\"b\303\251\":8,\"b\":"
     "9,\"<unk>\":10,\"<0x82>\":11,\"<0x7A>\":12},\"merges\":[\"\303\251 \303\251\",\"b a"
     "\",\"b \303\251\"]}",
     "\303\274\303\251\342\202\254a\303\251\303\274z",
     7,
     {10, 2, 5, 1, 2, 12, 10}},
};

static void test_reference_cases(void)
{
	for (size_t i = 0; i < sizeof ref_cases / sizeof ref_cases[0]; i++) {
		const struct ref_case *c = &ref_cases[i];
		model_builder fn =
		    strstr(c->model, "\"Unigram\"") ? unigram_from_json : bpe_from_json;
		struct text_model m = model_load(fn, c->model);
		if (!m.vt)
			continue;
		expect_tokens(__LINE__ + 1000 * (int)i, &m, c->text, strlen(c->text), c->n, c->ids,
		              NULL);
		model_release(&m);
	}
}

/* ---- WordLevel ---- */

/* Vocab hello0 world1 [UNK]2: "hello" -> 0 over the whole piece; "foo" -> [UNK] (2) over it. */
static void test_wordlevel(void)
{
	struct text_model m = model_load(
	    wordlevel_from_json, "{\"type\":\"WordLevel\",\"vocab\":{\"hello\":0,\"world\":1,"
	                         "\"[UNK]\":2},\"unk_token\":\"[UNK]\"}");
	EXPECT(&m, "hello", IDS(0), OFFS({0, 5}));
	EXPECT(&m, "foo", IDS(2), OFFS({0, 3}));
	EXPECT(&m, "hello world", IDS(2), OFFS({0, 11}));
	EXPECT(&m, "\xC3", IDS(2), OFFS({0, 1}));
	EXPECT_NONE(&m, "");
	CHECK_STREQ(m.vt->kind, "WordLevel");
	CHECK_EQ_INT(m.vt->vocab_size(m.impl), 3);
	CHECK_EQ_INT(m.vt->token_to_id(m.impl, "world", 5), 1);
	CHECK_EQ_INT(m.vt->token_to_id(m.impl, "worl", 4), -1);
	CHECK_STREQ(m.vt->id_to_token(m.impl, 1), "world");
	model_release(&m);
	/* The unk token is not in the vocabulary: unknown words fail. */
	m = model_load(wordlevel_from_json, "{\"vocab\":{\"hello\":0},\"unk_token\":\"<unk>\"}");
	EXPECT_IDS(&m, "hello", 0);
	EXPECT_TOK_ERROR(&m, "foo", SY_ERR_INVALID_ARG, "<unk>");
	model_release(&m);
	/* Sparse ids: id -> token still works, vocab size counts entries. */
	m = model_load(wordlevel_from_json,
	               "{\"vocab\":{\"a\":5,\"b\":1000000,\"c\":0},\"unk_token\":\"c\"}");
	CHECK_STREQ(m.vt->id_to_token(m.impl, 1000000), "b");
	CHECK_STREQ(m.vt->id_to_token(m.impl, 5), "a");
	CHECK_STREQ(m.vt->id_to_token(m.impl, 0), "c");
	CHECK(m.vt->id_to_token(m.impl, 6) == NULL);
	CHECK(m.vt->id_to_token(m.impl, 2000000) == NULL);
	CHECK_EQ_INT(m.vt->vocab_size(m.impl), 3);
	EXPECT_IDS(&m, "zz", 0);
	model_release(&m);
}

static void test_wordlevel_bad_json(void)
{
	model_builder f = wordlevel_from_json;
	EXPECT_LOAD_ERROR(f, "null", "model: expected an object");
	EXPECT_LOAD_ERROR(f, "{\"type\":\"Unigram\",\"vocab\":{},\"unk_token\":\"x\"}",
	                  "model.type");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":{}}", "model.unk_token: missing");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":{},\"unk_token\":null}",
	                  "model.unk_token: expected a string");
	EXPECT_LOAD_ERROR(f, "{\"unk_token\":\"x\"}", "model.vocab: missing");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":[\"a\"],\"unk_token\":\"x\"}",
	                  "model.vocab: expected an object");
	EXPECT_LOAD_ERROR(f, "{\"vocab\":{\"a\":null},\"unk_token\":\"x\"}", "model.vocab[\"a\"]");
}

int main(void)
{
	RUN(test_unigram_reference_example);
	RUN(test_unigram_wide_trie_node);
	RUN(test_unigram_viterbi_not_greedy);
	RUN(test_unigram_unknown_penalty);
	RUN(test_unigram_unknown_fusion);
	RUN(test_unigram_tie);
	RUN(test_unigram_byte_fallback);
	RUN(test_unigram_no_unk);
	RUN(test_unigram_lookup);
	RUN(test_unigram_invalid_utf8);
	RUN(test_unigram_long);
	RUN(test_unigram_bad_json);
	RUN(test_bpe_rank_order);
	RUN(test_bpe_rounds);
	RUN(test_bpe_ties_and_long);
	RUN(test_bpe_prefix);
	RUN(test_bpe_suffix);
	RUN(test_bpe_unk);
	RUN(test_bpe_byte_fallback);
	RUN(test_bpe_ignore_merges);
	RUN(test_bpe_invalid_utf8);
	RUN(test_bpe_bad_json);
	RUN(test_wordlevel);
	RUN(test_wordlevel_bad_json);
	RUN(test_reference_cases);
	RUN(test_random_bytes);
	RUN(test_e2e_t5_unigram);
	RUN(test_e2e_roberta_bpe);
	return harness_summary();
}
