/* /v1/chat/completions through a route (router.h): parse, decide, check the budget, execute
 * (fallback chain with retries and breakers, cascade with a verifier, or racing), account the
 * cost, explain. */
#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/clock.h"
#include "base/log.h"
#include "router/router_internal.h"
#include "base/json_write.h"

#define MAX_CANDIDATES 32
#define MAX_ATTEMPTS 64

struct attempt {
	int candidate; /* index into the route's candidates */
	int http_status;
	double ms;
	char what[96]; /* "ok", "timeout", "http 503", "verifier: ...", "cancelled" */
};

/* Per-request state, kept in chat_outcome.priv until router_chat_finish. */
struct chat_run {
	struct route_def *rt, own; /* own: the synthetic route of a direct upstream call */
	int candidates_own[1];
	struct attempt attempts[MAX_ATTEMPTS];
	int n_attempts;
	char key[160];
	int chosen; /* candidate that answered, or -1 */
	uint64_t t0;
	bool stream_taken; /* concurrency slot held by the committed stream */
};

static void set_error(struct chat_outcome *o, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(struct chat_outcome *o, int status, const char *code, const char *fmt, ...)
{
	o->http_status = status;
	o->error_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->error_message, sizeof o->error_message, fmt, ap);
	va_end(ap);
}

static const struct upstream_def *cand(const struct router *r, const struct route_def *rt, int i)
{
	return &r->upstreams[rt->candidates[i]];
}

/* The text of a message's content (a string, or the text parts of an array). */
static void content_text(const cJSON *content, char **buf, size_t *len, size_t *cap)
{
	const char *parts[64];
	int n = 0;
	if (cJSON_IsString(content)) {
		parts[n++] = content->valuestring;
	} else if (cJSON_IsArray(content)) {
		const cJSON *p;
		cJSON_ArrayForEach(p, content)
		{
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
			if (cJSON_IsString(t) && n < 64)
				parts[n++] = t->valuestring;
		}
	}
	for (int i = 0; i < n; i++) {
		size_t m = strlen(parts[i]);
		if (*len + m + 2 > *cap) {
			size_t c = (*cap ? *cap : 256);
			while (c < *len + m + 2)
				c *= 2;
			char *b = realloc(*buf, c);
			if (!b)
				return;
			*buf = b;
			*cap = c;
		}
		if (*len)
			(*buf)[(*len)++] = '\n';
		memcpy(*buf + *len, parts[i], m);
		*len += m;
		(*buf)[*len] = '\0';
	}
}

static long utf8_chars(const char *s)
{
	long c = 0;
	for (; *s; s++)
		c += ((unsigned char)*s & 0xC0) != 0x80;
	return c;
}

/* The usage numbers of an OpenAI answer (or of the last SSE event carrying usage). */
static void find_usage(const cJSON *doc, long *in, long *out)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "usage");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
	if (cJSON_IsNumber(p))
		*in = (long)p->valuedouble;
	if (cJSON_IsNumber(c))
		*out = (long)c->valuedouble;
}

static double cost_of(const struct upstream_def *u, long in, long out)
{
	return ((double)in * u->price_input + (double)out * u->price_output) / 1e6;
}

static const char *answer_content(const cJSON *doc)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "choices"), 0), "message"),
	    "content");
	return cJSON_IsString(c) ? c->valuestring : NULL;
}

/* The body for candidate u: the client's, with u's model, the stream flag, no metadata. */
static char *upstream_body(cJSON *req, const struct upstream_def *u, bool stream)
{
	cJSON *copy = cJSON_Duplicate(req, true);
	if (!copy)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "stream_options");
	cJSON_ReplaceItemInObjectCaseSensitive(copy, "model", cJSON_CreateString(u->model));
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "stream");
	cJSON_AddBoolToObject(copy, "stream", stream);
	if (stream) {
		cJSON *so = cJSON_AddObjectToObject(copy, "stream_options");
		cJSON_AddBoolToObject(so, "include_usage", true);
	}
	char *s = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return s;
}

