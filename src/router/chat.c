/* /v1/chat/completions through a route (router.h): runs the stages of chat_internal.h over one
 * request (parse, decide, execute, account), forwards a committed stream and accounts it once it
 * ended, and explains the routes (status page, Prometheus counters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json_write.h"
#include "router/chat_internal.h"

void router_chat(struct router *r, const char *body, size_t len, const char *api_key, bool critical,
                 const char *request_id, struct chat_outcome *o)
{
	memset(o, 0, sizeof *o);
	struct chat_run *run = calloc(1, sizeof *run);
	if (!run) {
		chat_error_set(o, 500, "INTERNAL_ERROR", "out of memory");
		return;
	}
	o->priv = run;
	run->t0 = sy_now_ns();
	run->chosen = -1;
	run->arm = -1;
	run->tier = -1;
	run->req.critical = critical;
	if (request_id)
		snprintf(run->req.request_id, sizeof run->req.request_id, "%s", request_id);
	if (api_key && api_key[0])
		snprintf(run->req.key, sizeof run->req.key, "key:%.150s", api_key);
	if (chat_parse(body, len, &run->req, o) && chat_decide(r, run, o)) {
		chat_shadow_start(r, run, o);
		chat_execute(r, run, o);
	}
	chat_request_free(&run->req);
	o->attempts = chat_calls(run);
	if (!run->stream) /* a stream is accounted once it ended, in router_chat_finish */
		chat_account(r, run, o);
}

/* A translated (Anthropic or Gemini) stream: feeds the upstream's new bytes to the translation
 * and hands out what it produced; at the upstream's end, the last chunks or the break-off. */
static size_t stream_read_translated(struct chat_run *run, char *buf, size_t max)
{
	for (;;) {
		if (run->xout_sent < run->xout.len) {
			size_t n = run->xout.len - run->xout_sent;
			if (n > max)
				n = max;
			memcpy(buf, run->xout.data + run->xout_sent, n);
			run->xout_sent += n;
			return n;
		}
		run->xout.len = run->xout_sent = 0;
		if (run->xlate_ended)
			break;
		const char *data;
		size_t len;
		enum upstream_state st =
		    upstream_call_wait_data(run->stream, run->stream_sent, 1000, &data, &len);
		if (len > run->stream_sent) {
			provider_stream_feed(run->xlate, data + run->stream_sent,
			                     len - run->stream_sent, &run->xout);
			run->stream_sent = len;
		} else if (st != UPSTREAM_RUNNING) {
			run->xlate_ended = true;
			run->xlate_complete =
			    provider_stream_end(run->xlate, &run->xout, run->stream_error,
			                        sizeof run->stream_error) &&
			    st == UPSTREAM_DONE;
		}
	}
	if (!run->xlate_complete && !run->stream_broke) {
		if (!run->stream_error[0]) {
			struct upstream_result res;
			upstream_call_result(run->stream, &res);
			snprintf(run->stream_error, sizeof run->stream_error, "%s",
			         res.error[0] ? res.error : "it ended before its last event");
		}
		run->stream_broke = true;
		struct sbuf b = {0};
		sbuf_puts(&b, "data: {\"error\":{\"code\":\"UPSTREAM_ERROR\",\"message\":");
		char msg[320];
		snprintf(msg, sizeof msg, "the upstream stream broke off: %.200s",
		         run->stream_error);
		json_write_str(&b, msg, -1);
		sbuf_puts(&b, "}}\n\n");
		size_t n = 0;
		if (!b.oom && b.len < max) {
			memcpy(buf, b.data, b.len);
			n = b.len;
		}
		sbuf_free(&b);
		return n;
	}
	return 0;
}

size_t router_chat_stream_read(struct router *r, struct chat_outcome *o, char *buf, size_t max)
{
	(void)r;
	struct chat_run *run = o->priv;
	if (!run || !run->stream)
		return 0;
	if (run->xlate)
		return stream_read_translated(run, buf, max);
	const char *data;
	size_t len;
	enum upstream_state st;
	do
		st = upstream_call_wait_data(run->stream, run->stream_sent, 1000, &data, &len);
	while (len <= run->stream_sent && st == UPSTREAM_RUNNING);
	if (len > run->stream_sent) {
		const size_t n = len - run->stream_sent < max ? len - run->stream_sent : max;
		memcpy(buf, data + run->stream_sent, n);
		run->stream_sent += n;
		return n;
	}
	/* A stream that failed, or ended without its final "data: [DONE]" (the connection closed
	 * early), broke off: say so in the stream before it ends, and in the decision log. */
	const bool complete = st == UPSTREAM_DONE && len >= 6 && memmem(data, len, "[DONE]", 6);
	if (!complete && !run->stream_broke) {
		struct upstream_result res;
		upstream_call_result(run->stream, &res);
		snprintf(run->stream_error, sizeof run->stream_error, "%s",
		         res.error[0] ? res.error : "it ended before its last event");
		run->stream_broke = true;
		int n = snprintf(buf, max,
		                 "data: {\"error\":{\"code\":\"UPSTREAM_ERROR\",\"message\":\"the "
		                 "upstream stream broke off: %.200s\"}}\n\n",
		                 run->stream_error);
		if (n > 0 && (size_t)n < max)
			return (size_t)n;
	}
	return 0;
}

/* A committed stream ended (or its client left): its usage from the last SSE event with
 * usage, a break-off in its attempt, then the same account stage as any other answer. */
