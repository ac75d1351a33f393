/* The WordPiece model (Schuster & Nakajima 2012, as used by BERT; Hugging Face `tokenizers`
 * models::wordpiece): greedy longest-match-first. A word longer than max_input_chars_per_word
 * characters is the unk token; otherwise, from the start of the word, the longest prefix that is
 * in the vocabulary is taken, then the longest continuation (looked up with the "##" prefix),
 * and so on; if some position has no match at all, the whole word becomes one unk token.
 *
 * Lookups avoid building "##" + substring: a second map holds every token that starts with the
 * continuing-subword prefix under its remainder. The search starts no longer than the longest
 * key, so each step costs a handful of hash lookups. */
#include "text/wordpiece.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "text/tokcfg.h"

#define WP_MAX_IDS (1 << 24) /* ids beyond this are refused: the id -> token table is dense */

struct wordpiece {
	struct sy_strmap vocab; /* token -> id */
	struct sy_strmap cont; /* remainder -> id, for tokens starting with the prefix */
	const char **by_id; /* [n_ids] token of each id (keys of `vocab`), NULL for gaps */
	int32_t n_ids;
	int n_entries; /* number of vocabulary entries: the model's vocab size */
	char *unk;
	int32_t unk_id; /* -1 when unk is not in the vocabulary */
	char *prefix; /* continuing_subword_prefix */
	size_t prefix_len; /* bytes */
	long max_chars; /* max_input_chars_per_word */
	size_t max_len; /* longest key of vocab, bytes */
	size_t max_cont; /* longest key of cont, bytes */
};

static void wp_free(void *impl)
{
	struct wordpiece *wp = impl;
	if (!wp)
		return;
	sy_strmap_free(&wp->vocab);
	sy_strmap_free(&wp->cont);
	free(wp->by_id);
	free(wp->unk);
	free(wp->prefix);
	free(wp);
}

static inline bool is_cont_byte(char c)
{
	return ((unsigned char)c & 0xC0) == 0x80;
}

static enum sy_status wp_tokenize(const void *impl, const char *s, size_t len,
                                  struct tok_piece_buf *out, struct sy_error *err)
{
	const struct wordpiece *wp = impl;
	if (len == 0)
		return SY_OK;
	if (len > UINT32_MAX)
		return sy_error_set(err, SY_ERR_LIMIT, "WordPiece: piece of %zu bytes is too long",
		                    len);
	size_t n_chars = 0;
	for (size_t i = 0; i < len; i++)
		n_chars += !is_cont_byte(s[i]);
	int n0 = out->n;
	if (n_chars <= (size_t)wp->max_chars) {
		size_t start = 0;
		while (start < len) {
			const struct sy_strmap *m =
			    start && wp->prefix_len ? &wp->cont : &wp->vocab;
			size_t lim = start && wp->prefix_len ? wp->max_cont : wp->max_len;
			size_t end = len;
			if (end - start > lim) {
				end = start + lim;
				while (end > start && is_cont_byte(s[end]))
					end--;
			}
			int32_t id = -1;
			while (end > start) {
				id = sy_strmap_get(m, s + start, end - start);
				if (id >= 0)
					break;
				end--;
				while (end > start && is_cont_byte(s[end]))
					end--;
			}
			if (id < 0)
				break;
			if (tok_piece_push(out, id, (uint32_t)start, (uint32_t)end) != SY_OK)
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			start = end;
		}
		if (start == len)
			return SY_OK;
		out->n = n0;
	}
	if (wp->unk_id < 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "WordPiece: unk_token \"%.60s\" is not in the vocabulary",
		                    wp->unk);
	if (tok_piece_push(out, wp->unk_id, 0, (uint32_t)len) != SY_OK)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	return SY_OK;
}

static int32_t wp_token_to_id(const void *impl, const char *tok, size_t len)
{
	const struct wordpiece *wp = impl;
	return sy_strmap_get(&wp->vocab, tok, len);
}

static const char *wp_id_to_token(const void *impl, int32_t id)
{
	const struct wordpiece *wp = impl;
	return id >= 0 && id < wp->n_ids ? wp->by_id[id] : NULL;
}

static int wp_vocab_size(const void *impl)
{
	const struct wordpiece *wp = impl;
	return wp->n_entries;
}

static size_t wp_bytes(const void *impl)
{
	const struct wordpiece *w = impl;
	return sizeof *w + sy_strmap_bytes(&w->vocab) + sy_strmap_bytes(&w->cont) +
	       (size_t)w->n_ids * sizeof *w->by_id;
}

static const struct text_model_vt wordpiece_vt = {
    .kind = "WordPiece",
    .tokenize = wp_tokenize,
    .token_to_id = wp_token_to_id,
    .id_to_token = wp_id_to_token,
    .vocab_size = wp_vocab_size,
    .bytes = wp_bytes,
    .free = wp_free,
};

static struct wordpiece *wp_new(const char *unk, const char *prefix, long max_chars)
{
	struct wordpiece *wp = calloc(1, sizeof *wp);
	if (!wp)
		return NULL;
	sy_strmap_init(&wp->vocab);
	sy_strmap_init(&wp->cont);
	wp->unk = tokcfg_strdup(unk);
	wp->prefix = tokcfg_strdup(prefix);
	if (!wp->unk || !wp->prefix) {
		wp_free(wp);
		return NULL;
	}
	wp->prefix_len = strlen(prefix);
	wp->max_chars = max_chars;
	return wp;
}