static struct upstream_call *start_call(struct router *r, const struct upstream_def *u,
                                        const char *body, struct sy_error *err)
{
	char url[600];
	snprintf(url, sizeof url, "%s/chat/completions", u->base_url);
	const char *key = u->api_key_env[0] ? getenv(u->api_key_env) : NULL;
	struct upstream_request ur = {.url = url,
	                              .api_key = key,
	                              .body = body,
	                              .body_len = strlen(body),
	                              .timeout_ms = u->timeout_ms,
	                              .ttfb_timeout_ms = u->ttft_timeout_ms};
	struct upstream_call *call = NULL;
	return upstream_call_start(r->deps.upstream, &ur, err, &call) == SY_OK ? call : NULL;
}

static void add_attempt(struct chat_run *run, int c, int status, double ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add_attempt(struct chat_run *run, int c, int status, double ms, const char *fmt, ...)
{
	if (run->n_attempts >= MAX_ATTEMPTS)
		return;
	struct attempt *a = &run->attempts[run->n_attempts++];
	a->candidate = c;
	a->http_status = status;
	a->ms = ms;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->what, sizeof a->what, fmt, ap);
	va_end(ap);
}

/* Whether a finished call failed in a way another try may fix. */
static bool retryable(enum upstream_state st, int http)
{
	return st == UPSTREAM_FAILED || http == 408 || http == 409 || http == 429 || http >= 500 ||
	       http == 401 || http == 403;
}

/* Budget: refuse when spent, reorder cheapest-first when near the limit (not for critical
 * requests). Returns false (and sets the error) when refused. */
static bool budget_check(struct router *r, struct route_def *rt, struct chat_run *run,
                         bool critical, int *order, int n, char *note, size_t cap)
{
	note[0] = '\0';
	if (!rt->budget_window[0])
		return true;
	struct router_state *st = r->deps.state;
	char rkey[160];
	snprintf(rkey, sizeof rkey, "route:%s", rt->name);
	const double spent = state_spend(st, rkey, rt->budget_window);
	const double kspent = run->key[0] ? state_spend(st, run->key, rt->budget_window) : 0;
	if ((rt->budget_limit_usd > 0 && spent >= rt->budget_limit_usd) ||
	    (rt->budget_per_key_usd > 0 && run->key[0] && kspent >= rt->budget_per_key_usd))
		return false;
	double share = 0;
	if (rt->budget_limit_usd > 0)
		share = spent / rt->budget_limit_usd;
	if (rt->budget_per_key_usd > 0 && run->key[0] && kspent / rt->budget_per_key_usd > share)
		share = kspent / rt->budget_per_key_usd;
	if (share >= rt->budget_downgrade_at && !critical && n > 1) {
		/* cheapest first (by the sum of the two prices), stable */
		for (int i = 1; i < n; i++)
			for (int j = i; j > 0; j--) {
				const struct upstream_def *a = cand(r, rt, order[j - 1]),
				                          *b = cand(r, rt, order[j]);
				if (b->price_input + b->price_output <
				    a->price_input + a->price_output) {
					int t = order[j];
					order[j] = order[j - 1];
					order[j - 1] = t;
				}
			}
		int w = snprintf(note, cap, "; budget %.0f%% spent: downgraded to %.60s",
		                 share * 100, cand(r, rt, order[0])->name);
		(void)w;
	}
	return true;
}

static void account(struct router *r, struct route_def *rt, struct chat_run *run,
                    struct chat_outcome *o, const struct upstream_def *u)
{
	o->cost_usd = cost_of(u, o->prompt_tokens, o->completion_tokens);
	struct router_state *st = r->deps.state;
	state_count(st, "spend_usd", rt->name, u->name, o->cost_usd);
	if (rt->budget_window[0]) {
		char rkey[160];
		snprintf(rkey, sizeof rkey, "route:%s", rt->name);
		state_spend_add(st, rkey, rt->budget_window, o->cost_usd);
		if (run->key[0])
			state_spend_add(st, run->key, rt->budget_window, o->cost_usd);
	}
}

