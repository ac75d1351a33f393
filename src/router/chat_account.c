/* The account stage of a chat request (chat_internal.h): once the answer is known (for a
 * stream: once it ended), counts the decision or the refusal, charges the chosen candidate's
 * token usage at its prices to the spend counters and the route's and the key's budget windows,
 * and writes one JSONL line to the decision log: route, policy, signals, choice, reason, every
 * attempt, latency, tokens, cost, status and error. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/json_write.h"
#include "base/log.h"
#include "router/chat_internal.h"

/* A token count an upstream reports: a whole number from 0 to a billion. Anything else (negative,
 * 1e300, NaN) is not taken, so it can neither make spend negative, which would keep a budget
 * from ever running out, nor overflow the conversion. */
static bool usage_count(const cJSON *v, long *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1e9) ||
	    v->valuedouble != floor(v->valuedouble))
		return false;
	*out = (long)v->valuedouble;
	return true;
}

void chat_find_usage(const cJSON *doc, long *in, long *out)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "usage");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
	if (p && !usage_count(p, in))
		sy_log(SY_LOG_WARN, "router: ignoring usage.prompt_tokens out of range");
	if (c && !usage_count(c, out))
		sy_log(SY_LOG_WARN, "router: ignoring usage.completion_tokens out of range");
}

void chat_stream_usage(const char *data, size_t len, long *in, long *out)
{
	const char *end = data + len;
	for (const char *p = data; p < end && (p = memmem(p, (size_t)(end - p), "data: ", 6));
	     p += 6) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const size_t n = (size_t)((nl ? nl : end) - (p + 6));
		cJSON *ev = cJSON_ParseWithLength(p + 6, n);
		if (ev)
			chat_find_usage(ev, in, out);
		cJSON_Delete(ev);
	}
}

static double cost_of(const struct upstream_def *u, long in, long out)
{
	return ((double)in * u->price_input + (double)out * u->price_output) / 1e6;
}

/* The chosen candidate's cost into the spend counter and the budget windows. */
static void charge(struct router *r, const struct chat_run *run, struct chat_outcome *o,
                   const struct upstream_def *u)
{
	const struct route_def *rt = run->rt;
	struct router_state *st = r->deps.state;
	o->cost_usd = cost_of(u, o->prompt_tokens, o->completion_tokens);
	state_count(st, "spend_usd", rt->name, u->name, o->cost_usd);
	if (rt->budget_window[0]) {
		char rkey[160];
		snprintf(rkey, sizeof rkey, "route:%s", rt->name);
		state_spend_add(st, rkey, rt->budget_window, o->cost_usd);
		if (run->req.key[0])
			state_spend_add(st, run->req.key, rt->budget_window, o->cost_usd);
	}
}

/* The judge's cost into the answer's cost and the budget windows (its counter is kept by
 * chat_judge). */
static void charge_judge(struct router *r, const struct chat_run *run, struct chat_outcome *o)
{
	const struct route_def *rt = run->rt;
	struct router_state *st = r->deps.state;
	o->cost_usd += run->judge_cost_usd;
	if (rt->budget_window[0]) {
		char rkey[160];
		snprintf(rkey, sizeof rkey, "route:%s", rt->name);
		state_spend_add(st, rkey, rt->budget_window, run->judge_cost_usd);
		if (run->req.key[0])
			state_spend_add(st, run->req.key, rt->budget_window, run->judge_cost_usd);
	}
}

static void write_attempts(struct router *r, const struct chat_run *run, struct sbuf *b)
{
	sbuf_puts(b, ",\"attempts\":[");
	for (int i = 0; i < run->n_attempts; i++) {
		const struct chat_attempt *a = &run->attempts[i];
		sbuf_puts(b, i ? ",{\"candidate\":" : "{\"candidate\":");
		json_write_str(b, run->rt ? chat_candidate(r, run->rt, a->candidate)->name : "",
		               -1);
		sbuf_printf(b, ",\"status\":%d,\"ms\":%.1f,\"result\":", a->http_status, a->ms);
		json_write_str(b, a->what, -1);
		sbuf_putc(b, '}');
	}
	sbuf_putc(b, ']');
}

