/* Answer verifiers (see verifier.h). */
#include "router/verifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/json_read.h"

enum sy_status verifier_set_regex(struct verifier *v, const char *pattern, struct sy_error *err)
{
	if (!pattern)
		return SY_OK;
	int code;
	PCRE2_SIZE off;
	pcre2_code *re =
	    pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(code, msg, sizeof msg);
		return sy_error_set(err, SY_ERR_FORMAT, "regex \"%s\": %s at offset %zu", pattern,
		                    (const char *)msg, (size_t)off);
	}
	if (v->regex)
		pcre2_code_free(v->regex);
	v->regex = re;
	return SY_OK;
}

bool verifier_schema_check(const cJSON *schema, const cJSON *value, const char *path, char *why,
                           size_t cap)
{
	if (!cJSON_IsObject(schema))
		return true;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(schema, "type");
	if (cJSON_IsString(t)) {
		const char *have = json_read_type_name(value);
		bool ok = !strcmp(t->valuestring, have) ||
		          (!strcmp(t->valuestring, "number") && !strcmp(have, "integer"));
		if (!ok) {
			snprintf(why, cap, "%s: expected %s, got %s", path, t->valuestring, have);
			return false;
		}
	}
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
	if (cJSON_IsArray(en)) {
		bool found = false;
		const cJSON *e;
		cJSON_ArrayForEach(e, en) found |= cJSON_Compare(e, value, true);
		if (!found) {
			snprintf(why, cap, "%s: not one of the enum values", path);
			return false;
		}
	}
	if (cJSON_IsString(value)) {
		double n = (double)strlen(value->valuestring), mn, mx;
		if ((json_read_has_number(schema, "minLength", &mn) && n < mn) ||
		    (json_read_has_number(schema, "maxLength", &mx) && n > mx)) {
			snprintf(why, cap, "%s: string length %.0f out of range", path, n);
			return false;
		}
	}
	if (cJSON_IsNumber(value)) {
		double mn, mx;
		if ((json_read_has_number(schema, "minimum", &mn) && value->valuedouble < mn) ||
		    (json_read_has_number(schema, "maximum", &mx) && value->valuedouble > mx)) {
			snprintf(why, cap, "%s: %g out of range", path, value->valuedouble);
			return false;
		}
	}
	if (cJSON_IsObject(value)) {
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
		const cJSON *r;
		cJSON_ArrayForEach(r, req)
		{
			if (cJSON_IsString(r) &&
			    !cJSON_GetObjectItemCaseSensitive(value, r->valuestring)) {
				snprintf(why, cap, "%s: missing required \"%s\"", path,
				         r->valuestring);
				return false;
			}
		}
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
		const cJSON *p;
		cJSON_ArrayForEach(p, props)
		{
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(value, p->string);
			char sub[256];
			snprintf(sub, sizeof sub, "%s.%s", path, p->string);
			if (v && !verifier_schema_check(p, v, sub, why, cap))
				return false;
		}
	}
	if (cJSON_IsArray(value)) {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
		int i = 0;
		const cJSON *v;
		cJSON_ArrayForEach(v, value)
		{
			char sub[256];
			snprintf(sub, sizeof sub, "%s[%d]", path, i++);
			if (items && !verifier_schema_check(items, v, sub, why, cap))
				return false;
		}
	}
	return true;
}

/* The number after the word "confidence" (case-insensitive), or NAN. */
static double stated_confidence(const char *s)
{
	for (const char *p = s; (p = strcasestr(p, "confidence")); p += 10) {
		const char *q = p + 10;
		while (*q && (*q == '"' || *q == ':' || *q == ' ' || *q == '=' || *q == '\t'))
			q++;
		char *end;
		double v = strtod(q, &end);
		if (end != q) {
			if (*end == '%')
				v /= 100;
			return v;
		}
	}
	return NAN;
}

static long utf8_chars(const char *s, size_t n)
{
	long c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

bool verifier_check(const struct verifier *v, const char *content, size_t len, char *why,
                    size_t cap)
{
	long chars = utf8_chars(content, len);
	if (v->min_length >= 0 && chars < v->min_length) {
		snprintf(why, cap, "answer shorter than %ld characters", v->min_length);
		return false;
	}
	if (v->max_length >= 0 && chars > v->max_length) {
		snprintf(why, cap, "answer longer than %ld characters", v->max_length);
		return false;
	}
	if (v->json || v->schema) {
		cJSON *doc = cJSON_ParseWithLength(content, len);
		if (!doc) {
			snprintf(why, cap, "answer is not valid JSON");
			return false;
		}
		bool ok = verifier_schema_check(v->schema, doc, "$", why, cap);
		cJSON_Delete(doc);
		if (!ok)
			return false;
	}
	if (v->regex) {
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(v->regex, NULL);
		int rc = md ? pcre2_match(v->regex, (PCRE2_SPTR)content, len, 0, 0, md, NULL) : -1;
		pcre2_match_data_free(md);
		if (rc < 0) {
			snprintf(why, cap, "answer does not match the regex");
			return false;
		}
	}
	if (v->min_confidence >= 0) {
		double c = stated_confidence(content);
		if (isnan(c) || c < v->min_confidence) {
			snprintf(why, cap,
			         isnan(c) ? "answer states no confidence"
			                  : "stated confidence below the bar");
			return false;
		}
	}
	return true;
}

void verifier_free(struct verifier *v)
{
	cJSON_Delete(v->schema);
	if (v->regex)
		pcre2_code_free(v->regex);
	v->schema = NULL;
	v->regex = NULL;
}
