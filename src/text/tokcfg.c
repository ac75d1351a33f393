/* tokenizer.json field readers (see tokcfg.h): base/json_read.h plus the checks tokenizer.json
 * needs on top (valid UTF-8, a component's "type"). */
#include "text/tokcfg.h"

#include <stdlib.h>
#include <string.h>

#include "text/unicode.h"

enum sy_status tokcfg_string(const cJSON *obj, const char *key, const char *path, const char *def,
                             struct sy_error *err, const char **out)
{
	enum sy_status st = json_read_string(obj, key, path, def, err, out);
	if (st == SY_OK && *out && *out != def && !tokcfg_utf8_valid(*out, strlen(*out)))
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: invalid UTF-8", path, key);
	return st;
}

enum sy_status tokcfg_type(const cJSON *obj, const char *path, struct sy_error *err,
                           const char **out)
{
	if (!cJSON_IsObject(obj))
		return sy_error_set(err, SY_ERR_FORMAT, "%s: expected object", path);
	enum sy_status st = tokcfg_string(obj, "type", path, NULL, err, out);
	if (st != SY_OK)
		return st;
	if (!*out)
		return sy_error_set(err, SY_ERR_FORMAT, "%s.type: missing", path);
	return SY_OK;
}

char *tokcfg_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

bool tokcfg_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t cp, k = utf8_sanitize_step(u + i, len - i, &cp);
		if (cp == UC_REPLACEMENT &&
		    !(k == 3 && u[i] == 0xEF && u[i + 1] == 0xBF && u[i + 2] == 0xBD))
			return false;
		i += k;
	}
	return true;
}
