/* Bearer tokens from a key file (see auth.h). */
#include "server/auth.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/file.h"

struct auth_token {
	char *token;
	size_t len;
	bool admin;
	bool critical; /* may claim x-switchyard-critical */
};

struct auth {
	struct auth_token *tokens;
	int n_tokens;
};

static bool auth_add(struct auth *a, const char *s, size_t len, bool admin, bool critical)
{
	struct auth_token *t = realloc(a->tokens, (size_t)(a->n_tokens + 1) * sizeof *t);
	if (!t)
		return false;
	a->tokens = t;
	char *copy = malloc(len + 1);
	if (!copy)
		return false;
	memcpy(copy, s, len);
	copy[len] = '\0';
	a->tokens[a->n_tokens++] =
	    (struct auth_token){.token = copy, .len = len, .admin = admin, .critical = critical};
	return true;
}

enum sy_status auth_load_text(const char *name, const char *text, struct sy_error *err,
                              struct auth **out)
{
	*out = NULL;
	struct auth *a = calloc(1, sizeof *a);
	if (!a)
		return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", name);
	int line_no = 0;
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *s = p, *e = p + n;
		p = eol ? eol + 1 : p + n;
		line_no++;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (s == e || *s == '#')
			continue;
		bool admin = false, critical = false;
		if (e - s >= 6 && !strncmp(s, "admin:", 6)) {
			admin = true;
			s += 6;
		} else if (e - s >= 9 && !strncmp(s, "critical:", 9)) {
			critical = true;
			s += 9;
		}
		if (s == e) { /* "admin:" alone must not become a user token named "admin:" */
			auth_free(a);
			return sy_error_set(err, SY_ERR_FORMAT,
			                    "%s: line %d: an empty %s token (write %s:TOKEN)", name,
			                    line_no, admin ? "admin" : "critical",
			                    admin ? "admin" : "critical");
		}
		for (const char *c = s; c < e; c++) {
			if (isspace((unsigned char)*c) || (unsigned char)*c < 0x21) {
				auth_free(a);
				return sy_error_set(err, SY_ERR_FORMAT,
				                    "%s: line %d: a token may not contain spaces",
				                    name, line_no);
			}
		}
		if (!auth_add(a, s, (size_t)(e - s), admin, critical)) {
			auth_free(a);
			return sy_error_set(err, SY_ERR_NOMEM, "%s: out of memory", name);
		}
	}
	if (a->n_tokens == 0) {
		auth_free(a);
		return sy_error_set(err, SY_ERR_FORMAT, "%s: no tokens (one per line expected)",
		                    name);
	}
	*out = a;
	return SY_OK;
}

enum sy_status auth_load_file(const char *path, struct sy_error *err, struct auth **out)
{
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	enum sy_status st = sy_file_read(path, err, &text, &len);
	if (st != SY_OK)
		return st;
	st = auth_load_text(path, text, err, out);
	free(text);
	return st;
}

/* Compares in time that depends only on the lengths, not on where the first difference is. */
static bool token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = alen != blen;
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

const char *auth_bearer(const char *authorization, size_t *len)
{
	*len = 0;
	if (!authorization)
		return NULL;
	while (*authorization == ' ')
		authorization++;
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *s = authorization + 7;
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	*len = n;
	return n ? s : NULL;
}

struct auth_identity auth_identify(const struct auth *a, const char *authorization)
{
	struct auth_identity id = {AUTH_LEVEL_NONE, -1, false};
	size_t len;
	const char *s = auth_bearer(authorization, &len);
	if (!s)
		return id;
	/* Check every token so the time does not depend on which one matched. */
	for (int i = 0; i < a->n_tokens; i++) {
		if (token_equal(s, len, a->tokens[i].token, a->tokens[i].len)) {
			enum auth_level l = a->tokens[i].admin ? AUTH_LEVEL_ADMIN : AUTH_LEVEL_USER;
			if (l > id.level) {
				id.level = l;
				id.index = i;
				id.critical = a->tokens[i].admin || a->tokens[i].critical;
			}
		}
	}
	return id;
}

enum auth_level auth_check(const struct auth *a, const char *authorization)
{
	return auth_identify(a, authorization).level;
}

int auth_n_tokens(const struct auth *a)
{
	return a ? a->n_tokens : 0;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->n_tokens; i++)
		free(a->tokens[i].token);
	free(a->tokens);
	free(a);
}
