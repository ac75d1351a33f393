/* The decide stage of a chat request (chat_internal.h): which route the model names (or a
 * direct upstream, as a one-candidate static route), the candidates in the order the route's
 * policy puts them with the reason and signals, an A/B split's arm put first, and the route's
 * budget: refused when spent,
 * downgraded to the cheapest candidates first when nearly spent (critical requests keep the
 * policy's choice). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
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
		rt->shadow = -1;
		rt->judge = -1;
		return rt;
	}
	return NULL;
}

/* A draw in [0, 1): from the request id (FNV-1a, so the same id always gets the same arm), or
 * random (a per-thread xorshift) for `by: random` and requests without an id. */
double chat_draw(const char *request_id, bool random)
{
	if (!random && request_id && request_id[0]) {
		uint64_t h = 1469598103934665603ull;
		for (const unsigned char *p = (const unsigned char *)request_id; *p; p++)
			h = (h ^ *p) * 1099511628211ull;
		h ^= h >> 29; /* FNV's low bits mix poorly; fold the high ones in */
		return (double)(h >> 11) * 0x1p-53;
	}
	/* splitmix64 over a shared counter seeded once from the clock: every call a fresh,
	 * well-mixed draw, whichever thread makes it */
	static _Atomic uint64_t counter;
	uint64_t z = atomic_fetch_add(&counter, 0x9e3779b97f4a7c15ull);
	if (z == 0) {
		uint64_t seed = sy_now_ns() | 1;
		uint64_t expected = 0x9e3779b97f4a7c15ull;
		atomic_compare_exchange_strong(&counter, &expected, seed);
		z = seed;
	}
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1p-53;
}

/* The route's A/B split: draws an arm by weight and moves it to the front of order[n]. */
static void split_apply(struct router *r, const struct route_def *rt, struct chat_run *run,
                        int *order, int n, struct chat_outcome *o)
{
	double sum = 0;
	for (int i = 0; i < rt->n_split; i++)
		sum += rt->split_weights[i];
	const bool random = rt->split_random || !run->req.request_id[0];
	const double u = chat_draw(run->req.request_id, random) * sum;
	int arm = rt->n_split - 1;
	double acc = 0;
	for (int i = 0; i < rt->n_split; i++) {
		acc += rt->split_weights[i];
		if (u < acc && rt->split_weights[i] > 0) {
			arm = i;
			break;
		}
	}
	const int c = rt->split_arms[arm];
	for (int i = 0; i < n; i++)
		if (order[i] == c) {
			memmove(order + 1, order, (size_t)i * sizeof *order);
			order[0] = c;
			break;
		}
	run->arm = c;
	struct sbuf b = {0};
	sbuf_puts(&b, random ? "random" : "request_id");
	for (int i = 0; i < rt->n_split; i++)
		sbuf_printf(&b, " %s=%g", chat_candidate(r, rt, rt->split_arms[i])->name,
		            rt->split_weights[i] / sum);
	snprintf(o->split, sizeof o->split, "%s", b.data ? b.data : "");
	sbuf_free(&b);
	snprintf(o->arm, sizeof o->arm, "%s", chat_candidate(r, rt, c)->name);
	chat_reason_append(o, "; A/B split by %s: arm %s (%.0f%%)",
	                   random ? "random draw" : "request id", o->arm,
	                   100 * rt->split_weights[arm] / sum);
	state_count(r->deps.state, "arms", rt->name, o->arm, 1);
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

/* Budget tiers: the highest tier reached replaces each candidate of order[n] by its cheaper
 * one (a candidate that then appears twice is kept once, at its first place). */
static int tier_apply(const struct router *r, const struct route_def *rt, struct chat_run *run,
                      double share, int *order, int n, char *note, size_t cap)
{
	int k = -1;
	for (int i = 0; i < rt->n_tiers; i++)
		if (share >= rt->tiers[i].at)
			k = i;
	/* a tier maps the candidates once: a re-check during fallback only moves up a tier */
	if (k <= run->tier)
		return n;
	run->tier = k;
	const struct budget_tier *t = &rt->tiers[k];
	char changes[160] = "";
	size_t used = 0;
	int out = 0;
	for (int i = 0; i < n; i++) {
		int c = order[i];
		for (int m = 0; m < t->n_map; m++)
			if (t->from[m] == c) {
				c = t->to[m];
				if (used < sizeof changes)
					used += (size_t)snprintf(
					    changes + used, sizeof changes - used, "%s%s->%s",
					    used ? ", " : "", chat_candidate(r, rt, order[i])->name,
					    chat_candidate(r, rt, c)->name);
				break;
			}
		bool dup = false;
		for (int j = 0; j < out; j++)
			dup |= order[j] == c;
		if (!dup)
			order[out++] = c;
	}
	snprintf(note, cap, "; budget %.0f%% spent: tier %d (at %.2f)%s%.120s", share * 100, k + 1,
	         t->at, changes[0] ? ": " : "", changes);
	return out;
}

bool chat_budget_check(struct router *r, const struct route_def *rt, struct chat_run *run,
                       int *order, int *n_order, char *note, size_t cap)
{
	const int n = *n_order;
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
	if (rt->n_tiers > 0) {
		if (!run->req.critical)
			*n_order = tier_apply(r, rt, run, share, order, n, note, cap);
		return true;
	}
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
	if (rt->n_split > 0)
		split_apply(r, rt, run, run->order, n, o);
	/* without fallback only the policy's choice is called; a cascade is a chain by nature */
	if (!rt->fallback && rt->policy != POLICY_CASCADE)
		n = 1;
	char note[192];
	const bool within = chat_budget_check(r, rt, run, run->order, &n, note, sizeof note);
	run->n_order = n;
	if (!within) {
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
