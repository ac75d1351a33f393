/* The decide stage of a chat request (chat_internal.h): which route the model names (or a
 * direct upstream, as a one-candidate static route), the candidates in the order the route's
 * policy puts them with the reason and signals, and the route's budget: refused when spent,
 * downgraded to the cheapest candidates first when nearly spent (critical requests keep the
 * policy's choice). */
#include <stdio.h>
#include <string.h>

#include "router/chat_internal.h"

/* The route named `name`, or a direct upstream of that name as the run's own one-candidate
 * static route; NULL when neither exists. */
static struct route_def *route_resolve(struct router *r, struct chat_run *run, const char *name)
{
	for (int k = 0; k < r->n_routes; k++)
		if (!strcmp(r->routes[k].name, name))
			return &r->routes[k];
	for (int k = 0; k < r->n_upstreams; k++) {
		if (strcmp(r->upstreams[k].name, name) != 0)
			continue;
		struct route_def *rt = &run->own;
		snprintf(rt->name, sizeof rt->name, "%s", r->upstreams[k].name);
		run->candidates_own[0] = k;
		rt->candidates = run->candidates_own;
		rt->n_candidates = 1;
		rt->fallback = true;
		rt->max_retry_after_s = 2;
		rt->breaker_failures = 3;
		rt->breaker_cooldown_s = 30;
		return rt;
	}
	return NULL;
}

/* Stable sort of order[n], cheapest first (by the sum of the two prices). */
static void order_cheapest_first(const struct router *r, const struct route_def *rt, int *order,
                                 int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--) {
			const struct upstream_def *a = chat_candidate(r, rt, order[j - 1]),
			                          *b = chat_candidate(r, rt, order[j]);
			if (b->price_input + b->price_output < a->price_input + a->price_output) {
				int t = order[j];
				order[j] = order[j - 1];
				order[j - 1] = t;
			}
		}
}

bool chat_budget_check(struct router *r, const struct route_def *rt, const struct chat_run *run,
                       int *order, int n, char *note, size_t cap)
{
	note[0] = '\0';
	if (!rt->budget_window[0])
		return true;
	struct router_state *st = r->deps.state;
	const char *key = run->req.key;
	char rkey[160];
	snprintf(rkey, sizeof rkey, "route:%s", rt->name);
	const double spent = state_spend(st, rkey, rt->budget_window);
	const double kspent = key[0] ? state_spend(st, key, rt->budget_window) : 0;
	if ((rt->budget_limit_usd > 0 && spent >= rt->budget_limit_usd) ||
	    (rt->budget_per_key_usd > 0 && key[0] && kspent >= rt->budget_per_key_usd))
		return false;
	double share = 0;
	if (rt->budget_limit_usd > 0)
		share = spent / rt->budget_limit_usd;
	if (rt->budget_per_key_usd > 0 && key[0] && kspent / rt->budget_per_key_usd > share)
		share = kspent / rt->budget_per_key_usd;
	if (share >= rt->budget_downgrade_at && !run->req.critical && n > 1) {
		order_cheapest_first(r, rt, order, n);
		snprintf(note, cap, "; budget %.0f%% spent: downgraded to %.60s", share * 100,
		         chat_candidate(r, rt, order[0])->name);
	}
	return true;
}

bool chat_decide(struct router *r, struct chat_run *run, struct chat_outcome *o)
{
	const struct chat_request *req = &run->req;
	struct route_def *rt = route_resolve(r, run, req->model);
	if (!rt) {
		chat_error_set(o, 404, "MODEL_NOT_FOUND",
		               "model %s: no route or upstream of that name (configure routes: or "
		               "upstreams: in the YAML config)",
		               req->model);
		return false;
	}
	run->rt = rt;
	snprintf(o->route, sizeof o->route, "%s", rt->name);
	snprintf(o->policy, sizeof o->policy, "%s", policy_name(rt->policy));
	const struct chat_features f = {.last_user = req->last_user ? req->last_user : "",
	                                .chars = req->chars,
	                                .n_messages = req->n_messages,
	                                .metadata = req->metadata};
	int n = policy_order(r, rt, &f, run->order, o->reason, sizeof o->reason, o->signals,
	                     sizeof o->signals);
	if (n > CHAT_MAX_CANDIDATES)
		n = CHAT_MAX_CANDIDATES;
	/* without fallback only the policy's choice is called; a cascade is a chain by nature */
	if (!rt->fallback && rt->policy != POLICY_CASCADE)
		n = 1;
	run->n_order = n;
	char note[192];
	if (!chat_budget_check(r, rt, run, run->order, n, note, sizeof note)) {
		chat_error_set(
		    o, 429, "BUDGET_EXHAUSTED",
		    "route %s: the %s budget is spent (limit %.4f USD%s); try again in the next "
		    "window",
		    rt->name, rt->budget_window, rt->budget_limit_usd,
		    req->key[0] ? " or this key's share" : "");
		run->refusal = "BUDGET_EXHAUSTED";
		return false;
	}
	chat_reason_append(o, "%s", note);
	return true;
}
