/* HTTP request metrics and the Prometheus exposition (see metrics.h).
 *
 * One mutex guards the counters: a request takes it once, for a few increments, which costs far
 * less than the request itself; scrapes copy under it and format outside it. */
#include "server/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

#define METRICS_N_STATUS 600 /* HTTP statuses 0..599 are counted by value */
#define METRICS_N_RECENT 1024

/* Upper bounds of the latency buckets, in seconds (the last bucket, +Inf, is implicit). */
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define METRICS_N_BOUNDS (int)(sizeof latency_bounds / sizeof latency_bounds[0])

static const char *const route_names[METRICS_ROUTE_COUNT] = {
    "encode", "score",   "extract",     "embeddings", "models",   "model_admin", "healthz",
    "readyz", "metrics", "status_page", "chat",       "tokenize", "docs",        "other",
};

struct metrics_histogram {
	long buckets[METRICS_N_BOUNDS + 1]; /* per bucket, not cumulative; last is +Inf */
	double sum_s;
	long count;
};

struct metrics {
	pthread_mutex_t mu;
	long requests[METRICS_ROUTE_COUNT][METRICS_N_STATUS];
	struct metrics_histogram latency[METRICS_ROUTE_COUNT];
	double recent_ms[METRICS_N_RECENT]; /* ring of encode/embeddings latencies */
	long n_recent; /* total written; the ring holds the last ones */
	long total_requests, total_errors, total_4xx, total_5xx;
};

const char *metrics_route_name(enum metrics_route r)
{
	return r >= 0 && r < METRICS_ROUTE_COUNT ? route_names[r] : "other";
}

struct metrics *metrics_create(void)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void metrics_request_observe(struct metrics *m, enum metrics_route r, int status, double seconds)
{
	if ((int)r < 0 || r >= METRICS_ROUTE_COUNT)
		r = METRICS_ROUTE_OTHER;
	if (status < 0 || status >= METRICS_N_STATUS)
		status = 0;
	int b = 0;
	while (b < METRICS_N_BOUNDS && seconds > latency_bounds[b])
		b++;
	pthread_mutex_lock(&m->mu);
	m->requests[r][status]++;
	m->latency[r].buckets[b]++;
	m->latency[r].sum_s += seconds;
	m->latency[r].count++;
	m->total_requests++;
	if (status >= 400)
		m->total_errors++;
	if (status >= 400 && status < 500)
		m->total_4xx++;
	else if (status >= 500)
		m->total_5xx++;
	if ((r == METRICS_ROUTE_ENCODE || r == METRICS_ROUTE_EMBEDDINGS) && status == 200)
		m->recent_ms[m->n_recent++ % METRICS_N_RECENT] = seconds * 1e3;
	pthread_mutex_unlock(&m->mu);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void metrics_recent_get(struct metrics *m, struct metrics_recent *out)
{
	static double v[METRICS_N_RECENT];
	static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&sort_mu);
	pthread_mutex_lock(&m->mu);
	long n = m->n_recent < METRICS_N_RECENT ? m->n_recent : METRICS_N_RECENT;
	memcpy(v, m->recent_ms, (size_t)n * sizeof *v);
	out->total_requests = m->total_requests;
	out->total_errors = m->total_errors;
	out->total_4xx = m->total_4xx;
	out->total_5xx = m->total_5xx;
	pthread_mutex_unlock(&m->mu);
	out->n = n;
	if (n > 0) {
		qsort(v, (size_t)n, sizeof *v, cmp_double);
		out->p50_ms = v[(n - 1) * 50 / 100];
		out->p90_ms = v[(n - 1) * 90 / 100];
		out->p99_ms = v[(n - 1) * 99 / 100];
		out->max_ms = v[n - 1];
	}
	pthread_mutex_unlock(&sort_mu);
}

