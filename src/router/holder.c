/* The router in use (router.h): reference-counted, swapped atomically on reload. A reload builds
 * the new router first and only then swaps the pointer, so a broken file leaves the old one in
 * place; the old one is freed when the last request holding it (a stream may last minutes) lets
 * go. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "router/router.h"

struct router_ref {
	struct router *r;
	int refs; /* holder.mu */
};

struct router_holder {
	pthread_mutex_t mu;
	struct router_ref *current; /* NULL: no routing */
	char path[1024]; /* "" when there is no config file */
	struct router_deps deps;
};

enum sy_status router_holder_create(const char *path, const struct router_deps *deps,
                                    struct sy_error *err, struct router_holder **out)
{
	*out = NULL;
	struct router_holder *h = calloc(1, sizeof *h);
	if (!h)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&h->mu, NULL);
	h->deps = *deps;
	if (path && snprintf(h->path, sizeof h->path, "%s", path) >= (int)sizeof h->path) {
		router_holder_free(h);
		return sy_error_set(err, SY_ERR_INVALID_ARG, "config path too long");
	}
	enum sy_status s = h->path[0] ? router_reload(h, err) : SY_OK;
	if (s != SY_OK) {
		router_holder_free(h);
		return s;
	}
	*out = h;
	return SY_OK;
}

struct router *router_acquire(struct router_holder *h, struct router_ref **ref)
{
	*ref = NULL;
	if (!h)
		return NULL;
	pthread_mutex_lock(&h->mu);
	*ref = h->current;
	if (*ref)
		(*ref)->refs++;
	pthread_mutex_unlock(&h->mu);
	return *ref ? (*ref)->r : NULL;
}

void router_release(struct router_holder *h, struct router_ref *ref)
{
	if (!ref)
		return;
	pthread_mutex_lock(&h->mu);
	bool last = --ref->refs == 0;
	pthread_mutex_unlock(&h->mu);
	if (last) {
		router_free(ref->r);
		free(ref);
	}
}

enum sy_status router_reload(struct router_holder *h, struct sy_error *err)
{
	return router_reload_ex(h, false, err);
}

/* A key named by the config but absent from the environment is said at every load: the calls
 * of that upstream would go without a key and fail upstream with 401. */
static void warn_unset_key(const char *upstream, const char *env, void *ctx)
{
	sy_log(SY_LOG_WARN,
	       "%s: upstream %s: api_key_env %s is not set (its calls go without a key)",
	       (const char *)ctx, upstream, env);
}

/* A config that lost all its routes and tasks (a truncated or emptied file) would turn every
 * call into a 404; unless allow_empty, the reload is refused and the old router stays. */
enum sy_status router_reload_ex(struct router_holder *h, bool allow_empty, struct sy_error *err)
{
	if (!h->path[0])
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "no config file: start with --config FILE to use routes");
	struct router *r = NULL;
	enum sy_status st = router_load_file(h->path, &h->deps, err, &r);
	if (st != SY_OK)
		return st;
	if (!allow_empty && router_n_routes(r) + router_n_tasks(r) == 0) {
		struct router_ref *cur;
		const struct router *old = router_acquire(h, &cur);
		const int had = old ? router_n_routes(old) + router_n_tasks(old) : 0;
		router_release(h, cur);
		if (had > 0) {
			router_free(r);
			return sy_error_set(
			    err, SY_ERR_INVALID_ARG,
			    "%s has no routes and no tasks (the ones in use have %d); "
			    "refused, as a truncated file would drop them all (reload "
			    "with allow_empty=true to mean it)",
			    h->path, had);
		}
	}
	struct router_ref *ref = calloc(1, sizeof *ref);
	if (!ref) {
		router_free(r);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	ref->r = r;
	ref->refs = 1; /* the holder's own */
	pthread_mutex_lock(&h->mu);
	struct router_ref *old = h->current;
	h->current = ref;
	pthread_mutex_unlock(&h->mu);
	router_release(h, old);
	sy_log(SY_LOG_INFO, "router: %d route(s), %d task(s) from %s", router_n_routes(r),
	       router_n_tasks(r), h->path);
	router_unset_keys(r, warn_unset_key, (void *)h->path);
	return SY_OK;
}

void router_holder_free(struct router_holder *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	struct router_ref *old = h->current;
	h->current = NULL;
	pthread_mutex_unlock(&h->mu);
	router_release(h, old);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
