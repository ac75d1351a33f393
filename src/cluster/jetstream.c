/* NATS connection and stream setup (see jetstream.h). */
#include "cluster/jetstream.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

bool cluster_pool_name_ok(const char *pool)
{
	size_t n = pool ? strlen(pool) : 0;
	if (n < 1 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)pool[i]) && pool[i] != '_' && pool[i] != '-')
			return false;
	return true;
}

enum sy_status cluster_nats_error(struct sy_error *err, natsStatus s, const char *what)
{
	const char *last = nats_GetLastError(NULL);
	return sy_error_set(err, SY_ERR_IO, "%s: %s%s%s", what, natsStatus_GetText(s),
	                    last && last[0] ? ": " : "", last ? last : "");
}

int cluster_backoff_ms(int attempt)
{
	int ms = CLUSTER_BACKOFF_FIRST_MS;
	for (int i = 1; i < attempt && ms < CLUSTER_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < CLUSTER_BACKOFF_MAX_MS ? ms : CLUSTER_BACKOFF_MAX_MS;
}

bool cluster_sleep(int ms, const atomic_bool *stop)
{
	for (int t = 0; t < ms; t += 50) {
		if (stop && atomic_load(stop))
			return false;
		usleep((useconds_t)(ms - t < 50 ? ms - t : 50) * 1000);
	}
	return !(stop && atomic_load(stop));
}

/* The library's connection events (its own threads). */
static void on_disconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	struct cluster_link *l = closure;
	const bool was = atomic_exchange(&l->connected, false);
	if (was && !atomic_load(&l->closing))
		sy_log(SY_LOG_WARN, "%s: lost the NATS connection to %s; reconnecting", l->who,
		       l->url);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	struct cluster_link *l = closure;
	atomic_store(&l->connected, true);
	sy_log(SY_LOG_NOTICE, "%s: reconnected to NATS at %s", l->who, l->url);
}

static void on_closed(natsConnection *nc, void *closure)
{
	(void)nc;
	struct cluster_link *l = closure;
	atomic_store(&l->connected, false);
	sy_log(SY_LOG_INFO, "%s: NATS connection to %s closed", l->who, l->url);
	atomic_store(&l->closed, true); /* last: cluster_close may free l from here on */
}

void cluster_close(struct cluster_link *link, natsConnection *nc, jsCtx *js)
{
	atomic_store(&link->closing, true);
	jsCtx_Destroy(js);
	if (!nc)
		return;
	natsConnection_Close(nc);
	for (int i = 0; i < 100 && !atomic_load(&link->closed); i++)
		usleep(10 * 1000);
	natsConnection_Destroy(nc);
}

/* Called by the library after each round of failed reconnect attempts; returns the wait. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	(void)nc;
	struct cluster_link *l = closure;
	const int ms = cluster_backoff_ms(attempts);
	if (!atomic_load(&l->closing))
		sy_log(SY_LOG_WARN,
		       "%s: reconnecting to NATS at %s: attempt %d failed, next in %d ms", l->who,
		       l->url, attempts, ms);
	return ms;
}

enum sy_status cluster_connect(struct cluster_link *link, const char *name, const atomic_bool *stop,
                               struct sy_error *err, natsConnection **nc, jsCtx **js)
{
	*nc = NULL;
	*js = NULL;
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, link->url);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, name);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, CLUSTER_CONNECT_TIMEOUT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, link);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, link);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, link);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, on_closed, link);
	if (s != NATS_OK) {
		natsOptions_Destroy(o);
		return cluster_nats_error(err, s, link->url);
	}
	sy_log(SY_LOG_NOTICE, "%s: connecting to NATS at %s", link->who, link->url);
	for (int attempt = 1;; attempt++) {
		if (atomic_load(stop))
			break;
		s = natsConnection_Connect(nc, o);
		if (s == NATS_OK)
			break;
		*nc = NULL;
		const int ms = cluster_backoff_ms(attempt);
		sy_log(SY_LOG_WARN,
		       "%s: NATS at %s unreachable (attempt %d: %s); retrying in %d ms", link->who,
		       link->url, attempt, natsStatus_GetText(s), ms);
		if (!cluster_sleep(ms, stop))
			break;
	}
	natsOptions_Destroy(o);
	if (!*nc) {
		sy_log(SY_LOG_NOTICE, "%s: giving up connecting to NATS at %s: shutting down",
		       link->who, link->url);
		return sy_error_set(err, SY_ERR_UNAVAILABLE,
		                    "shutting down before NATS at %s answered", link->url);
	}
	atomic_store(&link->closed, false); /* whatever a failed attempt's connection did */
	atomic_store(&link->connected, true);
	sy_log(SY_LOG_NOTICE, "%s: connected to NATS at %s", link->who, link->url);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = CLUSTER_JS_WAIT_MS;
	s = natsConnection_JetStream(js, *nc, &jo);
	if (s != NATS_OK) {
		cluster_close(link, *nc, NULL);
		*nc = NULL;
		return cluster_nats_error(err, s, "JetStream");
	}
	return SY_OK;
}

