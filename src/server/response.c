/* Building a route's answer: headers, error answers, timing (see server_internal.h). */
#include <stdarg.h>
#include <stdio.h>

#include "base/clock.h"
#include "server/server_internal.h"

void response_header_add(struct response *rs, const char *name, const char *fmt, ...)
{
	if (rs->n_headers >= RESPONSE_MAX_HEADERS)
		return;
	rs->headers[rs->n_headers].name = name;
	va_list ap;
	va_start(ap, fmt);
	char *v = rs->headers[rs->n_headers].value;
	vsnprintf(v, sizeof rs->headers[0].value, fmt, ap);
	va_end(ap);
	/* Values may quote what a client or a model wrote (a steered classifier label in the
	 * routing reason): a CR or LF would split the header. */
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			*v = ' ';
	rs->n_headers++;
}

void response_error(struct response *rs, const struct api_error *err)
{
	rs->error = *err;
	rs->has_error = true;
	rs->status = err->http_status;
}

void response_error_set(struct response *rs, int status, const char *code, const char *fmt, ...)
{
	rs->has_error = true;
	rs->status = status;
	rs->error.http_status = status;
	rs->error.code = code;
	rs->error.retry_after_s = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rs->error.message, sizeof rs->error.message, fmt, ap);
	va_end(ap);
}

double request_elapsed_ms(const struct request *rq)
{
	return (double)(sy_now_ns() - rq->t_start_ns) / 1e6;
}

void response_timing_headers(struct response *rs, double queue_ms, double inference_ms,
                             double total_ms)
{
	response_header_add(rs, "X-Queue-Time", "%.3f", queue_ms);
	response_header_add(rs, "X-Inference-Time", "%.3f", inference_ms);
	response_header_add(rs, "X-Total-Time", "%.3f", total_ms);
}

void response_sie_timing_headers(struct response *rs, double tokenization_ms,
                                 double postprocessing_ms)
{
	response_header_add(rs, "X-Tokenization-Time", "%.3f", tokenization_ms);
	if (postprocessing_ms > 0)
		response_header_add(rs, "X-Postprocessing-Time", "%.3f", postprocessing_ms);
}
