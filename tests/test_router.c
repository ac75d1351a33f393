/* The routing layer's pieces without a network: verifiers, the logistic-regression classifier
 * (training, prediction, save/load, bad files), config errors naming the line and the key, the
 * rules policy's order and reasons, and the task table's weighted splits. The whole path with
 * upstreams is in tests/integration/chat.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "router/classifier.h"
#include "router/eval.h"
#include "router/router_internal.h"
#include "router/verifier.h"

static void test_verifier(void)
{
	struct verifier v = {.min_length = -1, .max_length = -1, .min_confidence = -1};
	char why[160];
	CHECK(verifier_check(&v, "anything", 8, why, sizeof why));
	v.json = true;
	CHECK(!verifier_check(&v, "not json", 8, why, sizeof why));
	CHECK(strstr(why, "JSON") != NULL);
	CHECK(verifier_check(&v, "{\"a\":1}", 7, why, sizeof why));
	v.schema =
	    cJSON_Parse("{\"type\":\"object\",\"required\":[\"a\",\"b\"],\"properties\":{\"a\":"
	                "{\"type\":\"integer\",\"minimum\":0},\"b\":{\"enum\":[\"x\",\"y\"]},"
	                "\"c\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}");
	const char *good = "{\"a\":3,\"b\":\"x\",\"c\":[\"p\",\"q\"]}";
	CHECK(verifier_check(&v, good, strlen(good), why, sizeof why));
	const char *bad[] = {"{\"a\":3}",
	                     "{\"a\":-1,\"b\":\"x\"}",
	                     "{\"a\":1.5,\"b\":\"x\"}",
	                     "{\"a\":1,\"b\":\"z\"}",
	                     "{\"a\":1,\"b\":\"x\",\"c\":[1]}",
	                     "[1]"};
	const char *frag[] = {"missing required \"b\"",  "out of range",
	                      "expected integer",        "enum",
	                      "$.c[0]: expected string", "expected object"};
	for (int i = 0; i < 6; i++) {
		CHECKF(!verifier_check(&v, bad[i], strlen(bad[i]), why, sizeof why), "%s", bad[i]);
		CHECKF(strstr(why, frag[i]) != NULL, "%s: %s", bad[i], why);
	}
	verifier_free(&v);
	struct verifier w = {.min_length = 3, .max_length = 10, .min_confidence = 0.5};
	CHECK(verifier_set_regex(&w, "^ok", NULL) == SY_OK);
	CHECK(!verifier_check(&w, "ok", 2, why, sizeof why)); /* too short */
	CHECK(!verifier_check(&w, "ok, confidence 0.9 yes", 22, why, sizeof why)); /* too long */
	CHECK(!verifier_check(&w, "no c: 0.9", 9, why, sizeof why)); /* regex */
	CHECK(!verifier_check(&w, "ok sure", 7, why, sizeof why)); /* no confidence */
	CHECK(strstr(why, "no confidence") != NULL);
	w.max_length = 100;
	CHECK(!verifier_check(&w, "ok, confidence: 0.2", 19, why, sizeof why));
	CHECK(verifier_check(&w, "ok, confidence: 0.8", 19, why, sizeof why));
	CHECK(verifier_check(&w, "ok \"confidence\": 75%", 20, why, sizeof why));
	struct sy_error err = {0};
	CHECK(verifier_set_regex(&w, "(unclosed", &err) == SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "(unclosed") != NULL);
	verifier_free(&w);
}

/* Three Gaussian-ish clusters on the unit sphere in 16 dims, deterministic. */
static void make_data(float *X, int *y, int n, int dims, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		y[i] = i % 3;
		double ss = 0;
		for (int d = 0; d < dims; d++) {
			seed = seed * 1103515245u + 12345u;
			double noise = ((seed >> 16) & 0x7fff) / 32768.0 - 0.5;
			float v = (float)(0.6 * noise + (d == y[i] * 5 ? 2.0 : 0.0));
			X[(size_t)i * dims + d] = v;
			ss += (double)v * v;
		}
		for (int d = 0; d < dims; d++)
			X[(size_t)i * dims + d] /= (float)sqrt(ss);
	}
}

