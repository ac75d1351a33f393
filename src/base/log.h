/* Logging to stderr with a level threshold (SWITCHYARD_LOG=debug|info|notice|warn|error; default
 * notice), one line per call with an RFC 3339 UTC timestamp: text ("TS switchyard LEVEL: MSG",
 * then the fields as key=value) or, with SWITCHYARD_LOG_FORMAT=json, JSON lines
 * {"ts","level","msg", then one member per field}. */
#ifndef SY_BASE_LOG_H
#define SY_BASE_LOG_H

#include <stdbool.h>

/* notice: a normal but significant event an operator wants by default (a connection made,
 * lost or given up), shown at the default threshold, unlike info. */
enum sy_log_level { SY_LOG_DEBUG, SY_LOG_INFO, SY_LOG_NOTICE, SY_LOG_WARN, SY_LOG_ERROR };

/* A structured field of a log line: a string (str) or a number (num, written with up to 3
 * decimals, as an integer when it is one). */
struct sy_log_field {
	const char *key; /* [A-Za-z0-9_]; a static string */
	const char *str; /* NULL: the field is num */
	double num;
};

void sy_log(enum sy_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether a line of this level passes the threshold. */
bool sy_log_enabled(enum sy_log_level level);
/* Writes one line with fields[n_fields], whatever the threshold (callers with their own switch,
 * the access log, decide themselves; the others check sy_log_enabled first). */
void sy_log_fields(enum sy_log_level level, const struct sy_log_field *fields, int n_fields,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Whether format names a log format ("text" or "json"). */
bool sy_log_format_ok(const char *format);

#endif