static void write_log(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	if (!r->decision_log[0])
		return;
	struct sbuf b = {0};
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char ts[32];
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	sbuf_printf(&b, "{\"time\":\"%s\",\"route\":", ts);
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
	sbuf_puts(&b, ",\"attempts\":[");
	for (int i = 0; i < run->n_attempts; i++) {
		const struct attempt *a = &run->attempts[i];
		sbuf_puts(&b, i ? ",{\"candidate\":" : "{\"candidate\":");
		json_write_str(&b, run->rt ? cand(r, run->rt, a->candidate)->name : "", -1);
		sbuf_printf(&b, ",\"status\":%d,\"ms\":%.1f,\"result\":", a->http_status, a->ms);
		json_write_str(&b, a->what, -1);
		sbuf_putc(&b, '}');
	}
	sbuf_printf(&b,
	            "],\"latency_ms\":%.1f,\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
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

/* A non-streamed answer as an SSE stream (for a client that asked stream:true while the
 * route needed the whole answer first: cascade, racing, verifiers). */
static void synthesize_sse(const cJSON *doc, struct sbuf *b)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
	const char *content = answer_content(doc);
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "choices"), 0),
	    "finish_reason");
	const char *idv = cJSON_IsString(id) ? id->valuestring : "chatcmpl-switchyard";
	const char *mv = cJSON_IsString(model) ? model->valuestring : "";
	long created = (long)time(NULL);
	sbuf_puts(b, "data: {\"id\":");
	json_write_str(b, idv, -1);
	sbuf_printf(b, ",\"object\":\"chat.completion.chunk\",\"created\":%ld,\"model\":", created);
	json_write_str(b, mv, -1);
	sbuf_puts(b, ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":");
	json_write_str(b, content ? content : "", -1);
	sbuf_puts(b, "},\"finish_reason\":null}]}\n\ndata: {\"id\":");
	json_write_str(b, idv, -1);
	sbuf_printf(b, ",\"object\":\"chat.completion.chunk\",\"created\":%ld,\"model\":", created);
	json_write_str(b, mv, -1);
	sbuf_puts(b, ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":");
	json_write_str(b, cJSON_IsString(fr) ? fr->valuestring : "stop", -1);
	sbuf_puts(b, "}]");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(doc, "usage");
	if (usage) {
		char *u = cJSON_PrintUnformatted(usage);
		if (u)
			sbuf_printf(b, ",\"usage\":%s", u);
		cJSON_free(u);
	}
	sbuf_puts(b, "}\n\ndata: [DONE]\n\n");
}

/* Takes a successful non-streamed answer into the outcome (as JSON or synthesized SSE). */
static void take_answer(struct chat_outcome *o, cJSON *doc, const char *raw, size_t raw_len,
                        bool want_stream)
{
	find_usage(doc, &o->prompt_tokens, &o->completion_tokens);
	o->http_status = 200;
	if (want_stream) {
		struct sbuf b = {0};
		synthesize_sse(doc, &b);
		o->body = sbuf_take(&b, &o->body_len);
		o->sse = true;
	} else {
		o->body = malloc(raw_len + 1);
		if (o->body) {
			memcpy(o->body, raw, raw_len);
			o->body[raw_len] = '\0';
			o->body_len = raw_len;
		}
	}
}

/* One non-streamed call to candidate c: returns the parsed answer (caller deletes) or NULL,
 * recording the attempt. *retry_after gets the upstream's Retry-After (or -1). */
static cJSON *call_once(struct router *r, struct chat_run *run, int c, cJSON *req,
                        struct upstream_call **keep, int *http, int *retry_after, char **raw,
                        size_t *raw_len)
{
	const struct upstream_def *u = cand(r, run->rt, c);
	*http = 0;
	*retry_after = -1;
	char *body = upstream_body(req, u, false);
	struct sy_error err = {0};
	struct upstream_call *call = body ? start_call(r, u, body, &err) : NULL;
	free(body);
	if (!call) {
		add_attempt(run, c, 0, 0, "not started: %s", err.msg);
		return NULL;
	}
	enum upstream_state s = upstream_call_wait(call, -1);
	struct upstream_result res;
	upstream_call_result(call, &res);
	*http = res.http_status;
	*retry_after = res.retry_after_s;
	cJSON *doc = NULL;
	if (s == UPSTREAM_DONE && res.http_status / 100 == 2) {
		doc = cJSON_ParseWithLength(res.body, res.body_len);
		if (!doc || !answer_content(doc)) {
			add_attempt(run, c, res.http_status, res.total_ms, "malformed answer");
			cJSON_Delete(doc);
			doc = NULL;
			*http = 502;
		} else {
			add_attempt(run, c, res.http_status, res.total_ms, "ok");
			*raw = malloc(res.body_len + 1);
			if (*raw) {
				memcpy(*raw, res.body, res.body_len);
				(*raw)[res.body_len] = '\0';
				*raw_len = res.body_len;
			}
		}
	} else if (s == UPSTREAM_DONE) {
		add_attempt(run, c, res.http_status, res.total_ms, "http %d", res.http_status);
	} else {
		add_attempt(run, c, 0, res.total_ms, "%s", res.error);
	}
	if (keep)
		*keep = call;
	else
		upstream_call_free(call);
	return doc;
}

