/* Pre-tokenizers of tokenizer.json ("pre_tokenizer": {...}): BertPreTokenizer, Whitespace,
 * WhitespaceSplit, Punctuation, Digits, Metaspace, ByteLevel, Split, CharDelimiterSplit,
 * FixedLength and Sequence, with Hugging Face's split behaviours (removed, isolated,
 * merged_with_previous, merged_with_next, contiguous) and `invert`.
 *
 * A pre-tokenizer cuts each text split of the pipeline (w->buf, w->sp) into smaller splits.
 * Most only cut; Metaspace and ByteLevel also rewrite the text (the replacement character, the
 * byte-level alphabet) into a new string, keeping original ranges. Added-token splits pass
 * through untouched. */
#ifndef SY_TEXT_PRETOKENIZER_H
#define SY_TEXT_PRETOKENIZER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/status.h"
#include "text/pattern.h"
#include "text/pipeline.h"

enum tok_pre_kind {
	TOK_PRE_BERT,
	TOK_PRE_WHITESPACE,
	TOK_PRE_WHITESPACE_SPLIT,
	TOK_PRE_PUNCTUATION,
	TOK_PRE_DIGITS,
	TOK_PRE_METASPACE,
	TOK_PRE_BYTE_LEVEL,
	TOK_PRE_SPLIT,
	TOK_PRE_CHAR_DELIMITER,
	TOK_PRE_FIXED_LENGTH,
	TOK_PRE_SEQUENCE,
};

enum tok_split_behavior {
	TOK_SPLIT_REMOVED,
	TOK_SPLIT_ISOLATED,
	TOK_SPLIT_MERGED_WITH_PREVIOUS,
	TOK_SPLIT_MERGED_WITH_NEXT,
	TOK_SPLIT_CONTIGUOUS,
};

enum tok_prepend_scheme {
	TOK_PREPEND_ALWAYS,
	TOK_PREPEND_FIRST, /* only to a split that starts at original offset 0 */
	TOK_PREPEND_NEVER,
};

struct tok_pretokenizer {
	enum tok_pre_kind kind;
	enum tok_split_behavior behavior; /* Punctuation, Split */
	bool individual_digits; /* Digits */
	uint32_t ch; /* Metaspace replacement, CharDelimiterSplit delimiter */
	enum tok_prepend_scheme prepend; /* Metaspace */
	bool split; /* Metaspace: split on the replacement */
	bool add_prefix_space, use_regex; /* ByteLevel */
	struct tok_pattern pattern; /* Split; ByteLevel's GPT-2 regex */
	bool invert; /* Split */
	long length; /* FixedLength, in characters */
	struct tok_pretokenizer **seq; /* [n_seq] Sequence */
	int n_seq;
};

/* The GPT-2 pre-tokenization regex used by ByteLevel (use_regex). */
extern const char *const tok_gpt2_regex;

enum sy_status pretokenizer_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                      struct tok_pretokenizer **out);
void pretokenizer_free(struct tok_pretokenizer *p);

/* Applies p to the splits w->sp of w->buf, leaving the result in w->buf / w->sp. */
enum sy_status pretokenizer_run(const struct tok_pretokenizer *p, struct tok_work *w,
                                struct sy_error *err);

#endif