/* Builds the reverse table and the continuation map once every token is in `vocab`. */
static enum sy_status wp_finish(struct wordpiece *wp, const char *field, struct sy_error *err)
{
	int32_t max_id = -1;
	for (size_t i = 0; i < wp->vocab.cap; i++) {
		const struct sy_strmap_slot *sl = &wp->vocab.slots[i];
		if (sl->key && sl->value > max_id)
			max_id = sl->value;
	}
	wp->n_ids = max_id + 1;
	wp->by_id = calloc(wp->n_ids ? (size_t)wp->n_ids : 1, sizeof *wp->by_id);
	if (!wp->by_id)
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", field);
	for (size_t i = 0; i < wp->vocab.cap; i++) {
		const struct sy_strmap_slot *sl = &wp->vocab.slots[i];
		if (!sl->key)
			continue;
		/* Two tokens with one id: keep the smaller string, so the choice is stable. */
		const char *cur = wp->by_id[sl->value];
		if (!cur || strcmp(sl->key, cur) < 0)
			wp->by_id[sl->value] = sl->key;
		if (sl->len > wp->max_len)
			wp->max_len = sl->len;
		if (wp->prefix_len && sl->len > wp->prefix_len &&
		    memcmp(sl->key, wp->prefix, wp->prefix_len) == 0) {
			size_t rl = sl->len - wp->prefix_len;
			if (sy_strmap_put(&wp->cont, sl->key + wp->prefix_len, rl, sl->value) != 0)
				return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", field);
			if (rl > wp->max_cont)
				wp->max_cont = rl;
		}
	}
	wp->unk_id = sy_strmap_get(&wp->vocab, wp->unk, strlen(wp->unk));
	return SY_OK;
}

enum sy_status wordpiece_from_json(const cJSON *model, struct sy_error *err, struct text_model *out)
{
	const char *unk, *prefix;
	long max_chars;
	enum sy_status st;
	if (!cJSON_IsObject(model))
		return sy_error_set(err, SY_ERR_FORMAT, "model: expected object");
	if ((st = tokcfg_string(model, "unk_token", "model", "[UNK]", err, &unk)) != SY_OK ||
	    (st = tokcfg_string(model, "continuing_subword_prefix", "model", "##", err, &prefix)) !=
	        SY_OK ||
	    (st = json_read_int(model, "max_input_chars_per_word", "model", 0, 1L << 30, 100, err,
	                        &max_chars)) != SY_OK)
		return st;
	const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	if (!vocab)
		return sy_error_set(err, SY_ERR_FORMAT, "model.vocab: missing");
	if (!cJSON_IsObject(vocab))
		return sy_error_set(err, SY_ERR_FORMAT, "model.vocab: expected object");
	struct wordpiece *wp = wp_new(unk, prefix, max_chars);
	if (!wp)
		return sy_error_set(err, SY_ERR_NOMEM, "model: out of memory");
	const cJSON *it;
	cJSON_ArrayForEach(it, vocab)
	{
		double d = it->valuedouble;
		if (!cJSON_IsNumber(it) || !(d >= 0) || d != floor(d)) {
			st = sy_error_set(
			    err, SY_ERR_FORMAT,
			    "model.vocab[\"%.60s\"]: expected a non-negative integer id",
			    it->string ? it->string : "");
			break;
		}
		if (d >= WP_MAX_IDS) {
			st = sy_error_set(err, SY_ERR_LIMIT,
			                  "model.vocab[\"%.60s\"]: id %.0f too large",
			                  it->string ? it->string : "", d);
			break;
		}
		if (sy_strmap_put(&wp->vocab, it->string, strlen(it->string), (int32_t)d) != 0) {
			st = sy_error_set(err, SY_ERR_NOMEM, "model.vocab: out of memory");
			break;
		}
	}
	wp->n_entries = (int)wp->vocab.n;
	if (st == SY_OK)
		st = wp_finish(wp, "model.vocab", err);
	if (st != SY_OK) {
		wp_free(wp);
		return st;
	}
	out->vt = &wordpiece_vt;
	out->impl = wp;
	return SY_OK;
}

enum sy_status wordpiece_from_vocab_txt(const char *data, size_t len, const char *name,
                                        struct sy_error *err, struct text_model *out)
{
	struct wordpiece *wp = wp_new("[UNK]", "##", 100);
	if (!wp)
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", name);
	enum sy_status st = SY_OK;
	int32_t id = 0;
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - data) : len, next = nl ? e + 1 : len;
		if (e > i && data[e - 1] == '\r')
			e--;
		if (id >= WP_MAX_IDS) {
			st = sy_error_set(err, SY_ERR_LIMIT, "%s: more than %d lines", name,
			                  WP_MAX_IDS);
			break;
		}
		if (!tokcfg_utf8_valid(data + i, e - i)) {
			st = sy_error_set(err, SY_ERR_FORMAT, "%s: line %d: invalid UTF-8", name,
			                  (int)id + 1);
			break;
		}
		if (sy_strmap_put(&wp->vocab, data + i, e - i, id) != 0) {
			st = sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", name);
			break;
		}
		id++;
		i = next;
	}
	wp->n_entries = (int)wp->vocab.n;
	if (st == SY_OK && wp->vocab.n == 0)
		st = sy_error_set(err, SY_ERR_FORMAT, "%s: empty vocabulary", name);
	if (st == SY_OK)
		st = wp_finish(wp, name, err);
	if (st != SY_OK) {
		wp_free(wp);
		return st;
	}
	out->vt = &wordpiece_vt;
	out->impl = wp;
	return SY_OK;
}
