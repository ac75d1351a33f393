/* `switchyard serve` settings from YAML, read through the shared reader in base/yaml.h (see
 * config.h). Every error names the file, the line and the key. */
#include "server/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "base/yaml.h"

enum sy_status serve_config_init(struct serve_config *c, struct sy_error *err)
{
	memset(c, 0, sizeof *c);
	c->host = strdup("127.0.0.1");
	if (!c->host)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	c->port = 8080;
	c->metrics_port = -1;
	c->engine = engine_default_config();
	c->limits = server_default_limits();
	return SY_OK;
}

void serve_config_free(struct serve_config *c)
{
	free(c->host);
	free(c->models_dir);
	free(c->api_key_file);
	free(c->tei_model);
	for (int i = 0; i < c->n_models; i++) {
		free(c->models[i].id);
		free(c->models[i].path);
	}
	free(c->models);
	memset(c, 0, sizeof *c);
}

enum sy_status serve_config_model_set(struct serve_config *c, const char *id, const char *path,
                                      bool pinned, struct sy_error *err)
{
	if (!id[0])
		return sy_error_set(err, SY_ERR_INVALID_ARG, "model id is empty");
	if (!path[0])
		return sy_error_set(err, SY_ERR_INVALID_ARG, "model %s: path is empty", id);
	char *p = strdup(path);
	if (!p)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	for (int i = 0; i < c->n_models; i++) {
		if (!strcmp(c->models[i].id, id)) {
			free(c->models[i].path);
			c->models[i].path = p;
			c->models[i].pinned = pinned;
			return SY_OK;
		}
	}
	struct serve_model *v = realloc(c->models, (size_t)(c->n_models + 1) * sizeof *v);
	char *i2 = strdup(id);
	if (!v || !i2) {
		free(p);
		free(i2);
		if (v)
			c->models = v;
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	c->models = v;
	c->models[c->n_models++] = (struct serve_model){.id = i2, .path = p, .pinned = pinned};
	return SY_OK;
}

/* ---- YAML ---- */

/* quantize: int8 | none (fp32). */
static enum sy_status get_precision(const struct yaml_doc *d, const struct yaml_value *v,
                                    const char *key, struct sy_error *err,
                                    enum linear_precision *out)
{
	const char *s = "";
	enum sy_status st = yaml_get_str(d, v, key, err, &s);
	if (st == SY_OK && !linear_precision_parse(s, out))
		st = yaml_error(d, v, err, "%s: \"%s\" is not a precision (use int8 or none)", key,
		                s);
	return st;
}

/* One entry of `models:`, {id, path, pinned?, quantize?}, added to c. */
static enum sy_status read_model(const struct yaml_doc *d, struct serve_config *c,
                                 const struct yaml_value *m, int idx, struct sy_error *err)
{
	if (!yaml_is_mapping(m))
		return yaml_error(d, m, err, "models[%d]: expected a mapping with id and path",
		                  idx);
	const char *id = NULL, *path = NULL;
	bool pinned = false, prec_set = false;
	int dense_dims = 0;
	enum linear_precision prec = LINEAR_FP32;
	enum sy_status st = SY_OK;
	for (int i = 0; st == SY_OK && i < yaml_count(m); i++) {
		const struct yaml_value *k = yaml_map_key(m, i), *v = yaml_map_value(m, i);
		const char *kn = yaml_scalar(k);
		char key[64];
		snprintf(key, sizeof key, "models[%d].%s", idx, kn);
		if (!strcmp(kn, "id"))
			st = yaml_get_str(d, v, key, err, &id);
		else if (!strcmp(kn, "path"))
			st = yaml_get_str(d, v, key, err, &path);
		else if (!strcmp(kn, "pinned"))
			st = yaml_get_bool(d, v, key, err, &pinned);
		else if (!strcmp(kn, "dense_dims"))
			st = yaml_get_int(d, v, key, 1, 1 << 20, err, &dense_dims);
		else if (!strcmp(kn, "quantize")) {
			st = get_precision(d, v, key, err, &prec);
			prec_set = true;
		} else {
			/* A misspelt option must not pass for its default (quantise: int8). */
			static const char *const known[] = {"id",       "path",       "pinned",
			                                    "quantize", "dense_dims", NULL};
			st = yaml_unknown_key(d, k, key, "a models entry setting", known, err);
		}
	}
	if (st == SY_OK && (!id || !id[0]))
		st = yaml_error(d, m, err, "models[%d].id: missing", idx);
	if (st == SY_OK && (!path || !path[0]))
		st = yaml_error(d, m, err, "models[%d].path: missing", idx);
	if (st == SY_OK)
		st = serve_config_model_set(c, id, path, pinned, err);
	for (int i = 0; st == SY_OK && i < c->n_models; i++)
		if (!strcmp(c->models[i].id, id)) {
			c->models[i].precision = prec_set ? prec : c->models[i].precision;
			c->models[i].precision_set |= prec_set;
			c->models[i].dense_dims = dense_dims;
		}
	return st;
}

static enum sy_status read_models(const struct yaml_doc *d, struct serve_config *c,
                                  const struct yaml_value *n, struct sy_error *err)
{
	if (!yaml_is_sequence(n))
		return yaml_error(d, n, err, "models: expected a list of {id, path, pinned}");
	for (int i = 0; i < yaml_count(n); i++) {
		enum sy_status st = read_model(d, c, yaml_seq_item(n, i), i, err);
		if (st != SY_OK)
			return st;
	}
	return SY_OK;
}

static enum sy_status read_top_key(const struct yaml_doc *d, struct serve_config *c,
                                   const char *key, const struct yaml_value *v,
                                   struct sy_error *err)
{
	struct engine_config *e = &c->engine;
	const long big = 1L << 30;
	if (!strcmp(key, "host"))
		return yaml_get_strdup(d, v, key, err, &c->host);
	if (!strcmp(key, "port"))
		return yaml_get_int(d, v, key, 0, 65535, err, &c->port);
	if (!strcmp(key, "models_dir"))
		return yaml_get_strdup(d, v, key, err, &c->models_dir);
	if (!strcmp(key, "api_key_file"))
		return yaml_get_strdup(d, v, key, err, &c->api_key_file);
	if (!strcmp(key, "tei_model"))
		return yaml_get_strdup(d, v, key, err, &c->tei_model);
	if (!strcmp(key, "memory_budget"))
		return yaml_get_size(d, v, key, err, &e->memory_budget);
	if (!strcmp(key, "threads"))
		return yaml_get_int(d, v, key, 0, 1024, err, &e->n_threads);
	if (!strcmp(key, "workers"))
		return yaml_get_int(d, v, key, 0, 1024, err, &e->n_workers);
	if (!strcmp(key, "max_batch_tokens"))
		return yaml_get_int(d, v, key, 1, big, err, &e->max_batch_tokens);
	if (!strcmp(key, "max_batch_items"))
		return yaml_get_int(d, v, key, 1, big, err, &e->max_batch_items);
	if (!strcmp(key, "quantize"))
		return get_precision(d, v, key, err, &e->precision);
	if (!strcmp(key, "max_wait_ms"))
		return yaml_get_int(d, v, key, 0, 60000, err, &e->max_wait_ms);
	if (!strcmp(key, "max_queue_items"))
		return yaml_get_int(d, v, key, 1, big, err, &e->max_queue_items);
	if (!strcmp(key, "idle_ttl_s"))
		return yaml_get_int(d, v, key, 0, big, err, &e->idle_ttl_s);
	if (!strcmp(key, "load_wait_ms"))
		return yaml_get_int(d, v, key, 0, big, err, &e->load_wait_ms);
	if (!strcmp(key, "load_failure_cooldown_s"))
		return yaml_get_int(d, v, key, 0, big, err, &e->load_failure_cooldown_s);
	if (!strcmp(key, "builtin_models"))
		return yaml_get_bool(d, v, key, err, &e->builtin_models);
	if (!strcmp(key, "max_body_bytes"))
		return yaml_get_size(d, v, key, err, &c->limits.max_body_bytes);
	if (!strcmp(key, "max_inflight_body_bytes"))
		return yaml_get_size(d, v, key, err, &c->limits.max_inflight_body_bytes);
	if (!strcmp(key, "max_items"))
		return yaml_get_int(d, v, key, 1, big, err, &c->limits.max_items);
	if (!strcmp(key, "max_chars"))
		return yaml_get_int(d, v, key, 1, big, err, &c->limits.max_chars);
	if (!strcmp(key, "max_prefix_chars"))
		return yaml_get_int(d, v, key, 1, big, err, &c->limits.max_prefix_chars);
	if (!strcmp(key, "max_request_tokens")) {
		int t = (int)e->max_request_tokens;
		enum sy_status s = yaml_get_int(d, v, key, 1, big, err, &t);
		e->max_request_tokens = t;
		return s;
	}
	if (!strcmp(key, "max_connections"))
		return yaml_get_int(d, v, key, 1, 65536, err, &c->max_connections);
	if (!strcmp(key, "idle_timeout_s"))
		return yaml_get_int(d, v, key, 1, 86400, err, &c->idle_timeout_s);
	if (!strcmp(key, "public_metrics"))
		return yaml_get_bool(d, v, key, err, &c->public_metrics);
	if (!strcmp(key, "public_status"))
		return yaml_get_bool(d, v, key, err, &c->public_status);
	if (!strcmp(key, "metrics_port"))
		return yaml_get_int(d, v, key, 0, 65535, err, &c->metrics_port);
	if (!strcmp(key, "models"))
		return read_models(d, c, v, err);
	/* Sections that belong to other layers sharing the file (DESIGN.md section 6). */
	static const char *const others[] = {"router",  "routes", "tasks", "upstreams",
	                                     "gateway", "worker", "nats"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		if (!strcmp(key, others[i]))
			return SY_OK;
	/* A misspelt option must not pass for its default. */
	return yaml_error(d, v, err, "%s: unknown key", key);
}

enum sy_status serve_config_load_text(struct serve_config *c, const char *name, const char *text,
                                      size_t len, struct sy_error *err)
{
	struct yaml_doc *d;
	enum sy_status st = yaml_doc_load_text(name, text, len, err, &d);
	if (st != SY_OK)
		return st;
	const struct yaml_value *root = d->root;
	if (yaml_scalar(root) && !yaml_scalar(root)[0])
		root = NULL; /* an empty scalar document: nothing to set */
	if (root && !yaml_is_mapping(root))
		st = yaml_error(d, root, err, "expected a mapping of settings at the top");
	for (int i = 0; st == SY_OK && i < yaml_count(root); i++) {
		/* Keys are the flag names: '-' and '_' are interchangeable. */
		char key[64];
		snprintf(key, sizeof key, "%s", yaml_scalar(yaml_map_key(root, i)));
		for (char *q = key; *q; q++)
			if (*q == '-')
				*q = '_';
		st = read_top_key(d, c, key, yaml_map_value(root, i), err);
	}
	yaml_doc_free(d);
	return st;
}

enum sy_status serve_config_load_file(struct serve_config *c, const char *path,
                                      struct sy_error *err)
{
	char *text = NULL;
	size_t len = 0;
	enum sy_status st = sy_file_read(path, err, &text, &len);
	if (st != SY_OK)
		return st;
	st = serve_config_load_text(c, path, text, len, err);
	free(text);
	return st;
}