/* Racing: the first `n` candidates of order at once; the first answer that passes the
 * verifier wins and the others are cancelled. Returns the winner's index in order or -1. */
static int race(struct router *r, struct chat_run *run, cJSON *req, const int *order, int n,
                struct chat_outcome *o, bool want_stream)
{
	struct route_def *rt = run->rt;
	struct upstream_call *calls[MAX_CANDIDATES] = {0};
	int idx[MAX_CANDIDATES];
	int m = 0;
	for (int i = 0; i < n && m < MAX_CANDIDATES; i++) {
		const struct upstream_def *u = cand(r, rt, order[i]);
		if (!state_breaker_allows(r->deps.state, u->name, rt->breaker_cooldown_s)) {
			add_attempt(run, order[i], 0, 0, "breaker open");
			continue;
		}
		char *body = upstream_body(req, u, false);
		struct sy_error err = {0};
		calls[m] = body ? start_call(r, u, body, &err) : NULL;
		free(body);
		if (calls[m])
			idx[m++] = i;
	}
	int winner = -1, open = m;
	while (open > 0 && winner < 0) {
		for (int k = 0; k < m && winner < 0; k++) {
			if (!calls[k] || upstream_call_wait(calls[k], 5) == UPSTREAM_RUNNING)
				continue;
			struct upstream_result res;
			upstream_call_result(calls[k], &res);
			const int c = order[idx[k]];
			const struct upstream_def *u = cand(r, rt, c);
			cJSON *doc = res.http_status / 100 == 2
			                 ? cJSON_ParseWithLength(res.body, res.body_len)
			                 : NULL;
			const char *content = doc ? answer_content(doc) : NULL;
			char why[160] = "";
			if (content && (!rt->has_verifier ||
			                verifier_check(&rt->verifier, content, strlen(content), why,
			                               sizeof why))) {
				add_attempt(run, c, res.http_status, res.total_ms, "won the race");
				state_breaker_record(r->deps.state, u->name, true,
				                     rt->breaker_failures);
				take_answer(o, doc, res.body, res.body_len, want_stream);
				winner = idx[k];
			} else {
				add_attempt(run, c, res.http_status, res.total_ms, "%s",
				            content        ? why
				            : res.error[0] ? res.error
				                           : "http error");
				if (!content)
					state_breaker_record(r->deps.state, u->name, false,
					                     rt->breaker_failures);
			}
			cJSON_Delete(doc);
			upstream_call_free(calls[k]);
			calls[k] = NULL;
			open--;
		}
	}
	for (int k = 0; k < m; k++)
		if (calls[k]) {
			upstream_call_cancel(calls[k]);
			add_attempt(run, order[idx[k]], 0, 0, "cancelled (lost the race)");
			upstream_call_free(calls[k]);
		}
	return winner;
}

/* Streams candidate c's answer through: starts it and waits for the first bytes; commits
 * (returns true) when the answer is a 2xx, else records the failure. */
static bool try_stream(struct router *r, struct chat_run *run, int c, cJSON *req,
                       struct chat_outcome *o, int *http, int *retry_after)
{
	const struct upstream_def *u = cand(r, run->rt, c);
	char *body = upstream_body(req, u, true);
	struct sy_error err = {0};
	struct upstream_call *call = body ? start_call(r, u, body, &err) : NULL;
	free(body);
	*http = 0;
	*retry_after = -1;
	if (!call) {
		add_attempt(run, c, 0, 0, "not started: %s", err.msg);
		return false;
	}
	const char *data;
	size_t len;
	enum upstream_state s = upstream_call_wait_data(call, 0, -1, &data, &len);
	struct upstream_result res;
	upstream_call_result(call, &res);
	if (len > 0 && res.http_status / 100 == 2) {
		add_attempt(run, c, res.http_status, res.ttfb_ms, "streaming");
		o->stream_call = call;
		o->sse = true;
		o->http_status = 200;
		return true;
	}
	if (s == UPSTREAM_RUNNING) /* headers said error but the body is still coming */
		s = upstream_call_wait(call, -1);
	upstream_call_result(call, &res);
	*http = res.http_status;
	*retry_after = res.retry_after_s;
	if (s == UPSTREAM_DONE && res.http_status / 100 == 2)
		add_attempt(run, c, res.http_status, res.total_ms, "empty stream");
	else if (s == UPSTREAM_DONE)
		add_attempt(run, c, res.http_status, res.total_ms, "http %d", res.http_status);
	else
		add_attempt(run, c, 0, res.total_ms, "%s", res.error);
	upstream_call_free(call);
	return false;
}

