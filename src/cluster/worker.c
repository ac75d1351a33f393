/* The cluster worker (see worker.h). */
#include "cluster/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "cluster/jetstream.h"
#include "cluster/wire.h"

/* The requests the gateways gave up on, most recent last (a ring: a cancel older than the
 * last CANCEL_KEEP has long been acted on, or its units were already answered). Written by the
 * NATS callback thread, read by the fetch loop and the engine's cancel check. */
#define CANCEL_KEEP 512
/* After a stop, the batch in hand has this long to finish before it is handed back. */
#define WORKER_STOP_GRACE_MS 3000
struct cancel_set {
	pthread_mutex_t mu;
	char keys[CANCEL_KEEP][WIRE_CANCEL_KEY_MAX];
	int next;
};

struct worker {
	struct engine *e;
	const struct worker_config *cfg;
	natsConnection *nc;
	jsCtx *js;
	atomic_bool *stop;
	char dead_subject[64], hb_subject[64], id[64];
	const char *nak_text; /* fault injection */
	int delay_ms;
	long n_units, n_dead, n_cancelled;
	struct cancel_set cancels;
	struct cluster_link link;
	_Atomic uint64_t stop_seen_ns; /* when a stop was first noticed (0: not yet) */
};

/* One fetched message and what became of it. */
struct unit {
	natsMsg *msg;
	struct wire_work w;
	bool parsed, done;
};

static void *heartbeat_main(void *arg)
{
	struct worker *wk = arg;
	while (!atomic_load(wk->stop)) {
		natsConnection_PublishString(wk->nc, wk->hb_subject, wk->id);
		for (int i = 0; i < CLUSTER_HEARTBEAT_MS / 50 && !atomic_load(wk->stop); i++)
			usleep(50 * 1000);
	}
	return NULL;
}

static void on_cancel(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	(void)nc;
	(void)sub;
	struct cancel_set *c = closure;
	const int len = natsMsg_GetDataLength(msg);
	if (len > 0 && len < WIRE_CANCEL_KEY_MAX) {
		pthread_mutex_lock(&c->mu);
		memcpy(c->keys[c->next], natsMsg_GetData(msg), (size_t)len);
		c->keys[c->next][len] = '\0';
		c->next = (c->next + 1) % CANCEL_KEEP;
		pthread_mutex_unlock(&c->mu);
	}
	natsMsg_Destroy(msg);
}

/* Whether the gateway that sent w gave up on its request. */
static bool unit_cancelled(struct cancel_set *c, const struct wire_work *w)
{
	char key[WIRE_CANCEL_KEY_MAX];
	if (!wire_cancel_key(key, sizeof key, w->reply, w->req_id))
		return false;
	bool found = false;
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < CANCEL_KEEP && !found; i++)
		found = c->keys[i][0] && !strcmp(c->keys[i], key);
	pthread_mutex_unlock(&c->mu);
	return found;
}

struct group_ctx {
	struct worker *wk;
	const struct unit *units;
	const int *idx;
	int n;
};

/* Whether the worker is stopping and the batch in hand has had its WORKER_STOP_GRACE_MS: then
 * its engine run stops and its units are NAKed (redelivered to another worker), so a stop never
 * waits on a long batch. Called from the engine's threads too. */
static bool stop_overdue(struct worker *wk)
{
	if (!atomic_load(wk->stop))
		return false;
	const uint64_t now = sy_now_ns();
	uint64_t seen = 0;
	if (atomic_compare_exchange_strong(&wk->stop_seen_ns, &seen, now))
		return false;
	return now - seen >= (uint64_t)WORKER_STOP_GRACE_MS * 1000000ull;
}

/* NAKs units nobody will answer here (the worker stops): another worker gets them now. */
static void give_back(struct unit *units, const int *idx, int n)
{
	for (int k = 0; k < n; k++) {
		natsMsg_Nak(units[idx[k]].msg, NULL);
		units[idx[k]].done = true;
	}
	sy_log(SY_LOG_NOTICE, "worker: stopping: %d unit(s) handed back for redelivery", n);
}

