/* `switchyard serve` settings from YAML (libyaml's document loader) and shared value parsers
 * (see config.h). Every error names the file, the line and the key. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "base/file.h"
#include "base/log.h"

enum sy_status serve_config_init(struct serve_config *c, struct sy_error *err)
{
	memset(c, 0, sizeof *c);
	c->host = strdup("127.0.0.1");
	if (!c->host)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	c->port = 8080;
	c->engine = engine_default_config();
	c->limits = server_default_limits();
	return SY_OK;
}

void serve_config_free(struct serve_config *c)
{
	free(c->host);
	free(c->models_dir);
	free(c->api_key_file);
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

enum sy_status serve_config_parse_size(const char *s, struct sy_error *err, size_t *out)
{
	const char *p = s;
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "'%s': expected a byte count such as 512M or 2G", s);
	/* Digits with an optional fraction; strtod alone would also take exponents and hex. */
	const char *q = p;
	while (isdigit((unsigned char)*q))
		q++;
	if (*q == '.' && isdigit((unsigned char)q[1]))
		for (q++; isdigit((unsigned char)*q); q++)
			;
	if (*q == 'e' || *q == 'E' || *q == 'x' || *q == 'X')
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "'%s': expected a byte count such as 512M or 2G", s);
	errno = 0;
	char *end;
	double v = strtod(p, &end);
	if (errno || v < 0)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "'%s': not a valid size", s);
	double mul = 1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = 1024.0, end++; break;
	case 'M': mul = 1024.0 * 1024, end++; break;
	case 'G': mul = 1024.0 * 1024 * 1024, end++; break;
	case 'T': mul = 1024.0 * 1024 * 1024 * 1024, end++; break;
	default: break;
	}
	if (mul > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return sy_error_set(err, SY_ERR_INVALID_ARG,
		                    "'%s': unknown unit; use K, M, G or T (powers of 1024)", s);
	double bytes = v * mul;
	if (bytes > 9.0e18)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "'%s': too large", s);
	if (mul == 1 && v != (double)(size_t)v)
		return sy_error_set(err, SY_ERR_INVALID_ARG, "'%s': a byte count must be whole", s);
	*out = (size_t)bytes;
	return SY_OK;
}

/* ---- YAML ---- */

struct yaml_ctx {
	const char *name; /* file name for messages */
	yaml_document_t *doc;
	struct sy_error *err;
};

static int node_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static enum sy_status yaml_scalar(struct yaml_ctx *y, const yaml_node_t *n, const char *key,
                                  const char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return sy_error_set(y->err, SY_ERR_FORMAT, "%s: line %d: %s: expected a value",
		                    y->name, node_line(n), key);
	*out = (const char *)n->data.scalar.value;
	return SY_OK;
}

static enum sy_status yaml_string(struct yaml_ctx *y, const yaml_node_t *n, const char *key,
                                  char **out)
{
	const char *s = "";
	if (yaml_scalar(y, n, key, &s) != SY_OK)
		return SY_ERR_FORMAT;
	char *copy = strdup(s);
	if (!copy)
		return sy_error_set(y->err, SY_ERR_NOMEM, "out of memory");
	free(*out);
	*out = copy;
	return SY_OK;
}

static enum sy_status yaml_int(struct yaml_ctx *y, const yaml_node_t *n, const char *key, long min,
                               long max, int *out)
{
	const char *s = "";
	if (yaml_scalar(y, n, key, &s) != SY_OK)
		return SY_ERR_FORMAT;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return sy_error_set(y->err, SY_ERR_FORMAT,
		                    "%s: line %d: %s: expected an integer in [%ld, %ld], got '%s'",
		                    y->name, node_line(n), key, min, max, s);
	*out = (int)v;
	return SY_OK;
}

static enum sy_status yaml_size(struct yaml_ctx *y, const yaml_node_t *n, const char *key,
                                size_t *out)
{
	const char *s = "";
	if (yaml_scalar(y, n, key, &s) != SY_OK)
		return SY_ERR_FORMAT;
	if (serve_config_parse_size(s, y->err, out) != SY_OK) {
		sy_error_prefix(y->err, "%s: line %d: %s", y->name, node_line(n), key);
		return SY_ERR_FORMAT;
	}
	return SY_OK;
}

