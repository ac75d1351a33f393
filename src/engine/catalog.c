/* The model catalogue: ids mapped to model directories, in the order they were added, with
 * what the engine knows about each (state, bytes, counters). Entries are never removed, so a
 * struct engine_model pointer stays valid for the engine's lifetime; replacing a path is only
 * allowed while the model is not loaded. Lookups are linear: a catalogue holds tens of models,
 * and the scan is cheap next to any request. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/file.h"
#include "engine/engine_internal.h"
#include "model/registry.h"

const char *engine_model_state_str(enum engine_model_state s)
{
	switch (s) {
	case ENGINE_MODEL_AVAILABLE: return "available";
	case ENGINE_MODEL_LOADING: return "loading";
	case ENGINE_MODEL_LOADED: return "loaded";
	case ENGINE_MODEL_FAILED: return "failed";
	}
	return "unknown";
}

struct engine_model *engine_model_find(struct engine *e, const char *id)
{
	for (int i = 0; i < e->n_models; i++)
		if (!strcmp(e->models[i]->id, id))
			return e->models[i];
	return NULL;
}

void engine_model_free(struct engine_model *m)
{
	if (!m)
		return;
	model_close(m->model);
	pthread_cond_destroy(&m->cv);
	free(m->id);
	free(m->path);
	free(m);
}

static char *str_dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* The id must be usable in a URL path and a metrics label: printable ASCII without spaces,
 * quotes or backslashes, '/' allowed (Hugging Face names such as BAAI/bge-small-en-v1.5). */
static bool id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= sizeof((struct engine_model_info *)0)->id)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= ' ' || c >= 127 || c == '"' || c == '\\' || c == '?' || c == '#')
			return false;
	}
	return id[0] != '/' && id[n - 1] != '/';
}

enum sy_status engine_model_add(struct engine *e, const char *id, const char *path, bool pinned,
                                struct sy_error *err)
{
	if (!id || !path || !id_valid(id))
		return sy_error_set(
		    err, SY_ERR_INVALID_ARG,
		    "model id \"%s\": use 1-255 printable characters without spaces, "
		    "quotes, '?', '#' or '\\', not starting or ending with '/'",
		    id ? id : "(null)");
	if (strlen(path) >= sizeof((struct engine_model_info *)0)->path)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "model %s: path too long", id);
	char *path_copy = str_dup(path);
	if (!path_copy)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	/* Read before the lock: whether the directory is an image model, for the catalogue. */
	const char *family = sy_path_is_dir(path) ? model_family_of(path) : NULL;
	const bool images = family && !strcmp(family, "clip");
	pthread_mutex_lock(&e->mu);
	struct engine_model *m = engine_model_find(e, id);
	if (m) {
		enum sy_status s = SY_OK;
		if (m->state == ENGINE_MODEL_LOADED || m->state == ENGINE_MODEL_LOADING) {
			s = sy_error_set(err, SY_ERR_INVALID_ARG,
			                 "model %s: already in the catalogue and %s", id,
			                 engine_model_state_str(m->state));
			free(path_copy);
		} else {
			free(m->path);
			m->path = path_copy;
			m->pinned = pinned;
			m->state = ENGINE_MODEL_AVAILABLE;
			m->error[0] = '\0';
			m->arch[0] = '\0';
			m->dims = 0;
			memset(m->output_dims, 0, sizeof m->output_dims);
			m->tasks = m->outputs = 0;
			m->images = images;
			m->bytes = 0;
		}
		pthread_mutex_unlock(&e->mu);
		return s;
	}
	if (e->n_models == e->cap_models) {
		int cap = e->cap_models ? 2 * e->cap_models : 16;
		struct engine_model **v = realloc(e->models, (size_t)cap * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&e->mu);
			free(path_copy);
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		}
		e->models = v;
		e->cap_models = cap;
	}
	m = calloc(1, sizeof *m);
	if (m)
		m->id = str_dup(id);
	if (!m || !m->id) {
		if (m)
			free(m);
		pthread_mutex_unlock(&e->mu);
		free(path_copy);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	m->path = path_copy;
	m->pinned = pinned;
	m->images = images;
	m->precision = e->cfg.precision;
	m->opts = model_default_options();
	m->state = ENGINE_MODEL_AVAILABLE;
	pthread_cond_init(&m->cv, NULL);
	e->models[e->n_models++] = m;
	pthread_mutex_unlock(&e->mu);
	return SY_OK;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

enum sy_status engine_model_token(struct engine *e, const char *model, int id, char *buf,
                                  size_t cap)
{
	pthread_mutex_lock(&e->mu);
	struct engine_model *m = engine_model_find(e, model);
	const char *t = m && m->state == ENGINE_MODEL_LOADED ? model_token(m->model, id) : NULL;
	if (t)
		snprintf(buf, cap, "%s", t);
	pthread_mutex_unlock(&e->mu);
	return t ? SY_OK : SY_ERR_NOT_FOUND;
}

/* The model id whose load settings may change now (known and not loaded) in *out; mu held.
 * what names the setting for the message. */
static enum sy_status settable(struct engine *e, const char *id, const char *what,
                               struct sy_error *err, struct engine_model **out)
{
	struct engine_model *m = *out = engine_model_find(e, id);
	if (!m)
		return sy_error_set(err, SY_ERR_NOT_FOUND, "model %s is not in the catalogue", id);
	if (m->state == ENGINE_MODEL_LOADED || m->state == ENGINE_MODEL_LOADING)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "model %s is loaded: unload it before changing its %s", id,
		                    what);
	return SY_OK;
}

