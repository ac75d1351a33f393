/* The routing layer's HTTP side: POST /v1/chat/completions (OpenAI shape, streamed or not, the
 * `model` naming a route or an upstream), POST /v1/admin/router/reload and GET /v1/routes
 * (src/router, docs/ROUTING.md). The task table's names are resolved in dispatch.c.
 *
 * The router in use is reference-counted: a reload builds the new one, swaps the pointer under
 * a mutex and drops the holder's reference to the old one, which is freed when the last request
 * using it (a stream may last minutes) lets go. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "server/json_codec.h"
#include "server/server_internal.h"

enum sy_status server_router_reload(struct server *s, struct sy_error *err)
{
	if (!s->routers)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "no config file: start with --config FILE to use routes");
	return router_reload(s->routers, err);
}

/* ---- chat ---- */

struct chat_stream {
	struct server *srv;
	struct router_ref *ref;
	struct router *r;
	struct chat_outcome out;
};

/* The router forwards the stream and tells a broken one apart from a finished one. */
static ssize_t chat_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct chat_stream *cs = cls;
	const size_t n = router_chat_stream_read(cs->r, &cs->out, buf, max);
	return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void chat_stream_free(void *cls)
{
	struct chat_stream *cs = cls;
	router_chat_finish(cs->r, &cs->out);
	router_release(cs->srv->routers, cs->ref);
	free(cs);
}

static void explain_headers(struct response *rs, const struct chat_outcome *o, bool with_cost)
{
	if (o->route[0])
		response_header_add(rs, "x-switchyard-route", "%s", o->route);
	if (o->model[0])
		response_header_add(rs, "x-switchyard-model", "%s", o->model);
	if (o->reason[0])
		response_header_add(rs, "x-switchyard-reason", "%.390s", o->reason);
	response_header_add(rs, "x-switchyard-attempts", "%d", o->attempts);
	if (o->split[0]) {
		response_header_add(rs, "x-switchyard-split", "%.250s", o->split);
		response_header_add(rs, "x-switchyard-arm", "%s", o->arm);
	}
	if (o->shadow[0])
		response_header_add(rs, "x-switchyard-shadow", "%s", o->shadow);
	if (o->judge[0])
		response_header_add(rs, "x-switchyard-judge", "%.250s", o->judge);
	if (with_cost)
		response_header_add(rs, "x-switchyard-cost-usd", "%.8f", o->cost_usd);
}

/* Who the request is for budgets, and whether it may claim the critical exemption. With a key
 * file, the matched token's line ("token#3"), whatever the header's spelling, and the token's
 * permission; without one, the bearer text with the spaces around it trimmed (so "Bearer  t"
 * is "t"), and the header alone decides, as there is no identity to grant permissions to. */
static void principal_of(struct request *rq, char *key, size_t cap, bool *may_be_critical)
{
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
	key[0] = '\0';
	if (rq->srv->auth) {
		struct auth_identity id = auth_identify(rq->srv->auth, h);
		if (id.index >= 0)
			snprintf(key, cap, "token#%d", id.index);
		*may_be_critical = id.critical;
		return;
	}
	*may_be_critical = true;
	size_t n;
	const char *t = auth_bearer(h, &n);
	if (t)
		snprintf(key, cap, "%.*s", (int)(n < cap ? n : cap - 1), t);
}