static void write_log(struct router *r, const struct chat_run *run, const struct chat_outcome *o)
{
	if (!r->decision_log[0])
		return;
	struct sbuf b = {0};
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char ts[32];
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	sbuf_printf(&b, "{\"time\":\"%s\",", ts);
	if (run->req.request_id[0]) {
		sbuf_puts(&b, "\"request_id\":");
		json_write_str(&b, run->req.request_id, -1);
		sbuf_putc(&b, ',');
	}
	sbuf_puts(&b, "\"route\":");
	json_write_str(&b, o->route, -1);
	sbuf_puts(&b, ",\"policy\":");
	json_write_str(&b, o->policy, -1);
	sbuf_printf(&b, ",\"signals\":%s,\"choice\":", o->signals[0] ? o->signals : "{}");
	if (o->model[0])
		json_write_str(&b, o->model, -1);
	else
		sbuf_puts(&b, "null");
	sbuf_puts(&b, ",\"reason\":");
	json_write_str(&b, o->reason, -1);
	if (run->policy_reason[0]) {
		sbuf_puts(&b, ",\"policy_reason\":");
		json_write_str(&b, run->policy_reason, -1);
	}
	if (o->split[0]) {
		sbuf_puts(&b, ",\"split\":");
		json_write_str(&b, o->split, -1);
		sbuf_puts(&b, ",\"arm\":");
		json_write_str(&b, o->arm, -1);
	}
	if (o->shadow[0]) {
		sbuf_puts(&b, ",\"shadow\":");
		json_write_str(&b, o->shadow, -1);
	}
	if (run->n_judged > 0) {
		const struct route_def *rt = run->rt;
		sbuf_puts(&b, ",\"judge\":{\"upstream\":");
		json_write_str(&b, r->upstreams[rt->judge].name, -1);
		sbuf_printf(&b, ",\"threshold\":%g,\"scale\":%g,\"scores\":[", rt->judge_threshold,
		            rt->judge_scale);
		for (int i = 0; i < run->n_judged; i++) {
			sbuf_puts(&b, i ? ",{\"candidate\":" : "{\"candidate\":");
			json_write_str(&b, chat_candidate(r, rt, run->judged[i].candidate)->name,
			               -1);
			if (run->judged[i].score >= 0)
				sbuf_printf(&b, ",\"score\":%g}", run->judged[i].score);
			else
				sbuf_puts(&b, ",\"score\":null}");
		}
		sbuf_printf(&b, "],\"cost_usd\":%.8f}", run->judge_cost_usd);
	}
	write_attempts(r, run, &b);
	sbuf_printf(&b,
	            ",\"latency_ms\":%.1f,\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
	            "\"cost_usd\":%.8f,\"status\":%d",
	            o->latency_ms, o->prompt_tokens, o->completion_tokens, o->cost_usd,
	            o->http_status);
	if (o->error_code) {
		sbuf_puts(&b, ",\"error\":");
		json_write_str(&b, o->error_code, -1);
	}
	sbuf_putc(&b, '}');
	if (!b.oom)
		state_log_line(r->deps.state, r->decision_log, b.data);
	sbuf_free(&b);
}

int chat_calls(const struct chat_run *run)
{
	int n = 0;
	for (int i = 0; i < run->n_attempts; i++)
		n += !run->attempts[i].skipped;
	return n;
}

void chat_account(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	struct router_state *st = r->deps.state;
	if (run->refusal)
		state_count(st, "refusals", run->rt->name, run->refusal, 1);
	if (run->chosen >= 0) {
		const struct upstream_def *u = chat_candidate(r, run->rt, run->chosen);
		state_count(st, "decisions", run->rt->name, u->name, 1);
		charge(r, run, o, u);
		state_rate_tokens(st, u->name, o->prompt_tokens + o->completion_tokens);
	}
	if (run->judge_cost_usd > 0) /* the judge's calls: in the budget and the answer's cost */
		charge_judge(r, run, o);
	o->attempts = chat_calls(run);
	o->latency_ms = (double)(sy_now_ns() - run->t0) / 1e6;
	if (run->req.request_id[0] && o->route[0]) /* for feedback on it */
		state_decision_remember(st, run->req.request_id, o->route, o->model);
	write_log(r, run, o);
}
