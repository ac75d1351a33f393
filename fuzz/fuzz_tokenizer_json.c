/* Fuzz target: tokenizer.json loading (src/text/tokenizer.c and its components). When the file
 * loads, a few texts (including the input itself, as arbitrary bytes) are encoded with it. */
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sy_error err;
	struct tokenizer *tok;
	if (tokenizer_load_json((const char *)data, size, &err, &tok) != SY_OK)
		return 0;
	struct tok_encode_params p = tokenizer_default_params();
	p.max_length = 64;
	struct tok_encoding enc;
	static const char text[] = "Hello, world! Caf\xc3\xa9 \xe2\x80\x94 12345 unaffable";
	if (tokenizer_encode(tok, text, sizeof text - 1, "pair text", 9, &p, &err, &enc) == SY_OK)
		tok_encoding_free(&enc);
	size_t n = size < 256 ? size : 256;
	if (tokenizer_encode(tok, (const char *)data, n, NULL, 0, &p, &err, &enc) == SY_OK)
		tok_encoding_free(&enc);
	tokenizer_free(tok);
	return 0;
}