static void test_classifier(void)
{
	const int n = 300, D = 16;
	float *X = malloc(sizeof(float) * n * D), *T = malloc(sizeof(float) * n * D);
	int *y = malloc(sizeof(int) * n), *yt = malloc(sizeof(int) * n);
	make_data(X, y, n, D, 7);
	make_data(T, yt, n, D, 99);
	const char *labels[] = {"small", "big", "code"};
	struct sy_error err = {0};
	struct classifier *c = NULL;
	CHECKF(classifier_train(X, y, n, D, labels, 3, NULL, &err, &c) == SY_OK, "%s", err.msg);
	if (!c)
		return;
	int right = 0;
	float p[3];
	for (int i = 0; i < n; i++)
		right += classifier_predict(c, T + (size_t)i * D, p) == yt[i];
	printf("  classifier: held-out accuracy %.3f on 3 synthetic classes\n", (double)right / n);
	CHECK(right > n * 9 / 10);
	CHECK(fabsf(p[0] + p[1] + p[2] - 1) < 1e-5f);
	/* save and load give the same predictions */
	char path[] = "/tmp/sy-classifier-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	snprintf(c->encoder, sizeof c->encoder, "use-lite");
	c->threshold = 0.25;
	CHECK(classifier_save(c, path, &err) == SY_OK);
	struct classifier *l = NULL;
	CHECKF(classifier_load(path, &err, &l) == SY_OK, "%s", err.msg);
	if (l) {
		CHECK_STREQ(l->labels[2], "code");
		CHECK_STREQ(l->encoder, "use-lite");
		CHECK(fabs(l->threshold - 0.25) < 1e-9);
		int same = 0;
		for (int i = 0; i < n; i++)
			same += classifier_predict(l, T + (size_t)i * D, NULL) ==
			        classifier_predict(c, T + (size_t)i * D, NULL);
		CHECK_EQ_INT(same, n);
		classifier_free(l);
	}
	/* bad files and inputs */
	FILE *f = fopen(path, "w");
	fputs("{\"labels\":[\"a\",\"b\"],\"dims\":2,\"W\":[[1,2],[3]],\"b\":[0,0]}", f);
	fclose(f);
	CHECK(classifier_load(path, &err, &l) == SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "W") != NULL);
	f = fopen(path, "w");
	fputs("[]", f);
	fclose(f);
	CHECK(classifier_load(path, &err, &l) == SY_ERR_FORMAT);
	unlink(path);
	CHECK(classifier_load(path, &err, &l) != SY_OK);
	int bad_y[2] = {0, 5};
	CHECK(classifier_train(X, bad_y, 2, D, labels, 3, NULL, &err, &l) == SY_ERR_INVALID_ARG);
	CHECK(classifier_train(X, y, n, D, labels, 1, NULL, &err, &l) == SY_ERR_INVALID_ARG);
	classifier_free(c);
	free(X), free(T), free(y), free(yt);
}

static enum sy_status load(const char *yaml, struct sy_error *err, struct router **r)
{
	struct router_deps deps = {0};
	return router_load_text("t.yaml", yaml, strlen(yaml), &deps, err, r);
}

