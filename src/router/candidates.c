/* Evaluation suites for candidate models per step (candidates.h): reading the suite and its
 * JSONL data, the checks that say whether an answer is right, and the numbers the choice rests
 * on (percentiles, cost, thresholds, the cheapest passing candidate).
 *
 * A suite file:
 *
 *     concurrency: 4            # calls in flight at once
 *     retries: 1                # extra tries on 408/409/429/5xx/timeouts, as routes do
 *     steps:
 *       intent:
 *         data: intent.jsonl    # {"input": "..." or "messages": [...], "expected": ...}
 *         check: exact          # exact, contains, regex, json_schema, judge (or a mapping)
 *         candidates: [mini, large]
 *         prompt: "Classify: {input}"
 *         params: {temperature: 0, max_tokens: 16}
 *         thresholds: {accuracy: 0.9, p95_ms: 500, cost_per_1k_usd: 0.5}
 *
 * Errors name the file, the line and the key, as the routing config's do. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/file.h"
#include "base/yaml.h"
#include "router/candidates.h"
#include "router/router_internal.h"
#include "router/verifier.h"

static const char *const suite_keys[] = {"steps", "concurrency", "retries", "max_retry_after_s",
                                         NULL};
static const char *const step_keys[] = {"data",   "check",      "candidates", "prompt",
                                        "params", "thresholds", NULL};
static const char *const check_keys[] = {"type",   "pattern",   "schema", "ignore_case", "upstream",
                                         "rubric", "threshold", "scale",  NULL};
static const char *const threshold_keys[] = {"accuracy", "p50_ms", "p95_ms", "cost_per_1k_usd",
                                             NULL};
static const char *const check_names[] = {"exact", "contains", "regex", "json_schema", "judge"};

/* ---- checks ---- */

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)(*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static bool contains_ci(const char *hay, size_t hl, const char *needle, size_t nl, bool ci)
{
	if (nl == 0)
		return true;
	for (size_t i = 0; i + nl <= hl; i++) {
		size_t k = 0;
		while (k < nl &&
		       (ci ? tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k])
		           : hay[i + k] == needle[k]))
			k++;
		if (k == nl)
			return true;
	}
	return false;
}

static bool regex_matches(pcre2_code *re, const char *s)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = md ? pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) : -1;
	pcre2_match_data_free(md);
	return rc >= 0;
}

static pcre2_code *regex_compile(const char *pattern, bool ci, char *why, size_t cap)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	                               PCRE2_UTF | (ci ? PCRE2_CASELESS : 0), &code, &off, NULL);
	if (!re && why) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof msg);
		snprintf(why, cap, "%s at offset %zu", (const char *)msg, (size_t)off);
	}
	return re;
}

bool cand_check_answer(const struct cand_check *c, const char *answer, const char *expected)
{
	const char *a = answer ? answer : "", *e = expected ? expected : "";
	size_t al = strlen(a), el = strlen(e);
	switch (c->kind) {
	case CAND_CHECK_EXACT:
		trim(&a, &al);
		trim(&e, &el);
		return al == el && contains_ci(a, al, e, el, c->ignore_case);
	case CAND_CHECK_CONTAINS: trim(&e, &el); return contains_ci(a, al, e, el, c->ignore_case);
	case CAND_CHECK_REGEX: {
		if (c->regex)
			return regex_matches(c->regex, a);
		pcre2_code *re = regex_compile(e, c->ignore_case, NULL, 0);
		bool ok = re && regex_matches(re, a);
		pcre2_code_free(re);
		return ok;
	}
	case CAND_CHECK_JSON_SCHEMA: {
		trim(&a, &al);
		/* an answer fenced as ```json ... ``` is read inside the fence */
		if (al >= 6 && !strncmp(a, "```", 3)) {
			const char *nl = memchr(a, '\n', al);
			const char *end = a + al - 3;
			if (nl && nl < end && !strncmp(end, "```", 3)) {
				al = (size_t)(end - (nl + 1));
				a = nl + 1;
			}
		}
		cJSON *doc = cJSON_ParseWithLength(a, al);
		char why[160];
		bool ok = doc && (!c->schema ||
		                  verifier_schema_check(c->schema, doc, "$", why, sizeof why));
		cJSON_Delete(doc);
		return ok;
	}
	case CAND_CHECK_JUDGE: return false; /* judged by an upstream (candidates_run.c) */
	}
	return false;
}