static enum sy_status yaml_bool(struct yaml_ctx *y, const yaml_node_t *n, const char *key,
                                bool *out)
{
	const char *s = "";
	if (yaml_scalar(y, n, key, &s) != SY_OK)
		return SY_ERR_FORMAT;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on")) {
		*out = true;
	} else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off")) {
		*out = false;
	} else {
		return sy_error_set(y->err, SY_ERR_FORMAT,
		                    "%s: line %d: %s: expected true or false, got '%s'", y->name,
		                    node_line(n), key, s);
	}
	return SY_OK;
}

/* quantize: int8 | none (fp32). */
static enum sy_status yaml_precision(struct yaml_ctx *y, const yaml_node_t *v, const char *key,
                                     enum linear_precision *out)
{
	char *s = NULL;
	enum sy_status st = yaml_string(y, v, key, &s);
	if (st == SY_OK && !linear_precision_parse(s, out))
		st = sy_error_set(y->err, SY_ERR_FORMAT,
		                  "%s: line %d: %s: \"%s\" is not a precision (use int8 or none)",
		                  y->name, node_line(v), key, s);
	free(s);
	return st;
}

static enum sy_status yaml_models(struct yaml_ctx *y, struct serve_config *c, const yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return sy_error_set(y->err, SY_ERR_FORMAT,
		                    "%s: line %d: models: expected a list of {id, path, pinned}",
		                    y->name, node_line(n));
	int idx = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++, idx++) {
		yaml_node_t *m = yaml_document_get_node(y->doc, *it);
		char key[64];
		if (!m || m->type != YAML_MAPPING_NODE)
			return sy_error_set(
			    y->err, SY_ERR_FORMAT,
			    "%s: line %d: models[%d]: expected a mapping with id and "
			    "path",
			    y->name, m ? node_line(m) : 0, idx);
		char *id = NULL, *path = NULL;
		bool pinned = false, prec_set = false;
		enum linear_precision prec = LINEAR_FP32;
		enum sy_status st = SY_OK;
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
		     st == SY_OK && p < m->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
			if (!k || !v || k->type != YAML_SCALAR_NODE) {
				st = sy_error_set(
				    y->err, SY_ERR_FORMAT,
				    "%s: line %d: models[%d]: keys must be plain words", y->name,
				    node_line(m), idx);
				break;
			}
			const char *kn = (const char *)k->data.scalar.value;
			snprintf(key, sizeof key, "models[%d].%s", idx, kn);
			if (!strcmp(kn, "id"))
				st = yaml_string(y, v, key, &id);
			else if (!strcmp(kn, "path"))
				st = yaml_string(y, v, key, &path);
			else if (!strcmp(kn, "pinned"))
				st = yaml_bool(y, v, key, &pinned);
			else if (!strcmp(kn, "quantize")) {
				st = yaml_precision(y, v, key, &prec);
				prec_set = true;
			} else
				sy_log(SY_LOG_WARN, "%s: line %d: %s: unknown key ignored", y->name,
				       node_line(k), key);
		}
		if (st == SY_OK && (!id || !id[0]))
			st = sy_error_set(y->err, SY_ERR_FORMAT,
			                  "%s: line %d: models[%d].id: missing", y->name,
			                  node_line(m), idx);
		if (st == SY_OK && (!path || !path[0]))
			st = sy_error_set(y->err, SY_ERR_FORMAT,
			                  "%s: line %d: models[%d].path: missing", y->name,
			                  node_line(m), idx);
		if (st == SY_OK)
			st = serve_config_model_set(c, id, path, pinned, y->err);
		if (st == SY_OK && prec_set)
			for (int i = 0; i < c->n_models; i++)
				if (!strcmp(c->models[i].id, id)) {
					c->models[i].precision = prec;
					c->models[i].precision_set = true;
				}
		free(id);
		free(path);
		if (st != SY_OK)
			return st;
	}
	return SY_OK;
}