void router_chat(struct router *r, const char *body, size_t len, const char *api_key, bool critical,
                 struct chat_outcome *o)
{
	memset(o, 0, sizeof *o);
	struct chat_run *run = calloc(1, sizeof *run);
	if (!run) {
		set_error(o, 500, "INTERNAL", "out of memory");
		return;
	}
	o->priv = run;
	run->t0 = sy_now_ns();
	run->chosen = -1;
	if (api_key && api_key[0])
		snprintf(run->key, sizeof run->key, "key:%.150s", api_key);
	cJSON *req = cJSON_ParseWithLength(body, len);
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(req, "messages");
	const cJSON *stream = cJSON_GetObjectItemCaseSensitive(req, "stream");
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(req, "metadata");
	if (!cJSON_IsObject(req)) {
		set_error(o, 400, "INVALID_INPUT", "body: expected a JSON object");
		goto done;
	}
	if (!cJSON_IsString(model) || !model->valuestring[0]) {
		set_error(o, 400, "INVALID_INPUT",
		          "model: required string (a route or an upstream)");
		goto done;
	}
	if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0) {
		set_error(o, 400, "INVALID_INPUT", "messages: required non-empty array");
		goto done;
	}
	if (stream && !cJSON_IsBool(stream)) {
		set_error(o, 400, "INVALID_INPUT", "stream: expected boolean");
		goto done;
	}
	if (metadata && !cJSON_IsNull(metadata) && !cJSON_IsObject(metadata)) {
		set_error(o, 400, "INVALID_INPUT", "metadata: expected object");
		goto done;
	}
	struct chat_features f = {.last_user = "",
	                          .metadata = cJSON_IsObject(metadata) ? metadata : NULL};
	char *last = NULL, *all = NULL;
	size_t last_len = 0, last_cap = 0, all_len = 0, all_cap = 0;
	int i = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, messages)
	{
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
			set_error(o, 400, "INVALID_INPUT", "messages[%d]: expected {role, content}",
			          i);
			free(last);
			free(all);
			goto done;
		}
		if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) &&
		    !cJSON_IsNull(content)) {
			set_error(o, 400, "INVALID_INPUT",
			          "messages[%d].content: expected string or array of parts", i);
			free(last);
			free(all);
			goto done;
		}
		content_text(content, &all, &all_len, &all_cap);
		if (!strcmp(role->valuestring, "user")) {
			last_len = 0;
			if (last)
				last[0] = '\0';
			content_text(content, &last, &last_len, &last_cap);
		}
		i++;
	}
	f.last_user = last ? last : "";
	f.chars = all ? utf8_chars(all) : 0;
	f.n_messages = i;
	const bool want_stream = cJSON_IsTrue(stream);

	/* the route, or a direct upstream as a one-candidate static route */
	struct route_def *rt = NULL;
	for (int k = 0; k < r->n_routes && !rt; k++)
		if (!strcmp(r->routes[k].name, model->valuestring))
			rt = &r->routes[k];
	if (!rt) {
		for (int k = 0; k < r->n_upstreams && !rt; k++)
			if (!strcmp(r->upstreams[k].name, model->valuestring)) {
				rt = &run->own;
				snprintf(rt->name, sizeof rt->name, "%s", r->upstreams[k].name);
				run->candidates_own[0] = k;
				rt->candidates = run->candidates_own;
				rt->n_candidates = 1;
				rt->fallback = true;
				rt->max_retry_after_s = 2;
				rt->breaker_failures = 3;
				rt->breaker_cooldown_s = 30;
			}
	}
	if (!rt) {
		set_error(o, 404, "MODEL_NOT_FOUND",
		          "model %s: no route or upstream of that name (configure routes: or "
		          "upstreams: in the YAML config)",
		          model->valuestring);
		free(last);
		free(all);
		goto done;
	}
	run->rt = rt;
	snprintf(o->route, sizeof o->route, "%s", rt->name);
	snprintf(o->policy, sizeof o->policy, "%s", policy_name(rt->policy));
	int order[MAX_CANDIDATES];
	int n = policy_order(r, rt, &f, order, o->reason, sizeof o->reason, o->signals,
	                     sizeof o->signals);
	free(last);
	free(all);
	if (n > MAX_CANDIDATES)
		n = MAX_CANDIDATES;
	if (!rt->fallback && rt->policy != POLICY_CASCADE)
		n = 1;
	char note[192];
	if (!budget_check(r, rt, run, critical, order, n, note, sizeof note)) {
		set_error(
		    o, 429, "BUDGET_EXHAUSTED",
		    "route %s: the %s budget is spent (limit %.4f USD%s); try again in the next "
		    "window",
		    rt->name, rt->budget_window, rt->budget_limit_usd,
		    run->key[0] ? " or this key's share" : "");
		state_count(r->deps.state, "refusals", rt->name, "BUDGET_EXHAUSTED", 1);
		goto done;
	}
	size_t rl = strlen(o->reason);
	snprintf(o->reason + rl, sizeof o->reason - rl, "%s", note);

	struct router_state *st = r->deps.state;
	int won = -1;
	if (rt->race >= 2) {
		int k = rt->race < n ? rt->race : n;
		won = race(r, run, req, order, k, o, want_stream);
		if (won >= 0) {
			run->chosen = order[won];
			size_t l = strlen(o->reason);
			snprintf(o->reason + l, sizeof o->reason - l, "; raced %d, %s won", k,
			         cand(r, rt, order[won])->name);
		}
	}
	cJSON *last_good = NULL; /* cascade: the last answer that failed its verifier */
	char *last_good_raw = NULL;
	size_t last_good_len = 0;
	int last_good_c = -1;
	for (int k = 0; won < 0 && k < n; k++) {
		const int c = order[k];
		const struct upstream_def *u = cand(r, rt, c);
		if (k > 0) {
			/* moving on: re-check the budget, count the fallback */
			char note2[192];
			if (!budget_check(r, rt, run, critical, order + k, n - k, note2,
			                  sizeof note2)) {
				set_error(o, 429, "BUDGET_EXHAUSTED",
				          "route %s: the %s budget ran out during fallback",
				          rt->name, rt->budget_window);
				break;
			}
			if (rt->policy != POLICY_CASCADE)
				state_count(st, "fallbacks", rt->name, u->name, 1);
		}
		if (!state_breaker_allows(st, u->name, rt->breaker_cooldown_s)) {
			add_attempt(run, c, 0, 0, "breaker open");
			continue;
		}
		if (!state_concurrency_take(st, u->name, u->max_concurrency)) {
			add_attempt(run, c, 0, 0, "at max concurrency (%d)", u->max_concurrency);
			continue;
		}
		bool done_here = false;
		for (int a = 0; a <= rt->retries && !done_here; a++) {
			int http = 0, ra = -1;
			const bool passthrough =
			    want_stream && !rt->has_verifier && rt->policy != POLICY_CASCADE;
			if (passthrough) {
				if (try_stream(r, run, c, req, o, &http, &ra)) {
					state_breaker_record(st, u->name, true,
					                     rt->breaker_failures);
					run->chosen = c;
					run->stream_taken = true;
					won = k;
					done_here = true;
					break;
				}
			} else {
				char *raw = NULL;
				size_t raw_len = 0;
				cJSON *doc =
				    call_once(r, run, c, req, NULL, &http, &ra, &raw, &raw_len);
				if (doc) {
					state_breaker_record(st, u->name, true,
					                     rt->breaker_failures);
					const char *content = answer_content(doc);
					char why[160] = "";
					if (rt->has_verifier &&
					    !verifier_check(&rt->verifier, content, strlen(content),
					                    why, sizeof why)) {
						/* escalate: keep this answer in case nothing better comes */
						snprintf(run->attempts[run->n_attempts - 1].what,
						         sizeof run->attempts[0].what,
						         "verifier: %s", why);
						state_count(st, "escalations", rt->name, u->name,
						            1);
						cJSON_Delete(last_good);
						free(last_good_raw);
						last_good = doc;
						last_good_raw = raw;
						last_good_len = raw_len;
						last_good_c = c;
						done_here = true; /* next candidate */
						break;
					}
					take_answer(o, doc, raw, raw_len, want_stream);
					cJSON_Delete(doc);
					free(raw);
					run->chosen = c;
					won = k;
					done_here = true;
					break;
				}
			}
			const bool again =
			    retryable(http ? UPSTREAM_DONE : UPSTREAM_FAILED, http) || http == 0;
			state_breaker_record(st, u->name, false, rt->breaker_failures);
			if (!again) { /* the request itself was refused: do not insist elsewhere */
				set_error(o, 502, "UPSTREAM_ERROR",
				          "candidate %s refused the request (HTTP %d)", u->name,
				          http);
				done_here = true;
				k = n;
				break;
			}
			if (a < rt->retries) {
				if (ra > rt->max_retry_after_s)
					break; /* longer than we wait: next candidate */
				if (ra > 0)
					usleep((useconds_t)ra * 1000000u);
				if (!state_breaker_allows(st, u->name, rt->breaker_cooldown_s))
					break;
			}
		}
		if (!run->stream_taken)
			state_concurrency_release(st, u->name);
	}
	if (won < 0 && last_good) {
		/* every candidate failed the verifier: the last (strongest) answer stands */
		take_answer(o, last_good, last_good_raw, last_good_len, want_stream);
		run->chosen = last_good_c;
		size_t l = strlen(o->reason);
		snprintf(o->reason + l, sizeof o->reason - l,
		         "; no answer passed the verifier, the last one stands");
		o->error_code = NULL;
	}
	cJSON_Delete(last_good);
	free(last_good_raw);
	if (run->chosen < 0 && !o->error_code) {
		int open_breakers = 0;
		for (int a = 0; a < run->n_attempts; a++)
			open_breakers += !strcmp(run->attempts[a].what, "breaker open");
		if (open_breakers == run->n_attempts && run->n_attempts > 0)
			set_error(
			    o, 503, "UPSTREAM_UNAVAILABLE",
			    "route %s: every candidate's circuit breaker is open; retry later",
			    rt->name);
		else
			set_error(
			    o, 502, "UPSTREAM_ERROR",
			    "route %s: all %d attempt(s) failed; last: %s: %s", rt->name,
			    run->n_attempts,
			    run->n_attempts
			        ? cand(r, rt, run->attempts[run->n_attempts - 1].candidate)->name
			        : "-",
			    run->n_attempts ? run->attempts[run->n_attempts - 1].what : "none");
		if (o->http_status == 503)
			o->retry_after_s = rt->breaker_cooldown_s > 0 ? rt->breaker_cooldown_s : 1;
		state_count(st, "refusals", rt->name, o->error_code, 1);
	}
	if (run->chosen >= 0) {
		const struct upstream_def *u = cand(r, rt, run->chosen);
		snprintf(o->model, sizeof o->model, "%s", u->name);
		state_count(st, "decisions", rt->name, u->name, 1);
		if (!o->stream_call)
			account(r, rt, run, o, u);
	}
