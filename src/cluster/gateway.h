/* The cluster gateway (`switchyard gateway`): the HTTP routes of `serve`, with the work sent to
 * workers over NATS JetStream instead of a local engine (a server_backend, server.h).
 *
 * A request is split into work units (one per encode/extract item; a score call is one unit),
 * published to sy.work.<model>.<pool> with the gateway's inbox and a request id, and answered
 * once every unit's reply is in (in item order; a unit answered twice after a redelivery
 * counts once). Errors: 503 NO_WORKERS + Retry-After when no worker of the pool sent a
 * heartbeat lately, 503 QUEUE_FULL when the stream refuses the message (over its pending
 * bound), 504 TIMEOUT past the request timeout, and the worker's own errors unchanged. */
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
