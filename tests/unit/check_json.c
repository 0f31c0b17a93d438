/*
 * check_json.c - the JSON writer's output, escaping and nesting
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "util/json.h"

Suite *suite_json(void);

START_TEST(test_compact)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	json_init(&j, f, 0);
	json_obj_begin(&j, NULL);
	json_str(&j, "s", "a\"b\\c\n\x01\xff");
	json_int(&j, "i", -5);
	json_arr_begin(&j, "a");
	json_uint(&j, NULL, 1);
	json_bool(&j, NULL, 0);
	json_null(&j, NULL);
	json_arr_end(&j);
	json_obj_begin(&j, "e");
	json_obj_end(&j);
	json_time(&j, "t", 1801353600);
	json_obj_end(&j);
	ck_assert_int_eq(json_end(&j), 0);
	fclose(f);
	ck_assert_str_eq(buf, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\ufffd\",\"i\":-5,"
			 "\"a\":[1,false,null],\"e\":{},"
			 "\"t\":\"2027-01-31T00:00:00Z\"}\n");
	free(buf);
}
END_TEST

Suite *suite_json(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("writer");

	tcase_add_test(tc, test_compact);
	suite_add_tcase(s, tc);
	return s;
}
