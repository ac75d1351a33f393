/* Writing JSON straight into an sbuf (no intermediate tree), shared by the HTTP server, the
 * routing layer and the cluster wire format; and UTF-8 validation. */
#ifndef SY_BASE_JSON_WRITE_H
#define SY_BASE_JSON_WRITE_H

#include <stddef.h>

#include "base/sbuf.h"

/* A JSON string literal of s (len bytes, or strlen(s) when len < 0), quotes included. Invalid
 * UTF-8 is written as U+FFFD so the output is always valid JSON. */
void json_write_str(struct sbuf *b, const char *s, long len);
/* A float with 9 significant digits (round-trips float32, the same text as `switchyard encode`);
 * NaN and infinities, which JSON cannot carry, are written as null. */
void json_write_float(struct sbuf *b, float v);
/* [v0,v1,...] */
void json_write_floats(struct sbuf *b, const float *v, int n);
/* Standard base64 (RFC 4648, with padding) of n bytes, without quotes. */
void json_write_base64(struct sbuf *b, const void *data, size_t n);

/* Counts the code points of s[0..len); returns -1 on invalid UTF-8 (overlong forms, surrogates,
 * values past U+10FFFF, truncated sequences) and sets *bad_offset to the first bad byte. */
long json_utf8_count(const char *s, size_t len, size_t *bad_offset);

#endif
