/* The cluster worker (`switchyard worker`): drains a pool's work stream into the local engine.
 *
 * A durable pull consumer (sy-<pool>, explicit acks) fetches up to fetch_batch messages;
 * units of the same model and parameters run as one engine call (the engine batches them
 * further); each unit's reply goes to the gateway's inbox and only then is the message acked,
 * so a worker that dies mid-batch loses nothing: after ack_wait the messages are redelivered
 * to another worker. A unit whose model is still loading, or whose queue is full, is NAKed
 * with a delay. A unit delivered more than max_deliver times, or that cannot be parsed, goes
 * to the dead-letter stream (sy.dead.<pool>) and, when it names a reply inbox, the client gets
 * a DEAD_LETTER error. Heartbeats on sy.workers.<pool> tell gateways the pool is served.
 *
 * NATS need not be up first: the connection and the stream/consumer setup are retried with a
 * backoff (jetstream.h) until they work or *stop is set, so a stop ends the worker within
 * seconds in every state (then SY_OK). A stop while a batch is in hand gives it 3 s to finish
 * (answered and acked); past that its engine run stops and its units are NAKed, so another
 * worker takes them at once.
 *
 * Fault injection for tests (environment; never set in production):
 *   SY_WORKER_NAK_TEXT=T    a unit holding the text T is NAKed every time (a poison message)
 *   SY_WORKER_DELAY_MS=N    hold each fetched batch N ms before running it (to kill or stop a
 *                           worker with work in hand) */
#ifndef SY_CLUSTER_WORKER_H
#define SY_CLUSTER_WORKER_H

#include <stdatomic.h>

#include "base/status.h"
#include "engine/engine.h"

struct worker_config {
	const char *nats_url;
	const char *pool;
	int fetch_batch; /* messages per fetch (default 64) */
	int ack_wait_s; /* redelivery after this long without an ack (default 30) */
	int max_deliver; /* deliveries before the dead-letter stream (default 5) */
	long max_pending; /* the work stream's bound when this worker creates it (default 100000) */
};

/* Runs until *stop is set (then finishes and acks the batch in hand, and returns SY_OK). */
enum sy_status worker_run(struct engine *e, const struct worker_config *cfg, atomic_bool *stop,
                          struct sy_error *err);

#endif
