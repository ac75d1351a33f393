/* Decoders of tokenizer.json (decoder.h). Each decoder rewrites the list of pieces in place,
 * as the Hugging Face library's decode_chain does, so a Sequence is the decoders one after
 * the other; the pieces are joined at the end. */
#include "text/decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_write.h"
#include "text/unicode.h"

enum dec_kind {
	DEC_UNKNOWN,
	DEC_WORDPIECE,
	DEC_BYTE_LEVEL,
	DEC_METASPACE,
	DEC_BPE,
	DEC_REPLACE,
	DEC_BYTE_FALLBACK,
	DEC_FUSE,
	DEC_STRIP,
	DEC_SEQUENCE,
};

struct tok_decoder {
	enum dec_kind kind;
	char type[32]; /* the "type" as written, for the error of an unknown one */
	char a[64]; /* WordPiece prefix, BPE suffix, Metaspace replacement, Replace pattern,
	               Strip content */
	char b[64]; /* Replace content */
	bool cleanup; /* WordPiece */
	bool strip_first; /* Metaspace: the first piece's leading replacement is dropped */
	int start, stop; /* Strip */
	struct tok_decoder **items; /* Sequence */
	int n_items;
};

static void copy_str(const cJSON *j, const char *name, const char *dflt, char *dst, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	const char *s = cJSON_IsString(v) ? v->valuestring : dflt;
	if (strlen(s) >= cap)
		s = dflt;
	memcpy(dst, s, strlen(s) + 1);
}

static bool get_bool(const cJSON *j, const char *name, bool dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static int get_int(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e6 ? v->valueint : 0;
}

struct tok_decoder *tok_decoder_from_json(const cJSON *j)
{
	if (!j || cJSON_IsNull(j))
		return NULL;
	struct tok_decoder *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
	if (!cJSON_IsObject(j) || !cJSON_IsString(t))
		return d; /* DEC_UNKNOWN */
	snprintf(d->type, sizeof d->type, "%s", t->valuestring);
	const char *type = t->valuestring;
	if (!strcmp(type, "WordPiece")) {
		d->kind = DEC_WORDPIECE;
		copy_str(j, "prefix", "##", d->a, sizeof d->a);
		d->cleanup = get_bool(j, "cleanup", true);
	} else if (!strcmp(type, "ByteLevel")) {
		d->kind = DEC_BYTE_LEVEL;
	} else if (!strcmp(type, "Metaspace")) {
		d->kind = DEC_METASPACE;
		copy_str(j, "replacement", "\xe2\x96\x81", d->a, sizeof d->a);
		const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "prepend_scheme");
		d->strip_first = cJSON_IsString(ps) ? strcmp(ps->valuestring, "never") != 0
		                                    : get_bool(j, "add_prefix_space", true);
	} else if (!strcmp(type, "BPEDecoder")) {
		d->kind = DEC_BPE;
		copy_str(j, "suffix", "</w>", d->a, sizeof d->a);
	} else if (!strcmp(type, "Replace")) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pattern");
		const cJSON *ps = p ? cJSON_GetObjectItemCaseSensitive(p, "String") : NULL;
		if (cJSON_IsString(ps) && ps->valuestring[0] &&
		    strlen(ps->valuestring) < sizeof d->a) {
			d->kind = DEC_REPLACE;
			copy_str(p, "String", "", d->a, sizeof d->a);
			copy_str(j, "content", "", d->b, sizeof d->b);
		}
	} else if (!strcmp(type, "ByteFallback")) {
		d->kind = DEC_BYTE_FALLBACK;
	} else if (!strcmp(type, "Fuse")) {
		d->kind = DEC_FUSE;
	} else if (!strcmp(type, "Strip")) {
		d->kind = DEC_STRIP;
		copy_str(j, "content", " ", d->a, sizeof d->a);
		d->start = get_int(j, "start");
		d->stop = get_int(j, "stop");
	} else if (!strcmp(type, "Sequence")) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "decoders");
		int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
		d->items = calloc((size_t)(n ? n : 1), sizeof *d->items);
		if (d->items) {
			d->kind = DEC_SEQUENCE;
			const cJSON *it;
			cJSON_ArrayForEach(it, arr) d->items[d->n_items++] =
			    tok_decoder_from_json(it);
		}
	}
	return d;
}

