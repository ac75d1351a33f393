/* The stages of one /v1/chat/completions request through a route (router.h), for the chat files
 * only. router_chat (chat.c) runs them in order over one struct chat_run:
 *
 *   parse    (chat_parse.c)    the body -> struct chat_request: route name, messages and the
 *                              text signals the policies read, stream flag, metadata, the
 *                              parameters forwarded to upstreams;
 *   decide   (chat_decide.c)   the route (or a direct upstream), the policy's ordered candidate
 *                              list with its reason, the budget check and downgrade;
 *   execute  (chat_execute.c)  racing, the fallback chain with retries and breakers, the cascade
 *                              with its verifier, or a pass-through stream;
 *   account  (chat_account.c)  spend, counters, the outcome's explanation (what the
 *                              x-switchyard-* headers say) and the decision-log line.
 *
 * A streamed answer runs the same stages: execute commits the stream, router_chat_stream_read
 * forwards it, and router_chat_finish runs the account stage once it ended, so a streamed
 * request is counted, charged and logged as a non-streamed one is. */
#ifndef SY_ROUTER_CHAT_INTERNAL_H
#define SY_ROUTER_CHAT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "router/router_internal.h"

#define CHAT_MAX_CANDIDATES ROUTER_MAX_CANDIDATES
#define CHAT_MAX_ATTEMPTS 64

/* What the client asked, as the parse stage read it. */
struct chat_request {
	cJSON *doc; /* the whole body (owned): forwarded to upstreams with the model replaced */
	const char *model; /* the route or upstream named (in doc) */
	const cJSON *messages; /* non-empty array of {role, content} (in doc) */
	const cJSON *metadata; /* object, or NULL (in doc) */
	bool stream;
	/* text signals for the policies */
	char *last_user; /* text of the last user message (owned; NULL when none) */
	long chars; /* characters over all messages */
	int n_messages;
	/* the caller */
	char key[160]; /* "key:<api key>" for per-key budgets, "" when anonymous */
	char request_id[136]; /* the answer's X-Request-ID, "" when none */
	bool critical; /* exempt from budget downgrades */
};

struct chat_attempt {
	int candidate; /* index into the route's candidates */
	int http_status;
	double ms;
	char what[96]; /* "ok", "timeout", "http 503", "verifier: ...", "cancelled" */
	bool skipped; /* passed over without a call (breaker open, rate or concurrency limit) */
};

/* Per-request state, kept in chat_outcome.priv until router_chat_finish. */
struct chat_run {
	struct chat_request req;
	/* decide */
	struct route_def *rt, own; /* own: the synthetic route of a direct upstream call */
	int candidates_own[1];
	int order[CHAT_MAX_CANDIDATES]; /* candidate indices, best first */
	int n_order;
	/* execute */
	struct chat_attempt attempts[CHAT_MAX_ATTEMPTS];
	int n_attempts;
	int chosen; /* candidate that answered, or -1 */
	int arm; /* the A/B split's arm (a candidate index), or -1 */
	int tier; /* the budget tier applied (index), or -1 */
	char policy_reason[384]; /* the policy's reason when the header's had to be rewritten */
	bool stream_taken; /* concurrency slot held by the committed stream */
	const char *refusal; /* the refusals counter to add when accounting (an error code) */
	int n_rate_limited; /* candidates skipped at their rpm/tpm limit */
	char upstream_error[256]; /* the last refusing upstream's error message, "" none */
	/* why the request could not be put in a candidate's wire format (an Anthropic or Gemini
	 * upstream refusing an image, n, seed or response_format it cannot take), "" none */
	char untranslatable[SY_ERROR_MSG_LEN];
	int rate_retry_after_s; /* the soonest of them frees up in this many seconds */
	/* a committed stream */
	struct upstream_call *stream; /* the pass-through call, or NULL */
	size_t stream_sent; /* bytes of the upstream's stream forwarded (or translated) */
	struct provider_stream *xlate; /* an Anthropic or Gemini stream's translation, or NULL */
	struct sbuf xout; /* translated bytes (OpenAI SSE) */
	size_t xout_sent; /* of xout, bytes given to the client */
	bool xlate_ended; /* provider_stream_end ran */
	bool xlate_complete; /* and said the stream ended properly */
	bool stream_broke; /* it failed or ended before "data: [DONE]" */
	char stream_error[256]; /* why, when it broke off */
	/* the judge (chat_judge.c): its grades in call order, score -1 when it gave none */
	struct {
		int candidate;
		double score;
	} judged[CHAT_MAX_ATTEMPTS];
	int n_judged;
	double judge_cost_usd; /* of its calls, charged by the account stage */
	bool last_in_order; /* the candidate being tried is the order's last (not judged) */
	uint64_t t0; /* sy_now_ns() when the request arrived */
};

/* chat.c */
void chat_error_set(struct chat_outcome *o, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const struct upstream_def *chat_candidate(const struct router *r, const struct route_def *rt,
                                          int i);
/* Appends "; ..." style text to the outcome's reason. */
void chat_reason_append(struct chat_outcome *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parse: fills run->req from the body; false (with the 400 in o) when the body is unusable. */
bool chat_parse(const char *body, size_t len, struct chat_request *req, struct chat_outcome *o);
void chat_request_free(struct chat_request *req);

/* Decide: resolves the route, orders its candidates (run->order, o->reason, o->signals) and
 * checks the budget. False (with the error in o) when nothing may be called. */
bool chat_decide(struct router *r, struct chat_run *run, struct chat_outcome *o);
/* The budget of the route for the candidates order[*n]: false when spent (refused); near the
 * limit, and not for critical requests, reorders them cheapest first (downgrade_at) or maps
 * them to cheaper ones by the highest tier reached (which may shorten *n), writing a note. */
bool chat_budget_check(struct router *r, const struct route_def *rt, struct chat_run *run,
                       int *order, int *n, char *note, size_t cap);

/* A draw in [0, 1): a hash of request_id (deterministic), or random when random or no id. */
double chat_draw(const char *request_id, bool random);

/* Shadow: when the route has one (and the draw is within its share), sends a copy of the
 * request to it in the background; its answer goes to the decision log and counters only. */
void chat_shadow_start(struct router *r, struct chat_run *run, struct chat_outcome *o);

/* Execute: calls the candidates in order until one answers (o->body, or a committed stream in
 * o->stream_call), setting run->chosen, or sets the error. */
void chat_execute(struct router *r, struct chat_run *run, struct chat_outcome *o);

/* Judge: grades candidate c's answer with the route's judge (rt->judge >= 0), recording the
 * grade and the judge's cost in run; the score (-1 when none) in *score and a phrase (e.g.
 * "judge grader: score 3 < 7") in why. */
enum judge_verdict { JUDGE_PASS, JUDGE_FAIL, JUDGE_ERROR };
enum judge_verdict chat_judge(struct router *r, struct chat_run *run, int c, const char *answer,
                              double *score, char *why, size_t cap);

/* Account: counters, spend and cost (for the chosen candidate), latency, the decision-log line.
 * Runs once per request: at the end of router_chat, or for a stream in router_chat_finish. */
void chat_account(struct router *r, struct chat_run *run, struct chat_outcome *o);
/* Calls made (attempts that were not skipped): x-switchyard-attempts. */
int chat_calls(const struct chat_run *run);
/* The usage numbers of an OpenAI answer (or of one SSE event carrying usage). */
void chat_find_usage(const cJSON *doc, long *in, long *out);
/* The usage of a whole SSE stream: its last event with usage. */
void chat_stream_usage(const char *data, size_t len, long *in, long *out);

#endif
