/* The tokenizer.json kinds decoder models ship, each against the ids of an independent
 * reference of its pipeline:
 *   - Qwen2/Qwen3 (tools/reference/make_qwen_tokenizer.py, tests/golden/qwen-bpe-tokenizer.json):
 *     byte-level BPE behind NFC and the Qwen split regex, the <|endoftext|> / <|im_start|> /
 *     <|im_end|> specials, a TemplateProcessing that appends <|endoftext|>;
 *   - Gemma 2/3 and EmbeddingGemma (tools/reference/make_gemma_tokenizer.py,
 *     tests/golden/gemma-spm-bpe-tokenizer.json): SentencePiece BPE as transformers converts it,
 *     spaces replaced by U+2581, byte fallback to <0xNN> pieces, fused unknowns, the
 *     <start_of_turn> / <end_of_turn> specials, <bos> put first.
 * The texts: accents in both normal forms, CJK, emoji, tabs and runs of spaces and newlines,
 * leading and trailing spaces, contractions, code, chat-template special tokens, the empty text. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "harness.h"
#include "text/tokenizer.h"

/* Every case of a golden {tokenizer, cases: [{text, ids}]} gives exactly the reference's ids. */
static void check_golden(const char *golden_path)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECK_EQ_INT(sy_file_read(golden_path, &err, &text, &len), SY_OK);
	cJSON *g = cJSON_ParseWithLength(text, len);
	free(text);
	const char *tok_path = cJSON_GetObjectItemCaseSensitive(g, "tokenizer")->valuestring;
	struct tokenizer *tok = NULL;
	CHECKF(tokenizer_load(tok_path, &err, &tok) == SY_OK, "%s: %s", tok_path, err.msg);
	const cJSON *c;
	int n_cases = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(g, "cases"))
	{
		const char *t = cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
		const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "ids");
		struct tok_encoding enc = {0};
		struct tok_encode_params p = tokenizer_default_params();
		p.max_length = -1;
		CHECKF(tok && tokenizer_encode(tok, t, strlen(t), NULL, 0, &p, &err, &enc) == SY_OK,
		       "%s", err.msg);
		bool same = enc.n == cJSON_GetArraySize(want);
		for (int i = 0; same && i < enc.n; i++)
			same = enc.ids[i] == cJSON_GetArrayItem(want, i)->valueint;
		CHECKF(same, "%s case %d (%.40s): %d ids, the reference has %d", tok_path, n_cases,
		       t, enc.n, cJSON_GetArraySize(want));
		tok_encoding_free(&enc);
		n_cases++;
	}
	CHECK(n_cases >= 10);
	tokenizer_free(tok);
	cJSON_Delete(g);
}

static void test_qwen_bpe(void)
{
	check_golden("tests/golden/qwen-bpe-tokenizer.json");
}

static void test_gemma_spm_bpe(void)
{
	check_golden("tests/golden/gemma-spm-bpe-tokenizer.json");
}

int main(void)
{
	RUN(test_qwen_bpe);
	RUN(test_gemma_spm_bpe);
	return harness_summary();
}
