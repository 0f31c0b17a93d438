/*
 * parse.c - SIZE, DUR and T as SPEC.md defines them
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/parse.h"

static int mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
	if (a && b > UINT64_MAX / a)
		return -ERANGE;
	*out = a * b;
	return 0;
}

static int add_ok(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b > UINT64_MAX - a)
		return -ERANGE;
	*out = a + b;
	return 0;
}

/* Read a decimal number; *end after it.  At least one digit. */
static int read_num(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*s)) {
		if (mul_ok(v, 10, &v) || add_ok(v, (uint64_t)(*s - '0'), &v))
			return -ERANGE;
		s++;
	}
	*end = s;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	const char *p, *u;
	uint64_t v, mul = 1;
	int r;

	if (!s)
		return -EINVAL;
	r = read_num(s, &p, &v);
	if (r < 0)
		return r;
	if (*p) {
		u = strchr(units, toupper((unsigned char)*p));
		if (!u || !*u) {
			if (strcasecmp(p, "B") == 0)
				goto done;
			return -EINVAL;
		}
		for (int i = 0; i <= u - units; i++)
			mul *= 1024;
		p++;
		if (strcasecmp(p, "") && strcasecmp(p, "B") &&
		    strcasecmp(p, "iB"))
			return -EINVAL;
	}
done:
	return mul_ok(v, mul, out);
}

static int unit_seconds(char c, uint64_t *secs)
{
	switch (c) {
	case 's': *secs = 1; return 0;
	case 'm': *secs = 60; return 0;
	case 'h': *secs = 3600; return 0;
	case 'd': *secs = 86400; return 0;
	case 'w': *secs = 7 * 86400; return 0;
	}
	return -EINVAL;
}

/* ISO 8601 durations without years and months (their length varies):
 * PnW, PnD, PTnHnMnS, PnDTnHnMnS. */
static int parse_iso_duration(const char *s, uint64_t *seconds)
{
	uint64_t total = 0, v, mul;
	int in_time = 0, any = 0;
	const char *p = s + 1;
	int r;

	while (*p) {
		if (*p == 'T' && !in_time) {
			in_time = 1;
			p++;
			continue;
		}
		r = read_num(p, &p, &v);
		if (r < 0)
			return r;
		switch (*p) {
		case 'W': if (in_time) return -EINVAL; mul = 7 * 86400; break;
		case 'D': if (in_time) return -EINVAL; mul = 86400; break;
		case 'H': if (!in_time) return -EINVAL; mul = 3600; break;
		case 'M': if (!in_time) return -EINVAL; mul = 60; break;
		case 'S': if (!in_time) return -EINVAL; mul = 1; break;
		default: return -EINVAL;
		}
		p++;
		if (mul_ok(v, mul, &v) || add_ok(total, v, &total))
			return -ERANGE;
		any = 1;
	}
	if (!any)
		return -EINVAL;
	*seconds = total;
	return 0;
}

int parse_duration(const char *s, uint64_t *seconds)
{
	uint64_t total = 0, v, mul;
	const char *p = s;
	int r;

	if (!s || !*s)
		return -EINVAL;
	if (*s == 'P')
		return parse_iso_duration(s, seconds);
	while (*p) {
		r = read_num(p, &p, &v);
		if (r < 0)
			return r;
		if (!*p)	/* a bare number is seconds */
			mul = 1;
		else if (unit_seconds(*p++, &mul) < 0)
			return -EINVAL;
		if (mul_ok(v, mul, &v) || add_ok(total, v, &total))
			return -ERANGE;
	}
	*seconds = total;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return d[m - 1] + (m == 2 && leap);
}

int parse_time(const char *s, time_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	struct tm tm;
	time_t t;

	if (!s)
		return -EINVAL;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -EINVAL;
	if (s[n] == 'T' || s[n] == 't' || s[n] == ' ') {
		int m = 0;

		if (sscanf(s + n + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m) != 3 ||
		    m != 8)
			return -EINVAL;
		n += 1 + m;
		if (s[n] == '.') {	/* fractions of a second: dropped */
			n++;
			while (isdigit((unsigned char)s[n]))
				n++;
		}
		if (strcmp(s + n, "Z") && strcmp(s + n, "z") &&
		    strcmp(s + n, "+00:00"))
			return -EINVAL;
	} else if (s[n]) {
		return -EINVAL;
	}
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -ERANGE;
	*out = t;
	return 0;
}

int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "on", "yes", "1" };
	static const char *const no[] = { "false", "off", "no", "0" };

	for (size_t i = 0; s && i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

void format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

void format_duration(uint64_t s, char *buf, size_t len)
{
	static const struct { uint64_t secs; char unit; } u[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};

	/* the largest unit that divides, but a minute is "60s" as SPEC.md
	 * writes key_check_interval's default */
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (s && s % u[i].secs == 0 &&
		    (u[i].unit != 'm' || s >= 120)) {
			snprintf(buf, len, "%llu%c",
				 (unsigned long long)(s / u[i].secs), u[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%llus", (unsigned long long)s);
}

void format_size(uint64_t b, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int i = -1;
	uint64_t v = b;

	while (v >= 1024 && v % 1024 == 0 && i < 5) {
		v /= 1024;
		i++;
	}
	if (i >= 0) {
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[i]);
		return;
	}
	if (b >= 1024 * 1024) {
		double d = (double)b;

		for (i = -1; d >= 1024 && i < 5; i++)
			d /= 1024;
		snprintf(buf, len, "%.1f%c", d, units[i]);
		return;
	}
	snprintf(buf, len, "%llu", (unsigned long long)b);
}

void format_uuid(const uint8_t u[16], char out[UUID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	int o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
}
