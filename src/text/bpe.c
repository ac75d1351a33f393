/* The BPE model (Sennrich et al. 2016; as implemented by Hugging Face `tokenizers` models::bpe,
 * whose merge_word and Word::merge_all this follows): a piece is split into characters, each
 * looked up in the vocabulary, and adjacent symbols are then merged by rank, the merge listed
 * first in model.merges applying first (leftmost on a tie), until no adjacent pair has a merge.
 *
 * Details that decide ids, all as in the reference:
 * - Every character but the first is looked up with continuing_subword_prefix in front, and the
 *   last one with end_of_word_suffix behind. A merge (a, b) produces a + b without the first
 *   prefix-length bytes of b.
 * - A character not in the vocabulary becomes "<0xXX>" tokens for each byte of its lookup key
 *   (prefix and suffix included, as the reference does) when byte_fallback is set and all those
 *   byte tokens exist; otherwise the unk token (consecutive ones fused into one with fuse_unk);
 *   without unk_token the character is dropped.
 * - With ignore_merges, a piece that is in the vocabulary as a whole is emitted directly.
 * - The priority queue keeps stale entries and skips one when the pair now at its position no
 *   longer merges into the same token, exactly as the reference does.
 * - dropout (BPE-dropout, a training-time regulariser that skips merges at random) is accepted
 *   and ignored: inference is deterministic, which is what the reference does with dropout 0.
 * Byte-level BPE (GPT-2, RoBERTa) needs nothing special here: the ByteLevel pre-tokenizer maps
 * bytes to printable characters before the model sees the text.
 *
 * Offsets: every symbol carries the byte range of the characters it covers; a byte-fallback
 * token covers the character its byte came from (the reference gives each byte one byte).
 *
 * Allocation: one block per call (none for short pieces) holds the symbols, the queue and the
 * lookup key buffer, sized from an upper bound on the symbol count. There is no cache. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "text/models_internal.h"
#include "text/text_model.h"

#define BPE_STACK_SYMS 64 /* pieces needing at most this many symbols use stack scratch */
#define BPE_STACK_KEY 64

/* One merge rule: the pair (a, b) of token ids, packed as a << 32 | b. */
struct bpe_merge {
	uint64_t pair; /* BPE_EMPTY when the slot is free */
	uint32_t rank; /* position in model.merges (after "#version" lines): lower applies first */
	int32_t new_id;
};
#define BPE_EMPTY UINT64_MAX

struct bpe {
	struct tok_vocab vocab;
	struct bpe_merge *merges; /* [merge_cap] open addressing, linear probing */
	uint32_t merge_cap; /* power of two, at least twice the number of merges */
	uint32_t merge_shift; /* 64 - log2(merge_cap), for the multiplicative hash */
	char *prefix; /* continuing_subword_prefix, NULL when none */
	uint32_t prefix_len;
	char *suffix; /* end_of_word_suffix, NULL when none */
	uint32_t suffix_len;
	char *unk_token; /* NULL when none */
	int32_t unk_id; /* id of unk_token, -1 when none or not in the vocabulary */
	bool fuse_unk, byte_fallback, ignore_merges;
	int32_t byte_id[256]; /* id of "<0xXX>" per byte, -1 when absent */
};

