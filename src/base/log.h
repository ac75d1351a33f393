/* Logging to stderr with a level threshold (SWITCHYARD_LOG=debug|info|warn|error), one line per
 * call with an RFC 3339 UTC timestamp: text ("TS switchyard LEVEL: MSG") or, with
 * SWITCHYARD_LOG_FORMAT=json, JSON lines {"ts","level","msg"}. */
#ifndef SY_BASE_LOG_H
#define SY_BASE_LOG_H

enum sy_log_level { SY_LOG_DEBUG, SY_LOG_INFO, SY_LOG_WARN, SY_LOG_ERROR };

void sy_log(enum sy_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdbool.h>
/* Whether format names a log format ("text" or "json"). */
bool sy_log_format_ok(const char *format);

#endif