void route_chat(struct request *rq, struct response *rs)
{
	struct server *s = rq->srv;
	struct router_ref *ref;
	struct router *r = router_acquire(s->routers, &ref);
	if (!r) {
		response_error_set(
		    rs, 404, "MODEL_NOT_FOUND",
		    "no routes are configured: add upstreams: and routes: to the YAML "
		    "given with --config (docs/ROUTING.md)");
		return;
	}
	char key[160];
	bool may_be_critical;
	principal_of(rq, key, sizeof key, &may_be_critical);
	const char *crit =
	    MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "x-switchyard-critical");
	const bool critical =
	    may_be_critical && crit && (!strcmp(crit, "1") || !strcasecmp(crit, "true"));
	struct chat_stream *cs = calloc(1, sizeof *cs);
	if (!cs) {
		router_release(s->routers, ref);
		response_error_set(rs, 500, "INTERNAL_ERROR", "out of memory");
		return;
	}
	cs->srv = s;
	cs->ref = ref;
	cs->r = r;
	router_chat(r, rq->body, rq->body_len, key, critical, rq->request_id, &cs->out);
	struct chat_outcome *o = &cs->out;
	explain_headers(rs, o, !o->stream);
	if (o->error_code) {
		struct api_error ae;
		api_error_set(&ae, o->http_status, o->error_code, "%s", o->error_message);
		ae.retry_after_s = o->retry_after_s;
		response_error(rs, &ae);
		chat_stream_free(cs);
		return;
	}
	rs->status = o->http_status ? o->http_status : 200;
	if (o->stream) {
		rs->content_type = "text/event-stream";
		response_header_add(rs, "X-Accel-Buffering", "no");
		rs->stream_read = chat_stream_read;
		rs->stream_ctx = cs;
		rs->stream_free = chat_stream_free;
		return;
	}
	rs->content_type = o->sse ? "text/event-stream" : "application/json";
	sbuf_put(&rs->body, o->body ? o->body : "", o->body_len);
	chat_stream_free(cs);
}

void route_router_reload(struct request *rq, struct response *rs)
{
	struct sy_error err = {0};
	const char *ae =
	    MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "allow_empty");
	const bool allow_empty = ae && (!strcmp(ae, "true") || !strcmp(ae, "1"));
	enum sy_status s = rq->srv->routers ? router_reload_ex(rq->srv->routers, allow_empty, &err)
	                                    : server_router_reload(rq->srv, &err);
	if (s != SY_OK) {
		response_error_set(rs, 400, "INVALID_INPUT",
		                   "reload failed, the routes in use stay: %s", err.msg);
		return;
	}
	struct router_ref *ref;
	struct router *r = router_acquire(rq->srv->routers, &ref);
	sbuf_printf(&rs->body, "{\"reloaded\":true,\"routes\":%d,\"tasks\":%d}", router_n_routes(r),
	            router_n_tasks(r));
	router_release(rq->srv->routers, ref);
	rs->status = 200;
}

void route_routes(struct request *rq, struct response *rs)
{
	struct router_ref *ref;
	struct router *r = router_acquire(rq->srv->routers, &ref);
	sbuf_puts(&rs->body, "{\"object\":\"list\",\"data\":");
	router_routes_json(r, &rs->body);
	sbuf_putc(&rs->body, '}');
	router_release(rq->srv->routers, ref);
	rs->status = 200;
}

/* POST /v1/feedback: {request_id, score and/or label, comment} joined to that request's
 * routing decision (router_feedback); 404 for an id the router does not know. */
void route_feedback(struct request *rq, struct response *rs)
{
	struct router_ref *ref;
	struct router *r = router_acquire(rq->srv->routers, &ref);
	if (!r) {
		response_error_set(rs, 404, "NOT_FOUND", "no routes are configured");
		return;
	}
	struct sy_error err = {0};
	char route[128], model[128];
	enum sy_status s =
	    router_feedback(r, rq->body, rq->body_len, &err, route, model, sizeof route);
	router_release(rq->srv->routers, ref);
	if (s == SY_ERR_NOT_FOUND) {
		response_error_set(rs, 404, "NOT_FOUND", "%s", err.msg);
		return;
	}
	if (s != SY_OK) {
		response_error_set(rs, 400, "INVALID_INPUT", "%s", err.msg);
		return;
	}
	sbuf_puts(&rs->body, "{\"ok\":true,\"route\":");
	json_write_str(&rs->body, route, -1);
	sbuf_puts(&rs->body, ",\"model\":");
	json_write_str(&rs->body, model, -1);
	sbuf_putc(&rs->body, '}');
	rs->status = 200;
}