double cand_judge_score(const char *reply)
{
	if (!reply)
		return -1;
	/* prefer the number after the word "score", else the first number */
	const char *p = reply;
	for (const char *q = reply; *q; q++)
		if (!strncasecmp(q, "score", 5)) {
			p = q + 5;
			break;
		}
	for (; *p; p++)
		if (isdigit((unsigned char)*p) ||
		    (*p == '.' && isdigit((unsigned char)p[1]) &&
		     (p == reply || !isalnum((unsigned char)p[-1])))) {
			char *end;
			double d = strtod(p, &end);
			if (end != p && isfinite(d))
				return d;
		}
	return -1;
}

/* ---- numbers ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double cand_percentile(double *v, int n, double q)
{
	if (n <= 0)
		return NAN;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	/* nearest rank: ceil(q/100 * n), 1-based */
	long rank = (long)ceil(q / 100.0 * n - 1e-9);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

double cand_cost_usd(long prompt_tokens, long completion_tokens, double price_input,
                     double price_output)
{
	return ((double)prompt_tokens * price_input + (double)completion_tokens * price_output) /
	       1e6;
}

void cand_step_decide(struct cand_step *st)
{
	const struct cand_thresholds *t = &st->thresholds;
	st->chosen = -1;
	for (int i = 0; i < st->n_candidates; i++) {
		struct cand_result *r = &st->results[i];
		r->accuracy = r->n ? (double)r->correct / r->n : 0;
		r->cost_per_1k_usd = r->n ? r->cost_usd / r->n * 1000.0 : 0;
		r->why[0] = '\0';
		if (r->n == 0)
			snprintf(r->why, sizeof r->why, "no examples");
		else if (t->accuracy >= 0 && r->accuracy < t->accuracy)
			snprintf(r->why, sizeof r->why, "accuracy %.4f < %.4f", r->accuracy,
			         t->accuracy);
		else if (t->p50_ms >= 0 && !(r->p50_ms <= t->p50_ms))
			snprintf(r->why, sizeof r->why, "p50 %.1f ms > %.1f ms", r->p50_ms,
			         t->p50_ms);
		else if (t->p95_ms >= 0 && !(r->p95_ms <= t->p95_ms))
			snprintf(r->why, sizeof r->why, "p95 %.1f ms > %.1f ms", r->p95_ms,
			         t->p95_ms);
		else if (t->cost_per_1k_usd >= 0 && r->cost_per_1k_usd > t->cost_per_1k_usd)
			snprintf(r->why, sizeof r->why, "cost %.6f USD per 1k > %.6f",
			         r->cost_per_1k_usd, t->cost_per_1k_usd);
		r->passed = r->why[0] == '\0';
		if (!r->passed)
			continue;
		if (st->chosen < 0) {
			st->chosen = i;
			continue;
		}
		const struct cand_result *b = &st->results[st->chosen];
		if (r->cost_usd < b->cost_usd ||
		    (r->cost_usd == b->cost_usd &&
		     (r->accuracy > b->accuracy ||
		      (r->accuracy == b->accuracy && r->p95_ms < b->p95_ms))))
			st->chosen = i;
	}
}

/* ---- reading the suite ---- */

/* "WHERE.KEY" in buf[240], for messages. */
static const char *keyf(char *buf, const char *where, const char *key)
{
	snprintf(buf, 240, "%s.%s", where, key);
	return buf;
}

