/* API errors: the HTTP status, the machine-readable code and the message of a failed request.
 *
 * The server layer reports errors as `struct api_error` rather than `struct sy_error` because an
 * HTTP answer needs more than a status class: two requests that both fail with "too big" may
 * answer 413 (the request) or 422 (one item), and busy answers carry a Retry-After. Codecs and
 * routes fill one of these; http.c turns it into {"error":{"code","message"}} (DESIGN.md
 * section 3). Codes used: INVALID_INPUT (400/413/422), MODEL_NOT_FOUND (404), MODEL_LOADING
 * (503), MODEL_LOAD_FAILED (502), QUEUE_FULL (503), UNAUTHORIZED (401), NOT_FOUND (404, unknown
 * route), METHOD_NOT_ALLOWED (405), SHUTTING_DOWN (503, draining), INTERNAL_ERROR (500; SIE's name). */
#ifndef SY_SERVER_ERRORS_H
#define SY_SERVER_ERRORS_H

#include <stddef.h>

#include "base/status.h"
#include "base/sbuf.h"

struct api_error {
	int http_status; /* 400, 404, ... */
	const char *code; /* static string: "INVALID_INPUT", ... */
	int retry_after_s; /* > 0: send a Retry-After header with this many seconds */
	char message[SY_ERROR_MSG_LEN];
};

/* Fills e and returns SY_ERR_INVALID_ARG (so a parser can `return api_error_set(...)`). */
enum sy_status api_error_set(struct api_error *e, int http_status, const char *code,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Maps an engine failure (see engine.h) to the API's status and code. `draining` turns
 * SY_ERR_UNAVAILABLE into SHUTTING_DOWN rather than MODEL_LOADING. */
void api_error_from_engine(struct api_error *e, const struct sy_error *err, bool draining);

/* Replaces the absolute file paths in s (a token starting with '/' that holds another '/', not
 * an API route such as /v1/...) with "<path>", in place: what a caller without the admin token
 * sees of load errors, so the server's layout does not leak. cap is s's size. */
void text_redact_paths(char *s, size_t cap);

/* Writes Text Embeddings Inference's error shape, {"error":"...","error_type":"..."}: the
 * TEI codes (TEI_VALIDATION, TEI_EMPTY, TEI_TOKENIZER, TEI_BACKEND, TEI_OVERLOADED,
 * TEI_UNHEALTHY) name their type; the others are typed by status (429 Overloaded, 503
 * Unhealthy, 5xx and 424 Backend, other 4xx Validation). */
void tei_error_write_json(const struct api_error *e, struct sbuf *out);

/* Writes {"error":{"code":...,"message":...}}. */
void api_error_write_json(const struct api_error *e, struct sbuf *out);

#endif
