/* The routing layer's pieces without a network: verifiers, the logistic-regression classifier
 * (training, prediction, save/load, bad files), config errors naming the line and the key, the
 * rules policy's order and reasons, the task table's weighted splits, the CSV parser and the
 * dataset loaders (CSV, JSONL, CLINC150, RouteLLM) with their errors. The whole path with
 * upstreams is in tests/integration/chat.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "router/chat_internal.h"
#include "router/classifier.h"
#include "router/dataset.h"
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

/* The MLP head learns a class that is not linearly separable (XOR of two coordinates' signs),
 * which the logistic regression cannot, and saves and loads with the same predictions. */
static void test_mlp_head(void)
{
	const int n = 400, D = 4;
	float *X = malloc(sizeof(float) * n * D);
	int *y = malloc(sizeof(int) * n);
	uint32_t seed = 7;
	for (int i = 0; i < n; i++) {
		for (int d = 0; d < D; d++) {
			seed = seed * 1664525u + 1013904223u;
			X[i * D + d] = (float)((seed >> 8) / 16777216.0 * 2 - 1);
		}
		y[i] = (X[i * D] > 0) != (X[i * D + 1] > 0);
	}
	const char *labels[] = {"same", "differ"};
	struct sy_error err = {0};
	struct classifier_train_options o = classifier_default_options();
	struct classifier *lr = NULL, *m = NULL;
	CHECK(classifier_train(X, y, n, D, labels, 2, &o, &err, &lr) == SY_OK);
	o.hidden = 32;
	o.lr = 1.0;
	o.l2 = 1e-4;
	o.epochs = 600;
	CHECKF(classifier_train(X, y, n, D, labels, 2, &o, &err, &m) == SY_OK, "%s", err.msg);
	if (!lr || !m)
		return;
	const double acc_lr = classifier_accuracy(lr, X, y, n),
	             acc_m = classifier_accuracy(m, X, y, n);
	printf("  XOR: logistic regression %.3f, MLP head %.3f\n", acc_lr, acc_m);
	CHECK(acc_lr < 0.75);
	CHECK(acc_m > 0.9);
	char path[] = "/tmp/sy-mlp-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	CHECK(classifier_save(m, path, &err) == SY_OK);
	struct classifier *l = NULL;
	CHECKF(classifier_load(path, &err, &l) == SY_OK, "%s", err.msg);
	if (l) {
		CHECK_EQ_INT(l->hidden, 32);
		int same = 0;
		for (int i = 0; i < n; i++)
			same += classifier_predict(l, X + (size_t)i * D, NULL) ==
			        classifier_predict(m, X + (size_t)i * D, NULL);
		CHECK_EQ_INT(same, n);
		classifier_free(l);
	}
	FILE *f = fopen(path, "w");
	fputs("{\"labels\":[\"a\",\"b\"],\"dims\":2,\"hidden\":2,\"W1\":[[1,2]],\"b1\":[0,0],"
	      "\"W\":[[1,2],[3,4]],\"b\":[0,0]}",
	      f);
	fclose(f);
	CHECK(classifier_load(path, &err, &l) == SY_ERR_FORMAT);
	unlink(path);
	classifier_free(lr);
	classifier_free(m);
	free(X), free(y);
}

/* The out-of-scope evaluation on a hand-checked case: 4 in-scope rows (class 0, 1) and 2
 * out-of-scope rows (class 2). */
static void test_oos_evaluate(void)
{
	const int gold[6] = {0, 1, 0, 1, 2, 2};
	const int arg[6] = {0, 1, 1, 1, 0, 2};
	const double score[6] = {0.9, 0.8, 0.7, 0.3, 0.2, 0.5};
	struct intent_oos_eval e;
	intent_oos_evaluate(gold, arg, score, 6, 3, 2, &e);
	/* in-scope scores 0.9 0.8 0.7 0.3 against 0.2 0.5: 7 of the 8 pairs ordered right */
	CHECK(fabs(e.auroc - 7.0 / 8) < 1e-12);
	/* t in (0.2, 0.3]: row 4 out of scope, every other row as argmax: 5 of 6 right */
	CHECK(e.best_t > 0.2 && e.best_t <= 0.3);
	CHECK(fabs(e.best.accuracy - 5.0 / 6) < 1e-12);
	CHECK(fabs(e.best.oos_recall - 1.0) < 1e-12);
	intent_oos_eval_free(&e);
}

