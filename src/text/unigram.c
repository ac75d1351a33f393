/* The Unigram model (Kudo 2018, "Subword Regularization"; as implemented by sentencepiece and by
 * Hugging Face `tokenizers` models::unigram, whose encode_optimized this follows): a piece of
 * text is split into the sequence of vocabulary pieces with the highest total score (a sum of
 * log-probabilities), found by Viterbi over every byte position.
 *
 * Rules copied from the reference so ids match it exactly:
 * - At each character position every vocabulary piece that starts there is a candidate (found
 *   by a byte trie walk, shortest first). If no piece covers exactly that one character, an
 *   unknown node of one character with score (min over the vocabulary) - 10 is added as well.
 *   A candidate replaces the best path into its end position only when strictly better, so on a
 *   tie the earlier-found candidate (shorter piece, then the unknown node) stays.
 * - Consecutive tokens whose id is unk_id are fused into one; the fused text is looked up in the
 *   vocabulary again, and failing that, with byte_fallback, becomes "<0xXX>" tokens for each of
 *   its bytes when all of them exist; otherwise it is one unk token.
 * - Without an unk_id, an unknown node that would become the best path into a position is an
 *   error (Hugging Face: "Encountered an unknown token but `unk_id` is missing").
 * Offsets: a fused unknown covers all its characters; a byte-fallback token covers the
 * character its byte belongs to (the reference gives every byte the whole fused range).
 *
 * The trie is stored breadth-first so that a node's children are consecutive nodes sorted by
 * byte; the root's children are found through a 256-entry table. A lookup costs one small search
 * per byte and the model allocates nothing per call for pieces up to UNI_STACK_BYTES. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "text/models_internal.h"
#include "text/text_model.h"

#define UNI_UNK_PENALTY 10.0
#define UNI_STACK_BYTES 256 /* pieces up to this many bytes use stack scratch */

struct uni_node {
	uint32_t child; /* index of the first child; children are consecutive, sorted by byte */
	uint16_t n_child; /* 0..256 */
	uint8_t byte; /* the byte on the edge into this node */
	int32_t id; /* id of the piece that ends here, -1 when none */
};

struct unigram {
	int n; /* vocabulary size (entries of model.vocab, repeats included) */
	char *blob; /* all pieces, NUL-terminated, back to back */
	uint32_t *piece_off; /* [n] byte offset of piece i in blob */
	double *score; /* [n] score (log-probability) of piece i */
	struct sy_strmap map; /* piece -> id; a repeated piece keeps its last id */
	int32_t unk_id; /* -1 when model.unk_id is null */
	double unk_score; /* score of an unknown character: min score - UNI_UNK_PENALTY */
	bool byte_fallback;
	int32_t byte_id[256]; /* id of "<0xXX>" per byte, -1 when absent */
	struct uni_node *nodes; /* [n_nodes] the trie, breadth-first; nodes[0] is the root */
	uint32_t n_nodes;
	int32_t root_child[256]; /* node index of the root's child per byte, -1 when none */
};

/* ---- trie ---- */

struct uni_key {
	const char *s;
	uint32_t len;
	int32_t id;
};

static int uni_key_cmp(const void *a, const void *b)
{
	const struct uni_key *x = a, *y = b;
	uint32_t m = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, m);
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Builds the trie from the pieces. Keys are inserted in sorted order, so the child a key
 * continues into is always the most recently added child of its node; this keeps the
 * construction linear without per-node child tables. A repeated piece ends on the node of its
 * last occurrence (the sort puts equal keys in id order). */
static enum sy_status uni_trie_build(struct unigram *u, struct sy_error *err)
{
	size_t total = 0;
	for (int i = 0; i < u->n; i++)
		total += strlen(u->blob + u->piece_off[i]);
	if (total + 1 > UINT32_MAX)
		return sy_error_set(err, SY_ERR_LIMIT, "model.vocab: pieces too long in total");
	size_t cap = total + 1;
	struct uni_key *keys = malloc((u->n ? (size_t)u->n : 1) * sizeof *keys);
	uint8_t *t_byte = malloc(cap);
	int32_t *t_id = malloc(cap * sizeof *t_id);
	int32_t *t_first = malloc(cap * sizeof *t_first);
	int32_t *t_last = malloc(cap * sizeof *t_last);
	int32_t *t_next = malloc(cap * sizeof *t_next);
	int32_t *queue = malloc(cap * sizeof *queue);
	enum sy_status st = SY_OK;
	if (!keys || !t_byte || !t_id || !t_first || !t_last || !t_next || !queue) {
		st = sy_error_set(err, SY_ERR_NOMEM, "model.vocab: out of memory");
		goto out;
	}
	int nk = 0;
	for (int i = 0; i < u->n; i++) {
		const char *s = u->blob + u->piece_off[i];
		size_t len = strlen(s);
		if (len) /* an empty piece can never be matched */
			keys[nk++] = (struct uni_key){s, (uint32_t)len, i};
	}
	qsort(keys, (size_t)nk, sizeof *keys, uni_key_cmp);

