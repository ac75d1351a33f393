/* Candidate evaluation without a network (src/router/candidates.h): suite parsing and its
 * errors (file, line, key), the JSONL data (input or messages, the prompt template), the
 * checks, the judge's score parsing, nearest-rank percentiles, cost from tokens and prices,
 * the choice of the cheapest passing candidate, the baseline comparison, and `eval log`'s
 * join of decisions and feedback. The calls
 * themselves are in tests/integration/eval_candidates.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "router/candidates.h"
#include "router/eval_log.h"

static char dir[64];

static void write_data(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static enum sy_status load(const char *yaml, struct sy_error *err, struct cand_suite *s)
{
	return cand_suite_load_text("suite.yaml", yaml, strlen(yaml), dir, err, s);
}

static void test_suite_parse(void)
{
	write_data("d.jsonl", "{\"input\": \"hi\", \"expected\": \"a\"}\n\n"
	                      "{\"messages\": [{\"role\": \"user\", \"content\": \"yo\"}], "
	                      "\"expected\": {\"k\": 1}}\n");
	struct sy_error err = {0};
	struct cand_suite s;
	const char *yaml = "concurrency: 3\nretries: 2\nsteps:\n"
	                   "  intent:\n    data: d.jsonl\n    check: exact\n"
	                   "    candidates: [a, b]\n    prompt: \"Say: {input}!\"\n"
	                   "    params: {temperature: 0}\n"
	                   "    thresholds: {accuracy: 0.9, p95_ms: 500, cost_per_1k_usd: 0.5}\n";
	CHECKF(load(yaml, &err, &s) == SY_OK, "%s", err.msg);
	CHECK(s.n_steps == 1 && s.concurrency == 3 && s.retries == 2);
	const struct cand_step *st = &s.steps[0];
	CHECK(!strcmp(st->name, "intent") && st->n_candidates == 2 && st->n_examples == 2);
	CHECK(st->thresholds.accuracy == 0.9 && st->thresholds.p95_ms == 500 &&
	      st->thresholds.p50_ms < 0 && st->thresholds.cost_per_1k_usd == 0.5);
	const cJSON *m0 = cJSON_GetArrayItem(st->examples[0].messages, 0);
	CHECK(!strcmp(cJSON_GetObjectItem(m0, "content")->valuestring, "Say: hi!"));
	CHECK(!strcmp(st->examples[0].expected, "a") && st->examples[0].line == 1);
	/* messages: the template becomes a system message; expected a JSON value as JSON text */
	CHECK(cJSON_GetArraySize(st->examples[1].messages) == 2);
	CHECK(!strcmp(st->examples[1].expected, "{\"k\":1}") && st->examples[1].line == 3);
	CHECK(!strcmp(st->examples[1].input, "yo"));
	CHECK(cJSON_GetObjectItem(st->params, "temperature")->valuedouble == 0);
	cand_suite_free(&s);

	static const struct {
		const char *yaml, *msg;
	} bad[] = {
	    {"steps:\n  s:\n    data: d.jsonl\n    check: exact\n    candidates: [a]\n    x: 1\n",
	     "suite.yaml: line 6: x is not a step setting"},
	    {"steps:\n  s:\n    data: d.jsonl\n    check: nope\n    candidates: [a]\n",
	     "suite.yaml: line 4: steps.s.check: unknown check 'nope'"},
	    {"steps:\n  s:\n    data: d.jsonl\n    check: judge\n    candidates: [a]\n",
	     "steps.s.check: judge needs a mapping"},
	    {"steps:\n  s:\n    data: d.jsonl\n    check: {type: json_schema}\n    candidates: "
	     "[a]\n",
	     "steps.s.check: json_schema needs a schema"},
	    {"steps:\n  s:\n    data: d.jsonl\n    check: exact\n", "steps.s: needs candidates"},
	    {"steps:\n  s:\n    check: exact\n    candidates: [a]\n", "steps.s: needs data"},
	    {"steps:\n  s:\n    data: d.jsonl\n    check: exact\n    candidates: [a]\n"
	     "    thresholds: {p95_ms: -1}\n",
	     "line 6: steps.s.thresholds.p95_ms"},
	    {"steps:\n  s:\n    data: none.jsonl\n    check: exact\n    candidates: [a]\n",
	     "none.jsonl"},
	    {"stepz: {}\n", "stepz is not a suite setting"},
	    {"concurrency: 0\nsteps: {}\n", "line 1: concurrency"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECKF(load(bad[i].yaml, &err, &s) != SY_OK, "%zu", i);
		CHECKF(strstr(err.msg, bad[i].msg) != NULL, "%zu: %s", i, err.msg);
	}
	write_data("bad.jsonl", "{\"input\": \"a\", \"expected\": \"a\"}\n{\"input\": \"b\"}\n");
	CHECK(load("steps:\n  s:\n    data: bad.jsonl\n    check: exact\n    candidates: [a]\n",
	           &err, &s) != SY_OK);
	CHECKF(strstr(err.msg, "bad.jsonl: line 2: expected: missing") != NULL, "%s", err.msg);
}