/* The engine's cancel check for a group run: gone when every unit's request was given up, or
 * when the worker's stop grace ran out. */
static bool group_gone(void *ctx)
{
	const struct group_ctx *g = ctx;
	if (stop_overdue(g->wk))
		return true;
	for (int k = 0; k < g->n; k++)
		if (!unit_cancelled(&g->wk->cancels, &g->units[g->idx[k]].w))
			return false;
	return true;
}

/* Acks a unit nobody waits for any more: no reply, nothing computed (or what was is dropped). */
static void drop_cancelled(struct worker *wk, struct unit *u)
{
	natsMsg_Ack(u->msg, NULL);
	u->done = true;
	wk->n_cancelled++;
	sy_log(SY_LOG_INFO, "worker: unit %s/%d of model %s dropped: its gateway gave up on it",
	       u->w.req_id, u->w.first, u->w.model);
}

static void reply_error(struct worker *wk, const struct wire_work *w, const struct sy_error *err)
{
	struct sbuf b = {0};
	wire_reply_write_error(&b, w->req_id, w->first, err);
	if (!b.oom)
		natsConnection_Publish(wk->nc, w->reply, b.data, (int)b.len);
	sbuf_free(&b);
}

/* Sets a unit aside: the dead-letter stream keeps it, the client (if known) hears why. */
static void dead_letter(struct worker *wk, struct unit *u, const char *why)
{
	jsPubAck *pa = NULL;
	const char *data = natsMsg_GetData(u->msg);
	natsStatus s = js_Publish(&pa, wk->js, wk->dead_subject, data,
	                          natsMsg_GetDataLength(u->msg), NULL, NULL);
	jsPubAck_Destroy(pa);
	if (s != NATS_OK) {
		/* Not set aside, so not terminated either: it comes back later (nothing is lost
		 * when the dead-letter stream is full or away). */
		sy_log(SY_LOG_WARN, "worker: dead-letter publish failed, message kept: %s",
		       natsStatus_GetText(s));
		natsMsg_NakWithDelay(u->msg, 5000, NULL);
		u->done = true;
		return;
	}
	if (u->parsed) {
		struct sy_error err = {0};
		sy_error_set(
		    &err, SY_ERR_DEAD_LETTER,
		    "work for model %s failed %s and was set aside in the dead-letter stream "
		    "(%s)",
		    u->w.model, why, wk->dead_subject);
		reply_error(wk, &u->w, &err);
	}
	natsMsg_Term(u->msg, NULL);
	u->done = true;
	wk->n_dead++;
	sy_log(SY_LOG_WARN, "worker: message set aside in %s: %s", wk->dead_subject, why);
}

struct token_ctx {
	struct engine *e;
	const char *model;
	char buf[256];
};

static const char *token_name(void *ctx, int id)
{
	struct token_ctx *t = ctx;
	return engine_model_token(t->e, t->model, id, t->buf, sizeof t->buf) == SY_OK ? t->buf
	                                                                              : NULL;
}

static bool transient(enum sy_status s)
{
	return s == SY_ERR_UNAVAILABLE || s == SY_ERR_BUSY;
}