void cluster_stream_name(char *buf, size_t cap, const char *pool)
{
	snprintf(buf, cap, "SY_WORK_%s", pool);
}

void cluster_work_subject(char *buf, size_t cap, const char *model, const char *pool)
{
	size_t at = (size_t)snprintf(buf, cap, "sy.work.");
	for (const char *c = model; *c && at + 1 < cap; c++) {
		unsigned char ch = (unsigned char)*c;
		buf[at++] = ch == '/'                               ? '~'
		            : isalnum(ch) || ch == '_' || ch == '-' ? (char)ch
		                                                    : '_';
	}
	buf[at < cap ? at : cap - 1] = '\0';
	size_t n = strlen(buf);
	snprintf(buf + n, cap - n, ".%s", pool);
}

static enum sy_status stream_ensure(jsCtx *js, const char *name, const char *subject,
                                    bool work_queue, long max_msgs, int64_t max_bytes,
                                    struct sy_error *err)
{
	jsStreamInfo *si = NULL;
	jsErrCode code = 0;
	natsStatus s = js_GetStreamInfo(&si, js, name, NULL, &code);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return SY_OK;
	}
	jsStreamConfig c;
	jsStreamConfig_Init(&c);
	c.Name = name;
	const char *subjects[1] = {subject};
	c.Subjects = subjects;
	c.SubjectsLen = 1;
	c.Retention = work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
	c.Storage = js_FileStorage;
	c.MaxMsgs = max_msgs;
	c.MaxBytes = max_bytes;
	c.Discard = js_DiscardNew;
	s = js_AddStream(&si, js, &c, NULL, &code);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return SY_OK;
	}
	/* Another process may have created it meanwhile. */
	if (js_GetStreamInfo(&si, js, name, NULL, NULL) == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return SY_OK;
	}
	char what[128];
	snprintf(what, sizeof what, "creating stream %s (is nats-server running with -js?)", name);
	return cluster_nats_error(err, s, what);
}

enum sy_status cluster_streams_ensure(jsCtx *js, const char *pool, long max_pending,
                                      struct sy_error *err)
{
	char name[64], subject[96];
	cluster_stream_name(name, sizeof name, pool);
	snprintf(subject, sizeof subject, "sy.work.*.%s", pool);
	enum sy_status s =
	    stream_ensure(js, name, subject, true, max_pending, CLUSTER_WORK_MAX_BYTES, err);
	if (s == SY_OK)
		s = stream_ensure(js, "SY_DEAD", "sy.dead.>", false, 100000, CLUSTER_DEAD_MAX_BYTES,
		                  err);
	return s;
}

enum sy_status cluster_consumer_ensure(jsCtx *js, const char *pool, int ack_wait_s, bool update,
                                       struct sy_error *err)
{
	char subject[96], durable[64], stream[64];
	snprintf(subject, sizeof subject, "sy.work.*.%s", pool);
	snprintf(durable, sizeof durable, "sy-%s", pool);
	cluster_stream_name(stream, sizeof stream, pool);
	jsConsumerConfig cc;
	jsConsumerConfig_Init(&cc);
	cc.Durable = durable;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = (int64_t)ack_wait_s * 1000000000LL;
	cc.MaxDeliver = -1; /* the worker counts deliveries itself (dead letters) */
	cc.MaxAckPending = 10000;
	cc.FilterSubject = subject;
	jsConsumerInfo *ci = NULL;
	natsStatus s = js_AddConsumer(&ci, js, stream, &cc, NULL, NULL);
	jsConsumerInfo_Destroy(ci);
	ci = NULL;
	if (s != NATS_OK && update) {
		s = js_UpdateConsumer(&ci, js, stream, &cc, NULL, NULL);
		jsConsumerInfo_Destroy(ci);
		ci = NULL;
	}
	if (s != NATS_OK && js_GetConsumerInfo(&ci, js, stream, durable, NULL, NULL) == NATS_OK) {
		jsConsumerInfo_Destroy(ci);
		s = NATS_OK;
	}
	return s == NATS_OK ? SY_OK : cluster_nats_error(err, s, "creating the pool's consumer");
}
