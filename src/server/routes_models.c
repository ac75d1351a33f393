/* GET /v1/models, GET /v1/models/{id}, and the admin routes POST /v1/models/{id}/load|unload.
 *
 * The list keeps the shape of DESIGN.md section 10 ({"object":"list","data":[...]}, each model
 * with id, state, tasks and bytes) in catalogue order, plus the engine's counters and the
 * memory budget, which the status page and scripts use; beside it, SIE's `models` list of the
 * same models. GET /v1/models/{id} answers our object with SIE's fields added, `dims` as SIE's
 * per-output map ({"dense": 384}; in the list's `data`, our integer dense width). The routes and tasks of the
 * routing config follow the models in `data` (kind "route" or "task"), so an OpenAI client's
 * models.list() and models.retrieve() see the names it may call. */
#include <stdlib.h>

#include "server/json_codec.h"
#include "server/server_internal.h"

int server_models_snapshot(struct engine *e, struct engine_model_info **out)
{
	*out = NULL;
	struct engine_model_info probe;
	int n = engine_models_list(e, &probe, 0);
	/* The catalogue may grow between the two calls; a little headroom keeps this one pass. */
	for (int attempt = 0; n > 0 && attempt < 4; attempt++) {
		int cap = n + 8;
		struct engine_model_info *v = calloc((size_t)cap, sizeof *v);
		if (!v)
			return 0;
		int got = engine_models_list(e, v, cap);
		if (got <= cap) {
			*out = v;
			return got;
		}
		free(v);
		n = got;
	}
	return 0;
}

/* What a caller sees of a model: load errors without server paths unless it may see them. */
static void model_info_write(const struct request *rq, struct engine_model_info *m, bool sie,
                             struct sbuf *b)
{
	if (!rq->admin_view)
		text_redact_paths(m->error, sizeof m->error);
	json_model_info_write(b, m, sie);
}

void route_models_list(struct request *rq, struct response *rs)
{
	struct engine_model_info *models = NULL;
	int n = server_models_snapshot(rq->srv->engine, &models);
	struct engine_stats st;
	engine_stats_get(rq->srv->engine, &st);
	struct sbuf *b = &rs->body;
	sbuf_puts(b, "{\"object\":\"list\",\"data\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			sbuf_putc(b, ',');
		model_info_write(rq, &models[i], false, b);
	}
	/* The routes and tasks too, so OpenAI clients' models.list() finds the names they call. */
	struct router_ref *ref = NULL;
	struct router *r = router_acquire(rq->srv->routers, &ref);
	if (r) {
		router_models_json(r, b, n > 0);
		router_release(rq->srv->routers, ref);
	}
	/* SIE's list of the same models (its SDK's list_models reads this key). */
	sbuf_puts(b, "],\"models\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			sbuf_putc(b, ',');
		json_model_info_write_sie(b, &models[i]);
	}
	sbuf_printf(b, "],\"memory_budget\":%zu,\"memory_used\":%zu}", st.memory_budget,
	            st.memory_used);
	free(models);
	rs->status = 200;
}

static bool id_missing(const char *id, struct response *rs)
{
	if (id[0])
		return false;
	response_error_set(rs, 404, "MODEL_NOT_FOUND", "no model id in the path");
	return true;
}

void route_model_get(struct request *rq, const char *id, struct response *rs)
{
	if (id_missing(id, rs))
		return;
	struct engine_model_info info;
	struct sy_error err = {0};
	if (engine_model_get(rq->srv->engine, id, &err, &info) != SY_OK) {
		struct router_ref *ref = NULL;
		struct router *r = router_acquire(rq->srv->routers, &ref);
		const bool found = r && router_model_json(r, id, &rs->body);
		if (r)
			router_release(rq->srv->routers, ref);
		if (found) { /* a route or a task of that name */
			rs->status = 200;
			return;
		}
		struct api_error ae;
		api_error_from_engine(&ae, &err, false);
		response_error(rs, &ae);
		return;
	}
	model_info_write(rq, &info, true, &rs->body);
	rs->status = 200;
}

void route_model_load(struct request *rq, const char *id, bool load, struct response *rs)
{
	if (id_missing(id, rs))
		return;
	struct engine *e = rq->srv->engine;
	struct sy_error err = {0};
	enum sy_status st =
	    load ? engine_model_load(e, id, &err) : engine_model_unload(e, id, &err);
	struct engine_model_info info;
	if (st == SY_OK)
		st = engine_model_get(e, id, &err, &info);
	if (st != SY_OK) {
		struct api_error ae;
		api_error_from_engine(&ae, &err, atomic_load(&rq->srv->draining));
		response_error(rs, &ae);
		return;
	}
	model_info_write(rq, &info, false, &rs->body);
	rs->status = 200;
}
