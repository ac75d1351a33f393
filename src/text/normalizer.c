/* Normalizers (see normalizer.h). Each leaf step reads w->n1 and writes w->n2, then the two are
 * swapped, so a Sequence is just its steps in order.
 *
 * Alignment rules, as in Hugging Face's NormalizedString::transform: a character produced from an
 * input character (its lowercase, its decomposition, the spaces put around a CJK ideograph)
 * carries that character's original range; a removed character leaves nothing; Replace gives its
 * replacement the range of the last character of the match; Prepend gives the prefix the range
 * of the first character. NFC/NFKC composition gives a composed character the range of the
 * character it was built on (as the reference's composer does).
 *
 * Unicode decomposition data come from utf8proc. Canonical ordering of combining marks (which a
 * per-character decomposition does not do) is a stable sort of each run of non-starters by
 * combining class; composition runs utf8proc's composer on each group of a starter and its
 * marks, extended to the next starter when the two compose (Hangul LV + T and the like). */
#include "text/normalizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "text/tokcfg.h"
#include "text/unicode.h"

#define DECOMP_MAX 32 /* longest full decomposition is 18 code points (U+FDFA under NFKD) */

/* ---- Loading ---- */

void normalizer_free(struct tok_normalizer *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->n_seq; i++)
		normalizer_free(n->seq[i]);
	free(n->seq);
	pattern_free(&n->pattern);
	free(n->content);
	free(n->trie);
	free(n->repl);
	free(n);
}

/* Decodes standard base64 (with optional '=' padding). Returns the length, or -1 if invalid. */
static long base64_decode(const char *in, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long n = 0;
	size_t len = strlen(in);
	while (len > 0 && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int v = c >= 'A' && c <= 'Z'   ? c - 'A'
		        : c >= 'a' && c <= 'z' ? c - 'a' + 26
		        : c >= '0' && c <= '9' ? c - '0' + 52
		        : c == '+'             ? 62
		        : c == '/'             ? 63
		                               : -1;
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

/* precompiled_charsmap: a little-endian u32 trie size in bytes, the trie units, then the
 * replacement strings (the layout spm_precompiled reads). */
static enum sy_status precompiled_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                            struct tok_normalizer *n)
{
	const char *b64;
	enum sy_status st = tokcfg_string(j, "precompiled_charsmap", path, NULL, err, &b64);
	if (st != SY_OK)
		return st;
	if (!b64)
		return sy_error_set(err, SY_ERR_FORMAT, "%s.precompiled_charsmap: missing", path);
	unsigned char *raw = malloc(strlen(b64) / 4 * 3 + 3);
	if (!raw)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	long len = base64_decode(b64, raw);
	if (len < 4) {
		free(raw);
		return sy_error_set(err, SY_ERR_FORMAT, "%s.precompiled_charsmap: %s", path,
		                    len < 0 ? "invalid base64" : "too short");
	}
	size_t trie_bytes =
	    (size_t)raw[0] | (size_t)raw[1] << 8 | (size_t)raw[2] << 16 | (size_t)raw[3] << 24;
	size_t units = trie_bytes / 4;
	if (units > ((size_t)len - 4) / 4) {
		free(raw);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s.precompiled_charsmap: trie size %zu exceeds the data", path,
		                    trie_bytes);
	}
	n->n_trie = units;
	n->trie = malloc((units ? units : 1) * sizeof *n->trie);
	n->repl_len = (size_t)len - 4 - units * 4;
	n->repl = malloc(n->repl_len + 1);
	if (!n->trie || !n->repl) {
		free(raw);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < units; i++) {
		const unsigned char *u = raw + 4 + 4 * i;
		n->trie[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
		             (uint32_t)u[3] << 24;
	}
	memcpy(n->repl, raw + 4 + units * 4, n->repl_len);
	n->repl[n->repl_len] = '\0';
	free(raw);
	if (!tokcfg_utf8_valid(n->repl, n->repl_len))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s.precompiled_charsmap: replacements are not valid UTF-8",
		                    path);
	return SY_OK;
}