done:
	o->attempts = run->n_attempts;
	cJSON_Delete(req);
	if (!o->stream_call) {
		o->latency_ms = (double)(sy_now_ns() - run->t0) / 1e6;
		write_log(r, run, o);
	}
}

void router_chat_finish(struct router *r, struct chat_outcome *o)
{
	struct chat_run *run = o->priv;
	if (o->stream_call && run && run->rt) {
		const char *data;
		size_t len;
		upstream_call_wait_data(o->stream_call, (size_t)-1, 0, &data, &len);
		/* the last SSE event with usage */
		for (const char *p = data; (p = strstr(p, "data: ")); p += 6) {
			const char *end = strstr(p, "\n");
			size_t n = end ? (size_t)(end - p - 6) : strlen(p + 6);
			cJSON *ev = cJSON_ParseWithLength(p + 6, n);
			if (ev)
				find_usage(ev, &o->prompt_tokens, &o->completion_tokens);
			cJSON_Delete(ev);
		}
		const struct upstream_def *u = cand(r, run->rt, run->chosen);
		account(r, run->rt, run, o, u);
		if (run->stream_taken)
			state_concurrency_release(r->deps.state, u->name);
		o->latency_ms = (double)(sy_now_ns() - run->t0) / 1e6;
		write_log(r, run, o);
	}
	upstream_call_free(o->stream_call);
	o->stream_call = NULL;
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
			const struct upstream_def *u = cand(r, rt, k);
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