struct tok_decoder *tok_decoder_wordpiece(void)
{
	struct tok_decoder *d = calloc(1, sizeof *d);
	if (d) {
		d->kind = DEC_WORDPIECE;
		strcpy(d->type, "WordPiece");
		strcpy(d->a, "##");
		d->cleanup = true;
	}
	return d;
}

void tok_decoder_free(struct tok_decoder *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n_items; i++)
		tok_decoder_free(d->items[i]);
	free(d->items);
	free(d);
}

/* ---- decoding: a list of pieces rewritten in place ---- */

struct pieces {
	struct sbuf *v;
	int n;
};

static void piece_set(struct sbuf *p, const char *s, size_t len)
{
	struct sbuf nb = {0};
	sbuf_put(&nb, s, len);
	sbuf_free(p);
	*p = nb;
}

static const char *piece_str(const struct sbuf *p)
{
	return p->len ? p->data : "";
}

/* Replaces every `from` in p by `to`. */
static void piece_replace(struct sbuf *p, const char *from, const char *to)
{
	const size_t fl = strlen(from);
	if (!fl || !p->len || !strstr(p->data, from))
		return;
	struct sbuf nb = {0};
	const char *s = p->data, *hit;
	while ((hit = strstr(s, from))) {
		sbuf_put(&nb, s, (size_t)(hit - s));
		sbuf_puts(&nb, to);
		s = hit + fl;
	}
	sbuf_puts(&nb, s);
	sbuf_free(p);
	*p = nb;
}

/* Joins every piece into the first. */
static void pieces_fuse(struct pieces *ps)
{
	if (ps->n <= 1)
		return;
	for (int i = 1; i < ps->n; i++) {
		sbuf_put(&ps->v[0], piece_str(&ps->v[i]), ps->v[i].len);
		sbuf_free(&ps->v[i]);
	}
	ps->n = 1;
}

/* WordPiece's cleanup (tokenizers' decoders::wordpiece::cleanup): spaces before punctuation
 * and English contractions go. */
