/* The TF.js Universal Sentence Encoder tokenizer (see use_tokenizer.h for the algorithm).
 *
 * The reference keeps the vocabulary in a trie of code points and asks it, at each position,
 * for every piece that is a prefix of the rest of the text. Here one hash map plays the trie:
 * it maps the UTF-8 bytes of every piece to its id, and of every proper prefix of a piece (at
 * code point boundaries) to a marker, so the scan from a position stops as soon as the text
 * there is no longer a prefix of any piece, exactly where the trie walk would stop. A repeated
 * piece keeps its last id and score, as a repeated trie insertion does. */
#include "text/use_tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <utf8proc.h>

#include "base/file.h"
#include "base/strmap.h"
#include "text/unicode.h"

/* Longest text accepted, in bytes: the lattice needs about 20 bytes per code point. */
#define USE_TOKENIZER_MAX_BYTES (64u << 20)

#define SEPARATOR 0x2581u /* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's word boundary */

struct use_tokenizer {
	int n_vocab;
	char **pieces; /* [n_vocab] NUL-terminated UTF-8 */
	double *scores; /* [n_vocab] null scores as 0 */
	uint8_t *u16_len; /* [n_vocab] length of the piece in UTF-16 code units (capped at 255) */
	int max_piece_cps; /* longest matchable piece in code points */
	/* UTF-8 of every matchable piece -> 2 id + 1; of every proper prefix that is not itself a
	 * piece -> 0. */
	struct sy_strmap map;
};

void use_tokenizer_free(struct use_tokenizer *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->n_vocab; i++)
		free(t->pieces[i]);
	free(t->pieces);
	free(t->scores);
	free(t->u16_len);
	sy_strmap_free(&t->map);
	free(t);
}

int use_tokenizer_vocab_size(const struct use_tokenizer *t)
{
	return t->n_vocab;
}

const char *use_tokenizer_piece(const struct use_tokenizer *t, int id)
{
	return id >= 0 && id < t->n_vocab ? t->pieces[id] : NULL;
}

/* Adds piece id to the map: its proper prefixes as markers (unless already present), then the
 * piece itself (overwriting an earlier marker or an earlier piece of the same text). Returns
 * the piece's length in code points, or -1 on allocation failure. */
static int map_add_piece(struct sy_strmap *m, const char *p, size_t len, int32_t id)
{
	int n_cps = 0;
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		i += utf8_sanitize_step((const unsigned char *)p + i, len - i, &cp);
		n_cps++;
		if (i < len && sy_strmap_get(m, p, i) < 0 && sy_strmap_put(m, p, i, 0) != 0)
			return -1;
	}
	if (sy_strmap_put(m, p, len, 2 * id + 1) != 0)
		return -1;
	return n_cps;
}

/* Length of s in UTF-16 code units, as JavaScript's String.length counts it. */
static size_t utf16_length(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += utf8_sanitize_step((const unsigned char *)s + i, len - i, &cp);
		n += cp > 0xFFFF ? 2 : 1;
	}
	return n;
}