	uint32_t nn = 1;
	t_byte[0] = 0;
	t_id[0] = t_first[0] = t_last[0] = t_next[0] = -1;
	for (int k = 0; k < nk; k++) {
		uint32_t cur = 0;
		for (uint32_t j = 0; j < keys[k].len; j++) {
			uint8_t b = (uint8_t)keys[k].s[j];
			int32_t last = t_last[cur];
			if (last >= 0 && t_byte[last] == b) {
				cur = (uint32_t)last;
				continue;
			}
			uint32_t c = nn++;
			t_byte[c] = b;
			t_id[c] = t_first[c] = t_last[c] = t_next[c] = -1;
			if (last >= 0)
				t_next[last] = (int32_t)c;
			else
				t_first[cur] = (int32_t)c;
			t_last[cur] = (int32_t)c;
			cur = c;
		}
		t_id[cur] = keys[k].id;
	}

	u->nodes = malloc(nn * sizeof *u->nodes);
	if (!u->nodes) {
		st = sy_error_set(err, SY_ERR_NOMEM, "model.vocab: out of memory");
		goto out;
	}
	u->n_nodes = nn;
	/* Breadth-first renumbering: a node's children are pushed together, so they get
	 * consecutive final indices in sibling (byte) order. */
	uint32_t tail = 1;
	queue[0] = 0;
	for (uint32_t q = 0; q < nn; q++) {
		int32_t t = queue[q];
		struct uni_node *nd = &u->nodes[q];
		nd->byte = t_byte[t];
		nd->id = t_id[t];
		nd->child = tail;
		uint32_t cnt = 0;
		for (int32_t c = t_first[t]; c >= 0; c = t_next[c]) {
			queue[tail++] = c;
			cnt++;
		}
		nd->n_child = (uint16_t)cnt;
	}
	for (int b = 0; b < 256; b++)
		u->root_child[b] = -1;
	for (uint32_t c = 0; c < u->nodes[0].n_child; c++) {
		uint32_t i = u->nodes[0].child + c;
		u->root_child[u->nodes[i].byte] = (int32_t)i;
	}
out:
	free(keys);
	free(t_byte);
	free(t_id);
	free(t_first);
	free(t_last);
	free(t_next);
	free(queue);
	return st;
}

/* The child of node i along byte b, or -1. */
static inline int32_t uni_trie_step(const struct unigram *u, uint32_t i, uint8_t b)
{
	const struct uni_node *nd = &u->nodes[i];
	uint32_t lo = nd->child, end = nd->child + nd->n_child, hi = end;
	/* Narrow [lo, hi) while keeping every child before lo below b; the first child >= b may
	 * be at hi itself, so the scan below runs to the end of the children, not to hi. */
	while (hi - lo > 8) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (u->nodes[mid].byte < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < end; lo++) {
		uint8_t x = u->nodes[lo].byte;
		if (x == b)
			return (int32_t)lo;
		if (x > b)
			break;
	}
	return -1;
}

/* ---- encoding ---- */

/* Emits the fused run of unknown characters text[s, e). */
static enum sy_status uni_emit_unk_run(const struct unigram *u, const char *text, uint32_t s,
                                       uint32_t e, struct tok_piece_buf *out)
{
	/* The fused text may itself be a piece (the literal unk piece, say). */
	int32_t id = sy_strmap_get(&u->map, text + s, e - s);
	if (id >= 0)
		return tok_piece_push(out, id, s, e);
	if (u->byte_fallback) {
		bool all = true;
		for (uint32_t i = s; i < e && all; i++)
			all = u->byte_id[(uint8_t)text[i]] >= 0;
		if (all) {
			for (uint32_t cs = s; cs < e;) {
				uint32_t ce = cs + tok_utf8_len(text + cs, e - cs);
				for (uint32_t i = cs; i < ce; i++) {
					enum sy_status st = tok_piece_push(
					    out, u->byte_id[(uint8_t)text[i]], cs, ce);
					if (st != SY_OK)
						return st;
				}
				cs = ce;
			}
			return SY_OK;
		}
	}
	return tok_piece_push(out, u->unk_id, s, e);
}

static enum sy_status unigram_tokenize(const void *impl, const char *text, size_t len,
                                       struct tok_piece_buf *out, struct sy_error *err)
{
	const struct unigram *u = impl;
	if (len == 0)
		return SY_OK;
	if (len >= INT32_MAX)
		return sy_error_set(err, SY_ERR_LIMIT, "Unigram: piece of %zu bytes is too long",
		                    len);

