/*
 * name.h - disk names as a person and a line-based file can take them
 *
 * A name with a control character (newline, tab, ... 0x01-0x1f, 0x7f) is
 * refused where a disk is made; one made before, or put in a store by
 * hand, is shown escaped.
 */
#ifndef SSEFS_UTIL_NAME_H
#define SSEFS_UTIL_NAME_H

#include <stddef.h>

/* 1 when @s holds a byte 0x01-0x1f or 0x7f. */
int name_has_ctrl(const char *s);

/*
 * Copy @s to @buf (@len bytes, always NUL-terminated) with each control
 * character written as \n, \t, \r or \xNN; truncated to fit.
 * Return: @buf, so it can sit in a printf argument list.
 */
const char *name_escape(const char *s, char *buf, size_t len);

#endif /* SSEFS_UTIL_NAME_H */
