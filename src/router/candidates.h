/* Candidate evaluation per agent step (`switchyard eval candidates`, docs/ROUTING.md): a suite
 * names steps; each step has a labelled test set (JSONL), a check that says whether an answer is
 * right, the candidate upstreams of a routes config, an optional prompt template and parameters,
 * and thresholds. Every candidate answers every example; accuracy, p50/p95 latency, tokens and
 * cost (from the upstream's usage and the configured prices, plus the judge's cost when the
 * check is an LLM judge) are recorded, and the cheapest candidate meeting every threshold is
 * chosen (none when none does). A previous report (--json) is a baseline: a step whose chosen
 * candidate no longer passes is a regression.
 *
 * Three parts: the suite (candidates.c: parsing, checks, percentiles, cost, the choice), the run
 * (candidates_run.c: bounded concurrency and retries over the upstream client) and the reports
 * (candidates_report.c: JSON, text, HTML with SVG charts, Prometheus textfile, baseline). */
#ifndef SY_ROUTER_CANDIDATES_H
#define SY_ROUTER_CANDIDATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "base/sbuf.h"
#include "base/status.h"

struct router;

enum cand_check_kind {
	CAND_CHECK_EXACT, /* the answer, trimmed, equals expected */
	CAND_CHECK_CONTAINS, /* the answer contains expected */
	CAND_CHECK_REGEX, /* the check's pattern (or, without one, expected) matches the answer */
	CAND_CHECK_JSON_SCHEMA, /* the answer parses as JSON and fits the schema */
	CAND_CHECK_JUDGE, /* a judge upstream scores the answer against a rubric */
};

struct cand_check {
	enum cand_check_kind kind;
	bool ignore_case; /* exact, contains */
	void *regex; /* pcre2_code *, owned; NULL: each example's expected is the pattern */
	cJSON *schema; /* json_schema: owned */
	/* judge */
	char judge[128]; /* upstream name */
	char *rubric; /* owned */
	double scale; /* the score's top (default 10) */
	double threshold; /* pass when score / scale >= threshold (default 0.7) */
};

struct cand_example {
	cJSON *messages; /* owned: the chat messages sent (the prompt template applied) */
	char *input; /* owned: the input as text (for the judge and messages), "" when none */
	char *expected; /* owned: expected as text (a JSON value other than a string: its JSON) */
	int line; /* in the data file */
};

struct cand_thresholds {
	double accuracy; /* < 0: unset */
	double p50_ms, p95_ms, cost_per_1k_usd; /* < 0: unset */
};

/* One candidate's results on one step. */
struct cand_result {
	char name[128];
	int n, correct, errors; /* examples, right answers, calls that failed after their retries */
	int calls; /* upstream calls made, retries and judge calls included */
	double accuracy; /* correct / n */
	double p50_ms, p95_ms; /* over the examples that got an answer; NAN when none did */
	long prompt_tokens, completion_tokens;
	double cost_usd; /* answers plus the judge's calls */
	double judge_cost_usd;
	double cost_per_1k_usd; /* cost_usd / n * 1000 */
	bool passed;
	char why[160]; /* the first threshold missed, "" when passed */
};

struct cand_step {
	char name[128];
	char data_path[512];
	struct cand_example *examples;
	int n_examples;
	struct cand_check check;
	char **candidates; /* upstream names, [n_candidates] */
	int n_candidates;
	int *upstreams; /* [n_candidates] indices into the router's upstreams (cand_suite_bind) */
	char *prompt; /* owned template with {input}, or NULL */
	cJSON *params; /* owned object merged into each request, or NULL */
	struct cand_thresholds thresholds;
	/* results (cand_suite_run) */
	struct cand_result *results; /* [n_candidates] */
	int chosen; /* index into candidates, -1 none */
};

struct cand_suite {
	char path[512];
	struct cand_step *steps;
	int n_steps;
	int concurrency; /* calls in flight at once (default 4) */
	int retries; /* extra tries on 408/409/429/5xx/timeouts (default 1) */
	int max_retry_after_s; /* a longer Retry-After ends the example's tries (default 2) */
};

/* ---- the suite (candidates.c) ---- */

/* Reads a suite file and the JSONL data its steps name (relative to the suite's folder).
 * Errors name the file, the line and the key. */
enum sy_status cand_suite_load(const char *path, struct sy_error *err, struct cand_suite *out);
enum sy_status cand_suite_load_text(const char *name, const char *text, size_t len, const char *dir,
                                    struct sy_error *err, struct cand_suite *out);
/* Resolves every step's candidates and judge to upstreams of r; fails naming a missing one. */
enum sy_status cand_suite_bind(struct cand_suite *s, const struct router *r, struct sy_error *err);
void cand_suite_free(struct cand_suite *s);

/* Whether an answer passes a non-judge check. */
bool cand_check_answer(const struct cand_check *c, const char *answer, const char *expected);
/* The score a judge's reply states: the first number in it (as "score: 8" or "8/10"); -1 when
 * it has none. */
double cand_judge_score(const char *reply);
/* A one-turn chat request for a short, deterministic reply: model, system as the system message,
 * user (NULL: "") as the user message, temperature 0, at most max_tokens tokens. What a judge
 * upstream (the rubric as system, 16 tokens) and the LLM classifier (its labels, 8) get. */
cJSON *cand_chat_body(const char *model, const char *system, const char *user, int max_tokens);
/* The q-th percentile (0 < q <= 100) of v[n] by the nearest-rank method: the smallest value
 * with at least q% of the values at or below it. Sorts v. NAN when n is 0. */
double cand_percentile(double *v, int n, double q);
/* USD for tokens at prices per million tokens. */
double cand_cost_usd(long prompt_tokens, long completion_tokens, double price_input,
                     double price_output);
/* Sets every result's passed/why from the step's thresholds and the step's choice: the
 * cheapest passing candidate (ties: higher accuracy, then lower p95, then the suite's order). */
void cand_step_decide(struct cand_step *st);

/* ---- the run (candidates_run.c) ---- */

/* Calls every candidate of every step on every example through r's upstream client, at most
 * s->concurrency calls at once, and fills each step's results and choice. Progress lines go to
 * progress (NULL: none). */
enum sy_status cand_suite_run(struct cand_suite *s, struct router *r, FILE *progress,
                              struct sy_error *err);

/* ---- the reports (candidates_report.c) ---- */

/* {"steps":{STEP:{"candidates":{NAME:{accuracy,p50_ms,p95_ms,cost_usd,passed,...}},
 * "chosen":NAME|null}}} */
void cand_report_json(const struct cand_suite *s, struct sbuf *b);
void cand_report_text(const struct cand_suite *s, struct sbuf *b);
/* A page with a table and an SVG cost/accuracy chart per step. */
void cand_report_html(const struct cand_suite *s, struct sbuf *b);
/* Gauges for a node-exporter textfile collector. */
void cand_report_prometheus(const struct cand_suite *s, struct sbuf *b);
/* Compares with a previous --json report: for each step the baseline chose a candidate for,
 * a regression when that candidate no longer passes (or the step or candidate is gone). Lines
 * naming each go to why; returns how many. Fails when the baseline is not such a report. */
enum sy_status cand_baseline_check(const struct cand_suite *s, const char *baseline_json,
                                   size_t len, struct sbuf *why, struct sy_error *err,
                                   int *regressions);

#endif
