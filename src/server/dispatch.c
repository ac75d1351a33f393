/* The one dispatch stage every route's model work goes through (see server_internal.h):
 * task-table lookup, weighted splits and shadow traffic (the router decides, src/router), the
 * backend call (the local engine, or the cluster gateway), and the error answer. Routes parse
 * and write; this file is the only one that calls the backend. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "server/server_internal.h"

static enum sy_status backend_run(struct server *srv, const struct engine_request *req,
                                  struct sy_error *err, struct engine_result *out)
{
	if (srv->backend.run)
		return srv->backend.run(srv->backend.ctx, req, err, out);
	return engine_request_run(srv->engine, req, err, out);
}

enum sy_status server_model_token(struct server *srv, const char *model, int id, char *buf,
                                  size_t cap)
{
	if (srv->backend.run)
		return srv->backend.token
		           ? srv->backend.token(srv->backend.ctx, model, id, buf, cap)
		           : SY_ERR_NOT_FOUND;
	return engine_model_token(srv->engine, model, id, buf, cap);
}

/* ---- shadow traffic: a deep copy of the request, run in the background ---- */

struct shadow_job {
	struct server *srv;
	struct engine_request req;
	char model[256];
	char **texts;
	size_t *lens;
	char *query, *instruction;
	struct extract_params xp;
	char **labels;
};

static void shadow_free(struct shadow_job *j)
{
	for (int i = 0; j->texts && i < j->req.items.n_items; i++)
		free(j->texts[i]);
	free(j->texts);
	free(j->lens);
	free(j->query);
	free(j->instruction);
	for (int i = 0; j->labels && i < j->xp.n_labels; i++)
		free(j->labels[i]);
	free(j->labels);
	free(j);
}

static void *shadow_main(void *arg)
{
	struct shadow_job *j = arg;
	struct engine_result res;
	struct sy_error err = {0};
	if (backend_run(j->srv, &j->req, &err, &res) == SY_OK)
		engine_result_free(&res);
	else
		sy_log(SY_LOG_DEBUG, "router: shadow request to %s failed: %s", j->model, err.msg);
	shadow_free(j);
	return NULL;
}

static char *dup_or_null(const char *s, size_t len, bool *ok)
{
	if (!s)
		return NULL;
	char *d = strndup(s, len);
	*ok &= d != NULL;
	return d;
}

/* Copies what req points to (the caller's request is gone by the time the shadow runs). */
static struct shadow_job *shadow_copy(struct server *srv, const char *model,
                                      const struct engine_request *req)
{
	/* the image bytes are the caller's; shadows copy texts only */
	if (req->items.images || (req->task == ENGINE_TASK_SCORE && req->score.query_image))
		return NULL;
	struct shadow_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	const int n = req->items.n_items;
	j->srv = srv;
	j->req = *req;
	j->req.cancel = NULL; /* the shadow has no client to lose */
	snprintf(j->model, sizeof j->model, "%s", model);
	j->req.items.model = j->model;
	j->texts = calloc((size_t)n, sizeof *j->texts);
	j->lens = calloc((size_t)n, sizeof *j->lens);
	bool ok = j->texts && j->lens;
	for (int i = 0; ok && i < n; i++) {
		j->texts[i] = dup_or_null(req->items.texts[i], req->items.lens[i], &ok);
		j->lens[i] = req->items.lens[i];
	}
	j->req.items.texts = (const char *const *)j->texts;
	j->req.items.lens = j->lens;
	if (req->task == ENGINE_TASK_ENCODE) {
		const char *in = req->encode.instruction;
		j->instruction = dup_or_null(in, in ? strlen(in) : 0, &ok);
		j->req.encode.instruction = j->instruction;
	} else if (req->task == ENGINE_TASK_SCORE) {
		j->query = dup_or_null(req->score.query, req->score.query_len, &ok);
		const char *in = req->score.instruction;
		j->instruction = dup_or_null(in, in ? strlen(in) : 0, &ok);
		j->req.score.query = j->query;
		j->req.score.instruction = j->instruction;
	} else if (req->extract.params) {
		j->xp = *req->extract.params;
		j->labels =
		    j->xp.n_labels ? calloc((size_t)j->xp.n_labels, sizeof *j->labels) : NULL;
		ok &= !j->xp.n_labels || j->labels;
		for (int i = 0; ok && i < j->xp.n_labels; i++)
			j->labels[i] = dup_or_null(j->xp.labels[i], strlen(j->xp.labels[i]), &ok);
		j->xp.labels = j->xp.labels ? (const char *const *)j->labels : NULL;
		j->req.extract.params = &j->xp;
	}
	if (!ok) {
		shadow_free(j);
		return NULL;
	}
	return j;
}

