/* The cluster gateway (see gateway.h). */
#include "cluster/gateway.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "cluster/jetstream.h"
#include "cluster/wire.h"

#define MAX_POOLS 32
#define MAX_DIMS (1 << 22)
/* After SIGTERM, requests still waiting for workers get this long, then answer 503
 * SHUTTING_DOWN (so a stopping gateway never waits out a whole request timeout). */
#define GATEWAY_DRAIN_GRACE_MS 2500

/* A request waiting for its units' replies (gateway.mu). */
struct pending {
	char req_id[64];
	int pool; /* index in gateway.pool_names */
	const char *model; /* the request's (alive while it waits) */
	int n_items;
	bool score; /* a score request: its "dense" replies are one score per item */
	enum wire_kind want; /* the kind of reply the request expects */
	const size_t *lens; /* [n_items] the texts' bytes (entity offsets must fall inside) */
	int dims; /* from the first reply */
	float *dense; /* [n_items][dims], allocated with the first reply */
	struct model_item_result *items; /* [n_items] */
	int *n_tokens;
	bool *got; /* [n_items] */
	int n_got;
	enum sy_status status;
	struct sy_error err;
	double queue_ms, inference_ms;
	pthread_cond_t cv;
	struct pending *next;
};

struct term {
	char *model;
	int id;
	char *name;
};

struct gateway {
	struct engine *engine;
	struct gateway_config cfg;
	/* nc, js, the subscriptions and inbox are set up by the connector thread and only used
	 * once `ready` is true (it is set after them, and never cleared). */
	pthread_t connector;
	bool connector_started;
	atomic_bool stop; /* draining or closing: the connector gives up */
	atomic_bool ready; /* connected once, streams made, inbox subscribed */
	struct cluster_link link; /* connected now or not */
	_Atomic uint64_t drain_deadline_ns; /* 0, or when waiting requests give up (draining) */
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *inbox_sub, *hb_sub;
	char inbox[128];
	struct server_backend backend;
	pthread_mutex_t mu;
	struct pending *pending;
	unsigned long next_id;
	char pool_names[MAX_POOLS][40];
	uint64_t pool_seen_ns[MAX_POOLS]; /* last heartbeat */
	long pool_demand[MAX_POOLS]; /* requests published and not yet answered */
	struct term *terms; /* sparse term names seen in replies */
	int n_terms, cap_terms;
};

static int pool_index(struct gateway *g, const char *pool)
{
	for (int i = 0; i < g->cfg.n_pools && i < MAX_POOLS; i++)
		if (!strcmp(g->pool_names[i], pool))
			return i;
	return -1;
}

static const char *pool_of(const struct gateway *g, const char *model)
{
	for (int i = 0; i < g->cfg.n_map; i++)
		if (!strcmp(g->cfg.map_models[i], model))
			return g->cfg.map_pools[i];
	return g->cfg.pools[0];
}

static void on_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	(void)nc, (void)sub;
	struct gateway *g = closure;
	const char *subj = natsMsg_GetSubject(msg);
	const char *pool = subj ? strrchr(subj, '.') : NULL;
	if (pool) {
		pthread_mutex_lock(&g->mu);
		int i = pool_index(g, pool + 1);
		if (i >= 0)
			g->pool_seen_ns[i] = sy_now_ns();
		pthread_mutex_unlock(&g->mu);
	}
	natsMsg_Destroy(msg);
}

static struct pending *pending_find(struct gateway *g, const char *req_id)
{
	for (struct pending *p = g->pending; p; p = p->next)
		if (!strcmp(p->req_id, req_id))
			return p;
	return NULL;
}

static void pending_fail_hint(struct pending *p, enum sy_status s, const char *msg, unsigned hint)
{
	if (p->status == SY_OK) {
		p->status = s;
		sy_error_set(&p->err, s, "%s", msg);
		p->err.hint = hint;
	}
	pthread_cond_signal(&p->cv);
}

