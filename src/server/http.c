/* The HTTP front: libmicrohttpd setup, request body accumulation under a size limit, routing,
 * auth, and the common response headers.
 *
 * Threading: MHD runs one thread per connection (MHD_USE_THREAD_PER_CONNECTION with an internal
 * polling thread for accepts), so a handler may block on the engine for as long as a batch takes
 * without stalling other clients; the engine batches concurrent requests together.
 *
 * A request passes through on_request() several times. The first call (headers complete)
 * resolves the route and checks the method, auth, draining and the declared Content-Length, so
 * a request that will be refused is answered at once, before its body is read or any work is
 * done. Later calls append body bytes (stopping at max_body_bytes); the last call runs the
 * handler. on_completed() runs when the answer has gone out (or the client went away) and frees
 * the request; the in-flight count it maintains is what a graceful shutdown waits on. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/msgpack_codec.h"
#include "server/server_internal.h"
#include "switchyard.h"

/* Bytes of an over-limit chunked body read and dropped before the connection is closed. */
#define BODY_DISCARD_MAX ((size_t)16 << 20)

enum route_kind {
	ROUTE_KIND_NONE,
	ROUTE_KIND_ENCODE,
	ROUTE_KIND_SCORE,
	ROUTE_KIND_EXTRACT,
	ROUTE_KIND_EMBEDDINGS,
	ROUTE_KIND_RERANK,
	ROUTE_KIND_MODELS,
	ROUTE_KIND_MODEL_GET,
	ROUTE_KIND_MODEL_LOAD,
	ROUTE_KIND_MODEL_UNLOAD,
	ROUTE_KIND_HEALTHZ,
	ROUTE_KIND_READYZ,
	ROUTE_KIND_METRICS,
	ROUTE_KIND_STATUS_PAGE,
	ROUTE_KIND_STATUS_JSON,
	ROUTE_KIND_CHAT,
	ROUTE_KIND_ROUTER_RELOAD,
	ROUTE_KIND_ROUTES,
	ROUTE_KIND_FEEDBACK,
	ROUTE_KIND_TOKENIZE,
	ROUTE_KIND_TEI_EMBED,
	ROUTE_KIND_TEI_EMBED_SPARSE,
	ROUTE_KIND_TEI_RERANK,
	ROUTE_KIND_TEI_SIMILARITY,
	ROUTE_KIND_TEI_TOKENIZE,
	ROUTE_KIND_TEI_DECODE,
	ROUTE_KIND_TEI_INFO,
	ROUTE_KIND_TEI_HEALTH,
	ROUTE_KIND_OPENAPI,
	ROUTE_KIND_DOCS,
};

/* One request's state across the access-handler calls. */
struct conn_request {
	struct request rq;
	enum route_kind kind;
	char *tail; /* the path's variable part (a model id), malloc'd */
	struct sbuf body; /* accumulated body (POST routes only) */
	size_t body_seen; /* bytes received, including discarded ones */
	bool answered; /* a response has been queued */
	bool body_too_large; /* the body passed the limit: answer 413 when it ends */
	bool discard_body; /* the body is not needed (GET, or an early error) */
	bool bodies_full; /* the server holds too many body bytes: 503 when the body ends */
	size_t held; /* body bytes charged to server.body_bytes */
	struct response early; /* an answer decided before the body was read */
	bool has_early;
	bool msgpack_in; /* the body is msgpack (Content-Type) */
	bool msgpack_out; /* the answer goes out as msgpack (Accept, or the body's format) */
	char *json_body; /* a msgpack body as JSON text (malloc'd), what the route reads */
};

struct server_limits server_default_limits(void)
{
	return (struct server_limits){
	    .max_body_bytes = 16u << 20,
	    .max_items = 2048,
	    .max_chars = 100000,
	    .max_prefix_chars = 8192,
	    .max_inflight_body_bytes = (size_t)256 << 20,
	};
}

/* ---- responses ---- */

static void response_free(struct response *rs)
{
	sbuf_free(&rs->body);
	if (rs->stream_read && rs->stream_free) /* never handed to MHD */
		rs->stream_free(rs->stream_ctx);
	rs->stream_read = NULL;
}

static const char *method_name(enum http_method m)
{
	return m == HTTP_METHOD_GET ? "GET" : m == HTTP_METHOD_POST ? "POST" : "OTHER";
}

/* The access log: one line per answered request, when the answer is queued (for a streamed
 * answer, ms is the time to its headers). */