static void shadow_start(struct server *srv, const char *model, const struct engine_request *req)
{
	struct shadow_job *j = shadow_copy(srv, model, req);
	if (!j)
		return;
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, shadow_main, j) != 0)
		shadow_free(j);
	pthread_attr_destroy(&a);
}

/* ---- the stage ---- */

/* A task-table name for the request's task resolves to a model id (and maybe a shadow). */
static void resolve_task(struct request *rq, struct engine_request *req, struct response *rs)
{
	struct router_ref *ref;
	struct router *r = router_acquire(rq->srv->routers, &ref);
	char shadow[256] = "";
	const char *name = req->items.model;
	bool hit = r && router_task_resolve(r, name, engine_task_name(req->task), rq->model,
	                                    sizeof rq->model, shadow, sizeof shadow);
	router_release(rq->srv->routers, ref);
	if (!hit)
		return;
	req->items.model = rq->model;
	response_header_add(rs, "x-switchyard-model", "%s", rq->model);
	if (shadow[0])
		shadow_start(rq->srv, shadow, req);
}

/* Where to go instead, when an encode request names a model that does not encode (err->hint:
 * the tasks it offers). */
static void add_advice(struct api_error *ae, const struct engine_request *req, unsigned offers)
{
	if (req->task != ENGINE_TASK_ENCODE || !offers || (offers & ENGINE_TASK_ENCODE))
		return;
	const size_t n = strlen(ae->message);
	const char *m = req->items.model;
	if (offers & ENGINE_TASK_EXTRACT)
		snprintf(ae->message + n, sizeof ae->message - n, "; use /v1/extract/%s", m);
	else if (offers & ENGINE_TASK_SCORE)
		snprintf(ae->message + n, sizeof ae->message - n,
		         "; use /v1/score/%s or /v1/rerank", m);
}

/* The client is gone when its connection reads as closed (a pipelined next request reads as
 * data, so it is still there). The connection's thread is the one waiting here, so nothing
 * else reads the socket meanwhile. */
static bool client_gone(void *ctx)
{
	struct request *rq = ctx;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return false;
	char c;
	return recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

bool server_dispatch(struct request *rq, struct engine_request *req, struct response *rs,
                     struct engine_result *out)
{
	memset(out, 0, sizeof *out);
	resolve_task(rq, req, rs);
	/* Work for a client that went away is dropped from the queue (the local engine), or no
	 * longer waited for (the cluster gateway). */
	const struct engine_cancel cancel = {client_gone, rq};
	if (rq->conn)
		req->cancel = &cancel;
	if (!rq->model[0] && req->items.model)
		snprintf(rq->model, sizeof rq->model, "%s", req->items.model);
	struct sy_error err = {0};
	if (backend_run(rq->srv, req, &err, out) == SY_OK) {
		req->cancel = NULL;
		return true;
	}
	req->cancel = NULL;
	struct api_error ae;
	api_error_from_engine(&ae, &err, atomic_load(&rq->srv->draining));
	if (err.status == SY_ERR_UNSUPPORTED)
		add_advice(&ae, req, err.hint);
	response_error(rs, &ae);
	return false;
}

bool server_tokenizer_use(struct request *rq, const char *model, engine_tokenizer_fn fn, void *ctx,
                          struct response *rs)
{
	struct server *srv = rq->srv;
	if (srv->backend.run) {
		/* The cluster gateway holds no models: tokenizers live on the workers, and the
		 * wire format carries no tokenize work. */
		response_error_set(
		    rs, 501, "NOT_IMPLEMENTED",
		    "%s is not available through the cluster gateway (the tokenizers "
		    "are on the workers); call a worker's serve process directly",
		    rq->path);
		return false;
	}
	struct sy_error err = {0};
	if (engine_tokenizer_use(srv->engine, model, fn, ctx, &err) == SY_OK)
		return true;
	struct api_error ae;
	api_error_from_engine(&ae, &err, atomic_load(&srv->draining));
	response_error(rs, &ae);
	return false;
}