static void test_checks(void)
{
	struct cand_check c = {.kind = CAND_CHECK_EXACT};
	CHECK(cand_check_answer(&c, "  Paris\n", "Paris"));
	CHECK(!cand_check_answer(&c, "paris", "Paris"));
	c.ignore_case = true;
	CHECK(cand_check_answer(&c, "paris", "Paris"));
	CHECK(!cand_check_answer(&c, "Paris, France", "Paris"));
	c.kind = CAND_CHECK_CONTAINS;
	CHECK(cand_check_answer(&c, "It is PARIS.", "paris"));
	CHECK(!cand_check_answer(&c, "Lyon", "paris"));
	c = (struct cand_check){.kind = CAND_CHECK_REGEX};
	CHECK(cand_check_answer(&c, "order 1234", "\\d{4}")); /* expected is the pattern */
	CHECK(!cand_check_answer(&c, "order 12", "\\d{4}"));
	CHECK(!cand_check_answer(&c, "x", "(")); /* a bad pattern never matches */
	c = (struct cand_check){.kind = CAND_CHECK_JSON_SCHEMA};
	c.schema = cJSON_Parse("{\"type\":\"object\",\"required\":[\"intent\"],\"properties\":"
	                       "{\"intent\":{\"enum\":[\"buy\",\"sell\"]}}}");
	CHECK(cand_check_answer(&c, "{\"intent\":\"buy\"}", NULL));
	CHECK(cand_check_answer(&c, "```json\n{\"intent\":\"sell\"}\n```", NULL));
	CHECK(!cand_check_answer(&c, "{\"intent\":\"hold\"}", NULL));
	CHECK(!cand_check_answer(&c, "{}", NULL));
	CHECK(!cand_check_answer(&c, "intent: buy", NULL));
	cJSON_Delete(c.schema);
	CHECK(cand_judge_score("score: 8") == 8);
	CHECK(cand_judge_score("I'd say 7/10") == 7);
	CHECK(cand_judge_score("Step 1 fine. Score: 0.9") == 0.9);
	CHECK(cand_judge_score("no idea") == -1);
}

static void test_numbers(void)
{
	double v[] = {50, 10, 40, 20, 30, 60, 70, 80, 90, 100};
	CHECK(cand_percentile(v, 10, 50) == 50);
	CHECK(cand_percentile(v, 10, 95) == 100);
	CHECK(cand_percentile(v, 10, 90) == 90);
	double w[] = {7};
	CHECK(cand_percentile(w, 1, 50) == 7 && cand_percentile(w, 1, 95) == 7);
	double u[] = {3, 1, 2};
	CHECK(cand_percentile(u, 3, 50) == 2 && cand_percentile(u, 3, 95) == 3);
	CHECK(isnan(cand_percentile(u, 0, 50)));
	/* 1,000 prompt tokens at $3/M and 200 completion tokens at $15/M */
	CHECK(fabs(cand_cost_usd(1000, 200, 3, 15) - 0.006) < 1e-12);
	CHECK(cand_cost_usd(0, 0, 3, 15) == 0);
}