static void access_log_write(const struct request *rq, int status, double ms)
{
	const struct sy_log_field f[] = {
	    {"method", rq->method_name ? rq->method_name : method_name(rq->method), 0},
	    {"path", rq->path ? rq->path : "", 0},
	    {"status", NULL, status},
	    {"ms", NULL, (double)(long long)(ms * 1000.0 + 0.5) / 1000.0},
	    {"request_id", rq->request_id, 0},
	    {"model", rq->model, 0},
	};
	const int n = (int)(sizeof f / sizeof *f) - (rq->model[0] ? 0 : 1); /* model: when known */
	sy_log_fields(SY_LOG_INFO, f, n, "access");
}

/* Queues rs on the connection with the common headers, records metrics and frees rs's body. */
static enum MHD_Result response_send(struct conn_request *cr, struct response *rs)
{
	struct request *rq = &cr->rq;
	struct server *s = rq->srv;
	if (rs->has_error) {
		rs->body.len = 0;
		if (!rq->admin_view)
			text_redact_paths(rs->error.message, sizeof rs->error.message);
		if (cr->kind >= ROUTE_KIND_TEI_EMBED && cr->kind <= ROUTE_KIND_TEI_HEALTH)
			tei_error_write_json(&rs->error, &rs->body); /* TEI's own shape */
		else
			api_error_write_json(&rs->error, &rs->body);
		rs->status = rs->error.http_status;
		rs->content_type = "application/json";
		if (rs->error.retry_after_s > 0)
			response_header_add(rs, "Retry-After", "%d", rs->error.retry_after_s);
	}
	if (rs->status == 0)
		rs->status = 500;
	/* The SIE wire: a JSON answer goes out as msgpack when the client asked for it. */
	const bool json = !rs->content_type || !strcmp(rs->content_type, "application/json");
	if (cr->msgpack_out && json && !rs->stream_read && rs->body.len && !rs->body.oom) {
		struct sbuf mp = {0};
		if (msgpack_from_json_text(rs->body.data, rs->body.len, &mp) == SY_OK) {
			sbuf_free(&rs->body);
			rs->body = mp;
			rs->content_type = "application/msgpack";
		} else {
			sbuf_free(&mp);
		}
	}
	size_t len = 0;
	char *data = NULL;
	if (rs->body.oom) {
		rs->status = 500;
		rs->content_type = "application/json";
		sbuf_free(&rs->body);
	} else {
		data = sbuf_take(&rs->body, &len);
	}
	struct MHD_Response *r;
	if (rs->stream_read && !rs->has_error) {
		free(data);
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, rs->stream_read,
		                                      rs->stream_ctx, rs->stream_free);
		rs->stream_read = NULL; /* MHD owns the context now */
		data = NULL;
	} else if (data)
		r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	else if (rs->status == 500)
		r = MHD_create_response_from_buffer(
		    strlen(
		        "{\"error\":{\"code\":\"INTERNAL_ERROR\",\"message\":\"out of memory\"}}"),
		    (void *)"{\"error\":{\"code\":\"INTERNAL_ERROR\",\"message\":\"out of "
		            "memory\"}}",
		    MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type",
	                        rs->content_type ? rs->content_type : "application/json");
	MHD_add_response_header(r, "X-Request-ID", rq->request_id);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-SIE-Server-Version", SY_VERSION_STRING);
	for (int i = 0; i < rs->n_headers; i++)
		MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
	if (atomic_load(&s->draining))
		MHD_add_response_header(r, "Connection", "close");
	enum MHD_Result ret = MHD_queue_response(cr->rq.conn, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	cr->answered = true;
	const double seconds = (double)(sy_now_ns() - rq->t_start_ns) / 1e9;
	metrics_request_observe(s->metrics, rq->route, rs->status, seconds);
	if (s->access_log)
		access_log_write(rq, rs->status, seconds * 1e3);
	return ret;
}

/* ---- routing ---- */

/* The route table: every route the server answers, in matching order. A path is an OpenAPI
 * template with at most one parameter, which takes the rest of the path between the text
 * around it (model ids may contain '/'); more specific templates come first. The table is
 * what server_routes() lists, so the OpenAPI document is checked against it (tests). */
struct route_def {
	enum http_method method;
	const char *path;
	enum route_kind kind;
	enum metrics_route label;
};

