/*
 * check_args.c - SIZE, DUR and T parsing
 */
#include <errno.h>
#include <string.h>

#include <check.h>

#include "util/parse.h"

Suite *suite_args(void);

START_TEST(test_sizes)
{
	static const struct { const char *in; uint64_t want; } ok[] = {
		{ "512", 512 }, { "64M", 64ull << 20 }, { "10G", 10ull << 30 },
		{ "1T", 1ull << 40 }, { "4k", 4096 }, { "2MiB", 2ull << 20 },
		{ "100B", 100 },
	};
	static const char *const bad[] = { "", "M", "12X", "1.5G", "-1",
					   "99999999999999999999", "16E" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(parse_size(ok[i].in, &v), 0);
		ck_assert_uint_eq(v, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_lt(parse_size(bad[i], &v), 0);
}
END_TEST

START_TEST(test_durations)
{
	static const struct { const char *in; uint64_t want; } ok[] = {
		{ "30s", 30 }, { "1h", 3600 }, { "90d", 90 * 86400 },
		{ "1h30m", 5400 }, { "P90D", 90 * 86400 }, { "PT1H", 3600 },
		{ "P1DT12H", 129600 }, { "P2W", 14 * 86400 }, { "0", 0 },
		{ "PT0S", 0 },
	};
	static const char *const bad[] = { "", "P", "PT", "1y", "h", "P1H",
					   "PT1D", "1.5h" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(parse_duration(ok[i].in, &v), 0);
		ck_assert_uint_eq(v, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_lt(parse_duration(bad[i], &v), 0);
}
END_TEST

START_TEST(test_times)
{
	char buf[32];
	time_t t;

	ck_assert_int_eq(parse_time("2027-01-31T00:00:00Z", &t), 0);
	ck_assert_int_eq(t, 1801353600);
	ck_assert_int_eq(parse_time("2027-01-31", &t), 0);
	ck_assert_int_eq(t, 1801353600);
	format_time(t, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2027-01-31T00:00:00Z");
	ck_assert_int_lt(parse_time("2027-02-30", &t), 0);
	ck_assert_int_lt(parse_time("2027-01-31T00:00:00", &t), 0);
	ck_assert_int_lt(parse_time("2027-01-31T25:00:00Z", &t), 0);
	ck_assert_int_lt(parse_time("31/01/2027", &t), 0);
}
END_TEST

Suite *suite_args(void)
{
	Suite *s = suite_create("args");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_times);
	suite_add_tcase(s, tc);
	return s;
}
