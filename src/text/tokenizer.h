/* Tokenizers in the Hugging Face `tokenizers` model: normalizer -> pre-tokenizer -> model ->
 * post-processor, loaded from tokenizer.json (or a plain BERT vocab.txt).
 *
 * Offsets: every token carries the byte range [start, end) of the original input it came from
 * (tokenizer_char_offset converts a byte offset to a code-point offset, which is what the Python
 * library reports). Special tokens added by the post-processor have the empty range (0, 0).
 *
 * Invalid UTF-8 in the input is replaced by U+FFFD (one per maximal invalid subsequence) before
 * normalisation; offsets still point into the original bytes. A loaded tokenizer is read-only and
 * may be shared by threads. */
#ifndef SY_TEXT_TOKENIZER_H
#define SY_TEXT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/sbuf.h"
#include "base/status.h"
#include "text/spm.h"

struct tokenizer;

enum tok_truncation {
	TOK_TRUNCATE_LONGEST_FIRST, /* remove from the longer sequence one token at a time */
	TOK_TRUNCATE_ONLY_FIRST,
	TOK_TRUNCATE_ONLY_SECOND,
};

struct tok_encode_params {
	int max_length; /* total length including special tokens; 0 = the tokenizer's own setting
			   (tokenizer.json "truncation": its max_length, strategy and direction;
			   none for vocab.txt), < 0 = unlimited */
	enum tok_truncation truncation; /* used when max_length > 0 */
	bool truncate_left; /* used when max_length > 0: cut tokens from the start (Hugging Face's
			       TruncationDirection::Left), not the end */
	bool add_special_tokens;
};

/* Truncation follows Hugging Face's truncate_encodings: room for the post-processor's special
 * tokens is kept; longest_first on a pair keeps the shorter text whole when it fits in half and
 * otherwise splits max_length in halves (an odd token to the longer text, to the pair on a tie); only_first /
 * only_second fail with SY_ERR_INVALID_ARG when that text cannot be shortened enough or (for
 * only_second) there is no pair. */

struct tok_encode_params tokenizer_default_params(void);

struct tok_encoding {
	int n;
	int32_t *ids;
	int32_t *type_ids; /* token type (segment) ids from the post-processor */
	uint8_t *special; /* 1 for tokens added by the post-processor */
	int8_t *seq; /* 0 = first text, 1 = pair text, -1 = special */
	uint32_t *offsets; /* [n][2] byte offsets [start, end) into the text named by seq */
};

/* Loads a tokenizer from a tokenizer.json file, a SentencePiece .model file (text/spm.h), or
 * from a directory holding tokenizer.json, vocab.txt (then tokenizer_config.json decides
 * do_lower_case, default true) or a SentencePiece model (spiece.model, spm.model,
 * tokenizer.model; bos / eos from tokenizer_config.json). */
enum sy_status tokenizer_load(const char *path, struct sy_error *err, struct tokenizer **out);
/* Parses tokenizer.json content from memory (len bytes, need not be NUL-terminated). */
enum sy_status tokenizer_load_json(const char *json, size_t len, struct sy_error *err,
                                   struct tokenizer **out);
/* A BERT WordPiece tokenizer from a vocab.txt (one token per line; id = line number). */
enum sy_status tokenizer_load_vocab_txt(const char *path, bool lowercase, struct sy_error *err,
                                        struct tokenizer **out);
/* A SentencePiece model file (text/spm.h: Unigram or BPE; o may be NULL: no bos / eos), from a
 * path or from its bytes (name for messages). */
enum sy_status tokenizer_load_spm(const char *path, const struct spm_options *o,
                                  struct sy_error *err, struct tokenizer **out);
enum sy_status tokenizer_load_spm_mem(const void *data, size_t len, const char *name,
                                      const struct spm_options *o, struct sy_error *err,
                                      struct tokenizer **out);
void tokenizer_free(struct tokenizer *tok);

/* Encodes text (and pair when non-NULL) into out, which the caller frees with
 * tok_encoding_free. params may be NULL (defaults). Fails only on allocation failure or an
 * unusable parameter (including an impossible only_first / only_second truncation). Thread-safe:
 * scratch memory is kept per thread. */
enum sy_status tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len,
                                const char *pair, size_t pair_len,
                                const struct tok_encode_params *params, struct sy_error *err,
                                struct tok_encoding *out);
void tok_encoding_free(struct tok_encoding *enc);

/* Bytes the tokenizer holds (its vocabulary, merges or trie and the added tokens), counted in
 * its model's memory budget: a large vocabulary is not free. */
size_t tokenizer_bytes(const struct tokenizer *tok);
/* The model's vocabulary size, or the largest added-token id + 1 when that is larger. */
int tokenizer_vocab_size(const struct tokenizer *tok);
int32_t tokenizer_token_to_id(const struct tokenizer *tok, const char *token, size_t len); /* -1 */
const char *tokenizer_id_to_token(const struct tokenizer *tok, int32_t id); /* NULL */
/* Whether id is an added token marked special ([CLS], <s>, ...). */
bool tokenizer_id_is_special(const struct tokenizer *tok, int32_t id);
/* Text of n token ids, appended to out, as Hugging Face's Tokenizer::decode gives it: the
 * pieces through tokenizer.json's decoder (WordPiece for vocab.txt), special tokens left out
 * when skip_special. SY_ERR_INVALID_ARG for an id outside the vocabulary, SY_ERR_UNSUPPORTED
 * for a decoder text/decoder.c does not know. */
enum sy_status tokenizer_decode(const struct tokenizer *tok, const int32_t *ids, int n,
                                bool skip_special, struct sy_error *err, struct sbuf *out);
/* Padding id: tokenizer.json padding.pad_id, else the id of "[PAD]" or "<pad>", else 0. */
int32_t tokenizer_pad_id(const struct tokenizer *tok);
/* "WordPiece", "Unigram", "BPE", "WordLevel" */
const char *tokenizer_model_kind(const struct tokenizer *tok);
/* The truncation max_length from tokenizer.json, or -1 when none. */
int tokenizer_max_length(const struct tokenizer *tok);

/* Number of code points in text[0, byte_off), an invalid UTF-8 sequence counting as the one
 * U+FFFD that replaces it. Converts the offsets of struct tok_encoding to the character offsets
 * Hugging Face reports. */
size_t tokenizer_char_offset(const char *text, size_t byte_off);

#endif
