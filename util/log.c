/*
 * log.c - error reporting for the command line and the daemon
 */
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "util/log.h"

static int use_syslog;
static int debug_on;

void log_use_syslog(int on)
{
	use_syslog = on;
	if (on)
		openlog("ssefs", LOG_PID, LOG_DAEMON);
}

void log_set_debug(int on)
{
	debug_on = on;
}

int log_debug_enabled(void)
{
	return debug_on;
}

static void vreport(int prio, const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (use_syslog) {
		syslog(prio, "%s%s", prefix, line);
		return;
	}
	fprintf(stderr, "ssefs: %s%s\n", prefix, line);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_ERR, "", fmt, ap);
	va_end(ap);
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	if (!debug_on && !use_syslog)
		return;
	va_start(ap, fmt);
	vreport(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void debug(const char *fmt, ...)
{
	va_list ap;

	if (!debug_on)
		return;
	va_start(ap, fmt);
	vreport(LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(LOG_ERR, "", fmt, ap);
	va_end(ap);
	exit(1);
}
