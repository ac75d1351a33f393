/* The batch an encoder-based model fills while tokenising: sequences packed back to back (only
 * real tokens, as bert_forward takes them), grown to the largest batch seen and reused, so a
 * steady stream of batches allocates nothing. Shared by the embedder, the cross-encoder and
 * SPLADE, which differ only in what they do with the encoder's output. */
#ifndef SY_MODEL_PACKED_BATCH_H
#define SY_MODEL_PACKED_BATCH_H

#include <stdint.h>

#include "base/status.h"
#include "model/arch/bert.h"

struct packed_batch {
	int32_t *ids, *type_ids; /* [n_tokens] */
	int *lens; /* [n_seqs] */
	int n_seqs, n_tokens;
	int cap_tokens, cap_seqs;
};

/* Appends a sequence of n tokens; type_ids NULL means all zeros. */
enum sy_status packed_batch_add(struct packed_batch *b, const int32_t *ids, const int32_t *type_ids,
                                int n, struct sy_error *err);
/* Empties the batch, keeping its memory. */
void packed_batch_clear(struct packed_batch *b);
void packed_batch_free(struct packed_batch *b);
/* The batch as bert_forward's input (valid until the next add). */
struct bert_input packed_batch_input(const struct packed_batch *b);

#endif
