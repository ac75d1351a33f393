/* The reports of a candidate evaluation (candidates.h): the JSON object scripts read (and a
 * later run compares with as its baseline), a text table, an HTML page with an SVG chart of
 * cost against accuracy per step, and Prometheus gauges for a node-exporter textfile
 * collector. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json_write.h"
#include "router/candidates.h"

static void num_or_null(struct sbuf *b, double v, const char *fmt)
{
	if (isfinite(v))
		sbuf_printf(b, fmt, v);
	else
		sbuf_puts(b, "null");
}

void cand_report_json(const struct cand_suite *s, struct sbuf *b)
{
	sbuf_puts(b, "{\"steps\":{");
	for (int i = 0; i < s->n_steps; i++) {
		const struct cand_step *st = &s->steps[i];
		if (i)
			sbuf_putc(b, ',');
		json_write_str(b, st->name, -1);
		sbuf_printf(b, ":{\"examples\":%d,\"candidates\":{", st->n_examples);
		for (int c = 0; st->results && c < st->n_candidates; c++) {
			const struct cand_result *r = &st->results[c];
			if (c)
				sbuf_putc(b, ',');
			json_write_str(b, r->name, -1);
			sbuf_printf(b, ":{\"accuracy\":%.6f,\"p50_ms\":", r->accuracy);
			num_or_null(b, r->p50_ms, "%.3f");
			sbuf_puts(b, ",\"p95_ms\":");
			num_or_null(b, r->p95_ms, "%.3f");
			sbuf_printf(
			    b,
			    ",\"cost_usd\":%.9f,\"cost_per_1k_usd\":%.9f,\"judge_cost_usd\":%.9f,"
			    "\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"correct\":%d,"
			    "\"errors\":%d,\"calls\":%d,\"passed\":%s",
			    r->cost_usd, r->cost_per_1k_usd, r->judge_cost_usd, r->prompt_tokens,
			    r->completion_tokens, r->correct, r->errors, r->calls,
			    r->passed ? "true" : "false");
			if (!r->passed) {
				sbuf_puts(b, ",\"why\":");
				json_write_str(b, r->why, -1);
			}
			sbuf_putc(b, '}');
		}
		sbuf_puts(b, "},\"chosen\":");
		if (st->chosen >= 0)
			json_write_str(b, st->candidates[st->chosen], -1);
		else
			sbuf_puts(b, "null");
		sbuf_putc(b, '}');
	}
	sbuf_puts(b, "}}\n");
}

void cand_report_text(const struct cand_suite *s, struct sbuf *b)
{
	for (int i = 0; i < s->n_steps; i++) {
		const struct cand_step *st = &s->steps[i];
		sbuf_printf(b, "step %s (%d examples): chosen %s\n", st->name, st->n_examples,
		            st->chosen >= 0 ? st->candidates[st->chosen] : "none");
		sbuf_printf(b, "  %-20s %9s %9s %9s %12s %12s  %s\n", "candidate", "accuracy",
		            "p50 ms", "p95 ms", "cost USD", "USD per 1k", "result");
		for (int c = 0; st->results && c < st->n_candidates; c++) {
			const struct cand_result *r = &st->results[c];
			sbuf_printf(b, "  %-20s %9.4f %9.1f %9.1f %12.6f %12.6f  %s%s\n", r->name,
			            r->accuracy, r->p50_ms, r->p95_ms, r->cost_usd,
			            r->cost_per_1k_usd, r->passed ? "pass" : "fail: ", r->why);
		}
	}
}

static void html_escape(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': sbuf_puts(b, "&lt;"); break;
		case '>': sbuf_puts(b, "&gt;"); break;
		case '&': sbuf_puts(b, "&amp;"); break;
		case '"': sbuf_puts(b, "&quot;"); break;
		default: sbuf_putc(b, *s);
		}
	}
}

/* Accuracy (y, 0..1) against cost per 1k examples (x, from 0 to the largest), one labelled
 * point per candidate: green when it passed, red when not, ringed when chosen; the accuracy
 * and cost thresholds as dashed lines. */
