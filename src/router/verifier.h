/* Answer verifiers for cascades and racing: an answer passes when every configured check
 * holds. Checks: the content parses as JSON; it matches a JSON-schema subset (type, required,
 * properties, enum, items, minLength/maxLength, minimum/maximum); it matches a regex (PCRE2);
 * its length in characters is within [min_length, max_length]; and the confidence it states
 * (a number after "confidence", as "confidence: 0.8" or a JSON field) is at least
 * min_confidence. */
#ifndef SY_ROUTER_VERIFIER_H
#define SY_ROUTER_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/status.h"

struct verifier {
	bool json;
	cJSON *schema; /* owned; NULL: none */
	void *regex; /* pcre2_code *, owned; NULL: none */
	long min_length, max_length; /* -1: unset */
	double min_confidence; /* < 0: unset */
};

/* Compiles the regex (NULL for none) into v; fails on a bad pattern. */
enum sy_status verifier_set_regex(struct verifier *v, const char *pattern, struct sy_error *err);
/* True when content passes; otherwise why (a short phrase) goes to why. */
bool verifier_check(const struct verifier *v, const char *content, size_t len, char *why,
                    size_t cap);
/* The JSON-schema subset on a value; path names it in why. */
bool verifier_schema_check(const cJSON *schema, const cJSON *value, const char *path, char *why,
                           size_t cap);
void verifier_free(struct verifier *v);

#endif
