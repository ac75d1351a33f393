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
		level = SY_LOG_NOTICE;
		if (s && !strcmp(s, "debug"))
			level = SY_LOG_DEBUG;
		else if (s && !strcmp(s, "info"))
			level = SY_LOG_INFO;
		else if (s && !strcmp(s, "warn"))
			level = SY_LOG_WARN;
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

bool sy_log_enabled(enum sy_log_level level)
{
	return (int)level >= threshold();
}

/* A text-mode value: bare when it is a plain token, else a JSON string (quoted, escaped), so a
 * line stays one line and splits on spaces (logfmt). */
static void text_value(struct sbuf *b, const char *v)
{
	bool plain = v[0] != '\0';
	for (const char *c = v; *c && plain; c++)
		plain = (unsigned char)*c > ' ' && *c != '"' && *c != '=' && *c != '\\' &&
		        (unsigned char)*c < 0x7f;
	if (plain)
		sbuf_puts(b, v);
	else
		json_write_str(b, v, -1);
}

static void number(struct sbuf *b, double v)
{
	if (v == (double)(long long)v && v > -1e15 && v < 1e15)
		sbuf_printf(b, "%lld", (long long)v);
	else
		sbuf_printf(b, "%.3f", v);
}

static void write_line(enum sy_log_level level, const struct sy_log_field *fields, int n,
                       const char *msg)
{
	static const char *names[] = {"debug", "info", "notice", "warn", "error"};
	char ts[40];
	timestamp(ts, sizeof ts);
	const char *format = getenv("SWITCHYARD_LOG_FORMAT");
	const bool json = format && !strcmp(format, "json");
	struct sbuf b = {0};
	if (json) {
		sbuf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[level]);
		json_write_str(&b, msg, -1);
	} else {
		sbuf_printf(&b, "%s switchyard %s: %s", ts, names[level], msg);
	}
	for (int i = 0; i < n; i++) {
		if (json)
			sbuf_printf(&b, ",\"%s\":", fields[i].key);
		else
			sbuf_printf(&b, " %s=", fields[i].key);
		if (!fields[i].str)
			number(&b, fields[i].num);
		else if (json)
			json_write_str(&b, fields[i].str, -1);
		else
			text_value(&b, fields[i].str);
	}
	sbuf_puts(&b, json ? "}\n" : "\n");
	if (!b.oom)
		fputs(b.data, stderr);
	sbuf_free(&b);
}

void sy_log_fields(enum sy_log_level level, const struct sy_log_field *fields, int n_fields,
                   const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	write_line(level, fields, n_fields, msg);
}

void sy_log(enum sy_log_level level, const char *fmt, ...)
{
	if (!sy_log_enabled(level))
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	write_line(level, NULL, 0, msg);
}
