/* Loading and unloading models under a memory budget.
 *
 * A load first estimates the model's bytes from its files (safetensors tensors counted as fp32,
 * since the encoder converts half-precision weights at load; other files at their size), then
 * makes room by evicting the least recently used models that are loaded, not pinned and idle,
 * and reserves the estimate while it runs, so two loads at once cannot both take the same free
 * space. When the load is done the reservation is replaced by what the model reports it
 * holds (weights plus the scratch of a full batch), or kept when it cannot say.
 *
 * Outcomes: a model whose estimate alone exceeds the budget fails for good (until the cooldown
 * lets a request retry, in case the files changed); a model that does not fit because the
 * others are busy or pinned is not a failure of the model, so the request gets
 * SY_ERR_UNAVAILABLE (retry later) and the model stays available. Failed loads are remembered
 * with their message; during the cooldown, requests fail at once with that message.
 *
 * Concurrent first requests share one load: the first marks the model LOADING and loads with
 * the engine mutex released; the others wait on the model's condition variable (for at most
 * load_wait_ms). Embedders are closed with the mutex released too, as closing joins a pool. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "engine/engine_internal.h"
#include "model/registry.h"
#include "hub/hub.h"
#include "model/formats/safetensors.h"

#define MB (1024.0 * 1024.0)

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* Weights in another framework's format, which the loader never reads. */
static bool foreign_weights(const char *name)
{
	return ends_with(name, ".onnx") || ends_with(name, ".h5") || ends_with(name, ".msgpack") ||
	       ends_with(name, ".ot") || ends_with(name, ".pt") || ends_with(name, ".gguf");
}

static size_t safetensors_fp32_bytes(const char *path, size_t file_size)
{
	struct safetensors *st;
	if (safetensors_open(path, NULL, &st) != SY_OK)
		return file_size;
	size_t bytes = 0;
	for (int i = 0; i < st->n_tensors; i++) {
		const struct st_tensor *t = &st->tensors[i];
		bool half = t->dtype == ST_DTYPE_F16 || t->dtype == ST_DTYPE_BF16;
		bytes += half ? t->n_elems * sizeof(float) : t->n_bytes;
	}
	safetensors_close(st);
	return bytes;
}

/* Sums the directory's files as the loader will hold them; descends into the
 * sentence-transformers module folders ("1_Pooling", "2_Dense", ...) only. */
static size_t dir_estimate(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	char *st_path = sy_path_join(dir, "model.safetensors");
	bool has_st = st_path && sy_path_exists(st_path);
	free(st_path);
	size_t total = 0;
	struct dirent *ent;
	while ((ent = readdir(d))) {
		const char *name = ent->d_name;
		if (name[0] == '.' || foreign_weights(name))
			continue;
		if (has_st && !strcmp(name, "pytorch_model.bin"))
			continue;
		char *p = sy_path_join(dir, name);
		struct stat sb;
		if (!p || stat(p, &sb) != 0) {
			free(p);
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			if (depth == 0 && name[0] >= '0' && name[0] <= '9' && strchr(name, '_'))
				total += dir_estimate(p, depth + 1);
		} else if (S_ISREG(sb.st_mode)) {
			total += ends_with(name, ".safetensors")
			             ? safetensors_fp32_bytes(p, (size_t)sb.st_size)
			             : (size_t)sb.st_size;
		}
		free(p);
	}
	closedir(d);
	return total;
}

bool engine_model_idle(const struct engine_model *m)
{
	return m->state == ENGINE_MODEL_LOADED && !m->running && m->queue_items == 0 &&
	       m->n_admitted == 0;
}

struct model *engine_model_detach(struct engine *e, struct engine_model *m)
{
	struct model *model = m->model;
	m->model = NULL;
	m->state = ENGINE_MODEL_AVAILABLE;
	e->used -= m->bytes < e->used ? m->bytes : e->used;
	pthread_cond_broadcast(&m->cv);
	return model;
}

/* Models detached under the mutex, closed once it is released. */
struct graveyard {
	struct model *v[64];
	int n;
};

static void graveyard_close(struct graveyard *g)
{
	for (int i = 0; i < g->n; i++)
		model_close(g->v[i]);
	g->n = 0;
}

