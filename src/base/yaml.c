/* The YAML reader (see yaml.h). The tree is built from libyaml's event stream rather than its
 * document loader because the loader resolves aliases silently (a node shared by reference),
 * which both hides where an alias was written and invites walks that expand it; with events an
 * alias is seen, with its line, and refused. The builder keeps an explicit stack of open lists
 * and mappings, so nesting costs no C stack beyond YAML_MAX_DEPTH frames when freeing. */
#include "base/yaml.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "base/file.h"
#include "base/size.h"

static void value_free(struct yaml_value *v)
{
	if (!v)
		return;
	int n = v->kind == YAML_KIND_MAPPING ? 2 * v->n : v->n;
	for (int i = 0; i < n; i++)
		value_free(v->items[i]);
	free(v->items);
	free(v->str);
	free(v);
}

void yaml_doc_free(struct yaml_doc *d)
{
	if (!d)
		return;
	value_free(d->root);
	free(d->name);
	free(d);
}

/* ---- building ---- */

struct builder {
	struct yaml_doc *doc;
	struct yaml_value *open[YAML_MAX_DEPTH]; /* lists and mappings not yet closed */
	int filled[YAML_MAX_DEPTH]; /* slots used in each (a mapping uses two a pair) */
	int depth;
	struct sy_error *err;
};

/* Adds v under the innermost open list or mapping (or as the root); takes ownership of v. */
static enum sy_status attach(struct builder *b, struct yaml_value *v)
{
	if (b->depth == 0) {
		b->doc->root = v;
		return SY_OK;
	}
	struct yaml_value *p = b->open[b->depth - 1];
	/* A mapping's slots fill key, value, key, value: an even count means v is a key. */
	int filled = b->filled[b->depth - 1];
	if (p->kind == YAML_KIND_MAPPING && filled % 2 == 0 && v->kind != YAML_KIND_SCALAR) {
		enum sy_status s =
		    yaml_error(b->doc, v, b->err, "a mapping key must be a plain value, not %s",
		               yaml_kind_name(v));
		value_free(v);
		return s;
	}
	if (filled + 1 > p->cap) {
		int cap = p->cap ? 2 * p->cap : 4;
		struct yaml_value **items = realloc(p->items, (size_t)cap * sizeof *items);
		if (!items) {
			value_free(v);
			return sy_error_set(b->err, SY_ERR_NOMEM, "out of memory");
		}
		p->items = items;
		p->cap = cap;
	}
	p->items[filled] = v;
	b->filled[b->depth - 1]++;
	if (p->kind != YAML_KIND_MAPPING || filled % 2 == 1)
		p->n++;
	return SY_OK;
}

static struct yaml_value *value_new(enum yaml_kind kind, const yaml_event_t *e)
{
	struct yaml_value *v = calloc(1, sizeof *v);
	if (v) {
		v->kind = kind;
		v->line = (int)e->start_mark.line + 1;
	}
	return v;
}

/* Handles one event; *done is set at the end of the first document. */
static enum sy_status on_event(struct builder *b, const yaml_event_t *e, bool *done)
{
	struct yaml_value *v;
	switch (e->type) {
	case YAML_DOCUMENT_END_EVENT:
	case YAML_STREAM_END_EVENT: *done = true; return SY_OK;
	case YAML_ALIAS_EVENT:
		return sy_error_set(b->err, SY_ERR_FORMAT,
		                    "%s: line %d: aliases (*%s) are not supported; write the value "
		                    "out instead",
		                    b->doc->name, (int)e->start_mark.line + 1,
		                    e->data.alias.anchor ? (const char *)e->data.alias.anchor : "");
	case YAML_SCALAR_EVENT:
		v = value_new(YAML_KIND_SCALAR, e);
		if (!v || !(v->str = malloc(e->data.scalar.length + 1))) {
			free(v);
			return sy_error_set(b->err, SY_ERR_NOMEM, "out of memory");
		}
		memcpy(v->str, e->data.scalar.value, e->data.scalar.length);
		v->str[e->data.scalar.length] = '\0';
		v->quoted = e->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		            e->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		return attach(b, v);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		if (b->depth == YAML_MAX_DEPTH)
			return sy_error_set(
			    b->err, SY_ERR_FORMAT, "%s: line %d: nested deeper than %d levels",
			    b->doc->name, (int)e->start_mark.line + 1, YAML_MAX_DEPTH);
		v = value_new(e->type == YAML_MAPPING_START_EVENT ? YAML_KIND_MAPPING
		                                                  : YAML_KIND_SEQUENCE,
		              e);
		if (!v)
			return sy_error_set(b->err, SY_ERR_NOMEM, "out of memory");
		enum sy_status s = attach(b, v);
		if (s == SY_OK) {
			b->filled[b->depth] = 0;
			b->open[b->depth++] = v;
		}
		return s;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth > 0)
			b->depth--;
		return SY_OK;
	default: return SY_OK; /* stream and document starts, no-op events */
	}
}

