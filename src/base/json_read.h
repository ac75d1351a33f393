/* Typed reads of JSON object fields (over cJSON) with messages that name the field by its path:
 *
 *     normalizer.normalizers[1].lowercase: expected boolean
 *     pre_tokenizer.max_length: 70000 out of range [0, 65535]
 *
 * `path` names the object the field sits in ("normalizer.normalizers[1]"); NULL or "" means the
 * top level, where a field is named by its key alone. The caller adds the file name (with
 * sy_error_prefix) when there is one. A field that is absent or null takes the default; a field
 * of the wrong type is an error, never silently ignored. */
#ifndef SY_BASE_JSON_READ_H
#define SY_BASE_JSON_READ_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "base/status.h"

/* Longest field path messages carry; a longer one is cut. */
#define JSON_READ_PATH_LEN 160

enum sy_status json_read_bool(const cJSON *obj, const char *key, const char *path, bool def,
                              struct sy_error *err, bool *out);
/* A whole number in [lo, hi]. */
enum sy_status json_read_int(const cJSON *obj, const char *key, const char *path, long lo, long hi,
                             long def, struct sy_error *err, long *out);
/* Any number in [lo, hi]. */
enum sy_status json_read_number(const cJSON *obj, const char *key, const char *path, double lo,
                                double hi, double def, struct sy_error *err, double *out);
/* A string; *out points into the cJSON tree, or is def. */
enum sy_status json_read_string(const cJSON *obj, const char *key, const char *path,
                                const char *def, struct sy_error *err, const char **out);
/* A string that must be there ("PATH.KEY: missing" otherwise). */
enum sy_status json_read_string_required(const cJSON *obj, const char *key, const char *path,
                                         struct sy_error *err, const char **out);
/* An array of strings; *out points into the cJSON tree (*n entries, valid while the tree is)
 * in a malloc'd array the caller frees; absent or null gives *out = NULL, *n = 0. */
enum sy_status json_read_strings(const cJSON *obj, const char *key, const char *path,
                                 struct sy_error *err, const char ***out, int *n);

/* The JSON Schema name of v's type: "object", "array", "string", "boolean", "null", "integer"
 * (a number without a fraction) or "number". */
const char *json_read_type_name(const cJSON *v);
/* For lenient readers: whether obj has a number field `key`, and its value in *out. */
bool json_read_has_number(const cJSON *obj, const char *key, double *out);

#endif