/* Runs units[idx[0..n)] (same model and parameters) as one engine call, replies, acks. */
static void run_group(struct worker *wk, struct unit *units, const int *idx, int n)
{
	if (stop_overdue(wk)) {
		give_back(units, idx, n);
		return;
	}
	int total = 0;
	for (int k = 0; k < n; k++)
		total += units[idx[k]].w.er.items.n_items;
	struct engine_request er = units[idx[0]].w.er;
	const char **texts = malloc((size_t)total * sizeof *texts);
	size_t *lens = malloc((size_t)total * sizeof *lens);
	bool any_image = false;
	for (int k = 0; k < n; k++)
		any_image = any_image || units[idx[k]].w.images;
	struct model_image *images = any_image ? calloc((size_t)total, sizeof *images) : NULL;
	struct engine_result res = {0};
	struct sy_error err = {0};
	enum sy_status s = texts && lens && (images || !any_image) ? SY_OK : SY_ERR_NOMEM;
	if (s == SY_OK) {
		int at = 0;
		for (int k = 0; k < n; k++) {
			const struct wire_work *w = &units[idx[k]].w;
			memcpy(texts + at, w->texts, (size_t)w->er.items.n_items * sizeof *texts);
			memcpy(lens + at, w->lens, (size_t)w->er.items.n_items * sizeof *lens);
			if (w->images)
				memcpy(images + at, w->images,
				       (size_t)w->er.items.n_items * sizeof *images);
			at += w->er.items.n_items;
		}
		er.items.n_items = total;
		er.items.texts = texts;
		er.items.lens = lens;
		er.items.images = images;
		/* Messages name items as the client numbered them; a group that fails is run
		 * again unit by unit below, so only a lone unit's numbers reach a client. */
		er.items.index_base = n == 1 ? units[idx[0]].w.first : 0;
		struct group_ctx gc = {wk, units, idx, n};
		const struct engine_cancel cancel = {group_gone, &gc};
		er.cancel = &cancel;
		s = engine_request_run(wk->e, &er, &err, &res);
		er.cancel = NULL;
	} else {
		sy_error_set(&err, s, "out of memory");
	}
	if (s != SY_OK && stop_overdue(wk)) {
		give_back(units, idx, n);
		engine_result_free(&res);
		free(texts);
		free(lens);
		free(images);
		return;
	}
	if (s != SY_OK && group_gone(&(struct group_ctx){wk, units, idx, n})) {
		for (int k = 0; k < n; k++)
			drop_cancelled(wk, &units[idx[k]]);
		engine_result_free(&res);
		free(texts);
		free(lens);
		free(images);
		return;
	}
	if (s != SY_OK && n > 1 && !transient(s)) {
		/* One unit's failure (a text too long, say) must not fail the others. */
		free(texts);
		free(lens);
		free(images);
		for (int k = 0; k < n; k++)
			run_group(wk, units, idx + k, 1);
		return;
	}
	struct token_ctx tc = {.e = wk->e, .model = er.items.model};
	int at = 0;
	for (int k = 0; k < n; k++) {
		struct unit *u = &units[idx[k]];
		if (transient(s)) {
			natsMsg_NakWithDelay(u->msg, 500, NULL);
			u->done = true;
			continue;
		}
		struct sbuf b = {0};
		if (s == SY_OK)
			wire_reply_write_ok(&b, u->w.req_id, u->w.first, &res, at,
			                    u->w.er.items.n_items, &er, u->w.return_tokens,
			                    token_name, &tc);
		else
			wire_reply_write_error(&b, u->w.req_id, u->w.first, &err);
		at += u->w.er.items.n_items;
		natsStatus ps =
		    b.oom ? NATS_NO_MEMORY
		          : natsConnection_Publish(wk->nc, u->w.reply, b.data, (int)b.len);
		if (ps == NATS_MAX_PAYLOAD) {
			struct sy_error big = {0};
			sy_error_set(
			    &big, SY_ERR_LIMIT,
			    "the answer (%zu bytes) is larger than the NATS max_payload (%ld)",
			    b.len, (long)natsConnection_GetMaxPayload(wk->nc));
			reply_error(wk, &u->w, &big);
		}
		sbuf_free(&b);
		natsMsg_Ack(u->msg, NULL);
		u->done = true;
		wk->n_units++;
	}
	engine_result_free(&res);
	free(texts);
	free(lens);
	free(images);
}

static bool has_text(const struct wire_work *w, const char *t)
{
	for (int i = 0; t && i < w->er.items.n_items; i++)
		if (!strcmp(w->texts[i], t))
			return true;
	return false;
}

