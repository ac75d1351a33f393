/* Status names and error-message formatting. */
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sy_status_str(enum sy_status s)
{
	switch (s) {
	case SY_OK: return "ok";
	case SY_ERR_INVALID_ARG: return "invalid argument";
	case SY_ERR_IO: return "i/o error";
	case SY_ERR_FORMAT: return "format error";
	case SY_ERR_UNSUPPORTED: return "unsupported";
	case SY_ERR_NOT_FOUND: return "not found";
	case SY_ERR_NOMEM: return "out of memory";
	case SY_ERR_LIMIT: return "limit exceeded";
	case SY_ERR_INTERNAL: return "internal error";
	case SY_ERR_BUSY: return "busy";
	case SY_ERR_UNAVAILABLE: return "unavailable";
	case SY_ERR_LOAD_FAILED: return "load failed";
	case SY_ERR_NO_WORKERS: return "no workers";
	case SY_ERR_TIMEOUT: return "timeout";
	case SY_ERR_DEAD_LETTER: return "dead letter";
	}
	return "unknown status";
}

enum sy_status sy_error_set(struct sy_error *err, enum sy_status status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->status = status;
		err->hint = 0;
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return status;
}

void sy_error_prefix(struct sy_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	char old[SY_ERROR_MSG_LEN];
	memcpy(old, err->msg, sizeof old);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= sizeof err->msg)
		return;
	size_t used = (size_t)n;
	err->msg[used++] = ':';
	err->msg[used++] = ' ';
	size_t room = sizeof err->msg - used - 1, len = strnlen(old, sizeof old);
	if (len > room)
		len = room;
	memcpy(err->msg + used, old, len);
	err->msg[used + len] = '\0';
}
