/* Fuzz target: SentencePiece model files (src/text/spm.c: the protobuf walk, the tokenizer.json
 * built from it, BPE merges from the pieces, fairseq's renumbering when size & 4); a model that
 * loads encodes a short text and a pair. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "text/spm.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sy_error err;
	struct tokenizer *tok;
	const struct spm_options o = {
	    .add_eos = size & 1, .add_bos = size & 2, .fairseq = (size & 4) != 0};
	if (tokenizer_load_spm_mem(data, size, "fuzz.model", &o, &err, &tok) != SY_OK)
		return 0;
	struct tok_encoding e;
	const char *text = "  Héllo   wörld 🙂 <sep>\tx <mask> ";
	if (tokenizer_encode(tok, text, strlen(text), NULL, 0, NULL, &err, &e) == SY_OK)
		tok_encoding_free(&e);
	if (tokenizer_encode(tok, text, strlen(text), "<s>b", 4, NULL, &err, &e) == SY_OK)
		tok_encoding_free(&e);
	tokenizer_free(tok);
	return 0;
}
