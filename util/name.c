/*
 * name.c - disk names as a person and a line-based file can take them
 */
#include <stdio.h>
#include <string.h>

#include "util/name.h"

static int is_ctrl(unsigned char c)
{
	return (c >= 0x01 && c <= 0x1f) || c == 0x7f;
}

int name_has_ctrl(const char *s)
{
	for (; *s; s++)
		if (is_ctrl((unsigned char)*s))
			return 1;
	return 0;
}

const char *name_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return buf;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[5];
		size_t n;

		if (!is_ctrl(c)) {
			e[0] = (char)c;
			e[1] = '\0';
		} else if (c == '\n' || c == '\t' || c == '\r') {
			e[0] = '\\';
			e[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			e[2] = '\0';
		} else {
			snprintf(e, sizeof(e), "\\x%02x", c);
		}
		n = strlen(e);
		if (o + n >= len)
			break;
		memcpy(buf + o, e, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}