static void pending_fail(struct pending *p, enum sy_status s, const char *msg)
{
	pending_fail_hint(p, s, msg, 0);
}

static void remember_terms(struct gateway *g, const char *model, const struct wire_reply *r)
{
	for (int k = 0; k < r->n_terms; k++) {
		bool known = false;
		for (int i = 0; i < g->n_terms && !known; i++)
			known =
			    g->terms[i].id == r->term_ids[k] && !strcmp(g->terms[i].model, model);
		if (known || g->n_terms >= 1 << 20)
			continue;
		if (g->n_terms == g->cap_terms) {
			int cap = g->cap_terms ? 2 * g->cap_terms : 256;
			struct term *t = realloc(g->terms, (size_t)cap * sizeof *t);
			if (!t)
				return;
			g->terms = t;
			g->cap_terms = cap;
		}
		struct term *t = &g->terms[g->n_terms];
		t->model = strdup(model);
		t->name = strdup(r->term_names[k]);
		t->id = r->term_ids[k];
		if (t->model && t->name)
			g->n_terms++;
		else {
			free(t->model);
			free(t->name);
		}
	}
}

/* Whether a reply fits its request: the kind asked for, one dimension for scores, entities
 * inside their texts. A worker's reply is not trusted: a wrong kind would leave the items
 * unset, an offset past the text would send gateway memory to the client. NULL when it fits. */
static const char *reply_mismatch(const struct pending *p, const struct wire_reply *r)
{
	if (r->first < 0 || r->n < 1 || r->first + r->n > p->n_items)
		return "a worker answered items the request does not have";
	if (r->kind != p->want)
		return "a worker answered another kind of result than the request asked for";
	if (r->kind == WIRE_DENSE && (r->dims < 1 || (p->score && r->dims != 1)))
		return "a worker answered scores or vectors of the wrong size";
	for (int i = 0; r->kind == WIRE_ENTITIES && i < r->n; i++)
		for (int k = 0; k < r->items[i].n_entities; k++) {
			const struct model_entity *en = &r->items[i].entities[k];
			if (en->start > en->end || en->end > p->lens[r->first + i])
				return "a worker answered an entity outside its text";
		}
	return NULL;
}

/* Copies a reply's items into the waiting request (mu held). */
static void take_reply(struct gateway *g, struct pending *p, struct wire_reply *r,
                       const char *model)
{
	if (r->status != SY_OK) {
		pending_fail_hint(p, r->status, r->message, r->hint);
		return;
	}
	const char *bad = reply_mismatch(p, r);
	if (bad) {
		sy_log(SY_LOG_WARN, "gateway: request %s: %s", p->req_id, bad);
		pending_fail(p, SY_ERR_INTERNAL, bad);
		return;
	}
	if (!r->items) {
		if (!p->dense) {
			p->dims = r->dims;
			p->dense = calloc((size_t)p->n_items * (size_t)(r->dims ? r->dims : 1),
			                  sizeof *p->dense);
			if (!p->dense) {
				pending_fail(p, SY_ERR_NOMEM, "out of memory");
				return;
			}
		} else if (r->dims != p->dims) {
			pending_fail(p, SY_ERR_INTERNAL, "workers answered different dimensions");
			return;
		}
	}
	for (int i = 0; i < r->n; i++) {
		const int at = r->first + i;
		if (p->got[at])
			continue; /* a redelivered unit answered twice */
		p->got[at] = true;
		p->n_got++;
		p->n_tokens[at] = r->n_tokens[i];
		if (r->items) {
			p->items[at] = r->items[i];
			memset(&r->items[i], 0, sizeof r->items[i]); /* moved */
		} else {
			memcpy(p->dense + (size_t)at * p->dims, r->dense + (size_t)i * r->dims,
			       (size_t)p->dims * sizeof(float));
		}
	}
	if (r->queue_ms > p->queue_ms)
		p->queue_ms = r->queue_ms;
	if (r->inference_ms > p->inference_ms)
		p->inference_ms = r->inference_ms;
	if (model && r->n_terms)
		remember_terms(g, model, r);
	if (p->n_got == p->n_items)
		pthread_cond_signal(&p->cv);
}