static enum sy_status load(const char *yaml, struct sy_error *err, struct router **r)
{
	struct router_deps deps = {0};
	return router_load_text("t.yaml", yaml, strlen(yaml), &deps, err, r);
}

static void test_config_errors(void)
{
	static const char *const cases[][2] = {
	    /* A self-referencing alias (it crashed the loader) and a billion laughs: refused at the
	     * alias, before anything expands (issue 23.6). */
	    {"upstreams:\n  a: {base_url: u}\nroutes:\n  r:\n    candidates: [a]\n    verify: "
	     "{schema: &s {type: object, properties: {x: *s}}}\n",
	     "aliases"},
	    {"x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	     "z: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
	     "line 2: aliases"},
	    {"upstreams:\n  a: {model: x}\n", "line 2: a needs a base_url"},
	    /* More candidates than the chat stages order (they overflowed a fixed array). */
	    {"upstreams:\n  u0: {base_url: u}\n  u1: {base_url: u}\n  u2: {base_url: u}\n  u3: "
	     "{base_url: u}\n  u4: {base_url: u}\n  u5: {base_url: u}\n  u6: {base_url: u}\n  u7: "
	     "{base_url: u}\n  u8: {base_url: u}\n  u9: {base_url: u}\n  u10: {base_url: u}\n  "
	     "u11: {base_url: u}\n  u12: {base_url: u}\n  u13: {base_url: u}\n  u14: {base_url: "
	     "u}\n  u15: {base_url: u}\n  u16: {base_url: u}\n  u17: {base_url: u}\n  u18: "
	     "{base_url: u}\n  u19: {base_url: u}\n  u20: {base_url: u}\n  u21: {base_url: u}\n  "
	     "u22: {base_url: u}\n  u23: {base_url: u}\n  u24: {base_url: u}\n  u25: {base_url: "
	     "u}\n  u26: {base_url: u}\n  u27: {base_url: u}\n  u28: {base_url: u}\n  u29: "
	     "{base_url: u}\n  u30: {base_url: u}\n  u31: {base_url: u}\n  u32: {base_url: "
	     "u}\nroutes:\n  r: {candidates: "
	     "[u0,u1,u2,u3,u4,u5,u6,u7,u8,u9,u10,u11,u12,u13,u14,u15,u16,u17,u18,u19,u20,u21,u22,"
	     "u23,u24,u25,u26,u27,u28,u29,u30,u31,u32]}\n",
	     "at most 32 upstreams"},
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

/* ---- datasets ---- */

struct csv_rows {
	char got[8][4][64];
	int n_fields[8], line[8];
	int n;
};

static enum sy_status collect_row(char **f, int n, int line, void *ctx, struct sy_error *err)
{
	(void)err;
	struct csv_rows *r = ctx;
	if (r->n < 8) {
		for (int i = 0; i < n && i < 4; i++)
			snprintf(r->got[r->n][i], sizeof r->got[r->n][i], "%s", f[i]);
		r->n_fields[r->n] = n;
		r->line[r->n] = line;
	}
	r->n++;
	return SY_OK;
}

static enum sy_status fail_on_line_2(char **f, int n, int line, void *ctx, struct sy_error *err)
{
	(void)f, (void)n;
	++*(int *)ctx;
	return line == 2 ? sy_error_set(err, SY_ERR_LIMIT, "stop at line %d", line) : SY_OK;
}

/* Parses a copy of text (the parser rewrites in place). */
static enum sy_status csv_of(const char *text, struct csv_rows *r, struct sy_error *err)
{
	memset(r, 0, sizeof *r);
	char *copy = strdup(text);
	enum sy_status s = dataset_csv_parse(copy, strlen(copy), "t.csv", collect_row, r, err);
	free(copy);
	return s;
}

static void test_csv_parse(void)
{
	struct csv_rows r;
	struct sy_error err = {0};
	/* quoted commas, doubled quotes, a newline inside quotes, CRLF, a blank line, an empty
	 * field, and a last line without its newline */
	const char *text = "text,label\r\n"
	                   "\"a, b\",x\r\n"
	                   "\"say \"\"hi\"\"\",y\n"
	                   "\n"
	                   "\"two\nlines\",z\n"
	                   ",empty\n"
	                   "plain,last";
	CHECK_EQ_INT(csv_of(text, &r, &err), SY_OK);
	CHECK_EQ_INT(r.n, 6);
	CHECK_STREQ(r.got[0][0], "text");
	CHECK_STREQ(r.got[1][0], "a, b");
	CHECK_STREQ(r.got[1][1], "x");
	CHECK_STREQ(r.got[2][0], "say \"hi\"");
	CHECK_STREQ(r.got[3][0], "two\nlines");
	CHECK_STREQ(r.got[3][1], "z");
	CHECK_STREQ(r.got[4][0], "");
	CHECK_STREQ(r.got[4][1], "empty");
	CHECK_STREQ(r.got[5][1], "last");
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(r.n_fields[i], 2);
	/* rows are numbered by the line they start on, past the blank and the two-line one */
	CHECK_EQ_INT(r.line[1], 2);
	CHECK_EQ_INT(r.line[2], 3);
	CHECK_EQ_INT(r.line[3], 5);
	CHECK_EQ_INT(r.line[4], 7);
	CHECK_EQ_INT(r.line[5], 8);
	/* an unterminated quote names the line its row starts on */
	CHECK_EQ_INT(csv_of("text,label\nok,x\n\"never closed,y\nmore\n", &r, &err), SY_ERR_FORMAT);
	CHECK_STREQ(err.msg, "t.csv: line 3: unterminated quoted field");
	/* empty text has no rows; a row callback's failure stops the parse with its status */
	CHECK_EQ_INT(csv_of("", &r, &err), SY_OK);
	CHECK_EQ_INT(r.n, 0);
	char two[] = "a\nb\nc\n";
	int seen = 0;
	CHECK_EQ_INT(dataset_csv_parse(two, strlen(two), "t.csv", fail_on_line_2, &seen, &err),
	             SY_ERR_LIMIT);
	CHECK_EQ_INT(seen, 2);
	CHECK_STREQ(err.msg, "stop at line 2");
}

static void test_labelled_loaders(void)
{
	struct dataset d = {0};
	struct sy_error err = {0};
	char csv[] = "text,label\n\"hello, world\",greet\n\"bye\nnow\",leave\n";
	CHECK_EQ_INT(dataset_labelled_parse("x.csv", csv, strlen(csv), &err, &d), SY_OK);
	CHECK_EQ_INT(d.n, 2);
	CHECK_STREQ(d.text[0], "hello, world");
	CHECK_STREQ(d.label[0], "greet");
	CHECK_STREQ(d.text[1], "bye\nnow");
	dataset_free(&d);
	char short_row[] = "text,label\nonly text\n";
	CHECK_EQ_INT(dataset_labelled_parse("x.csv", short_row, strlen(short_row), &err, &d),
	             SY_ERR_FORMAT);
	CHECK_STREQ(err.msg, "x.csv: line 2: 1 field(s), expected at least 2");
	dataset_free(&d);
	/* JSONL: string or number labels, blank lines skipped, a bad line named */
	char jl[] = "{\"text\": \"a\", \"label\": \"x\"}\n\n{\"text\": \"b\", \"label\": 3}\n";
	CHECK_EQ_INT(dataset_labelled_parse("y.jsonl", jl, strlen(jl), &err, &d), SY_OK);
	CHECK_EQ_INT(d.n, 2);
	CHECK_STREQ(d.label[1], "3");
	dataset_free(&d);
	char bad[] = "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": 5}\n";
	CHECK_EQ_INT(dataset_labelled_parse("y.jsonl", bad, strlen(bad), &err, &d), SY_ERR_FORMAT);
	CHECK_STREQ(err.msg, "y.jsonl: line 2: expected {\"text\": ..., \"label\": ...}");
	dataset_free(&d);
	/* RouteLLM booleans */
	char rl[] = "prompt,weak,strong\n\"q, 1\",True,False\nq2,0,true\nq3,1,1\n";
	CHECK_EQ_INT(dataset_routellm_parse("m.csv", rl, strlen(rl), &err, &d), SY_OK);
	CHECK_EQ_INT(d.n, 3);
	CHECK_STREQ(d.text[0], "q, 1");
	CHECK(d.weak_ok[0] && !d.strong_ok[0] && !d.weak_ok[1] && d.strong_ok[1]);
	CHECK(d.weak_ok[2] && d.strong_ok[2]);
	struct dataset tr = {0}, ca = {0}, te = {0};
	for (int i = 0; i < 7; i++)
		dataset_push(&d, "p", 1, NULL, false, true);
	CHECK_EQ_INT(dataset_routellm_split(&d, &err, &tr, &ca, &te), SY_OK);
	CHECK_EQ_INT(tr.n, 6);
	CHECK_EQ_INT(ca.n, 2);
	CHECK_EQ_INT(te.n, 2);
	int *y = routellm_train_labels(&d);
	CHECK(y && y[0] == 1 && y[1] == 0 && y[2] == 1 && y[3] == 0);
	free(y);
	dataset_truncate(&d, 2);
	CHECK_EQ_INT(d.n, 2);
	dataset_free(&tr);
	dataset_free(&ca);
	dataset_free(&te);
	dataset_free(&d);
}

static void test_labels(void)
{
	struct dataset d = {0};
	struct sy_error err = {0};
	const char *labels_in[] = {"b", "a", "b", "c"};
	for (int i = 0; i < 4; i++)
		dataset_push(&d, "t", 1, labels_in[i], false, false);
	char **labels = NULL;
	int n_labels = 0;
	int *y = dataset_label_ids(&d, &labels, &n_labels, true);
	CHECK(y && y[0] == 0 && y[1] == 1 && y[2] == 0 && y[3] == 2);
	CHECK_EQ_INT(n_labels, 3);
	CHECK_STREQ(labels[2], "c");
	free(y);
	struct dataset t = {0};
	dataset_push(&t, "t", 1, "zzz", false, false);
	y = dataset_label_ids(&t, &labels, &n_labels, false);
	CHECK(y && y[0] == -1 && n_labels == 3);
	free(y);
	for (int i = 0; i < n_labels; i++)
		free(labels[i]);
	free(labels);
	/* an intent set whose test label is not a training one */
	struct intent_data id;
	CHECK_EQ_INT(intent_data_prepare(&d, &t, false, &err, &id), SY_ERR_FORMAT);
	CHECK_STREQ(err.msg, "test example 1: label \"zzz\" is not in the training data");
	intent_data_free(&id);
	dataset_free(&t);
	dataset_push(&t, "t", 1, "oos", false, false);
	dataset_push(&d, "t", 1, "oos", false, false);
	CHECK_EQ_INT(intent_data_prepare(&d, &t, true, &err, &id), SY_OK);
	CHECK(id.in_train.n == 4 && id.n_in == 3 && id.oos == 3 && id.y_test[0] == 3);
	intent_data_free(&id);
	dataset_free(&t);
	/* strong/weak labels are 0 or 1 */
	dataset_push(&t, "t", 1, "1", false, false);
	dataset_push(&t, "t", 1, "0", false, false);
	CHECK_EQ_INT(dataset_strong_weak_labels(&t, "sw.csv", &err), SY_OK);
	CHECK_STREQ(t.label[0], "weak");
	CHECK_STREQ(t.label[1], "strong");
	CHECK_EQ_INT(dataset_strong_weak_labels(&d, "sw.csv", &err), SY_ERR_FORMAT);
	CHECK_STREQ(err.msg, "sw.csv: example 1: a strong/weak label is 0 or 1, not \"b\"");
	dataset_free(&t);
	dataset_free(&d);
	/* the nearest example's class */
	const float X[] = {1, 0, 0, 1}, T[] = {0.9f, 0.1f, 0.2f, 0.8f};
	const int yx[] = {5, 7};
	int pred[2];
	intent_predict_nearest(X, yx, 2, T, 2, 2, pred);
	CHECK(pred[0] == 5 && pred[1] == 7);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The file loaders on a scratch folder: CLINC150, a labelled file split every 5th, a file with
 * no example, and RouteLLM's layout. */
static void test_dataset_files(void)
{
	char dir[] = "/tmp/sy_test_dataset_XXXXXX", path[256];
	CHECK(mkdtemp(dir) != NULL);
	struct dataset tr = {0}, te = {0};
	struct sy_error err = {0};
	bool clinc = false;
	snprintf(path, sizeof path, "%s/data_train_val.json", dir);
	write_file(path, "{\"train\": [[\"hi\", \"greet\"]], \"oos_train\": [[\"zz\", \"oos\"]],"
	                 " \"val\": [[\"hey\", \"greet\"]], \"oos_val\": []}");
	CHECK_EQ_INT(dataset_read_intents(dir, NULL, &err, &tr, &te, &clinc), SY_OK);
	CHECK(clinc && tr.n == 2 && te.n == 1);
	CHECK_STREQ(tr.label[1], "oos");
	dataset_free(&tr);
	dataset_free(&te);
	/* --test: a CLINC-format file (test + oos_test) replaces val */
	char tpath[300];
	snprintf(tpath, sizeof tpath, "%s/data_full.json", dir);
	write_file(tpath, "{\"test\": [[\"hello\", \"greet\"], [\"yo\", \"greet\"]], "
	                  "\"oos_test\": [[\"qq\", \"oos\"]]}");
	CHECK_EQ_INT(dataset_read_intents(dir, tpath, &err, &tr, &te, &clinc), SY_OK);
	CHECK(clinc && tr.n == 2 && te.n == 3);
	CHECK_STREQ(te.text[0], "hello");
	CHECK_STREQ(te.label[2], "oos");
	dataset_free(&tr);
	dataset_free(&te);
	/* ... or a labelled CSV */
	snprintf(tpath, sizeof tpath, "%s/test.csv", dir);
	write_file(tpath, "text,label\nhowdy,greet\n");
	CHECK_EQ_INT(dataset_read_intents(dir, tpath, &err, &tr, &te, &clinc), SY_OK);
	CHECK(te.n == 1);
	CHECK_STREQ(te.text[0], "howdy");
	dataset_free(&tr);
	dataset_free(&te);
	unlink(tpath);
	/* an unusable --test is an error: missing, a JSON object without "test", empty test */
	CHECK_EQ_INT(dataset_read_intents(dir, tpath, &err, &tr, &te, &clinc), SY_ERR_NOT_FOUND);
	CHECK(strstr(err.msg, "no such file") != NULL);
	dataset_free(&tr);
	dataset_free(&te);
	snprintf(tpath, sizeof tpath, "%s/data_full.json", dir);
	write_file(tpath, "{\"val\": [[\"hello\", \"greet\"]]}");
	CHECK(dataset_read_intents(dir, tpath, &err, &tr, &te, &clinc) != SY_OK);
	dataset_free(&tr);
	dataset_free(&te);
	write_file(tpath, "{\"test\": []}");
	CHECK_EQ_INT(dataset_read_intents(dir, tpath, &err, &tr, &te, &clinc), SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "no test examples") != NULL);
	dataset_free(&tr);
	dataset_free(&te);
	unlink(tpath);
	write_file(path, "{\"train\": [[\"hi\", 3]]}");
	CHECK_EQ_INT(dataset_read_clinc(dir, &err, &tr, &te), SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "train[0]: expected [text, label]") != NULL);
	dataset_free(&tr);
	dataset_free(&te);
	unlink(path);
	snprintf(path, sizeof path, "%s/train.csv", dir);
	write_file(path, "text,label\na,x\nb,x\nc,y\nd,y\ne,z\nf,z\n");
	CHECK_EQ_INT(dataset_read_intents(dir, NULL, &err, &tr, &te, &clinc), SY_OK);
	CHECK(!clinc && tr.n == 5 && te.n == 1);
	CHECK_STREQ(te.text[0], "e");
	dataset_free(&tr);
	dataset_free(&te);
	write_file(path, "text,label\n");
	CHECK_EQ_INT(dataset_read_labelled(path, &err, &tr), SY_ERR_FORMAT);
	CHECK(strstr(err.msg, "train.csv: no examples") != NULL);
	dataset_free(&tr);
	unlink(path);
	/* RouteLLM: mmlu/mmlu_*.csv in name order, other files ignored, then GSM8K */
	char sub[300];
	snprintf(sub, sizeof sub, "%s/mmlu", dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof sub, "%s/gsm8k", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof path, "%s/mmlu/mmlu_b.csv", dir);
	write_file(path, "prompt,weak,strong\nsecond,True,True\n");
	snprintf(path, sizeof path, "%s/mmlu/mmlu_a.csv", dir);
	write_file(path, "prompt,weak,strong\nfirst,False,True\n");
	snprintf(path, sizeof path, "%s/mmlu/notes.txt", dir);
	write_file(path, "not a table");
	struct dataset mmlu = {0}, gsm = {0};
	CHECK_EQ_INT(dataset_read_routellm(dir, &err, &mmlu, &gsm), SY_ERR_IO); /* no GSM8K yet */
	dataset_free(&mmlu);
	snprintf(path, sizeof path, "%s/gsm8k/gsm8k_responses.csv", dir);
	write_file(path, "prompt,weak,strong\n\"q, with comma\",1,0\n");
	CHECK_EQ_INT(dataset_read_routellm(dir, &err, &mmlu, &gsm), SY_OK);
	CHECK(mmlu.n == 2 && gsm.n == 1);
	CHECK_STREQ(mmlu.text[0], "first");
	CHECK(!mmlu.weak_ok[0] && mmlu.strong_ok[0] && gsm.weak_ok[0] && !gsm.strong_ok[0]);
	dataset_free(&mmlu);
	dataset_free(&gsm);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

/* Usage an upstream reports cannot make spend negative or overflow (issue 23.11), spend only
 * grows, and the per-key spend table is bounded with unknown keys sharing one entry. */
static void test_budget_guards(void)
{
	const char *bad[] = {"{\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":1e300}}",
	                     "{\"usage\":{\"prompt_tokens\":1.5,\"completion_tokens\":\"7\"}}",
	                     "{\"usage\":{\"prompt_tokens\":1e10,\"completion_tokens\":-1e300}}"};
	for (int i = 0; i < 3; i++) {
		cJSON *doc = cJSON_Parse(bad[i]);
		long in = 11, out = 22; /* the estimates stand */
		chat_find_usage(doc, &in, &out);
		CHECKF(in == 11 && out == 22, "case %d: %ld %ld", i, in, out);
		cJSON_Delete(doc);
	}
	cJSON *ok = cJSON_Parse("{\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}");
	long in = 0, out = 0;
	chat_find_usage(ok, &in, &out);
	CHECK(in == 12 && out == 3);
	cJSON_Delete(ok);

	struct sy_error err = {0};
	struct router_state *st;
	CHECK(router_state_create(&err, &st) == SY_OK);
	state_spend_add(st, "key:a", "daily", 1.0);
	state_spend_add(st, "key:a", "daily", -5.0);
	state_spend_add(st, "key:a", "daily", NAN);
	CHECK(state_spend(st, "key:a", "daily") == 1.0);
	char key[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "key:k%d", i);
		state_spend_add(st, key, "daily", 0.01);
	}
	/* Past the bound, two keys never seen count together: neither starts from nothing. */
	CHECK(state_spend(st, "key:k4999", "daily") > 0.5);
	CHECK(state_spend(st, "key:never-seen", "daily") == state_spend(st, "key:k4999", "daily"));
	CHECK(state_spend(st, "key:a", "daily") == 1.0); /* known keys keep their own */
	router_state_free(st);
}

