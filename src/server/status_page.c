/* GET /: a live status page for people (loaded models, memory, queues, recent latency, answers
 * split into 4xx and 5xx, the LLM routes with their breakers and budgets), and GET /v1/status,
 * the same figures as JSON.
 *
 * The page (src/server/status_page.html, compiled in like /docs) is a shell with inline CSS and
 * one small script, no external assets, so it works offline and behind strict networks. The
 * first snapshot is embedded in it, so it renders without waiting for a request; the script
 * then polls /v1/status every 2 seconds and updates the elements in place (no page reload, the
 * scroll position and any selection stay). Text from outside (model ids, paths, errors, route
 * names) reaches the DOM only through textContent. /v1/status follows the page's auth rule
 * (--public-status). Load errors are redacted of paths for callers without the admin token, as
 * everywhere. */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json_write.h"
#include "server/server_internal.h"
#include "switchyard.h"

#include "status_page_html.h"

/* The marker in status_page.html that the first snapshot replaces. */
static const char snapshot_marker[] = "/*SNAPSHOT*/null";

static void put_model(const struct engine_model_info *m, struct sbuf *b)
{
	sbuf_puts(b, "{\"id\":");
	json_write_str(b, m->id, -1);
	sbuf_printf(b, ",\"state\":\"%s\",\"arch\":", engine_model_state_str(m->state));
	json_write_str(b, m->arch, -1);
	sbuf_puts(b, ",\"tasks\":[");
	static const enum engine_task tasks[] = {ENGINE_TASK_ENCODE, ENGINE_TASK_SCORE,
	                                         ENGINE_TASK_EXTRACT};
	int k = 0;
	for (size_t t = 0; t < sizeof tasks / sizeof *tasks; t++)
		if (m->tasks & tasks[t])
			sbuf_printf(b, "%s\"%s\"", k++ ? "," : "", engine_task_name(tasks[t]));
	/* dims: the dense width of an embedder; a cross-encoder's or extractor's head width
	 * (1 logit, n labels) is not an embedding size, so it is null there, as before the
	 * first load (tasks unknown). */
	const bool dense = (m->tasks & ENGINE_TASK_ENCODE) &&
	                   (m->outputs == 0 || (m->outputs & ENGINE_OUTPUT_DENSE));
	sbuf_puts(b, "],\"dims\":");
	if (dense && m->dims > 0)
		sbuf_printf(b, "%d", m->dims);
	else
		sbuf_puts(b, "null");
	sbuf_printf(b,
	            ",\"bytes\":%zu,\"pinned\":%s,\"queue_items\":%ld,\"requests\":%ld,\"items\":"
	            "%ld,\"tokens\":%ld,\"batches\":%ld,\"errors\":%ld,\"idle_s\":",
	            m->state == ENGINE_MODEL_LOADED ? m->bytes : 0, m->pinned ? "true" : "false",
	            m->queue_items, m->n_requests, m->n_items, m->n_tokens, m->n_batches,
	            m->n_errors);
	if (m->idle_s >= 0)
		sbuf_printf(b, "%.1f", m->idle_s);
	else
		sbuf_puts(b, "null");
	sbuf_printf(b, ",\"loads\":%ld,\"evictions\":%ld,\"error\":", m->n_loads, m->n_evictions);
	if (m->state == ENGINE_MODEL_FAILED && m->error[0])
		json_write_str(b, m->error, -1);
	else
		sbuf_puts(b, "null");
	sbuf_putc(b, '}');
}

/* The whole snapshot as one JSON object (the shape is in docs/API.md, GET /v1/status). */
static void status_write_json(struct request *rq, struct sbuf *b)
{
	struct server *s = rq->srv;
	struct engine_stats st;
	engine_stats_get(s->engine, &st);
	struct metrics_recent r;
	metrics_recent_get(s->metrics, &r);
	struct engine_model_info *models = NULL;
	int n = server_models_snapshot(s->engine, &models);
	sbuf_puts(b, "{\"server\":{\"host\":");
	json_write_str(b, s->host, -1);
	sbuf_printf(b,
	            ",\"port\":%d,\"version\":\"%s\",\"uptime_s\":%.1f,\"draining\":%s},"
	            "\"memory\":{\"used_bytes\":%zu,\"budget_bytes\":%zu},"
	            "\"models_loaded\":%d,\"models_total\":%d,\"evictions\":%ld,"
	            "\"load_failures\":%ld,\"queue\":{\"items\":%ld,\"inflight\":%ld},",
	            s->port, SY_VERSION_STRING, (double)(sy_now_ns() - s->started_ns) / 1e9,
	            atomic_load(&s->draining) ? "true" : "false", st.memory_used, st.memory_budget,
	            st.n_loaded, st.n_models, st.n_evictions, st.n_load_failures, st.queue_items,
	            atomic_load(&s->inflight));
	sbuf_printf(b,
	            "\"requests\":{\"total\":%ld,\"client_errors_4xx\":%ld,\"server_errors_5xx\":"
	            "%ld},\"latency\":",
	            r.total_requests, r.total_4xx, r.total_5xx);
	if (r.n)
		sbuf_printf(b,
		            "{\"window\":%ld,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
		            "\"max_ms\":%.3f}",
		            r.n, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms);
	else
		sbuf_puts(b, "null");
	sbuf_puts(b, ",\"batch_sizes\":[");
	for (int i = 0; i < 8; i++)
		sbuf_printf(b, "%s%ld", i ? "," : "", st.batch_size_hist[i]);
	sbuf_puts(b, "],\"models\":[");
	for (int i = 0; i < n; i++) {
		if (!rq->admin_view)
			text_redact_paths(models[i].error, sizeof models[i].error);
		if (i)
			sbuf_putc(b, ',');
		put_model(&models[i], b);
	}
	free(models);
	/* The routes exactly as GET /v1/routes lists them (breaker state per candidate, budget
	 * spend per route); [] without routing. */
	sbuf_puts(b, "],\"routes\":");
	struct router_ref *ref;
	struct router *rt = router_acquire(s->routers, &ref);
	if (rt)
		router_routes_json(rt, b);
	else
		sbuf_puts(b, "[]");
	router_release(s->routers, ref);
	sbuf_putc(b, '}');
}

void route_status_json(struct request *rq, struct response *rs)
{
	status_write_json(rq, &rs->body);
	rs->status = 200;
}

void route_status_page(struct request *rq, struct response *rs)
{
	const char *page = (const char *)status_page_html;
	const char *at = strstr(page, snapshot_marker);
	struct sbuf *b = &rs->body;
	if (!at) { /* the marker is part of the compiled-in page; see status_page.html */
		sbuf_puts(b, page);
	} else {
		sbuf_put(b, page, (size_t)(at - page));
		/* Inside <script>, "</" could end the element early: "<\/" is the same JSON. */
		struct sbuf j = {0};
		status_write_json(rq, &j);
		for (size_t i = 0; i < j.len && !j.oom; i++) {
			if (j.data[i] == '<' && i + 1 < j.len && j.data[i + 1] == '/')
				sbuf_puts(b, "<\\");
			else
				sbuf_putc(b, j.data[i]);
		}
		if (j.oom)
			b->oom = true;
		sbuf_free(&j);
		sbuf_puts(b, at + sizeof snapshot_marker - 1);
	}
	rs->content_type = "text/html; charset=utf-8";
	rs->status = 200;
}
