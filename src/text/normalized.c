/* Growable normalized strings and split lists (see normalized.h). Buffers only grow, so the
 * pipeline's scratch strings reach their working size after the first few inputs and then cost
 * no allocation. */
#include "text/normalized.h"

#include <stdlib.h>
#include <string.h>

void nstr_init(struct tok_nstr *n)
{
	memset(n, 0, sizeof *n);
}

void nstr_free(struct tok_nstr *n)
{
	free(n->s);
	free(n->o0);
	free(n->o1);
	memset(n, 0, sizeof *n);
}

enum sy_status nstr_reserve(struct tok_nstr *n, size_t extra)
{
	if (n->len + extra <= n->cap)
		return SY_OK;
	size_t cap = n->cap ? n->cap : 64;
	while (cap < n->len + extra)
		cap *= 2;
	char *s = realloc(n->s, cap);
	if (!s)
		return SY_ERR_NOMEM;
	n->s = s;
	uint32_t *o0 = realloc(n->o0, cap * sizeof *o0);
	if (!o0)
		return SY_ERR_NOMEM;
	n->o0 = o0;
	uint32_t *o1 = realloc(n->o1, cap * sizeof *o1);
	if (!o1)
		return SY_ERR_NOMEM;
	n->o1 = o1;
	n->cap = cap;
	return SY_OK;
}

void nstr_swap(struct tok_nstr *a, struct tok_nstr *b)
{
	struct tok_nstr t = *a;
	*a = *b;
	*b = t;
}

enum sy_status nstr_push_cp(struct tok_nstr *n, uint32_t cp, uint32_t a, uint32_t b)
{
	if (n->len + 4 > n->cap && nstr_reserve(n, 4) != SY_OK)
		return SY_ERR_NOMEM;
	nstr_put_cp(n, cp, a, b);
	return SY_OK;
}

enum sy_status nstr_push_str(struct tok_nstr *n, const char *s, size_t len, uint32_t a, uint32_t b)
{
	if (nstr_reserve(n, len) != SY_OK)
		return SY_ERR_NOMEM;
	memcpy(n->s + n->len, s, len);
	for (size_t i = 0; i < len; i++) {
		n->o0[n->len + i] = a;
		n->o1[n->len + i] = b;
	}
	n->len += len;
	return SY_OK;
}

enum sy_status nstr_append_range(struct tok_nstr *dst, const struct tok_nstr *src, size_t off,
                                 size_t len)
{
	if (nstr_reserve(dst, len) != SY_OK)
		return SY_ERR_NOMEM;
	memcpy(dst->s + dst->len, src->s + off, len);
	memcpy(dst->o0 + dst->len, src->o0 + off, len * sizeof(uint32_t));
	memcpy(dst->o1 + dst->len, src->o1 + off, len * sizeof(uint32_t));
	dst->len += len;
	return SY_OK;
}

enum sy_status nstr_set_input(struct tok_nstr *n, const char *text, size_t len)
{
	n->len = 0;
	/* A maximal invalid subsequence of one byte becomes three bytes of U+FFFD, so 3x bounds
	 * the output. */
	if (nstr_reserve(n, len * 3 + 4) != SY_OK)
		return SY_ERR_NOMEM;
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	while (i < len) {
		/* Runs of ASCII are copied without decoding. */
		size_t j = i;
		while (j < len && s[j] < 0x80)
			j++;
		if (j > i) {
			memcpy(n->s + n->len, text + i, j - i);
			for (size_t k = i; k < j; k++) {
				n->o0[n->len] = (uint32_t)k;
				n->o1[n->len] = (uint32_t)k + 1;
				n->len++;
			}
			i = j;
			if (i >= len)
				break;
		}
		uint32_t cp, k = utf8_sanitize_step(s + i, len - i, &cp);
		nstr_put_cp(n, cp, (uint32_t)i, (uint32_t)(i + k));
		i += k;
	}
	return SY_OK;
}

void splits_free(struct tok_split_list *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

enum sy_status splits_push(struct tok_split_list *l, struct tok_split sp)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 32;
		struct tok_split *v = realloc(l->v, (size_t)cap * sizeof *v);
		if (!v)
			return SY_ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = sp;
	return SY_OK;
}

void splits_swap(struct tok_split_list *a, struct tok_split_list *b)
{
	struct tok_split_list t = *a;
	*a = *b;
	*b = t;
}
