/*
 * check_trust.c - StrictModes checks of folders, and disk-name escaping
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "util/name.h"
#include "util/trust.h"

Suite *suite_trust(void);

static char top[] = "/tmp/ssefs-check-trust.XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(top));
	chmod(top, 0755);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(top, "/tmp/ssefs-check-trust.XXXXXX");
}

START_TEST(test_dir_rules)
{
	char p[256], q[256], why[1024];
	uid_t me = geteuid();

	/* made 0700 with its parents; /tmp above it is sticky: fine */
	snprintf(p, sizeof(p), "%s/a/b", top);
	ck_assert_int_eq(trust_mkdir(p, 0700, me, TRUST_NOFOLLOW, why,
				     sizeof(why)), 0);
	ck_assert_str_eq(why, "");
	/* group or world writable: refused, the fix named */
	chmod(p, 0770);
	ck_assert_int_eq(trust_dir(p, me, 0, why, sizeof(why)), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "chmod go-w"));
	chmod(p, 0700);
	/* a parent writable by others, not sticky: refused; sticky: fine */
	snprintf(q, sizeof(q), "%s/a", top);
	chmod(q, 0777);
	ck_assert_int_eq(trust_dir(p, me, 0, why, sizeof(why)), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "a folder above"));
	chmod(q, 01777);
	ck_assert_int_eq(trust_dir(p, me, 0, why, sizeof(why)), 0);
	chmod(q, 0755);
	/* owned by another user (not root) */
	if (me == 0) {
		ck_assert_int_eq(chown(p, 65534, 65534), 0);
		ck_assert_int_eq(trust_dir(p, 0, 0, why, sizeof(why)), -EPERM);
		ck_assert_ptr_nonnull(strstr(why, "is owned by"));
		ck_assert_int_eq(chown(p, 0, 0), 0);
	}
	/* a link: refused with NOFOLLOW, else followed */
	snprintf(q, sizeof(q), "%s/link", top);
	ck_assert_int_eq(symlink(p, q), 0);
	ck_assert_int_eq(trust_dir(q, me, TRUST_NOFOLLOW, why, sizeof(why)),
			 -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "symbolic link"));
	ck_assert_int_eq(trust_dir(q, me, 0, why, sizeof(why)), 0);
	/* not there, not a folder */
	snprintf(q, sizeof(q), "%s/none", top);
	ck_assert_int_eq(trust_dir(q, me, 0, why, sizeof(why)), -ENOENT);
	snprintf(q, sizeof(q), "%s/file", top);
	fclose(fopen(q, "w"));
	ck_assert_int_eq(trust_dir(q, me, 0, why, sizeof(why)), -ENOTDIR);
}
END_TEST

START_TEST(test_names)
{
	char b[64];

	ck_assert_int_eq(name_has_ctrl("a b.vhd"), 0);
	ck_assert_int_eq(name_has_ctrl("caf\xc3\xa9.vhd"), 0);
	ck_assert_int_eq(name_has_ctrl("a\nb"), 1);
	ck_assert_int_eq(name_has_ctrl("a\x7f"), 1);
	ck_assert_str_eq(name_escape("a\nb\tc\rd\x01\x7f", b, sizeof(b)),
			 "a\\nb\\tc\\rd\\x01\\x7f");
	/* truncated, never mid-escape */
	ck_assert_str_eq(name_escape("ab\n", b, 4), "ab");
	ck_assert_str_eq(name_escape("abc", b, 1), "");
}
END_TEST

Suite *suite_trust(void)
{
	Suite *s = suite_create("trust");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dir_rules);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}
