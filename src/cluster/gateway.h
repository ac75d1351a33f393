/* The cluster gateway (`switchyard gateway`): the HTTP routes of `serve`, with the work sent to
 * workers over NATS JetStream instead of a local engine (a server_backend, server.h).
 *
 * A request is split into work units (one per encode/extract item; a score call is one unit),
 * published to sy.work.<model>.<pool> with the gateway's inbox and a request id, and answered
 * once every unit's reply is in (in item order; a unit answered twice after a redelivery
 * counts once). A pool with no live worker is published to all the same (scale from zero: the
 * request waits for a worker to start; pool_demand counts it for /metrics). Errors: 503
 * NO_WORKERS + Retry-After when NATS is not connected, or when the request timed out with no
 * worker of the pool heard meanwhile; 503 QUEUE_FULL when the stream refuses the message (over
 * its pending bound); 504 TIMEOUT past the request timeout; 503 SHUTTING_DOWN for requests
 * still waiting 2.5 s after the server began draining; the worker's own errors unchanged.
 *
 * gateway_open returns at once: a thread connects to NATS and sets the pools up in the
 * background (jetstream.h: bounded attempts with backoff, logged), and the backend's `ready`
 * says 503 on /readyz until that is done and while the connection is lost. */
#ifndef SY_CLUSTER_GATEWAY_H
#define SY_CLUSTER_GATEWAY_H

#include "base/status.h"
#include "engine/engine.h"
#include "server/server.h"

struct gateway_config {
	const char *nats_url;
	const char *const *pools; /* [n_pools]; the first takes the models not mapped below */
	int n_pools;
	const char *const *map_models, *const *map_pools; /* [n_map] model -> pool */
	int n_map;
	int request_timeout_ms; /* default 30000 */
	long max_pending; /* work stream bound when the gateway creates it (default 100000) */
};

struct gateway;

/* e holds the catalogue (model ids; the gateway never loads a model). */
enum sy_status gateway_open(struct engine *e, const struct gateway_config *cfg,
                            struct sy_error *err, struct gateway **out);
/* The backend to give server_start. */
const struct server_backend *gateway_backend(struct gateway *g);
void gateway_close(struct gateway *g);

#endif
