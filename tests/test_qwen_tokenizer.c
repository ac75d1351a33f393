/* A tokenizer.json of the kind Qwen2/Qwen3 ship (byte-level BPE behind NFC and the Qwen split
 * regex, the <|endoftext|> / <|im_start|> / <|im_end|> specials, a TemplateProcessing that
 * appends <|endoftext|>) against the ids of an independent reference of that pipeline
 * (tools/reference/make_qwen_tokenizer.py, tests/golden/qwen-bpe-tokenizer.json): accents in
 * both normal forms, CJK, emoji, tabs and runs of spaces and newlines, contractions, code, the
 * chat template's special tokens and an empty text. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "harness.h"
#include "text/tokenizer.h"

static void test_qwen_bpe(void)
{
	char *text;
	size_t len;
	struct sy_error err = {0};
	CHECK_EQ_INT(sy_file_read("tests/golden/qwen-bpe-tokenizer.json", &err, &text, &len),
	             SY_OK);
	cJSON *g = cJSON_ParseWithLength(text, len);
	free(text);
	struct tokenizer *tok = NULL;
	CHECKF(tokenizer_load("tests/tokenizers/qwen-bpe.json", &err, &tok) == SY_OK, "%s",
	       err.msg);
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
		CHECKF(same, "case %d (%.40s): %d ids, the reference has %d", n_cases, t, enc.n,
		       cJSON_GetArraySize(want));
		tok_encoding_free(&enc);
		n_cases++;
	}
	CHECK(n_cases >= 10);
	tokenizer_free(tok);
	cJSON_Delete(g);
}

int main(void)
{
	RUN(test_qwen_bpe);
	return harness_summary();
}
