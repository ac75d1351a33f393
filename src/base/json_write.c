/* JSON writing and UTF-8 validation (see json_write.h). */
#include "base/json_write.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ---- */

/* Decodes one UTF-8 sequence at s[0..n); returns its length, or 0 when it is invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t cp, min;
	if ((c & 0xE0) == 0xC0) {
		len = 2, cp = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, cp = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

long json_utf8_count(const char *s, size_t len, size_t *bad_offset)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	size_t i = 0;
	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			n++;
			continue;
		}
		size_t l = utf8_seq_len(p + i, len - i);
		if (!l) {
			if (bad_offset)
				*bad_offset = i;
			return -1;
		}
		i += l;
		n++;
	}
	return n;
}

void json_write_str(struct sbuf *b, const char *s, long len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = len < 0 ? strlen(s) : (size_t)len;
	const unsigned char *p = (const unsigned char *)s;
	/* Worst case: every byte becomes \u00XX (6 bytes) or U+FFFD as \ufffd (6 bytes). */
	if (!sbuf_reserve(b, 6 * n + 2))
		return;
	char *o = b->data + b->len;
	*o++ = '"';
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = (char)c;
			i++;
		} else if (c < 0x80) {
			*o++ = '\\';
			switch (c) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '\n': *o++ = 'n'; break;
			case '\r': *o++ = 'r'; break;
			case '\t': *o++ = 't'; break;
			default:
				*o++ = 'u';
				*o++ = '0';
				*o++ = '0';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 15];
			}
			i++;
		} else {
			size_t l = utf8_seq_len(p + i, n - i);
			if (l) {
				memcpy(o, p + i, l);
				o += l;
				i += l;
			} else {
				memcpy(o, "\\ufffd", 6);
				o += 6;
				i++;
			}
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
}

/* N = v * 10^k rounded to an integer, ties to even, computed exactly: v = m * 2^e with m < 2^24,
 * so for 0 <= k <= 13 and -64 < e <= 40, m * 10^k * 2^e fits in 128 bits before the shift. */
static uint64_t scale_round(uint32_t m, int e, int k)
{
	static const uint64_t pow10[] = {1,
	                                 10,
	                                 100,
	                                 1000,
	                                 10000,
	                                 100000,
	                                 1000000,
	                                 10000000,
	                                 100000000,
	                                 1000000000,
	                                 10000000000ull,
	                                 100000000000ull,
	                                 1000000000000ull,
	                                 10000000000000ull};
	unsigned __int128 num = (unsigned __int128)m * pow10[k];
	if (e >= 0)
		return (uint64_t)(num << e);
	unsigned sh = (unsigned)-e;
	unsigned __int128 q = num >> sh, r = num - (q << sh),
	                  half = (unsigned __int128)1 << (sh - 1);
	if (r > half || (r == half && (q & 1)))
		q++;
	return (uint64_t)q;
}

/* Writes v as printf's "%.9g" would, for 1e-4 <= |v| < 1e9 (fixed notation), without printf:
 * the correctly rounded 9 significant digits from exact integer arithmetic, then trailing zeros
 * trimmed. Returns the length, or 0 when v is outside that range (the caller uses snprintf). A
 * response of 32 x 1024 floats spends most of its writing time here, and snprintf is ~5x slower. */
static int format_g9(float v, char *out)
{
	float a = fabsf(v);
	if (!(a >= 1e-4f && a < 1e9f))
		return 0;
	int e2;
	float fr = frexpf(a, &e2); /* a = fr * 2^e2, fr in [0.5, 1) */
	uint32_t m = (uint32_t)ldexpf(fr, 24);
	int e = e2 - 24; /* a = m * 2^e exactly */
	int d = (int)floor(log10((double)a));
	uint64_t n = 0;
	for (int tries = 0; tries < 3; tries++) {
		int k = 8 - d;
		if (k < 0 || k > 13)
			return 0;
		n = scale_round(m, e, k);
		if (n >= 1000000000ull)
			d++;
		else if (n < 100000000ull)
			d--;
		else
			break;
	}
	if (n < 100000000ull || n >= 1000000000ull || d < -4 || d > 8)
		return 0;
	char digits[9];
	for (int i = 8; i >= 0; i--) {
		digits[i] = (char)('0' + n % 10);
		n /= 10;
	}
	int nd = 9;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	char *o = out;
	if (signbit(v))
		*o++ = '-';
	if (d >= 0) {
		for (int i = 0; i <= d; i++)
			*o++ = digits[i];
		if (nd > d + 1) {
			*o++ = '.';
			for (int i = d + 1; i < nd; i++)
				*o++ = digits[i];
		}
	} else {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -d - 1; i++)
			*o++ = '0';
		for (int i = 0; i < nd; i++)
			*o++ = digits[i];
	}
	return (int)(o - out);
}

void json_write_float(struct sbuf *b, float v)
{
	if (!isfinite(v)) {
		sbuf_put(b, "null", 4);
		return;
	}
	if (!sbuf_reserve(b, 32))
		return;
	int n = format_g9(v, b->data + b->len);
	if (n == 0)
		n = snprintf(b->data + b->len, 32, "%.9g", (double)v);
	if (n > 0 && n < 32)
		b->len += (size_t)n;
	b->data[b->len] = '\0';
}

void json_write_floats(struct sbuf *b, const float *v, int n)
{
	/* "-1.23456789e-38," is at most 16 bytes; reserving once keeps the loop tight. */
	if (!sbuf_reserve(b, (size_t)n * 17 + 2))
		return;
	sbuf_putc(b, '[');
	for (int i = 0; i < n; i++) {
		if (i)
			sbuf_putc(b, ',');
		json_write_float(b, v[i]);
	}
	sbuf_putc(b, ']');
}

void json_write_base64(struct sbuf *b, const void *data, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	if (!sbuf_reserve(b, (n + 2) / 3 * 4))
		return;
	char *o = b->data + b->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = '=';
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
}
