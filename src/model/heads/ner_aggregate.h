/* From per-token label probabilities to entity spans, as Hugging Face's token-classification
 * pipeline does it, so that a model served here answers what it answers in Python:
 *
 *   1. Special tokens are dropped before this (the caller passes real tokens only).
 *   2. simple: every token is an entity candidate labelled with its most probable label.
 *      first / average / max: tokens are first fused into words (a token continues a word
 *      when is_subword), and a word takes the label of its first token's best label, of the
 *      best label of its tokens' mean probabilities, or of its single most confident token.
 *   3. Candidates are grouped: one continues the previous group when it has the same entity
 *      type (the label without its "B-"/"I-" prefix) and is not a "B-" label; a label without
 *      a prefix counts as "I-". A group's type is its first member's, its score the mean of
 *      its members' scores, its span from the first member's start to the last one's end.
 *   4. Groups of type "O" are dropped, and (our addition) those scoring below a threshold.
 *
 * Offsets are bytes of the item's text; the caller converts them for the API. */
#ifndef SY_MODEL_NER_AGGREGATE_H
#define SY_MODEL_NER_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "model/model.h"

struct ner_token {
	size_t start, end; /* bytes of the text the token covers */
	bool is_subword; /* continues the previous token's word */
	const float *probs; /* [n_labels] softmax of the token's logits */
};

/* Writes the entities (malloc'd, text order) to *out and their count to *n_out. labels[i] names
 * label id i (config.json id2label). */
enum sy_status ner_aggregate(const struct ner_token *toks, int n, const char *const *labels,
                             int n_labels, enum ner_aggregation agg, float threshold,
                             struct sy_error *err, struct model_entity **out, int *n_out);

#endif