/* rpm/tpm per upstream over a sliding minute (state.c) */
static void test_rate_limits(void)
{
	struct router_state *st = NULL;
	CHECK(router_state_create(NULL, &st) == SY_OK);
	int wait = -1;
	CHECK(state_rate_take(st, "a", 0, 0, &wait) && wait == 0); /* no limits */
	CHECK(state_rate_take(st, "a", 2, 0, &wait));
	CHECK(state_rate_take(st, "a", 2, 0, &wait));
	CHECK(!state_rate_take(st, "a", 2, 0, &wait));
	CHECKF(wait >= 1 && wait <= 60, "%d", wait);
	CHECK(state_rate_take(st, "b", 2, 0, &wait)); /* per upstream */
	CHECK(state_rate_take(st, "t", 0, 100, &wait));
	state_rate_tokens(st, "t", 60);
	CHECK(state_rate_take(st, "t", 0, 100, &wait));
	state_rate_tokens(st, "t", 40);
	CHECK(!state_rate_take(st, "t", 0, 100, &wait) && wait >= 1);
	router_state_free(st);
}

int main(void)
{
	RUN(test_verifier);
	RUN(test_classifier);
	RUN(test_mlp_head);
	RUN(test_oos_evaluate);
	RUN(test_config_errors);
	RUN(test_rules_and_tasks);
	RUN(test_eval_metrics);
	RUN(test_csv_parse);
	RUN(test_labelled_loaders);
	RUN(test_labels);
	RUN(test_dataset_files);
	RUN(test_budget_guards);
	RUN(test_rate_limits);
	return harness_summary();
}
