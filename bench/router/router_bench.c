/* Routing overhead (issue 7's targets: rules < 50 us, semantic < 5 ms per request): times the
 * policy decision alone (router policy_order) for a rules route with six rules over a realistic
 * request, and for a semantic route embedding the request with USE-lite against 30 example
 * utterances; prints the median and p99 over many requests. Built and run by bench/router/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "router/router_internal.h"

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, cmp_d);
	printf("%-9s %6d requests  median %9.2f us  p99 %9.2f us\n", name, n, t[n / 2],
	       t[(int)(n * 0.99)]);
}

int main(void)
{
	const char *yaml =
	    "upstreams:\n  small: {base_url: http://127.0.0.1:1/v1}\n  big: {base_url: "
	    "http://127.0.0.1:1/v1}\n"
	    "routes:\n  triage:\n    policy: rules\n    candidates: [small, big]\n    default: "
	    "small\n"
	    "    rules:\n"
	    "      - {if: {keywords: [refund, invoice, chargeback, dispute, lawyer]}, then: big}\n"
	    "      - {if: {regex: \"(?i)\\\\b(python|rust|sql|kubernetes)\\\\b\"}, then: big}\n"
	    "      - {if: {min_length: 4000}, then: big}\n"
	    "      - {if: {metadata: {tier: premium}}, then: big}\n"
	    "      - {if: {tags: [vip]}, then: big}\n"
	    "      - {if: {min_messages: 12}, then: big}\n"
	    "  topics:\n    policy: semantic\n    candidates: [small, big]\n    default: small\n"
	    "    semantic:\n      encoder: use-lite\n      threshold: 0.3\n      examples:\n"
	    "        big: [\"write a python function\", \"debug my program\", \"fix this code\", "
	    "\"explain "
	    "this stack trace\", \"optimise my sql query\", \"prove this theorem\", \"derive the "
	    "gradient\", \"review my pull request\", \"design a database schema\", \"translate "
	    "this "
	    "legal contract\", \"summarise this research paper\", \"plan a migration to "
	    "kubernetes\", "
	    "\"write unit tests\", \"refactor this class\", \"find the bug\"]\n"
	    "        small: [\"hello there\", \"how are you today\", \"good morning\", \"thanks\", "
	    "\"what "
	    "time is it\", \"tell me a joke\", \"what's the weather\", \"say hi\", \"ok\", "
	    "\"cool\", "
	    "\"nice one\", \"bye\", \"see you\", \"good night\", \"who are you\"]\n";
	struct engine_config ec = engine_default_config();
	ec.n_threads = 1;
	struct engine *e = NULL;
	struct sy_error err = {0};
	if (engine_create(&ec, &err, &e) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	struct router_state *st = NULL;
	router_state_create(&err, &st);
	struct router_deps deps = {.engine = e, .state = st};
	struct router *r = NULL;
	if (router_load_text("bench", yaml, strlen(yaml), &deps, &err, &r) != SY_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	static const char *const texts[] = {
	    "Hi! I bought a jacket last week and it arrived torn. Can I get a refund or an "
	    "exchange?",
	    "Could you help me understand why my Python script raises a KeyError on line 40?",
	    "What's a good name for a golden retriever puppy?",
	    "Please summarise the attached meeting notes in three bullet points for my manager.",
	};
	int order[4];
	char reason[384], signals[512];
	enum { N_RULES = 20000, N_SEM = 400 };
	static double t[N_RULES];
	struct route_def *rules = &r->routes[0], *sem = &r->routes[1];
	for (int i = 0; i < N_RULES; i++) {
		struct chat_features f = {.last_user = texts[i % 4], .chars = 600, .n_messages = 3};
		uint64_t t0 = sy_now_ns();
		policy_order(r, rules, &f, order, reason, sizeof reason, signals, sizeof signals);
		t[i] = (double)(sy_now_ns() - t0) / 1e3;
	}
	report("rules", t, N_RULES);
	struct chat_features warm = {.last_user = "warm up", .chars = 7, .n_messages = 1};
	policy_order(r, sem, &warm, order, reason, sizeof reason, signals, sizeof signals);
	for (int i = 0; i < N_SEM; i++) {
		struct chat_features f = {.last_user = texts[i % 4], .chars = 600, .n_messages = 3};
		uint64_t t0 = sy_now_ns();
		policy_order(r, sem, &f, order, reason, sizeof reason, signals, sizeof signals);
		t[i] = (double)(sy_now_ns() - t0) / 1e3;
	}
	report("semantic", t, N_SEM);
	printf("last semantic decision: %s\n", reason);
	router_free(r);
	router_state_free(st);
	engine_destroy(e);
	return 0;
}
