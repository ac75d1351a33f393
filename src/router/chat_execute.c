/* The execute stage of a chat request (chat_internal.h): calls the decided candidates until one
 * answers.
 *
 * Racing starts the first `race` candidates at once; the first answer that passes the verifier
 * wins and the others are cancelled. Otherwise the fallback chain walks the order: a candidate
 * whose breaker is open or that is at its concurrency limit is skipped, a retryable failure is
 * retried (honouring Retry-After up to the route's limit) and then moves on, a refusal of the
 * request itself (a 4xx other than 408/409/429/401/403) stops, and the budget is re-checked
 * before each move. In a cascade an answer that fails the verifier escalates to the next
 * candidate; when none passes, the last one stands.
 *
 * A client asking for a stream gets the upstream's stream passed through, committed once its
 * first bytes arrive with a 2xx, unless the route must see the whole answer first (a verifier,
 * a cascade, racing): then the answer is synthesized as one SSE stream. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json_write.h"
#include "router/chat_internal.h"

/* The cascade's fallback: the last answer that failed its verifier. */
struct kept_answer {
	cJSON *doc;
	char *raw;
	size_t raw_len;
	int candidate; /* -1 when none */
};

static void add_attempt(struct chat_run *run, int c, int status, double ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add_attempt(struct chat_run *run, int c, int status, double ms, const char *fmt, ...)
{
	if (run->n_attempts >= CHAT_MAX_ATTEMPTS)
		return;
	struct chat_attempt *a = &run->attempts[run->n_attempts++];
	a->candidate = c;
	a->http_status = status;
	a->ms = ms;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->what, sizeof a->what, fmt, ap);
	va_end(ap);
	a->skipped = false;
}

/* A candidate passed over without calling it (breaker open, at its rate or concurrency limit,
 * not started): in the decision log's attempts, not in x-switchyard-attempts. */
#define add_skip(run, c, ...)                                                  \
	do {                                                                   \
		add_attempt(run, c, 0, 0, __VA_ARGS__);                        \
		if ((run)->n_attempts > 0)                                     \
			(run)->attempts[(run)->n_attempts - 1].skipped = true; \
	} while (0)

/* Whether a finished call failed in a way another try may fix. */
static bool retryable(enum upstream_state st, int http)
{
	return st == UPSTREAM_FAILED || http == 408 || http == 409 || http == 429 || http >= 500 ||
	       http == 401 || http == 403;
}

/* Starts the request on candidate u (the client's body in u's wire format, with u's model and
 * the stream flag; no metadata); NULL with err set when it could not start. */
static struct upstream_call *start_call(struct router *r, const struct upstream_def *u,
                                        const cJSON *req, bool stream, struct sy_error *err)
{
	cJSON *copy = cJSON_Duplicate(req, true);
	if (!copy) {
		sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		return NULL;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "metadata");
	struct upstream_call *call = NULL;
	/* a stream waits for a client that reads slowly */
	struct provider p = router_upstream_provider(u);
	p.stream_window = (size_t)1 << 20;
	enum sy_status s = provider_chat_start(r->deps.upstream, &p, copy, stream, err, &call);
	cJSON_Delete(copy);
	return s == SY_OK ? call : NULL;
}

/* A 2xx answer of candidate u as an OpenAI chat completion (NULL when it is not one), with its
 * JSON text in *raw (malloc'd). */
static cJSON *answer_parse(const struct upstream_def *u, const struct upstream_result *res,
                           char **raw, size_t *raw_len)
{
	*raw = NULL;
	*raw_len = 0;
	cJSON *doc = provider_chat_answer(u->kind, res->body, res->body_len);
	if (!doc || !provider_answer_text(doc)) {
		cJSON_Delete(doc);
		return NULL;
	}
	if (u->kind == UPSTREAM_KIND_OPENAI) {
		*raw = malloc(res->body_len + 1);
		if (*raw) {
			memcpy(*raw, res->body, res->body_len);
			(*raw)[res->body_len] = '\0';
			*raw_len = res->body_len;
		}
	} else {
		*raw = cJSON_PrintUnformatted(doc);
		*raw_len = *raw ? strlen(*raw) : 0;
	}
	return doc;
}