enum sy_status use_tokenizer_load_json(const char *json, size_t len, const char *what,
                                       struct sy_error *err, struct use_tokenizer **out)
{
	*out = NULL;
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!root)
		return sy_error_set(err, SY_ERR_FORMAT, "%s: not valid JSON", what);
	if (!cJSON_IsArray(root) || cJSON_GetArraySize(root) <= USE_TOKENIZER_RESERVED) {
		cJSON_Delete(root);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s: expected an array of more than %d [piece, score] pairs",
		                    what, USE_TOKENIZER_RESERVED);
	}
	struct use_tokenizer *t = calloc(1, sizeof *t);
	if (!t) {
		cJSON_Delete(root);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	sy_strmap_init(&t->map);
	int n = cJSON_GetArraySize(root);
	t->pieces = calloc((size_t)n, sizeof *t->pieces);
	t->scores = calloc((size_t)n, sizeof *t->scores);
	t->u16_len = calloc((size_t)n, sizeof *t->u16_len);
	enum sy_status s = SY_OK;
	if (!t->pieces || !t->scores || !t->u16_len)
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	int i = 0;
	for (const cJSON *e = root->child; e && s == SY_OK; e = e->next, i++) {
		const cJSON *p = cJSON_GetArrayItem(e, 0), *sc = cJSON_GetArrayItem(e, 1);
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(p) ||
		    !(cJSON_IsNumber(sc) || cJSON_IsNull(sc))) {
			s = sy_error_set(err, SY_ERR_FORMAT,
			                 "%s: entry %d: expected [piece (string), score (number or "
			                 "null)]",
			                 what, i);
			break;
		}
		size_t pl = strlen(p->valuestring);
		t->pieces[i] = malloc(pl + 1);
		if (!t->pieces[i]) {
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			break;
		}
		memcpy(t->pieces[i], p->valuestring, pl + 1);
		t->n_vocab = i + 1;
		/* JavaScript's null + x is x: a null score acts as 0. */
		t->scores[i] = cJSON_IsNumber(sc) ? sc->valuedouble : 0.0;
		size_t u16 = utf16_length(p->valuestring, pl);
		t->u16_len[i] = (uint8_t)(u16 > 255 ? 255 : u16);
		/* The reserved entries are not matched, and an empty piece never is either (the
		 * trie insertion of "" marks nothing). */
		if (i < USE_TOKENIZER_RESERVED || pl == 0)
			continue;
		int cps = map_add_piece(&t->map, p->valuestring, pl, i);
		if (cps < 0) {
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			break;
		}
		if (cps > t->max_piece_cps)
			t->max_piece_cps = cps;
	}
	cJSON_Delete(root);
	if (s != SY_OK) {
		use_tokenizer_free(t);
		return s;
	}
	*out = t;
	return SY_OK;
}

enum sy_status use_tokenizer_load(const char *vocab_path, struct sy_error *err,
                                  struct use_tokenizer **out)
{
	*out = NULL;
	char *text;
	size_t len;
	enum sy_status s = sy_file_read(vocab_path, err, &text, &len);
	if (s != SY_OK)
		return s;
	s = use_tokenizer_load_json(text, len, vocab_path, err, out);
	free(text);
	return s;
}

/* Step 1: sanitised, NFKC-normalised text, separator in front, spaces replaced. Produces the
 * UTF-8 bytes and the byte offset of every code point (offs[n] = total length). */