enum sy_status yaml_doc_load_text(const char *name, const char *text, size_t len,
                                  struct sy_error *err, struct yaml_doc **out)
{
	*out = NULL;
	struct yaml_doc *d = calloc(1, sizeof *d);
	if (!d || !(d->name = strdup(name))) {
		free(d);
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		yaml_doc_free(d);
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", name);
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	struct builder b = {.doc = d, .err = err};
	enum sy_status s = SY_OK;
	for (bool done = false; s == SY_OK && !done;) {
		yaml_event_t e;
		if (!yaml_parser_parse(&parser, &e)) {
			s = sy_error_set(
			    err, parser.error == YAML_MEMORY_ERROR ? SY_ERR_NOMEM : SY_ERR_FORMAT,
			    "%s: line %zu: %s%s%s", name, parser.problem_mark.line + 1,
			    parser.problem ? parser.problem : "invalid YAML",
			    parser.context ? " " : "", parser.context ? parser.context : "");
			break;
		}
		s = on_event(&b, &e, &done);
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&parser);
	if (s != SY_OK) {
		/* A key still waiting for its value is not yet counted in its mapping's n. */
		for (int i = 0; i < b.depth; i++)
			if (b.open[i]->kind == YAML_KIND_MAPPING && b.filled[i] % 2)
				value_free(b.open[i]->items[b.filled[i] - 1]);
		yaml_doc_free(d);
		return s;
	}
	*out = d;
	return SY_OK;
}

enum sy_status yaml_doc_load_file(const char *path, struct sy_error *err, struct yaml_doc **out)
{
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	enum sy_status s = sy_file_read(path, err, &text, &len);
	if (s == SY_OK)
		s = yaml_doc_load_text(path, text, len, err, out);
	free(text);
	return s;
}

/* ---- walking ---- */

int yaml_count(const struct yaml_value *v)
{
	return v && v->kind != YAML_KIND_SCALAR ? v->n : 0;
}

bool yaml_is_mapping(const struct yaml_value *v)
{
	return v && v->kind == YAML_KIND_MAPPING;
}

bool yaml_is_sequence(const struct yaml_value *v)
{
	return v && v->kind == YAML_KIND_SEQUENCE;
}

const char *yaml_scalar(const struct yaml_value *v)
{
	return v && v->kind == YAML_KIND_SCALAR ? v->str : NULL;
}

const struct yaml_value *yaml_seq_item(const struct yaml_value *seq, int i)
{
	return yaml_is_sequence(seq) && i >= 0 && i < seq->n ? seq->items[i] : NULL;
}

const struct yaml_value *yaml_map_key(const struct yaml_value *map, int i)
{
	return yaml_is_mapping(map) && i >= 0 && i < map->n ? map->items[2 * i] : NULL;
}

const struct yaml_value *yaml_map_value(const struct yaml_value *map, int i)
{
	return yaml_is_mapping(map) && i >= 0 && i < map->n ? map->items[2 * i + 1] : NULL;
}

const struct yaml_value *yaml_lookup(const struct yaml_value *map, const char *key)
{
	for (int i = yaml_count(map) - 1; yaml_is_mapping(map) && i >= 0; i--)
		if (!strcmp(map->items[2 * i]->str, key))
			return map->items[2 * i + 1];
	return NULL;
}

const char *yaml_kind_name(const struct yaml_value *v)
{
	if (!v)
		return "nothing";
	switch (v->kind) {
	case YAML_KIND_SCALAR: return "a value";
	case YAML_KIND_SEQUENCE: return "a list";
	case YAML_KIND_MAPPING: return "a mapping";
	}
	return "?";
}

/* ---- messages ---- */

enum sy_status yaml_error(const struct yaml_doc *d, const struct yaml_value *at,
                          struct sy_error *err, const char *fmt, ...)
{
	char msg[SY_ERROR_MSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return sy_error_set(err, SY_ERR_FORMAT, "%s: line %d: %s", d->name, at ? at->line : 0, msg);
}

enum sy_status yaml_unknown_key(const struct yaml_doc *d, const struct yaml_value *at,
                                const char *key, const char *what, const char *const *known,
                                struct sy_error *err)
{
	char list[SY_ERROR_MSG_LEN] = "";
	size_t used = 0;
	for (int i = 0; known && known[i] && used < sizeof list; i++) {
		int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", known[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return yaml_error(d, at, err, "%s is not %s (%s)", key, what, list);
}

enum sy_status yaml_check_keys(const struct yaml_doc *d, const struct yaml_value *map,
                               const char *where, const char *what, const char *const *known,
                               struct sy_error *err)
{
	if (!yaml_is_mapping(map))
		return yaml_error(d, map, err, "%s: expected a mapping, got %s", where,
		                  yaml_kind_name(map));
	for (int i = 0; i < map->n; i++) {
		const char *k = map->items[2 * i]->str;
		bool found = false;
		for (int j = 0; known && known[j] && !found; j++)
			found = !strcmp(k, known[j]);
		if (!found)
			return yaml_unknown_key(d, map->items[2 * i], k, what, known, err);
	}
	return SY_OK;
}

/* ---- typed reads ---- */

/* The scalar text of v, or an error naming what v is instead. */
static enum sy_status need_scalar(const struct yaml_doc *d, const struct yaml_value *v,
                                  const char *key, struct sy_error *err, const char **out)
{
	if (v->kind != YAML_KIND_SCALAR)
		return yaml_error(d, v, err, "%s: expected a value, got %s", key,
		                  yaml_kind_name(v));
	*out = v->str;
	return SY_OK;
}

enum sy_status yaml_get_str(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                            struct sy_error *err, const char **out)
{
	return v ? need_scalar(d, v, key, err, out) : SY_OK;
}

enum sy_status yaml_get_strdup(const struct yaml_doc *d, const struct yaml_value *v,
                               const char *key, struct sy_error *err, char **out)
{
	const char *s = "";
	if (!v)
		return SY_OK;
	if (need_scalar(d, v, key, err, &s) != SY_OK)
		return SY_ERR_FORMAT;
	char *copy = strdup(s);
	if (!copy)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	free(*out);
	*out = copy;
	return SY_OK;
}

enum sy_status yaml_get_strbuf(const struct yaml_doc *d, const struct yaml_value *v,
                               const char *key, size_t cap, struct sy_error *err, char *out)
{
	const char *s = "";
	if (!v)
		return SY_OK;
	if (need_scalar(d, v, key, err, &s) != SY_OK)
		return SY_ERR_FORMAT;
	if (strlen(s) >= cap)
		return yaml_error(d, v, err, "%s: expected a string of at most %zu bytes", key,
		                  cap - 1);
	memcpy(out, s, strlen(s) + 1);
	return SY_OK;
}

/* strtod over the whole scalar; NAN when it is not a number. */
static double number_of(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	return end == s || *end ? NAN : v;
}

enum sy_status yaml_get_int(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                            long lo, long hi, struct sy_error *err, int *out)
{
	const char *s = "";
	if (!v)
		return SY_OK;
	if (need_scalar(d, v, key, err, &s) != SY_OK)
		return SY_ERR_FORMAT;
	double x = number_of(s);
	if (!(x >= (double)lo && x <= (double)hi) || x != floor(x))
		return yaml_error(d, v, err, "%s: expected an integer in [%ld, %ld], got '%s'", key,
		                  lo, hi, s);
	*out = (int)x;
	return SY_OK;
}

enum sy_status yaml_get_num(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                            double lo, double hi, struct sy_error *err, double *out)
{
	const char *s = "";
	if (!v)
		return SY_OK;
	if (need_scalar(d, v, key, err, &s) != SY_OK)
		return SY_ERR_FORMAT;
	double x = number_of(s);
	if (!(x >= lo && x <= hi))
		return yaml_error(d, v, err, "%s: expected a number in [%g, %g], got '%s'", key, lo,
		                  hi, s);
	*out = x;
	return SY_OK;
}

enum sy_status yaml_get_bool(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                             struct sy_error *err, bool *out)
{
	const char *s = "";
	if (!v)
		return SY_OK;
	if (need_scalar(d, v, key, err, &s) != SY_OK)
		return SY_ERR_FORMAT;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
		*out = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
		*out = false;
	else
		return yaml_error(d, v, err, "%s: expected true or false, got '%s'", key, s);
	return SY_OK;
}

enum sy_status yaml_get_size(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                             struct sy_error *err, size_t *out)
{
	const char *s = "";
	if (!v)
		return SY_OK;
	if (need_scalar(d, v, key, err, &s) != SY_OK)
		return SY_ERR_FORMAT;
	if (sy_size_parse(s, err, out) != SY_OK) {
		sy_error_prefix(err, "%s: line %d: %s", d->name, v->line, key);
		return SY_ERR_FORMAT;
	}
	return SY_OK;
}

enum sy_status yaml_get_strings(const struct yaml_doc *d, const struct yaml_value *v,
                                const char *key, struct sy_error *err, char ***out, int *n_out)
{
	if (!v)
		return SY_OK;
	if (v->kind != YAML_KIND_SEQUENCE)
		return yaml_error(d, v, err, "%s: expected a list of strings, got %s", key,
		                  yaml_kind_name(v));
	char **a = calloc((size_t)v->n + 1, sizeof *a);
	if (!a)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s = SY_OK;
	for (int i = 0; s == SY_OK && i < v->n; i++) {
		if (v->items[i]->kind != YAML_KIND_SCALAR)
			s = yaml_error(d, v->items[i], err, "%s[%d]: expected a string, got %s",
			               key, i, yaml_kind_name(v->items[i]));
		else if (!(a[i] = strdup(v->items[i]->str)))
			s = sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	}
	if (s != SY_OK) {
		for (int i = 0; i < v->n; i++)
			free(a[i]);
		free(a);
		return s;
	}
	*out = a;
	*n_out = v->n;
	return SY_OK;
}
