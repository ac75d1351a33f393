/* The LLM judge of a route (`judge:` in its config; chat_internal.h): an answer that passed the
 * route's verifier is sent to the judge upstream with the route's rubric as the system message
 * and the question (the last user message) and the answer in the user message, asking for one
 * line "score: N". The first number after "score" in the reply (cand_judge_score, the same
 * reading the evaluation's judge check uses) is compared with the route's threshold: under it
 * the answer escalates to the next candidate as a failed verifier does. A judge that does not
 * answer, is at its rate limit or whose reply holds no score in [0, scale] is an error, which
 * accepts the answer unless the route says on_error: escalate.
 *
 * The judge's calls cost what its usage says at its prices: counted per route and judge
 * (switchyard_router_judge_spend_usd_total, _judge_calls_total), charged to the route's and the
 * caller's budget by the account stage, and added to the answer's x-switchyard-cost-usd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sbuf.h"
#include "router/candidates.h"
#include "router/chat_internal.h"

/* The question and the answer are cut to this many bytes in the judge's prompt. */
#define JUDGE_TEXT_MAX 32768

static const char default_rubric[] =
    "You grade an assistant's answer to a user's request. Judge whether it is correct, "
    "complete and helpful.";

static cJSON *judge_request(const struct route_def *rt, const struct upstream_def *ju,
                            const char *question, const char *answer)
{
	struct sbuf t = {0};
	sbuf_printf(&t,
	            "QUESTION:\n%.*s\n\nANSWER TO GRADE:\n%.*s\n\nReply with one line "
	            "\"score: N\", N a number from 0 to %g.",
	            JUDGE_TEXT_MAX, question, JUDGE_TEXT_MAX, answer, rt->judge_scale);
	sbuf_putc(&t, '\0');
	size_t n;
	char *user = sbuf_take(&t, &n);
	cJSON *b = cand_chat_body(ju->model, rt->judge_rubric ? rt->judge_rubric : default_rubric,
	                          user, 16);
	free(user);
	return b;
}

/* Records the grade (score < 0: none) of candidate c. */
static void judged(struct chat_run *run, int c, double score)
{
	if (run->n_judged < CHAT_MAX_ATTEMPTS) {
		run->judged[run->n_judged].candidate = c;
		run->judged[run->n_judged].score = score;
		run->n_judged++;
	}
}

enum judge_verdict chat_judge(struct router *r, struct chat_run *run, int c, const char *answer,
                              double *score, char *why, size_t cap)
{
	const struct route_def *rt = run->rt;
	const struct upstream_def *ju = &r->upstreams[rt->judge];
	struct router_state *st = r->deps.state;
	*score = -1;
	int wait = 0;
	if (!state_rate_take(st, ju->name, ju->rpm, ju->tpm, &wait)) {
		snprintf(why, cap, "judge %s rate limited", ju->name);
		judged(run, c, -1);
		return JUDGE_ERROR;
	}
	cJSON *req = judge_request(rt, ju, run->req.last_user ? run->req.last_user : "", answer);
	struct provider p = router_upstream_provider(ju);
	p.timeout_ms = rt->judge_timeout_ms;
	p.ttfb_timeout_ms = 0;
	struct sy_error err = {0};
	struct upstream_call *call = NULL;
	enum judge_verdict v = JUDGE_ERROR;
	snprintf(why, cap, "judge %s: no answer", ju->name);
	state_count(st, "judge_calls", rt->name, ju->name, 1);
	if (req && provider_chat_start(r->deps.upstream, &p, req, false, &err, &call) == SY_OK) {
		enum upstream_state s = upstream_call_wait(call, rt->judge_timeout_ms + 100);
		struct upstream_result res;
		upstream_call_result(call, &res);
		cJSON *doc = s == UPSTREAM_DONE && res.http_status / 100 == 2
		                 ? provider_chat_answer(ju->kind, res.body, res.body_len)
		                 : NULL;
		const char *content = provider_answer_text(doc);
		long in = 0, out = 0;
		if (doc)
			chat_find_usage(doc, &in, &out);
		const double cost =
		    ((double)in * ju->price_input + (double)out * ju->price_output) / 1e6;
		run->judge_cost_usd += cost;
		state_count(st, "judge_spend_usd", rt->name, ju->name, cost);
		state_rate_tokens(st, ju->name, in + out);
		if (s != UPSTREAM_DONE)
			snprintf(why, cap, "judge %s: %s", ju->name,
			         res.error[0] ? res.error : "no answer");
		else if (!content)
			snprintf(why, cap, "judge %s: HTTP %d without an answer", ju->name,
			         res.http_status);
		else {
			const double sc = cand_judge_score(content);
			if (!(sc >= 0 && sc <= rt->judge_scale))
				snprintf(why, cap, "judge %s: no score in its reply", ju->name);
			else {
				*score = sc;
				v = sc >= rt->judge_threshold ? JUDGE_PASS : JUDGE_FAIL;
				snprintf(why, cap, "judge %s: score %g %s %g", ju->name, sc,
				         v == JUDGE_PASS ? ">=" : "<", rt->judge_threshold);
			}
		}
		cJSON_Delete(doc);
		upstream_call_free(call);
	} else if (req) {
		snprintf(why, cap, "judge %s: not started: %s", ju->name, err.msg);
	}
	cJSON_Delete(req);
	judged(run, c, *score);
	return v;
}