	/* Per position p (a byte offset, 0..len): the best path score into p, where the last
	 * token of that path starts (-1: p not reached yet) and its id; plus the path itself. */
	struct scratch {
		double score;
		int32_t start, id, path;
	};
	struct scratch stack_buf[UNI_STACK_BYTES + 1];
	struct scratch *b = stack_buf;
	if (len > UNI_STACK_BYTES) {
		b = malloc((len + 1) * sizeof *b);
		if (!b)
			return sy_error_set(err, SY_ERR_NOMEM, "Unigram: out of memory");
	}
	enum sy_status st = SY_OK;
	for (size_t p = 0; p <= len; p++)
		b[p].start = -1;
	b[0].score = 0;
	b[0].id = -1;

	for (uint32_t pos = 0; pos < len;) {
		uint32_t mblen = tok_utf8_len(text + pos, len - pos);
		double base = b[pos].score;
		bool has_single = false;
		int32_t nd = u->root_child[(uint8_t)text[pos]];
		for (uint32_t k = pos + 1; nd >= 0; k++) {
			int32_t id = u->nodes[nd].id;
			if (id >= 0) {
				double cand = base + u->score[id];
				if (b[k].start < 0 || cand > b[k].score) {
					b[k].score = cand;
					b[k].start = (int32_t)pos;
					b[k].id = id;
				}
				if (k - pos == mblen)
					has_single = true;
			}
			if (k == len)
				break;
			nd = uni_trie_step(u, (uint32_t)nd, (uint8_t)text[k]);
		}
		if (!has_single) {
			uint32_t k = pos + mblen;
			double cand = base + u->unk_score;
			if (b[k].start < 0 || cand > b[k].score) {
				if (u->unk_id < 0) {
					st = sy_error_set(
					    err, SY_ERR_INVALID_ARG,
					    "Unigram: no vocabulary piece covers the "
					    "character at byte %u and model.unk_id is null",
					    pos);
					goto out;
				}
				b[k].score = cand;
				b[k].start = (int32_t)pos;
				b[k].id = u->unk_id;
			}
		}
		pos += mblen;
	}

	/* Backtrack from the end, then emit in order, fusing runs of unk ids. */
	int n_path = 0;
	for (int32_t e = (int32_t)len; e > 0; e = b[e].start)
		b[n_path++].path = e;
	int32_t run_s = -1, run_e = -1;
	for (int i = n_path - 1; i >= 0; i--) {
		int32_t e = b[i].path, s = b[e].start, id = b[e].id;
		if (u->unk_id >= 0 && id == u->unk_id) {
			if (run_s < 0)
				run_s = s;
			run_e = e;
			continue;
		}
		if (run_s >= 0) {
			st = uni_emit_unk_run(u, text, (uint32_t)run_s, (uint32_t)run_e, out);
			if (st != SY_OK)
				goto nomem;
			run_s = -1;
		}
		st = tok_piece_push(out, id, (uint32_t)s, (uint32_t)e);
		if (st != SY_OK)
			goto nomem;
	}
	if (run_s >= 0) {
		st = uni_emit_unk_run(u, text, (uint32_t)run_s, (uint32_t)run_e, out);
		if (st != SY_OK)
			goto nomem;
	}
	goto out;
nomem:
	st = sy_error_set(err, SY_ERR_NOMEM, "Unigram: out of memory");
out:
	if (b != stack_buf)
		free(b);
	return st;
}

static int32_t unigram_token_to_id(const void *impl, const char *tok, size_t len)
{
	const struct unigram *u = impl;
	return sy_strmap_get(&u->map, tok, len);
}

static const char *unigram_id_to_token(const void *impl, int32_t id)
{
	const struct unigram *u = impl;
	if (id < 0 || id >= u->n)
		return NULL;
	return u->blob + u->piece_off[id];
}

static int unigram_vocab_size(const void *impl)
{
	const struct unigram *u = impl;
	return u->n;
}

static void unigram_free(void *impl)
{
	struct unigram *u = impl;
	if (!u)
		return;
	free(u->blob);
	free(u->piece_off);
	free(u->score);
	free(u->nodes);
	sy_strmap_free(&u->map);
	free(u);
}

static size_t unigram_bytes(const void *impl)
{
	const struct unigram *u = impl;
	size_t blob = 0;
	if (u->n > 0) /* pieces are back to back: the last one ends the blob */
		blob = u->piece_off[u->n - 1] + strlen(u->blob + u->piece_off[u->n - 1]) + 1;
	return sizeof *u + blob + (size_t)u->n * (sizeof *u->piece_off + sizeof *u->score) +
	       sy_strmap_bytes(&u->map) + (size_t)u->n_nodes * sizeof *u->nodes;
}