/* Records an upstream's error message (its body's error.message) for the refusal. */
static void note_error(struct chat_run *run, const struct upstream_result *res)
{
	provider_error_message(res->body, res->body_len, run->upstream_error,
	                       sizeof run->upstream_error);
}

/* A non-streamed answer as an SSE stream (for a client that asked stream:true while the
 * route needed the whole answer first: cascade, racing, verifiers). */
static void synthesize_sse(const cJSON *doc, struct sbuf *b)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
	const char *content = provider_answer_text(doc);
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
	chat_find_usage(doc, &o->prompt_tokens, &o->completion_tokens);
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

/* A call to candidate c that could not start: a request the candidate's wire format cannot
 * say (err's status SY_ERR_INVALID_ARG) is the client's fault and stops the chain as a 400
 * (*http = 400, run->untranslatable says why); anything else is a skip. */
static void not_started(struct chat_run *run, int c, const struct sy_error *err, int *http)
{
	if (err->status != SY_ERR_INVALID_ARG) {
		add_skip(run, c, "not started: %s", err->msg);
		return;
	}
	add_attempt(run, c, 400, 0, "not sent: %.80s", err->msg);
	snprintf(run->untranslatable, sizeof run->untranslatable, "%s", err->msg);
	*http = 400;
}

/* One non-streamed call to candidate c: returns the parsed answer (caller deletes, with *raw)
 * or NULL, recording the attempt. *http gets the status (502 for a malformed answer, 0 when
 * there was none), *retry_after the upstream's Retry-After (or -1). */
static cJSON *call_once(struct router *r, struct chat_run *run, int c, int *http, int *retry_after,
                        char **raw, size_t *raw_len)
{
	const struct upstream_def *u = chat_candidate(r, run->rt, c);
	*http = 0;
	*retry_after = -1;
	struct sy_error err = {0};
	struct upstream_call *call = start_call(r, u, run->req.doc, false, &err);
	if (!call) {
		not_started(run, c, &err, http);
		return NULL;
	}
	enum upstream_state s = upstream_call_wait(call, -1);
	struct upstream_result res;
	upstream_call_result(call, &res);
	*http = res.http_status;
	*retry_after = res.retry_after_s;
	cJSON *doc = NULL;
	if (s == UPSTREAM_DONE && res.http_status / 100 == 2) {
		doc = answer_parse(u, &res, raw, raw_len);
		if (!doc) {
			add_attempt(run, c, res.http_status, res.total_ms, "malformed answer");
			*http = 502;
		} else {
			add_attempt(run, c, res.http_status, res.total_ms, "ok");
		}
	} else if (s == UPSTREAM_DONE) {
		add_attempt(run, c, res.http_status, res.total_ms, "http %d", res.http_status);
		note_error(run, &res);
	} else {
		add_attempt(run, c, 0, res.total_ms, "%s", res.error);
	}
	upstream_call_free(call);
	return doc;
}

/* Streams candidate c's answer through: starts it and waits for the first bytes; commits
 * (returns true, the call in run->stream) when the answer is a 2xx, else records the failure. */