static enum sy_status yaml_top_key(struct yaml_ctx *y, struct serve_config *c, const char *key,
                                   const yaml_node_t *v)
{
	struct engine_config *e = &c->engine;
	const long big = 1L << 30;
	if (!strcmp(key, "host"))
		return yaml_string(y, v, key, &c->host);
	if (!strcmp(key, "port"))
		return yaml_int(y, v, key, 0, 65535, &c->port);
	if (!strcmp(key, "models_dir"))
		return yaml_string(y, v, key, &c->models_dir);
	if (!strcmp(key, "api_key_file"))
		return yaml_string(y, v, key, &c->api_key_file);
	if (!strcmp(key, "memory_budget"))
		return yaml_size(y, v, key, &e->memory_budget);
	if (!strcmp(key, "threads"))
		return yaml_int(y, v, key, 0, 1024, &e->n_threads);
	if (!strcmp(key, "workers"))
		return yaml_int(y, v, key, 0, 1024, &e->n_workers);
	if (!strcmp(key, "max_batch_tokens"))
		return yaml_int(y, v, key, 1, big, &e->max_batch_tokens);
	if (!strcmp(key, "max_batch_items"))
		return yaml_int(y, v, key, 1, big, &e->max_batch_items);
	if (!strcmp(key, "quantize"))
		return yaml_precision(y, v, key, &e->precision);
	if (!strcmp(key, "max_wait_ms"))
		return yaml_int(y, v, key, 0, 60000, &e->max_wait_ms);
	if (!strcmp(key, "max_queue_items"))
		return yaml_int(y, v, key, 1, big, &e->max_queue_items);
	if (!strcmp(key, "idle_ttl_s"))
		return yaml_int(y, v, key, 0, big, &e->idle_ttl_s);
	if (!strcmp(key, "load_wait_ms"))
		return yaml_int(y, v, key, 0, big, &e->load_wait_ms);
	if (!strcmp(key, "load_failure_cooldown_s"))
		return yaml_int(y, v, key, 0, big, &e->load_failure_cooldown_s);
	if (!strcmp(key, "builtin_models"))
		return yaml_bool(y, v, key, &e->builtin_models);
	if (!strcmp(key, "max_body_bytes"))
		return yaml_size(y, v, key, &c->limits.max_body_bytes);
	if (!strcmp(key, "max_items"))
		return yaml_int(y, v, key, 1, big, &c->limits.max_items);
	if (!strcmp(key, "max_chars"))
		return yaml_int(y, v, key, 1, big, &c->limits.max_chars);
	if (!strcmp(key, "max_connections"))
		return yaml_int(y, v, key, 1, 65536, &c->max_connections);
	if (!strcmp(key, "idle_timeout_s"))
		return yaml_int(y, v, key, 1, 86400, &c->idle_timeout_s);
	if (!strcmp(key, "models"))
		return yaml_models(y, c, v);
	/* Sections that belong to other layers sharing the file (DESIGN.md section 6). */
	static const char *const others[] = {"router",  "routes", "tasks", "upstreams",
	                                     "gateway", "worker", "nats"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		if (!strcmp(key, others[i]))
			return SY_OK;
	sy_log(SY_LOG_WARN, "%s: line %d: unknown key '%s' ignored", y->name, node_line(v), key);
	return SY_OK;
}

enum sy_status serve_config_load_text(struct serve_config *c, const char *name, const char *text,
                                      size_t len, struct sy_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		enum sy_status st = sy_error_set(
		    err, SY_ERR_FORMAT, "%s: line %zu: %s%s%s", name, parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "invalid YAML", parser.context ? " " : "",
		    parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return st;
	}
	struct yaml_ctx y = {.name = name, .doc = &doc, .err = err};
	enum sy_status st = SY_OK;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) {
		root = NULL; /* an empty scalar document: nothing to set */
	}
	if (root && root->type != YAML_MAPPING_NODE) {
		st = sy_error_set(err, SY_ERR_FORMAT,
		                  "%s: line %d: expected a mapping of settings at the top", name,
		                  node_line(root));
		root = NULL;
	}
	for (yaml_node_pair_t *p = root ? root->data.mapping.pairs.start : NULL;
	     root && st == SY_OK && p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);
		if (!k || !v || k->type != YAML_SCALAR_NODE) {
			st = sy_error_set(err, SY_ERR_FORMAT,
			                  "%s: line %d: keys must be plain words", name,
			                  k ? node_line(k) : 0);
			break;
		}
		char key[64];
		snprintf(key, sizeof key, "%s", (const char *)k->data.scalar.value);
		for (char *q = key; *q; q++)
			if (*q == '-')
				*q = '_';
		st = yaml_top_key(&y, c, key, v);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
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
