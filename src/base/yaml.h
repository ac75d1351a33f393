/* One YAML reader for every config file: libyaml parses, this builds a small tree of scalars,
 * lists and mappings, each value with the line it starts on, and typed accessors turn values
 * into C types with messages that name the file, the line and the key:
 *
 *     serve.yaml: line 3: port: expected an integer in [0, 65535], got '70000'
 *
 * Only the first document of a stream is read. Aliases (`*name`) are refused at load: a config
 * gains nothing from them, and expanding them is how a small document becomes a huge one
 * (billion laughs). Anchors without aliases and tags are accepted and ignored. Mapping keys must
 * be plain values, never lists or mappings. Nesting deeper than YAML_MAX_DEPTH is refused.
 *
 * Scalars are kept as written: `~`, `null`, `yes` are strings until an accessor reads them.
 * Every accessor treats a NULL value as absent: it returns SY_OK and leaves *out alone, so
 * `yaml_get_int(d, yaml_lookup(m, "port"), "port", ...)` keeps the default when there is no
 * port. Pointers into the tree stay valid until yaml_doc_free. */
#ifndef SY_BASE_YAML_H
#define SY_BASE_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

#define YAML_MAX_DEPTH 64

enum yaml_kind {
	YAML_KIND_SCALAR,
	YAML_KIND_SEQUENCE,
	YAML_KIND_MAPPING,
};

struct yaml_value {
	enum yaml_kind kind;
	int line; /* 1-based line of its first character */
	bool quoted; /* a scalar written in single or double quotes */
	char *str; /* scalar text, NUL-terminated ("" when empty); NULL for lists and mappings */
	int n; /* list items, or mapping pairs */
	/* List: items[0, n). Mapping: [2n] alternating key, value; every key is a scalar. */
	struct yaml_value **items;
	int cap; /* allocated slots in items */
};

struct yaml_doc {
	char *name; /* file name used in messages */
	struct yaml_value *root; /* NULL when the document is empty */
};

/* Parses text (len bytes) into *out; `name` is the file name messages carry. An empty stream
 * gives a document whose root is NULL. Free with yaml_doc_free. */
enum sy_status yaml_doc_load_text(const char *name, const char *text, size_t len,
                                  struct sy_error *err, struct yaml_doc **out);
/* Reads and parses a file; messages name it by path. */
enum sy_status yaml_doc_load_file(const char *path, struct sy_error *err, struct yaml_doc **out);
void yaml_doc_free(struct yaml_doc *d);

/* ---- walking the tree (all NULL-safe) ---- */

/* Items of a list, pairs of a mapping, 0 for a scalar or NULL. */
int yaml_count(const struct yaml_value *v);
bool yaml_is_mapping(const struct yaml_value *v);
bool yaml_is_sequence(const struct yaml_value *v);
/* The text of a scalar; NULL for a list, a mapping or NULL. */
const char *yaml_scalar(const struct yaml_value *v);
const struct yaml_value *yaml_seq_item(const struct yaml_value *seq, int i);
/* The i-th key (a scalar node, for its line) and value of a mapping. */
const struct yaml_value *yaml_map_key(const struct yaml_value *map, int i);
const struct yaml_value *yaml_map_value(const struct yaml_value *map, int i);
/* The value of `key` in a mapping (the last one when a key repeats), or NULL. */
const struct yaml_value *yaml_lookup(const struct yaml_value *map, const char *key);
/* "a value", "a list" or "a mapping", for messages. */
const char *yaml_kind_name(const struct yaml_value *v);

/* ---- messages ---- */

/* Sets "NAME: line N: " + the formatted text as a SY_ERR_FORMAT error and returns that status.
 * `at` gives the line (0 when NULL). */
enum sy_status yaml_error(const struct yaml_doc *d, const struct yaml_value *at,
                          struct sy_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "NAME: line N: KEY is not WHAT (k1, k2, ...)": the error for a key not in `known`
 * (NULL-terminated), e.g. what = "an upstream setting". */
enum sy_status yaml_unknown_key(const struct yaml_doc *d, const struct yaml_value *at,
                                const char *key, const char *what, const char *const *known,
                                struct sy_error *err);
/* Fails with yaml_unknown_key on the first key of `map` that is not in `known`; fails unless
 * map is a mapping ("NAME: line N: WHERE: expected a mapping, got a list"). */
enum sy_status yaml_check_keys(const struct yaml_doc *d, const struct yaml_value *map,
                               const char *where, const char *what, const char *const *known,
                               struct sy_error *err);

/* ---- typed reads; `key` is the name messages give the value (e.g. "models[0].path") ---- */

/* A scalar; *out points into the tree. */
enum sy_status yaml_get_str(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                            struct sy_error *err, const char **out);
/* A scalar copied with strdup; the old *out is freed on success. */
enum sy_status yaml_get_strdup(const struct yaml_doc *d, const struct yaml_value *v,
                               const char *key, struct sy_error *err, char **out);
/* A scalar shorter than cap bytes copied into out[cap]. */
enum sy_status yaml_get_strbuf(const struct yaml_doc *d, const struct yaml_value *v,
                               const char *key, size_t cap, struct sy_error *err, char *out);
/* A whole number in [lo, hi] (decimal; "1e3" and "8.0" count, "1.5" does not). */
enum sy_status yaml_get_int(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                            long lo, long hi, struct sy_error *err, int *out);
/* A number in [lo, hi]. */
enum sy_status yaml_get_num(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                            double lo, double hi, struct sy_error *err, double *out);
/* true/yes/on or false/no/off, in any case. */
enum sy_status yaml_get_bool(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                             struct sy_error *err, bool *out);
/* A byte count with an optional K/M/G/T suffix (sy_size_parse). */
enum sy_status yaml_get_size(const struct yaml_doc *d, const struct yaml_value *v, const char *key,
                             struct sy_error *err, size_t *out);
/* A list of scalars copied into a malloc'd array of malloc'd strings (*n_out entries; the array
 * is never NULL on success). The caller frees each string and the array. */
enum sy_status yaml_get_strings(const struct yaml_doc *d, const struct yaml_value *v,
                                const char *key, struct sy_error *err, char ***out, int *n_out);

#endif
