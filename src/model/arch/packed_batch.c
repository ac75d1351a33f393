/* Packed batches of token sequences (see packed_batch.h). */
#include "model/arch/packed_batch.h"

#include <stdlib.h>
#include <string.h>

enum sy_status packed_batch_add(struct packed_batch *b, const int32_t *ids, const int32_t *type_ids,
                                int n, struct sy_error *err)
{
	if (b->n_tokens + n > b->cap_tokens) {
		int need = b->n_tokens + n;
		int cap = need > 2 * b->cap_tokens ? need : 2 * b->cap_tokens;
		int32_t *a = realloc(b->ids, (size_t)cap * sizeof *a);
		if (a)
			b->ids = a;
		int32_t *t = realloc(b->type_ids, (size_t)cap * sizeof *t);
		if (t)
			b->type_ids = t;
		if (!a || !t)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d tokens", need);
		b->cap_tokens = cap;
	}
	if (b->n_seqs + 1 > b->cap_seqs) {
		int cap = b->cap_seqs ? 2 * b->cap_seqs : 16;
		int *l = realloc(b->lens, (size_t)cap * sizeof *l);
		if (!l)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory for %d texts", cap);
		b->lens = l;
		b->cap_seqs = cap;
	}
	memcpy(b->ids + b->n_tokens, ids, (size_t)n * sizeof *ids);
	if (type_ids)
		memcpy(b->type_ids + b->n_tokens, type_ids, (size_t)n * sizeof *type_ids);
	else
		memset(b->type_ids + b->n_tokens, 0, (size_t)n * sizeof *type_ids);
	b->lens[b->n_seqs++] = n;
	b->n_tokens += n;
	return SY_OK;
}

void packed_batch_clear(struct packed_batch *b)
{
	b->n_seqs = b->n_tokens = 0;
}

void packed_batch_free(struct packed_batch *b)
{
	free(b->ids);
	free(b->type_ids);
	free(b->lens);
	memset(b, 0, sizeof *b);
}

struct encoder_input packed_batch_input(const struct packed_batch *b)
{
	return (struct encoder_input){
	    .n_seqs = b->n_seqs, .lens = b->lens, .ids = b->ids, .type_ids = b->type_ids};
}

enum sy_status packed_batch_chunks(struct packed_batch *b, const struct model_item *items, int n,
                                   int budget, bool with_types, packed_flush_fn flush, void *ctx,
                                   struct sy_error *err)
{
	enum sy_status s = SY_OK;
	int first = 0;
	packed_batch_clear(b);
	for (int i = 0; s == SY_OK && i < n; i++) {
		const struct tok_encoding *enc = &items[i].prep->enc;
		if (b->n_seqs > 0 && b->n_tokens + enc->n > budget) {
			s = flush(ctx, b, first, i - first, err);
			packed_batch_clear(b);
			first = i;
		}
		if (s == SY_OK)
			s = packed_batch_add(b, enc->ids, with_types ? enc->type_ids : NULL, enc->n,
			                     err);
	}
	if (s == SY_OK && b->n_seqs > 0)
		s = flush(ctx, b, first, n - first, err);
	packed_batch_clear(b);
	return s;
}
