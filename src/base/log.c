/* stderr logger; the threshold is read once from SWITCHYARD_LOG. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void sy_log(enum sy_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	if ((int)level < threshold())
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "switchyard %s: ", names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
