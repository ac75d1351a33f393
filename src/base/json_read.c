/* Typed JSON field reads (see json_read.h). Messages follow the shape of the HTTP request
 * codecs ("items[0].text: expected string") so a config file and a request read alike. */
#include "base/json_read.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* "path.key", or "key" at the top level. */
static const char *field(char buf[JSON_READ_PATH_LEN], const char *path, const char *key)
{
	if (path && path[0])
		snprintf(buf, JSON_READ_PATH_LEN, "%s.%s", path, key);
	else
		snprintf(buf, JSON_READ_PATH_LEN, "%s", key);
	return buf;
}

/* The field, or NULL when it is absent or null. */
static const cJSON *present(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

static enum sy_status expected(const char *path, const char *key, const char *what,
                               struct sy_error *err)
{
	char f[JSON_READ_PATH_LEN];
	return sy_error_set(err, SY_ERR_FORMAT, "%s: expected %s", field(f, path, key), what);
}

enum sy_status json_read_bool(const cJSON *obj, const char *key, const char *path, bool def,
                              struct sy_error *err, bool *out)
{
	const cJSON *v = present(obj, key);
	*out = def;
	if (!v)
		return SY_OK;
	if (!cJSON_IsBool(v))
		return expected(path, key, "boolean", err);
	*out = cJSON_IsTrue(v);
	return SY_OK;
}

/* x as a message shows it: whole numbers written out in full unless they are huge. */
static const char *num_text(char buf[32], double x)
{
	snprintf(buf, 32, fabs(x) < 1e15 && x == floor(x) ? "%.0f" : "%g", x);
	return buf;
}

enum sy_status json_read_int(const cJSON *obj, const char *key, const char *path, long lo, long hi,
                             long def, struct sy_error *err, long *out)
{
	const cJSON *v = present(obj, key);
	*out = def;
	if (!v)
		return SY_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return expected(path, key, "integer", err);
	if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
		char f[JSON_READ_PATH_LEN], x[32];
		return sy_error_set(err, SY_ERR_FORMAT, "%s: %s out of range [%ld, %ld]",
		                    field(f, path, key), num_text(x, v->valuedouble), lo, hi);
	}
	*out = (long)v->valuedouble;
	return SY_OK;
}

enum sy_status json_read_number(const cJSON *obj, const char *key, const char *path, double lo,
                                double hi, double def, struct sy_error *err, double *out)
{
	const cJSON *v = present(obj, key);
	*out = def;
	if (!v)
		return SY_OK;
	if (!cJSON_IsNumber(v))
		return expected(path, key, "number", err);
	if (!(v->valuedouble >= lo && v->valuedouble <= hi)) {
		char f[JSON_READ_PATH_LEN], x[32], l[32], h[32];
		return sy_error_set(err, SY_ERR_FORMAT, "%s: %s out of range [%s, %s]",
		                    field(f, path, key), num_text(x, v->valuedouble),
		                    num_text(l, lo), num_text(h, hi));
	}
	*out = v->valuedouble;
	return SY_OK;
}

enum sy_status json_read_string(const cJSON *obj, const char *key, const char *path,
                                const char *def, struct sy_error *err, const char **out)
{
	const cJSON *v = present(obj, key);
	*out = def;
	if (!v)
		return SY_OK;
	if (!cJSON_IsString(v) || !v->valuestring)
		return expected(path, key, "string", err);
	*out = v->valuestring;
	return SY_OK;
}

enum sy_status json_read_string_required(const cJSON *obj, const char *key, const char *path,
                                         struct sy_error *err, const char **out)
{
	enum sy_status s = json_read_string(obj, key, path, NULL, err, out);
	if (s == SY_OK && !*out) {
		char f[JSON_READ_PATH_LEN];
		return sy_error_set(err, SY_ERR_FORMAT, "%s: missing", field(f, path, key));
	}
	return s;
}

enum sy_status json_read_strings(const cJSON *obj, const char *key, const char *path,
                                 struct sy_error *err, const char ***out, int *n)
{
	const cJSON *v = present(obj, key);
	*out = NULL;
	*n = 0;
	if (!v)
		return SY_OK;
	if (!cJSON_IsArray(v))
		return expected(path, key, "array of strings", err);
	int cnt = cJSON_GetArraySize(v), i = 0;
	const char **a = calloc((size_t)cnt + 1, sizeof *a);
	if (!a)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	const cJSON *e;
	cJSON_ArrayForEach(e, v)
	{
		if (!cJSON_IsString(e) || !e->valuestring) {
			char f[JSON_READ_PATH_LEN];
			free(a);
			return sy_error_set(err, SY_ERR_FORMAT, "%s[%d]: expected string",
			                    field(f, path, key), i);
		}
		a[i++] = e->valuestring;
	}
	*out = a;
	*n = i;
	return SY_OK;
}

const char *json_read_type_name(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return "object";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsNumber(v))
		return v->valuedouble == floor(v->valuedouble) ? "integer" : "number";
	return "invalid";
}

bool json_read_has_number(const cJSON *obj, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}