static enum sy_status pattern_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                        struct tok_pattern *out)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pattern");
	if (!cJSON_IsObject(p))
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "%s.pattern: expected {\"String\": ...} or {\"Regex\": ...}",
		                    path);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "String");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "Regex");
	char field[TOKCFG_PATH_LEN + 16];
	if (cJSON_IsString(s) && s->valuestring) {
		snprintf(field, sizeof field, "%s.pattern.String", path);
		if (!tokcfg_utf8_valid(s->valuestring, strlen(s->valuestring)))
			return sy_error_set(err, SY_ERR_FORMAT, "%s: invalid UTF-8", field);
		return pattern_init(out, s->valuestring, false, field, err);
	}
	if (cJSON_IsString(r) && r->valuestring) {
		snprintf(field, sizeof field, "%s.pattern.Regex", path);
		return pattern_init(out, r->valuestring, true, field, err);
	}
	return sy_error_set(err, SY_ERR_FORMAT,
	                    "%s.pattern: expected {\"String\": ...} or {\"Regex\": ...}", path);
}

static enum sy_status bert_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                     struct tok_normalizer *n)
{
	enum sy_status st;
	if ((st = json_read_bool(j, "clean_text", path, true, err, &n->clean_text)) != SY_OK ||
	    (st = json_read_bool(j, "handle_chinese_chars", path, true, err,
	                         &n->handle_chinese_chars)) != SY_OK ||
	    (st = json_read_bool(j, "lowercase", path, true, err, &n->lowercase)) != SY_OK)
		return st;
	/* strip_accents: null (or absent) follows lowercase, as BertNormalizer does. */
	return json_read_bool(j, "strip_accents", path, n->lowercase, err, &n->strip_accents);
}

