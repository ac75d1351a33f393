/* NATS and JetStream plumbing shared by the gateway and the workers (docs/CLUSTER.md):
 *   stream SY_WORK_<POOL>: subjects sy.work.*.<pool>, work-queue retention (a message is gone
 *                          once a worker acks it), new messages refused past max_pending;
 *   stream SY_DEAD:        subjects sy.dead.>, work that failed every delivery;
 *   sy.workers.<pool>:     worker heartbeats (core NATS), how the gateway knows a pool is served.
 * Connections reconnect forever, so a NATS restart is ridden out. */
#ifndef SY_CLUSTER_JETSTREAM_H
#define SY_CLUSTER_JETSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

#include "base/status.h"

#define CLUSTER_HEARTBEAT_MS 1000
/* Byte bounds of the streams (a request can only fill them this far; publishing beyond answers
 * QUEUE_FULL, and a dead letter that does not fit is NAKed, not dropped). */
#define CLUSTER_WORK_MAX_BYTES ((int64_t)1 << 30)
#define CLUSTER_DEAD_MAX_BYTES ((int64_t)256 << 20)

/* Pool names: 1-32 of [A-Za-z0-9_-] (they become stream names). */
bool cluster_pool_name_ok(const char *pool);

/* Connects (retrying while the server is not up yet, then reconnecting forever). */
enum sy_status cluster_connect(const char *url, const char *name, struct sy_error *err,
                               natsConnection **nc, jsCtx **js);
/* Creates the pool's work stream and the dead-letter stream unless they exist. */
enum sy_status cluster_streams_ensure(jsCtx *js, const char *pool, long max_pending,
                                      struct sy_error *err);

/* The work subject of (model, pool): model ids become one subject token ('.', '*', '>',
 * spaces and other bytes outside [A-Za-z0-9_-/] are replaced by '_'; '/' by '~'). */
void cluster_work_subject(char *buf, size_t cap, const char *model, const char *pool);
void cluster_stream_name(char *buf, size_t cap, const char *pool);

/* An error message for a NATS status. */
enum sy_status cluster_nats_error(struct sy_error *err, natsStatus s, const char *what);

#endif