static void stream_finish(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	const char *data;
	size_t len;
	upstream_call_wait_data(run->stream, (size_t)-1, 0, &data, &len);
	if (run->xlate) {
		/* what the client did not read still counts (it may have left early) */
		if (len > run->stream_sent)
			provider_stream_feed(run->xlate, data + run->stream_sent,
			                     len - run->stream_sent, &run->xout);
		provider_stream_usage(run->xlate, &o->prompt_tokens, &o->completion_tokens);
		provider_stream_free(run->xlate);
		run->xlate = NULL;
		sbuf_free(&run->xout);
	} else {
		chat_stream_usage(data, len, &o->prompt_tokens, &o->completion_tokens);
	}
	if (run->stream_broke) {
		for (int i = run->n_attempts - 1; i >= 0; i--)
			if (run->attempts[i].candidate == run->chosen) {
				snprintf(run->attempts[i].what, sizeof run->attempts[i].what,
				         "stream broke off: %.70s", run->stream_error);
				break;
			}
		o->error_code = "UPSTREAM_ERROR";
	}
	chat_account(r, run, o);
	if (run->stream_taken)
		state_concurrency_release(r->deps.state,
		                          chat_candidate(r, run->rt, run->chosen)->name);
	upstream_call_free(run->stream);
	run->stream = NULL;
}

void router_chat_finish(struct router *r, struct chat_outcome *o)
{
	struct chat_run *run = o->priv;
	if (run && run->stream)
		stream_finish(r, run, o);
	o->stream = false;
	free(o->body);
	o->body = NULL;
	free(run);
	o->priv = NULL;
}

void router_metrics_write(const struct router *r, struct sbuf *b)
{
	if (r && r->deps.state)
		state_metrics_write(r->deps.state, b);
}

void router_routes_json(const struct router *r, struct sbuf *b)
{
	sbuf_putc(b, '[');
	for (int i = 0; r && i < r->n_routes; i++) {
		const struct route_def *rt = &r->routes[i];
		sbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		json_write_str(b, rt->name, -1);
		sbuf_printf(b, ",\"policy\":\"%s\",\"candidates\":[", policy_name(rt->policy));
		for (int k = 0; k < rt->n_candidates; k++) {
			const struct upstream_def *u = chat_candidate(r, rt, k);
			enum breaker_state bs =
			    state_breaker_get(r->deps.state, u->name, rt->breaker_cooldown_s);
			sbuf_puts(b, k ? ",{\"name\":" : "{\"name\":");
			json_write_str(b, u->name, -1);
			sbuf_printf(b,
			            ",\"breaker\":\"%s\",\"price_input\":%g,\"price_output\":%g}",
			            bs == BREAKER_OPEN        ? "open"
			            : bs == BREAKER_HALF_OPEN ? "half-open"
			                                      : "closed",
			            u->price_input, u->price_output);
		}
		sbuf_putc(b, ']');
		if (rt->budget_window[0]) {
			char rkey[160];
			snprintf(rkey, sizeof rkey, "route:%s", rt->name);
			sbuf_printf(
			    b,
			    ",\"budget\":{\"window\":\"%s\",\"limit_usd\":%g,\"spent_usd\":%.6f}",
			    rt->budget_window, rt->budget_limit_usd,
			    state_spend(r->deps.state, rkey, rt->budget_window));
		}
		sbuf_putc(b, '}');
	}
	sbuf_putc(b, ']');
}

/* One /v1/models entry of a route or a task (OpenAI's model object plus what it is). */
static void model_entry(const struct router *r, int route, int task, struct sbuf *b)
{
	sbuf_puts(b, "{\"id\":");
	if (route >= 0) {
		const struct route_def *rt = &r->routes[route];
		json_write_str(b, rt->name, -1);
		sbuf_printf(b,
		            ",\"object\":\"model\",\"created\":0,\"owned_by\":\"switchyard\","
		            "\"kind\":\"route\",\"policy\":\"%s\",\"candidates\":[",
		            policy_name(rt->policy));
		for (int k = 0; k < rt->n_candidates; k++) {
			if (k)
				sbuf_putc(b, ',');
			json_write_str(b, chat_candidate(r, rt, k)->name, -1);
		}
		sbuf_puts(b, "]}");
		return;
	}
	const struct task_def *t = &r->tasks[task];
	json_write_str(b, t->name, -1);
	sbuf_puts(b, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"switchyard\","
	             "\"kind\":\"task\",\"operation\":");
	json_write_str(b, t->operation, -1);
	sbuf_puts(b, ",\"model\":");
	json_write_str(b, t->n_models ? t->models[0] : "", -1);
	sbuf_putc(b, '}');
}

int router_models_json(const struct router *r, struct sbuf *b, bool comma)
{
	int n = 0;
	for (int i = 0; r && i < r->n_routes; i++, n++) {
		if (comma || n)
			sbuf_putc(b, ',');
		model_entry(r, i, -1, b);
	}
	for (int i = 0; r && i < r->n_tasks; i++, n++) {
		if (comma || n)
			sbuf_putc(b, ',');
		model_entry(r, -1, i, b);
	}
	return n;
}

bool router_model_json(const struct router *r, const char *id, struct sbuf *b)
{
	for (int i = 0; r && i < r->n_routes; i++)
		if (!strcmp(r->routes[i].name, id)) {
			model_entry(r, i, -1, b);
			return true;
		}
	for (int i = 0; r && i < r->n_tasks; i++)
		if (!strcmp(r->tasks[i].name, id)) {
			model_entry(r, -1, i, b);
			return true;
		}
	return false;
}