/* Evicts idle unpinned models, least recently used first, until need more bytes fit. */
static void evict_for(struct engine *e, size_t need, const struct engine_model *keep,
                      struct graveyard *g)
{
	while (e->used + need > e->cfg.memory_budget && g->n < (int)(sizeof g->v / sizeof *g->v)) {
		struct engine_model *victim = NULL;
		for (int i = 0; i < e->n_models; i++) {
			struct engine_model *c = e->models[i];
			if (c == keep || c->pinned || !engine_model_idle(c))
				continue;
			if (!victim || c->last_used_ns < victim->last_used_ns)
				victim = c;
		}
		if (!victim)
			return;
		sy_log(SY_LOG_INFO, "engine: evicting %s (%.1f MB) to make room", victim->id,
		       (double)victim->bytes / MB);
		victim->n_evictions++;
		e->n_evictions++;
		g->v[g->n++] = engine_model_detach(e, victim);
	}
}

static enum sy_status load_fail(struct engine *e, struct engine_model *m, enum sy_status s,
                                const char *msg, struct sy_error *err)
{
	/* Embedder messages may start with "model <path>:"; name the model by its id instead. */
	if (!strncmp(msg, "model ", 6))
		msg += 6;
	snprintf(m->error, sizeof m->error, "model %s: %s", m->id, msg);
	m->error_status = s;
	m->state = ENGINE_MODEL_FAILED;
	m->failed_ns = sy_now_ns();
	m->n_load_failures++;
	e->n_load_failures++;
	pthread_cond_broadcast(&m->cv);
	sy_log(SY_LOG_WARN, "engine: %s", m->error);
	return sy_error_set(err, SY_ERR_LOAD_FAILED, "%s", m->error);
}

/* Runs one load of m (state AVAILABLE on entry). mu held on entry and return. */
static enum sy_status load_locked(struct engine *e, struct engine_model *m, struct sy_error *err)
{
	m->state = ENGINE_MODEL_LOADING;
	m->error[0] = '\0';
	pthread_mutex_unlock(&e->mu);
	size_t est = dir_estimate(m->path, 0); /* the path cannot change while LOADING */
	pthread_mutex_lock(&e->mu);

	const size_t budget = e->cfg.memory_budget;
	if (est > budget) {
		char msg[200];
		snprintf(msg, sizeof msg, "needs ~%.0f MB, the memory budget is %.0f MB",
		         (double)est / MB, (double)budget / MB);
		m->bytes = est;
		return load_fail(e, m, SY_ERR_LIMIT, msg, err);
	}
	struct graveyard g = {.n = 0};
	evict_for(e, est, m, &g);
	if (e->used + est > budget) {
		m->state = ENGINE_MODEL_AVAILABLE;
		pthread_cond_broadcast(&m->cv);
		enum sy_status s = sy_error_set(
		    err, SY_ERR_UNAVAILABLE,
		    "model %s needs ~%.0f MB; %.0f MB of the %.0f MB memory budget are held by "
		    "models that are busy or pinned",
		    m->id, (double)est / MB, (double)e->used / MB, (double)budget / MB);
		pthread_mutex_unlock(&e->mu);
		graveyard_close(&g);
		pthread_mutex_lock(&e->mu);
		return s;
	}
	e->used += est;
	m->bytes = est;
	pthread_mutex_unlock(&e->mu);
	graveyard_close(&g);

	struct model_options opts = m->opts;
	opts.n_threads = e->cfg.n_threads;
	opts.precision = m->precision;
	const bool precision_explicit = m->precision_explicit;
	struct sy_error load_err = {0};
	struct model *model = NULL;
	uint64_t t0 = sy_now_ns();
	/* A Hub id ("org/name") loads from the Hugging Face cache, downloaded first if needed. */
	char *hub_dir = NULL;
	/* Test hook: SY_TEST_LOAD_DELAY_MS makes every load that long (a slow disk or download),
	 * so the tests can watch requests give up waiting while the load goes on. */
	const char *delay = getenv("SY_TEST_LOAD_DELAY_MS");
	if (delay && atoi(delay) > 0)
		usleep((useconds_t)atoi(delay) * 1000u);
	enum sy_status s = hub_resolve_model(m->path, true, &load_err, &hub_dir);
	if (s == SY_OK)
		s = model_open(hub_dir ? hub_dir : m->path, &opts, &load_err, &model);
	free(hub_dir);
	/* A model without an int8 path (GLiNER's DeBERTa-v2) runs in fp32. int8 asked for this
	 * model by name is refused; as the engine's default for every model it is noted below. */
	const bool int8_unused = s == SY_OK && opts.precision == LINEAR_INT8 && model->fp32_only;
	if (int8_unused && precision_explicit) {
		char arch[32];
		snprintf(arch, sizeof arch, "%s", model->arch);
		model_close(model);
		model = NULL;
		s = sy_error_set(&load_err, SY_ERR_INVALID_ARG,
		                 "quantize: int8: a %s model has no int8 path (its linear layers "
		                 "run in fp32 only); use quantize: none",
		                 arch);
	}
	uint64_t t1 = sy_now_ns();

