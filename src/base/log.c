/* stderr logger: the threshold is read once from SWITCHYARD_LOG; the format (text or JSON
 * lines) from SWITCHYARD_LOG_FORMAT at each line, so `--log-format` set after start-up applies.
 * Each line is built whole and written with one call, so lines of several threads do not
 * interleave. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json_write.h"
#include "base/sbuf.h"

static int threshold(void)
{
	static int level = -1;
	if (level < 0) {
		const char *s = getenv("SWITCHYARD_LOG");
		level = SY_LOG_WARN;
		if (s && !strcmp(s, "debug"))
			level = SY_LOG_DEBUG;
		else if (s && !strcmp(s, "info"))
			level = SY_LOG_INFO;
		else if (s && !strcmp(s, "error"))
			level = SY_LOG_ERROR;
	}
	return level;
}

bool sy_log_format_ok(const char *format)
{
	return format && (!strcmp(format, "text") || !strcmp(format, "json"));
}

/* RFC 3339 UTC with milliseconds: 2026-12-02T21:30:00.123Z */
static void timestamp(char *buf, size_t cap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

void sy_log(enum sy_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	if ((int)level < threshold())
		return;
	char msg[2048], ts[40];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	timestamp(ts, sizeof ts);
	const char *format = getenv("SWITCHYARD_LOG_FORMAT");
	struct sbuf b = {0};
	if (format && !strcmp(format, "json")) {
		sbuf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[level]);
		json_write_str(&b, msg, -1);
		sbuf_puts(&b, "}\n");
	} else {
		sbuf_printf(&b, "%s switchyard %s: %s\n", ts, names[level], msg);
	}
	if (!b.oom)
		fputs(b.data, stderr);
	sbuf_free(&b);
}
