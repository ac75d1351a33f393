/* The tokenizer pipeline and its loaders (tokenizer.h).
 *
 * Encoding one text follows Hugging Face `tokenizers` (Tokenizer::encode_single_sequence and
 * AddedVocabulary::extract_and_normalize):
 *   1. the input is sanitised into a normalized string (invalid UTF-8 -> U+FFFD), every byte
 *      remembering the original bytes it came from;
 *   2. added tokens whose `normalized` flag is false are found in that raw text (leftmost-
 *      longest, honouring single_word / lstrip / rstrip) and cut out as finished tokens;
 *   3. each remaining piece is normalized, then searched for the normalized added tokens;
 *   4. the pre-tokenizer cuts (and for Metaspace / ByteLevel rewrites) the pieces;
 *   5. the model turns each piece into tokens, whose ranges map back to original offsets.
 * A pair is encoded the same way, then both are truncated (room for the post-processor's
 * special tokens is kept), offsets are trimmed where the post-processor asks, and the template
 * adds the special tokens and type ids.
 *
 * Scratch memory lives in a per-thread `struct tok_work` (a pthread key, freed when the thread
 * exits), so steady-state encoding allocates only the result. A loaded tokenizer is read-only. */
#include "text/tokenizer.h"
#include "text/spm.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/file.h"
#include "base/strmap.h"
#include "text/decoder.h"
#include "text/normalizer.h"
#include "text/pipeline.h"
#include "text/postprocessor.h"
#include "text/pretokenizer.h"
#include "text/tokcfg.h"
#include "text/unicode.h"
#include "text/wordpiece.h"

#define TOK_MAX_INPUT (1u << 30) /* bytes per text: offsets are 32-bit and expand up to 3x */
#define WORK_KEEP (1u << 20) /* scratch larger than this is released after a call */

struct tok_added {
	char *content; /* as written in tokenizer.json */
	size_t len;
	char *norm; /* content after the normalizer (normalized tokens), else == content */
	size_t norm_len;
	int32_t id;
	bool single_word, lstrip, rstrip, normalized, special;
};

/* Added tokens of one kind (raw or normalized) indexed by first byte for leftmost-longest
 * matching: the tokens starting with byte b are idx[start[b] .. start[b + 1]), longest first. */
struct added_index {
	int *idx;
	int start[257];
	int n;
};

struct tokenizer {
	struct text_model model;
	struct tok_normalizer *normalizer; /* NULL: none */
	struct tok_pretokenizer *pretokenizer; /* NULL: none */
	struct tok_postprocessor *post; /* never NULL */
	struct tok_added *added; /* [n_added] */
	int n_added;
	struct sy_strmap added_map; /* content -> index into added */
	int *added_by_id; /* [n_added] indices sorted by id */
	struct added_index raw, norm;
	int trunc_max; /* -1: no truncation in tokenizer.json */
	enum tok_truncation trunc_strategy;
	bool trunc_left;
	int32_t pad_id;
	int vocab_size;
	struct tok_decoder *decoder; /* NULL: pieces joined by spaces */
};

/* ---- Per-thread scratch ---- */

static pthread_key_t work_key;
static pthread_once_t work_once = PTHREAD_ONCE_INIT;
static bool work_key_ok;

static void work_release_buffers(struct tok_work *w)
{
	nstr_free(&w->buf);
	nstr_free(&w->buf2);
	nstr_free(&w->n1);
	nstr_free(&w->n2);
	splits_free(&w->sp);
	splits_free(&w->sp2);
	free(w->pieces.v);
	memset(&w->pieces, 0, sizeof w->pieces);
	free(w->cp);
	free(w->ca);
	free(w->cb);
	w->cp = w->ca = w->cb = NULL;
	w->cp_cap = 0;
	for (int i = 0; i < 2; i++) {
		free(w->seq[i].ids);
		free(w->seq[i].o0);
		free(w->seq[i].o1);
		free(w->seq[i].added);
		memset(&w->seq[i], 0, sizeof w->seq[i]);
	}
}

static void work_destroy(void *p)
{
	struct tok_work *w = p;
	if (!w)
		return;
	work_release_buffers(w);
	if (w->md)
		pcre2_match_data_free(w->md);
	free(w);
}

static void work_key_init(void)
{
	work_key_ok = pthread_key_create(&work_key, work_destroy) == 0;
}

/* The calling thread's scratch; *owned is set when it must be destroyed after use (no key). */
static struct tok_work *work_get(bool *owned)
{
	pthread_once(&work_once, work_key_init);
	*owned = false;
	struct tok_work *w = work_key_ok ? pthread_getspecific(work_key) : NULL;
	if (w)
		return w;
	w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->md = pattern_match_data_create();
	if (!w->md) {
		free(w);
		return NULL;
	}
	if (!work_key_ok || pthread_setspecific(work_key, w) != 0)
		*owned = true;
	return w;
}

static void work_put(struct tok_work *w, bool owned)
{
	if (owned) {
		work_destroy(w);
		return;
	}
	/* A huge input should not pin its scratch for the life of the thread. */
	if (w->buf.cap > WORK_KEEP || w->buf2.cap > WORK_KEEP || w->n1.cap > WORK_KEEP ||
	    w->n2.cap > WORK_KEEP || w->cp_cap > WORK_KEEP || w->sp.cap > (int)WORK_KEEP / 16 ||
	    w->seq[0].cap > (int)WORK_KEEP / 16 || w->seq[1].cap > (int)WORK_KEEP / 16)
		work_release_buffers(w);
}

enum sy_status tok_seq_push(struct tok_seq *s, int32_t id, uint32_t o0, uint32_t o1, bool added)
{
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 64;
		int32_t *ids = realloc(s->ids, (size_t)cap * sizeof *ids);
		if (!ids)
			return SY_ERR_NOMEM;
		s->ids = ids;
		uint32_t *a = realloc(s->o0, (size_t)cap * sizeof *a);
		if (!a)
			return SY_ERR_NOMEM;
		s->o0 = a;
		uint32_t *b = realloc(s->o1, (size_t)cap * sizeof *b);
		if (!b)
			return SY_ERR_NOMEM;
		s->o1 = b;
		uint8_t *f = realloc(s->added, (size_t)cap);
		if (!f)
			return SY_ERR_NOMEM;
		s->added = f;
		s->cap = cap;
	}
	s->added[s->n] = added;
	s->ids[s->n] = id;
	s->o0[s->n] = o0;
	s->o1[s->n] = o1;
	s->n++;
	return SY_OK;
}

