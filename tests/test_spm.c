/* SentencePiece model files (src/text/spm.c) against the sentencepiece library itself
 * (tools/reference/make_spm.py, tests/golden/spm.json): a Unigram model with byte fallback,
 * a user-defined symbol and the nmt_nfkc charsmap, and a BPE model, each on texts with
 * non-ASCII, full-width forms, emoji, unknown characters, whitespace runs, tabs, newlines and
 * empty strings: the ids must be equal. Also: a directory with spiece.model and a
 * tokenizer_config.json naming SiglipTokenizer appends </s>; XLM-R's sentencepiece.bpe.model
 * directories with fairseq's ids (tools/reference/make_xlmr_spm.py); a corrupt file fails
 * cleanly. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "harness.h"
#include "text/spm.h"
#include "text/tokenizer.h"

static cJSON *gold;

static void check_kind(const char *kind)
{
	char path[128];
	snprintf(path, sizeof path, "tests/fixtures/spm/%s.model", kind);
	struct sy_error err = {0};
	struct tokenizer *tok;
	enum sy_status s = tokenizer_load(path, &err, &tok);
	CHECKF(s == SY_OK, "%s: %s", kind, err.msg);
	if (s != SY_OK)
		return;
	int n = 0, bad = 0;
	for (const cJSON *t = cJSON_GetObjectItem(gold, kind)->child; t; t = t->next, n++) {
		const char *text = cJSON_GetObjectItem(t, "text")->valuestring;
		const cJSON *ids = cJSON_GetObjectItem(t, "ids");
		struct tok_encoding e;
		s = tokenizer_encode(tok, text, strlen(text), NULL, 0, NULL, &err, &e);
		CHECK(s == SY_OK);
		bool same = s == SY_OK && e.n == cJSON_GetArraySize(ids);
		int k = 0;
		for (const cJSON *v = ids->child; same && v; v = v->next, k++)
			same = e.ids[k] == v->valueint;
		if (!same) {
			bad++;
			fprintf(stderr, "  %s \"%s\":\n    got ", kind, text);
			for (int j = 0; s == SY_OK && j < e.n; j++)
				fprintf(stderr, "%d ", e.ids[j]);
			fprintf(stderr, "\n    want ");
			for (const cJSON *v = ids->child; v; v = v->next)
				fprintf(stderr, "%d ", v->valueint);
			fputc('\n', stderr);
		}
		if (s == SY_OK)
			tok_encoding_free(&e);
	}
	CHECKF(bad == 0, "%s: %d of %d texts differ from sentencepiece", kind, bad, n);
	CHECK(n >= 15);
	tokenizer_free(tok);
}

static void test_unigram(void)
{
	check_kind("unigram");
}

static void test_bpe(void)
{
	check_kind("bpe");
}

/* A SigLIP-style directory: spiece.model and tokenizer_config.json, no tokenizer.json. */
static void test_directory_eos(void)
{
	char dir[] = "/tmp/sy-spm-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char model[256], cfg[256], cmd[600];
	snprintf(model, sizeof model, "%s/spiece.model", dir);
	snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
	snprintf(cmd, sizeof cmd, "cp tests/fixtures/spm/unigram.model %s", model);
	CHECK(system(cmd) == 0);
	FILE *f = fopen(cfg, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("{\"tokenizer_class\": \"SiglipTokenizer\"}", f);
		fclose(f);
	}
	struct sy_error err = {0};
	struct tokenizer *tok;
	enum sy_status s = tokenizer_load(dir, &err, &tok);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s == SY_OK) {
		struct tok_encoding e;
		CHECK(tokenizer_encode(tok, "a cat", 5, NULL, 0, NULL, &err, &e) == SY_OK);
		CHECK(e.n >= 2 && e.ids[e.n - 1] == 1 && e.special[e.n - 1]); /* </s> */
		tok_encoding_free(&e);
		tokenizer_free(tok);
	}
	unlink(model);
	unlink(cfg);
	rmdir(dir);
}