static void test_choice_and_baseline(void)
{
	struct cand_result res[4] = {
	    {.name = "cheap", .n = 10, .correct = 6, .p50_ms = 10, .p95_ms = 20, .cost_usd = 0.001},
	    {.name = "mid", .n = 10, .correct = 9, .p50_ms = 10, .p95_ms = 20, .cost_usd = 0.01},
	    {.name = "slow",
	     .n = 10,
	     .correct = 10,
	     .p50_ms = 400,
	     .p95_ms = 900,
	     .cost_usd = 0.005},
	    {.name = "big", .n = 10, .correct = 10, .p50_ms = 10, .p95_ms = 20, .cost_usd = 0.1},
	};
	char *names[] = {"cheap", "mid", "slow", "big"};
	struct cand_step st = {.name = "intent",
	                       .candidates = names,
	                       .n_candidates = 4,
	                       .results = res,
	                       .thresholds = {0.85, -1, 500, -1}};
	cand_step_decide(&st);
	CHECK(st.chosen == 1);
	CHECK(!res[0].passed && strstr(res[0].why, "accuracy 0.6000 < 0.8500"));
	CHECK(!res[2].passed && strstr(res[2].why, "p95 900.0 ms > 500.0 ms"));
	CHECK(res[1].passed && res[3].passed);
	CHECK(fabs(res[1].cost_per_1k_usd - 1.0) < 1e-12);
	/* a cost ceiling of 0.5 USD per 1k leaves none */
	st.thresholds.cost_per_1k_usd = 0.5;
	cand_step_decide(&st);
	CHECK(st.chosen == -1 && strstr(res[1].why, "cost"));
	/* a latency threshold on a candidate with no answers (NAN) fails it */
	st.thresholds = (struct cand_thresholds){-1, 100, -1, -1};
	res[0].p50_ms = NAN;
	cand_step_decide(&st);
	CHECK(!res[0].passed && st.chosen == 1);
	/* ties on cost: the more accurate */
	st.thresholds = (struct cand_thresholds){-1, -1, -1, -1};
	res[0].cost_usd = res[1].cost_usd = res[2].cost_usd = res[3].cost_usd = 1;
	cand_step_decide(&st);
	CHECK(st.chosen == 3); /* slow and big equally right: big has the lower p95 */

	struct cand_suite s = {.steps = &st, .n_steps = 1};
	st.thresholds = (struct cand_thresholds){0.85, -1, 500, -1};
	cand_step_decide(&st);
	struct sbuf js = {0}, why = {0};
	cand_report_json(&s, &js);
	cJSON *doc = cJSON_Parse(js.data);
	CHECK(doc != NULL);
	const cJSON *step = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "steps"), "intent");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(step, "chosen")) == false);
	const cJSON *cheap = cJSON_GetObjectItem(cJSON_GetObjectItem(step, "candidates"), "cheap");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(cheap, "p50_ms"))); /* NAN is null */
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cheap, "passed")));
	cJSON_Delete(doc);
	int n = -1;
	struct sy_error err = {0};
	CHECK(cand_baseline_check(&s, js.data, js.len, &why, &err, &n) == SY_OK && n == 0);
	const char *base = "{\"steps\":{\"intent\":{\"chosen\":\"slow\"},\"gone\":{\"chosen\":"
	                   "\"x\"},\"none\":{\"chosen\":null}}}";
	CHECK(cand_baseline_check(&s, base, strlen(base), &why, &err, &n) == SY_OK && n == 2);
	CHECKF(strstr(why.data, "step intent: slow, chosen in the baseline, no longer passes") &&
	           strstr(why.data, "step gone"),
	       "%s", why.data);
	CHECK(cand_baseline_check(&s, "[]", 2, &why, &err, &n) != SY_OK);
	sbuf_free(&js);
	sbuf_free(&why);
	struct sbuf prom = {0}, html = {0};
	cand_report_prometheus(&s, &prom);
	CHECK(strstr(prom.data, "switchyard_eval_candidate_accuracy{step=\"intent\",candidate="
	                        "\"mid\"} 0.9\n") != NULL);
	cand_report_html(&s, &html);
	CHECK(strstr(html.data, "<svg") && strstr(html.data, "big (chosen)"));
	sbuf_free(&prom);
	sbuf_free(&html);
}

