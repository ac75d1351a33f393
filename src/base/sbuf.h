/* A growable byte buffer for building response bodies.
 *
 * Appends never fail loudly: an allocation failure sets `oom` and later appends do nothing, so a
 * handler can write a whole response and check once at the end (the server then answers 500). */
#ifndef SY_BASE_SBUF_H
#define SY_BASE_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
	char *data; /* NUL-terminated when len > 0 (the NUL is not counted) */
	size_t len; /* bytes written */
	size_t cap; /* bytes allocated */
	bool oom; /* an allocation failed; the contents are incomplete */
};

/* Makes room for at least n more bytes (plus the terminating NUL). Returns false on failure. */
bool sbuf_reserve(struct sbuf *b, size_t n);
void sbuf_put(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the malloc'd contents to the caller (who frees them) and resets the buffer. */
char *sbuf_take(struct sbuf *b, size_t *len);
void sbuf_free(struct sbuf *b);

#endif