/* ---- Added tokens ---- */

/* Sort keys for the added-token index: first byte, then longest first, then position. */
struct added_key {
	unsigned char first;
	size_t len;
	int i;
};

static int cmp_added_key(const void *a, const void *b)
{
	const struct added_key *x = a, *y = b;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->i - y->i;
}

struct id_key {
	int32_t id;
	int i;
};

static int cmp_id_key(const void *a, const void *b)
{
	const struct id_key *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->i - y->i;
}

static enum sy_status build_index(const struct tokenizer *t, bool normalized,
                                  struct added_index *ix)
{
	memset(ix, 0, sizeof *ix);
	size_t cap = (size_t)(t->n_added ? t->n_added : 1);
	ix->idx = malloc(cap * sizeof *ix->idx);
	struct added_key *keys = malloc(cap * sizeof *keys);
	if (!ix->idx || !keys) {
		free(keys);
		return SY_ERR_NOMEM;
	}
	for (int i = 0; i < t->n_added; i++) {
		const struct tok_added *a = &t->added[i];
		if (a->normalized == normalized && a->norm_len > 0)
			keys[ix->n++] =
			    (struct added_key){(unsigned char)a->norm[0], a->norm_len, i};
	}
	qsort(keys, (size_t)ix->n, sizeof *keys, cmp_added_key);
	for (int k = 0; k < ix->n; k++)
		ix->idx[k] = keys[k].i;
	int k = 0;
	for (int b = 0; b < 256; b++) {
		ix->start[b] = k;
		while (k < ix->n && keys[k].first == b)
			k++;
	}
	ix->start[256] = k;
	free(keys);
	return SY_OK;
}

/* The character of valid UTF-8 text s that ends at byte `end` (end > 0). */
static uint32_t char_before(const char *s, size_t end)
{
	size_t p = end - 1;
	while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80)
		p--;
	uint32_t k;
	return utf8_decode(s + p, &k);
}

/* Finds the added tokens of ix in b[off, off + len) and appends the resulting splits to out:
 * text between tokens as text splits, each token as a finished split (Hugging Face's
 * AddedVocabulary::find_matches). */
static enum sy_status split_added(const struct tokenizer *t, const struct added_index *ix,
                                  const struct tok_nstr *b, uint32_t off, uint32_t len,
                                  struct tok_split_list *out)
{
	const char *s = b->s + off;
	uint32_t prev = 0, pos = 0;
	enum sy_status st;
	while (pos < len) {
		unsigned char c = (unsigned char)s[pos];
		int best = -1;
		for (int k = ix->start[c]; k < ix->start[c + 1]; k++) {
			const struct tok_added *a = &t->added[ix->idx[k]];
			if (a->norm_len <= len - pos &&
			    memcmp(s + pos, a->norm, a->norm_len) == 0) {
				best = ix->idx[k]; /* longest first */
				break;
			}
		}
		if (best < 0) {
			pos++;
			continue;
		}
		const struct tok_added *a = &t->added[best];
		uint32_t start = pos, stop = pos + (uint32_t)a->norm_len;
		pos = stop;
		if (a->single_word) {
			uint32_t k;
			bool word_before = start > 0 && uc_is_word(char_before(s, start));
			bool word_after = stop < len && uc_is_word(utf8_decode(s + stop, &k));
			if (word_before || word_after)
				continue;
		}
		if (a->lstrip) {
			while (start > prev) {
				uint32_t p = start - 1;
				while (p > prev && ((unsigned char)s[p] & 0xC0) == 0x80)
					p--;
				uint32_t k;
				if (!uc_is_whitespace(utf8_decode(s + p, &k)))
					break;
				start = p;
			}
		}
		if (a->rstrip) {
			while (stop < len) {
				uint32_t k, cp = utf8_decode(s + stop, &k);
				if (!uc_is_whitespace(cp))
					break;
				stop += k;
			}
			pos = stop;
		}
		if (start > prev &&
		    (st = splits_push(
		         out, (struct tok_split){off + prev, start - prev, -1, 0, 0})) != SY_OK)
			return st;
		struct tok_split sp = {off + start, stop - start, a->id, b->o0[off + start],
		                       b->o1[off + stop - 1]};
		if ((st = splits_push(out, sp)) != SY_OK)
			return st;
		prev = stop;
	}
	if (prev < len)
		return splits_push(out, (struct tok_split){off + prev, len - prev, -1, 0, 0});
	return SY_OK;
}

/* ---- Encoding ---- */

static enum sy_status encode_one(const struct tokenizer *t, const char *text, size_t len,
                                 struct tok_work *w, struct tok_seq *seq, struct sy_error *err)
{
	enum sy_status st;
	seq->n = 0;
	w->sp.n = 0;
	if (nstr_set_input(&w->buf, text, len) != SY_OK)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (w->buf.len == 0)
		return SY_OK;
	if (t->raw.n)
		st = split_added(t, &t->raw, &w->buf, 0, (uint32_t)w->buf.len, &w->sp);
	else
		st = splits_push(&w->sp, (struct tok_split){0, (uint32_t)w->buf.len, -1, 0, 0});
	if (st != SY_OK)
		return sy_error_set(err, st, "out of memory");

