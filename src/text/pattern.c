/* Literal and PCRE2 pattern matching (see pattern.h). Regexes are JIT-compiled when the platform
 * allows it; pcre2_match then uses the JIT code on its own. The compiled code is read-only and
 * shared by all threads; each thread brings its own match data. */
#include "text/pattern.h"

#include <stdlib.h>
#include <string.h>

#include "text/unicode.h"

enum sy_status pattern_init(struct tok_pattern *p, const char *text, bool regex, const char *field,
                            struct sy_error *err)
{
	memset(p, 0, sizeof *p);
	size_t len = strlen(text);
	if (!regex) {
		p->lit = malloc(len + 1);
		if (!p->lit)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		memcpy(p->lit, text, len + 1);
		p->lit_len = len;
		return SY_OK;
	}
	int code;
	PCRE2_SIZE off;
	p->re = pcre2_compile((PCRE2_SPTR)text, len, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
	if (!p->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof msg);
		return sy_error_set(err, SY_ERR_UNSUPPORTED,
		                    "%s: cannot compile regex \"%s\": %s at %zu", field, text,
		                    (const char *)msg, (size_t)off);
	}
	/* JIT is an optimisation only: without it (e.g. no executable memory) matching still works. */
	(void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
	return SY_OK;
}

void pattern_free(struct tok_pattern *p)
{
	if (p->re)
		pcre2_code_free(p->re);
	free(p->lit);
	memset(p, 0, sizeof *p);
}

pcre2_match_data *pattern_match_data_create(void)
{
	return pcre2_match_data_create(1, NULL);
}

static enum sy_status find_literal(const struct tok_pattern *p, const char *s, size_t len,
                                   tok_match_fn fn, void *ctx)
{
	size_t prev = 0, pos = 0, n = p->lit_len;
	enum sy_status st;
	if (n == 0)
		return len ? fn(ctx, 0, (uint32_t)len, false) : SY_OK;
	while (pos + n <= len) {
		const char *hit = memmem(s + pos, len - pos, p->lit, n);
		if (!hit)
			break;
		size_t ms = (size_t)(hit - s);
		if (ms > prev && (st = fn(ctx, (uint32_t)prev, (uint32_t)ms, false)) != SY_OK)
			return st;
		if ((st = fn(ctx, (uint32_t)ms, (uint32_t)(ms + n), true)) != SY_OK)
			return st;
		prev = pos = ms + n;
	}
	if (prev < len)
		return fn(ctx, (uint32_t)prev, (uint32_t)len, false);
	return SY_OK;
}

enum sy_status pattern_find(const struct tok_pattern *p, const char *s, size_t len,
                            pcre2_match_data *md, tok_match_fn fn, void *ctx, struct sy_error *err)
{
	if (!p->re)
		return find_literal(p, s, len, fn, ctx);
	size_t pos = 0, prev = 0;
	uint32_t opts = 0;
	enum sy_status st;
	while (pos <= len) {
		int rc = pcre2_match(p->re, (PCRE2_SPTR)s, len, pos, opts | PCRE2_NO_UTF_CHECK, md,
		                     NULL);
		if (rc == PCRE2_ERROR_NOMATCH) {
			if (opts == 0 || pos >= len)
				break;
			/* No non-empty match where the empty one was: move one character on. */
			pos += utf8_lead_len((unsigned char)s[pos]);
			opts = 0;
			continue;
		}
		if (rc < 0) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(rc, msg, sizeof msg);
			return sy_error_set(err, SY_ERR_LIMIT, "regex match failed: %s",
			                    (const char *)msg);
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t ms = ov[0], me = ov[1];
		if (ms > prev && (st = fn(ctx, (uint32_t)prev, (uint32_t)ms, false)) != SY_OK)
			return st;
		if ((st = fn(ctx, (uint32_t)ms, (uint32_t)me, true)) != SY_OK)
			return st;
		prev = pos = me;
		opts = ms == me ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
	}
	if (prev < len)
		return fn(ctx, (uint32_t)prev, (uint32_t)len, false);
	return SY_OK;
}
