/* What every chat stage writes into the outcome: the error answer, the reason, and the
 * candidates it names (chat_internal.h). Kept apart from chat.c, which runs the stages, so the
 * stages only call down. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "router/chat_internal.h"

void chat_error_set(struct chat_outcome *o, int status, const char *code, const char *fmt, ...)
{
	o->http_status = status;
	o->error_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->error_message, sizeof o->error_message, fmt, ap);
	va_end(ap);
}

void chat_reason_append(struct chat_outcome *o, const char *fmt, ...)
{
	const size_t l = strlen(o->reason);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->reason + l, sizeof o->reason - l, fmt, ap);
	va_end(ap);
}

const struct upstream_def *chat_candidate(const struct router *r, const struct route_def *rt, int i)
{
	return &r->upstreams[rt->candidates[i]];
}
