/* Operational routes: GET /healthz (liveness), GET /readyz (readiness: 503 while draining, so a
 * load balancer stops sending work before the process exits) and GET /metrics (Prometheus). */
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
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
	rs->status = 200;
}
