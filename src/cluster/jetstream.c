/* NATS connection and stream setup (see jetstream.h). */
#include "cluster/jetstream.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

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

enum sy_status cluster_connect(const char *url, const char *name, struct sy_error *err,
                               natsConnection **nc, jsCtx **js)
{
	*nc = NULL;
	*js = NULL;
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, name);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 200);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(o, true, NULL, NULL);
	if (s == NATS_OK)
		s = natsConnection_Connect(nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
		return cluster_nats_error(err, s, url);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	s = natsConnection_JetStream(js, *nc, &jo);
	if (s != NATS_OK) {
		natsConnection_Destroy(*nc);
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