static enum sy_status check_read(const struct yaml_doc *d, const struct yaml_value *v,
                                 const char *step, struct sy_error *err, struct cand_check *c)
{
	char w[216], key[240];
	snprintf(w, sizeof w, "%s.check", step);
	c->scale = 10;
	c->threshold = 0.7;
	const struct yaml_value *type = yaml_is_mapping(v) ? yaml_lookup(v, "type") : v;
	const char *name = yaml_scalar(type);
	if (!name)
		return yaml_error(d, v, err,
		                  "%s: expected a check name or a mapping with a type, got %s", w,
		                  yaml_kind_name(v));
	int k = -1;
	for (int i = 0; i < 5; i++)
		if (!strcmp(name, check_names[i]))
			k = i;
	if (k < 0)
		return yaml_error(d, type, err,
		                  "%s: unknown check '%s' (exact, contains, regex, json_schema, "
		                  "judge)",
		                  w, name);
	c->kind = (enum cand_check_kind)k;
	if (!yaml_is_mapping(v)) {
		if (c->kind == CAND_CHECK_JUDGE)
			return yaml_error(d, v, err, "%s: judge needs a mapping with an upstream",
			                  w);
		return SY_OK;
	}
	enum sy_status s = yaml_check_keys(d, v, w, "a check setting", check_keys, err);
	if (s == SY_OK)
		s = yaml_get_bool(d, yaml_lookup(v, "ignore_case"), keyf(key, w, "ignore_case"),
		                  err, &c->ignore_case);
	const struct yaml_value *pat = yaml_lookup(v, "pattern");
	if (s == SY_OK && pat) {
		const char *p = yaml_scalar(pat);
		char why[200];
		if (!p)
			return yaml_error(d, pat, err, "%s.pattern: expected a value", w);
		c->regex = regex_compile(p, c->ignore_case, why, sizeof why);
		if (!c->regex)
			return yaml_error(d, pat, err, "%s.pattern: %s", w, why);
	}
	const struct yaml_value *sch = yaml_lookup(v, "schema");
	if (s == SY_OK && sch) {
		if (!yaml_is_mapping(sch))
			return yaml_error(d, sch, err, "%s.schema: expected a mapping", w);
		c->schema = router_yaml_to_json(sch);
	}
	if (s == SY_OK)
		s = yaml_get_strbuf(d, yaml_lookup(v, "upstream"), keyf(key, w, "upstream"),
		                    sizeof c->judge, err, c->judge);
	if (s == SY_OK)
		s = yaml_get_strdup(d, yaml_lookup(v, "rubric"), keyf(key, w, "rubric"), err,
		                    &c->rubric);
	if (s == SY_OK)
		s = yaml_get_num(d, yaml_lookup(v, "scale"), keyf(key, w, "scale"), 1e-9, 1e9, err,
		                 &c->scale);
	if (s == SY_OK)
		s = yaml_get_num(d, yaml_lookup(v, "threshold"), keyf(key, w, "threshold"), 0, 1,
		                 err, &c->threshold);
	if (s == SY_OK && c->kind == CAND_CHECK_JUDGE && !c->judge[0])
		s = yaml_error(d, v, err, "%s: judge needs an upstream", w);
	if (s == SY_OK && c->kind == CAND_CHECK_JSON_SCHEMA && !c->schema)
		s = yaml_error(d, v, err, "%s: json_schema needs a schema", w);
	return s;
}

static void check_free(struct cand_check *c)
{
	pcre2_code_free(c->regex);
	cJSON_Delete(c->schema);
	free(c->rubric);
	memset(c, 0, sizeof *c);
}

/* The template with every {input} replaced by input. */
static char *apply_template(const char *tpl, const char *input)
{
	struct sbuf b = {0};
	for (const char *p = tpl; *p;) {
		const char *m = strstr(p, "{input}");
		if (!m) {
			sbuf_puts(&b, p);
			break;
		}
		sbuf_put(&b, p, (size_t)(m - p));
		sbuf_puts(&b, input);
		p = m + 7;
	}
	sbuf_putc(&b, '\0');
	size_t n;
	char *s = sbuf_take(&b, &n);
	return s ? s : strdup("");
}

static cJSON *user_message(const char *content)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", content);
	return m;
}