static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	(void)nc, (void)sub;
	struct gateway *g = closure;
	struct wire_reply r;
	struct sy_error err = {0};
	if (wire_reply_parse(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), MAX_DIMS,
	                     &err, &r) == SY_OK) {
		pthread_mutex_lock(&g->mu);
		struct pending *p = pending_find(g, r.req_id);
		if (p)
			take_reply(g, p, &r, p->model);
		pthread_mutex_unlock(&g->mu);
		wire_reply_free(&r);
	} else {
		sy_log(SY_LOG_WARN, "gateway: ignoring a malformed reply: %s", err.msg);
	}
	natsMsg_Destroy(msg);
}

/* JetStream refused a published unit (stream over its bound, no stream): fail its request. */
static void on_publish_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	(void)js;
	struct gateway *g = closure;
	const char *req = NULL;
	if (pae->Msg && natsMsgHeader_Get(pae->Msg, "Sy-Req", &req) == NATS_OK && req) {
		pthread_mutex_lock(&g->mu);
		struct pending *p = pending_find(g, req);
		if (p) {
			char m[256];
			snprintf(m, sizeof m,
			         "the work queue refused the request (%s); retry later",
			         pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
			pending_fail(p, SY_ERR_BUSY, m);
		}
		pthread_mutex_unlock(&g->mu);
	}
}

