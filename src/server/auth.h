/* Bearer-token authentication from a key file.
 *
 * The file holds one token per line; a line "admin:TOKEN" makes TOKEN an admin token (valid for
 * every route, and the only kind accepted by the admin routes), "critical:TOKEN" a user token
 * whose requests may claim x-switchyard-critical (the budget's downgrade exemption; admin tokens
 * may too). Blank lines and lines starting
 * with '#' are skipped; surrounding whitespace is trimmed. Tokens are compared in constant time
 * so response timing does not reveal how much of a guess was right. */
#ifndef SY_SERVER_AUTH_H
#define SY_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

enum auth_level {
	AUTH_LEVEL_NONE = 0, /* no or unknown token */
	AUTH_LEVEL_USER,
	AUTH_LEVEL_ADMIN,
};

struct auth;

/* Fails when the file cannot be read or holds no token. */
enum sy_status auth_load_file(const char *path, struct sy_error *err, struct auth **out);
/* Same, from the file's text (for tests). `name` appears in error messages. */
enum sy_status auth_load_text(const char *name, const char *text, struct sy_error *err,
                              struct auth **out);
/* The token of an Authorization header value "Bearer TOKEN" (spaces around it trimmed, the
 * scheme's case ignored): a pointer into the value and its *len, or NULL when there is none. */
const char *auth_bearer(const char *authorization, size_t *len);
/* The level granted by an Authorization header value ("Bearer TOKEN"); NULL gives NONE. */
enum auth_level auth_check(const struct auth *a, const char *authorization);
/* Who an Authorization header is: the level, and for a known token its line's index in the key
 * file (a stable name for per-key budgets that does not depend on how the header was spelled)
 * and whether it may claim the critical exemption. */
struct auth_identity {
	enum auth_level level;
	int index; /* -1 for NONE */
	bool critical;
};
struct auth_identity auth_identify(const struct auth *a, const char *authorization);
int auth_n_tokens(const struct auth *a);
void auth_free(struct auth *a);

#endif