static inline uint64_t bpe_pair(int32_t a, int32_t b)
{
	return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

static inline uint32_t bpe_slot(const struct bpe *m, uint64_t pair)
{
	return (uint32_t)((pair * 0x9E3779B97F4A7C15ull) >> m->merge_shift);
}

static const struct bpe_merge *bpe_merge_find(const struct bpe *m, int32_t a, int32_t b)
{
	uint64_t p = bpe_pair(a, b);
	for (uint32_t j = bpe_slot(m, p);; j = (j + 1) & (m->merge_cap - 1)) {
		const struct bpe_merge *s = &m->merges[j];
		if (s->pair == p)
			return s;
		if (s->pair == BPE_EMPTY)
			return NULL;
	}
}

/* Inserts or overwrites: a pair listed twice keeps its last rank, as the reference's map does. */
static void bpe_merge_put(struct bpe *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id)
{
	uint64_t p = bpe_pair(a, b);
	uint32_t j = bpe_slot(m, p);
	while (m->merges[j].pair != BPE_EMPTY && m->merges[j].pair != p)
		j = (j + 1) & (m->merge_cap - 1);
	m->merges[j] = (struct bpe_merge){p, rank, new_id};
}

/* ---- encoding ---- */

struct bpe_sym {
	int32_t id; /* token id, -1 once merged into its left neighbour */
	int32_t prev, next; /* neighbours among live symbols, -1 at the ends */
	uint32_t start, end; /* byte range within the piece */
};

struct bpe_cand {
	uint32_t rank;
	int32_t pos; /* index of the left symbol */
	int32_t new_id;
};

static inline bool bpe_cand_less(const struct bpe_cand *x, const struct bpe_cand *y)
{
	return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void bpe_heap_push(struct bpe_cand *h, int *n, struct bpe_cand c)
{
	int i = (*n)++;
	while (i > 0) {
		int p = (i - 1) / 2;
		if (!bpe_cand_less(&c, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = c;
}

static struct bpe_cand bpe_heap_pop(struct bpe_cand *h, int *n)
{
	struct bpe_cand top = h[0], last = h[--(*n)];
	int i = 0;
	for (;;) {
		int c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && bpe_cand_less(&h[c + 1], &h[c]))
			c++;
		if (!bpe_cand_less(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = last;
	return top;
}

static void bpe_sym_add(struct bpe_sym *s, int *n, int32_t id, uint32_t start, uint32_t end)
{
	int i = (*n)++;
	s[i] = (struct bpe_sym){id, i - 1, -1, start, end};
	if (i > 0)
		s[i - 1].next = i;
}

/* Applies merges by rank until none applies (the reference's Word::merge_all). */
static void bpe_merge_all(const struct bpe *m, struct bpe_sym *s, int n, struct bpe_cand *heap)
{
	int nh = 0;
	for (int i = 0; i + 1 < n; i++) {
		const struct bpe_merge *r = bpe_merge_find(m, s[i].id, s[i + 1].id);
		if (r)
			bpe_heap_push(heap, &nh, (struct bpe_cand){r->rank, i, r->new_id});
	}
	while (nh > 0) {
		struct bpe_cand top = bpe_heap_pop(heap, &nh);
		struct bpe_sym *l = &s[top.pos];
		if (l->id < 0 || l->next < 0)
			continue;
		struct bpe_sym *r = &s[l->next];
		const struct bpe_merge *mg = bpe_merge_find(m, l->id, r->id);
		if (!mg || mg->new_id != top.new_id)
			continue; /* a stale entry: the pair at this position changed */
		l->id = top.new_id;
		l->end = r->end;
		l->next = r->next;
		r->id = -1;
		if (l->next >= 0)
			s[l->next].prev = top.pos;
		if (l->prev >= 0) {
			mg = bpe_merge_find(m, s[l->prev].id, l->id);
			if (mg)
				bpe_heap_push(heap, &nh,
				              (struct bpe_cand){mg->rank, l->prev, mg->new_id});
		}
		if (l->next >= 0) {
			mg = bpe_merge_find(m, l->id, s[l->next].id);
			if (mg)
				bpe_heap_push(heap, &nh,
				              (struct bpe_cand){mg->rank, top.pos, mg->new_id});
		}
	}
}

static enum sy_status bpe_tokenize(const void *impl, const char *piece, size_t len,
                                   struct tok_piece_buf *out, struct sy_error *err)
{
	const struct bpe *m = impl;
	if (len == 0)
		return SY_OK;
	if (len >= INT32_MAX / 4)
		return sy_error_set(err, SY_ERR_LIMIT, "BPE: piece of %zu bytes is too long", len);
	if (m->ignore_merges) {
		int32_t id = sy_strmap_get(&m->vocab.map, piece, len);
		if (id >= 0) {
			if (tok_piece_push(out, id, 0, (uint32_t)len) != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "BPE: out of memory");
			return SY_OK;
		}
	}

	/* Without byte fallback a character yields at most one symbol; with it, at most one
	 * per byte of its key (prefix + character + suffix). */
	size_t max_syms =
	    m->byte_fallback ? len * (1 + (size_t)m->prefix_len) + m->suffix_len : len;
	size_t key_cap = (size_t)m->prefix_len + 4 + m->suffix_len;
	if (max_syms >= INT32_MAX / 4)
		return sy_error_set(err, SY_ERR_LIMIT, "BPE: piece of %zu bytes is too long", len);
	struct bpe_sym stack_syms[BPE_STACK_SYMS];
	struct bpe_cand stack_heap[3 * BPE_STACK_SYMS];
	char stack_key[BPE_STACK_KEY];
	struct bpe_sym *syms = stack_syms;
	struct bpe_cand *heap = stack_heap;
	char *key = stack_key;
	void *block = NULL;
	if (max_syms > BPE_STACK_SYMS || key_cap > BPE_STACK_KEY) {
		block = malloc(max_syms * (sizeof *syms + 3 * sizeof *heap) + key_cap);
		if (!block)
			return sy_error_set(err, SY_ERR_NOMEM, "BPE: out of memory");
		syms = block;
		heap = (struct bpe_cand *)(syms + max_syms);
		key = (char *)(heap + 3 * max_syms);
	}

	enum sy_status st = SY_OK;
	int n = 0;
	int64_t unk_s = -1, unk_e = -1; /* a pending (possibly fused) unknown run */
	for (uint32_t pos = 0; pos < len;) {
		uint32_t cl = tok_utf8_len(piece + pos, len - pos), end = pos + cl;
		bool pre = m->prefix && pos > 0, suf = m->suffix && end == len;
		const char *k = piece + pos;
		size_t kl = cl;
		if (pre || suf) {
			kl = 0;
			if (pre) {
				memcpy(key, m->prefix, m->prefix_len);
				kl = m->prefix_len;
			}
			memcpy(key + kl, piece + pos, cl);
			kl += cl;
			if (suf) {
				memcpy(key + kl, m->suffix, m->suffix_len);
				kl += m->suffix_len;
			}
			k = key;
		}
		int32_t id = sy_strmap_get(&m->vocab.map, k, kl);
		bool fallback = false;
		if (id < 0 && m->byte_fallback) {
			fallback = true;
			for (size_t i = 0; i < kl && fallback; i++)
				fallback = m->byte_id[(uint8_t)k[i]] >= 0;
		}
		if (id >= 0) {
			if (unk_s >= 0) {
				bpe_sym_add(syms, &n, m->unk_id, (uint32_t)unk_s, (uint32_t)unk_e);
				unk_s = -1;
			}
			bpe_sym_add(syms, &n, id, pos, end);
		} else if (fallback) {
			/* The reference leaves a pending unk where it is, so it comes out after
			 * these byte tokens (and may fuse with a later unknown). This only happens
			 * with an incomplete set of byte tokens; ids follow the reference, offsets
			 * stay those of the characters. */
			for (size_t i = 0; i < kl; i++)
				bpe_sym_add(syms, &n, m->byte_id[(uint8_t)k[i]], pos, end);
		} else if (m->unk_token) {
			if (m->unk_id < 0) {
				st = sy_error_set(
				    err, SY_ERR_FORMAT,
				    "BPE: model.unk_token \"%.60s\" is not in the vocabulary",
				    m->unk_token);
				goto out;
			}
			if (unk_s >= 0 && m->fuse_unk) {
				unk_e = end;
			} else {
				if (unk_s >= 0)
					bpe_sym_add(syms, &n, m->unk_id, (uint32_t)unk_s,
					            (uint32_t)unk_e);
				unk_s = pos;
				unk_e = end;
			}
		}
		pos = end;
	}
	if (unk_s >= 0)
		bpe_sym_add(syms, &n, m->unk_id, (uint32_t)unk_s, (uint32_t)unk_e);

	bpe_merge_all(m, syms, n, heap);
	for (int i = n > 0 ? 0 : -1; i >= 0; i = syms[i].next) {
		if (tok_piece_push(out, syms[i].id, syms[i].start, syms[i].end) != SY_OK) {
			st = sy_error_set(err, SY_ERR_NOMEM, "BPE: out of memory");
			break;
		}
	}
out:
	free(block);
	return st;
}

static int32_t bpe_token_to_id(const void *impl, const char *tok, size_t len)
{
	const struct bpe *m = impl;
	return sy_strmap_get(&m->vocab.map, tok, len);
}

static const char *bpe_id_to_token(const void *impl, int32_t id)
{
	const struct bpe *m = impl;
	return tok_vocab_token(&m->vocab, id);
}

static int bpe_vocab_size(const void *impl)
{
	const struct bpe *m = impl;
	return m->vocab.n;
}

static void bpe_free(void *impl)
{
	struct bpe *m = impl;
	if (!m)
		return;
	tok_vocab_free(&m->vocab);
	free(m->merges);
	free(m->prefix);
	free(m->suffix);
	free(m->unk_token);
	free(m);
}

static size_t bpe_bytes(const void *impl)
{
	const struct bpe *m = impl;
	return sizeof *m + tok_vocab_bytes(&m->vocab) + (size_t)m->merge_cap * sizeof *m->merges;
}

static const struct text_model_vt bpe_vt = {
    .kind = "BPE",
    .tokenize = bpe_tokenize,
    .token_to_id = bpe_token_to_id,
    .id_to_token = bpe_id_to_token,
    .vocab_size = bpe_vocab_size,
    .bytes = bpe_bytes,
    .free = bpe_free,
};

/* ---- loading ---- */

static enum sy_status bpe_copy_opt_string(const cJSON *model, const char *name,
                                          struct sy_error *err, char **out, uint32_t *out_len)
{
	const char *s;
	enum sy_status st = tok_json_opt_string(model, name, err, &s);
	if (st != SY_OK || !s)
		return st;
	size_t len = strlen(s);
	if (len > 4096)
		return sy_error_set(err, SY_ERR_LIMIT, "model.%s: longer than 4096 bytes", name);
	*out = strdup(s);
	if (!*out)
		return sy_error_set(err, SY_ERR_NOMEM, "model: out of memory");
	if (out_len)
		*out_len = (uint32_t)len;
	return SY_OK;
}

/* Splits merge i (either "a b" or ["a", "b"]) into its two parts. Returns 1 for a "#version"
 * comment line, which the reference skips without giving it a rank. */
static int bpe_merge_parts(const cJSON *it, const char **a, size_t *a_len, const char **b,
                           size_t *b_len)
{
	if (cJSON_IsString(it) && it->valuestring) {
		const char *s = it->valuestring;
		if (strncmp(s, "#version", 8) == 0)
			return 1;
		/* The reference splits on every ' ' and wants exactly two parts. */
		const char *sp = strchr(s, ' ');
		if (!sp || strchr(sp + 1, ' '))
			return -1;
		*a = s;
		*a_len = (size_t)(sp - s);
		*b = sp + 1;
		*b_len = strlen(sp + 1);
		return 0;
	}
	const cJSON *x = cJSON_IsArray(it) ? it->child : NULL, *y = x ? x->next : NULL;
	if (!cJSON_IsString(x) || !x->valuestring || !cJSON_IsString(y) || !y->valuestring ||
	    y->next)
		return -1;
	*a = x->valuestring;
	*a_len = strlen(*a);
	*b = y->valuestring;
	*b_len = strlen(*b);
	return 0;
}

static enum sy_status bpe_parse_merges(struct bpe *m, const cJSON *merges, struct sy_error *err)
{
	if (!merges)
		return sy_error_set(err, SY_ERR_FORMAT, "model.merges: missing");
	if (!cJSON_IsArray(merges))
		return sy_error_set(err, SY_ERR_FORMAT, "model.merges: expected an array");
	size_t n = 0;
	for (const cJSON *it = merges->child; it; it = it->next)
		n++;
	if (n > (1u << 29))
		return sy_error_set(err, SY_ERR_LIMIT, "model.merges: too many (%zu)", n);
	uint32_t cap = 16, shift = 60;
	while (cap < 2 * n) {
		cap *= 2;
		shift--;
	}
	m->merges = malloc(cap * sizeof *m->merges);
	if (!m->merges)
		return sy_error_set(err, SY_ERR_NOMEM, "model.merges: out of memory");
	for (uint32_t j = 0; j < cap; j++)
		m->merges[j].pair = BPE_EMPTY;
	m->merge_cap = cap;
	m->merge_shift = shift;

	char *buf = NULL; /* a + b without the prefix, for the merged token's lookup */
	size_t buf_cap = 0;
	uint32_t rank = 0;
	size_t i = 0;
	enum sy_status st = SY_OK;
	for (const cJSON *it = merges->child; it; it = it->next, i++) {
		const char *a, *b;
		size_t al, bl;
		int r = bpe_merge_parts(it, &a, &al, &b, &bl);
		if (r == 1)
			continue;
		if (r < 0) {
			st = sy_error_set(err, SY_ERR_FORMAT,
			                  "model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]",
			                  i);
			break;
		}
		int32_t a_id = sy_strmap_get(&m->vocab.map, a, al);
		int32_t b_id = sy_strmap_get(&m->vocab.map, b, bl);
		if (a_id < 0 || b_id < 0) {
			const char *w = a_id < 0 ? a : b;
			size_t wl = a_id < 0 ? al : bl;
			st = sy_error_set(err, SY_ERR_FORMAT,
			                  "model.merges[%zu]: \"%.*s\" not in vocab", i,
			                  wl > 60 ? 60 : (int)wl, w);
			break;
		}
		/* The reference cuts prefix-length bytes off b unconditionally (b is expected to
		 * start with the prefix); a b shorter than the prefix would make it panic. */
		if (m->prefix && bl < m->prefix_len) {
			st = sy_error_set(err, SY_ERR_FORMAT,
			                  "model.merges[%zu]: \"%.*s\" is shorter than "
			                  "continuing_subword_prefix",
			                  i, bl > 60 ? 60 : (int)bl, b);
			break;
		}
		size_t cut = m->prefix ? m->prefix_len : 0, nl = al + bl - cut;
		if (nl > buf_cap) {
			char *nb = realloc(buf, nl * 2 + 16);
			if (!nb) {
				st = sy_error_set(err, SY_ERR_NOMEM, "model.merges: out of memory");
				break;
			}
			buf = nb;
			buf_cap = nl * 2 + 16;
		}
		memcpy(buf, a, al);
		memcpy(buf + al, b + cut, bl - cut);
		int32_t new_id = sy_strmap_get(&m->vocab.map, buf, nl);
		if (new_id < 0) {
			st = sy_error_set(err, SY_ERR_FORMAT,
			                  "model.merges[%zu]: merged token \"%.*s\" not in vocab",
			                  i, nl > 60 ? 60 : (int)nl, buf);
			break;
		}
		bpe_merge_put(m, a_id, b_id, rank++, new_id);
	}
	free(buf);
	return st;
}

enum sy_status bpe_from_json(const cJSON *model, struct sy_error *err, struct text_model *out)
{
	enum sy_status st = tok_json_check_type(model, "BPE", err);
	if (st != SY_OK)
		return st;
	struct bpe *m = calloc(1, sizeof *m);
	if (!m)
		return sy_error_set(err, SY_ERR_NOMEM, "model: out of memory");
	m->unk_id = -1;
	st = tok_vocab_from_json(cJSON_GetObjectItemCaseSensitive(model, "vocab"), "model.vocab",
	                         err, &m->vocab);
	if (st != SY_OK) {
		free(m);
		return st;
	}
	const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
	if (dropout && !cJSON_IsNull(dropout) &&
	    !(cJSON_IsNumber(dropout) && dropout->valuedouble >= 0 && dropout->valuedouble <= 1)) {
		st = sy_error_set(err, SY_ERR_FORMAT, "model.dropout: expected a number in [0, 1]");
		goto fail;
	}
	if ((st = bpe_copy_opt_string(model, "unk_token", err, &m->unk_token, NULL)) != SY_OK ||
	    (st = bpe_copy_opt_string(model, "continuing_subword_prefix", err, &m->prefix,
	                              &m->prefix_len)) != SY_OK ||
	    (st = bpe_copy_opt_string(model, "end_of_word_suffix", err, &m->suffix,
	                              &m->suffix_len)) != SY_OK)
		goto fail;
	int fuse = 0, bf = 0, ign = 0;
	if ((st = tok_json_opt_bool(model, "fuse_unk", err, &fuse)) != SY_OK ||
	    (st = tok_json_opt_bool(model, "byte_fallback", err, &bf)) != SY_OK ||
	    (st = tok_json_opt_bool(model, "ignore_merges", err, &ign)) != SY_OK)
		goto fail;
	m->fuse_unk = fuse;
	m->byte_fallback = bf;
	m->ignore_merges = ign;
	if (m->unk_token)
		m->unk_id = sy_strmap_get(&m->vocab.map, m->unk_token, strlen(m->unk_token));
	tok_byte_ids_fill(&m->vocab.map, m->byte_id);
	st = bpe_parse_merges(m, cJSON_GetObjectItemCaseSensitive(model, "merges"), err);
	if (st != SY_OK)
		goto fail;
	out->vt = &bpe_vt;
	out->impl = m;
	return SY_OK;
fail:
	bpe_free(m);
	return st;
}