	if (t->normalizer || t->norm.n) {
		w->buf2.len = 0;
		w->sp2.n = 0;
		for (int i = 0; i < w->sp.n; i++) {
			struct tok_split s = w->sp.v[i];
			if (s.id >= 0) {
				if (splits_push(&w->sp2, s) != SY_OK)
					return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
				continue;
			}
			w->n1.len = 0;
			if (nstr_append_range(&w->n1, &w->buf, s.off, s.len) != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			if (t->normalizer && (st = normalizer_run(t->normalizer, w, err)) != SY_OK)
				return st;
			if (w->n1.len == 0)
				continue;
			uint32_t base = (uint32_t)w->buf2.len, n = (uint32_t)w->n1.len;
			if (nstr_append_range(&w->buf2, &w->n1, 0, n) != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			if (t->norm.n)
				st = split_added(t, &t->norm, &w->buf2, base, n, &w->sp2);
			else
				st = splits_push(&w->sp2, (struct tok_split){base, n, -1, 0, 0});
			if (st != SY_OK)
				return sy_error_set(err, st, "out of memory");
		}
		nstr_swap(&w->buf, &w->buf2);
		splits_swap(&w->sp, &w->sp2);
	}

	if (t->pretokenizer && (st = pretokenizer_run(t->pretokenizer, w, err)) != SY_OK)
		return st;

	const struct tok_nstr *b = &w->buf;
	for (int i = 0; i < w->sp.n; i++) {
		struct tok_split s = w->sp.v[i];
		if (s.id >= 0) {
			if (tok_seq_push(seq, s.id, s.o0, s.o1, true) != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			continue;
		}
		if (s.len == 0)
			continue;
		w->pieces.n = 0;
		st = t->model.vt->tokenize(t->model.impl, b->s + s.off, s.len, &w->pieces, err);
		if (st != SY_OK)
			return st;
		for (int k = 0; k < w->pieces.n; k++) {
			const struct tok_piece *p = &w->pieces.v[k];
			uint32_t ps = p->start < s.len ? p->start : s.len - 1;
			uint32_t pe = p->end <= s.len ? p->end : s.len;
			uint32_t o0 = b->o0[s.off + ps];
			uint32_t o1 = pe > ps ? b->o1[s.off + pe - 1] : o0;
			if (tok_seq_push(seq, p->id, o0, o1, false) != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
	}
	return SY_OK;
}

/* Keeps n tokens of s, from the end that direction says. */
static void seq_truncate(struct tok_seq *s, int n, bool left)
{
	if (n < 0)
		n = 0;
	if (s->n <= n)
		return;
	if (left) {
		int drop = s->n - n;
		memmove(s->ids, s->ids + drop, (size_t)n * sizeof *s->ids);
		memmove(s->o0, s->o0 + drop, (size_t)n * sizeof *s->o0);
		memmove(s->o1, s->o1 + drop, (size_t)n * sizeof *s->o1);
		memmove(s->added, s->added + drop, (size_t)n);
	}
	s->n = n;
}

/* Hugging Face's truncate_encodings. */
static enum sy_status truncate_seqs(struct tok_seq *a, struct tok_seq *b, int max_len,
                                    enum tok_truncation strategy, bool left, struct sy_error *err)
{
	if (max_len == 0) {
		seq_truncate(a, 0, left);
		if (b)
			seq_truncate(b, 0, left);
		return SY_OK;
	}
	int total = a->n + (b ? b->n : 0);
	if (total <= max_len)
		return SY_OK;
	int to_remove = total - max_len;
	if (strategy == TOK_TRUNCATE_LONGEST_FIRST) {
		if (!b) {
			seq_truncate(a, max_len, left);
			return SY_OK;
		}
		int n1 = a->n, n2 = b->n;
		bool swap = n1 > n2;
		if (swap) {
			int x = n1;
			n1 = n2;
			n2 = x;
		}
		/* n1 is now the shorter one. */
		n2 = n1 > max_len ? n1 : (n1 > max_len - n1 ? n1 : max_len - n1);
		if (n1 + n2 > max_len) {
			n1 = max_len / 2;
			n2 = n1 + max_len % 2;
		}
		if (swap) {
			int x = n1;
			n1 = n2;
			n2 = x;
		}
		seq_truncate(a, n1, left);
		seq_truncate(b, n2, left);
		return SY_OK;
	}
	struct tok_seq *target = strategy == TOK_TRUNCATE_ONLY_FIRST ? a : b;
	if (!target)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "truncation only_second: second sequence not provided");
	if (target->n <= to_remove)
		return sy_error_set(
		    err, SY_ERR_INVALID_ARG,
		    "truncation %s: sequence too short to respect max_length %d",
		    strategy == TOK_TRUNCATE_ONLY_FIRST ? "only_first" : "only_second", max_len);
	seq_truncate(target, target->n - to_remove, left);
	return SY_OK;
}

struct tok_encode_params tokenizer_default_params(void)
{
	return (struct tok_encode_params){
	    .max_length = 0,
	    .truncation = TOK_TRUNCATE_LONGEST_FIRST,
	    .add_special_tokens = true,
	};
}

/* The token string offsets trimming looks at: the matched text for an added token (Hugging
 * Face keeps the text with its stripped whitespace as the token's value), else the vocabulary
 * string. */
struct trim_ctx {
	const struct tokenizer *tok;
	const char *text;
	size_t len;
};

static const char *trim_token(const void *ctx, const struct tok_seq *s, int i, size_t *len)
{
	const struct trim_ctx *tc = ctx;
	if (s->added[i]) {
		uint32_t a = s->o0[i], b = s->o1[i];
		if (b > tc->len || a > b)
			return NULL;
		*len = b - a;
		return tc->text + a;
	}
	const char *t = tokenizer_id_to_token(tc->tok, s->ids[i]);
	if (t)
		*len = strlen(t);
	return t;
}

/* Moves a byte offset back to the start of the input unit (character, or U+FFFD-replaced
 * invalid sequence) that contains it. Trimming counts spaces in characters of the token string
 * but subtracts them as bytes, which can land inside a multi-byte character; the character
 * offsets Hugging Face reports round such a position down the same way. */
static uint32_t snap_to_unit(const char *text, size_t len, uint32_t x)
{
	if (x >= len || x == 0)
		return x;
	const unsigned char *s = (const unsigned char *)text;
	uint32_t p = x;
	while (p > 0 && x - p < 3 && (s[p] & 0xC0) == 0x80)
		p--;
	if ((s[p] & 0xC0) == 0x80)
		return x; /* a lone continuation byte is a unit of its own */
	uint32_t cp, k = utf8_sanitize_step(s + p, len - p, &cp);
	return x < p + k ? p : x;
}

static void trim_offsets(const struct tokenizer *tok, struct tok_seq *s, const char *text,
                         size_t len)
{
	if (!tok->post->trim_offsets)
		return;
	struct trim_ctx tc = {tok, text, len};
	postprocessor_trim(tok->post, s, trim_token, &tc);
	for (int i = 0; i < s->n; i++) {
		s->o0[i] = snap_to_unit(text, len, s->o0[i]);
		s->o1[i] = snap_to_unit(text, len, s->o1[i]);
	}
}

enum sy_status tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len,
                                const char *pair, size_t pair_len,
                                const struct tok_encode_params *params, struct sy_error *err,
                                struct tok_encoding *out)
{
	memset(out, 0, sizeof *out);
	if (!tok || (!text && len) || (!out))
		return sy_error_set(err, SY_ERR_INVALID_ARG, "tokenizer_encode: NULL argument");
	if (len > TOK_MAX_INPUT || (pair && pair_len > TOK_MAX_INPUT))
		return sy_error_set(err, SY_ERR_LIMIT, "text of %zu bytes is too long (limit %u)",
		                    len > pair_len ? len : pair_len, TOK_MAX_INPUT);
	if (!pair && pair_len)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "tokenizer_encode: NULL pair");
	struct tok_encode_params defp = tokenizer_default_params();
	if (!params)
		params = &defp;
	if (params->truncation != TOK_TRUNCATE_LONGEST_FIRST &&
	    params->truncation != TOK_TRUNCATE_ONLY_FIRST &&
	    params->truncation != TOK_TRUNCATE_ONLY_SECOND)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "unknown truncation strategy %d",
		                    (int)params->truncation);
	bool owned;
	struct tok_work *w = work_get(&owned);
	if (!w)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status st = encode_one(tok, text ? text : "", len, w, &w->seq[0], err);
	if (st == SY_OK && pair)
		st = encode_one(tok, pair, pair_len, w, &w->seq[1], err);
	struct tok_seq *b = pair ? &w->seq[1] : NULL;
	if (st == SY_OK) {
		int max_len = params->max_length;
		enum tok_truncation strategy = params->truncation;
		bool left = params->truncate_left;
		if (max_len == 0) {
			max_len = tok->trunc_max;
			strategy = tok->trunc_strategy;
			left = tok->trunc_left;
		}
		if (max_len >= 0) {
			int room = params->add_special_tokens
			               ? postprocessor_added(tok->post, pair != NULL)
			               : 0;
			int eff = max_len - room;
			st = truncate_seqs(&w->seq[0], b, eff > 0 ? eff : 0, strategy, left, err);
		}
	}
	if (st == SY_OK) {
		trim_offsets(tok, &w->seq[0], text, len);
		if (b)
			trim_offsets(tok, b, pair, pair_len);
		st = postprocessor_apply(tok->post, &w->seq[0], b, params->add_special_tokens, err,
		                         out);
	}
	work_put(w, owned);
	return st;
}

void tok_encoding_free(struct tok_encoding *enc)
{
	if (!enc)
		return;
	free(enc->ids); /* one block holds every array */
	memset(enc, 0, sizeof *enc);
}

/* ---- Queries ---- */

size_t tokenizer_bytes(const struct tokenizer *tok)
{
	size_t b = sizeof *tok + sy_strmap_bytes(&tok->added_map) +
	           (size_t)tok->n_added * (sizeof *tok->added + sizeof *tok->added_by_id);
	if (tok->model.vt && tok->model.vt->bytes)
		b += tok->model.vt->bytes(tok->model.impl);
	return b;
}

int tokenizer_vocab_size(const struct tokenizer *tok)
{
	return tok->vocab_size;
}

int32_t tokenizer_token_to_id(const struct tokenizer *tok, const char *token, size_t len)
{
	int32_t i = sy_strmap_get(&tok->added_map, token, len);
	if (i >= 0)
		return tok->added[i].id;
	return tok->model.vt->token_to_id(tok->model.impl, token, len);
}

/* The added token with this id, or NULL. */
static const struct tok_added *added_by_id(const struct tokenizer *tok, int32_t id)
{
	int lo = 0, hi = tok->n_added;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		int32_t v = tok->added[tok->added_by_id[mid]].id;
		if (v == id)
			return &tok->added[tok->added_by_id[mid]];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *tokenizer_id_to_token(const struct tokenizer *tok, int32_t id)
{
	const struct tok_added *a = added_by_id(tok, id);
	return a ? a->content : tok->model.vt->id_to_token(tok->model.impl, id);
}

bool tokenizer_id_is_special(const struct tokenizer *tok, int32_t id)
{
	const struct tok_added *a = added_by_id(tok, id);
	return a && a->special;
}

enum sy_status tokenizer_decode(const struct tokenizer *tok, const int32_t *ids, int n,
                                bool skip_special, struct sy_error *err, struct sbuf *out)
{
	const char **pieces = malloc((size_t)(n > 0 ? n : 1) * sizeof *pieces);
	if (!pieces)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	int m = 0;
	for (int i = 0; i < n; i++) {
		const char *t = ids[i] >= 0 ? tokenizer_id_to_token(tok, ids[i]) : NULL;
		if (!t) {
			free(pieces);
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "id %ld is not in the vocabulary", (long)ids[i]);
		}
		if (skip_special && tokenizer_id_is_special(tok, ids[i]))
			continue;
		pieces[m++] = t;
	}
	enum sy_status st = tok_decoder_decode(tok->decoder, pieces, m, err, out);
	free(pieces);
	return st;
}

int32_t tokenizer_pad_id(const struct tokenizer *tok)
{
	return tok->pad_id;
}

const char *tokenizer_model_kind(const struct tokenizer *tok)
{
	return tok->model.vt->kind;
}

int tokenizer_max_length(const struct tokenizer *tok)
{
	return tok->trunc_max;
}

size_t tokenizer_char_offset(const char *text, size_t byte_off)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = 0, i = 0;
	while (i < byte_off) {
		if (s[i] < 0x80) {
			i++;
		} else {
			uint32_t cp;
			i += utf8_sanitize_step(s + i, byte_off - i, &cp);
		}
		n++;
	}
	return n;
}