enum sy_status normalizer_from_json(const cJSON *j, const char *path, struct sy_error *err,
                                    struct tok_normalizer **out)
{
	*out = NULL;
	const char *type;
	enum sy_status st = tokcfg_type(j, path, err, &type);
	if (st != SY_OK)
		return st;
	struct tok_normalizer *n = calloc(1, sizeof *n);
	if (!n)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const char *str;
	if (strcmp(type, "BertNormalizer") == 0) {
		n->kind = TOK_NORM_BERT;
		st = bert_from_json(j, path, err, n);
	} else if (strcmp(type, "NFC") == 0) {
		n->kind = TOK_NORM_NFC;
	} else if (strcmp(type, "NFD") == 0) {
		n->kind = TOK_NORM_NFD;
	} else if (strcmp(type, "NFKC") == 0) {
		n->kind = TOK_NORM_NFKC;
	} else if (strcmp(type, "NFKD") == 0) {
		n->kind = TOK_NORM_NFKD;
	} else if (strcmp(type, "Lowercase") == 0) {
		n->kind = TOK_NORM_LOWERCASE;
	} else if (strcmp(type, "StripAccents") == 0) {
		n->kind = TOK_NORM_STRIP_ACCENTS;
	} else if (strcmp(type, "ByteLevel") == 0) {
		n->kind = TOK_NORM_BYTE_LEVEL;
	} else if (strcmp(type, "Strip") == 0) {
		n->kind = TOK_NORM_STRIP;
		if ((st = json_read_bool(j, "strip_left", path, true, err, &n->strip_left)) ==
		    SY_OK)
			st = json_read_bool(j, "strip_right", path, true, err, &n->strip_right);
	} else if (strcmp(type, "Replace") == 0) {
		n->kind = TOK_NORM_REPLACE;
		if ((st = pattern_from_json(j, path, err, &n->pattern)) == SY_OK &&
		    (st = tokcfg_string(j, "content", path, NULL, err, &str)) == SY_OK) {
			if (!str)
				st = sy_error_set(err, SY_ERR_FORMAT, "%s.content: missing", path);
			else if (!(n->content = tokcfg_strdup(str)))
				st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
	} else if (strcmp(type, "Prepend") == 0) {
		n->kind = TOK_NORM_PREPEND;
		if ((st = tokcfg_string(j, "prepend", path, NULL, err, &str)) == SY_OK) {
			if (!str)
				st = sy_error_set(err, SY_ERR_FORMAT, "%s.prepend: missing", path);
			else if (!(n->content = tokcfg_strdup(str)))
				st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
	} else if (strcmp(type, "Sequence") == 0) {
		n->kind = TOK_NORM_SEQUENCE;
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
		if (!cJSON_IsArray(arr)) {
			st = sy_error_set(err, SY_ERR_FORMAT, "%s.normalizers: expected array",
			                  path);
		} else {
			int cnt = cJSON_GetArraySize(arr);
			n->seq = calloc(cnt ? (size_t)cnt : 1, sizeof *n->seq);
			if (!n->seq)
				st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			const cJSON *it;
			cJSON_ArrayForEach(it, arr)
			{
				if (st != SY_OK)
					break;
				char sub[TOKCFG_PATH_LEN];
				snprintf(sub, sizeof sub, "%s.normalizers[%d]", path, n->n_seq);
				st = normalizer_from_json(it, sub, err, &n->seq[n->n_seq]);
				if (st == SY_OK)
					n->n_seq++;
			}
		}
	} else if (strcmp(type, "Precompiled") == 0) {
		n->kind = TOK_NORM_PRECOMPILED;
		st = precompiled_from_json(j, path, err, n);
	} else if (strcmp(type, "Nmt") == 0) {
		n->kind = TOK_NORM_NMT;
	} else {
		st = sy_error_set(err, SY_ERR_UNSUPPORTED, "%s.type: unknown normalizer \"%s\"",
		                  path, type);
	}
	if (st != SY_OK) {
		normalizer_free(n);
		return st;
	}
	*out = n;
	return SY_OK;
}

/* ---- Canonical ordering and composition on code point arrays ---- */

enum sy_status work_cp_reserve(struct tok_work *w, size_t n)
{
	if (n <= w->cp_cap)
		return SY_OK;
	size_t cap = w->cp_cap ? w->cp_cap : 64;
	while (cap < n)
		cap *= 2;
	uint32_t *cp = realloc(w->cp, cap * sizeof *cp);
	if (!cp)
		return SY_ERR_NOMEM;
	w->cp = cp;
	uint32_t *ca = realloc(w->ca, cap * sizeof *ca);
	if (!ca)
		return SY_ERR_NOMEM;
	w->ca = ca;
	uint32_t *cb = realloc(w->cb, cap * sizeof *cb);
	if (!cb)
		return SY_ERR_NOMEM;
	w->cb = cb;
	w->cp_cap = cap;
	return SY_OK;
}

/* Stable insertion sort of every run of non-starters by combining class. Only the code points
 * move: the original ranges stay with the positions, which is what the reference's alignment
 * tracking produces for reordered marks. */
static void canonical_order(uint32_t *cp, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (uc_ccc(cp[i]) == 0) {
			i++;
			continue;
		}
		size_t s = i;
		while (i < n && uc_ccc(cp[i]) != 0)
			i++;
		for (size_t k = s + 1; k < i; k++) {
			uint32_t c = cp[k];
			int cc = uc_ccc(c);
			size_t m = k;
			while (m > s && uc_ccc(cp[m - 1]) > cc) {
				cp[m] = cp[m - 1];
				m--;
			}
			cp[m] = c;
		}
	}
}

/* Decodes src into w->cp/ca/cb, fully decomposing each character when opts asks for it. */
static enum sy_status decode_to_cps(const struct tok_nstr *src, utf8proc_option_t opts,
                                    struct tok_work *w, size_t *n_out)
{
	size_t n = 0;
	/* A character expands to at most DECOMP_MAX code points; bytes bound characters. */
	for (size_t i = 0; i < src->len;) {
		uint32_t k, c = utf8_decode(src->s + i, &k);
		utf8proc_int32_t d[DECOMP_MAX];
		utf8proc_ssize_t nd = 1;
		d[0] = (utf8proc_int32_t)c;
		if (c >= 0xA0 && opts) {
			int bc = 0;
			nd = utf8proc_decompose_char((utf8proc_int32_t)c, d, DECOMP_MAX, opts, &bc);
			if (nd < 1 || nd > DECOMP_MAX) {
				d[0] = (utf8proc_int32_t)c;
				nd = 1;
			}
		}
		if (work_cp_reserve(w, n + (size_t)nd) != SY_OK)
			return SY_ERR_NOMEM;
		for (utf8proc_ssize_t t = 0; t < nd; t++) {
			w->cp[n] = (uint32_t)d[t];
			w->ca[n] = src->o0[i];
			w->cb[n] = src->o1[i];
			n++;
		}
		i += k;
	}
	*n_out = n;
	return SY_OK;
}

static enum sy_status encode_cps(struct tok_nstr *dst, const struct tok_work *w, size_t n)
{
	dst->len = 0;
	if (nstr_reserve(dst, n * 4) != SY_OK)
		return SY_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		nstr_put_cp(dst, w->cp[i], w->ca[i], w->cb[i]);
	return SY_OK;
}

/* Composes buf[0, n) in place (canonical composition of an ordered, decomposed sequence). */
static size_t compose_buf(utf8proc_int32_t *buf, size_t n)
{
	utf8proc_ssize_t m = utf8proc_normalize_utf32(buf, (utf8proc_ssize_t)n, UTF8PROC_COMPOSE);
	return m < 0 ? n : (size_t)m;
}

static enum sy_status compose_to(struct tok_nstr *dst, struct tok_work *w, size_t n)
{
	dst->len = 0;
	if (nstr_reserve(dst, n * 4) != SY_OK)
		return SY_ERR_NOMEM;
	utf8proc_int32_t stack[64], *tmp = stack;
	size_t tmp_cap = 64;
	enum sy_status st = SY_OK;
	size_t g = 0;
	while (g < n) {
		size_t j = g + 1;
		while (j < n && uc_ccc(w->cp[j]) != 0)
			j++;
		for (;;) {
			/* A following starter joins the group only if it composes with the group's
			 * composed last character (ASCII never does). */
			if (j >= n || w->cp[j] < 0x80)
				break;
			if (j - g + 1 > tmp_cap) {
				size_t cap = (j - g + 1) * 2;
				utf8proc_int32_t *t = tmp == stack ? malloc(cap * sizeof *t)
				                                   : realloc(tmp, cap * sizeof *t);
				if (!t) {
					st = SY_ERR_NOMEM;
					goto out;
				}
				tmp = t;
				tmp_cap = cap;
			}
			for (size_t k = g; k < j; k++)
				tmp[k - g] = (utf8proc_int32_t)w->cp[k];
			size_t m = compose_buf(tmp, j - g);
			utf8proc_int32_t pair[2] = {tmp[m - 1], (utf8proc_int32_t)w->cp[j]};
			if (compose_buf(pair, 2) != 1)
				break;
			j++;
			while (j < n && uc_ccc(w->cp[j]) != 0)
				j++;
		}
		if (j - g > tmp_cap) {
			size_t cap = (j - g) * 2;
			utf8proc_int32_t *t =
			    tmp == stack ? malloc(cap * sizeof *t) : realloc(tmp, cap * sizeof *t);
			if (!t) {
				st = SY_ERR_NOMEM;
				goto out;
			}
			tmp = t;
			tmp_cap = cap;
		}
		for (size_t k = g; k < j; k++)
			tmp[k - g] = (utf8proc_int32_t)w->cp[k];
		size_t m = j - g == 1 ? 1 : compose_buf(tmp, j - g);
		if (m == j - g) {
			for (size_t k = g; k < j; k++)
				nstr_put_cp(dst, w->cp[k], w->ca[k], w->cb[k]);
		} else {
			/* The composed character keeps the range of the character it was built on
			 * (the group's first); marks left over keep their own, found in order. */
			size_t q = g + 1;
			nstr_put_cp(dst, (uint32_t)tmp[0], w->ca[g], w->cb[g]);
			for (size_t k = 1; k < m; k++) {
				size_t r = q;
				while (r < j && w->cp[r] != (uint32_t)tmp[k])
					r++;
				if (r < j) {
					nstr_put_cp(dst, (uint32_t)tmp[k], w->ca[r], w->cb[r]);
					q = r + 1;
				} else {
					nstr_put_cp(dst, (uint32_t)tmp[k], w->ca[g], w->cb[g]);
				}
			}
		}
		g = j;
	}
out:
	if (tmp != stack)
		free(tmp);
	return st;
}

/* Re-sorts combining marks of an nstr whose characters may be out of canonical order. */
static enum sy_status reorder_nstr(struct tok_nstr *io, struct tok_nstr *tmp, struct tok_work *w)
{
	size_t n;
	if (decode_to_cps(io, 0, w, &n) != SY_OK)
		return SY_ERR_NOMEM;
	canonical_order(w->cp, n);
	if (encode_cps(tmp, w, n) != SY_OK)
		return SY_ERR_NOMEM;
	nstr_swap(io, tmp);
	return SY_OK;
}

/* ---- Leaf normalizers: src -> dst ---- */

static enum sy_status run_bert(const struct tok_normalizer *nz, const struct tok_nstr *src,
                               struct tok_nstr *dst, bool *reorder)
{
	dst->len = 0;
	if (nstr_reserve(dst, src->len + 16) != SY_OK)
		return SY_ERR_NOMEM;
	for (size_t i = 0; i < src->len;) {
		unsigned char c = (unsigned char)src->s[i];
		uint32_t a = src->o0[i], b = src->o1[i];
		if (c < 0x80) {
			i++;
			if (nz->clean_text) {
				if (c == 0 || uc_is_bert_control(c))
					continue;
				if (uc_is_whitespace(c))
					c = ' ';
			}
			if (nz->lowercase && c >= 'A' && c <= 'Z')
				c += 32;
			if (dst->len + 1 > dst->cap && nstr_reserve(dst, 1) != SY_OK)
				return SY_ERR_NOMEM;
			dst->s[dst->len] = (char)c;
			dst->o0[dst->len] = a;
			dst->o1[dst->len] = b;
			dst->len++;
			continue;
		}
		uint32_t k, cp = utf8_decode(src->s + i, &k);
		i += k;
		if (nz->clean_text) {
			if (cp == UC_REPLACEMENT || uc_is_bert_control(cp))
				continue;
			if (uc_is_whitespace(cp))
				cp = ' ';
		}
		bool cjk = nz->handle_chinese_chars && uc_is_chinese(cp);
		if (dst->len + 4 * (DECOMP_MAX * 2 + 2) > dst->cap &&
		    nstr_reserve(dst, 4 * (DECOMP_MAX * 2 + 2)) != SY_OK)
			return SY_ERR_NOMEM;
		if (cjk)
			nstr_put_cp(dst, ' ', a, b);
		utf8proc_int32_t d[DECOMP_MAX];
		utf8proc_ssize_t nd = 1;
		d[0] = (utf8proc_int32_t)cp;
		if (nz->strip_accents && cp >= 0xC0) {
			int bc = 0;
			nd = utf8proc_decompose_char((utf8proc_int32_t)cp, d, DECOMP_MAX,
			                             UTF8PROC_DECOMPOSE, &bc);
			if (nd < 1 || nd > DECOMP_MAX) {
				d[0] = (utf8proc_int32_t)cp;
				nd = 1;
			}
		}
		for (utf8proc_ssize_t t = 0; t < nd; t++) {
			uint32_t x = (uint32_t)d[t];
			if (nz->strip_accents && uc_is_mark_nonspacing(x))
				continue;
			if (x >= 0x300 && uc_ccc(x) != 0)
				*reorder = true;
			if (nz->lowercase) {
				uint32_t lo[2];
				int nl = uc_to_lower(x, lo);
				for (int q = 0; q < nl; q++)
					nstr_put_cp(dst, lo[q], a, b);
			} else {
				nstr_put_cp(dst, x, a, b);
			}
		}
		if (cjk)
			nstr_put_cp(dst, ' ', a, b);
	}
	return SY_OK;
}

static enum sy_status run_lowercase(const struct tok_nstr *src, struct tok_nstr *dst)
{
	dst->len = 0;
	if (nstr_reserve(dst, src->len + src->len / 2 + 4) != SY_OK)
		return SY_ERR_NOMEM;
	for (size_t i = 0; i < src->len;) {
		uint32_t k, cp = utf8_decode(src->s + i, &k), lo[2];
		int nl = uc_to_lower(cp, lo);
		if (dst->len + 8 > dst->cap && nstr_reserve(dst, 8) != SY_OK)
			return SY_ERR_NOMEM;
		for (int q = 0; q < nl; q++)
			nstr_put_cp(dst, lo[q], src->o0[i], src->o1[i]);
		i += k;
	}
	return SY_OK;
}

static enum sy_status run_strip_accents(const struct tok_nstr *src, struct tok_nstr *dst)
{
	dst->len = 0;
	if (nstr_reserve(dst, src->len) != SY_OK)
		return SY_ERR_NOMEM;
	for (size_t i = 0; i < src->len;) {
		uint32_t k, cp = utf8_decode(src->s + i, &k);
		if (!uc_is_mark(cp)) {
			memcpy(dst->s + dst->len, src->s + i, k);
			for (uint32_t q = 0; q < k; q++) {
				dst->o0[dst->len + q] = src->o0[i];
				dst->o1[dst->len + q] = src->o1[i];
			}
			dst->len += k;
		}
		i += k;
	}
	return SY_OK;
}

static enum sy_status run_strip(const struct tok_normalizer *nz, const struct tok_nstr *src,
                                struct tok_nstr *dst)
{
	size_t s = 0, e = src->len;
	if (nz->strip_left) {
		while (s < e) {
			uint32_t k, cp = utf8_decode(src->s + s, &k);
			if (!uc_is_whitespace(cp))
				break;
			s += k;
		}
	}
	if (nz->strip_right) {
		while (e > s) {
			size_t p = e - 1;
			while (p > s && ((unsigned char)src->s[p] & 0xC0) == 0x80)
				p--;
			uint32_t k, cp = utf8_decode(src->s + p, &k);
			if (!uc_is_whitespace(cp))
				break;
			e = p;
		}
	}
	dst->len = 0;
	return nstr_append_range(dst, src, s, e - s);
}

struct replace_ctx {
	const struct tok_normalizer *nz;
	const struct tok_nstr *src;
	struct tok_nstr *dst;
};

static enum sy_status replace_cb(void *ctx, uint32_t start, uint32_t end, bool is_match)
{
	struct replace_ctx *rc = ctx;
	const struct tok_nstr *src = rc->src;
	if (!is_match)
		return nstr_append_range(rc->dst, src, start, end - start);
	/* The replacement takes the range of the byte just before the match end (HF's rule). */
	uint32_t a, b;
	if (end > 0) {
		a = src->o0[end - 1];
		b = src->o1[end - 1];
	} else {
		a = b = src->len ? src->o0[0] : 0;
	}
	return nstr_push_str(rc->dst, rc->nz->content, strlen(rc->nz->content), a, b);
}

static enum sy_status run_replace(const struct tok_normalizer *nz, const struct tok_nstr *src,
                                  struct tok_nstr *dst, struct tok_work *w, struct sy_error *err)
{
	dst->len = 0;
	struct replace_ctx rc = {nz, src, dst};
	enum sy_status st =
	    pattern_find(&nz->pattern, src->s, src->len, w->md, replace_cb, &rc, err);
	if (st == SY_ERR_NOMEM)
		return sy_error_set(err, st, "out of memory");
	return st;
}

static enum sy_status run_prepend(const struct tok_normalizer *nz, const struct tok_nstr *src,
                                  struct tok_nstr *dst)
{
	dst->len = 0;
	if (src->len == 0)
		return SY_OK;
	if (nstr_push_str(dst, nz->content, strlen(nz->content), src->o0[0], src->o1[0]) != SY_OK)
		return SY_ERR_NOMEM;
	return nstr_append_range(dst, src, 0, src->len);
}

static enum sy_status run_byte_level(const struct tok_nstr *src, struct tok_nstr *dst)
{
	dst->len = 0;
	if (nstr_reserve(dst, src->len * 2) != SY_OK)
		return SY_ERR_NOMEM;
	for (size_t i = 0; i < src->len; i++)
		nstr_put_cp(dst, uc_byte_level_char((unsigned char)src->s[i]), src->o0[i],
		            src->o1[i]);
	return SY_OK;
}

/* Nmt (SentencePiece's nmt rules): drops ASCII control characters and turns a few others into
 * spaces, as normalizers::unicode::Nmt does. */
static enum sy_status run_nmt(const struct tok_nstr *src, struct tok_nstr *dst)
{
	dst->len = 0;
	if (nstr_reserve(dst, src->len) != SY_OK)
		return SY_ERR_NOMEM;
	for (size_t i = 0; i < src->len;) {
		uint32_t k, c = utf8_decode(src->s + i, &k);
		bool drop = (c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) ||
		            c == 0x7F || c == 0x8F || c == 0x9F;
		bool space = c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 ||
		             (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 ||
		             c == 0x2581 || c == 0xFEFF || c == 0xFFFD;
		if (space)
			nstr_put_cp(dst, ' ', src->o0[i], src->o1[i]);
		else if (!drop)
			nstr_append_range(dst, src, i, k);
		i += k;
	}
	return SY_OK;
}

/* The replacement of the shortest key of the trie that is a prefix of s[0, len) (a NUL byte
 * ends the key), as spm_precompiled's transform returns it; NULL when none. Every index is
 * checked, since the trie comes from the file. */
static const char *precompiled_lookup(const struct tok_normalizer *nz, const char *s, size_t len,
                                      size_t *out_len)
{
	if (!nz->n_trie)
		return NULL;
	const uint32_t *a = nz->trie;
	size_t pos = 0;
#define UNIT_OFFSET(u) (((size_t)(u) >> 10) << (((u) & (1u << 9)) >> 6))
	pos ^= UNIT_OFFSET(a[0]);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			break;
		pos ^= c;
		if (pos >= nz->n_trie)
			return NULL;
		uint32_t u = a[pos];
		if ((u & ((1u << 31) | 0xFFu)) != c)
			return NULL;
		pos ^= UNIT_OFFSET(u);
		if ((u >> 8) & 1) {
			if (pos >= nz->n_trie)
				return NULL;
			size_t at = a[pos] & ((1u << 31) - 1);
			if (at > nz->repl_len)
				return NULL;
			const char *r = nz->repl + at;
			size_t rl = strlen(r);
			/* A value pointing inside a character would not be a string. */
			if ((at < nz->repl_len && (*r & 0xC0) == 0x80) || !tokcfg_utf8_valid(r, rl))
				return NULL;
			*out_len = rl;
			return r;
		}
	}
#undef UNIT_OFFSET
	return NULL;
}

/* Emits replacement r for the characters of src[s, e): the i-th new character takes the range of
 * the i-th old one (the last old one for any extra), as Hugging Face's Precompiled does. */
static void precompiled_emit(const struct tok_nstr *src, size_t s, size_t e, const char *r,
                             size_t rl, struct tok_nstr *dst)
{
	size_t old = s;
	for (size_t i = 0; i < rl;) {
		uint32_t k, c = utf8_decode(r + i, &k);
		nstr_put_cp(dst, c, src->o0[old], src->o1[old]);
		i += k;
		size_t next = old + utf8_lead_len((unsigned char)src->s[old]);
		if (next < e)
			old = next;
	}
}

/* Precompiled: each extended grapheme cluster shorter than 6 bytes is looked up whole; if it has
 * no entry, each of its characters is looked up alone. */
static enum sy_status run_precompiled(const struct tok_normalizer *nz, const struct tok_nstr *src,
                                      struct tok_nstr *dst)
{
	dst->len = 0;
	utf8proc_int32_t state = 0;
	for (size_t gs = 0; gs < src->len;) {
		uint32_t k, c = utf8_decode(src->s + gs, &k);
		size_t ge = gs + k;
		while (ge < src->len) {
			uint32_t k2, c2 = utf8_decode(src->s + ge, &k2);
			if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)c,
			                                     (utf8proc_int32_t)c2, &state))
				break;
			c = c2;
			ge += k2;
		}
		state = 0;
		const char *r;
		size_t rl;
		if (ge - gs < 6 && (r = precompiled_lookup(nz, src->s + gs, ge - gs, &rl))) {
			if (nstr_reserve(dst, rl) != SY_OK)
				return SY_ERR_NOMEM;
			precompiled_emit(src, gs, ge, r, rl, dst);
		} else {
			for (size_t i = gs; i < ge;) {
				uint32_t n = utf8_lead_len((unsigned char)src->s[i]);
				if ((r = precompiled_lookup(nz, src->s + i, n, &rl))) {
					if (nstr_reserve(dst, rl) != SY_OK)
						return SY_ERR_NOMEM;
					precompiled_emit(src, i, i + n, r, rl, dst);
				} else if (nstr_append_range(dst, src, i, n) != SY_OK) {
					return SY_ERR_NOMEM;
				}
				i += n;
			}
		}
		gs = ge;
	}
	return SY_OK;
}

