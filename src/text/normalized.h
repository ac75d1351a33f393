/* A normalized string: UTF-8 text that remembers, for each of its bytes, the byte range of the
 * original input it came from, so that token offsets survive every rewrite (NFD, lowercasing,
 * accent stripping, replacement, the byte-level alphabet). This is Hugging Face's
 * NormalizedString with its `alignments`, kept as two parallel arrays.
 *
 * Invariants: s holds valid UTF-8 (sanitised on entry); all bytes of one character carry the
 * same range; a character produced from an original character (or inserted next to it) carries
 * that character's range. A token covering bytes [b, e) of a piece therefore maps back to
 * [o0[b], o1[e - 1]).
 *
 * A split list describes how the pipeline has cut one normalized string into pieces so far:
 * each split is a byte range of the current string, or an added token that was already resolved
 * to an id (its original range travels with it). */
#ifndef SY_TEXT_NORMALIZED_H
#define SY_TEXT_NORMALIZED_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

struct tok_nstr {
	char *s; /* [len] UTF-8 */
	uint32_t *o0; /* [len] start of the original byte range of this byte's character */
	uint32_t *o1; /* [len] end (exclusive) of that range */
	size_t len, cap;
};

void nstr_init(struct tok_nstr *n);
void nstr_free(struct tok_nstr *n);
/* Makes room for `extra` more bytes. */
enum sy_status nstr_reserve(struct tok_nstr *n, size_t extra);
void nstr_swap(struct tok_nstr *a, struct tok_nstr *b);

/* Appends the character cp with original range [a, b). The caller has reserved 4 bytes. */
static inline void nstr_put_cp(struct tok_nstr *n, uint32_t cp, uint32_t a, uint32_t b);

/* Appends code point cp, growing as needed. */
enum sy_status nstr_push_cp(struct tok_nstr *n, uint32_t cp, uint32_t a, uint32_t b);
/* Appends UTF-8 bytes that all carry the range [a, b). */
enum sy_status nstr_push_str(struct tok_nstr *n, const char *s, size_t len, uint32_t a, uint32_t b);
/* Appends src[off, off + len) with its alignments. */
enum sy_status nstr_append_range(struct tok_nstr *dst, const struct tok_nstr *src, size_t off,
                                 size_t len);
/* Replaces n's content with the input text, invalid UTF-8 replaced by U+FFFD (one per maximal
 * invalid subsequence, aligned to the bytes it replaces). */
enum sy_status nstr_set_input(struct tok_nstr *n, const char *text, size_t len);

struct tok_split {
	uint32_t off, len; /* byte range in the current normalized string (when id < 0) */
	int32_t id; /* >= 0: an added token, final; -1: text still to tokenize */
	uint32_t o0, o1; /* original byte range of an added token */
};

struct tok_split_list {
	struct tok_split *v;
	int n, cap;
};

void splits_free(struct tok_split_list *l);
enum sy_status splits_push(struct tok_split_list *l, struct tok_split sp);
void splits_swap(struct tok_split_list *a, struct tok_split_list *b);

#include "text/unicode.h"

static inline void nstr_put_cp(struct tok_nstr *n, uint32_t cp, uint32_t a, uint32_t b)
{
	uint32_t k = utf8_encode(cp, n->s + n->len);
	for (uint32_t i = 0; i < k; i++) {
		n->o0[n->len + i] = a;
		n->o1[n->len + i] = b;
	}
	n->len += k;
}

#endif
