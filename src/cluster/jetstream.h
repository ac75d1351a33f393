/* NATS and JetStream plumbing shared by the gateway and the workers (docs/CLUSTER.md):
 *   stream SY_WORK_<POOL>: subjects sy.work.*.<pool>, work-queue retention (a message is gone
 *                          once a worker acks it), new messages refused past max_pending;
 *   stream SY_DEAD:        subjects sy.dead.>, work that failed every delivery;
 *   sy.workers.<pool>:     worker heartbeats (core NATS), how the gateway knows a pool is served.
 *
 * Connecting never hangs: each attempt is bounded (CLUSTER_CONNECT_TIMEOUT_MS), attempts repeat
 * with a growing backoff until one succeeds or the process is stopping, and every step is
 * logged (connecting, connected, unreachable with the attempt and the next wait, lost,
 * reconnecting, reconnected, giving up on shutdown). Once connected, the library reconnects
 * for ever, so a NATS restart is ridden out; struct cluster_link follows the state. */
#ifndef SY_CLUSTER_JETSTREAM_H
#define SY_CLUSTER_JETSTREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

#include "base/status.h"

#define CLUSTER_HEARTBEAT_MS 1000
/* One connect attempt (TCP connect and the server's first PONG), and the wait of a JetStream
 * API call: both bound how long a stopping process can be held by an unreachable server. */
#define CLUSTER_CONNECT_TIMEOUT_MS 2000
#define CLUSTER_JS_WAIT_MS 3000
/* Backoff between connect attempts: doubles from the first to the last. */
#define CLUSTER_BACKOFF_FIRST_MS 250
#define CLUSTER_BACKOFF_MAX_MS 4000
/* Byte bounds of the streams (a request can only fill them this far; publishing beyond answers
 * QUEUE_FULL, and a dead letter that does not fit is NAKed, not dropped). */
#define CLUSTER_WORK_MAX_BYTES ((int64_t)1 << 30)
#define CLUSTER_DEAD_MAX_BYTES ((int64_t)256 << 20)

/* Pool names: 1-32 of [A-Za-z0-9_-] (they become stream names). */
bool cluster_pool_name_ok(const char *pool);

/* A process's NATS connection as seen from its callbacks (written by the library's threads). */
struct cluster_link {
	const char *url; /* what --nats named */
	const char *who; /* "gateway" or "worker", the log lines' prefix */
	atomic_bool connected; /* connected now (false while lost and reconnecting) */
	atomic_bool closing; /* the process closes it: a disconnect then is not "lost" */
	atomic_bool closed; /* the library's closed callback is done with this link */
};

/* The delay before connect attempt n (1-based): CLUSTER_BACKOFF_FIRST_MS doubling up to
 * CLUSTER_BACKOFF_MAX_MS. */
int cluster_backoff_ms(int attempt);
/* Sleeps ms in short slices; false when *stop was set meanwhile (true: the full time passed). */
bool cluster_sleep(int ms, const atomic_bool *stop);

/* Connects to link->url, retrying with cluster_backoff_ms until it succeeds or *stop is set
 * (then SY_ERR_UNAVAILABLE "shutting down"; the caller exits quietly). Once connected, the
 * library reconnects for ever and keeps link->connected up to date. link must outlive *nc. */
enum sy_status cluster_connect(struct cluster_link *link, const char *name, const atomic_bool *stop,
                               struct sy_error *err, natsConnection **nc, jsCtx **js);
/* Creates the pool's work stream and the dead-letter stream unless they exist. */
enum sy_status cluster_streams_ensure(jsCtx *js, const char *pool, long max_pending,
                                      struct sy_error *err);

/* Closes and frees nc and js (either may be NULL). The library's callbacks run on its own
 * thread and read link, so this waits (up to 1 s) for the closed callback before returning:
 * link may be freed afterwards. */
void cluster_close(struct cluster_link *link, natsConnection *nc, jsCtx *js);

/* The pool's durable pull consumer sy-<pool> on its work stream (explicit acks, ack wait
 * ack_wait_s), created unless it exists. The gateway creates it too, so a pool that never had
 * a worker still shows its queued work as the consumer's pending count (what KEDA scales on,
 * from zero). With update, an existing consumer takes this ack wait (a worker's --ack-wait
 * wins over the default the gateway created it with). */
enum sy_status cluster_consumer_ensure(jsCtx *js, const char *pool, int ack_wait_s, bool update,
                                       struct sy_error *err);

/* The work subject of (model, pool): model ids become one subject token ('.', '*', '>',
 * spaces and other bytes outside [A-Za-z0-9_-/] are replaced by '_'; '/' by '~'). */
void cluster_work_subject(char *buf, size_t cap, const char *model, const char *pool);
void cluster_stream_name(char *buf, size_t cap, const char *pool);

/* An error message for a NATS status. */
enum sy_status cluster_nats_error(struct sy_error *err, natsStatus s, const char *what);

#endif
