/*
 * parse.h - the value syntaxes of the command line, the config file and
 * the mount options: SIZE, DUR, T, booleans; and their printed forms
 *
 * SIZE: a byte count with an optional binary suffix K, M, G, T (also KiB,
 *       MiB...; "B" alone allowed): 512, 64M, 10G, 1T.
 * DUR:  a number with s, m, h, d or w (30s, 1h, 90d), several may follow
 *       each other (1h30m); or ISO 8601 (P90D, PT1H, P1DT12H, P2W).
 * T:    RFC 3339 UTC (2027-01-31T00:00:00Z) or a date (2027-01-31, midnight
 *       UTC).
 * All return 0 or -EINVAL (-ERANGE on overflow) and never print.
 */
#ifndef SSEFS_UTIL_PARSE_H
#define SSEFS_UTIL_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

int parse_size(const char *s, uint64_t *out)
	__attribute__((warn_unused_result));
int parse_duration(const char *s, uint64_t *seconds)
	__attribute__((warn_unused_result));
int parse_time(const char *s, time_t *out)
	__attribute__((warn_unused_result));
/* "true|false|on|off|yes|no|1|0" */
int parse_bool(const char *s, int *out) __attribute__((warn_unused_result));

/* RFC 3339 UTC, "2027-01-31T00:00:00Z"; @len >= 21 */
void format_time(time_t t, char *buf, size_t len);
/* The shortest exact form: "90d", "1h", "5m", "90s"; a minute is "60s" */
void format_duration(uint64_t seconds, char *buf, size_t len);
/* Human size with a binary suffix, exact when possible: "64M", "1.5G" */
void format_size(uint64_t bytes, char *buf, size_t len);

#define UUID_STR_LEN	37	/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

/* A disk id as text: 8-4-4-4-12 lowercase hex digits */
void format_uuid(const uint8_t uuid[16], char out[UUID_STR_LEN]);

#endif /* SSEFS_UTIL_PARSE_H */
