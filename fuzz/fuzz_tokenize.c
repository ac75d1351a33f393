/* Fuzz target: tokenisation of arbitrary bytes (invalid UTF-8 included) with each tokenizer
 * kind: WordPiece (the real bert-base-uncased tokenizer.json of the fixtures), Unigram, BPE
 * (byte-level) and WordLevel (small inline tokenizer.json files), alone and as a pair with
 * truncation; and USE-lite's tokenizer when ../shared is there. Offsets must stay in bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "text/tokenizer.h"
#include "text/use_tokenizer.h"

static const char unigram_json[] =
    "{\"normalizer\":{\"type\":\"NFKC\"},\"pre_tokenizer\":{\"type\":\"Metaspace\","
    "\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\"},"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,\"vocab\":"
    "[[\"<unk>\",0],[\"\\u2581\",-1],[\"\\u2581a\",-2],[\"b\",-2.5],[\"ab\",-3],[\"c\",-4],"
    "[\"<0x00>\",-10],[\"<0x41>\",-10],[\"<0xC3>\",-10],[\"<0xA9>\",-10]]}}";
static const char bpe_json[] =
    "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true},"
    "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",2],\"cls\":[\"<s>\",0]},"
    "\"added_tokens\":[{\"id\":0,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":"
    "\"</s>\",\"special\":true}],"
    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"<s>\":0,\"<unk>\":1,\"</s>\":2,\"\\u0120\":3,"
    "\"a\":4,\"b\":5,\"ab\":6,\"\\u0120a\":7},\"merges\":[\"a b\",\"\\u0120 a\"]}}";
static const char wordlevel_json[] =
    "{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{\"type\":\"WordLevel\","
    "\"vocab\":{\"[UNK]\":0,\"hello\":1,\"world\":2},\"unk_token\":\"[UNK]\"}}";

static struct tokenizer *toks[4];
static int n_toks;
static struct use_tokenizer *use_tok;

static void load_once(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	struct sy_error err;
	if (tokenizer_load("tests/fixtures/bert-tiny/tokenizer.json", &err, &toks[n_toks]) == SY_OK)
		n_toks++;
	const char *inline_json[] = {unigram_json, bpe_json, wordlevel_json};
	for (int i = 0; i < 3; i++)
		if (tokenizer_load_json(inline_json[i], strlen(inline_json[i]), &err,
		                        &toks[n_toks]) == SY_OK)
			n_toks++;
	const char *shared = getenv("SY_SHARED");
	char path[1024];
	snprintf(path, sizeof path, "%s/models/use-lite/vocab.json", shared ? shared : "../shared");
	if (sy_path_exists(path) && use_tokenizer_load(path, &err, &use_tok) != SY_OK)
		use_tok = NULL;
	if (n_toks < 4)
		abort(); /* the inline tokenizers must load: the target would test nothing */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load_once();
	struct sy_error err;
	const char *text = (const char *)data;
	size_t half = size / 2;
	for (int i = 0; i < n_toks; i++) {
		struct tok_encode_params p = tokenizer_default_params();
		p.max_length = i % 2 ? 16 : 0;
		struct tok_encoding enc;
		if (tokenizer_encode(toks[i], text, size, NULL, 0, &p, &err, &enc) == SY_OK) {
			for (int t = 0; t < enc.n; t++)
				if (enc.offsets && (enc.offsets[2 * t] > enc.offsets[2 * t + 1] ||
				                    enc.offsets[2 * t + 1] > size))
					abort();
			tok_encoding_free(&enc);
		}
		p.max_length = 12;
		if (tokenizer_encode(toks[i], text, half, text + half, size - half, &p, &err,
		                     &enc) == SY_OK)
			tok_encoding_free(&enc);
	}
	if (use_tok) {
		int32_t *ids = NULL;
		int n = 0;
		if (use_tokenizer_encode(use_tok, text, size, &err, &ids, &n) == SY_OK)
			free(ids);
	}
	return 0;
}
