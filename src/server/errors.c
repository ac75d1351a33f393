/* Engine status -> HTTP error mapping and the JSON error body (see errors.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server/errors.h"
#include "server/json_codec.h"

enum sy_status api_error_set(struct api_error *e, int http_status, const char *code,
                             const char *fmt, ...)
{
	e->http_status = http_status;
	e->code = code;
	e->retry_after_s = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return SY_ERR_INVALID_ARG;
}

void api_error_from_engine(struct api_error *e, const struct sy_error *err, bool draining)
{
	const char *msg = err->msg[0] ? err->msg : sy_status_str(err->status);
	switch (err->status) {
	case SY_ERR_NOT_FOUND: api_error_set(e, 404, "MODEL_NOT_FOUND", "%s", msg); break;
	case SY_ERR_UNAVAILABLE:
		if (draining) {
			api_error_set(e, 503, "SHUTTING_DOWN", "%s", msg);
		} else {
			api_error_set(e, 503, "MODEL_LOADING", "%s", msg);
			e->retry_after_s = 1;
		}
		break;
	case SY_ERR_LOAD_FAILED: api_error_set(e, 502, "MODEL_LOAD_FAILED", "%s", msg); break;
	case SY_ERR_BUSY:
		api_error_set(e, 503, "QUEUE_FULL", "%s", msg);
		e->retry_after_s = 1;
		break;
	case SY_ERR_INVALID_ARG:
	case SY_ERR_FORMAT:
	case SY_ERR_UNSUPPORTED: api_error_set(e, 400, "INVALID_INPUT", "%s", msg); break;
	case SY_ERR_LIMIT:
		/* The engine's limit is per item (a text longer than the model takes with
		 * truncate:false), the same class as our characters-per-item limit: 422. A limit on
		 * the request as a whole (the cluster's NATS max_payload) is 413. */
		api_error_set(e, err->hint == SY_HINT_WHOLE_REQUEST ? 413 : 422, "INVALID_INPUT",
		              "%s", msg);
		break;
	case SY_ERR_NO_WORKERS:
		api_error_set(e, 503, "NO_WORKERS", "%s", msg);
		e->retry_after_s = 2;
		break;
	case SY_ERR_TIMEOUT: api_error_set(e, 504, "TIMEOUT", "%s", msg); break;
	case SY_ERR_DEAD_LETTER: api_error_set(e, 502, "DEAD_LETTER", "%s", msg); break;
	default: api_error_set(e, 500, "INTERNAL_ERROR", "%s", msg); break;
	}
}

void api_error_write_json(const struct api_error *e, struct sbuf *out)
{
	sbuf_puts(out, "{\"error\":{\"code\":");
	json_write_str(out, e->code, -1);
	sbuf_puts(out, ",\"message\":");
	json_write_str(out, e->message, -1);
	sbuf_puts(out, "}}");
}

void tei_error_write_json(const struct api_error *e, struct sbuf *out)
{
	static const struct {
		const char *code, *type;
	} types[] = {
	    {"TEI_VALIDATION", "Validation"}, {"TEI_EMPTY", "Empty"},
	    {"TEI_TOKENIZER", "Tokenizer"},   {"TEI_BACKEND", "Backend"},
	    {"TEI_OVERLOADED", "Overloaded"}, {"TEI_UNHEALTHY", "Unhealthy"},
	};
	const char *type = NULL;
	for (size_t i = 0; i < sizeof types / sizeof types[0] && !type; i++)
		if (e->code && !strcmp(e->code, types[i].code))
			type = types[i].type;
	if (!type)
		type = e->http_status == 429                            ? "Overloaded"
		       : e->http_status == 503                          ? "Unhealthy"
		       : e->http_status == 424 || e->http_status >= 500 ? "Backend"
		                                                        : "Validation";
	sbuf_puts(out, "{\"error\":");
	json_write_str(out, e->message, -1);
	sbuf_puts(out, ",\"error_type\":");
	json_write_str(out, type, -1);
	sbuf_putc(out, '}');
}

static bool path_end(char c)
{
	return !c || c == ' ' || c == '\t' || c == ':' || c == ',' || c == ')' || c == '"' ||
	       c == '\'' || c == ';';
}

void text_redact_paths(char *s, size_t cap)
{
	char out[SY_ERROR_MSG_LEN * 2];
	size_t w = 0;
	const size_t lim = cap < sizeof out ? cap : sizeof out;
	for (const char *r = s; *r && w + 1 < lim;) {
		const bool starts = *r == '/' && (r == s || r[-1] == ' ' || r[-1] == '(' ||
		                                  r[-1] == '"' || r[-1] == '\'' || r[-1] == '=');
		if (starts && strncmp(r, "/v1/", 4) != 0 && strncmp(r, "/v2/", 4) != 0) {
			const char *e = r + 1;
			int slashes = 1;
			while (!path_end(*e))
				slashes += *e++ == '/';
			if (slashes > 1) {
				w += (size_t)snprintf(out + w, lim - w, "<path>");
				if (w >= lim)
					w = lim - 1;
				r = e;
				continue;
			}
		}
		out[w++] = *r++;
	}
	out[w] = '\0';
	memcpy(s, out, w + 1);
}
