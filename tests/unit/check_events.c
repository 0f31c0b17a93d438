/*
 * check_events.c - the notify command gets the event as JSON on stdin
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "keyvault/events.h"
#include "util/io.h"

Suite *suite_events(void);

START_TEST(test_notify_stdin)
{
	char dir[] = "/tmp/ssefs-ev-XXXXXX", cmd[1024], out[300];
	struct event ev = {
		.type = EV_KEY_ROTATED, .time = 1801353600, .vault = "v",
		.kid = "vault://v/keys/k1/0123456789abcdef0123456789abcdef",
		.key = "k1", .detail = "a \"quoted\" detail",
	};
	char *got = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/ev", dir);
	snprintf(cmd, sizeof(cmd), "cat >'%s'; echo \"$SSEFS_EVENT\" >>'%s'",
		 out, out);
	ck_assert_int_eq(event_notify(cmd, &ev), 0);
	ck_assert_int_eq(io_read_file(out, 4096, &got, NULL), 0);
	ck_assert_str_eq(got,
		"{\"event\":\"KeyRotated\",\"time\":\"2027-01-31T00:00:00Z\","
		"\"vault\":\"v\",\"kid\":\"vault://v/keys/k1/"
		"0123456789abcdef0123456789abcdef\",\"key\":\"k1\","
		"\"detail\":\"a \\\"quoted\\\" detail\"}\nKeyRotated\n");
	free(got);
	unlink(out);
	rmdir(dir);
}
END_TEST

START_TEST(test_notify_status)
{
	struct event ev = { .type = EV_KEY_EXPIRED };

	ck_assert_int_eq(event_notify(NULL, &ev), 0);
	ck_assert_int_eq(event_notify("exit 7", &ev), 7);
	/* a command that never reads its input still gets it, then fails */
	ck_assert_int_eq(event_notify("exec 0<&-; exit 3", &ev), 3);
}
END_TEST

Suite *suite_events(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("notify");

	tcase_add_test(tc, test_notify_stdin);
	tcase_add_test(tc, test_notify_status);
	suite_add_tcase(s, tc);
	return s;
}