static enum sy_status publish_unit(struct gateway *g, const char *subject, struct pending *p,
                                   const struct engine_request *req, int first, int n,
                                   bool return_tokens, struct sy_error *err)
{
	struct sbuf b = {0};
	wire_work_write(&b, g->inbox, p->req_id, first, n, req, return_tokens);
	if (b.oom) {
		sbuf_free(&b);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	if ((int64_t)b.len > natsConnection_GetMaxPayload(g->nc)) {
		/* Never cut: the whole request is refused (413), naming the limit. */
		size_t len = b.len;
		sbuf_free(&b);
		sy_error_set(err, SY_ERR_LIMIT,
		             "a work unit of %zu bytes (%s) is larger than the NATS max_payload "
		             "(%ld bytes): send fewer or smaller images or texts per request, or "
		             "raise max_payload in the nats-server configuration",
		             len,
		             req->task == ENGINE_TASK_SCORE ? "every item of the score call"
		                                            : "one item",
		             (long)natsConnection_GetMaxPayload(g->nc));
		err->hint = SY_HINT_WHOLE_REQUEST;
		return SY_ERR_LIMIT;
	}
	natsMsg *m = NULL;
	natsStatus s = natsMsg_Create(&m, subject, NULL, b.data, (int)b.len);
	sbuf_free(&b);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Sy-Req", p->req_id);
	if (s == NATS_OK)
		s = js_PublishMsgAsync(g->js, &m, NULL);
	natsMsg_Destroy(m); /* NULL once the library owns it */
	return s == NATS_OK ? SY_OK : cluster_nats_error(err, s, "publishing work");
}

/* Tells the pool's workers to drop what is left of a request the gateway gave up on (its
 * client went away or its time ran out), so the units already published are not computed for
 * no one. Best effort: a worker that misses it computes the units, and their replies are
 * dropped as unknown. */
static void publish_cancel(struct gateway *g, const char *pool, const char *req_id)
{
	char subject[96], key[WIRE_CANCEL_KEY_MAX];
	wire_cancel_subject(subject, sizeof subject, pool);
	if (wire_cancel_key(key, sizeof key, g->inbox, req_id))
		natsConnection_PublishString(g->nc, subject, key);
}

static enum sy_status not_connected(struct gateway *g, struct sy_error *err)
{
	return sy_error_set(
	    err, SY_ERR_NO_WORKERS, "the gateway is not connected to NATS at %s (%s); retry later",
	    g->cfg.nats_url, atomic_load(&g->ready) ? "reconnecting" : "connecting");
}

/* The request's time ran out (mu held): 503 NO_WORKERS when no worker of the pool was seen
 * meanwhile (none came up in time: scale from zero was too slow, or nothing serves the pool),
 * else 504 TIMEOUT. */
static enum sy_status timed_out(struct gateway *g, const struct pending *p, const char *pool,
                                const char *model, struct sy_error *err)
{
	const uint64_t seen = p->pool >= 0 ? g->pool_seen_ns[p->pool] : 0;
	if (!seen || sy_now_ns() - seen > 3ull * CLUSTER_HEARTBEAT_MS * 1000000ull)
		return sy_error_set(err, SY_ERR_NO_WORKERS,
		                    "no worker of pool %s took the work (model %s) within %d ms: "
		                    "start `switchyard worker --pool %s`",
		                    pool, model, g->cfg.request_timeout_ms, pool);
	return sy_error_set(err, SY_ERR_TIMEOUT,
	                    "no answer from pool %s within %d ms (%d of %d items done)", pool,
	                    g->cfg.request_timeout_ms, p->n_got, p->n_items);
}

static enum sy_status gw_run(void *ctx, const struct engine_request *req, struct sy_error *err,
                             struct engine_result *out)
{
	struct gateway *g = ctx;
	memset(out, 0, sizeof *out);
	const uint64_t t0 = sy_now_ns();
	/* The wire carries one output per item and no score options (BGE-M3's). */
	if (req->task == ENGINE_TASK_ENCODE && (req->encode.outputs & (req->encode.outputs - 1)))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "several output types in one request are not supported through "
		                    "the cluster gateway yet: ask for one output type per request");
	if (req->task == ENGINE_TASK_SCORE && req->score.params &&
	    (req->score.params->mode != MODEL_SCORE_DEFAULT || req->score.params->has_weights))
		return sy_error_set(
		    err, SY_ERR_INVALID_ARG,
		    "options.score_mode and options.score_weights are not supported "
		    "through the cluster gateway yet");
	const char *model = req->items.model;
	struct engine_model_info info;
	enum sy_status s = engine_model_get(g->engine, model, err, &info);
	if (s != SY_OK)
		return s;
	if (!atomic_load(&g->ready) || !atomic_load(&g->link.connected))
		return not_connected(g, err);
	const char *pool = pool_of(g, model);
	const int n = req->items.n_items;
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	p->n_items = n;
	p->model = model;
	p->score = req->task == ENGINE_TASK_SCORE;
	p->want = wire_kind_of(req);
	p->lens = req->items.lens;
	p->n_tokens = calloc((size_t)n, sizeof *p->n_tokens);
	p->got = calloc((size_t)n, sizeof *p->got);
	const bool variable = p->want == WIRE_MULTIVECTOR || p->want == WIRE_ENTITIES;
	if (variable)
		p->items = calloc((size_t)n, sizeof *p->items);
	if (!p->n_tokens || !p->got || (variable && !p->items)) {
		free(p->n_tokens);
		free(p->got);
		free(p->items);
		free(p);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	pthread_cond_init(&p->cv, NULL);
	/* Published even when no worker of the pool is alive: the units wait in the stream (its
	 * consumer's pending count, and pool_demand, are what an autoscaler scales on) until a
	 * worker starts or the request times out (scale from zero). */
	pthread_mutex_lock(&g->mu);
	p->pool = pool_index(g, pool);
	snprintf(p->req_id, sizeof p->req_id, "%lu", ++g->next_id);
	p->next = g->pending;
	g->pending = p;
	if (p->pool >= 0)
		g->pool_demand[p->pool]++;
	pthread_mutex_unlock(&g->mu);
	char subject[320];
	cluster_work_subject(subject, sizeof subject, model, pool);
	/* One unit per item; a score call is one unit. */
	const bool whole = req->task == ENGINE_TASK_SCORE;
	const bool want_tokens = req->task == ENGINE_TASK_ENCODE && req->encode.want_tokens;
	for (int i = 0; s == SY_OK && i < n; i += whole ? n : 1)
		s = publish_unit(g, subject, p, req, i, whole ? n : 1, want_tokens, err);
	pthread_mutex_lock(&g->mu);
	bool given_up = false;
	const uint64_t deadline = t0 + (uint64_t)g->cfg.request_timeout_ms * 1000000ull;
	while (s == SY_OK && p->status == SY_OK && p->n_got < n) {
		uint64_t now = sy_now_ns();
		const uint64_t drain = atomic_load(&g->drain_deadline_ns);
		if (drain && now >= drain) {
			s = sy_error_set(err, SY_ERR_UNAVAILABLE,
			                 "the gateway is shutting down (%d of %d items done)",
			                 p->n_got, n);
			break;
		}
		if (now >= deadline) {
			s = timed_out(g, p, pool, model, err);
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t left = deadline - now > 100000000ull ? 100000000ull : deadline - now;
		uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + left;
		ts.tv_sec = (time_t)(t / 1000000000ull);
		ts.tv_nsec = (long)(t % 1000000000ull);
		pthread_cond_timedwait(&p->cv, &g->mu, &ts);
		/* A client that went away stops the wait; the workers hear that the units
		 * already published are not wanted any more (publish_cancel). */
		if (p->n_got < n && req->cancel && req->cancel->gone &&
		    req->cancel->gone(req->cancel->ctx)) {
			s = sy_error_set(err, SY_ERR_UNAVAILABLE,
			                 "the caller went away (%d of %d items done)", p->n_got, n);
			break;
		}
	}
	if (s == SY_OK && p->status != SY_OK) {
		s = p->status;
		if (err)
			*err = p->err;
	}
	given_up = p->n_got < n &&
	           (s == SY_ERR_TIMEOUT || s == SY_ERR_UNAVAILABLE || s == SY_ERR_NO_WORKERS);
	if (p->pool >= 0)
		g->pool_demand[p->pool]--;
	for (struct pending **pp = &g->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&g->mu);
	if (given_up)
		publish_cancel(g, pool, p->req_id);
	pthread_cond_destroy(&p->cv);
	if (s == SY_OK) {
		out->n_items = n;
		out->dims = p->items ? info.dims : p->dims;
		if (req->task == ENGINE_TASK_SCORE)
			out->scores = p->dense;
		else
			out->dense = p->dense;
		out->items = p->items;
		out->n_tokens = p->n_tokens;
		out->queue_ms = p->queue_ms;
		out->inference_ms = p->inference_ms;
		out->total_ms = (double)(sy_now_ns() - t0) / 1e6;
	} else {
		free(p->dense);
		for (int i = 0; p->items && i < n; i++)
			model_item_result_free(&p->items[i]);
		free(p->items);
		free(p->n_tokens);
	}
	free(p->got);
	free(p);
	return s;
}

static enum sy_status gw_token(void *ctx, const char *model, int id, char *buf, size_t cap)
{
	struct gateway *g = ctx;
	enum sy_status s = SY_ERR_NOT_FOUND;
	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < g->n_terms; i++)
		if (g->terms[i].id == id && !strcmp(g->terms[i].model, model)) {
			snprintf(buf, cap, "%s", g->terms[i].name);
			s = SY_OK;
			break;
		}
	pthread_mutex_unlock(&g->mu);
	return s;
}

/* The NATS side of the gateway, once connected: the pools' streams, a JetStream context that
 * publishes asynchronously (refusals go to on_publish_error), the reply inbox and the
 * heartbeats. */
static enum sy_status gateway_setup(struct gateway *g, struct sy_error *err)
{
	enum sy_status s = SY_OK;
	for (int i = 0; s == SY_OK && i < g->cfg.n_pools; i++) {
		s = cluster_streams_ensure(g->js, g->cfg.pools[i],
		                           g->cfg.max_pending > 0 ? g->cfg.max_pending : 100000,
		                           err);
		if (s == SY_OK)
			s = cluster_consumer_ensure(g->js, g->cfg.pools[i], 30, false, err);
	}
	if (s != SY_OK)
		return s;
	jsCtx *async = NULL;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = CLUSTER_JS_WAIT_MS;
	jo.PublishAsync.ErrHandler = on_publish_error;
	jo.PublishAsync.ErrHandlerClosure = g;
	jo.PublishAsync.MaxPending = 100000;
	natsStatus ns = natsConnection_JetStream(&async, g->nc, &jo);
	if (ns != NATS_OK)
		return cluster_nats_error(err, ns, "JetStream");
	jsCtx_Destroy(g->js);
	g->js = async;
	if (!g->inbox_sub) {
		natsInbox *inbox = NULL;
		ns = natsInbox_Create(&inbox);
		if (ns == NATS_OK) {
			snprintf(g->inbox, sizeof g->inbox, "%s", (const char *)inbox);
			natsInbox_Destroy(inbox);
			ns = natsConnection_Subscribe(&g->inbox_sub, g->nc, g->inbox, on_reply, g);
		}
		if (ns == NATS_OK)
			ns = natsSubscription_SetPendingLimits(g->inbox_sub, -1, -1);
		if (ns != NATS_OK)
			return cluster_nats_error(err, ns, "subscribing to the reply inbox");
	}
	if (!g->hb_sub) {
		ns = natsConnection_Subscribe(&g->hb_sub, g->nc, "sy.workers.*", on_heartbeat, g);
		if (ns != NATS_OK)
			return cluster_nats_error(err, ns, "subscribing to heartbeats");
	}
	return SY_OK;
}

/* Connects and sets up in the background, so the HTTP side listens from the start (/readyz
 * says 503 meanwhile): retried until it works or the gateway stops. */
static void *connector_main(void *arg)
{
	struct gateway *g = arg;
	struct sy_error err = {0};
	if (cluster_connect(&g->link, "switchyard-gateway", &g->stop, &err, &g->nc, &g->js) !=
	    SY_OK) {
		if (!atomic_load(&g->stop))
			sy_log(SY_LOG_ERROR, "gateway: %s", err.msg);
		return NULL;
	}
	for (int attempt = 1; !atomic_load(&g->stop); attempt++) {
		if (gateway_setup(g, &err) == SY_OK) {
			atomic_store(&g->ready, true);
			sy_log(SY_LOG_NOTICE, "gateway: ready: pools set up on %s",
			       g->cfg.nats_url);
			break;
		}
		const int ms = cluster_backoff_ms(attempt);
		sy_log(SY_LOG_WARN,
		       "gateway: setting up the pools' streams failed (attempt %d: %s); "
		       "retrying in %d ms",
		       attempt, err.msg, ms);
		cluster_sleep(ms, &g->stop);
	}
	return NULL;
}

static bool gw_ready(void *ctx, char *why, size_t cap)
{
	struct gateway *g = ctx;
	if (atomic_load(&g->ready) && atomic_load(&g->link.connected))
		return true;
	snprintf(why, cap, "NATS is not connected (%s at %s)",
	         atomic_load(&g->ready) ? "reconnecting" : "connecting", g->cfg.nats_url);
	return false;
}

/* Per pool: the requests published and not yet answered (what an autoscaler scales the pool's
 * workers on, with the stream's pending count), and whether a worker was heard lately. */
static void gw_metrics(void *ctx, struct sbuf *out)
{
	struct gateway *g = ctx;
	const uint64_t now = sy_now_ns();
	sbuf_puts(out, "# HELP switchyard_gateway_nats_connected 1 while the gateway is "
	               "connected to NATS.\n# TYPE switchyard_gateway_nats_connected gauge\n");
	sbuf_printf(out, "switchyard_gateway_nats_connected %d\n",
	            atomic_load(&g->ready) && atomic_load(&g->link.connected));
	sbuf_puts(out, "# HELP switchyard_gateway_pending_demand Requests published to a pool "
	               "and not yet answered.\n# TYPE switchyard_gateway_pending_demand gauge\n");
	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < g->cfg.n_pools; i++)
		sbuf_printf(out, "switchyard_gateway_pending_demand{pool=\"%s\"} %ld\n",
		            g->pool_names[i], g->pool_demand[i]);
	sbuf_puts(out, "# HELP switchyard_gateway_pool_workers_alive 1 when a worker of the pool "
	               "sent a heartbeat in the last 3 s.\n"
	               "# TYPE switchyard_gateway_pool_workers_alive gauge\n");
	for (int i = 0; i < g->cfg.n_pools; i++)
		sbuf_printf(out, "switchyard_gateway_pool_workers_alive{pool=\"%s\"} %d\n",
		            g->pool_names[i],
		            g->pool_seen_ns[i] && now - g->pool_seen_ns[i] <=
		                                      3ull * CLUSTER_HEARTBEAT_MS * 1000000ull);
	pthread_mutex_unlock(&g->mu);
}