/* One JSONL line into an example. */
static enum sy_status example_read(const char *path, int line, const char *text, size_t len,
                                   const char *prompt, struct sy_error *err,
                                   struct cand_example *ex)
{
	ex->line = line;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return sy_error_set(err, SY_ERR_FORMAT, "%s: line %d: expected a JSON object", path,
		                    line);
	}
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(doc, "input");
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(doc, "messages");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(doc, "expected");
	enum sy_status s = SY_OK;
	if (!exp)
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: line %d: expected: missing", path, line);
	else if (cJSON_IsString(in)) {
		ex->input = strdup(in->valuestring);
		char *content =
		    prompt ? apply_template(prompt, in->valuestring) : strdup(in->valuestring);
		ex->messages = cJSON_CreateArray();
		cJSON_AddItemToArray(ex->messages, user_message(content ? content : ""));
		free(content);
	} else if (cJSON_IsArray(msgs) && cJSON_GetArraySize(msgs) > 0) {
		const cJSON *m;
		cJSON_ArrayForEach(m, msgs)
		{
			const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
			if (!cJSON_IsObject(m) || !cJSON_IsString(role) ||
			    !cJSON_GetObjectItemCaseSensitive(m, "content")) {
				s = sy_error_set(
				    err, SY_ERR_FORMAT,
				    "%s: line %d: messages: each needs a role and content", path,
				    line);
				break;
			}
		}
		if (s == SY_OK) {
			ex->messages = cJSON_Duplicate(msgs, true);
			/* the input the judge sees: the last user message's text */
			const char *last = "";
			cJSON_ArrayForEach(m, msgs)
			{
				const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
				if (!strcmp(
				        cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring,
				        "user") &&
				    cJSON_IsString(c))
					last = c->valuestring;
			}
			ex->input = strdup(last);
			if (prompt) { /* the template becomes a system message in front */
				cJSON *sys = cJSON_CreateObject();
				cJSON_AddStringToObject(sys, "role", "system");
				char *t = apply_template(prompt, last);
				cJSON_AddStringToObject(sys, "content", t ? t : "");
				free(t);
				cJSON_InsertItemInArray(ex->messages, 0, sys);
			}
		}
	} else
		s = sy_error_set(err, SY_ERR_FORMAT,
		                 "%s: line %d: expected \"input\" (a string) or \"messages\" (a "
		                 "non-empty list)",
		                 path, line);
	if (s == SY_OK) {
		ex->expected =
		    cJSON_IsString(exp) ? strdup(exp->valuestring) : cJSON_PrintUnformatted(exp);
		if (!ex->expected || !ex->input || !ex->messages)
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	cJSON_Delete(doc);
	return s;
}

static void example_free(struct cand_example *ex)
{
	cJSON_Delete(ex->messages);
	free(ex->input);
	free(ex->expected);
}

static enum sy_status data_read(struct cand_step *st, struct sy_error *err)
{
	char *text = NULL;
	size_t len = 0;
	enum sy_status s = sy_file_read(st->data_path, err, &text, &len);
	if (s != SY_OK)
		return s;
	int line = 0, cap = 0;
	for (char *p = text, *end = text + len; p < end && s == SY_OK;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		line++;
		const char *q = p;
		size_t ql = (size_t)(le - p);
		p = nl ? nl + 1 : end;
		trim(&q, &ql);
		if (ql == 0)
			continue;
		if (st->n_examples == cap) {
			cap = cap ? cap * 2 : 64;
			struct cand_example *a = realloc(st->examples, (size_t)cap * sizeof *a);
			if (!a) {
				s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
				break;
			}
			st->examples = a;
		}
		struct cand_example *ex = &st->examples[st->n_examples];
		memset(ex, 0, sizeof *ex);
		s = example_read(st->data_path, line, q, ql, st->prompt, err, ex);
		if (s == SY_OK)
			st->n_examples++;
		else
			example_free(ex);
	}
	free(text);
	if (s == SY_OK && st->n_examples == 0)
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: no examples", st->data_path);
	return s;
}

