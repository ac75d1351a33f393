/* Decoders of tokenizer.json ("decoder"): token pieces back to text, as Hugging Face
 * `tokenizers` does in Tokenizer::decode (each decoder's decode_chain over the list of pieces,
 * then the pieces joined). Covered: WordPiece (prefix, cleanup), ByteLevel, Metaspace,
 * BPEDecoder (suffix), Replace (string patterns), ByteFallback, Fuse, Strip and Sequence.
 * An unknown decoder still loads (encoding does not need it) and fails at decode time. */
#ifndef SY_TEXT_DECODER_H
#define SY_TEXT_DECODER_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "base/sbuf.h"
#include "base/status.h"

struct tok_decoder;

/* Reads a "decoder" object; NULL (or JSON null) gives NULL: no decoder, pieces joined by
 * spaces. Never fails on content: what it cannot read decodes with SY_ERR_UNSUPPORTED. */
struct tok_decoder *tok_decoder_from_json(const cJSON *j);
/* BERT's WordPiece decoder ("##", cleanup), for vocab.txt tokenizers. */
struct tok_decoder *tok_decoder_wordpiece(void);
void tok_decoder_free(struct tok_decoder *d);

/* Decodes n pieces (UTF-8 strings) into out (appended, valid UTF-8: bytes that are not become
 * U+FFFD). */
enum sy_status tok_decoder_decode(const struct tok_decoder *d, const char *const *pieces, int n,
                                  struct sy_error *err, struct sbuf *out);

#endif
