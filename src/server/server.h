/* The HTTP server: libmicrohttpd with one thread per connection, in front of the engine.
 *
 * Lifecycle (cmd_serve.c): server_start() binds and starts answering; on SIGTERM the caller runs
 * server_drain_begin() (stop accepting connections, /readyz answers 503, new requests on open
 * connections answer 503 SHUTTING_DOWN), server_wait_idle() (requests already in progress
 * finish and are answered), then engine_drain() and server_stop(). The engine outlives the
 * server: server_stop() must come before engine_destroy(). */
#ifndef SY_SERVER_SERVER_H
#define SY_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/sbuf.h"
#include "base/status.h"
#include "engine/engine.h"

/* Request limits, checked before any work is done (DESIGN.md section 3). */
struct server_limits {
	size_t max_body_bytes; /* request body; larger answers 413 without being read */
	int max_items; /* items (or OpenAI inputs) per request; more answers 413 */
	int max_chars; /* Unicode code points per text; more answers 422 */
	int max_prefix_chars; /* code points of an instruction or a score query, which go with
				 every item; more answers 422 */
	size_t max_inflight_body_bytes; /* request bodies held at once, all connections together;
					   past it 503 QUEUE_FULL + Retry-After (0: no bound) */
};

/* Where the routes send their work: the local engine (serve, the default) or another backend
 * with the same contract as engine_request_run (the cluster gateway, src/cluster). The engine
 * still answers the catalogue (/v1/models) and statistics. */
struct server_backend {
	enum sy_status (*run)(void *ctx, const struct engine_request *req, struct sy_error *err,
	                      struct engine_result *out);
	/* The vocabulary piece of a sparse model's term id, as engine_model_token; may be NULL. */
	enum sy_status (*token)(void *ctx, const char *model, int id, char *buf, size_t cap);
	/* Readiness beyond draining (/readyz): false with a reason in why (a sentence) while the
	 * backend cannot take work (the gateway without NATS). NULL: always ready. */
	bool (*ready)(void *ctx, char *why, size_t cap);
	/* Appends the backend's own Prometheus lines to /metrics (may be NULL). */
	void (*metrics)(void *ctx, struct sbuf *out);
	/* The server began draining (SIGTERM): work that waits should end soon (may be NULL). */
	void (*drain)(void *ctx);
	void *ctx;
};

struct server_config {
	const char *host; /* address to bind: "127.0.0.1", "0.0.0.0", "::1", a name */
	int port; /* 0 picks a free port (see server_port) */
	struct server_limits limits;
	const char
	    *api_key_file; /* NULL: no auth; else one token per line, "admin:TOKEN" for admin */
	/* The model the Text Embeddings Inference routes (/embed, /rerank, /tokenize, ...) use
	 * when the body names none; NULL: the only model in the catalogue. */
	const char *tei_model;
	int connection_limit; /* concurrent connections (each has a thread); 0: default 256 */
	int connection_timeout_s; /* idle keep-alive connections close after this; 0: default 60 */
	const struct server_backend *backend; /* NULL: the engine given to server_start */
	/* The YAML file with the routing sections (upstreams, routes, tasks, router), reloaded on
	 * server_router_reload; NULL: no routing. */
	const char *router_config;
	/* The start fails when router_config names an upstream key (api_key_env) that is not set
	 * (--strict); without it that is a warning at every load. */
	bool strict_keys;
	/* One log line per answered request (method, path, status, ms, request_id, model), at
	 * level info whatever SWITCHYARD_LOG says (base/log.h). */
	bool access_log;
	/* With api_key_file: GET /metrics (public_metrics) or the status page, GET / and its
	 * JSON GET /v1/status (public_status), answer without a token. */
	bool public_metrics;
	bool public_status;
	/* >= 0: a second listener on this port (0: a free one; see server_metrics_port) on the
	 * same host that answers GET /metrics only, never behind auth. -1: none. */
	int metrics_port;
};

struct server_limits server_default_limits(void);

/* The routes the server answers (the route table in http.c, in matching order): method
 * "GET" (HEAD too) or "POST", and the path as an OpenAPI template ("/v1/encode/{model}"). The
 * OpenAPI document (GET /openapi.json) is tested against this list. */
struct server_route {
	const char *method;
	const char *path;
};
int server_route_count(void);
struct server_route server_route_at(int i); /* 0 <= i < server_route_count() */
/* The OpenAPI 3.1 document GET /openapi.json serves (static, len bytes, NUL-terminated). */
const char *server_openapi_json(size_t *len);

struct server;

enum sy_status server_start(struct engine *e, const struct server_config *cfg, struct sy_error *err,
                            struct server **out);
/* The port actually bound (differs from cfg->port when that was 0). */
int server_port(const struct server *s);
/* The port of the metrics listener (server_config.metrics_port), or -1 when there is none. */
int server_metrics_port(const struct server *s);
/* Stops accepting new connections and marks the server draining (see above). */
void server_drain_begin(struct server *s);
/* Waits up to timeout_ms for requests in progress to be answered; true when none is left. */
bool server_wait_idle(struct server *s, int timeout_ms);
/* Requests being answered now. */
long server_inflight(const struct server *s);
/* Closes every connection, joins the threads and frees. */
void server_stop(struct server *s);
/* Re-reads the routing sections of the config file and swaps them in atomically (requests in
 * flight finish with the old ones). On failure the old routing stays and err says why. */
enum sy_status server_router_reload(struct server *s, struct sy_error *err);

#endif