/* ---- Construction ---- */

void tokenizer_free(struct tokenizer *tok)
{
	if (!tok)
		return;
	if (tok->model.vt)
		tok->model.vt->free(tok->model.impl);
	normalizer_free(tok->normalizer);
	pretokenizer_free(tok->pretokenizer);
	postprocessor_free(tok->post);
	tok_decoder_free(tok->decoder);
	for (int i = 0; i < tok->n_added; i++) {
		if (tok->added[i].norm != tok->added[i].content)
			free(tok->added[i].norm);
		free(tok->added[i].content);
	}
	free(tok->added);
	free(tok->added_by_id);
	free(tok->raw.idx);
	free(tok->norm.idx);
	sy_strmap_free(&tok->added_map);
	free(tok);
}

static struct tokenizer *tokenizer_new(void)
{
	struct tokenizer *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	sy_strmap_init(&t->added_map);
	t->trunc_max = -1;
	return t;
}

/* Registers an added token (a later entry with the same content replaces an earlier one). */
static enum sy_status added_push(struct tokenizer *t, const char *content, int32_t id,
                                 bool single_word, bool lstrip, bool rstrip, bool normalized,
                                 bool special)
{
	size_t len = strlen(content);
	int32_t at = sy_strmap_get(&t->added_map, content, len);
	if (at < 0) {
		struct tok_added *v = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *v);
		if (!v)
			return SY_ERR_NOMEM;
		t->added = v;
		at = t->n_added;
		memset(&t->added[at], 0, sizeof t->added[at]);
		if (!(t->added[at].content = tokcfg_strdup(content)))
			return SY_ERR_NOMEM;
		t->added[at].norm = t->added[at].content;
		t->n_added++;
		if (sy_strmap_put(&t->added_map, content, len, at) != 0)
			return SY_ERR_NOMEM;
	}
	struct tok_added *a = &t->added[at];
	a->len = a->norm_len = len;
	a->id = id;
	a->single_word = single_word;
	a->lstrip = lstrip;
	a->rstrip = rstrip;
	a->normalized = normalized;
	a->special = special;
	return SY_OK;
}