static const struct route_def route_table[] = {
    {HTTP_METHOD_POST, "/v1/encode/{model}", ROUTE_KIND_ENCODE, METRICS_ROUTE_ENCODE},
    {HTTP_METHOD_POST, "/v1/score/{model}", ROUTE_KIND_SCORE, METRICS_ROUTE_SCORE},
    {HTTP_METHOD_POST, "/v1/extract/{model}", ROUTE_KIND_EXTRACT, METRICS_ROUTE_EXTRACT},
    {HTTP_METHOD_POST, "/v1/embeddings", ROUTE_KIND_EMBEDDINGS, METRICS_ROUTE_EMBEDDINGS},
    {HTTP_METHOD_POST, "/v1/chat/completions", ROUTE_KIND_CHAT, METRICS_ROUTE_CHAT},
    {HTTP_METHOD_POST, "/v1/admin/router/reload", ROUTE_KIND_ROUTER_RELOAD,
     METRICS_ROUTE_MODEL_ADMIN},
    /* Cohere's v2 clients post to /v2/rerank with the same body. */
    {HTTP_METHOD_POST, "/v1/rerank", ROUTE_KIND_RERANK, METRICS_ROUTE_SCORE},
    {HTTP_METHOD_POST, "/v2/rerank", ROUTE_KIND_RERANK, METRICS_ROUTE_SCORE},
    {HTTP_METHOD_POST, "/v1/tokenize", ROUTE_KIND_TOKENIZE, METRICS_ROUTE_TOKENIZE},
    {HTTP_METHOD_GET, "/v1/models", ROUTE_KIND_MODELS, METRICS_ROUTE_MODELS},
    /* Ids may contain '/', so the admin verbs are recognised as a final segment. */
    {HTTP_METHOD_POST, "/v1/models/{id}/load", ROUTE_KIND_MODEL_LOAD, METRICS_ROUTE_MODEL_ADMIN},
    {HTTP_METHOD_POST, "/v1/models/{id}/unload", ROUTE_KIND_MODEL_UNLOAD,
     METRICS_ROUTE_MODEL_ADMIN},
    {HTTP_METHOD_GET, "/v1/models/{id}", ROUTE_KIND_MODEL_GET, METRICS_ROUTE_MODELS},
    {HTTP_METHOD_GET, "/v1/routes", ROUTE_KIND_ROUTES, METRICS_ROUTE_MODELS},
    {HTTP_METHOD_POST, "/v1/feedback", ROUTE_KIND_FEEDBACK, METRICS_ROUTE_CHAT},
    {HTTP_METHOD_GET, "/v1/status", ROUTE_KIND_STATUS_JSON, METRICS_ROUTE_STATUS_PAGE},
    /* Hugging Face Text Embeddings Inference (routes_tei.c). */
    {HTTP_METHOD_POST, "/embed", ROUTE_KIND_TEI_EMBED, METRICS_ROUTE_ENCODE},
    {HTTP_METHOD_POST, "/embed_sparse", ROUTE_KIND_TEI_EMBED_SPARSE, METRICS_ROUTE_ENCODE},
    {HTTP_METHOD_POST, "/rerank", ROUTE_KIND_TEI_RERANK, METRICS_ROUTE_SCORE},
    {HTTP_METHOD_POST, "/similarity", ROUTE_KIND_TEI_SIMILARITY, METRICS_ROUTE_ENCODE},
    {HTTP_METHOD_POST, "/tokenize", ROUTE_KIND_TEI_TOKENIZE, METRICS_ROUTE_TOKENIZE},
    {HTTP_METHOD_POST, "/decode", ROUTE_KIND_TEI_DECODE, METRICS_ROUTE_TOKENIZE},
    {HTTP_METHOD_GET, "/info", ROUTE_KIND_TEI_INFO, METRICS_ROUTE_DOCS},
    {HTTP_METHOD_GET, "/health", ROUTE_KIND_TEI_HEALTH, METRICS_ROUTE_HEALTHZ},
    {HTTP_METHOD_GET, "/healthz", ROUTE_KIND_HEALTHZ, METRICS_ROUTE_HEALTHZ},
    {HTTP_METHOD_GET, "/readyz", ROUTE_KIND_READYZ, METRICS_ROUTE_READYZ},
    {HTTP_METHOD_GET, "/metrics", ROUTE_KIND_METRICS, METRICS_ROUTE_METRICS},
    {HTTP_METHOD_GET, "/openapi.json", ROUTE_KIND_OPENAPI, METRICS_ROUTE_DOCS},
    {HTTP_METHOD_GET, "/docs", ROUTE_KIND_DOCS, METRICS_ROUTE_DOCS},
    {HTTP_METHOD_GET, "/", ROUTE_KIND_STATUS_PAGE, METRICS_ROUTE_STATUS_PAGE},
    {HTTP_METHOD_GET, "/index.html", ROUTE_KIND_STATUS_PAGE, METRICS_ROUTE_STATUS_PAGE},
};
#define N_ROUTES (int)(sizeof route_table / sizeof route_table[0])

int server_route_count(void)
{
	return N_ROUTES;
}

struct server_route server_route_at(int i)
{
	return (struct server_route){route_table[i].method == HTTP_METHOD_GET ? "GET" : "POST",
	                             route_table[i].path};
}

