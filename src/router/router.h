/* The routing layer (DESIGN.md section 6, docs/ROUTING.md): a task table for the model routes
 * and LLM routes for /v1/chat/completions, read from the `upstreams:`, `routes:`, `tasks:` and
 * `router:` sections of the YAML config.
 *
 * A route has candidates (OpenAI-compatible upstreams with prices and limits) and a policy that
 * orders them for each request: static, rules, semantic, learned, strong_weak, llm_classifier or
 * cascade. Execution then walks that order with retries (honouring Retry-After), a circuit
 * breaker per candidate, budget windows re-checked before every attempt, optional racing and
 * verifiers, and explains itself: the outcome's route, model, reason, attempts and cost (sent as
 * x-switchyard-* headers), one JSONL decision-log line, and Prometheus counters.
 *
 * A loaded router is immutable; breaker and budget state live in a router_state that outlives
 * reloads (router_reload builds a new router and swaps it in atomically: requests in flight keep
 * the one they started with). */
#ifndef SY_ROUTER_ROUTER_H
#define SY_ROUTER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "engine/engine.h"
#include "base/sbuf.h"
#include "upstream/upstream.h"

struct router;
struct router_state;

struct router_deps {
	struct engine *engine; /* local encoders for semantic and learned policies */
	struct upstream_client *upstream;
	struct router_state *state; /* breakers, budgets, counters (router_state_create) */
};

enum sy_status router_state_create(struct sy_error *err, struct router_state **out);
void router_state_free(struct router_state *s);

/* Parses the routing sections of a YAML config (text of the whole file). An empty text gives a
 * router with no routes and no tasks. */
enum sy_status router_load_text(const char *name, const char *text, size_t len,
                                const struct router_deps *deps, struct sy_error *err,
                                struct router **out);
enum sy_status router_load_file(const char *path, const struct router_deps *deps,
                                struct sy_error *err, struct router **out);
void router_free(struct router *r);
/* Upstreams whose api_key_env names an environment variable that is not set (their calls would
 * go without a key): each(upstream, variable, ctx) for every one; returns how many. */
int router_unset_keys(const struct router *r,
                      void (*each)(const char *upstream, const char *env, void *ctx), void *ctx);

/* ---- the router in use: reference-counted, swapped atomically on reload (holder.c) ---- */

struct router_holder;
struct router_ref;

/* Holds the router of path's routing sections (none when path is NULL), built with deps (the
 * holder copies the struct; what it points to must outlive the holder). */
enum sy_status router_holder_create(const char *path, const struct router_deps *deps,
                                    struct sy_error *err, struct router_holder **out);
/* Drops the holder's reference; a router still held by a request is freed by its release. The
 * releases must still reach a live holder: free it after the last request has ended. */
void router_holder_free(struct router_holder *h);
/* The router in use with a reference (NULL when none, or h is NULL); router_release it. */
struct router *router_acquire(struct router_holder *h, struct router_ref **ref);
void router_release(struct router_holder *h, struct router_ref *ref);
/* Re-reads the config file into a new router and swaps it in; on error the old one stays, and so
 * it does when the new file has no routes and no tasks while the old one had some (a truncated
 * file) unless allow_empty. router_reload is router_reload_ex without allow_empty. */
enum sy_status router_reload(struct router_holder *h, struct sy_error *err);
enum sy_status router_reload_ex(struct router_holder *h, bool allow_empty, struct sy_error *err);

int router_n_routes(const struct router *r);
int router_n_tasks(const struct router *r);

/* ---- tasks: name -> (operation, model) ---- */

/* When name is a task of `operation` ("encode", "score", "extract"), writes the model to run
 * (a weighted split drawn at random) and the shadow model (or "") and returns true. */
bool router_task_resolve(const struct router *r, const char *name, const char *operation,
                         char *model, size_t cap, char *shadow, size_t shadow_cap);

/* ---- chat ---- */

struct chat_outcome {
	/* the answer: http_status with body (JSON, or the SSE text of a synthesized stream), or a
	 * committed pass-through stream (stream), read with router_chat_stream_read */
	int http_status;
	char *body;
	size_t body_len;
	bool sse; /* body (or the stream) is text/event-stream */
	bool stream; /* a pass-through stream is committed: its cost is known once it ended */
	/* the error, when error_code is set */
	const char *error_code;
	char error_message[512];
	int retry_after_s;
	/* explanation */
	char route[128], model[128], policy[32], reason[384], signals[512];
	char split[256]; /* the A/B split ("request_id a=0.9 b=0.1"), "" none */
	char arm[128]; /* its arm for this request */
	char shadow[128]; /* the shadow candidate called, "" none */
	char judge[256]; /* the judge's grades ("local=2 mini=8 (threshold 7 of 10)"), "" none */
	int attempts;
	double cost_usd;
	long prompt_tokens, completion_tokens;
	double latency_ms;
	/* internal: the request's state until router_chat_finish */
	void *priv;
};

/* Answers one POST /v1/chat/completions body. api_key identifies the caller for per-key
 * budgets ("" when none). request_id (NULL or "" when none) is the X-Request-ID the answer
 * carries: the decision log records it and feedback (router_feedback) names it. critical exempts the request from budget downgrades. Every outcome,
 * error or not, ends with router_chat_finish; until then a committed stream holds its
 * upstream call and its candidate's concurrency slot. */
void router_chat(struct router *r, const char *body, size_t len, const char *api_key, bool critical,
                 const char *request_id, struct chat_outcome *out);
/* For a committed stream: waits for the bytes after those already read and copies up to max of
 * them into buf; returns how many, 0 at the end. A stream that broke off (failed, or ended
 * without "data: [DONE]") ends with one SSE error event, and the decision log records it. */
size_t router_chat_stream_read(struct router *r, struct chat_outcome *out, char *buf, size_t max);
/* Ends a request: for a stream, the bytes read so far were the whole stream (the client may
 * have left early); accounts its usage and cost and writes the decision-log line. Frees the
 * outcome's resources. */
void router_chat_finish(struct router *r, struct chat_outcome *out);

/* ---- feedback ---- */

/* Joins one POST /v1/feedback body, {"request_id", "score" (0..1) and/or "label", "comment"?},
 * to the decision of that request (one of the last STATE_DECISIONS_KEPT of this process):
 * writes a feedback line to the decision log and counts it (feedback, successes, misroutes by
 * route and candidate), and writes that route and candidate to route/model (cap bytes each).
 * SY_ERR_INVALID_ARG for a bad body, SY_ERR_NOT_FOUND for an unknown request id. A score of at
 * least 0.5, or without a score a label of good/correct/positive/success/helpful/up, counts as
 * a success; the label "misroute" counts as a misroute. */
enum sy_status router_feedback(struct router *r, const char *body, size_t len, struct sy_error *err,
                               char *route, char *model, size_t cap);

/* Prometheus text for the routing counters (decisions, escalations, fallbacks, breaker state,
 * spend), appended to b. */
void router_metrics_write(const struct router *r, struct sbuf *b);
/* The routes and tasks as OpenAI model objects ({"id","object":"model","created","owned_by",
 * "kind":"route"|"task", and the policy and candidates, or the operation and model}), each
 * preceded by a comma when comma or after the first, for GET /v1/models; returns how many. */
int router_models_json(const struct router *r, struct sbuf *b, bool comma);
/* The entry of route or task id into b; false when there is none. */
bool router_model_json(const struct router *r, const char *id, struct sbuf *b);
/* A JSON array of the routes with their policy, candidates and breaker states, for the status
 * page. */
void router_routes_json(const struct router *r, struct sbuf *b);

#endif