/* SiglipTokenizer's canonicalize_text after lowercasing, as Python computes it. */
static void test_siglip_canonicalize(void)
{
	static const char *const cases[][2] = {
	    {"A Photo, of a CAT!", "a photo of a cat"},
	    {"  Hello\t\tWORLD...  ", "hello world"},
	    {"\xc3\x9cn\xc3\xaf"
	     "code \xc3\x89T\xc3\x89 \xe2\x80\x93 \xe2\x80\x9cquoted\xe2\x80\x9d",
	     "\xc3\xbcn\xc3\xaf"
	     "code \xc3\xa9t\xc3\xa9 \xe2\x80\x93 \xe2\x80\x9cquoted\xe2\x80\x9d"},
	    {"x\xc2\xa0y\xe3\x80\x80z", "x y z"},
	    {"", ""},
	    {" !?. ", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n;
		char *got = spm_siglip_canonicalize(cases[i][0], strlen(cases[i][0]), &n);
		CHECK_STREQ(got, cases[i][1]);
		CHECK(got && n == strlen(got));
		free(got);
	}
}

/* The ids of text (and pair, when not NULL) against want; prints both on a difference. */
static bool same_ids(const struct tokenizer *tok, const char *label, const char *text,
                     const char *pair, const cJSON *want)
{
	struct sy_error err = {0};
	struct tok_encoding e;
	enum sy_status s = tokenizer_encode(tok, text, strlen(text), pair, pair ? strlen(pair) : 0,
	                                    NULL, &err, &e);
	bool same = s == SY_OK && e.n == cJSON_GetArraySize(want);
	int k = 0;
	for (const cJSON *v = want->child; same && v; v = v->next, k++)
		same = e.ids[k] == v->valueint;
	if (!same) {
		fprintf(stderr, "  %s \"%s\"%s%s:\n    got ", label, text, pair ? " + " : "",
		        pair ? pair : "");
		for (int j = 0; s == SY_OK && j < e.n; j++)
			fprintf(stderr, "%d ", e.ids[j]);
		fprintf(stderr, "\n    want ");
		for (const cJSON *v = want->child; v; v = v->next)
			fprintf(stderr, "%d ", v->valueint);
		fputc('\n', stderr);
	}
	if (s == SY_OK)
		tok_encoding_free(&e);
	return same;
}

/* XLM-RoBERTa's directories (sentencepiece.bpe.model, no tokenizer.json) with fairseq's ids,
 * against tools/reference/make_xlmr_spm.py (tests/golden/xlmr_spm.json): texts, pairs, <mask>. */
static void test_xlmr_fairseq(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECK(sy_file_read("tests/golden/xlmr_spm.json", &err, &text, &len) == SY_OK);
	cJSON *g = cJSON_ParseWithLength(text, len);
	free(text);
	CHECK(g != NULL);
	static const char *const kinds[] = {"bpe", "unigram"};
	for (int k = 0; g && k < 2; k++) {
		char dir[128];
		snprintf(dir, sizeof dir, "tests/fixtures/xlmr-spm/%s", kinds[k]);
		struct tokenizer *tok;
		enum sy_status s = tokenizer_load(dir, &err, &tok);
		CHECKF(s == SY_OK, "%s: %s", dir, err.msg);
		if (s != SY_OK)
			continue;
		const cJSON *kg = cJSON_GetObjectItem(g, kinds[k]);
		int n = 0, bad = 0;
		for (const cJSON *t = cJSON_GetObjectItem(kg, "texts")->child; t; t = t->next, n++)
			bad += !same_ids(tok, kinds[k], cJSON_GetObjectItem(t, "text")->valuestring,
			                 NULL, cJSON_GetObjectItem(t, "ids"));
		for (const cJSON *t = cJSON_GetObjectItem(kg, "pairs")->child; t; t = t->next, n++)
			bad += !same_ids(tok, kinds[k], cJSON_GetObjectItem(t, "a")->valuestring,
			                 cJSON_GetObjectItem(t, "b")->valuestring,
			                 cJSON_GetObjectItem(t, "ids"));
		CHECKF(bad == 0, "%s: %d of %d texts differ from XLMRobertaTokenizer's ids",
		       kinds[k], bad, n);
		CHECK(n >= 20);
		tokenizer_free(tok);
	}
	cJSON_Delete(g);
	/* Another fairseq class (CamemBERT numbers its specials otherwise) is refused. */
	char dir[] = "/tmp/sy-xlmr-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char model[256], cfg[256], cmd[600];
	snprintf(model, sizeof model, "%s/sentencepiece.bpe.model", dir);
	snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
	snprintf(cmd, sizeof cmd, "cp tests/fixtures/xlmr-spm/bpe/sentencepiece.bpe.model %s",
	         model);
	CHECK(system(cmd) == 0);
	FILE *f = fopen(cfg, "w");
	if (f) {
		fputs("{\"tokenizer_class\": \"CamembertTokenizer\"}", f);
		fclose(f);
	}
	struct tokenizer *tok = NULL;
	CHECK(tokenizer_load(dir, &err, &tok) == SY_ERR_UNSUPPORTED);
	CHECKF(strstr(err.msg, "CamembertTokenizer") != NULL, "%s", err.msg);
	/* With no tokenizer_config.json at all, the file's name decides: XLM-R's ids. */
	unlink(cfg);
	enum sy_status s = tokenizer_load(dir, &err, &tok);
	CHECKF(s == SY_OK, "%s", err.msg);
	if (s == SY_OK) {
		struct tok_encoding e;
		CHECK(tokenizer_encode(tok, "", 0, NULL, 0, NULL, &err, &e) == SY_OK);
		CHECK(e.n == 2 && e.ids[0] == 0 && e.ids[1] == 2);
		tok_encoding_free(&e);
		tokenizer_free(tok);
	}
	unlink(model);
	rmdir(dir);
}

static void test_corrupt(void)
{
	char *data;
	size_t len;
	struct sy_error err = {0};
	CHECK(sy_file_read("tests/fixtures/spm/bpe.model", &err, &data, &len) == SY_OK);
	const char *path = "/tmp/sy-spm-corrupt.model";
	for (size_t cut = 1; cut < len; cut += len / 7) {
		FILE *f = fopen(path, "wb");
		fwrite(data, 1, cut, f);
		fclose(f);
		struct tokenizer *tok = NULL;
		enum sy_status s = tokenizer_load(path, &err, &tok);
		CHECK(s != SY_OK || tok != NULL); /* no crash; a prefix may still parse */
		tokenizer_free(tok);
	}
	unlink(path);
	free(data);
}

int main(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	if (sy_file_read("tests/golden/spm.json", &err, &text, &len) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	gold = cJSON_ParseWithLength(text, len);
	free(text);
	RUN(test_unigram);
	RUN(test_bpe);
	RUN(test_directory_eos);
	RUN(test_siglip_canonicalize);
	RUN(test_xlmr_fairseq);
	RUN(test_corrupt);
	cJSON_Delete(gold);
	return harness_summary();
}
