/* Post-processors of tokenizer.json ("post_processor": {...}): BertProcessing,
 * RobertaProcessing, TemplateProcessing, ByteLevel and Sequence.
 *
 * Every processor that adds special tokens is represented by a template (Hugging Face's
 * TemplateProcessing model): a single and a pair list of pieces, each either a sequence ($A or
 * $B) or a run of special token ids, with a type id. BertProcessing is "[CLS] $A:0 [SEP]" /
 * "[CLS] $A:0 [SEP] $B:1 [SEP]:1", RobertaProcessing "<s> $A </s>" / "<s> $A </s> </s> $B </s>"
 * with every type id 0. Without such a processor the template is "$A:0" / "$A:0 $B:1".
 *
 * ByteLevel (and RobertaProcessing with trim_offsets) only trims offsets: a token's leading and
 * trailing spaces ('Ġ' or whitespace in the token string) are taken out of its range.
 * A Sequence may hold any number of trimming processors and at most one template. */
#ifndef SY_TEXT_POSTPROCESSOR_H
#define SY_TEXT_POSTPROCESSOR_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/status.h"
#include "text/pipeline.h"
#include "text/tokenizer.h"

struct tok_tpl_piece {
	int seq; /* 0 = $A, 1 = $B, -1 = special tokens */
	uint32_t type_id; /* token type id given to every token of the piece */
	int32_t *ids; /* [n_ids] special token ids (seq < 0) */
	int n_ids;
};

struct tok_postprocessor {
	struct tok_tpl_piece *single, *pair; /* [n_single], [n_pair] */
	int n_single, n_pair;
	int added_single, added_pair; /* special tokens each template adds */
	bool trim_offsets; /* ByteLevel / Roberta offset trimming */
	bool trim_prefix_space; /* their add_prefix_space */
};

/* j may be NULL (no post-processor): then the default template. */
enum sy_status postprocessor_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                       struct tok_postprocessor **out);
/* BertProcessing with the given [CLS] / [SEP] ids (for vocab.txt tokenizers). */
enum sy_status postprocessor_bert(int32_t cls, int32_t sep, struct tok_postprocessor **out);
void postprocessor_free(struct tok_postprocessor *p);

/* Special tokens added for one sequence or a pair (the room truncation leaves for them). */
int postprocessor_added(const struct tok_postprocessor *p, bool pair);

/* Gives the string of token i of s (not NUL-terminated; *len bytes), or NULL. */
typedef const char *(*tok_string_fn)(const void *ctx, const struct tok_seq *s, int i, size_t *len);

/* Trims offsets in place (no-op unless trim_offsets). */
void postprocessor_trim(const struct tok_postprocessor *p, struct tok_seq *s, tok_string_fn str,
                        const void *ctx);

/* Builds the final encoding from the (truncated) sequences; b is NULL for a single text. */
enum sy_status postprocessor_apply(const struct tok_postprocessor *p, const struct tok_seq *a,
                                   const struct tok_seq *b, bool add_special_tokens,
                                   struct sy_error *err, struct tok_encoding *out);

#endif