static void gw_drain(void *ctx)
{
	struct gateway *g = ctx;
	atomic_store(&g->stop, true);
	atomic_store(&g->drain_deadline_ns,
	             sy_now_ns() + (uint64_t)GATEWAY_DRAIN_GRACE_MS * 1000000ull);
}

enum sy_status gateway_open(struct engine *e, const struct gateway_config *cfg,
                            struct sy_error *err, struct gateway **out)
{
	*out = NULL;
	if (cfg->n_pools < 1 || cfg->n_pools > MAX_POOLS)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "name 1 to %d pools with --pool",
		                    MAX_POOLS);
	for (int i = 0; i < cfg->n_pools; i++)
		if (!cluster_pool_name_ok(cfg->pools[i]))
			return sy_error_set(
			    err, SY_ERR_INVALID_ARG,
			    "--pool: \"%s\" is not a pool name (1-32 of A-Z a-z 0-9 _ -)",
			    cfg->pools[i]);
	for (int i = 0; i < cfg->n_map; i++) {
		bool known = false;
		for (int k = 0; k < cfg->n_pools; k++)
			known |= !strcmp(cfg->pools[k], cfg->map_pools[i]);
		if (!known)
			return sy_error_set(err, SY_ERR_INVALID_ARG,
			                    "model %s is mapped to pool %s, which no --pool names",
			                    cfg->map_models[i], cfg->map_pools[i]);
	}
	struct gateway *g = calloc(1, sizeof *g);
	if (!g)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	g->engine = e;
	g->cfg = *cfg;
	if (g->cfg.request_timeout_ms <= 0)
		g->cfg.request_timeout_ms = 30000;
	for (int i = 0; i < cfg->n_pools; i++)
		snprintf(g->pool_names[i], sizeof g->pool_names[i], "%s", cfg->pools[i]);
	pthread_mutex_init(&g->mu, NULL);
	g->link.url = cfg->nats_url;
	g->link.who = "gateway";
	if (pthread_create(&g->connector, NULL, connector_main, g) != 0) {
		gateway_close(g);
		return sy_error_set(err, SY_ERR_NOMEM, "cannot start a thread");
	}
	g->connector_started = true;
	g->backend = (struct server_backend){.run = gw_run,
	                                     .token = gw_token,
	                                     .ready = gw_ready,
	                                     .metrics = gw_metrics,
	                                     .drain = gw_drain,
	                                     .ctx = g};
	*out = g;
	return SY_OK;
}

const struct server_backend *gateway_backend(struct gateway *g)
{
	return &g->backend;
}

void gateway_close(struct gateway *g)
{
	if (!g)
		return;
	atomic_store(&g->stop, true);
	if (g->connector_started)
		pthread_join(g->connector, NULL);
	natsSubscription_Destroy(g->inbox_sub);
	natsSubscription_Destroy(g->hb_sub);
	cluster_close(&g->link, g->nc, g->js);
	for (int i = 0; i < g->n_terms; i++) {
		free(g->terms[i].model);
		free(g->terms[i].name);
	}
	free(g->terms);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
