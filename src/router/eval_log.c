/* Per-candidate quality, cost and latency from a decision log and feedback (eval_log.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/json_write.h"
#include "router/candidates.h"
#include "router/eval_log.h"

struct group {
	char route[128], candidate[128]; /* candidate "" when no candidate answered */
	long requests, errors, prompt_tokens, completion_tokens;
	double cost_usd;
	double *lat; /* [n_lat] */
	int n_lat, cap_lat;
	long feedback, successes, misroutes, n_scores;
	double score_sum;
};

struct id_entry {
	char *id;
	int group;
};

struct summary {
	struct group *g;
	int n, cap;
	struct id_entry *ids;
	int n_ids, cap_ids;
	long requests, feedback, unmatched;
};

static int group_of(struct summary *s, const char *route, const char *cand)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->g[i].route, route) && !strcmp(s->g[i].candidate, cand))
			return i;
	if (s->n == s->cap) {
		int nc = s->cap ? 2 * s->cap : 16;
		struct group *a = realloc(s->g, (size_t)nc * sizeof *a);
		if (!a)
			return -1;
		s->g = a;
		s->cap = nc;
	}
	struct group *g = &s->g[s->n];
	memset(g, 0, sizeof *g);
	snprintf(g->route, sizeof g->route, "%s", route);
	snprintf(g->candidate, sizeof g->candidate, "%s", cand);
	return s->n++;
}

static const char *str_or(const cJSON *doc, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double num_or(const cJSON *doc, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static void add_decision(struct summary *s, const cJSON *d)
{
	int gi = group_of(s, str_or(d, "route", ""), str_or(d, "choice", ""));
	if (gi < 0)
		return;
	struct group *g = &s->g[gi];
	s->requests++;
	g->requests++;
	if (num_or(d, "status", 0) != 200)
		g->errors++;
	g->prompt_tokens += (long)num_or(d, "prompt_tokens", 0);
	g->completion_tokens += (long)num_or(d, "completion_tokens", 0);
	g->cost_usd += num_or(d, "cost_usd", 0);
	double ms = num_or(d, "latency_ms", NAN);
	if (isfinite(ms)) {
		if (g->n_lat == g->cap_lat) {
			int nc = g->cap_lat ? 2 * g->cap_lat : 64;
			double *a = realloc(g->lat, (size_t)nc * sizeof *a);
			if (!a)
				return;
			g->lat = a;
			g->cap_lat = nc;
		}
		g->lat[g->n_lat++] = ms;
	}
	const char *id = str_or(d, "request_id", NULL);
	if (id) {
		if (s->n_ids == s->cap_ids) {
			int nc = s->cap_ids ? 2 * s->cap_ids : 256;
			struct id_entry *a = realloc(s->ids, (size_t)nc * sizeof *a);
			if (!a)
				return;
			s->ids = a;
			s->cap_ids = nc;
		}
		s->ids[s->n_ids++] = (struct id_entry){strdup(id), gi};
	}
}

static void add_feedback(struct summary *s, const cJSON *f)
{
	s->feedback++;
	int gi = -1;
	const char *id = str_or(f, "request_id", "");
	for (int i = s->n_ids - 1; i >= 0 && gi < 0; i--) /* the newest decision of that id */
		if (s->ids[i].id && !strcmp(s->ids[i].id, id))
			gi = s->ids[i].group;
	if (gi < 0 && str_or(f, "route", NULL)) /* a feedback line of the log names its decision */
		gi = group_of(s, str_or(f, "route", ""), str_or(f, "choice", ""));
	if (gi < 0) {
		s->unmatched++;
		return;
	}
	struct group *g = &s->g[gi];
	g->feedback++;
	const cJSON *score = cJSON_GetObjectItemCaseSensitive(f, "score");
	const char *label = str_or(f, "label", NULL);
	const cJSON *succ = cJSON_GetObjectItemCaseSensitive(f, "success");
	bool ok;
	if (cJSON_IsBool(succ))
		ok = cJSON_IsTrue(succ);
	else if (cJSON_IsNumber(score))
		ok = score->valuedouble >= 0.5;
	else
		ok = label && (!strcasecmp(label, "good") || !strcasecmp(label, "correct") ||
		               !strcasecmp(label, "positive") || !strcasecmp(label, "success") ||
		               !strcasecmp(label, "helpful") || !strcasecmp(label, "up") ||
		               !strcasecmp(label, "thumbs_up"));
	g->successes += ok;
	if (cJSON_IsNumber(score)) {
		g->n_scores++;
		g->score_sum += score->valuedouble;
	}
	if (label && !strcasecmp(label, "misroute"))
		g->misroutes++;
}

/* Calls fn on each JSON object line of text; fails naming name and the line otherwise. */
static enum sy_status each_line(const char *name, const char *text, size_t len, bool feedback,
                                struct summary *s, struct sy_error *err)
{
	int line = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *q = p;
		line++;
		p = nl ? nl + 1 : end;
		while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q == le)
			continue;
		cJSON *d = cJSON_ParseWithLength(q, (size_t)(le - q));
		if (!cJSON_IsObject(d)) {
			cJSON_Delete(d);
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: line %d: expected a JSON object", name, line);
		}
		if (feedback || !strcmp(str_or(d, "type", ""), "feedback")) {
			if (!str_or(d, "request_id", NULL)) {
				cJSON_Delete(d);
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "%s: line %d: request_id: missing", name, line);
			}
			add_feedback(s, d);
		} else
			add_decision(s, d);
		cJSON_Delete(d);
	}
	return SY_OK;
}