static enum sy_status preprocess(const char *text, size_t len, struct sy_error *err, char **out,
                                 uint32_t **offs_out, size_t *n_out)
{
	*out = NULL;
	*offs_out = NULL;
	*n_out = 0;
	/* Invalid UTF-8 -> U+FFFD, which utf8proc then accepts. */
	char *clean = malloc(len * 3 + 1);
	if (!clean)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	size_t cl = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += utf8_sanitize_step((const unsigned char *)text + i, len - i, &cp);
		cl += utf8_encode(cp, clean + cl);
	}
	utf8proc_uint8_t *nfkc = NULL;
	utf8proc_ssize_t nl = 0;
	if (cl > 0) {
		nl = utf8proc_map((const utf8proc_uint8_t *)clean, (utf8proc_ssize_t)cl, &nfkc,
		                  UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
		if (nl < 0) {
			free(clean);
			return sy_error_set(
			    err, nl == UTF8PROC_ERROR_NOMEM ? SY_ERR_NOMEM : SY_ERR_INTERNAL,
			    "use tokenizer: NFKC: %s", utf8proc_errmsg(nl));
		}
	}
	free(clean);
	if (nl == 0) {
		free(nfkc);
		return SY_OK;
	}
	/* Each code point grows by at most 2 bytes (' ' -> U+2581), plus the leading separator. */
	size_t cap = (size_t)nl * 3 + 3;
	char *buf = malloc(cap + 1);
	uint32_t *offs = malloc(((size_t)nl + 2) * sizeof *offs);
	if (!buf || !offs) {
		free(nfkc);
		free(buf);
		free(offs);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	size_t bl = 0, n = 0;
	offs[n++] = 0;
	bl += utf8_encode(SEPARATOR, buf);
	for (utf8proc_ssize_t i = 0; i < nl;) {
		uint32_t k, cp = utf8_decode((const char *)nfkc + i, &k);
		i += k;
		offs[n++] = (uint32_t)bl;
		bl += utf8_encode(cp == ' ' ? SEPARATOR : cp, buf + bl);
	}
	free(nfkc);
	offs[n] = (uint32_t)bl;
	buf[bl] = '\0';
	*out = buf;
	*offs_out = offs;
	*n_out = n;
	return SY_OK;
}

/* One lattice edge start -> end: the reference's update rule, ties and "still 0" included. */
static inline void relax(double *best, int32_t *words, size_t start, size_t end, double score,
                         int32_t id)
{
	double cand = score + best[start];
	if (best[end] == 0 || cand >= best[end]) {
		best[end] = cand;
		words[end] = id;
	}
}

enum sy_status use_tokenizer_encode(const struct use_tokenizer *t, const char *text, size_t len,
                                    struct sy_error *err, int32_t **ids, int *n_ids)
{
	*ids = NULL;
	*n_ids = 0;
	if (len > USE_TOKENIZER_MAX_BYTES)
		return sy_error_set(err, SY_ERR_LIMIT,
		                    "use tokenizer: text of %zu bytes exceeds %u", len,
		                    USE_TOKENIZER_MAX_BYTES);
	char *s;
	uint32_t *offs;
	size_t n;
	enum sy_status st = preprocess(text, len, err, &s, &offs, &n);
	if (st != SY_OK || n == 0)
		return st;
	double *best = calloc(n + 1, sizeof *best);
	int32_t *words = calloc(n + 1, sizeof *words);
	int32_t *res = malloc(n * sizeof *res);
	if (!best || !words || !res) {
		st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Steps 2 and 3 in one forward scan (see use_tokenizer.h): every edge into an end position
	 * comes from a smaller start, so best[start] is final when its edges are relaxed, and the
	 * edges into each end arrive in increasing start order, as in the reference. */
	for (size_t i = 0; i < n; i++) {
		int matched = 0;
		for (size_t l = 1; l <= (size_t)t->max_piece_cps && i + l <= n; l++) {
			int32_t v = sy_strmap_get(&t->map, s + offs[i], offs[i + l] - offs[i]);
			if (v < 0)
				break;
			if (v & 1) {
				int32_t id = v >> 1;
				relax(best, words, i, i + l, t->scores[id], id);
				matched = 1;
			}
		}
		if (!matched)
			relax(best, words, i, i + 1, 0.0, USE_TOKENIZER_UNK);
	}
	/* Step 4: walk back by UTF-16 lengths. A zero length (an empty reserved piece) would loop
	 * forever in the reference; stepping by one is the only sensible reading. */
	size_t m = 0;
	for (size_t it = n; it > 0 && m < n;) {
		int32_t id = words[it];
		res[m++] = id;
		size_t step = t->u16_len[id] ? t->u16_len[id] : 1;
		it = step >= it ? 0 : it - step;
	}
	/* Collapse runs of unknowns and reverse into the output. */
	int32_t *o = malloc(m * sizeof *o);
	if (!o) {
		st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		goto out;
	}
	int k = 0;
	for (size_t j = m; j-- > 0;) {
		if (res[j] == USE_TOKENIZER_UNK && k > 0 && o[k - 1] == USE_TOKENIZER_UNK)
			continue;
		o[k++] = res[j];
	}
	*ids = o;
	*n_ids = k;
out:
	free(best);
	free(words);
	free(res);
	free(s);
	free(offs);
	return st;
}