	pthread_mutex_lock(&e->mu);
	e->used -= est;
	m->load_ms = (double)(t1 - t0) / 1e6;
	if (s != SY_OK)
		return load_fail(e, m, s, load_err.msg, err);
	size_t actual = model_bytes(model);
	if (actual == 0)
		actual = est;
	m->model = model;
	m->bytes = actual;
	e->used += actual;
	snprintf(m->arch, sizeof m->arch, "%s", model->arch);
	if (int8_unused) {
		m->precision = LINEAR_FP32; /* what it runs, for its info */
		sy_log(SY_LOG_WARN, "engine: %s: a %s model has no int8 path; it runs in fp32",
		       m->id, model->arch);
	}
	m->dims = model_dims(model);
	for (int k = 0; k < 3; k++)
		m->output_dims[k] = model_output_dims(model, (enum model_output)(1u << k));
	m->max_tokens = model_max_tokens(model);
	m->tasks = (model->encode ? ENGINE_TASK_ENCODE : 0u) |
	           (model->score ? ENGINE_TASK_SCORE : 0u) |
	           (model->extract ? ENGINE_TASK_EXTRACT : 0u);
	m->outputs = model_outputs(model);
	m->images = model->encode && model->encode->images;
	m->labels[0] = '\0';
	int n_labels = 0;
	const char *const *labels = model_labels(model, &n_labels);
	for (int i = 0, at = 0; labels && i < n_labels && at < (int)sizeof m->labels; i++)
		at += snprintf(m->labels + at, sizeof m->labels - (size_t)at, "%s%s", i ? "\n" : "",
		               labels[i]);
	m->state = ENGINE_MODEL_LOADED;
	m->last_used_ns = t1;
	m->n_loads++;
	pthread_cond_broadcast(&m->cv);
	sy_log(SY_LOG_INFO, "engine: loaded %s (%s, %d dims, %.1f MB) in %.0f ms", m->id, m->arch,
	       m->dims, (double)actual / MB, m->load_ms);
	if (e->used > budget) {
		/* The estimate was low: make up for it with other idle models. */
		evict_for(e, 0, m, &g);
		pthread_mutex_unlock(&e->mu);
		graveyard_close(&g);
		pthread_mutex_lock(&e->mu);
	}
	return SY_OK;
}