static void run_batch(struct worker *wk, natsMsgList *list)
{
	const int n = list->Count;
	struct unit *units = calloc((size_t)n, sizeof *units);
	int *idx = malloc((size_t)n * sizeof *idx);
	if (!units || !idx) {
		free(units);
		free(idx);
		return; /* unacked: redelivered */
	}
	for (int i = 0; i < n; i++) {
		struct unit *u = &units[i];
		u->msg = list->Msgs[i];
		struct sy_error err = {0};
		u->parsed =
		    wire_work_parse(natsMsg_GetData(u->msg), (size_t)natsMsg_GetDataLength(u->msg),
		                    &err, &u->w) == SY_OK;
		if (!u->parsed) {
			dead_letter(wk, u, err.msg);
			continue;
		}
		jsMsgMetaData *meta = NULL;
		uint64_t delivered = 1;
		if (natsMsg_GetMetaData(&meta, u->msg) == NATS_OK) {
			delivered = meta->NumDelivered;
			jsMsgMetaData_Destroy(meta);
		}
		if (delivered > (uint64_t)wk->cfg->max_deliver) {
			char why[64];
			snprintf(why, sizeof why, "%llu deliveries",
			         (unsigned long long)delivered - 1);
			dead_letter(wk, u, why);
			continue;
		}
		if (unit_cancelled(&wk->cancels, &u->w)) {
			drop_cancelled(wk, u);
			continue;
		}
		if (wk->nak_text && has_text(&u->w, wk->nak_text)) {
			natsMsg_NakWithDelay(u->msg, 50, NULL);
			u->done = true;
		}
	}
	/* Group the rest by (model, parameters), in arrival order. */
	for (int i = 0; i < n; i++) {
		if (units[i].done)
			continue;
		int m = 0;
		for (int j = i; j < n; j++) {
			struct unit *u = &units[j];
			/* A unit with a query image runs alone: its "p" does not hold the image. */
			const bool alone = units[i].w.qimage.data || u->w.qimage.data;
			if (!u->done && (j == i || !alone) &&
			    !strcmp(u->w.model, units[i].w.model) &&
			    !strcmp(u->w.params, units[i].w.params)) {
				idx[m++] = j;
				u->done = true; /* taken; run_group acks or naks it */
			}
		}
		run_group(wk, units, idx, m);
	}
	for (int i = 0; i < n; i++)
		if (units[i].parsed)
			wire_work_free(&units[i].w);
	free(units);
	free(idx);
}

/* Creates (or finds) the pool's streams and durable consumer, binds a pull subscription to it
 * and subscribes to the cancels. The consumer outlives every worker: the work in it waits for
 * the next one. */
static enum sy_status worker_setup(struct worker *wk, natsSubscription **sub,
                                   natsSubscription **cancel_sub, struct sy_error *err)
{
	const struct worker_config *cfg = wk->cfg;
	enum sy_status s = cluster_streams_ensure(wk->js, cfg->pool, cfg->max_pending, err);
	if (s != SY_OK)
		return s;
	s = cluster_consumer_ensure(wk->js, cfg->pool, cfg->ack_wait_s, true, err);
	if (s != SY_OK)
		return s;
	char subject[96], durable[64], stream[64];
	snprintf(subject, sizeof subject, "sy.work.*.%s", cfg->pool);
	snprintf(durable, sizeof durable, "sy-%s", cfg->pool);
	cluster_stream_name(stream, sizeof stream, cfg->pool);
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Consumer = durable;
	natsStatus ns = js_PullSubscribe(sub, wk->js, subject, durable, NULL, &so, NULL);
	if (ns != NATS_OK)
		return cluster_nats_error(err, ns, "pull subscription");
	char csubject[96];
	wire_cancel_subject(csubject, sizeof csubject, cfg->pool);
	ns = natsConnection_Subscribe(cancel_sub, wk->nc, csubject, on_cancel, &wk->cancels);
	if (ns != NATS_OK) {
		natsSubscription_Destroy(*sub);
		*sub = NULL;
		return cluster_nats_error(err, ns, "subscribing to cancels");
	}
	return SY_OK;
}

