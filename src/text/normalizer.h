/* Normalizers of tokenizer.json ("normalizer": {...}), applied to one piece of text at a time:
 * BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace (String or Regex
 * pattern), Prepend, ByteLevel, Precompiled (SentencePiece charsmaps), Nmt and Sequence. Semantics follow Hugging Face `tokenizers`
 * (the normalizers module); every step keeps the per-byte original ranges of struct tok_nstr. */
#ifndef SY_TEXT_NORMALIZER_H
#define SY_TEXT_NORMALIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/status.h"
#include "text/pattern.h"
#include "text/pipeline.h"

enum tok_norm_kind {
	TOK_NORM_BERT,
	TOK_NORM_NFC,
	TOK_NORM_NFD,
	TOK_NORM_NFKC,
	TOK_NORM_NFKD,
	TOK_NORM_LOWERCASE,
	TOK_NORM_STRIP,
	TOK_NORM_STRIP_ACCENTS,
	TOK_NORM_REPLACE,
	TOK_NORM_PREPEND,
	TOK_NORM_BYTE_LEVEL,
	TOK_NORM_PRECOMPILED,
	TOK_NORM_NMT,
	TOK_NORM_SEQUENCE,
};

struct tok_normalizer {
	enum tok_norm_kind kind;
	/* BertNormalizer; strip_accents already resolved (null means: same as lowercase). */
	bool clean_text, handle_chinese_chars, strip_accents, lowercase;
	bool strip_left, strip_right; /* Strip */
	struct tok_pattern pattern; /* Replace */
	char *content; /* Replace: the replacement; Prepend: the prefix */
	struct tok_normalizer **seq; /* [n_seq] Sequence */
	int n_seq;
	/* Precompiled (SentencePiece's precompiled_charsmap): a Darts double-array trie over UTF-8
	 * bytes whose values are offsets of NUL-terminated replacements in `repl`. */
	uint32_t *trie; /* [n_trie] units */
	size_t n_trie;
	char *repl; /* [repl_len] replacement strings, valid UTF-8 */
	size_t repl_len;
};

/* Builds a normalizer from its JSON object; path ("normalizer", "normalizer.normalizers[2]")
 * names it in error messages. */
enum sy_status normalizer_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                    struct tok_normalizer **out);
void normalizer_free(struct tok_normalizer *n);

/* Normalizes w->n1 in place (w->n2 is used as scratch). */
enum sy_status normalizer_run(const struct tok_normalizer *n, struct tok_work *w,
                              struct sy_error *err);

#endif
