/* Typed reads of tokenizer.json fields with error messages that name the field by its path
 * ("normalizer.normalizers[1].lowercase: expected boolean"). The caller adds the file name.
 * A field that is absent or null takes the default; a field of the wrong type is an error,
 * never silently ignored. Booleans and integers are read with json_read_bool and json_read_int
 * (base/json_read.h, included here); strings here, as they must also be valid UTF-8. */
#ifndef SY_TEXT_TOKCFG_H
#define SY_TEXT_TOKCFG_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/json_read.h"
#include "base/status.h"

/* Maximum length of a field path in messages. */
#define TOKCFG_PATH_LEN 160

/* A string (valid UTF-8); *out points into the cJSON tree, or is def. */
enum sy_status tokcfg_string(const cJSON *obj, const char *key, const char *path, const char *def,
                             struct sy_error *err, const char **out);
/* The mandatory "type" string of a component. */
enum sy_status tokcfg_type(const cJSON *obj, const char *path, struct sy_error *err,
                           const char **out);
/* Copies a NUL-terminated string; NULL on allocation failure. */
char *tokcfg_strdup(const char *s);
/* Whether s[0, len) is valid UTF-8. */
bool tokcfg_utf8_valid(const char *s, size_t len);

#endif