enum sy_status engine_model_set_precision(struct engine *e, const char *id, enum linear_precision p,
                                          struct sy_error *err)
{
	pthread_mutex_lock(&e->mu);
	struct engine_model *m;
	enum sy_status s = settable(e, id, "precision", err, &m);
	if (s == SY_OK) {
		m->precision = p;
		m->precision_explicit = true;
	}
	pthread_mutex_unlock(&e->mu);
	return s;
}

enum sy_status engine_model_set_options(struct engine *e, const char *id,
                                        const struct model_options *o, struct sy_error *err)
{
	pthread_mutex_lock(&e->mu);
	struct engine_model *m;
	enum sy_status s = settable(e, id, "options", err, &m);
	if (s == SY_OK)
		m->opts = *o;
	pthread_mutex_unlock(&e->mu);
	return s;
}

enum sy_status engine_models_dir_add(struct engine *e, const char *dir, struct sy_error *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return sy_error_set(err, SY_ERR_IO, "models dir %s: %s", dir, strerror(errno));
	/* Sorted, so the catalogue order does not depend on the file system. */
	char **names = NULL;
	int n = 0, cap = 0;
	enum sy_status s = SY_OK;
	struct dirent *ent;
	while (s == SY_OK && (ent = readdir(d))) {
		if (ent->d_name[0] == '.')
			continue;
		char *p = sy_path_join(dir, ent->d_name);
		bool is_dir = p && sy_path_is_dir(p);
		free(p);
		if (!is_dir)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **v = realloc(names, (size_t)cap * sizeof *v);
			if (!v) {
				s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
				break;
			}
			names = v;
		}
		names[n] = str_dup(ent->d_name);
		if (!names[n])
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		else
			n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, (size_t)n, sizeof *names, name_cmp);
	for (int i = 0; i < n; i++) {
		if (s == SY_OK) {
			char *p = sy_path_join(dir, names[i]);
			s = p ? engine_model_add(e, names[i], p, false, err)
			      : sy_error_set(err, SY_ERR_NOMEM, "out of memory");
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return s;
}

void engine_model_info_fill(const struct engine_model *m, uint64_t now_ns,
                            struct engine_model_info *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->id, sizeof out->id, "%s", m->id);
	snprintf(out->path, sizeof out->path, "%s", m->path);
	snprintf(out->arch, sizeof out->arch, "%s", m->arch);
	out->state = m->state;
	out->pinned = m->pinned;
	out->precision = m->precision;
	out->bytes = m->bytes;
	out->dims = m->dims;
	memcpy(out->output_dims, m->output_dims, sizeof out->output_dims);
	out->max_tokens = m->max_tokens;
	out->tasks = m->tasks;
	out->outputs = m->outputs;
	out->images = m->images;
	snprintf(out->labels, sizeof out->labels, "%s", m->labels);
	if (m->state == ENGINE_MODEL_FAILED)
		snprintf(out->error, sizeof out->error, "%s", m->error);
	out->idle_s = !m->last_used_ns           ? -1
	              : now_ns > m->last_used_ns ? (double)(now_ns - m->last_used_ns) / 1e9
	                                         : 0;
	if (m->running || m->n_admitted > 0)
		out->idle_s = 0;
	out->queue_items = m->queue_items;
	out->n_requests = m->n_requests;
	out->n_items = m->n_items;
	out->n_tokens = m->n_tokens;
	out->n_batches = m->n_batches;
	out->n_errors = m->n_errors;
	out->n_loads = m->n_loads;
	out->n_evictions = m->n_evictions;
	out->n_load_failures = m->n_load_failures;
	out->n_cancelled_items = m->n_cancelled_items;
	out->load_ms = m->load_ms;
}

int engine_models_list(struct engine *e, struct engine_model_info *out, int cap)
{
	pthread_mutex_lock(&e->mu);
	uint64_t now = sy_now_ns();
	int n = e->n_models;
	for (int i = 0; i < n && i < cap; i++)
		engine_model_info_fill(e->models[i], now, &out[i]);
	pthread_mutex_unlock(&e->mu);
	return n;
}

enum sy_status engine_model_get(struct engine *e, const char *id, struct sy_error *err,
                                struct engine_model_info *out)
{
	pthread_mutex_lock(&e->mu);
	struct engine_model *m = engine_model_find(e, id);
	if (m)
		engine_model_info_fill(m, sy_now_ns(), out);
	pthread_mutex_unlock(&e->mu);
	if (!m)
		return sy_error_set(err, SY_ERR_NOT_FOUND, "model %s: not in the catalogue", id);
	return SY_OK;
}
