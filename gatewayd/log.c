/*
 * log.c - the log sink shared by the daemon, smsctl and modemsim.
 *
 * A single fprintf per line keeps lines from different threads whole:
 * stdio locks the stream for the duration of each call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "smsgw/log.h"

static enum log_level log_threshold = LOG_LEVEL_INFO;
static int log_personal;

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_setup(enum log_level level, int personal)
{
	log_threshold = level;
	log_personal = personal;
}

int
log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(log_level_names) / sizeof(*log_level_names); i++)
		if (strcmp(name, log_level_names[i]) == 0)
			return (int)i;
	return -1;
}

int
log_debug_enabled(void)
{
	return log_threshold >= LOG_LEVEL_DEBUG;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	char stamp[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level > log_threshold)
		return;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	fprintf(stderr, "%s.%03ldZ %-6s %s\n", stamp,
	    now.tv_nsec / 1000000, log_level_names[level], line);
}

const char *
log_mask_number(const char *number, char *buf, size_t len)
{
	size_t n;

	if (number == NULL)
		number = "";
	if (log_personal || len == 0) {
		snprintf(buf, len, "%s", number);
		return buf;
	}

	/* Short numbers (short codes, alphanumeric senders) keep nothing
	 * that identifies a person, so only long ones are masked. */
	n = strlen(number);
	if (n <= 6) {
		snprintf(buf, len, "%s", number);
		return buf;
	}
	snprintf(buf, len, "%.*s***%s", (int)(n > 9 ? 4 : 2), number,
	    number + n - 4);
	return buf;
}

const char *
log_mask_text(const char *text, char *buf, size_t len)
{
	if (text == NULL)
		text = "";
	if (log_personal)
		snprintf(buf, len, "%s", text);
	else
		snprintf(buf, len, "[%zu bytes]", strlen(text));
	return buf;
}