/* Normalizes the content of normalized added tokens with the tokenizer's normalizer, so that
 * they are found in normalized text (Hugging Face caches the same thing). */
static enum sy_status normalize_added(struct tokenizer *t, struct sy_error *err)
{
	if (!t->normalizer)
		return SY_OK;
	struct tok_work w;
	memset(&w, 0, sizeof w);
	w.md = pattern_match_data_create();
	enum sy_status st = w.md ? SY_OK : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < t->n_added && st == SY_OK; i++) {
		struct tok_added *a = &t->added[i];
		if (!a->normalized)
			continue;
		if (nstr_set_input(&w.n1, a->content, a->len) != SY_OK) {
			st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			break;
		}
		if ((st = normalizer_run(t->normalizer, &w, err)) != SY_OK)
			break;
		char *s = malloc(w.n1.len + 1);
		if (!s) {
			st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			break;
		}
		memcpy(s, w.n1.s, w.n1.len);
		s[w.n1.len] = '\0';
		a->norm = s;
		a->norm_len = w.n1.len;
	}
	work_release_buffers(&w);
	if (w.md)
		pcre2_match_data_free(w.md);
	return st;
}

/* Indexes, vocabulary size and pad id once every component is in place. */
static enum sy_status tokenizer_finish(struct tokenizer *t, struct sy_error *err)
{
	enum sy_status st = normalize_added(t, err);
	if (st != SY_OK)
		return st;
	if (build_index(t, false, &t->raw) != SY_OK || build_index(t, true, &t->norm) != SY_OK)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	size_t cap = (size_t)(t->n_added ? t->n_added : 1);
	t->added_by_id = malloc(cap * sizeof *t->added_by_id);
	struct id_key *keys = malloc(cap * sizeof *keys);
	if (!t->added_by_id || !keys) {
		free(keys);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < t->n_added; i++)
		keys[i] = (struct id_key){t->added[i].id, i};
	qsort(keys, (size_t)t->n_added, sizeof *keys, cmp_id_key);
	for (int i = 0; i < t->n_added; i++)
		t->added_by_id[i] = keys[i].i;
	free(keys);
	t->vocab_size = t->model.vt->vocab_size(t->model.impl);
	for (int i = 0; i < t->n_added; i++)
		if (t->added[i].id >= t->vocab_size)
			t->vocab_size = t->added[i].id + 1;
	return SY_OK;
}

/* The pad id when tokenizer.json has no padding section: a conventional pad token, else 0. */
static int32_t guess_pad_id(const struct tokenizer *t)
{
	static const char *const names[] = {"[PAD]", "<pad>", "<|padding|>", "<|pad|>"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int32_t id = tokenizer_token_to_id(t, names[i], strlen(names[i]));
		if (id >= 0)
			return id;
	}
	return 0;
}

static enum sy_status model_from_json(const cJSON *m, struct sy_error *err, struct text_model *out)
{
	if (!m || cJSON_IsNull(m))
		return sy_error_set(err, SY_ERR_FORMAT, "model: missing");
	if (!cJSON_IsObject(m))
		return sy_error_set(err, SY_ERR_FORMAT, "model: expected object");
	const char *type;
	enum sy_status st = tokcfg_string(m, "type", "model", NULL, err, &type);
	if (st != SY_OK)
		return st;
	if (!type) {
		/* Old files leave the model untagged; tell the kinds apart by their fields. */
		const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
		if (cJSON_GetObjectItemCaseSensitive(m, "merges"))
			type = "BPE";
		else if (cJSON_IsArray(vocab))
			type = "Unigram";
		else if (cJSON_GetObjectItemCaseSensitive(m, "continuing_subword_prefix") ||
		         cJSON_GetObjectItemCaseSensitive(m, "max_input_chars_per_word"))
			type = "WordPiece";
		else
			type = "WordLevel";
	}
	if (strcmp(type, "WordPiece") == 0)
		return wordpiece_from_json(m, err, out);
	if (strcmp(type, "BPE") == 0)
		return bpe_from_json(m, err, out);
	if (strcmp(type, "Unigram") == 0)
		return unigram_from_json(m, err, out);
	if (strcmp(type, "WordLevel") == 0)
		return wordlevel_from_json(m, err, out);
	return sy_error_set(err, SY_ERR_UNSUPPORTED, "model.type: unknown model \"%.60s\"", type);
}