static void deadline_ts(uint64_t ns, struct timespec *ts)
{
	/* Condition variables wait on CLOCK_REALTIME by default: convert the monotonic deadline. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t mono = sy_now_ns();
	uint64_t left = ns > mono ? ns - mono : 0;
	uint64_t t = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec + left;
	ts->tv_sec = (time_t)(t / 1000000000ull);
	ts->tv_nsec = (long)(t % 1000000000ull);
}

/* Waits for a change of m (its state, a load's end) until deadline (0: none); mu held. */
static void wait_model(struct engine *e, struct engine_model *m, uint64_t deadline)
{
	if (!deadline) {
		pthread_cond_wait(&m->cv, &e->mu);
		return;
	}
	struct timespec ts;
	deadline_ts(deadline, &ts);
	pthread_cond_timedwait(&m->cv, &e->mu, &ts);
}

/* One load on its own thread. The request that started it may stop waiting (its deadline);
 * whoever lets go last frees it. */
struct load_run {
	struct engine *e;
	struct engine_model *m;
	enum sy_status status;
	struct sy_error err;
	bool done;
	int refs; /* e->mu: the thread and the request that started it */
};

static void load_run_release(struct load_run *r) /* mu held */
{
	if (--r->refs == 0)
		free(r);
}

static void *load_main(void *arg)
{
	struct load_run *r = arg;
	struct engine *e = r->e;
	pthread_mutex_lock(&e->mu);
	r->status = load_locked(e, r->m, &r->err);
	r->done = true;
	e->n_loaders--;
	pthread_cond_broadcast(&r->m->cv);
	pthread_cond_broadcast(&e->idle_cv);
	load_run_release(r);
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

void engine_loaders_join(struct engine *e)
{
	while (e->n_loaders > 0)
		pthread_cond_wait(&e->idle_cv, &e->mu);
}

/* Starts m's load on a thread and waits for it until deadline (0: no deadline); mu held. A
 * load that cannot get a thread runs here instead, as it did before. */
static enum sy_status load_and_wait(struct engine *e, struct engine_model *m, uint64_t deadline,
                                    struct sy_error *err)
{
	struct load_run *r = calloc(1, sizeof *r);
	pthread_t t;
	pthread_attr_t a;
	bool started = false;
	if (r) {
		*r = (struct load_run){.e = e, .m = m, .refs = 2};
		m->state = ENGINE_MODEL_LOADING; /* others wait for this load, not start one */
		e->n_loaders++;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&t, &a, load_main, r) == 0;
		pthread_attr_destroy(&a);
		if (!started) {
			e->n_loaders--;
			m->state = ENGINE_MODEL_AVAILABLE;
			free(r);
		}
	}
	if (!started)
		return load_locked(e, m, err);
	while (!r->done) {
		if (deadline && sy_now_ns() >= deadline) {
			load_run_release(r);
			return sy_error_set(err, SY_ERR_UNAVAILABLE,
			                    "model %s: still loading after %d ms", m->id,
			                    e->cfg.load_wait_ms);
		}
		wait_model(e, m, deadline);
	}
	enum sy_status s = r->status;
	if (s != SY_OK && err)
		*err = r->err;
	load_run_release(r);
	return s;
}

enum sy_status engine_model_ensure_loaded(struct engine *e, struct engine_model *m, int wait_ms,
                                          struct sy_error *err)
{
	const uint64_t deadline = wait_ms < 0 ? 0 : sy_now_ns() + (uint64_t)wait_ms * 1000000ull;
	for (;;) {
		switch (m->state) {
		case ENGINE_MODEL_LOADED: return SY_OK;
		case ENGINE_MODEL_LOADING: {
			if (deadline && sy_now_ns() >= deadline)
				return sy_error_set(err, SY_ERR_UNAVAILABLE,
				                    "model %s: still loading after %d ms", m->id,
				                    e->cfg.load_wait_ms);
			wait_model(e, m, deadline);
			continue;
		}
		case ENGINE_MODEL_FAILED: {
			uint64_t cool = (uint64_t)e->cfg.load_failure_cooldown_s * 1000000000ull;
			uint64_t since = sy_now_ns() - m->failed_ns;
			if (since < cool)
				return sy_error_set(
				    err, SY_ERR_LOAD_FAILED,
				    "%s (retried after a %d s cooldown; %.1f s left)", m->error,
				    e->cfg.load_failure_cooldown_s, (double)(cool - since) / 1e9);
			m->state = ENGINE_MODEL_AVAILABLE;
			continue;
		}
		case ENGINE_MODEL_AVAILABLE: {
			enum sy_status s = load_and_wait(e, m, deadline, err);
			if (s != SY_OK)
				return s;
			/* The mutex was released since: check the state again. */
			continue;
		}
		}
		return sy_error_set(err, SY_ERR_INTERNAL, "model %s: bad state", m->id);
	}
}

enum sy_status engine_model_load(struct engine *e, const char *id, struct sy_error *err)
{
	pthread_mutex_lock(&e->mu);
	struct engine_model *m = engine_model_find(e, id);
	enum sy_status s = SY_OK;
	if (e->draining)
		s = sy_error_set(err, SY_ERR_UNAVAILABLE, "the engine is shutting down");
	else if (!m)
		s = sy_error_set(err, SY_ERR_NOT_FOUND, "model %s: not in the catalogue", id);
	if (s != SY_OK) {
		pthread_mutex_unlock(&e->mu);
		return s;
	}
	/* An explicit load retries at once, whatever the cooldown. */
	if (m->state == ENGINE_MODEL_FAILED)
		m->state = ENGINE_MODEL_AVAILABLE;
	e->n_inside++;
	s = engine_model_ensure_loaded(e, m, -1, err); /* an explicit load waits for its end */
	if (s == SY_OK)
		m->last_used_ns = sy_now_ns();
	e->n_inside--;
	pthread_cond_broadcast(&e->idle_cv);
	pthread_mutex_unlock(&e->mu);
	return s;
}

enum sy_status engine_models_load_pinned(struct engine *e, struct sy_error *err)
{
	enum sy_status first = SY_OK;
	pthread_mutex_lock(&e->mu);
	for (int i = 0; i < e->n_models; i++) {
		struct engine_model *m = e->models[i];
		if (!m->pinned)
			continue;
		/* Entries are never removed and ids never change, so m->id stays valid. */
		pthread_mutex_unlock(&e->mu);
		struct sy_error one = {0};
		enum sy_status s = engine_model_load(e, m->id, &one);
		if (s != SY_OK && first == SY_OK) {
			first = s;
			if (err)
				*err = one;
		}
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return first;
}

enum sy_status engine_model_unload(struct engine *e, const char *id, struct sy_error *err)
{
	pthread_mutex_lock(&e->mu);
	struct engine_model *m = engine_model_find(e, id);
	if (!m) {
		pthread_mutex_unlock(&e->mu);
		return sy_error_set(err, SY_ERR_NOT_FOUND, "model %s: not in the catalogue", id);
	}
	const uint64_t deadline = sy_now_ns() + (uint64_t)e->cfg.load_wait_ms * 1000000ull;
	while (m->state == ENGINE_MODEL_LOADING ||
	       (m->state == ENGINE_MODEL_LOADED && !engine_model_idle(m))) {
		if (sy_now_ns() >= deadline) {
			pthread_mutex_unlock(&e->mu);
			return sy_error_set(err, SY_ERR_UNAVAILABLE,
			                    "model %s: still busy after %d ms", id,
			                    e->cfg.load_wait_ms);
		}
		struct timespec ts;
		deadline_ts(deadline, &ts);
		pthread_cond_timedwait(&m->cv, &e->mu, &ts);
	}
	struct model *model = NULL;
	if (m->state == ENGINE_MODEL_LOADED) {
		model = engine_model_detach(e, m);
		sy_log(SY_LOG_INFO, "engine: unloaded %s", m->id);
	}
	pthread_mutex_unlock(&e->mu);
	model_close(model);
	return SY_OK;
}

/* The reaper unloads models idle for idle_ttl_s, checking a few times per TTL. */
static void *reaper_main(void *arg)
{
	struct engine *e = arg;
	const uint64_t ttl = (uint64_t)e->cfg.idle_ttl_s * 1000000000ull;
	uint64_t period = ttl / 4;
	if (period < 50000000ull)
		period = 50000000ull;
	if (period > 1000000000ull)
		period = 1000000000ull;
	pthread_mutex_lock(&e->mu);
	while (!e->stopping) {
		struct graveyard g = {.n = 0};
		uint64_t now = sy_now_ns();
		for (int i = 0; i < e->n_models && g.n < (int)(sizeof g.v / sizeof *g.v); i++) {
			struct engine_model *m = e->models[i];
			if (m->pinned || !engine_model_idle(m) || now < m->last_used_ns ||
			    now - m->last_used_ns < ttl)
				continue;
			sy_log(SY_LOG_INFO, "engine: unloading %s, idle for %.1f s", m->id,
			       (double)(now - m->last_used_ns) / 1e9);
			g.v[g.n++] = engine_model_detach(e, m);
		}
		if (g.n) {
			pthread_mutex_unlock(&e->mu);
			graveyard_close(&g);
			pthread_mutex_lock(&e->mu);
			continue;
		}
		struct timespec ts;
		deadline_ts(sy_now_ns() + period, &ts);
		pthread_cond_timedwait(&e->reap_cv, &e->mu, &ts);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

enum sy_status engine_reaper_start(struct engine *e, struct sy_error *err)
{
	if (e->cfg.idle_ttl_s <= 0)
		return SY_OK;
	if (pthread_create(&e->reaper, NULL, reaper_main, e) != 0)
		return sy_error_set(err, SY_ERR_INTERNAL, "cannot start the idle reaper thread");
	e->has_reaper = true;
	return SY_OK;
}