static void step_svg(struct sbuf *b, const struct cand_step *st)
{
	const double W = 560, H = 320, L = 60, R = 20, T = 20, B = 40;
	double xmax = 0;
	for (int c = 0; c < st->n_candidates; c++)
		if (st->results[c].cost_per_1k_usd > xmax)
			xmax = st->results[c].cost_per_1k_usd;
	if (st->thresholds.cost_per_1k_usd > xmax)
		xmax = st->thresholds.cost_per_1k_usd;
	if (xmax <= 0)
		xmax = 1;
	xmax *= 1.1;
#define PX(v) (L + (v) / xmax * (W - L - R))
#define PY(v) (H - B - (v) * (H - T - B))
	sbuf_printf(b,
	            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
	            "font-family=\"sans-serif\" font-size=\"11\">\n"
	            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n"
	            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
	            W, H, L, H - B, W - R, H - B, L, T, L, H - B);
	for (int k = 0; k <= 4; k++) {
		double a = k / 4.0, cx = xmax * k / 4.0;
		sbuf_printf(b,
		            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n"
		            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4g</text>\n",
		            L - 6, PY(a) + 4, a, PX(cx), H - B + 16, cx);
	}
	sbuf_printf(b,
	            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">cost per 1k examples "
	            "(USD)</text>\n<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" "
	            "text-anchor=\"middle\">accuracy</text>\n",
	            (L + W - R) / 2, H - 6, (T + H - B) / 2, (T + H - B) / 2);
	if (st->thresholds.accuracy >= 0)
		sbuf_printf(b,
		            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" "
		            "stroke-dasharray=\"4 3\"/>\n",
		            L, PY(st->thresholds.accuracy), W - R, PY(st->thresholds.accuracy));
	if (st->thresholds.cost_per_1k_usd >= 0)
		sbuf_printf(b,
		            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"gray\" "
		            "stroke-dasharray=\"4 3\"/>\n",
		            PX(st->thresholds.cost_per_1k_usd), T,
		            PX(st->thresholds.cost_per_1k_usd), H - B);
	for (int c = 0; c < st->n_candidates; c++) {
		const struct cand_result *r = &st->results[c];
		double x = PX(r->cost_per_1k_usd), y = PY(r->accuracy);
		sbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", x, y,
		            r->passed ? "#2a9d2a" : "#d33");
		if (c == st->chosen)
			sbuf_printf(b,
			            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"9\" fill=\"none\" "
			            "stroke=\"black\" stroke-width=\"2\"/>\n",
			            x, y);
		sbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 8, y - 6);
		html_escape(b, r->name);
		sbuf_puts(b, "</text>\n");
	}
	sbuf_puts(b, "</svg>\n");
#undef PX
#undef PY
}

void cand_report_html(const struct cand_suite *s, struct sbuf *b)
{
	sbuf_puts(
	    b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Switchyard "
	       "candidate evaluation</title>\n<style>body{font-family:sans-serif;margin:2em}"
	       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
	       "text-align:right}td:first-child{text-align:left}.pass{color:#2a9d2a}"
	       ".fail{color:#d33}</style></head><body>\n<h1>Candidate evaluation</h1>\n<p>Suite ");
	html_escape(b, s->path);
	sbuf_puts(b, "</p>\n");
	for (int i = 0; i < s->n_steps; i++) {
		const struct cand_step *st = &s->steps[i];
		if (!st->results)
			continue;
		sbuf_puts(b, "<h2>Step ");
		html_escape(b, st->name);
		sbuf_printf(b, "</h2>\n<p>%d examples; chosen: <b>", st->n_examples);
		html_escape(b, st->chosen >= 0 ? st->candidates[st->chosen] : "none");
		sbuf_puts(b, "</b>. Thresholds:");
		const struct cand_thresholds *t = &st->thresholds;
		if (t->accuracy >= 0)
			sbuf_printf(b, " accuracy &ge; %.3f", t->accuracy);
		if (t->p50_ms >= 0)
			sbuf_printf(b, " p50 &le; %.0f ms", t->p50_ms);
		if (t->p95_ms >= 0)
			sbuf_printf(b, " p95 &le; %.0f ms", t->p95_ms);
		if (t->cost_per_1k_usd >= 0)
			sbuf_printf(b, " cost &le; %.4g USD per 1k", t->cost_per_1k_usd);
		sbuf_puts(b, "</p>\n<table><tr><th>candidate</th><th>accuracy</th><th>p50 ms</th>"
		             "<th>p95 ms</th><th>cost USD</th><th>USD per 1k</th><th>judge USD</th>"
		             "<th>errors</th><th>result</th></tr>\n");
		for (int c = 0; c < st->n_candidates; c++) {
			const struct cand_result *r = &st->results[c];
			sbuf_puts(b, "<tr><td>");
			html_escape(b, r->name);
			sbuf_printf(b,
			            "%s</td><td>%.4f</td><td>%.1f</td><td>%.1f</td><td>%.6f</td>"
			            "<td>%.6f</td><td>%.6f</td><td>%d</td><td class=\"%s\">",
			            c == st->chosen ? " (chosen)" : "", r->accuracy, r->p50_ms,
			            r->p95_ms, r->cost_usd, r->cost_per_1k_usd, r->judge_cost_usd,
			            r->errors, r->passed ? "pass" : "fail");
			html_escape(b, r->passed ? "pass" : r->why);
			sbuf_puts(b, "</td></tr>\n");
		}
		sbuf_puts(b, "</table>\n");
		step_svg(b, st);
	}
	sbuf_puts(b, "</body></html>\n");
}

static void prom_labels(struct sbuf *b, const char *step, const char *cand)
{
	/* label values escape backslash, quote and newline */
	sbuf_puts(b, "{step=\"");
	for (const char *p = step; *p; p++)
		sbuf_puts(b, *p == '"'    ? "\\\""
		             : *p == '\\' ? "\\\\"
		             : *p == '\n' ? "\\n"
		                          : (char[]){*p, 0});
	if (cand) {
		sbuf_puts(b, "\",candidate=\"");
		for (const char *p = cand; *p; p++)
			sbuf_puts(b, *p == '"'    ? "\\\""
			             : *p == '\\' ? "\\\\"
			             : *p == '\n' ? "\\n"
			                          : (char[]){*p, 0});
	}
	sbuf_puts(b, "\"}");
}