enum sy_status normalizer_run(const struct tok_normalizer *nz, struct tok_work *w,
                              struct sy_error *err)
{
	struct tok_nstr *io = &w->n1, *tmp = &w->n2;
	enum sy_status st = SY_OK;
	bool reorder = false;
	size_t n;
	switch (nz->kind) {
	case TOK_NORM_SEQUENCE:
		for (int i = 0; i < nz->n_seq; i++)
			if ((st = normalizer_run(nz->seq[i], w, err)) != SY_OK)
				return st;
		return SY_OK;
	case TOK_NORM_BERT:
		st = run_bert(nz, io, tmp, &reorder);
		if (st == SY_OK) {
			nstr_swap(io, tmp);
			if (reorder)
				st = reorder_nstr(io, tmp, w);
		}
		break;
	case TOK_NORM_NFD:
	case TOK_NORM_NFKD:
	case TOK_NORM_NFC:
	case TOK_NORM_NFKC: {
		bool compat = nz->kind == TOK_NORM_NFKD || nz->kind == TOK_NORM_NFKC;
		bool compose = nz->kind == TOK_NORM_NFC || nz->kind == TOK_NORM_NFKC;
		/* Pure ASCII is invariant under every normalization form. */
		size_t i = 0;
		while (i < io->len && (unsigned char)io->s[i] < 0x80)
			i++;
		if (i == io->len)
			return SY_OK;
		utf8proc_option_t opts = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
		st = decode_to_cps(io, opts, w, &n);
		if (st != SY_OK)
			break;
		canonical_order(w->cp, n);
		st = compose ? compose_to(tmp, w, n) : encode_cps(tmp, w, n);
		if (st == SY_OK)
			nstr_swap(io, tmp);
		break;
	}
	case TOK_NORM_LOWERCASE:
		if ((st = run_lowercase(io, tmp)) == SY_OK)
			nstr_swap(io, tmp);
		break;
	case TOK_NORM_STRIP_ACCENTS:
		if ((st = run_strip_accents(io, tmp)) == SY_OK)
			nstr_swap(io, tmp);
		break;
	case TOK_NORM_STRIP:
		if ((st = run_strip(nz, io, tmp)) == SY_OK)
			nstr_swap(io, tmp);
		break;
	case TOK_NORM_REPLACE:
		if ((st = run_replace(nz, io, tmp, w, err)) == SY_OK)
			nstr_swap(io, tmp);
		return st;
	case TOK_NORM_PREPEND:
		if ((st = run_prepend(nz, io, tmp)) == SY_OK)
			nstr_swap(io, tmp);
		break;
	case TOK_NORM_BYTE_LEVEL:
		if ((st = run_byte_level(io, tmp)) == SY_OK)
			nstr_swap(io, tmp);
		break;
	case TOK_NORM_PRECOMPILED:
		if ((st = run_precompiled(nz, io, tmp)) == SY_OK)
			nstr_swap(io, tmp);
		break;
	case TOK_NORM_NMT:
		if ((st = run_nmt(io, tmp)) == SY_OK)
			nstr_swap(io, tmp);
		break;
	}
	if (st != SY_OK)
		return sy_error_set(err, st, "out of memory");
	return SY_OK;
}
