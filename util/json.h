/*
 * json.h - a small streaming JSON writer for --json output, events and the
 * audit log
 *
 *	struct json j;
 *	json_init(&j, stdout, JSON_PRETTY);
 *	json_obj_begin(&j, NULL);
 *	json_str(&j, "name", "k1");
 *	json_int(&j, "size", 2048);
 *	json_arr_begin(&j, "versions"); ... json_arr_end(&j);
 *	json_obj_end(&j);
 *	json_end(&j);			(newline; returns ferror state)
 *
 * Inside an object every value takes a key; inside an array the key is NULL.
 * Strings are escaped as RFC 8259 asks; invalid UTF-8 bytes become U+FFFD.
 */
#ifndef SSEFS_UTIL_JSON_H
#define SSEFS_UTIL_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_PRETTY	0x1	/* indent by two; else one line */
#define JSON_MAX_DEPTH	16

struct json {
	FILE *f;
	int flags;
	int depth;
	int first[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *f, int flags);
void json_obj_begin(struct json *j, const char *key);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_str(struct json *j, const char *key, const char *val); /* NULL: null */
void json_int(struct json *j, const char *key, int64_t val);
void json_uint(struct json *j, const char *key, uint64_t val);
void json_bool(struct json *j, const char *key, int val);
void json_null(struct json *j, const char *key);
/* An RFC 3339 UTC time string, or null for 0. */
void json_time(struct json *j, const char *key, int64_t t);
/* Write a newline; return 0 or -EIO if the stream had an error. */
int json_end(struct json *j);

/* Write @s as a JSON string literal (quotes included) to @f. */
void json_write_string(FILE *f, const char *s);

#endif /* SSEFS_UTIL_JSON_H */