/* eval log: decisions joined with feedback by request id */
static void test_eval_log(void)
{
	const char *log =
	    "{\"request_id\":\"a\",\"route\":\"r\",\"choice\":\"m\",\"latency_ms\":10,"
	    "\"cost_usd\":0.5,\"status\":200}\n"
	    "{\"request_id\":\"b\",\"route\":\"r\",\"choice\":\"m\",\"latency_ms\":30,"
	    "\"cost_usd\":0.5,\"status\":200}\n"
	    "{\"request_id\":\"c\",\"route\":\"r\",\"choice\":null,\"latency_ms\":5,"
	    "\"status\":502}\n"
	    "{\"type\":\"feedback\",\"request_id\":\"a\",\"route\":\"r\",\"choice\":\"m\","
	    "\"score\":1,\"success\":true}\n";
	const char *fb = "{\"request_id\":\"b\",\"label\":\"misroute\"}\n"
	                 "{\"request_id\":\"zz\",\"score\":1}\n";
	struct sbuf out = {0};
	struct sy_error err = {0};
	CHECKF(eval_log_summarize("log", log, strlen(log), "fb", fb, strlen(fb), true, &out,
	                          &err) == SY_OK,
	       "%s", err.msg);
	cJSON *doc = cJSON_Parse(out.data);
	CHECKF(doc != NULL, "%s", out.data);
	CHECK(cJSON_GetObjectItem(doc, "requests")->valueint == 3);
	CHECK(cJSON_GetObjectItem(doc, "unmatched_feedback")->valueint == 1);
	const cJSON *m =
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "routes"), "r"), "m");
	CHECK(cJSON_GetObjectItem(m, "requests")->valueint == 2);
	CHECK(cJSON_GetObjectItem(m, "feedback")->valueint == 2);
	CHECK(cJSON_GetObjectItem(m, "success_rate")->valuedouble == 0.5);
	CHECK(cJSON_GetObjectItem(m, "misroutes")->valueint == 1);
	CHECK(cJSON_GetObjectItem(m, "p50_ms")->valuedouble == 10);
	CHECK(cJSON_GetObjectItem(m, "p95_ms")->valuedouble == 30);
	CHECK(fabs(cJSON_GetObjectItem(m, "cost_per_request_usd")->valuedouble - 0.5) < 1e-12);
	const cJSON *none = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "routes"), "r"), "(none)");
	CHECK(cJSON_GetObjectItem(none, "errors")->valueint == 1);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(none, "success_rate")));
	cJSON_Delete(doc);
	sbuf_free(&out);
	CHECK(eval_log_summarize("log", "{}\n[1]\n", 7, NULL, NULL, 0, true, &out, &err) != SY_OK);
	CHECKF(strstr(err.msg, "log: line 2") != NULL, "%s", err.msg);
	sbuf_free(&out);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/sy-cand-%d", (int)getpid());
	char cmd[128];
	snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
	if (system(cmd) != 0)
		return 1;
	RUN(test_suite_parse);
	RUN(test_checks);
	RUN(test_numbers);
	RUN(test_choice_and_baseline);
	RUN(test_eval_log);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return harness_summary();
}