/* Whether path matches template t; *tail gets the parameter's text (malloc'd) when t has one. */
static bool route_match(const char *t, const char *path, char **tail)
{
	const char *open = strchr(t, '{');
	if (!open)
		return !strcmp(t, path);
	const char *close = strchr(open, '}');
	const size_t pre = (size_t)(open - t), post = strlen(close + 1), n = strlen(path);
	if (n < pre + post || strncmp(path, t, pre) != 0 || strcmp(path + n - post, close + 1) != 0)
		return false;
	*tail = strndup(path + pre, n - pre - post);
	return true;
}

/* Resolves the path to a route. Sets *allowed to the one method the route takes, *tail to its
 * variable part (malloc'd, or NULL) and *label to its metrics label. */
static enum route_kind route_resolve(const char *path, enum http_method *allowed, char **tail,
                                     enum metrics_route *label)
{
	*tail = NULL;
	*allowed = HTTP_METHOD_GET;
	*label = METRICS_ROUTE_OTHER;
	if (!strcmp(path, "/v1/models/"))
		path = "/v1/models";
	for (int i = 0; i < N_ROUTES; i++) {
		if (route_match(route_table[i].path, path, tail)) {
			*allowed = route_table[i].method;
			*label = route_table[i].label;
			return route_table[i].kind;
		}
	}
	return ROUTE_KIND_NONE;
}

static enum http_method method_parse(const char *m)
{
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		return HTTP_METHOD_GET;
	if (!strcmp(m, "POST"))
		return HTTP_METHOD_POST;
	return HTTP_METHOD_OTHER;
}

/* An X-Request-ID we are willing to echo: 1..128 characters of [A-Za-z0-9._:-]. */
static bool request_id_sane(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
		if (n >= 128)
			return false;
	}
	return n > 0;
}