static enum sy_status added_from_json(struct tokenizer *t, const cJSON *arr, struct sy_error *err)
{
	if (!arr || cJSON_IsNull(arr))
		return SY_OK;
	int32_t next = t->model.vt->vocab_size(t->model.impl), *next_id = &next;
	if (!cJSON_IsArray(arr))
		return sy_error_set(err, SY_ERR_FORMAT, "added_tokens: expected array");
	int i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		char path[64];
		snprintf(path, sizeof path, "added_tokens[%d]", i++);
		if (!cJSON_IsObject(it))
			return sy_error_set(err, SY_ERR_FORMAT, "%s: expected object", path);
		const char *content;
		long id;
		bool sw, ls, rs, norm, special;
		enum sy_status st;
		if ((st = tokcfg_string(it, "content", path, NULL, err, &content)) != SY_OK ||
		    (st = json_read_int(it, "id", path, 0, INT32_MAX, -1, err, &id)) != SY_OK ||
		    (st = json_read_bool(it, "special", path, false, err, &special)) != SY_OK ||
		    (st = json_read_bool(it, "single_word", path, false, err, &sw)) != SY_OK ||
		    (st = json_read_bool(it, "lstrip", path, false, err, &ls)) != SY_OK ||
		    (st = json_read_bool(it, "rstrip", path, false, err, &rs)) != SY_OK ||
		    (st = json_read_bool(it, "normalized", path, !special, err, &norm)) != SY_OK)
			return st;
		if (!content)
			return sy_error_set(err, SY_ERR_FORMAT, "%s.content: missing", path);
		if (id < 0)
			return sy_error_set(err, SY_ERR_FORMAT, "%s.id: missing", path);
		if (!*content)
			continue; /* Hugging Face ignores empty added tokens */
		/* Like Hugging Face (AddedVocabulary::add_tokens), the id is not taken from the file:
		 * a token already added or in the model's vocabulary keeps that id, any other gets
		 * the next id after the vocabulary. For files written by the library the two agree. */
		size_t clen = strlen(content);
		int32_t at = sy_strmap_get(&t->added_map, content, clen);
		int32_t use = at >= 0 ? t->added[at].id
		                      : t->model.vt->token_to_id(t->model.impl, content, clen);
		if (use < 0)
			use = (*next_id)++;
		if (added_push(t, content, use, sw, ls, rs, norm, special) != SY_OK)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	return SY_OK;
}

static enum sy_status truncation_from_json(struct tokenizer *t, const cJSON *j,
                                           struct sy_error *err)
{
	if (!j || cJSON_IsNull(j))
		return SY_OK;
	if (!cJSON_IsObject(j))
		return sy_error_set(err, SY_ERR_FORMAT, "truncation: expected object");
	long max_len;
	const char *strategy, *direction;
	enum sy_status st;
	if ((st = json_read_int(j, "max_length", "truncation", 0, INT_MAX, 512, err, &max_len)) !=
	        SY_OK ||
	    (st = tokcfg_string(j, "strategy", "truncation", "LongestFirst", err, &strategy)) !=
	        SY_OK ||
	    (st = tokcfg_string(j, "direction", "truncation", "Right", err, &direction)) != SY_OK)
		return st;
	t->trunc_max = (int)max_len;
	if (strcmp(strategy, "LongestFirst") == 0 || strcmp(strategy, "longest_first") == 0)
		t->trunc_strategy = TOK_TRUNCATE_LONGEST_FIRST;
	else if (strcmp(strategy, "OnlyFirst") == 0 || strcmp(strategy, "only_first") == 0)
		t->trunc_strategy = TOK_TRUNCATE_ONLY_FIRST;
	else if (strcmp(strategy, "OnlySecond") == 0 || strcmp(strategy, "only_second") == 0)
		t->trunc_strategy = TOK_TRUNCATE_ONLY_SECOND;
	else
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "truncation.strategy: unknown strategy \"%s\"", strategy);
	if (strcmp(direction, "Right") == 0 || strcmp(direction, "right") == 0)
		t->trunc_left = false;
	else if (strcmp(direction, "Left") == 0 || strcmp(direction, "left") == 0)
		t->trunc_left = true;
	else
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "truncation.direction: unknown direction \"%s\"", direction);
	return SY_OK;
}

static enum sy_status tokenizer_from_cjson(const cJSON *root, struct sy_error *err,
                                           struct tokenizer **out)
{
	if (!cJSON_IsObject(root))
		return sy_error_set(err, SY_ERR_FORMAT, "expected a JSON object");
	struct tokenizer *t = tokenizer_new();
	if (!t)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status st =
	    model_from_json(cJSON_GetObjectItemCaseSensitive(root, "model"), err, &t->model);
	const cJSON *v;
	if (st == SY_OK)
		st =
		    added_from_json(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), err);
	if (st == SY_OK && (v = cJSON_GetObjectItemCaseSensitive(root, "normalizer")) &&
	    !cJSON_IsNull(v))
		st = normalizer_from_json(v, "normalizer", err, &t->normalizer);
	if (st == SY_OK && (v = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")) &&
	    !cJSON_IsNull(v))
		st = pretokenizer_from_json(v, "pre_tokenizer", err, &t->pretokenizer);
	if (st == SY_OK)
		st = postprocessor_from_json(
		    cJSON_GetObjectItemCaseSensitive(root, "post_processor"), "post_processor", err,
		    &t->post);
	if (st == SY_OK)
		st = truncation_from_json(t, cJSON_GetObjectItemCaseSensitive(root, "truncation"),
		                          err);
	if (st == SY_OK)
		st = tokenizer_finish(t, err);
	if (st == SY_OK && (v = cJSON_GetObjectItemCaseSensitive(root, "decoder")) &&
	    !cJSON_IsNull(v) && !(t->decoder = tok_decoder_from_json(v)))
		st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (st == SY_OK) {
		v = cJSON_GetObjectItemCaseSensitive(root, "padding");
		long pad;
		if (v && !cJSON_IsNull(v)) {
			if (!cJSON_IsObject(v))
				st = sy_error_set(err, SY_ERR_FORMAT, "padding: expected object");
			else if ((st = json_read_int(v, "pad_id", "padding", 0, INT32_MAX,
			                             guess_pad_id(t), err, &pad)) == SY_OK)
				t->pad_id = (int32_t)pad;
		} else {
			t->pad_id = guess_pad_id(t);
		}
	}
	if (st != SY_OK) {
		tokenizer_free(t);
		return st;
	}
	*out = t;
	return SY_OK;
}