static const struct text_model_vt unigram_vt = {
    .kind = "Unigram",
    .tokenize = unigram_tokenize,
    .token_to_id = unigram_token_to_id,
    .id_to_token = unigram_id_to_token,
    .vocab_size = unigram_vocab_size,
    .bytes = unigram_bytes,
    .free = unigram_free,
};

/* ---- loading ---- */

static enum sy_status uni_parse_vocab(struct unigram *u, const cJSON *vocab, struct sy_error *err)
{
	if (!vocab)
		return sy_error_set(err, SY_ERR_FORMAT, "model.vocab: missing");
	if (!cJSON_IsArray(vocab))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "model.vocab: expected an array of [piece, score]");
	size_t n = 0, bytes = 0;
	for (const cJSON *it = vocab->child; it; it = it->next, n++) {
		const cJSON *p = it->child, *s = p ? p->next : NULL;
		if (!cJSON_IsArray(it) || !cJSON_IsString(p) || !p->valuestring ||
		    !cJSON_IsNumber(s) || s->next)
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "model.vocab[%zu]: expected [string, number]", n);
		bytes += strlen(p->valuestring) + 1;
	}
	if (n >= INT32_MAX || bytes > UINT32_MAX)
		return sy_error_set(err, SY_ERR_LIMIT, "model.vocab: too large (%zu pieces)", n);
	u->n = (int)n;
	u->blob = malloc(bytes ? bytes : 1);
	u->piece_off = malloc((n ? n : 1) * sizeof *u->piece_off);
	u->score = malloc((n ? n : 1) * sizeof *u->score);
	if (!u->blob || !u->piece_off || !u->score)
		return sy_error_set(err, SY_ERR_NOMEM, "model.vocab: out of memory");
	size_t off = 0, i = 0;
	for (const cJSON *it = vocab->child; it; it = it->next, i++) {
		const char *p = it->child->valuestring;
		size_t len = strlen(p);
		memcpy(u->blob + off, p, len + 1);
		u->piece_off[i] = (uint32_t)off;
		u->score[i] = it->child->next->valuedouble;
		if (sy_strmap_put(&u->map, p, len, (int32_t)i) != 0)
			return sy_error_set(err, SY_ERR_NOMEM, "model.vocab: out of memory");
		off += len + 1;
	}
	return SY_OK;
}

enum sy_status unigram_from_json(const cJSON *model, struct sy_error *err, struct text_model *out)
{
	enum sy_status st = tok_json_check_type(model, "Unigram", err);
	if (st != SY_OK)
		return st;
	struct unigram *u = calloc(1, sizeof *u);
	if (!u)
		return sy_error_set(err, SY_ERR_NOMEM, "model: out of memory");
	sy_strmap_init(&u->map);
	u->unk_id = -1;
	st = uni_parse_vocab(u, cJSON_GetObjectItemCaseSensitive(model, "vocab"), err);
	if (st != SY_OK)
		goto fail;

	const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
	if (unk && !cJSON_IsNull(unk)) {
		double d = unk->valuedouble;
		if (!cJSON_IsNumber(unk) || !(d >= 0) || d != floor(d)) {
			st = sy_error_set(err, SY_ERR_FORMAT,
			                  "model.unk_id: expected a non-negative integer or null");
			goto fail;
		}
		if (u->n == 0) {
			st = sy_error_set(err, SY_ERR_FORMAT,
			                  "model.unk_id: set but model.vocab is empty");
			goto fail;
		}
		if (d >= u->n) {
			st = sy_error_set(err, SY_ERR_FORMAT,
			                  "model.unk_id: out of range (%g >= vocab size %d)", d,
			                  u->n);
			goto fail;
		}
		u->unk_id = (int32_t)d;
	}
	int bf = 0;
	st = tok_json_opt_bool(model, "byte_fallback", err, &bf);
	if (st != SY_OK)
		goto fail;
	u->byte_fallback = bf;

	double min_score = 0;
	for (int i = 0; i < u->n; i++)
		if (i == 0 || u->score[i] < min_score)
			min_score = u->score[i];
	/* The reference starts its minimum at +infinity, so an empty vocabulary has an infinite
	 * unknown score; that case has no unk_id and errors on the first character anyway. */
	u->unk_score = min_score - UNI_UNK_PENALTY;
	tok_byte_ids_fill(&u->map, u->byte_id);
	st = uni_trie_build(u, err);
	if (st != SY_OK)
		goto fail;
	out->vt = &unigram_vt;
	out->impl = u;
	return SY_OK;
fail:
	unigram_free(u);
	return st;
}