static uint64_t mix64(uint64_t x)
{
	/* splitmix64's finaliser: consecutive counters give unrelated-looking ids. */
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static void request_id_assign(struct server *s, struct MHD_Connection *conn, char *out, size_t cap)
{
	const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID");
	if (given && request_id_sane(given)) {
		snprintf(out, cap, "%s", given);
		return;
	}
	unsigned long n = atomic_fetch_add(&s->next_id, 1);
	snprintf(out, cap, "sy-%016llx", (unsigned long long)mix64(s->id_salt ^ n));
}

/* Decides, from the headers alone, whether the request is refused. Fills cr->early if so. */
/* Charges n more body bytes to the server-wide bound; false (nothing charged) when they would
 * pass it. Bodies of all connections together are bounded, not only each one. */
static bool charge_body(struct server *s, struct conn_request *cr, size_t n)
{
	const size_t lim = s->limits.max_inflight_body_bytes;
	size_t cur = atomic_load(&s->body_bytes);
	do {
		if (lim && cur + n > lim)
			return false;
	} while (!atomic_compare_exchange_weak(&s->body_bytes, &cur, cur + n));
	cr->held += n;
	return true;
}

static void busy_bodies(struct server *s, struct response *rs)
{
	response_error_set(rs, 503, "QUEUE_FULL",
	                   "the server holds too many request bytes at once (limit %zu); retry",
	                   s->limits.max_inflight_body_bytes);
	rs->error.retry_after_s = 1;
}

/* Framing headers seen on a request, for the checks against request smuggling. */
struct framing {
	int n_length, n_encoding;
	bool lengths_differ;
	const char *length;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
	(void)kind;
	struct framing *f = cls;
	if (!strcasecmp(key, "Content-Length")) {
		if (f->length && strcmp(f->length, value ? value : "") != 0)
			f->lengths_differ = true;
		f->length = value ? value : "";
		f->n_length++;
	} else if (!strcasecmp(key, "Transfer-Encoding")) {
		f->n_encoding++;
	}
	return MHD_YES;
}

/* What makes a request ambiguous or unsafe to route: two different Content-Length headers, or
 * Content-Length with Transfer-Encoding (a proxy in front may frame the body differently, which
 * smuggles a second request), and control characters in the decoded path (a %00 would cut the
 * model name short: /v1/encode/bert%00x must not reach bert). NULL when it is fine. */
static const char *request_malformed(struct MHD_Connection *conn, const char *path)
{
	struct framing f = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
	if (f.lengths_differ)
		return "two different Content-Length headers";
	if (f.n_length && f.n_encoding)
		return "Content-Length together with Transfer-Encoding";
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "a control character (or %00) in the path";
	return NULL;
}

static void request_precheck(struct server *s, struct conn_request *cr, enum http_method allowed)
{
	struct response *rs = &cr->early;
	struct MHD_Connection *conn = cr->rq.conn;
	const char *bad = request_malformed(conn, cr->rq.path);
	if (bad) {
		response_error_set(rs, 400, "INVALID_INPUT", "malformed request: %s", bad);
		goto refused;
	}
	if (cr->kind == ROUTE_KIND_NONE) {
		response_error_set(rs, 404, "NOT_FOUND", "no route for %s", cr->rq.path);
		goto refused;
	}
	if (cr->rq.method != allowed) {
		response_error_set(rs, 405, "METHOD_NOT_ALLOWED", "%s needs %s", cr->rq.path,
		                   allowed == HTTP_METHOD_GET ? "GET" : "POST");
		response_header_add(rs, "Allow", "%s",
		                    allowed == HTTP_METHOD_GET ? "GET, HEAD" : "POST");
		goto refused;
	}
	bool probe = cr->kind == ROUTE_KIND_HEALTHZ || cr->kind == ROUTE_KIND_READYZ;
	/* --public-metrics / --public-status open those to clients without a token (Prometheus,
	 * a browser); the page's JSON follows the page. */
	bool is_public = (s->public_metrics && cr->kind == ROUTE_KIND_METRICS) ||
	                 (s->public_status && (cr->kind == ROUTE_KIND_STATUS_PAGE ||
	                                       cr->kind == ROUTE_KIND_STATUS_JSON));
	if (s->auth && !probe && !is_public) {
		const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		enum auth_level level = auth_check(s->auth, h);
		bool admin_route = cr->kind == ROUTE_KIND_MODEL_LOAD ||
		                   cr->kind == ROUTE_KIND_MODEL_UNLOAD ||
		                   cr->kind == ROUTE_KIND_ROUTER_RELOAD;
		if (level == AUTH_LEVEL_NONE) {
			response_error_set(rs, 401, "UNAUTHORIZED",
			                   h ? "invalid bearer token"
			                     : "missing Authorization: Bearer <token> header");
			response_header_add(rs, "WWW-Authenticate", "Bearer");
			goto refused;
		}
		if (admin_route && level != AUTH_LEVEL_ADMIN) {
			response_error_set(rs, 401, "UNAUTHORIZED", "%s needs the admin token",
			                   cr->rq.path);
			response_header_add(rs, "WWW-Authenticate", "Bearer");
			goto refused;
		}
	}
	if (atomic_load(&s->draining) && !probe && cr->kind != ROUTE_KIND_METRICS) {
		response_error_set(rs, 503, "SHUTTING_DOWN", "the server is shutting down");
		goto refused;
	}
	if (allowed == HTTP_METHOD_POST) {
		const char *cl =
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			if (errno == 0 && *end == '\0' && n > s->limits.max_body_bytes) {
				response_error_set(rs, 413, "INVALID_INPUT",
				                   "body: %llu bytes exceed the limit of %zu", n,
				                   s->limits.max_body_bytes);
				goto refused;
			}
			if (errno == 0 && *end == '\0' && n > 0) {
				if (!charge_body(s, cr, (size_t)n)) {
					busy_bodies(s, rs);
					goto refused;
				}
				sbuf_reserve(&cr->body, (size_t)n);
			}
		}
	} else {
		cr->discard_body = true;
	}
	return;
refused:
	cr->has_early = true;
	cr->discard_body = true;
}