static void opt_num(struct sbuf *b, const char *key, double v, bool have)
{
	sbuf_printf(b, ",\"%s\":", key);
	if (have && isfinite(v))
		sbuf_printf(b, "%.6g", v);
	else
		sbuf_puts(b, "null");
}

enum sy_status eval_log_summarize(const char *log_name, const char *log, size_t log_len,
                                  const char *fb_name, const char *fb, size_t fb_len, bool json,
                                  struct sbuf *out, struct sy_error *err)
{
	struct summary s = {0};
	/* the log's feedback lines come after their decisions; a separate file is read last */
	enum sy_status st = each_line(log_name, log, log_len, false, &s, err);
	if (st == SY_OK && fb)
		st = each_line(fb_name, fb, fb_len, true, &s, err);
	if (st == SY_OK) {
		if (json)
			sbuf_printf(out,
			            "{\"requests\":%ld,\"feedback\":%ld,\"unmatched_feedback\":%ld,"
			            "\"routes\":{",
			            s.requests, s.feedback, s.unmatched);
		else
			sbuf_printf(out,
			            "%ld requests, %ld feedback (%ld not matched to a request)\n"
			            "%-16s %-16s %8s %6s %12s %9s %9s %8s %8s %6s %9s\n",
			            s.requests, s.feedback, s.unmatched, "route", "candidate",
			            "requests", "errors", "cost USD", "p50 ms", "p95 ms",
			            "feedback", "success", "score", "misroutes");
		bool first_route = true;
		for (int i = 0; i < s.n; i++) {
			struct group *g = &s.g[i];
			bool seen = false; /* routes grouped in first-seen order */
			for (int k = 0; k < i; k++)
				seen |= !strcmp(s.g[k].route, g->route);
			if (seen)
				continue;
			if (json) {
				if (!first_route)
					sbuf_putc(out, ',');
				first_route = false;
				json_write_str(out, g->route, -1);
				sbuf_puts(out, ":{");
			}
			bool first = true;
			for (int k = i; k < s.n; k++) {
				struct group *c = &s.g[k];
				if (strcmp(c->route, g->route) != 0)
					continue;
				double p50 = cand_percentile(c->lat, c->n_lat, 50);
				double p95 = cand_percentile(c->lat, c->n_lat, 95);
				double rate =
				    c->feedback ? (double)c->successes / c->feedback : NAN;
				double mean = c->n_scores ? c->score_sum / c->n_scores : NAN;
				if (!json) {
					sbuf_printf(
					    out,
					    "%-16s %-16s %8ld %6ld %12.6f %9.1f %9.1f %8ld %8.3f "
					    "%6.3f %9ld\n",
					    c->route, c->candidate[0] ? c->candidate : "(none)",
					    c->requests, c->errors, c->cost_usd, p50, p95,
					    c->feedback, rate, mean, c->misroutes);
					continue;
				}
				if (!first)
					sbuf_putc(out, ',');
				first = false;
				json_write_str(out, c->candidate[0] ? c->candidate : "(none)", -1);
				sbuf_printf(
				    out,
				    ":{\"requests\":%ld,\"errors\":%ld,\"prompt_tokens\":%ld,"
				    "\"completion_tokens\":%ld,\"cost_usd\":%.9f",
				    c->requests, c->errors, c->prompt_tokens, c->completion_tokens,
				    c->cost_usd);
				opt_num(out, "cost_per_request_usd",
				        c->requests ? c->cost_usd / c->requests : NAN,
				        c->requests > 0);
				opt_num(out, "p50_ms", p50, c->n_lat > 0);
				opt_num(out, "p95_ms", p95, c->n_lat > 0);
				sbuf_printf(out, ",\"feedback\":%ld", c->feedback);
				opt_num(out, "success_rate", rate, c->feedback > 0);
				opt_num(out, "mean_score", mean, c->n_scores > 0);
				sbuf_printf(out, ",\"misroutes\":%ld}", c->misroutes);
			}
			if (json)
				sbuf_putc(out, '}');
		}
		if (json)
			sbuf_puts(out, "}}\n");
	}
	for (int i = 0; i < s.n; i++)
		free(s.g[i].lat);
	free(s.g);
	for (int i = 0; i < s.n_ids; i++)
		free(s.ids[i].id);
	free(s.ids);
	return st;
}
