/* Shadow calls of a chat route (chat_internal.h): a copy of the request goes to the route's
 * `shadow` upstream at the same time as the real call, and its answer is written to the decision
 * log (a "type":"shadow" line with the request id, status, latency, tokens, cost and the start of
 * the content) and counted, never returned to the client. It does not delay the answer: the call
 * is started on the request's thread and a detached thread waits for it. The router state counts
 * shadows in flight and router_state_free waits for them, so a shadow never writes to freed
 * state; the upstream client is destroyed before the state, which cancels what is still
 * running. Shadows honour the shadow upstream's rpm/tpm (a shadow past them is skipped) but not
 * its breaker, and their spend is counted apart (switchyard_router_shadow_spend_usd_total), not
 * charged to the route's budget. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/json_write.h"
#include "router/chat_internal.h"

#define SHADOW_CONTENT_LOGGED 2000 /* bytes of the shadow's answer kept in the log line */

struct shadow_job {
	struct upstream_call *call;
	struct router_state *state;
	enum upstream_kind kind;
	double price_input, price_output;
	char route[ROUTER_MAX_NAME], candidate[ROUTER_MAX_NAME];
	char request_id[136];
	char log[512];
};

static void shadow_log(struct shadow_job *j, const struct upstream_result *res, const char *what,
                       const char *content, long in, long out, double cost)
{
	if (!j->log[0])
		return;
	struct sbuf b = {0};
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char ts[32];
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	sbuf_printf(&b, "{\"time\":\"%s\",\"type\":\"shadow\",\"request_id\":", ts);
	json_write_str(&b, j->request_id, -1);
	sbuf_puts(&b, ",\"route\":");
	json_write_str(&b, j->route, -1);
	sbuf_puts(&b, ",\"candidate\":");
	json_write_str(&b, j->candidate, -1);
	sbuf_printf(&b, ",\"status\":%d,\"ms\":%.1f,\"result\":", res->http_status, res->total_ms);
	json_write_str(&b, what, -1);
	sbuf_printf(&b, ",\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"cost_usd\":%.8f", in,
	            out, cost);
	if (content) {
		size_t n = strlen(content);
		sbuf_puts(&b, ",\"content\":");
		json_write_str(&b, content,
		               (long)(n < SHADOW_CONTENT_LOGGED ? n : SHADOW_CONTENT_LOGGED));
	}
	sbuf_putc(&b, '}');
	if (!b.oom)
		state_log_line(j->state, j->log, b.data);
	sbuf_free(&b);
}

static void *shadow_main(void *arg)
{
	struct shadow_job *j = arg;
	enum upstream_state st = upstream_call_wait(j->call, -1);
	struct upstream_result res;
	upstream_call_result(j->call, &res);
	cJSON *doc = st == UPSTREAM_DONE && res.http_status / 100 == 2
	                 ? provider_chat_answer(j->kind, res.body, res.body_len)
	                 : NULL;
	const char *content = provider_answer_text(doc);
	long in = 0, out = 0;
	double cost = 0;
	char what[300];
	if (content) {
		chat_find_usage(doc, &in, &out);
		cost = ((double)in * j->price_input + (double)out * j->price_output) / 1e6;
		snprintf(what, sizeof what, "ok");
		state_count(j->state, "shadow_spend_usd", j->route, j->candidate, cost);
		state_rate_tokens(j->state, j->candidate, in + out);
	} else {
		if (st != UPSTREAM_DONE)
			snprintf(what, sizeof what, "%s", res.error);
		else if (res.http_status / 100 == 2)
			snprintf(what, sizeof what, "malformed answer");
		else
			snprintf(what, sizeof what, "http %d", res.http_status);
		state_count(j->state, "shadow_errors", j->route, j->candidate, 1);
	}
	shadow_log(j, &res, what, content, in, out, cost);
	cJSON_Delete(doc);
	upstream_call_free(j->call);
	struct router_state *state = j->state;
	free(j);
	state_shadow_end(state);
	return NULL;
}

void chat_shadow_start(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	const struct route_def *rt = run->rt;
	if (rt->shadow < 0 || rt->shadow >= r->n_upstreams)
		return;
	if (rt->shadow_share < 1 && chat_draw(NULL, true) >= rt->shadow_share)
		return;
	const struct upstream_def *u = &r->upstreams[rt->shadow];
	struct router_state *st = r->deps.state;
	int wait = 0;
	if (!state_rate_take(st, u->name, u->rpm, u->tpm, &wait)) {
		state_count(st, "shadow_errors", rt->name, u->name, 1);
		return;
	}
	struct shadow_job *j = calloc(1, sizeof *j);
	cJSON *copy = cJSON_Duplicate(run->req.doc, true);
	if (!j || !copy) {
		free(j);
		cJSON_Delete(copy);
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "metadata");
	struct provider p = router_upstream_provider(u);
	struct sy_error err = {0};
	enum sy_status s = provider_chat_start(r->deps.upstream, &p, copy, false, &err, &j->call);
	cJSON_Delete(copy);
	if (s != SY_OK) {
		free(j);
		state_count(st, "shadow_errors", rt->name, u->name, 1);
		return;
	}
	j->state = st;
	j->kind = u->kind;
	j->price_input = u->price_input;
	j->price_output = u->price_output;
	snprintf(j->route, sizeof j->route, "%s", rt->name);
	snprintf(j->candidate, sizeof j->candidate, "%s", u->name);
	snprintf(j->request_id, sizeof j->request_id, "%s", run->req.request_id);
	snprintf(j->log, sizeof j->log, "%s", r->decision_log);
	state_count(st, "shadows", rt->name, u->name, 1);
	snprintf(o->shadow, sizeof o->shadow, "%s", u->name);
	state_shadow_begin(st);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, shadow_main, j) != 0) {
		upstream_call_free(j->call);
		free(j);
		state_shadow_end(st);
	}
	pthread_attr_destroy(&attr);
}
