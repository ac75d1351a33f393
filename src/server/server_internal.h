/* What the server's files share: the server state, one request and its response, and the route
 * handlers that http.c dispatches to.
 *
 * A handler runs on the connection's own thread (libmicrohttpd, one thread per connection), after
 * the whole body has arrived and auth and limits have passed. It fills `struct response` and
 * returns; http.c adds the common headers (X-Request-ID, Content-Type, Retry-After) and records
 * metrics. Handlers may block on the engine: other connections have their own threads. */
#ifndef SY_SERVER_SERVER_INTERNAL_H
#define SY_SERVER_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/engine.h"
#include "server/auth.h"
#include "server/errors.h"
#include "server/metrics.h"
#include "base/sbuf.h"
#include "router/router.h"
#include "server/server.h"

struct MHD_Daemon;
struct MHD_Connection;

struct server {
	struct engine *engine; /* not owned */
	struct server_backend backend; /* where model work goes (the engine by default) */
	struct server_limits limits;
	/* the routing layer: the router in use, swapped on reload (router/holder.c) */
	struct router_holder *routers; /* NULL: no routing configured */
	struct router_deps router_deps;
	struct auth *auth; /* NULL: no auth configured */
	struct metrics *metrics;
	struct MHD_Daemon *daemon;
	char host[256];
	int port; /* bound port */
	uint64_t started_ns; /* sy_now_ns() at start */
	atomic_bool draining;
	atomic_long inflight; /* requests between their first byte and their answer */
	atomic_size_t body_bytes; /* request body bytes held now (limits.max_inflight_body_bytes) */
	atomic_ulong next_id; /* request counter for generated X-Request-IDs */
	uint64_t id_salt; /* mixes the counter so ids differ between runs */
	char tei_model[256]; /* --tei-model; "" when not given */
	bool access_log; /* server_config.access_log */
	bool public_metrics, public_status; /* server_config's */
	struct MHD_Daemon *metrics_daemon; /* the --metrics-port listener; NULL: none */
	int metrics_port; /* its bound port; -1: none */
};

enum http_method {
	HTTP_METHOD_OTHER,
	HTTP_METHOD_GET, /* HEAD is treated as GET; libmicrohttpd drops the body */
	HTTP_METHOD_POST,
};

#define RESPONSE_MAX_HEADERS 16

struct response {
	int status; /* HTTP status; 0 means "not set" (500) */
	const char *content_type; /* static string; default application/json */
	struct sbuf body;
	struct {
		const char *name; /* static string */
		char value[400];
	} headers[RESPONSE_MAX_HEADERS];
	int n_headers;
	struct api_error error; /* when has_error: the body is written from it */
	bool has_error;
	/* A streamed body (Server-Sent Events) instead of `body`: libmicrohttpd calls stream_read
	 * from the connection's thread until it returns MHD_CONTENT_READER_END_OF_STREAM, then
	 * stream_free(stream_ctx). */
	ssize_t (*stream_read)(void *ctx, uint64_t pos, char *buf, size_t max);
	void *stream_ctx;
	void (*stream_free)(void *ctx);
};

struct request {
	struct server *srv;
	struct MHD_Connection *conn;
	enum http_method method;
	const char *method_name; /* as sent (libmicrohttpd's, valid for the request's life) */
	const char *path; /* decoded URL path, valid for the request's life */
	const char *body; /* the whole body (NUL-terminated), or "" */
	size_t body_len; /* bytes */
	uint64_t t_start_ns; /* first byte seen */
	char request_id[136];
	enum metrics_route route;
	char model[256]; /* the model the work went to (server_dispatch; a task-table name
			    resolved), for x-switchyard-model and the access log */
	bool admin_view; /* may see server paths in messages: no auth, or an admin token */
};