static void route_dispatch(struct conn_request *cr, struct response *rs)
{
	struct request *rq = &cr->rq;
	const char *tail = cr->tail ? cr->tail : "";
	switch (cr->kind) {
	case ROUTE_KIND_ENCODE: route_encode(rq, tail, rs); break;
	case ROUTE_KIND_SCORE: route_score(rq, tail, rs); break;
	case ROUTE_KIND_EXTRACT: route_extract(rq, tail, rs); break;
	case ROUTE_KIND_EMBEDDINGS: route_embeddings(rq, rs); break;
	case ROUTE_KIND_RERANK: route_rerank(rq, rs); break;
	case ROUTE_KIND_MODELS: route_models_list(rq, rs); break;
	case ROUTE_KIND_MODEL_GET: route_model_get(rq, tail, rs); break;
	case ROUTE_KIND_MODEL_LOAD: route_model_load(rq, tail, true, rs); break;
	case ROUTE_KIND_MODEL_UNLOAD: route_model_load(rq, tail, false, rs); break;
	case ROUTE_KIND_HEALTHZ: route_healthz(rq, rs); break;
	case ROUTE_KIND_READYZ: route_readyz(rq, rs); break;
	case ROUTE_KIND_METRICS: route_metrics(rq, rs); break;
	case ROUTE_KIND_STATUS_PAGE: route_status_page(rq, rs); break;
	case ROUTE_KIND_STATUS_JSON: route_status_json(rq, rs); break;
	case ROUTE_KIND_CHAT: route_chat(rq, rs); break;
	case ROUTE_KIND_ROUTER_RELOAD: route_router_reload(rq, rs); break;
	case ROUTE_KIND_ROUTES: route_routes(rq, rs); break;
	case ROUTE_KIND_FEEDBACK: route_feedback(rq, rs); break;
	case ROUTE_KIND_TOKENIZE: route_tokenize(rq, rs); break;
	case ROUTE_KIND_TEI_EMBED: route_tei_embed(rq, false, rs); break;
	case ROUTE_KIND_TEI_EMBED_SPARSE: route_tei_embed(rq, true, rs); break;
	case ROUTE_KIND_TEI_RERANK: route_tei_rerank(rq, rs); break;
	case ROUTE_KIND_TEI_SIMILARITY: route_tei_similarity(rq, rs); break;
	case ROUTE_KIND_TEI_TOKENIZE: route_tei_tokenize(rq, rs); break;
	case ROUTE_KIND_TEI_DECODE: route_tei_decode(rq, rs); break;
	case ROUTE_KIND_TEI_INFO: route_tei_info(rq, rs); break;
	case ROUTE_KIND_TEI_HEALTH: route_tei_health(rq, rs); break;
	case ROUTE_KIND_OPENAPI: route_openapi(rq, rs); break;
	case ROUTE_KIND_DOCS: route_docs(rq, rs); break;
	default: response_error_set(rs, 404, "NOT_FOUND", "no route for %s", rq->path); break;
	}
}

/* ---- libmicrohttpd callbacks ---- */

static bool request_has_body(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl && strcmp(cl, "0") != 0)
		return true;
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding") != NULL;
}

/* Percent-decodes the URL in place as libmicrohttpd would, except that %00 becomes 0x01 instead
 * of ending the string early, so request_malformed can refuse it. */
