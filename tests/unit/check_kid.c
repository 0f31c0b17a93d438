/*
 * check_kid.c - key identifier grammar
 */
#include <errno.h>
#include <string.h>

#include <check.h>

#include "keyvault/kid.h"

Suite *suite_kid(void);

#define V32 "0123456789abcdef0123456789abcdef"

START_TEST(test_round_trip)
{
	static const char *const good[] = {
		"vault://prod/keys/k1/" V32,
		"vault://a-b/keys/Key-2/" V32,
		"vault://prod/platform/" V32,
	};
	struct kid k;
	char buf[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(kid_parse(good[i], &k), 0);
		ck_assert_int_eq(kid_format(&k, buf, sizeof(buf)), 0);
		ck_assert_str_eq(buf, good[i]);
	}
	ck_assert_int_eq(kid_parse(good[2], &k), 0);
	ck_assert_int_eq(k.platform, 1);
	ck_assert_str_eq(k.vault, "prod");
}
END_TEST

START_TEST(test_rejects)
{
	static const char *const bad[] = {
		"", "vault://", "vault://prod/keys/k1", "vault://prod/keys/k1/",
		"vault://prod/keys/k1/" V32 "/x", "vault://Prod/keys/k1/" V32,
		"vault://prod/keys/k_1/" V32, "vault://prod/keys/k1/" "0123",
		"vault://prod/keys/k1/0123456789ABCDEF0123456789abcdef",
		"http://prod/keys/k1/" V32, "vault://prod/secrets/k1/" V32,
		"vault://prod/platform/x/" V32,
		"vault://abcdefghijklmnopqrstuvwxy/keys/k/" V32,
	};
	struct kid k;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(kid_parse(bad[i], &k) < 0, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_refs)
{
	char name[KID_NAME_MAX + 1], ver[KID_VERSION_LEN + 1];

	ck_assert_int_eq(kid_split_ref("k1", name, ver), 0);
	ck_assert_str_eq(name, "k1");
	ck_assert_str_eq(ver, "");
	ck_assert_int_eq(kid_split_ref("k1/" V32, name, ver), 0);
	ck_assert_str_eq(ver, V32);
	ck_assert_int_lt(kid_split_ref("k1/", name, ver), 0);
	ck_assert_int_lt(kid_split_ref("k1/xyz", name, ver), 0);
	ck_assert_int_lt(kid_split_ref("", name, ver), 0);
	ck_assert_int_lt(kid_split_ref("a b", name, ver), 0);
}
END_TEST

/* kid_ref_why() names the part at fault, and agrees with the parsers. */
START_TEST(test_ref_why)
{
	static const struct { const char *ref, *want; } cases[] = {
		{ "k1/xyz", "VERSION \"xyz\" has 'x' at position 1" },
		{ "k1/abc", "VERSION \"abc\" has 3 digits" },
		{ "k1/", "VERSION after '/' is empty" },
		{ "/" V32, "NAME is empty" },
		{ "", "NAME is empty" },
		{ "a b", "NAME \"a b\" has ' ' at position 2" },
		{ "-k", "NAME \"-k\" starts with '-'" },
		{ "k1/" V32 "0", "VERSION \"" V32 "0\" has 33 digits" },
		{ "k1/" V32 "/x", "more than NAME/VERSION" },
		{ "k1/0123456789ABCDEF0123456789abcdef", "has 'A' at position 11" },
		{ "vault://Prod/keys/k1/" V32, "VAULT \"Prod\" has 'P'" },
		{ "vault://prod/secrets/k1/" V32, "after VAULT a kid has" },
		{ "vault://prod/keys/k1", "a kid is vault://" },
		{ "vault://prod/keys/k1/xyz", "VERSION \"xyz\"" },
	};
	char why[256], name[KID_NAME_MAX + 1], ver[KID_VERSION_LEN + 1];
	char big[300];
	struct kid k;

	ck_assert_int_eq(kid_ref_why("k1", why, sizeof(why)), 0);
	ck_assert_str_eq(why, "");
	ck_assert_int_eq(kid_ref_why("k1/" V32, why, sizeof(why)), 0);
	ck_assert_int_eq(kid_ref_why("vault://prod/keys/k1/" V32, why,
				     sizeof(why)), 0);
	ck_assert_int_eq(kid_ref_why("vault://prod/platform/" V32, why,
				     sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(kid_ref_why(cases[i].ref, why, sizeof(why)),
				 -EINVAL);
		ck_assert_msg(strstr(why, cases[i].want), "%s: said '%s'",
			      cases[i].ref, why);
		if (strncmp(cases[i].ref, "vault://", 8))
			ck_assert_int_lt(kid_split_ref(cases[i].ref, name,
						       ver), 0);
		else
			ck_assert_int_lt(kid_parse(cases[i].ref, &k), 0);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(kid_ref_why(big, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "NAME has 299 characters, at most 127");
}
END_TEST

Suite *suite_kid(void)
{
	Suite *s = suite_create("kid");
	TCase *tc = tcase_create("grammar");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_rejects);
	tcase_add_test(tc, test_refs);
	tcase_add_test(tc, test_ref_why);
	suite_add_tcase(s, tc);
	return s;
}
