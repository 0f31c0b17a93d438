/*
 * log.h - the one way ssefs talks to a person: "ssefs: WHAT: WHY"
 *
 * Library code never prints; it returns a negative errno.  The command line
 * and the daemon's edges call these.  The daemon switches to syslog once it
 * has detached (log_use_syslog()).
 */
#ifndef SSEFS_UTIL_LOG_H
#define SSEFS_UTIL_LOG_H

#include <stdarg.h>

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Print "ssefs: <fmt>" on stderr (or syslog LOG_ERR); return -1. */
int error(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* The same with "warning: " after the program name; LOG_WARNING. */
void warning(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Informational line, shown only with debug on; LOG_INFO. */
void info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* error() then exit(1). */
void die(const char *fmt, ...) PRINTF_LIKE(1, 2) __attribute__((noreturn));

void log_use_syslog(int on);
void log_set_debug(int on);
int log_debug_enabled(void);

#endif /* SSEFS_UTIL_LOG_H */