static enum sy_status load_json_named(const char *json, size_t len, const char *name,
                                      struct sy_error *err, struct tokenizer **out)
{
	*out = NULL;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!root) {
		size_t at = end && end >= json ? (size_t)(end - json) : 0;
		return sy_error_set(err, SY_ERR_FORMAT, "%s: invalid JSON near byte %zu", name, at);
	}
	enum sy_status st = tokenizer_from_cjson(root, err, out);
	cJSON_Delete(root);
	if (st != SY_OK)
		sy_error_prefix(err, "%s", name);
	return st;
}

enum sy_status tokenizer_load_json(const char *json, size_t len, struct sy_error *err,
                                   struct tokenizer **out)
{
	if (!json || !out)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "tokenizer_load_json: NULL argument");
	return load_json_named(json, len, "tokenizer.json", err, out);
}

/* Options of a BERT WordPiece tokenizer built from vocab.txt (tokenizer_config.json names). */
struct bert_opts {
	bool lowercase; /* do_lower_case */
	int strip_accents; /* -1: follow lowercase */
	bool tokenize_chinese_chars;
};

static enum sy_status bert_from_vocab(const char *path, const struct bert_opts *o,
                                      struct sy_error *err, struct tokenizer **out)
{
	*out = NULL;
	char *data;
	size_t len;
	enum sy_status st = sy_file_read(path, err, &data, &len);
	if (st != SY_OK)
		return st;
	struct tokenizer *t = tokenizer_new();
	if (!t) {
		free(data);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	st = wordpiece_from_vocab_txt(data, len, path, err, &t->model);
	free(data);
	if (st == SY_OK && !(t->decoder = tok_decoder_wordpiece()))
		st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (st == SY_OK) {
		t->normalizer = calloc(1, sizeof *t->normalizer);
		t->pretokenizer = calloc(1, sizeof *t->pretokenizer);
		if (!t->normalizer || !t->pretokenizer)
			st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	if (st == SY_OK) {
		struct tok_normalizer *n = t->normalizer;
		n->kind = TOK_NORM_BERT;
		n->clean_text = true;
		n->handle_chinese_chars = o->tokenize_chinese_chars;
		n->lowercase = o->lowercase;
		n->strip_accents = o->strip_accents < 0 ? o->lowercase : o->strip_accents != 0;
		t->pretokenizer->kind = TOK_PRE_BERT;
		/* BertTokenizerFast registers the special tokens as added tokens, so "[MASK]"
		 * written in the text is one token. */
		static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
		                                       "[MASK]"};
		for (size_t i = 0; i < sizeof specials / sizeof specials[0] && st == SY_OK; i++) {
			int32_t id = t->model.vt->token_to_id(t->model.impl, specials[i],
			                                      strlen(specials[i]));
			if (id >= 0 && added_push(t, specials[i], id, false, false, false, false,
			                          true) != SY_OK)
				st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
	}
	if (st == SY_OK) {
		int32_t cls = t->model.vt->token_to_id(t->model.impl, "[CLS]", 5);
		int32_t sep = t->model.vt->token_to_id(t->model.impl, "[SEP]", 5);
		if (cls < 0 || sep < 0)
			st = sy_error_set(err, SY_ERR_FORMAT, "%s: [CLS] or [SEP] missing", path);
		else if (postprocessor_bert(cls, sep, &t->post) != SY_OK)
			st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	if (st == SY_OK)
		st = tokenizer_finish(t, err);
	if (st != SY_OK) {
		tokenizer_free(t);
		return st;
	}
	t->pad_id = guess_pad_id(t);
	*out = t;
	return SY_OK;
}

enum sy_status tokenizer_load_vocab_txt(const char *path, bool lowercase, struct sy_error *err,
                                        struct tokenizer **out)
{
	if (!path || !out)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "tokenizer_load_vocab_txt: NULL argument");
	struct bert_opts o = {lowercase, -1, true};
	return bert_from_vocab(path, &o, err, out);
}

/* Reads do_lower_case, strip_accents and tokenize_chinese_chars from tokenizer_config.json. */
static enum sy_status read_bert_config(const char *dir, struct sy_error *err, struct bert_opts *o)
{
	o->lowercase = true;
	o->strip_accents = -1;
	o->tokenize_chinese_chars = true;
	char *path = sy_path_join(dir, "tokenizer_config.json");
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	if (!sy_path_exists(path)) {
		free(path);
		return SY_OK;
	}
	char *data;
	size_t len;
	enum sy_status st = sy_file_read(path, err, &data, &len);
	if (st != SY_OK) {
		free(path);
		return st;
	}
	cJSON *root = cJSON_ParseWithLength(data, len);
	free(data);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		st = sy_error_set(err, SY_ERR_FORMAT, "%s: invalid JSON", path);
		free(path);
		return st;
	}
	bool sa;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "strip_accents");
	if ((st = json_read_bool(root, "do_lower_case", "tokenizer_config", true, err,
	                         &o->lowercase)) == SY_OK &&
	    (st = json_read_bool(root, "tokenize_chinese_chars", "tokenizer_config", true, err,
	                         &o->tokenize_chinese_chars)) == SY_OK &&
	    (st = json_read_bool(root, "strip_accents", "tokenizer_config", false, err, &sa)) ==
	        SY_OK)
		o->strip_accents = v && !cJSON_IsNull(v) ? sa : -1;
	cJSON_Delete(root);
	if (st != SY_OK)
		sy_error_prefix(err, "%s", path);
	free(path);
	return st;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static enum sy_status load_json_file(const char *path, struct sy_error *err, struct tokenizer **out)
{
	char *data;
	size_t len;
	enum sy_status st = sy_file_read(path, err, &data, &len);
	if (st != SY_OK)
		return st;
	st = load_json_named(data, len, path, err, out);
	free(data);
	return st;
}

enum sy_status tokenizer_load_spm_mem(const void *data, size_t len, const char *name,
                                      const struct spm_options *o, struct sy_error *err,
                                      struct tokenizer **out)
{
	*out = NULL;
	char *json = NULL;
	enum sy_status s = spm_to_tokenizer_json(data, len, name, o, err, &json);
	if (s == SY_OK) {
		s = tokenizer_load_json(json, strlen(json), err, out);
		if (s != SY_OK)
			sy_error_prefix(err, "%s: ", name);
	}
	free(json);
	return s;
}

enum sy_status tokenizer_load_spm(const char *path, const struct spm_options *o,
                                  struct sy_error *err, struct tokenizer **out)
{
	*out = NULL;
	char *data = NULL;
	size_t len = 0;
	enum sy_status s = sy_file_read(path, err, &data, &len);
	if (s == SY_OK)
		s = tokenizer_load_spm_mem(data, len, path, o, err, out);
	free(data);
	return s;
}

/* The parsed JSON file name in dir, or NULL when it is absent or unreadable. */
static cJSON *read_dir_json(const char *dir, const char *name)
{
	char *path = sy_path_join(dir, name);
	char *text = NULL;
	size_t len = 0;
	struct sy_error ignored;
	cJSON *doc = NULL;
	if (path && sy_path_exists(path) && sy_file_read(path, &ignored, &text, &len) == SY_OK)
		doc = cJSON_ParseWithLength(text, len);
	free(text);
	free(path);
	return doc;
}

/* A directory with a SentencePiece model and no tokenizer.json: spiece.model (T5, SigLIP),
 * spm.model, tokenizer.model (Llama, Gemma). bos / eos come from tokenizer_config.json's
 * add_bos_token / add_eos_token, else from its tokenizer_class (T5 and SigLIP end each text
 * with </s>; Llama and Gemma start it with <s>). fairseq's sentencepiece.bpe.model is read with
 * the XLM-RoBERTa dictionary (spm_options.fairseq: every id shifted, <s> A </s>) when
 * tokenizer_config.json names XLMRobertaTokenizer, or config.json's model_type is xlm-roberta,
 * or neither file says otherwise; another class (CamemBERT's own specials) is refused. */
static enum sy_status load_spm_dir(const char *dir, struct sy_error *err, struct tokenizer **out)
{
	static const char *const names[] = {"spiece.model", "spm.model", "tokenizer.model",
	                                    "sentencepiece.bpe.model"};
	char *model = NULL;
	bool fairseq = false;
	for (size_t i = 0; !model && i < sizeof names / sizeof names[0]; i++) {
		char *p = sy_path_join(dir, names[i]);
		if (p && sy_path_exists(p)) {
			model = p;
			fairseq = i == 3;
		} else {
			free(p);
		}
	}
	if (!model)
		return sy_error_set(err, SY_ERR_NOT_FOUND,
		                    "%s: no tokenizer.json, vocab.txt or SentencePiece model", dir);
	struct spm_options o = {0};
	cJSON *cfg = read_dir_json(dir, "tokenizer_config.json");
	const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
	const char *c = cJSON_IsString(cls) ? cls->valuestring : "";
	if (fairseq) {
		cJSON *mc = read_dir_json(dir, "config.json");
		const cJSON *mt = cJSON_GetObjectItemCaseSensitive(mc, "model_type");
		const bool xlmr = !strncmp(c, "XLMRobertaTokenizer", 19) ||
		                  (cJSON_IsString(mt) && !strcmp(mt->valuestring, "xlm-roberta"));
		const bool other = c[0] || cJSON_IsString(mt);
		cJSON_Delete(mc);
		if (!xlmr && other) {
			sy_error_set(
			    err, SY_ERR_UNSUPPORTED,
			    "%s: sentencepiece.bpe.model with tokenizer class \"%s\": only "
			    "XLM-RoBERTa's fairseq ids are known without the model's "
			    "tokenizer.json",
			    dir, c);
			cJSON_Delete(cfg); /* c points into it */
			free(model);
			return SY_ERR_UNSUPPORTED;
		}
		o.fairseq = o.add_bos = o.add_eos = true;
	}
	o.add_eos =
	    o.add_eos || !strncmp(c, "T5Tokenizer", 11) || !strncmp(c, "SiglipTokenizer", 15);
	o.add_bos =
	    o.add_bos || !strncmp(c, "LlamaTokenizer", 14) || !strncmp(c, "GemmaTokenizer", 14);
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");
	if (cJSON_IsBool(b) && !fairseq)
		o.add_bos = cJSON_IsTrue(b);
	if (cJSON_IsBool(e) && !fairseq)
		o.add_eos = cJSON_IsTrue(e);
	cJSON_Delete(cfg);
	enum sy_status st = tokenizer_load_spm(model, &o, err, out);
	free(model);
	return st;
}

enum sy_status tokenizer_load(const char *path, struct sy_error *err, struct tokenizer **out)
{
	if (!path || !out)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "tokenizer_load: NULL argument");
	*out = NULL;
	if (!sy_path_is_dir(path)) {
		if (ends_with(path, ".txt"))
			return tokenizer_load_vocab_txt(path, true, err, out);
		if (ends_with(path, ".model"))
			return tokenizer_load_spm(path, NULL, err, out);
		return load_json_file(path, err, out);
	}
	char *tj = sy_path_join(path, "tokenizer.json");
	char *vt = sy_path_join(path, "vocab.txt");
	enum sy_status st;
	if (!tj || !vt) {
		st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	} else if (sy_path_exists(tj)) {
		st = load_json_file(tj, err, out);
	} else if (sy_path_exists(vt)) {
		struct bert_opts o;
		st = read_bert_config(path, err, &o);
		if (st == SY_OK)
			st = bert_from_vocab(vt, &o, err, out);
	} else {
		st = load_spm_dir(path, err, out);
	}
	free(tj);
	free(vt);
	return st;
}