/* Response helpers (response.c). */
void response_header_add(struct response *rs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks the response as an error answer; the body is written from err. */
void response_error(struct response *rs, const struct api_error *err);
/* Shorthand for an error built in place. */
void response_error_set(struct response *rs, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Milliseconds since the request started. */
double request_elapsed_ms(const struct request *rq);
/* Adds X-Queue-Time, X-Inference-Time and X-Total-Time (milliseconds). */
void response_timing_headers(struct response *rs, double queue_ms, double inference_ms,
                             double total_ms);
/* SIE's other timing headers: X-Tokenization-Time, and X-Postprocessing-Time when > 0. */
void response_sie_timing_headers(struct response *rs, double tokenization_ms,
                                 double postprocessing_ms);

/* The dispatch stage (dispatch.c), the only way a route's work reaches a model: resolves a
 * task-table name for the request's task (the answer then names the model in
 * x-switchyard-model; a shadow copy runs in the background when the task has one), runs the
 * request through the backend (the engine unless one was given), and on failure writes the
 * error answer into rs. Returns true with *out filled (engine_result_free) on success. */
bool server_dispatch(struct request *rq, struct engine_request *req, struct response *rs,
                     struct engine_result *out);
/* Runs fn with model's tokenizer (engine_tokenizer_use) for the tokenize and decode routes.
 * Through a remote backend (the cluster gateway), which lends no tokenizer, it answers 501.
 * On failure writes the error answer into rs and returns false. */
bool server_tokenizer_use(struct request *rq, const char *model, engine_tokenizer_fn fn, void *ctx,
                          struct response *rs);
/* The vocabulary piece of a sparse model's term id, through the backend. */
enum sy_status server_model_token(struct server *srv, const char *model, int id, char *buf,
                                  size_t cap);

/* Route handlers. `tail` is the rest of the path after the route's prefix (a model id). */
void route_encode(struct request *rq, const char *model, struct response *rs);
void route_score(struct request *rq, const char *model, struct response *rs);
void route_extract(struct request *rq, const char *model, struct response *rs);
void route_embeddings(struct request *rq, struct response *rs);
void route_rerank(struct request *rq, struct response *rs);
void route_models_list(struct request *rq, struct response *rs);
void route_model_get(struct request *rq, const char *id, struct response *rs);
void route_model_load(struct request *rq, const char *id, bool load, struct response *rs);
void route_healthz(struct request *rq, struct response *rs);
void route_readyz(struct request *rq, struct response *rs);
void route_metrics(struct request *rq, struct response *rs);
void route_status_page(struct request *rq, struct response *rs);
/* GET /v1/status: what the status page shows, as JSON (the page polls it). */
void route_status_json(struct request *rq, struct response *rs);
void route_chat(struct request *rq, struct response *rs);
void route_router_reload(struct request *rq, struct response *rs);
void route_routes(struct request *rq, struct response *rs);
void route_feedback(struct request *rq, struct response *rs);
/* POST /v1/tokenize (routes_tokenize.c). */
void route_tokenize(struct request *rq, struct response *rs);
/* Hugging Face Text Embeddings Inference (routes_tei.c); errors answer in TEI's shape. */
void route_tei_embed(struct request *rq, bool sparse, struct response *rs);
void route_tei_rerank(struct request *rq, struct response *rs);
void route_tei_similarity(struct request *rq, struct response *rs);
void route_tei_tokenize(struct request *rq, struct response *rs);
void route_tei_decode(struct request *rq, struct response *rs);
void route_tei_info(struct request *rq, struct response *rs);
void route_tei_health(struct request *rq, struct response *rs);
/* GET /openapi.json and GET /docs (routes_docs.c): the checked-in document and its viewer. */
void route_openapi(struct request *rq, struct response *rs);
void route_docs(struct request *rq, struct response *rs);

/* A copy of the engine's model list (catalogue order) in *out (malloc'd, caller frees);
 * returns the count (0 with *out NULL when empty or out of memory). */
int server_models_snapshot(struct engine *e, struct engine_model_info **out);

#endif
