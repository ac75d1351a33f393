/* Operational routes: GET /healthz (liveness), GET /readyz (readiness: 503 while draining, so a
 * load balancer stops sending work before the process exits, and while the backend says it
 * cannot take work, as the cluster gateway without NATS) and GET /metrics (Prometheus). */
#include "base/json_write.h"
#include "server/server_internal.h"
#include "tensor/isa.h"

void route_healthz(struct request *rq, struct response *rs)
{
	/* isa: the kernel path this process runs (src/tensor/isa.c), "avx2" or "portable". */
	sbuf_printf(&rs->body, "{\"status\":\"ok\",\"isa\":\"%s\"}", sy_isa_name(sy_isa_current()));
	rs->status = 200;
}

void route_readyz(struct request *rq, struct response *rs)
{
	if (atomic_load(&rq->srv->draining)) {
		sbuf_puts(&rs->body, "{\"status\":\"draining\"}");
		rs->status = 503;
		return;
	}
	const struct server_backend *b = &rq->srv->backend;
	char why[256] = "";
	if (b->ready && !b->ready(b->ctx, why, sizeof why)) {
		sbuf_puts(&rs->body, "{\"status\":\"not_ready\",\"reason\":");
		json_write_str(&rs->body, why, -1);
		sbuf_puts(&rs->body, "}");
		rs->status = 503;
		return;
	}
	sbuf_puts(&rs->body, "{\"status\":\"ready\"}");
	rs->status = 200;
}

void route_metrics(struct request *rq, struct response *rs)
{
	struct server *s = rq->srv;
	metrics_render(s->metrics, s->engine, atomic_load(&s->inflight), &rs->body);
	struct router_ref *ref;
	struct router *r = router_acquire(s->routers, &ref);
	if (r)
		router_metrics_write(r, &rs->body);
	router_release(s->routers, ref);
	if (s->backend.metrics)
		s->backend.metrics(s->backend.ctx, &rs->body);
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
	rs->status = 200;
}