static enum sy_status step_read(const struct yaml_doc *d, const char *name,
                                const struct yaml_value *v, const char *dir, struct sy_error *err,
                                struct cand_step *st)
{
	char where[200];
	snprintf(where, sizeof where, "steps.%s", name);
	snprintf(st->name, sizeof st->name, "%s", name);
	st->thresholds = (struct cand_thresholds){-1, -1, -1, -1};
	st->chosen = -1;
	enum sy_status s = yaml_check_keys(d, v, where, "a step setting", step_keys, err);
	if (s != SY_OK)
		return s;
	const char *data = NULL;
	char key[260];
	snprintf(key, sizeof key, "%s.data", where);
	s = yaml_get_str(d, yaml_lookup(v, "data"), key, err, &data);
	if (s == SY_OK && !data)
		s = yaml_error(d, v, err, "%s: needs data (a JSONL file)", where);
	if (s != SY_OK)
		return s;
	if (data[0] == '/' || !dir || !dir[0])
		snprintf(st->data_path, sizeof st->data_path, "%s", data);
	else
		snprintf(st->data_path, sizeof st->data_path, "%s/%s", dir, data);
	const struct yaml_value *check = yaml_lookup(v, "check");
	if (!check)
		return yaml_error(d, v, err, "%s: needs a check", where);
	s = check_read(d, check, where, err, &st->check);
	if (s != SY_OK)
		return s;
	snprintf(key, sizeof key, "%s.candidates", where);
	s = yaml_get_strings(d, yaml_lookup(v, "candidates"), key, err, &st->candidates,
	                     &st->n_candidates);
	if (s == SY_OK && st->n_candidates == 0)
		s = yaml_error(d, v, err, "%s: needs candidates (upstream names)", where);
	snprintf(key, sizeof key, "%s.prompt", where);
	if (s == SY_OK)
		s = yaml_get_strdup(d, yaml_lookup(v, "prompt"), key, err, &st->prompt);
	const struct yaml_value *params = yaml_lookup(v, "params");
	if (s == SY_OK && params) {
		if (!yaml_is_mapping(params))
			return yaml_error(d, params, err, "%s.params: expected a mapping", where);
		st->params = router_yaml_to_json(params);
	}
	const struct yaml_value *th = yaml_lookup(v, "thresholds");
	if (s == SY_OK && th) {
		snprintf(key, sizeof key, "%s.thresholds", where);
		s = yaml_check_keys(d, th, key, "a threshold", threshold_keys, err);
		double *dst[] = {&st->thresholds.accuracy, &st->thresholds.p50_ms,
		                 &st->thresholds.p95_ms, &st->thresholds.cost_per_1k_usd};
		for (int i = 0; s == SY_OK && i < 4; i++) {
			snprintf(key, sizeof key, "%s.thresholds.%s", where, threshold_keys[i]);
			s = yaml_get_num(d, yaml_lookup(th, threshold_keys[i]), key, 0,
			                 i == 0 ? 1 : 1e12, err, dst[i]);
		}
	}
	if (s == SY_OK)
		s = data_read(st, err);
	return s;
}

enum sy_status cand_suite_load_text(const char *name, const char *text, size_t len, const char *dir,
                                    struct sy_error *err, struct cand_suite *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->path, sizeof out->path, "%s", name);
	out->concurrency = 4;
	out->retries = 1;
	out->max_retry_after_s = 2;
	struct yaml_doc *d = NULL;
	enum sy_status s = yaml_doc_load_text(name, text, len, err, &d);
	if (s != SY_OK)
		return s;
	const struct yaml_value *root = d->root;
	if (!root) {
		s = sy_error_set(err, SY_ERR_FORMAT, "%s: empty suite (expected steps:)", name);
		goto done;
	}
	s = yaml_check_keys(d, root, "the suite", "a suite setting", suite_keys, err);
	if (s == SY_OK)
		s = yaml_get_int(d, yaml_lookup(root, "concurrency"), "concurrency", 1, 256, err,
		                 &out->concurrency);
	if (s == SY_OK)
		s = yaml_get_int(d, yaml_lookup(root, "retries"), "retries", 0, 10, err,
		                 &out->retries);
	if (s == SY_OK)
		s = yaml_get_int(d, yaml_lookup(root, "max_retry_after_s"), "max_retry_after_s", 0,
		                 600, err, &out->max_retry_after_s);
	const struct yaml_value *steps = yaml_lookup(root, "steps");
	if (s == SY_OK && (!yaml_is_mapping(steps) || yaml_count(steps) == 0))
		s = yaml_error(d, steps ? steps : root, err,
		               "steps: expected a mapping of step names to steps");
	if (s != SY_OK)
		goto done;
	out->steps = calloc((size_t)yaml_count(steps), sizeof *out->steps);
	if (!out->steps) {
		s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int i = 0; i < yaml_count(steps) && s == SY_OK; i++) {
		out->n_steps++;
		s = step_read(d, yaml_scalar(yaml_map_key(steps, i)), yaml_map_value(steps, i), dir,
		              err, &out->steps[i]);
	}
