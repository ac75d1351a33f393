/* Patterns for the Replace normalizer and the Split / ByteLevel pre-tokenizers: a literal string
 * or a regular expression (PCRE2 with UTF and Unicode properties; tokenizer.json regexes are
 * written for Oniguruma, whose syntax PCRE2 accepts for the patterns tokenizers use).
 *
 * pattern_find reports the matches and the gaps between them in order, covering the whole
 * subject, as Hugging Face's Pattern::find_matches does. After an empty match the search resumes
 * with a non-empty match at the same position, then one character further (Perl's rule). */
#ifndef SY_TEXT_PATTERN_H
#define SY_TEXT_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/status.h"

struct tok_pattern {
	pcre2_code *re; /* NULL for a literal */
	char *lit; /* the literal (valid UTF-8), NULL for a regex */
	size_t lit_len;
};

/* Compiles `text` as a regex (regex = true) or keeps it as a literal. `field` names the JSON
 * field for error messages. */
enum sy_status pattern_init(struct tok_pattern *p, const char *text, bool regex, const char *field,
                            struct sy_error *err);
void pattern_free(struct tok_pattern *p);

/* Called for each consecutive range [start, end) of the subject, is_match telling a match from
 * a gap. A non-OK return stops the search and is passed on. */
typedef enum sy_status (*tok_match_fn)(void *ctx, uint32_t start, uint32_t end, bool is_match);

/* md: match data from pattern_match_data_create (per thread). */
enum sy_status pattern_find(const struct tok_pattern *p, const char *s, size_t len,
                            pcre2_match_data *md, tok_match_fn fn, void *ctx, struct sy_error *err);

pcre2_match_data *pattern_match_data_create(void);

#endif
