/* GET /: a live status page for people (loaded models, memory, queues, recent latency, the LLM
 * routes with their breakers and budgets).
 *
 * Rendered on the server in one pass, with inline CSS and no scripts or external assets, so it
 * works offline and behind strict content policies; a meta refresh reloads it every 2 seconds.
 * Everything that comes from outside (model ids, paths, errors) is HTML-escaped. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "server/server_internal.h"

static void put_html(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': sbuf_puts(b, "&lt;"); break;
		case '>': sbuf_puts(b, "&gt;"); break;
		case '&': sbuf_puts(b, "&amp;"); break;
		case '"': sbuf_puts(b, "&quot;"); break;
		case '\'': sbuf_puts(b, "&#39;"); break;
		default: sbuf_putc(b, *s);
		}
	}
}

/* "12.3 MiB" style sizes. */
static void put_bytes(struct sbuf *b, size_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		sbuf_printf(b, "%zu B", n);
	else
		sbuf_printf(b, "%.1f %s", v, units[u]);
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta http-equiv=\"refresh\" content=\"2\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>Switchyard</title><style>"
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
    ".sub{color:#667;margin-bottom:16px}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap}"
    ".card{background:#fff;border:1px solid #dde;border-radius:8px;padding:12px 16px;"
    "min-width:150px}.card b{display:block;font-size:20px}.card span{color:#667;font-size:12px}"
    ".bar{height:10px;background:#e4e7ee;border-radius:5px;overflow:hidden;margin-top:6px}"
    ".bar i{display:block;height:100%;background:#3b82f6}"
    "table{border-collapse:collapse;background:#fff;border:1px solid #dde;width:100%}"
    "th,td{padding:6px 10px;border-bottom:1px solid #eef;text-align:left;white-space:nowrap}"
    "th{background:#eef1f6;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".st{padding:2px 8px;border-radius:10px;font-size:12px}"
    ".loaded{background:#d1fae5}.loading{background:#fef3c7}.failed{background:#fee2e2}"
    ".available{background:#e5e7eb}.err{color:#b91c1c;white-space:normal}"
    "</style></head><body>\n";

static void render_cards(struct server *s, const struct engine_stats *st,
                         const struct metrics_recent *r, struct sbuf *b)
{
	double up = (double)(sy_now_ns() - s->started_ns) / 1e9;
	sbuf_puts(b, "<h1>Switchyard</h1><div class=\"sub\">listening on ");
	put_html(b, s->host);
	sbuf_printf(b, ":%d &middot; up %.0f s%s</div>\n<div class=\"cards\">", s->port, up,
	            atomic_load(&s->draining) ? " &middot; <b>draining</b>" : "");
	double pct =
	    st->memory_budget ? 100.0 * (double)st->memory_used / (double)st->memory_budget : 0;
	sbuf_puts(b, "<div class=\"card\" id=\"memory\"><span>memory</span><b>");
	put_bytes(b, st->memory_used);
	sbuf_puts(b, "</b><span>of ");
	put_bytes(b, st->memory_budget);
	sbuf_printf(b,
	            " budget</span><div class=\"bar\"><i style=\"width:%.1f%%\"></i></div></div>",
	            pct > 100 ? 100 : pct);
	sbuf_printf(b,
	            "<div class=\"card\"><span>models loaded</span><b>%d / %d</b>"
	            "<span>%ld evictions, %ld load failures</span></div>",
	            st->n_loaded, st->n_models, st->n_evictions, st->n_load_failures);
	sbuf_printf(b,
	            "<div class=\"card\" id=\"queue\"><span>queued items</span><b>%ld</b>"
	            "<span>%ld requests in flight</span></div>",
	            st->queue_items, atomic_load(&s->inflight));
	if (r->n)
		sbuf_printf(
		    b,
		    "<div class=\"card\" id=\"latency\"><span>encode latency (last %ld)</span>"
		    "<b>p50 %.1f ms</b><span>p90 %.1f ms &middot; p99 %.1f ms &middot; max "
		    "%.1f ms</span></div>",
		    r->n, r->p50_ms, r->p90_ms, r->p99_ms, r->max_ms);
	else
		sbuf_puts(b, "<div class=\"card\" id=\"latency\"><span>encode latency</span>"
		             "<b>&ndash;</b><span>no requests yet</span></div>");
	sbuf_printf(b,
	            "<div class=\"card\"><span>requests</span><b>%ld</b><span>%ld errors</span>"
	            "</div></div>\n",
	            r->total_requests, r->total_errors);
}

static void render_models(const struct engine_model_info *m, int n, struct sbuf *b)
{
	sbuf_puts(b, "<h2>Models</h2><table id=\"models\"><tr><th>id</th><th>state</th>"
	             "<th>arch</th><th>dims</th><th>memory</th><th>pinned</th><th>queue</th>"
	             "<th>requests</th><th>items</th><th>tokens</th><th>batches</th>"
	             "<th>idle</th><th>loads / evictions</th></tr>\n");
	for (int i = 0; i < n; i++) {
		const char *state = engine_model_state_str(m[i].state);
		sbuf_puts(b, "<tr><td>");
		put_html(b, m[i].id);
		sbuf_printf(b, "</td><td><span class=\"st %s\">%s</span></td><td>", state, state);
		put_html(b, m[i].arch[0] ? m[i].arch : "-");
		sbuf_printf(b, "</td><td class=\"n\">%d</td><td class=\"n\">", m[i].dims);
		if (m[i].state == ENGINE_MODEL_LOADED)
			put_bytes(b, m[i].bytes);
		else
			sbuf_puts(b, "-");
		sbuf_printf(
		    b,
		    "</td><td>%s</td><td class=\"n\">%ld</td><td class=\"n\">%ld</td>"
		    "<td class=\"n\">%ld</td><td class=\"n\">%ld</td><td class=\"n\">%ld</td>",
		    m[i].pinned ? "yes" : "", m[i].queue_items, m[i].n_requests, m[i].n_items,
		    m[i].n_tokens, m[i].n_batches);
		if (m[i].idle_s >= 0)
			sbuf_printf(b, "<td class=\"n\">%.0f s</td>", m[i].idle_s);
		else
			sbuf_puts(b, "<td class=\"n\">never used</td>");
		sbuf_printf(b, "<td class=\"n\">%ld / %ld</td></tr>\n", m[i].n_loads,
		            m[i].n_evictions);
		if (m[i].state == ENGINE_MODEL_FAILED && m[i].error[0]) {
			sbuf_puts(b, "<tr><td></td><td colspan=\"12\" class=\"err\">");
			put_html(b, m[i].error);
			sbuf_puts(b, "</td></tr>\n");
		}
	}
	if (n == 0)
		sbuf_puts(b, "<tr><td colspan=\"13\">no models in the catalogue</td></tr>\n");
	sbuf_puts(b, "</table>\n");
}

static void render_batches(const struct engine_stats *st, struct sbuf *b)
{
	static const char *const label[8] = {"1",    "2",     "3-4",   "5-8",
	                                     "9-16", "17-32", "33-64", "65+"};
	long total = 0;
	for (int i = 0; i < 8; i++)
		total += st->batch_size_hist[i];
	sbuf_puts(b, "<h2>Batch sizes</h2><table id=\"batches\"><tr>");
	for (int i = 0; i < 8; i++)
		sbuf_printf(b, "<th>%s</th>", label[i]);
	sbuf_puts(b, "</tr><tr>");
	for (int i = 0; i < 8; i++)
		sbuf_printf(b, "<td class=\"n\">%ld</td>", st->batch_size_hist[i]);
	sbuf_printf(b, "</tr></table><div class=\"sub\">%ld batches</div>\n", total);
}

/* The LLM routes: policy, candidates with their breaker state, budget spend. */
static void render_routes(struct server *s, struct sbuf *b)
{
	struct router_ref *ref;
	struct router *r = router_acquire(s->routers, &ref);
	if (r && router_n_routes(r) > 0) {
		struct sbuf j = {0};
		router_routes_json(r, &j);
		cJSON *doc = j.oom ? NULL : cJSON_ParseWithLength(j.data, j.len);
		sbuf_free(&j);
		sbuf_puts(b, "<h2>Routes</h2><table id=\"routes\"><tr><th>route</th><th>policy</th>"
		             "<th>candidates (breaker)</th><th>budget</th></tr>");
		const cJSON *rt;
		cJSON_ArrayForEach(rt, doc)
		{
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(rt, "name");
			const cJSON *policy = cJSON_GetObjectItemCaseSensitive(rt, "policy");
			sbuf_puts(b, "<tr><td>");
			put_html(b, cJSON_IsString(name) ? name->valuestring : "");
			sbuf_puts(b, "</td><td>");
			put_html(b, cJSON_IsString(policy) ? policy->valuestring : "");
			sbuf_puts(b, "</td><td>");
			const cJSON *c;
			int k = 0;
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(rt, "candidates"))
			{
				const cJSON *cn = cJSON_GetObjectItemCaseSensitive(c, "name");
				const cJSON *br = cJSON_GetObjectItemCaseSensitive(c, "breaker");
				if (k++)
					sbuf_puts(b, ", ");
				put_html(b, cJSON_IsString(cn) ? cn->valuestring : "");
				if (cJSON_IsString(br) && strcmp(br->valuestring, "closed") != 0) {
					sbuf_puts(b, " <b>(");
					put_html(b, br->valuestring);
					sbuf_puts(b, ")</b>");
				}
			}
			sbuf_puts(b, "</td><td>");
			const cJSON *bu = cJSON_GetObjectItemCaseSensitive(rt, "budget");
			if (bu) {
				const cJSON *sp = cJSON_GetObjectItemCaseSensitive(bu, "spent_usd");
				const cJSON *li = cJSON_GetObjectItemCaseSensitive(bu, "limit_usd");
				const cJSON *wi = cJSON_GetObjectItemCaseSensitive(bu, "window");
				sbuf_printf(b, "%.4f / %.4f USD ",
				            cJSON_IsNumber(sp) ? sp->valuedouble : 0,
				            cJSON_IsNumber(li) ? li->valuedouble : 0);
				put_html(b, cJSON_IsString(wi) ? wi->valuestring : "");
			} else {
				sbuf_puts(b, "&ndash;");
			}
			sbuf_puts(b, "</td></tr>");
		}
		sbuf_puts(b, "</table>\n");
		cJSON_Delete(doc);
	}
	router_release(s->routers, ref);
}

void route_status_page(struct request *rq, struct response *rs)
{
	struct server *s = rq->srv;
	struct engine_stats st;
	engine_stats_get(s->engine, &st);
	struct metrics_recent recent;
	metrics_recent_get(s->metrics, &recent);
	struct engine_model_info *models = NULL;
	int n = server_models_snapshot(s->engine, &models);
	for (int i = 0; i < n && !rq->admin_view; i++)
		text_redact_paths(models[i].error, sizeof models[i].error);
	struct sbuf *b = &rs->body;
	sbuf_puts(b, page_head);
	render_cards(s, &st, &recent, b);
	render_models(models, n, b);
	render_batches(&st, b);
	render_routes(s, b);
	sbuf_puts(b, "<div class=\"sub\">JSON: <a href=\"/v1/models\">/v1/models</a> &middot; "
	             "<a href=\"/v1/routes\">/v1/routes</a> &middot; "
	             "Prometheus: <a href=\"/metrics\">/metrics</a></div></body></html>\n");
	free(models);
	rs->content_type = "text/html; charset=utf-8";
	rs->status = 200;
}