done:
	yaml_doc_free(d);
	if (s != SY_OK)
		cand_suite_free(out);
	return s;
}

enum sy_status cand_suite_load(const char *path, struct sy_error *err, struct cand_suite *out)
{
	char *text = NULL;
	size_t len = 0;
	memset(out, 0, sizeof *out);
	enum sy_status s = sy_file_read(path, err, &text, &len);
	if (s != SY_OK)
		return s;
	char dir[512];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	s = cand_suite_load_text(path, text, len, dir, err, out);
	free(text);
	return s;
}

static int find_upstream(const struct router *r, const char *name)
{
	for (int i = 0; i < r->n_upstreams; i++)
		if (!strcmp(r->upstreams[i].name, name))
			return i;
	return -1;
}

enum sy_status cand_suite_bind(struct cand_suite *s, const struct router *r, struct sy_error *err)
{
	for (int i = 0; i < s->n_steps; i++) {
		struct cand_step *st = &s->steps[i];
		free(st->upstreams);
		st->upstreams = calloc((size_t)st->n_candidates, sizeof *st->upstreams);
		if (!st->upstreams)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		for (int c = 0; c < st->n_candidates; c++) {
			st->upstreams[c] = find_upstream(r, st->candidates[c]);
			if (st->upstreams[c] < 0)
				return sy_error_set(
				    err, SY_ERR_NOT_FOUND,
				    "%s: steps.%s.candidates: '%s' is not an upstream "
				    "of the routes config",
				    s->path, st->name, st->candidates[c]);
		}
		if (st->check.kind == CAND_CHECK_JUDGE && find_upstream(r, st->check.judge) < 0)
			return sy_error_set(
			    err, SY_ERR_NOT_FOUND,
			    "%s: steps.%s.check.upstream: '%s' is not an upstream of "
			    "the routes config",
			    s->path, st->name, st->check.judge);
	}
	return SY_OK;
}

void cand_suite_free(struct cand_suite *s)
{
	for (int i = 0; i < s->n_steps; i++) {
		struct cand_step *st = &s->steps[i];
		for (int e = 0; e < st->n_examples; e++)
			example_free(&st->examples[e]);
		free(st->examples);
		check_free(&st->check);
		for (int c = 0; c < st->n_candidates; c++)
			free(st->candidates[c]);
		free(st->candidates);
		free(st->upstreams);
		free(st->prompt);
		cJSON_Delete(st->params);
		free(st->results);
	}
	free(s->steps);
	memset(s, 0, sizeof *s);
}

cJSON *cand_chat_body(const char *model, const char *system, const char *user, int max_tokens)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "model", model);
	cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
	cJSON *sys = cJSON_CreateObject();
	cJSON_AddStringToObject(sys, "role", "system");
	cJSON_AddStringToObject(sys, "content", system);
	cJSON_AddItemToArray(msgs, sys);
	cJSON *u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "role", "user");
	cJSON_AddStringToObject(u, "content", user ? user : "");
	cJSON_AddItemToArray(msgs, u);
	cJSON_AddNumberToObject(b, "temperature", 0);
	cJSON_AddNumberToObject(b, "max_tokens", max_tokens);
	return b;
}