static void wordpiece_cleanup(struct sbuf *p)
{
	static const char *const from[] = {" .",  " ?",  " !",   " ,",   " ' ",    " n't",
	                                   " 'm", " 's", " 've", " 're", " do not"};
	static const char *const to[] = {".",  "?",  "!",   ",",   "'",     "n't",
	                                 "'m", "'s", "'ve", "'re", " don't"};
	for (size_t i = 0; i < sizeof from / sizeof from[0]; i++)
		piece_replace(p, from[i], to[i]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "<0xHH>" -> the byte, else -1. */
static int fallback_byte(const struct sbuf *p)
{
	const char *s = piece_str(p);
	if (p->len != 6 || strncmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	int h = hexval(s[3]), l = hexval(s[4]);
	return h < 0 || l < 0 ? -1 : h * 16 + l;
}

/* Appends s[0, len) with each invalid UTF-8 sequence replaced by U+FFFD. */
static void put_sanitized(struct sbuf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_sanitize_step(u + i, len - i, &cp);
		if (cp == 0xFFFD &&
		    !(k == 3 && u[i] == 0xEF && u[i + 1] == 0xBF && u[i + 2] == 0xBD))
			sbuf_puts(out, "\xef\xbf\xbd");
		else
			sbuf_put(out, s + i, k);
		i += k;
	}
}

static enum sy_status decode_chain(const struct tok_decoder *d, struct pieces *ps,
                                   struct sy_error *err)
{
	switch (d->kind) {
	case DEC_UNKNOWN:
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "the tokenizer's decoder \"%s\" is not supported",
		                    d->type[0] ? d->type : "?");
	case DEC_WORDPIECE:
		for (int i = 0; i < ps->n; i++) {
			struct sbuf *p = &ps->v[i];
			const size_t pl = strlen(d->a);
			if (i > 0) {
				if (p->len >= pl && !strncmp(piece_str(p), d->a, pl)) {
					piece_set(p, piece_str(p) + pl, p->len - pl);
				} else {
					struct sbuf nb = {0};
					sbuf_putc(&nb, ' ');
					sbuf_put(&nb, piece_str(p), p->len);
					sbuf_free(p);
					*p = nb;
				}
			}
			if (d->cleanup)
				wordpiece_cleanup(p);
		}
		return SY_OK;
	case DEC_BYTE_LEVEL: {
		pieces_fuse(ps);
		if (ps->n == 0)
			return SY_OK;
		struct sbuf raw = {0};
		const char *s = piece_str(&ps->v[0]);
		for (size_t i = 0; i < ps->v[0].len;) {
			uint32_t k, c = utf8_decode(s + i, &k);
			int b = -1;
			for (int x = 0; x < 256 && b < 0; x++)
				if (uc_byte_level_char((unsigned char)x) == c)
					b = x;
			if (b >= 0)
				sbuf_putc(&raw, (char)b);
			else
				sbuf_put(&raw, s + i, k);
			i += k;
		}
		sbuf_free(&ps->v[0]);
		ps->v[0] = raw;
		return SY_OK;
	}
	case DEC_METASPACE:
		for (int i = 0; i < ps->n; i++) {
			struct sbuf *p = &ps->v[i];
			const size_t rl = strlen(d->a);
			if (i == 0 && d->strip_first && p->len >= rl &&
			    !strncmp(piece_str(p), d->a, rl))
				piece_set(p, piece_str(p) + rl, p->len - rl);
			piece_replace(p, d->a, " ");
		}
		return SY_OK;
	case DEC_BPE:
		for (int i = 0; i < ps->n; i++)
			piece_replace(&ps->v[i], d->a, i == ps->n - 1 ? "" : " ");
		return SY_OK;
	case DEC_REPLACE:
		for (int i = 0; i < ps->n; i++)
			piece_replace(&ps->v[i], d->a, d->b);
		return SY_OK;
	case DEC_BYTE_FALLBACK: {
		int w = 0;
		for (int i = 0; i < ps->n;) {
			if (fallback_byte(&ps->v[i]) < 0) {
				ps->v[w++] = ps->v[i++];
				continue;
			}
			struct sbuf bytes = {0};
			int j = i;
			for (; j < ps->n && fallback_byte(&ps->v[j]) >= 0; j++) {
				sbuf_putc(&bytes, (char)fallback_byte(&ps->v[j]));
				sbuf_free(&ps->v[j]);
			}
			/* Valid UTF-8 stands; otherwise one U+FFFD per byte, as the library does. */
			size_t bad = 0;
			struct sbuf nb = {0};
			if (bytes.len && json_utf8_count(bytes.data, bytes.len, &bad) >= 0)
				sbuf_put(&nb, bytes.data, bytes.len);
			else
				for (size_t k = 0; k < bytes.len; k++)
					sbuf_puts(&nb, "\xef\xbf\xbd");
			sbuf_free(&bytes);
			ps->v[w++] = nb;
			i = j;
		}
		ps->n = w;
		return SY_OK;
	}
	case DEC_FUSE: pieces_fuse(ps); return SY_OK;
	case DEC_STRIP: {
		const size_t cl = strlen(d->a);
		for (int i = 0; i < ps->n && cl; i++) {
			struct sbuf *p = &ps->v[i];
			const char *s = piece_str(p);
			size_t b = 0, e = p->len;
			for (int k = 0; k < d->start && e - b >= cl && !strncmp(s + b, d->a, cl);
			     k++)
				b += cl;
			for (int k = 0;
			     k < d->stop && e - b >= cl && !strncmp(s + e - cl, d->a, cl); k++)
				e -= cl;
			piece_set(p, s + b, e - b);
		}
		return SY_OK;
	}
	case DEC_SEQUENCE:
		for (int i = 0; i < d->n_items; i++) {
			if (!d->items[i])
				return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			enum sy_status st = decode_chain(d->items[i], ps, err);
			if (st != SY_OK)
				return st;
		}
		return SY_OK;
	}
	return SY_OK;
}

enum sy_status tok_decoder_decode(const struct tok_decoder *d, const char *const *pieces, int n,
                                  struct sy_error *err, struct sbuf *out)
{
	struct pieces ps = {calloc((size_t)(n > 0 ? n : 1), sizeof *ps.v), n};
	if (!ps.v)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		sbuf_puts(&ps.v[i], pieces[i]);
	enum sy_status st = d ? decode_chain(d, &ps, err) : SY_OK;
	if (st == SY_OK) {
		struct sbuf joined = {0};
		for (int i = 0; i < ps.n; i++) {
			if (!d && i)
				sbuf_putc(&joined,
				          ' '); /* no decoder: the library joins with spaces */
			sbuf_put(&joined, piece_str(&ps.v[i]), ps.v[i].len);
		}
		put_sanitized(out, piece_str(&joined), joined.len);
		if (joined.oom)
			st = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		sbuf_free(&joined);
	}
	for (int i = 0; i < ps.n; i++)
		sbuf_free(&ps.v[i]);
	free(ps.v);
	return st;
}
