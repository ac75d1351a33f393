/* The batch an encoder-based model runs: prepared sequences packed back to back (only
 * real tokens, as the encoders take them), grown to the largest batch seen and reused, so a
 * steady stream of batches allocates nothing. Shared by the dense heads, the cross-encoder and
 * SPLADE, which differ only in what they do with the encoder's output. */
#ifndef SY_MODEL_PACKED_BATCH_H
#define SY_MODEL_PACKED_BATCH_H

#include <stdint.h>

#include <stdbool.h>

#include "base/status.h"
#include "model/arch/encoder.h"
#include "model/model.h"

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
/* The batch as an encoder's input (valid until the next add). */
struct encoder_input packed_batch_input(const struct packed_batch *b);

/* Called for each chunk packed_batch_chunks makes: the batch holds items [first, first+count). */
typedef enum sy_status (*packed_flush_fn)(void *ctx, struct packed_batch *b, int first, int count,
                                          struct sy_error *err);

/* Packs the prepared items' tokens into b in chunks of at most budget tokens (an item longer
 * than budget goes alone), calling flush after each chunk; b is emptied before each. With
 * with_types each encoding's token types go in, else zeros. Items keep their order, so a
 * chunk's outputs are contiguous. */
enum sy_status packed_batch_chunks(struct packed_batch *b, const struct model_item *items, int n,
                                   int budget, bool with_types, packed_flush_fn flush, void *ctx,
                                   struct sy_error *err);

#endif
