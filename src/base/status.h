/* Status codes and error messages shared by every layer.
 *
 * Fallible functions return `enum sy_status` and, when they fail, fill a caller-owned
 * `struct sy_error` with a human-readable message. The error travels with the call (never a
 * global), so concurrent requests keep their own messages. Convention: the `struct sy_error *`
 * parameter comes just before the out-parameters; it may be NULL when the caller does not care. */
#ifndef SY_BASE_STATUS_H
#define SY_BASE_STATUS_H

#include <stddef.h>

enum sy_status {
	SY_OK = 0,
	SY_ERR_INVALID_ARG, /* a caller or client passed something unusable */
	SY_ERR_IO, /* open/read/mmap failed */
	SY_ERR_FORMAT, /* a file or message is malformed */
	SY_ERR_UNSUPPORTED, /* well-formed, but a feature we do not implement */
	SY_ERR_NOT_FOUND, /* a named thing (tensor, model, token) does not exist */
	SY_ERR_NOMEM, /* allocation failed */
	SY_ERR_LIMIT, /* a size or count limit was exceeded */
	SY_ERR_INTERNAL, /* a bug: an invariant did not hold */
	SY_ERR_BUSY, /* a queue is full; retry later */
	SY_ERR_UNAVAILABLE, /* not ready yet (a model loading, the server draining) */
	SY_ERR_LOAD_FAILED, /* a model failed to load */
	SY_ERR_NO_WORKERS, /* no worker serves the model's pool (cluster gateway) */
	SY_ERR_TIMEOUT, /* no answer in time (cluster gateway) */
	SY_ERR_DEAD_LETTER, /* a work unit failed every delivery and was set aside */
};

#define SY_ERROR_MSG_LEN 512

struct sy_error {
	enum sy_status status;
	char msg[SY_ERROR_MSG_LEN];
	/* A detail for the layers above, by status; 0 when none. SY_ERR_UNSUPPORTED for a task a
	 * model lacks: the tasks it does offer (the engine's task bits), so a caller can say where
	 * to go instead. SY_ERR_LIMIT: SY_HINT_WHOLE_REQUEST when the request as a whole is over a
	 * size limit (HTTP 413), not one of its items (422). */
	unsigned hint;
};

#define SY_HINT_WHOLE_REQUEST 1u

const char *sy_status_str(enum sy_status s);

/* Records status and message (printf-style) in err (if non-NULL), clears its hint, and returns
 * status, so a failing path can `return sy_error_set(err, SY_ERR_FORMAT, "...", ...);`. */
enum sy_status sy_error_set(struct sy_error *err, enum sy_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (for adding context such as a file name). */
void sy_error_prefix(struct sy_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
