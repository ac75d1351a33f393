/* Request metrics of the HTTP layer and the Prometheus text exposition (format 0.0.4).
 *
 * The server counts requests by route and status and times them into fixed-bucket histograms;
 * model, queue, batch, token and memory figures come from the engine at scrape time, so nothing
 * is counted twice. A small ring of recent encode/embeddings latencies feeds the status page. */
#ifndef SY_SERVER_METRICS_H
#define SY_SERVER_METRICS_H

#include "engine/engine.h"
#include "base/sbuf.h"

/* Route labels (fixed, so label cardinality stays bounded whatever clients send). */
enum metrics_route {
	METRICS_ROUTE_ENCODE,
	METRICS_ROUTE_SCORE,
	METRICS_ROUTE_EXTRACT,
	METRICS_ROUTE_EMBEDDINGS,
	METRICS_ROUTE_MODELS,
	METRICS_ROUTE_MODEL_ADMIN,
	METRICS_ROUTE_HEALTHZ,
	METRICS_ROUTE_READYZ,
	METRICS_ROUTE_METRICS,
	METRICS_ROUTE_STATUS_PAGE,
	METRICS_ROUTE_CHAT,
	METRICS_ROUTE_TOKENIZE, /* /v1/tokenize and TEI's /tokenize, /decode */
	METRICS_ROUTE_DOCS, /* /openapi.json, /docs, TEI's /info */
	METRICS_ROUTE_OTHER,
	METRICS_ROUTE_COUNT,
};

const char *metrics_route_name(enum metrics_route r);

struct metrics;

struct metrics *metrics_create(void);
void metrics_free(struct metrics *m);
/* Records one answered request: route, HTTP status and wall time in seconds. */
void metrics_request_observe(struct metrics *m, enum metrics_route r, int status, double seconds);

/* Recent latency of encode and embeddings requests (the last up to 1024), in milliseconds. */
struct metrics_recent {
	long n; /* requests in the window */
	double p50_ms, p90_ms, p99_ms, max_ms;
	long total_requests; /* every route, since start */
	long total_errors; /* status >= 400, since start */
	long total_4xx; /* 400..499: refused client requests (bad input, auth, not found) */
	long total_5xx; /* 500..599: the server's own failures (and upstream ones) */
};
void metrics_recent_get(struct metrics *m, struct metrics_recent *out);

/* Appends the whole exposition: HTTP counters and histograms, then the engine's figures. */
void metrics_render(struct metrics *m, struct engine *e, long inflight, struct sbuf *out);

#endif