static bool try_stream(struct router *r, struct chat_run *run, int c, struct chat_outcome *o,
                       int *http, int *retry_after)
{
	const struct upstream_def *u = chat_candidate(r, run->rt, c);
	struct sy_error err = {0};
	struct upstream_call *call = start_call(r, u, run->req.doc, true, &err);
	*http = 0;
	*retry_after = -1;
	if (!call) {
		not_started(run, c, &err, http);
		return false;
	}
	const char *data;
	size_t len;
	enum upstream_state s = upstream_call_wait_data(call, 0, -1, &data, &len);
	struct upstream_result res;
	upstream_call_result(call, &res);
	if (len > 0 && res.http_status / 100 == 2) {
		add_attempt(run, c, res.http_status, res.ttfb_ms, "streaming");
		run->stream = call;
		if (u->kind != UPSTREAM_KIND_OPENAI)
			run->xlate = provider_stream_create(u->kind, u->model);
		o->stream = true;
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
	else if (s == UPSTREAM_DONE) {
		add_attempt(run, c, res.http_status, res.total_ms, "http %d", res.http_status);
		note_error(run, &res);
	} else
		add_attempt(run, c, 0, res.total_ms, "%s", res.error);
	upstream_call_free(call);
	return false;
}

/* Whether candidate u is within its rpm/tpm limits (and takes one request); when not, records
 * the skipped attempt and when it frees up. */
static bool rate_allows(struct router *r, struct chat_run *run, int c, const struct upstream_def *u)
{
	int wait = 0;
	if (state_rate_take(r->deps.state, u->name, u->rpm, u->tpm, &wait))
		return true;
	add_skip(run, c, "rate limited");
	state_count(r->deps.state, "rate_limited", run->rt->name, u->name, 1);
	if (run->n_rate_limited++ == 0 || wait < run->rate_retry_after_s)
		run->rate_retry_after_s = wait;
	return false;
}

/* Racing: the first `n` candidates of the order at once; the first answer that passes the
 * verifier wins and the others are cancelled. Returns the winner's index in the order or -1. */
static int race(struct router *r, struct chat_run *run, int n, struct chat_outcome *o)
{
	const struct route_def *rt = run->rt;
	struct upstream_call *calls[CHAT_MAX_CANDIDATES] = {0};
	int idx[CHAT_MAX_CANDIDATES];
	int m = 0;
	for (int i = 0; i < n && m < CHAT_MAX_CANDIDATES; i++) {
		const struct upstream_def *u = chat_candidate(r, rt, run->order[i]);
		if (!state_breaker_allows(r->deps.state, u->name, rt->breaker_cooldown_s)) {
			add_skip(run, run->order[i], "breaker open");
			continue;
		}
		if (!rate_allows(r, run, run->order[i], u))
			continue;
		struct sy_error err = {0};
		calls[m] = start_call(r, u, run->req.doc, false, &err);
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
			const int c = run->order[idx[k]];
			const struct upstream_def *u = chat_candidate(r, rt, c);
			char *raw = NULL;
			size_t raw_len = 0;
			cJSON *doc = res.http_status / 100 == 2
			                 ? answer_parse(u, &res, &raw, &raw_len)
			                 : NULL;
			const char *content = doc ? provider_answer_text(doc) : NULL;
			char why[160] = "";
			if (content && (!rt->has_verifier ||
			                verifier_check(&rt->verifier, content, strlen(content), why,
			                               sizeof why))) {
				add_attempt(run, c, res.http_status, res.total_ms, "won the race");
				state_breaker_record(r->deps.state, u->name, true,
				                     rt->breaker_failures);
				take_answer(o, doc, raw, raw_len, run->req.stream);
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
			free(raw);
			upstream_call_free(calls[k]);
			calls[k] = NULL;
			open--;
		}
	}
	for (int k = 0; k < m; k++)
		if (calls[k]) {
			upstream_call_cancel(calls[k]);
			add_attempt(run, run->order[idx[k]], 0, 0, "cancelled (lost the race)");
			upstream_call_free(calls[k]);
		}
	return winner;
}

enum try_result {
	TRY_WON, /* the answer is in the outcome (or the stream committed) */
	TRY_ESCALATE, /* an answer failed the verifier: kept, go to the next candidate */
	TRY_FAILED, /* no answer: *http and *retry_after say why */
};

/* One attempt on candidate c. */
static enum try_result try_candidate(struct router *r, struct chat_run *run, int c,
                                     struct chat_outcome *o, struct kept_answer *kept, int *http,
                                     int *retry_after)
{
	const struct route_def *rt = run->rt;
	const struct upstream_def *u = chat_candidate(r, rt, c);
	struct router_state *st = r->deps.state;
	/* a verifier or a cascade must see the whole answer before the client gets any of it */
	if (run->req.stream && !rt->has_verifier && rt->judge < 0 && rt->policy != POLICY_CASCADE) {
		if (!try_stream(r, run, c, o, http, retry_after))
			return TRY_FAILED;
		state_breaker_record(st, u->name, true, rt->breaker_failures);
		run->stream_taken = true;
		return TRY_WON;
	}
	char *raw = NULL;
	size_t raw_len = 0;
	cJSON *doc = call_once(r, run, c, http, retry_after, &raw, &raw_len);
	if (!doc)
		return TRY_FAILED;
	state_breaker_record(st, u->name, true, rt->breaker_failures);
	const char *content = provider_answer_text(doc);
	char why[160] = "";
	if (rt->has_verifier &&
	    !verifier_check(&rt->verifier, content, strlen(content), why, sizeof why)) {
		/* escalate: keep this answer in case nothing better comes */
		snprintf(run->attempts[run->n_attempts - 1].what, sizeof run->attempts[0].what,
		         "verifier: %s", why);
		state_count(st, "escalations", rt->name, u->name, 1);
		cJSON_Delete(kept->doc);
		free(kept->raw);
		*kept = (struct kept_answer){doc, raw, raw_len, c};
		return TRY_ESCALATE;
	}
	/* the judge grades an answer that passed the verifier, unless nothing is left to escalate to
	 * (the last answer stands whatever its grade) */
	if (rt->judge >= 0 && !run->last_in_order) {
		double score;
		const int a = run->n_attempts - 1;
		enum judge_verdict v = chat_judge(r, run, c, content, &score, why, sizeof why);
		const bool escalate =
		    v == JUDGE_FAIL || (v == JUDGE_ERROR && rt->judge_escalate_on_error);
		snprintf(run->attempts[a].what, sizeof run->attempts[0].what, "%s%s",
		         v == JUDGE_ERROR && !escalate ? "accepted; " : "", why);
		if (escalate) {
			state_count(st, "escalations", rt->name, u->name, 1);
			cJSON_Delete(kept->doc);
			free(kept->raw);
			*kept = (struct kept_answer){doc, raw, raw_len, c};
			return TRY_ESCALATE;
		}
	}
	take_answer(o, doc, raw, raw_len, run->req.stream);
	cJSON_Delete(doc);
	free(raw);
	return TRY_WON;
}

enum candidate_result {
	CANDIDATE_WON,
	CANDIDATE_NEXT, /* failed, or escalated: the chain moves on */
	CANDIDATE_STOP, /* the request itself was refused: the chain stops (error set) */
};

/* Candidate c with its retries. */
static enum candidate_result run_candidate(struct router *r, struct chat_run *run, int c,
                                           struct chat_outcome *o, struct kept_answer *kept)
{
	const struct route_def *rt = run->rt;
	const struct upstream_def *u = chat_candidate(r, rt, c);
	struct router_state *st = r->deps.state;
	for (int a = 0; a <= rt->retries; a++) {
		int http = 0, ra = -1;
		enum try_result t = try_candidate(r, run, c, o, kept, &http, &ra);
		if (t == TRY_WON)
			return CANDIDATE_WON;
		if (t == TRY_ESCALATE)
			return CANDIDATE_NEXT;
		const bool again =
		    retryable(http ? UPSTREAM_DONE : UPSTREAM_FAILED, http) || http == 0;
		if (run->untranslatable[0]) { /* the client's fault, not the candidate's */
			chat_error_set(o, 400, "INVALID_INPUT",
			               "candidate %s (%s upstream) cannot take this request: %s",
			               u->name, upstream_kind_name(u->kind), run->untranslatable);
			return CANDIDATE_STOP;
		}
		state_breaker_record(st, u->name, false, rt->breaker_failures);
		if (!again) { /* the request itself was refused: do not insist elsewhere */
			chat_error_set(o, 502, "UPSTREAM_ERROR",
			               "candidate %s refused the request (HTTP %d%s%.300s)",
			               u->name, http, run->upstream_error[0] ? ": " : "",
			               run->upstream_error);
			return CANDIDATE_STOP;
		}
		if (a < rt->retries) {
			if (ra > rt->max_retry_after_s)
				return CANDIDATE_NEXT; /* longer than we wait */
			if (ra > 0)
				usleep((useconds_t)ra * 1000000u);
			if (!state_breaker_allows(st, u->name, rt->breaker_cooldown_s))
				return CANDIDATE_NEXT;
			if (!rate_allows(r, run, c, u)) /* a retry is a request too */
				return CANDIDATE_NEXT;
		}
	}
	return CANDIDATE_NEXT;
}

/* The fallback chain from the order's index `from`: returns the index that answered or -1. */
static int fallback_chain(struct router *r, struct chat_run *run, int from, struct chat_outcome *o,
                          struct kept_answer *kept)
{
	const struct route_def *rt = run->rt;
	struct router_state *st = r->deps.state;
	for (int k = from; k < run->n_order; k++) {
		if (k > 0) {
			/* moving on: re-check the budget (it may downgrade the rest) */
			char note[192];
			int rest = run->n_order - k;
			const bool within =
			    chat_budget_check(r, rt, run, run->order + k, &rest, note, sizeof note);
			run->n_order = k + rest;
			if (within && note[0])
				chat_reason_append(o, "%s", note);
			if (!within) {
				chat_error_set(o, 429, "BUDGET_EXHAUSTED",
				               "route %s: the %s budget ran out during fallback",
				               rt->name, rt->budget_window);
				return -1;
			}
		}
		const int c = run->order[k];
		const struct upstream_def *u = chat_candidate(r, rt, c);
		if (k > 0 && rt->policy != POLICY_CASCADE)
			state_count(st, "fallbacks", rt->name, u->name, 1);
		if (!state_breaker_allows(st, u->name, rt->breaker_cooldown_s)) {
			add_skip(run, c, "breaker open");
			continue;
		}
		if (!rate_allows(r, run, c, u))
			continue;
		if (!state_concurrency_take(st, u->name, u->max_concurrency)) {
			add_skip(run, c, "at max concurrency (%d)", u->max_concurrency);
			continue;
		}
		run->last_in_order = k == run->n_order - 1;
		enum candidate_result res = run_candidate(r, run, c, o, kept);
		if (!run->stream_taken) /* a committed stream holds its slot until it ends */
			state_concurrency_release(st, u->name);
		if (res == CANDIDATE_WON) {
			run->chosen = c;
			return k;
		}
		if (res == CANDIDATE_STOP)
			return -1;
	}
	return -1;
}

/* No candidate answered and no error was set yet: 503 when every breaker was open, else 502
 * naming the last failure. */
static void set_failure(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	const struct route_def *rt = run->rt;
	const int n = run->n_attempts;
	int open_breakers = 0;
	for (int a = 0; a < n; a++)
		open_breakers += !strcmp(run->attempts[a].what, "breaker open");
	if (run->n_rate_limited > 0 && open_breakers + run->n_rate_limited == n) {
		/* nothing was called: every candidate was at its rate limit (or its breaker open) */
		chat_error_set(o, 429, "RATE_LIMITED",
		               "route %s: every candidate is at its rate limit; retry in %d s",
		               rt->name, run->rate_retry_after_s);
		o->retry_after_s = run->rate_retry_after_s;
	} else if (open_breakers == n && n > 0) {
		chat_error_set(o, 503, "UPSTREAM_UNAVAILABLE",
		               "route %s: every candidate's circuit breaker is open; retry later",
		               rt->name);
		o->retry_after_s = rt->breaker_cooldown_s > 0 ? rt->breaker_cooldown_s : 1;
	} else {
		chat_error_set(o, 502, "UPSTREAM_ERROR",
		               "route %s: all %d attempt(s) failed; last: %s: %s", rt->name, n,
		               n ? chat_candidate(r, rt, run->attempts[n - 1].candidate)->name
		                 : "-",
		               n ? run->attempts[n - 1].what : "none");
	}
	run->refusal = o->error_code;
}

/* When the policy's choice was passed over without a call (its breaker open, at a limit) and
 * another candidate answered, the reason must not name a candidate that was not used: it says
 * which one answered and why the choice was skipped; the policy's own reason stays in the
 * decision log (policy_reason). */
static void reason_fix(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	const int first = run->order[0];
	if (run->chosen == first || run->n_order == 0)
		return;
	const char *why = NULL;
	for (int a = 0; a < run->n_attempts; a++)
		if (run->attempts[a].candidate == first) {
			if (!run->attempts[a].skipped)
				return; /* it was called and failed: a fallback the reason may name */
			why = run->attempts[a].what;
		}
	if (!why)
		return;
	snprintf(run->policy_reason, sizeof run->policy_reason, "%s", o->reason);
	snprintf(o->reason, sizeof o->reason,
	         "%s: %s answered; the policy's choice was skipped without a call (%.60s)",
	         o->policy, chat_candidate(r, run->rt, run->chosen)->name, why);
}

/* The judge's grades into the x-switchyard-judge header and the reason. */
static void judge_explain(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	const struct route_def *rt = run->rt;
	char grades[200] = "";
	size_t n = 0;
	for (int i = 0; i < run->n_judged && n < sizeof grades; i++) {
		const char *name = chat_candidate(r, rt, run->judged[i].candidate)->name;
		if (run->judged[i].score >= 0)
			n += (size_t)snprintf(grades + n, sizeof grades - n, "%s%s=%g",
			                      i ? " " : "", name, run->judged[i].score);
		else
			n += (size_t)snprintf(grades + n, sizeof grades - n, "%s%s=error",
			                      i ? " " : "", name);
	}
	snprintf(o->judge, sizeof o->judge, "%s (threshold %g of %g)", grades, rt->judge_threshold,
	         rt->judge_scale);
	chat_reason_append(o, "; judge %s: %s", r->upstreams[rt->judge].name, o->judge);
}

void chat_execute(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	const struct route_def *rt = run->rt;
	int won = -1;
	if (rt->race >= 2) {
		const int k = rt->race < run->n_order ? rt->race : run->n_order;
		won = race(r, run, k, o);
		if (won >= 0) {
			run->chosen = run->order[won];
			chat_reason_append(o, "; raced %d, %s won", k,
			                   chat_candidate(r, rt, run->chosen)->name);
		}
	}
	struct kept_answer kept = {.candidate = -1};
	if (won < 0)
		won = fallback_chain(r, run, 0, o, &kept);
	if (won < 0 && kept.doc) {
		/* every candidate failed the verifier: the last (strongest) answer stands */
		take_answer(o, kept.doc, kept.raw, kept.raw_len, run->req.stream);
		run->chosen = kept.candidate;
		chat_reason_append(o, "; no answer passed the %s, the last one stands",
		                   rt->judge >= 0 ? "verifier and judge" : "verifier");
		o->error_code = NULL;
	}
	cJSON_Delete(kept.doc);
	free(kept.raw);
	if (run->chosen < 0 && !o->error_code)
		set_failure(r, run, o);
	if (run->chosen >= 0) {
		snprintf(o->model, sizeof o->model, "%s", chat_candidate(r, rt, run->chosen)->name);
		reason_fix(r, run, o);
	}
	if (run->n_judged > 0)
		judge_explain(r, run, o);
}