enum sy_status worker_run(struct engine *e, const struct worker_config *cfg, atomic_bool *stop,
                          struct sy_error *err)
{
	if (!cluster_pool_name_ok(cfg->pool))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "--pool: \"%s\" is not a pool name (1-32 of A-Z a-z 0-9 _ -)",
		                    cfg->pool ? cfg->pool : "");
	struct worker wk = {.e = e, .cfg = cfg, .stop = stop};
	pthread_mutex_init(&wk.cancels.mu, NULL);
	snprintf(wk.dead_subject, sizeof wk.dead_subject, "sy.dead.%s", cfg->pool);
	snprintf(wk.hb_subject, sizeof wk.hb_subject, "sy.workers.%s", cfg->pool);
	snprintf(wk.id, sizeof wk.id, "worker-%ld", (long)getpid());
	wk.nak_text = getenv("SY_WORKER_NAK_TEXT");
	wk.delay_ms = getenv("SY_WORKER_DELAY_MS") ? atoi(getenv("SY_WORKER_DELAY_MS")) : 0;
	wk.link.url = cfg->nats_url;
	wk.link.who = "worker";
	enum sy_status s = cluster_connect(&wk.link, wk.id, stop, err, &wk.nc, &wk.js);
	if (s == SY_ERR_UNAVAILABLE && atomic_load(stop)) {
		pthread_mutex_destroy(&wk.cancels.mu);
		return SY_OK; /* stopped before NATS answered: nothing to finish */
	}
	natsSubscription *sub = NULL, *cancel_sub = NULL;
	/* The streams and the consumer: retried like the connection (NATS may be restarting, or
	 * its JetStream not up yet), until they are there or the worker stops. */
	for (int attempt = 1; s == SY_OK && !atomic_load(stop); attempt++) {
		struct sy_error serr = {0};
		if (worker_setup(&wk, &sub, &cancel_sub, &serr) == SY_OK)
			break;
		const int ms = cluster_backoff_ms(attempt);
		sy_log(SY_LOG_WARN,
		       "worker: pool %s: setting up its stream failed (attempt %d: %s); "
		       "retrying in %d ms",
		       cfg->pool, attempt, serr.msg, ms);
		cluster_sleep(ms, stop);
	}
	pthread_t hb;
	bool hb_started = false;
	if (s == SY_OK && sub)
		hb_started = pthread_create(&hb, NULL, heartbeat_main, &wk) == 0;
	if (s == SY_OK && sub)
		sy_log(SY_LOG_NOTICE, "worker: serving pool %s from %s, fetching up to %d",
		       cfg->pool, cfg->nats_url, cfg->fetch_batch);
	while (s == SY_OK && sub && !atomic_load(stop)) {
		natsMsgList list = {0};
		natsStatus ns = natsSubscription_Fetch(&list, sub, cfg->fetch_batch, 500, NULL);
		if (ns == NATS_TIMEOUT || (ns == NATS_OK && list.Count == 0)) {
			natsMsgList_Destroy(&list);
			continue;
		}
		if (ns != NATS_OK) {
			/* Disconnected, or the server restarting: wait and fetch again. */
			natsMsgList_Destroy(&list);
			cluster_sleep(200, stop);
			continue;
		}
		/* The fault hook holds the batch, as a long engine run would (a stop past the
		 * grace hands it back). */
		for (int t = 0; t < wk.delay_ms && !stop_overdue(&wk); t += 20)
			usleep(20 * 1000);
		run_batch(&wk, &list);
		natsMsgList_Destroy(&list);
	}
	if (hb_started)
		pthread_join(hb, NULL);
	if (sub) {
		/* Leave the durable consumer for the other workers (and our restart). */
		natsSubscription_Destroy(sub);
	}
	if (cancel_sub) {
		natsSubscription_Unsubscribe(cancel_sub);
		natsSubscription_Destroy(cancel_sub);
	}
	if (wk.nc) {
		if (atomic_load(&wk.link.connected))
			natsConnection_FlushTimeout(wk.nc, 1000);
		sy_log(SY_LOG_INFO,
		       "worker: done: %ld units answered, %ld set aside, %ld dropped (given up)",
		       wk.n_units, wk.n_dead, wk.n_cancelled);
	}
	cluster_close(&wk.link, wk.nc, wk.js);
	pthread_mutex_destroy(&wk.cancels.mu);
	return s;
}