static size_t unescape_url(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls, (void)conn;
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
			const char hex[3] = {r[1], r[2], 0};
			const char c = (char)strtol(hex, NULL, 16);
			*w++ = c ? c : 0x01;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct conn_request *cr = *con_cls;
	if (!cr) {
		cr = calloc(1, sizeof *cr);
		if (!cr)
			return MHD_NO;
		*con_cls = cr;
		atomic_fetch_add(&s->inflight, 1);
		cr->rq.srv = s;
		cr->rq.conn = conn;
		cr->rq.t_start_ns = sy_now_ns();
		cr->rq.path = url;
		cr->rq.method = method_parse(method);
		cr->rq.method_name = method;
		cr->rq.body = "";
		request_id_assign(s, conn, cr->rq.request_id, sizeof cr->rq.request_id);
		cr->rq.admin_view =
		    !s->auth || auth_check(s->auth, MHD_lookup_connection_value(
		                                        conn, MHD_HEADER_KIND, "Authorization")) ==
		                    AUTH_LEVEL_ADMIN;
		cr->msgpack_in = msgpack_content_type(
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"));
		cr->msgpack_out = msgpack_answer_wanted(
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"), cr->msgpack_in);
		enum http_method allowed;
		cr->kind = route_resolve(url, &allowed, &cr->tail, &cr->rq.route);
		request_precheck(s, cr, allowed);
		if (cr->has_early && request_has_body(conn)) {
			/* Answer before the body is read (with "Expect: 100-continue" the client
			 * never sends it); MHD closes the connection afterwards. Requests without
			 * a body are answered in the last call instead, keeping the connection. */
			enum MHD_Result r = response_send(cr, &cr->early);
			response_free(&cr->early);
			return r;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (cr->answered)
			return MHD_YES;
		cr->body_seen += n;
		if (cr->discard_body)
			return cr->body_too_large &&
			               cr->body_seen - s->limits.max_body_bytes > BODY_DISCARD_MAX
			           ? MHD_NO
			           : MHD_YES;
		if (cr->body_seen > s->limits.max_body_bytes) {
			/* A body without Content-Length (chunked) ran past the limit. MHD cannot
			 * answer in the middle of a body, so the rest is read and dropped and 413
			 * answers at its end; a body that goes on far past the limit is cut off by
			 * closing the connection. */
			cr->body_too_large = true;
			cr->discard_body = true;
			sbuf_free(&cr->body);
			return cr->body_seen - s->limits.max_body_bytes > BODY_DISCARD_MAX
			           ? MHD_NO
			           : MHD_YES;
		}
		/* Bytes past what Content-Length declared (and charged): chunked bodies. */
		if (cr->body.len + n > cr->held &&
		    !charge_body(s, cr, cr->body.len + n - cr->held)) {
			cr->bodies_full = true;
			cr->discard_body = true;
			sbuf_free(&cr->body);
			return MHD_YES;
		}
		sbuf_put(&cr->body, upload_data, n);
		return MHD_YES;
	}
	if (cr->answered)
		return MHD_YES;
	if (cr->has_early) {
		enum MHD_Result r = response_send(cr, &cr->early);
		response_free(&cr->early);
		return r;
	}
	struct response rs = {0};
	if (cr->bodies_full) {
		busy_bodies(s, &rs);
	} else if (cr->body_too_large) {
		response_error_set(&rs, 413, "INVALID_INPUT",
		                   "body: more than %zu bytes (the limit)",
		                   s->limits.max_body_bytes);
	} else if (cr->body.oom) {
		response_error_set(&rs, 500, "INTERNAL_ERROR", "out of memory reading the body");
	} else {
		if (cr->body.data) {
			cr->rq.body = cr->body.data;
			cr->rq.body_len = cr->body.len;
		}
		struct api_error ae;
		if (cr->msgpack_in && cr->rq.method == HTTP_METHOD_POST &&
		    msgpack_to_json_text(cr->rq.body, cr->rq.body_len, &ae, &cr->json_body,
		                         &cr->rq.body_len) != SY_OK) {
			response_error(&rs, &ae);
		} else {
			if (cr->json_body)
				cr->rq.body = cr->json_body;
			route_dispatch(cr, &rs);
		}
	}
	enum MHD_Result r = response_send(cr, &rs);
	response_free(&rs);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct conn_request *cr = *con_cls;
	if (!cr)
		return;
	*con_cls = NULL;
	atomic_fetch_sub(&s->body_bytes, cr->held);
	sbuf_free(&cr->body);
	response_free(&cr->early);
	free(cr->json_body);
	free(cr->tail);
	free(cr);
	atomic_fetch_sub(&s->inflight, 1);
}

/* The --metrics-port listener: GET /metrics and nothing else, never behind auth, so Prometheus
 * scrapes a port that is not exposed to clients while the API port keeps its tokens. */
static enum MHD_Result on_metrics_request(void *cls, struct MHD_Connection *conn, const char *url,
                                          const char *method, const char *version,
                                          const char *upload_data, size_t *upload_data_size,
                                          void **con_cls)
{
	struct server *s = cls;
	(void)version, (void)upload_data;
	if (!*con_cls) { /* headers complete; answer on the next call */
		*con_cls = s;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a body is read and dropped */
		return MHD_YES;
	}
	struct request rq = {.srv = s, .conn = conn, .path = url, .body = ""};
	struct response rs = {0};
	int status = 200;
	if (strcmp(url, "/metrics") != 0) {
		status = 404;
		sbuf_puts(&rs.body, "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"this port "
		                    "serves GET /metrics only\"}}");
		rs.content_type = "application/json";
	} else if (method_parse(method) != HTTP_METHOD_GET) {
		status = 405;
		sbuf_puts(&rs.body, "{\"error\":{\"code\":\"METHOD_NOT_ALLOWED\",\"message\":"
		                    "\"/metrics needs GET\"}}");
		rs.content_type = "application/json";
	} else {
		route_metrics(&rq, &rs);
	}
	size_t len = 0;
	char *data = sbuf_take(&rs.body, &len);
	struct MHD_Response *r =
	    data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE) : NULL;
	if (!r) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", rs.content_type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == 405)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	sy_log(SY_LOG_DEBUG, "http: %s", msg);
}

/* ---- lifecycle ---- */

enum sy_status server_start(struct engine *e, const struct server_config *cfg, struct sy_error *err,
                            struct server **out)
{
	*out = NULL;
	struct server *s = calloc(1, sizeof *s);
	if (!s)
		return sy_error_set(err, SY_ERR_NOMEM, "server: out of memory");
	s->engine = e;
	if (cfg->backend)
		s->backend = *cfg->backend;
	s->limits = cfg->limits;
	s->access_log = cfg->access_log;
	s->public_metrics = cfg->public_metrics;
	s->public_status = cfg->public_status;
	s->metrics_port = -1;
	s->started_ns = sy_now_ns();
	s->id_salt = mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ s->started_ns);
	snprintf(s->host, sizeof s->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
	snprintf(s->tei_model, sizeof s->tei_model, "%s", cfg->tei_model ? cfg->tei_model : "");
	enum sy_status st;
	if (cfg->api_key_file && (st = auth_load_file(cfg->api_key_file, err, &s->auth)) != SY_OK) {
		free(s);
		return st;
	}
	s->metrics = metrics_create();
	if (!s->metrics) {
		server_stop(s);
		return sy_error_set(err, SY_ERR_NOMEM, "server: out of memory");
	}
	s->router_deps.engine = e;
	if ((st = router_state_create(err, &s->router_deps.state)) != SY_OK ||
	    (st = upstream_client_create(err, &s->router_deps.upstream)) != SY_OK ||
	    (cfg->router_config && (st = router_holder_create(cfg->router_config, &s->router_deps,
	                                                      err, &s->routers)) != SY_OK)) {
		server_stop(s);
		return st;
	}
	if (s->routers && cfg->strict_keys) {
		struct router_ref *ref;
		const int unset = router_unset_keys(router_acquire(s->routers, &ref), NULL, NULL);
		router_release(s->routers, ref);
		if (unset > 0) {
			server_stop(s);
			return sy_error_set(
			    err, SY_ERR_INVALID_ARG,
			    "%s: %d upstream key(s) named by api_key_env are not set "
			    "(see the warnings above; --strict stops the start)",
			    cfg->router_config, unset);
		}
	}

	char port_str[16];
	snprintf(port_str, sizeof port_str, "%d", cfg->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int gai = getaddrinfo(s->host, port_str, &hints, &ai);
	if (gai != 0 || !ai) {
		server_stop(s);
		return sy_error_set(err, SY_ERR_INVALID_ARG, "--host %s: %s", cfg->host,
		                    gai_strerror(gai));
	}
	struct sockaddr_storage addr;
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	bool v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	unsigned conn_limit = cfg->connection_limit > 0 ? (unsigned)cfg->connection_limit : 256;
	unsigned timeout = cfg->connection_timeout_s > 0 ? (unsigned)cfg->connection_timeout_s : 60;
	s->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape_url, NULL, MHD_OPTION_END);
	if (!s->daemon) {
		int e2 = errno;
		server_stop(s);
		return sy_error_set(err, SY_ERR_IO, "cannot listen on %s port %d: %s", cfg->host,
		                    cfg->port, e2 ? strerror(e2) : "libmicrohttpd failed to start");
	}
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->port;
	if (cfg->metrics_port >= 0) {
		if (v6)
			((struct sockaddr_in6 *)&addr)->sin6_port =
			    htons((uint16_t)cfg->metrics_port);
		else
			((struct sockaddr_in *)&addr)->sin_port =
			    htons((uint16_t)cfg->metrics_port);
		s->metrics_daemon = MHD_start_daemon(
		    flags, 0, NULL, NULL, on_metrics_request, s, MHD_OPTION_SOCK_ADDR,
		    (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, 16u,
		    MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
		    s, MHD_OPTION_END);
		if (!s->metrics_daemon) {
			int e2 = errno;
			server_stop(s);
			return sy_error_set(err, SY_ERR_IO,
			                    "cannot listen on %s port %d (--metrics-port): %s",
			                    cfg->host, cfg->metrics_port,
			                    e2 ? strerror(e2) : "libmicrohttpd failed to start");
		}
		info = MHD_get_daemon_info(s->metrics_daemon, MHD_DAEMON_INFO_BIND_PORT);
		s->metrics_port = info ? info->port : cfg->metrics_port;
	}
	*out = s;
	return SY_OK;
}

int server_port(const struct server *s)
{
	return s->port;
}

int server_metrics_port(const struct server *s)
{
	return s->metrics_port;
}

long server_inflight(const struct server *s)
{
	return atomic_load(&((struct server *)s)->inflight);
}

void server_drain_begin(struct server *s)
{
	atomic_store(&s->draining, true);
	if (s->backend.drain)
		s->backend.drain(s->backend.ctx);
	if (s->daemon) {
		/* Close the listening socket: new connections are refused by the kernel, open
		 * ones keep being served (and answer 503 to new requests, see precheck). */
		MHD_socket fd = MHD_quiesce_daemon(s->daemon);
		if (fd != MHD_INVALID_SOCKET)
			close(fd);
	}
}

bool server_wait_idle(struct server *s, int timeout_ms)
{
	double deadline = sy_now_ms() + timeout_ms;
	while (atomic_load(&s->inflight) > 0) {
		if (sy_now_ms() >= deadline)
			return false;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return true;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	if (s->metrics_daemon)
		MHD_stop_daemon(s->metrics_daemon);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	router_holder_free(s->routers);
	upstream_client_destroy(s->router_deps.upstream);
	router_state_free(s->router_deps.state);
	auth_free(s->auth);
	metrics_free(s->metrics);
	free(s);
}
