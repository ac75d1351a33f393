/* OpenAI-compatible upstream calls (remote LLM providers) over libcurl's multi interface.
 *
 * One client runs one thread that drives every transfer with curl_multi_poll, so no server
 * thread ever sits inside libcurl: a caller starts a call (non-blocking), then waits on it, reads
 * its stream as it arrives, or cancels it (racing). Each call has a total timeout and a
 * time-to-first-byte timeout (the first byte of the body: for a streamed chat completion, the
 * first token's event). */
#ifndef SY_UPSTREAM_UPSTREAM_H
#define SY_UPSTREAM_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

struct upstream_client;
struct upstream_call;

enum sy_status upstream_client_create(struct sy_error *err, struct upstream_client **out);
/* Cancels what is running and joins the thread. */
void upstream_client_destroy(struct upstream_client *c);

struct upstream_request {
	const char *url; /* full URL, e.g. http://host/v1/chat/completions */
	const char *api_key; /* Bearer token, or NULL */
	const char *headers[2]; /* more header lines ("x-api-key: ..."), NULL or "" when unused */
	const char *body; /* JSON */
	size_t body_len;
	int timeout_ms; /* whole call; 0: 60000 */
	int ttfb_timeout_ms; /* until the first body byte; 0: none beyond timeout_ms */
	size_t max_response_bytes; /* the body is cut off (the call FAILS) past this; 0: 8 MiB.
				      An upstream cannot grow the server's memory without end. */
	size_t stream_window; /* > 0: the transfer pauses while more than this many bytes have
				 arrived that the reader (upstream_call_wait_data's have) has not
				 taken, so a client that stops reading slows the upstream down */
};

/* Starts a call; returns at once. The request's strings are copied. */
enum sy_status upstream_call_start(struct upstream_client *c, const struct upstream_request *r,
                                   struct sy_error *err, struct upstream_call **out);

enum upstream_state {
	UPSTREAM_RUNNING,
	UPSTREAM_DONE, /* the transfer finished (any HTTP status) */
	UPSTREAM_FAILED, /* connection error, timeout, cancelled */
};

/* Waits until the call is no longer RUNNING or timeout_ms passes (-1: no limit); returns the
 * state then. */
enum upstream_state upstream_call_wait(struct upstream_call *call, int timeout_ms);
/* Waits until more body than *have bytes arrived, or the call ended, or timeout_ms passed;
 * returns the body so far (valid until the next call on this handle) in *data / *len. */
enum upstream_state upstream_call_wait_data(struct upstream_call *call, size_t have, int timeout_ms,
                                            const char **data, size_t *len);

struct upstream_result {
	int http_status; /* 0 when no answer */
	const char *body; /* owned by the call */
	size_t body_len;
	int retry_after_s; /* from a Retry-After header in seconds, else -1 */
	char error[256]; /* for FAILED: why (timeout, connection refused, cancelled, ...) */
	double ttfb_ms, total_ms;
};
/* The result of a finished call (state DONE or FAILED). */
void upstream_call_result(struct upstream_call *call, struct upstream_result *out);
/* Stops the transfer (it ends FAILED with "cancelled"); safe on a finished call. */
void upstream_call_cancel(struct upstream_call *call);
/* Cancels if needed and frees. */
void upstream_call_free(struct upstream_call *call);

/* Calls started and cancelled since the client was created (for tests and metrics). */
long upstream_client_started(const struct upstream_client *c);
long upstream_client_cancelled(const struct upstream_client *c);

#endif