static void test_config_errors(void)
{
	static const char *const cases[][2] = {
	    {"upstreams:\n  a: {model: x}\n", "line 2: a needs a base_url"},
	    {"upstreams:\n  a: {base_url: u, price_input: -1}\n", "price_input: expected a number"},
	    {"upstreams:\n  a: {base_url: u, colour: red}\n", "colour is not an upstream setting"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r: {policy: magic, candidates: [a]}\n",
	     "policy must be static"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r: {candidates: [a, b]}\n",
	     "candidate \"b\" is not an upstream"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r: {policy: static}\n",
	     "needs candidates"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r:\n    policy: rules\n    candidates: "
	     "[a]\n"
	     "    rules: [{if: {regex: \"(\"}, then: a}]\n",
	     "line 7: regex is not a valid PCRE2 pattern"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r:\n    policy: rules\n    candidates: "
	     "[a]\n"
	     "    rules: [{if: {keywords: [x]}, then: z}]\n",
	     "\"z\" is not one of its candidates"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r: {policy: semantic, candidates: [a]}\n",
	     "needs semantic"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r: {policy: learned, candidates: [a]}\n",
	     "needs a model_file"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r: {candidates: [a], budget: {window: "
	     "weekly}}\n",
	     "window must be hourly, daily or monthly"},
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r: {candidates: [a], budget: {window: "
	     "daily}}\n",
	     "needs limit_usd or per_key_usd"},
	    {"tasks:\n  t: {operation: dance, model: m}\n",
	     "operation must be encode, score or extract"},
	    {"tasks:\n  t: {model: m, splits: [{model: n, weight: 1.5}]}\n",
	     "weight: expected a number"},
	    {"tasks:\n  t: {model: m, splits: [{model: n, weight: 0.7}, {model: o, weight: "
	     "0.6}]}\n",
	     "weights add up to more than 1"},
	    {"routes: [\n", "t.yaml: line"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sy_error err = {0};
		struct router *r = NULL;
		CHECKF(load(cases[i][0], &err, &r) != SY_OK, "case %zu loaded", i);
		CHECKF(strstr(err.msg, cases[i][1]) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
		       err.msg, cases[i][1]);
		router_free(r);
	}
}

static void test_rules_and_tasks(void)
{
	const char *yaml =
	    "upstreams:\n  s: {base_url: u}\n  b: {base_url: u}\n"
	    "routes:\n  r:\n    policy: rules\n    candidates: [s, b]\n    default: s\n"
	    "    rules:\n      - {if: {keywords: [Refund]}, then: b}\n"
	    "      - {if: {max_length: 3}, then: b}\n"
	    "      - {if: {metadata: {tier: gold}, tags: [vip]}, then: b}\n"
	    "tasks:\n  t: {operation: score, model: m, splits: [{model: n, weight: 0.25}]}\n";
	struct sy_error err = {0};
	struct router *r = NULL;
	CHECKF(load(yaml, &err, &r) == SY_OK, "%s", err.msg);
	if (!r)
		return;
	CHECK_EQ_INT(router_n_routes(r), 1);
	CHECK_EQ_INT(router_n_tasks(r), 1);
	struct route_def *rt = &r->routes[0];
	int order[4];
	char reason[256], signals[256];
	struct chat_features f = {.last_user = "I want a REFUND now", .chars = 19, .n_messages = 1};
	CHECK_EQ_INT(policy_order(r, rt, &f, order, reason, sizeof reason, signals, sizeof signals),
	             2);
	CHECK(order[0] == 1 && order[1] == 0);
	CHECKF(strstr(reason, "keyword \"refund\"") != NULL, "%s", reason);
	f = (struct chat_features){.last_user = "hello there", .chars = 11, .n_messages = 1};
	policy_order(r, rt, &f, order, reason, sizeof reason, signals, sizeof signals);
	CHECK(order[0] == 0 && strstr(reason, "default s") != NULL);
	f.chars = 2;
	policy_order(r, rt, &f, order, reason, sizeof reason, signals, sizeof signals);
	CHECK(order[0] == 1 && strstr(reason, "length 2") != NULL);
	cJSON *meta = cJSON_Parse("{\"tier\":\"gold\",\"tags\":[\"a\",\"vip\"]}");
	f = (struct chat_features){
	    .last_user = "hello", .chars = 50, .n_messages = 1, .metadata = meta};
	policy_order(r, rt, &f, order, reason, sizeof reason, signals, sizeof signals);
	CHECK(order[0] == 1);
	cJSON_Delete(meta);
	meta = cJSON_Parse("{\"tier\":\"gold\"}"); /* the tag is missing */
	f.metadata = meta;
	policy_order(r, rt, &f, order, reason, sizeof reason, signals, sizeof signals);
	CHECK(order[0] == 0);
	cJSON_Delete(meta);
	/* a 25/75 split: both models drawn, in about that share */
	int n_n = 0;
	char model[64], shadow[64];
	for (int i = 0; i < 4000; i++) {
		CHECK(router_task_resolve(r, "t", "score", model, sizeof model, shadow,
		                          sizeof shadow));
		n_n += !strcmp(model, "n");
	}
	CHECKF(n_n > 800 && n_n < 1200, "split drew n %d times of 4000", n_n);
	CHECK(!router_task_resolve(r, "t", "encode", model, sizeof model, shadow, sizeof shadow));
	CHECK(
	    !router_task_resolve(r, "other", "score", model, sizeof model, shadow, sizeof shadow));
	router_free(r);
}

/* The metrics on data small enough to compute by hand. */
static void test_eval_metrics(void)
{
	const int gold[] = {0, 0, 1, 1, 2}, pred[] = {0, 1, 1, 1, 2};
	struct intent_report r;
	intent_report_compute(gold, pred, 5, 3, 2, &r);
	CHECK(fabs(r.accuracy - 0.8) < 1e-12);
	CHECK(fabs(r.in_scope_accuracy - 0.75) < 1e-12);
	CHECK(fabs(r.f1[0] - 2.0 / 3) < 1e-12 && fabs(r.f1[1] - 0.8) < 1e-12);
	CHECK(fabs(r.macro_f1 - (2.0 / 3 + 0.8) / 2) < 1e-12); /* oos left out */
	CHECK(fabs(r.oos_recall - 1) < 1e-12 && fabs(r.oos_precision - 1) < 1e-12);
	intent_report_free(&r);
	/* RouteLLM: weak right on 0 and 3, strong right on 0, 1 and 3 */
	const bool w[] = {1, 0, 0, 1}, s[] = {1, 1, 0, 1};
	const double oracle[] = {0, 1, 0, 0};
	struct routellm_curve c;
	routellm_curve_compute(oracle, w, s, 4, &c);
	CHECK(fabs(c.r_weak - 0.5) < 1e-12 && fabs(c.r_strong - 0.75) < 1e-12);
	CHECK(fabs(c.pgr[1] - 1) < 1e-12 && fabs(c.pgr[0]) < 1e-12);
	CHECK(fabs(c.apgr - 0.875) < 1e-12);
	CHECK(fabs(routellm_cpt(&c, 0.5) - 0.25) < 1e-12);
	routellm_curve_free(&c);
	/* the worst order sends the win last: APGR 0.125, CPT(50%) 100% */
	const double worst[] = {1, 0, 1, 1};
	routellm_curve_compute(worst, w, s, 4, &c);
	CHECK(fabs(c.apgr - 0.125) < 1e-12);
	CHECK(fabs(routellm_cpt(&c, 0.5) - 1) < 1e-12);
	routellm_curve_free(&c);
	/* a random order over many prompts recovers about half the gap */
	enum { N = 20000 };
	static bool ww[N], ss[N];
	static double sc[N];
	unsigned seed = 1;
	for (int i = 0; i < N; i++) {
		seed = seed * 1664525u + 1013904223u;
		ww[i] = (seed >> 20) % 10 < 6;
		ss[i] = ww[i] || (seed >> 8) % 10 < 5;
		seed = seed * 1664525u + 1013904223u;
		sc[i] = (double)(seed >> 8);
	}
	routellm_curve_compute(sc, ww, ss, N, &c);
	printf("  random router APGR %.4f over %d prompts\n", c.apgr, N);
	CHECK(fabs(c.apgr - 0.5) < 0.02);
	routellm_curve_free(&c);
}

int main(void)
{
	RUN(test_verifier);
	RUN(test_classifier);
	RUN(test_config_errors);
	RUN(test_rules_and_tasks);
	RUN(test_eval_metrics);
	return harness_summary();
}