void cand_report_prometheus(const struct cand_suite *s, struct sbuf *b)
{
	static const char *const names[] = {"accuracy", "p50_ms",          "p95_ms",
	                                    "cost_usd", "cost_per_1k_usd", "passed"};
	static const char *const help[] = {"fraction of the step's examples answered right",
	                                   "median latency (ms)",
	                                   "95th percentile latency (ms)",
	                                   "cost of the whole step (USD, judge included)",
	                                   "cost per 1,000 examples (USD)",
	                                   "1 when the candidate meets every threshold"};
	for (int k = 0; k < 6; k++) {
		sbuf_printf(b,
		            "# HELP switchyard_eval_candidate_%s %s\n# TYPE "
		            "switchyard_eval_candidate_%s gauge\n",
		            names[k], help[k], names[k]);
		for (int i = 0; i < s->n_steps; i++) {
			const struct cand_step *st = &s->steps[i];
			for (int c = 0; st->results && c < st->n_candidates; c++) {
				const struct cand_result *r = &st->results[c];
				const double v[] = {r->accuracy,        r->p50_ms,
				                    r->p95_ms,          r->cost_usd,
				                    r->cost_per_1k_usd, r->passed ? 1 : 0};
				if (!isfinite(v[k]))
					continue;
				sbuf_printf(b, "switchyard_eval_candidate_%s", names[k]);
				prom_labels(b, st->name, r->name);
				sbuf_printf(b, " %.9g\n", v[k]);
			}
		}
	}
	sbuf_puts(b, "# HELP switchyard_eval_step_chosen 1 for the candidate chosen per step\n"
	             "# TYPE switchyard_eval_step_chosen gauge\n");
	for (int i = 0; i < s->n_steps; i++) {
		const struct cand_step *st = &s->steps[i];
		for (int c = 0; st->results && c < st->n_candidates; c++) {
			sbuf_puts(b, "switchyard_eval_step_chosen");
			prom_labels(b, st->name, st->candidates[c]);
			sbuf_printf(b, " %d\n", c == st->chosen);
		}
	}
	sbuf_puts(b,
	          "# HELP switchyard_eval_step_passing 1 when some candidate of the step passes\n"
	          "# TYPE switchyard_eval_step_passing gauge\n");
	for (int i = 0; i < s->n_steps; i++) {
		sbuf_puts(b, "switchyard_eval_step_passing");
		prom_labels(b, s->steps[i].name, NULL);
		sbuf_printf(b, " %d\n", s->steps[i].chosen >= 0);
	}
	sbuf_printf(b,
	            "# HELP switchyard_eval_last_run_timestamp_seconds when the evaluation ended\n"
	            "# TYPE switchyard_eval_last_run_timestamp_seconds gauge\n"
	            "switchyard_eval_last_run_timestamp_seconds %ld\n",
	            (long)time(NULL));
}

enum sy_status cand_baseline_check(const struct cand_suite *s, const char *baseline_json,
                                   size_t len, struct sbuf *why, struct sy_error *err,
                                   int *regressions)
{
	*regressions = 0;
	cJSON *doc = cJSON_ParseWithLength(baseline_json, len);
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(doc, "steps");
	if (!cJSON_IsObject(steps)) {
		cJSON_Delete(doc);
		return sy_error_set(err, SY_ERR_FORMAT,
		                    "the baseline is not a report of `eval candidates --json` (no "
		                    "\"steps\" object)");
	}
	const cJSON *bs;
	cJSON_ArrayForEach(bs, steps)
	{
		const cJSON *chosen = cJSON_GetObjectItemCaseSensitive(bs, "chosen");
		if (!cJSON_IsString(chosen))
			continue; /* nothing passed then: nothing to lose */
		const struct cand_step *st = NULL;
		for (int i = 0; i < s->n_steps; i++)
			if (!strcmp(s->steps[i].name, bs->string))
				st = &s->steps[i];
		if (!st) {
			sbuf_printf(why,
			            "regression: step %s (chosen %s in the baseline) is gone\n",
			            bs->string, chosen->valuestring);
			(*regressions)++;
			continue;
		}
		const struct cand_result *r = NULL;
		for (int c = 0; st->results && c < st->n_candidates; c++)
			if (!strcmp(st->results[c].name, chosen->valuestring))
				r = &st->results[c];
		if (!r) {
			sbuf_printf(
			    why,
			    "regression: step %s: %s, chosen in the baseline, is no longer a "
			    "candidate\n",
			    st->name, chosen->valuestring);
			(*regressions)++;
		} else if (!r->passed) {
			sbuf_printf(
			    why,
			    "regression: step %s: %s, chosen in the baseline, no longer passes "
			    "(%s)\n",
			    st->name, r->name, r->why);
			(*regressions)++;
		}
	}
	cJSON_Delete(doc);
	return SY_OK;
}
