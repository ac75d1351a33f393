/* The growable token buffer that models append to (text_model.h). */
#include <stdlib.h>

#include "text/text_model.h"

enum sy_status tok_piece_push(struct tok_piece_buf *b, int32_t id, uint32_t start, uint32_t end)
{
	if (b->n == b->cap) {
		int cap = b->cap ? b->cap * 2 : 64;
		struct tok_piece *v = realloc(b->v, (size_t)cap * sizeof *v);
		if (!v)
			return SY_ERR_NOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = (struct tok_piece){id, start, end};
	return SY_OK;
}