/* A label value with \, " and newline escaped as the exposition format requires. */
static void put_label(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			sbuf_puts(b, "\\\\");
		else if (*s == '"')
			sbuf_puts(b, "\\\"");
		else if (*s == '\n')
			sbuf_puts(b, "\\n");
		else
			sbuf_putc(b, *s);
	}
}

static void put_header(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_http(struct metrics *snap, long inflight, struct sbuf *b)
{
	put_header(b, "switchyard_http_requests_total", "counter",
	           "HTTP requests answered, by route and status.");
	for (int r = 0; r < METRICS_ROUTE_COUNT; r++)
		for (int s = 0; s < METRICS_N_STATUS; s++)
			if (snap->requests[r][s])
				sbuf_printf(
				    b,
				    "switchyard_http_requests_total{route=\"%s\",status=\"%d\"} "
				    "%ld\n",
				    route_names[r], s, snap->requests[r][s]);
	put_header(b, "switchyard_http_request_duration_seconds", "histogram",
	           "Time from the request's first byte to its answer, by route.");
	for (int r = 0; r < METRICS_ROUTE_COUNT; r++) {
		const struct metrics_histogram *h = &snap->latency[r];
		if (!h->count)
			continue;
		long cum = 0;
		for (int i = 0; i <= METRICS_N_BOUNDS; i++) {
			cum += h->buckets[i];
			if (i < METRICS_N_BOUNDS)
				sbuf_printf(b,
				            "switchyard_http_request_duration_seconds_bucket{route="
				            "\"%s\",le=\"%g\"} %ld\n",
				            route_names[r], latency_bounds[i], cum);
			else
				sbuf_printf(b,
				            "switchyard_http_request_duration_seconds_bucket{route="
				            "\"%s\",le=\"+Inf\"} %ld\n",
				            route_names[r], cum);
		}
		sbuf_printf(b, "switchyard_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
		            route_names[r], h->sum_s);
		sbuf_printf(b, "switchyard_http_request_duration_seconds_count{route=\"%s\"} %ld\n",
		            route_names[r], h->count);
	}
	put_header(b, "switchyard_http_inflight_requests", "gauge",
	           "HTTP requests being answered now.");
	sbuf_printf(b, "switchyard_http_inflight_requests %ld\n", inflight);
}

/* One per-model series: name, type, help, and the field to print. */
enum model_field {
	MF_LOADED,
	MF_BYTES,
	MF_QUEUE,
	MF_REQUESTS,
	MF_ITEMS,
	MF_TOKENS,
	MF_BATCHES,
	MF_ERRORS,
	MF_LOADS,
	MF_EVICTIONS,
	MF_LOAD_FAILURES,
	MF_COUNT,
};

static const struct {
	const char *name, *type, *help;
} model_series[MF_COUNT] = {
    {"switchyard_model_loaded", "gauge", "1 when the model is loaded, else 0."},
    {"switchyard_model_bytes", "gauge", "Resident bytes of the model (weights and scratch)."},
    {"switchyard_model_queue_items", "gauge", "Items waiting in the model's queue."},
    {"switchyard_model_requests_total", "counter", "Encode requests for the model."},
    {"switchyard_model_items_total", "counter", "Items encoded by the model."},
    {"switchyard_model_tokens_total", "counter", "Tokens encoded by the model."},
    {"switchyard_model_batches_total", "counter", "Batches run by the model."},
    {"switchyard_model_errors_total", "counter", "Failed requests for the model."},
    {"switchyard_model_loads_total", "counter", "Times the model was loaded."},
    {"switchyard_model_evictions_total", "counter", "Times the model was evicted."},
    {"switchyard_model_load_failures_total", "counter", "Failed loads of the model."},
};

static long model_value(const struct engine_model_info *m, enum model_field f)
{
	switch (f) {
	case MF_LOADED: return m->state == ENGINE_MODEL_LOADED;
	case MF_BYTES: return m->state == ENGINE_MODEL_LOADED ? (long)m->bytes : 0;
	case MF_QUEUE: return m->queue_items;
	case MF_REQUESTS: return m->n_requests;
	case MF_ITEMS: return m->n_items;
	case MF_TOKENS: return m->n_tokens;
	case MF_BATCHES: return m->n_batches;
	case MF_ERRORS: return m->n_errors;
	case MF_LOADS: return m->n_loads;
	case MF_EVICTIONS: return m->n_evictions;
	case MF_LOAD_FAILURES: return m->n_load_failures;
	default: return 0;
	}
}

static void render_engine(struct engine *e, struct sbuf *b)
{
	struct engine_stats st;
	engine_stats_get(e, &st);
	struct engine_model_info *models = NULL;
	int n = server_models_snapshot(e, &models);

	put_header(b, "switchyard_memory_budget_bytes", "gauge", "Byte budget for loaded models.");
	sbuf_printf(b, "switchyard_memory_budget_bytes %zu\n", st.memory_budget);
	put_header(b, "switchyard_memory_used_bytes", "gauge", "Bytes used by loaded models.");
	sbuf_printf(b, "switchyard_memory_used_bytes %zu\n", st.memory_used);
	put_header(b, "switchyard_models", "gauge", "Models in the catalogue.");
	sbuf_printf(b, "switchyard_models %d\n", st.n_models);
	put_header(b, "switchyard_models_loaded", "gauge", "Models loaded now.");
	sbuf_printf(b, "switchyard_models_loaded %d\n", st.n_loaded);
	put_header(b, "switchyard_queue_items", "gauge", "Items waiting in all model queues.");
	sbuf_printf(b, "switchyard_queue_items %ld\n", st.queue_items);
	put_header(b, "switchyard_evictions_total", "counter",
	           "Models evicted to make room under the memory budget.");
	sbuf_printf(b, "switchyard_evictions_total %ld\n", st.n_evictions);
	put_header(b, "switchyard_load_failures_total", "counter", "Failed model loads.");
	sbuf_printf(b, "switchyard_load_failures_total %ld\n", st.n_load_failures);

	/* Batch sizes: the engine counts batches in power-of-two buckets (0,1], (1,2], ...,
	 * (64,inf); the sum of all batch sizes is the number of items batched. */
	put_header(b, "switchyard_batch_size", "histogram", "Items per batch run.");
	static const char *const le[8] = {"1", "2", "4", "8", "16", "32", "64", "+Inf"};
	long cum = 0, items = 0;
	for (int i = 0; i < 8; i++) {
		cum += st.batch_size_hist[i];
		sbuf_printf(b, "switchyard_batch_size_bucket{le=\"%s\"} %ld\n", le[i], cum);
	}
	for (int i = 0; i < n; i++)
		items += models[i].n_items;
	sbuf_printf(b, "switchyard_batch_size_sum %ld\nswitchyard_batch_size_count %ld\n", items,
	            cum);

	for (int f = 0; f < MF_COUNT && n > 0; f++) {
		put_header(b, model_series[f].name, model_series[f].type, model_series[f].help);
		for (int i = 0; i < n; i++) {
			sbuf_printf(b, "%s{model=\"", model_series[f].name);
			put_label(b, models[i].id);
			sbuf_printf(b, "\"} %ld\n", model_value(&models[i], (enum model_field)f));
		}
	}
	free(models);
}

void metrics_render(struct metrics *m, struct engine *e, long inflight, struct sbuf *out)
{
	struct metrics *snap = malloc(sizeof *snap);
	if (!snap) {
		out->oom = true;
		return;
	}
	pthread_mutex_lock(&m->mu);
	memcpy(snap->requests, m->requests, sizeof m->requests);
	memcpy(snap->latency, m->latency, sizeof m->latency);
	pthread_mutex_unlock(&m->mu);
	render_http(snap, inflight, out);
	free(snap);
	if (e)
		render_engine(e, out);
}
