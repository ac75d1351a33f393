/* tokenizer.json field readers (see tokcfg.h). */
#include "text/tokcfg.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/unicode.h"

enum sy_status tokcfg_bool(const cJSON *obj, const char *key, const char *path, bool def,
                           struct sy_error *err, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	*out = def;
	if (!v || cJSON_IsNull(v))
		return SY_OK;
	if (!cJSON_IsBool(v))
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: expected boolean", path, key);
	*out = cJSON_IsTrue(v);
	return SY_OK;
}

enum sy_status tokcfg_int(const cJSON *obj, const char *key, const char *path, long lo, long hi,
                          long def, struct sy_error *err, long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	*out = def;
	if (!v || cJSON_IsNull(v))
		return SY_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: expected integer", path, key);
	if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: %.0f out of range [%ld, %ld]", path,
		                    key, v->valuedouble, lo, hi);
	*out = (long)v->valuedouble;
	return SY_OK;
}

enum sy_status tokcfg_string(const cJSON *obj, const char *key, const char *path, const char *def,
                             struct sy_error *err, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	*out = def;
	if (!v || cJSON_IsNull(v))
		return SY_OK;
	if (!cJSON_IsString(v) || !v->valuestring)
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: expected string", path, key);
	if (!tokcfg_utf8_valid(v->valuestring, strlen(v->valuestring)))
		return sy_error_set(err, SY_ERR_FORMAT, "%s.%s: invalid UTF-8", path, key);
	*out = v->valuestring;
	return SY_OK;
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
