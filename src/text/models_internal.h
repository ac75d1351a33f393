/* Helpers shared by the Unigram, BPE and WordLevel models (src/text/unigram.c, bpe.c,
 * wordlevel.c): a token -> id vocabulary read from a tokenizer.json {"token": id, ...} object
 * with its reverse mapping, the "<0xXX>" byte-fallback table, and a bounds-checked UTF-8
 * character length.
 *
 * The pipeline hands models valid UTF-8 (invalid input is replaced by U+FFFD before
 * normalisation), but models are still called with arbitrary bytes by tests and fuzzers, so every
 * character step here is clamped to the bytes that are left. */
#ifndef SY_TEXT_MODELS_INTERNAL_H
#define SY_TEXT_MODELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/status.h"
#include "base/strmap.h"

/* Byte length of the UTF-8 character starting at s (left >= 1 bytes available). A lead byte
 * whose continuation bytes are missing or malformed counts as a one-byte character, so the
 * result is always in [1, min(4, left)] and a caller stepping by it never leaves the buffer. */
static inline uint32_t tok_utf8_len(const char *s, size_t left)
{
	unsigned char c = (unsigned char)s[0];
	uint32_t n = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
	if (n > left)
		return 1;
	for (uint32_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			return 1;
	return n;
}

struct tok_vocab_entry {
	int32_t id;
	const char *token; /* NUL-terminated, owned by the vocabulary's map */
};

/* A {"token": id} vocabulary. Ids need not be contiguous; when two tokens share an id one of
 * them is kept for id -> token (Hugging Face leaves that choice unspecified as well). */
struct tok_vocab {
	struct sy_strmap map; /* token -> id; a repeated key keeps its last id */
	int n; /* entries in the JSON object: the model's vocab size */
	struct tok_vocab_entry *by_id; /* [n_by_id] sorted by id, one entry per distinct id */
	int n_by_id;
};

/* Reads obj (the JSON value of field `field`, e.g. "model.vocab") into out. Errors name the
 * field and the offending key. */
enum sy_status tok_vocab_from_json(const cJSON *obj, const char *field, struct sy_error *err,
                                   struct tok_vocab *out);
/* The token with this id, or NULL. */
const char *tok_vocab_token(const struct tok_vocab *v, int32_t id);
size_t tok_vocab_bytes(const struct tok_vocab *v);
void tok_vocab_free(struct tok_vocab *v);

/* Fills ids[256] with the ids of the byte-fallback tokens "<0x00>" .. "<0xFF>" (upper-case hex,
 * as sentencepiece and Hugging Face spell them), -1 where absent. */
void tok_byte_ids_fill(const struct sy_strmap *map, int32_t ids[256]);

/* Reads an optional boolean field: absent or null leaves *out unchanged. */
enum sy_status tok_json_opt_bool(const cJSON *model, const char *name, struct sy_error *err,
                                 int *out);
/* Reads an optional string field: absent or null sets *out to NULL; the string stays owned by
 * the cJSON tree. */
enum sy_status tok_json_opt_string(const cJSON *model, const char *name, struct sy_error *err,
                                   const char **out);
/* Checks an optional "type" field against the expected model kind. */
enum sy_status tok_json_check_type(const cJSON *model, const char *kind, struct sy_error *err);

#endif
