/*
 * check_des.c - disk encryption sets: storage round trip, previous keys,
 * names, a damaged file
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "crypto/envelope.h"
#include "keyvault/des.h"

Suite *suite_des(void);

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/ssefs-des-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void sample(struct des *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	strcpy(d->key, "k1");
	strcpy(d->active_kid, "vault://v/keys/k1/0123456789abcdef0123456789abcdef");
	d->type = ENV_TYPE_PLATFORM_AND_CUSTOMER;
	d->auto_rotate = 1;
	d->created = 1801353600;
	strcpy(d->rotation_error, "a \"quoted\": error\nwith a newline");
}

START_TEST(test_round_trip)
{
	struct des d, got, *all;
	size_t n;

	sample(&d, "zeta");
	des_push_previous(&d, "vault://v/keys/k1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	ck_assert_int_eq(des_create(dir, &d), 0);
	sample(&d, "alpha");
	d.auto_rotate = 0;
	strcpy(d.version, "0123456789abcdef0123456789abcdef");
	ck_assert_int_eq(des_create(dir, &d), 0);
	ck_assert_int_eq(des_create(dir, &d), -EEXIST);

	ck_assert_int_eq(des_list(dir, &all, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(all[0].name, "alpha");		/* sorted */
	ck_assert_mem_eq(&all[0], &d, sizeof(d));
	free(all);
	ck_assert_int_eq(des_get(dir, "zeta", &got), 0);
	ck_assert_uint_eq(got.nprevious, 1);
	ck_assert_int_eq(got.auto_rotate, 1);
	ck_assert_uint_eq(got.type, ENV_TYPE_PLATFORM_AND_CUSTOMER);
	ck_assert_str_eq(got.rotation_error, d.rotation_error);
	ck_assert_int_eq(des_delete(dir, "zeta"), 0);
	ck_assert_int_eq(des_get(dir, "zeta", &got), -ENOENT);
	ck_assert_int_eq(des_delete(dir, "zeta"), -ENOENT);
}
END_TEST

/* Deleting the last set leaves a file that still reads (as no sets), and
 * a file that an earlier build left with a bare "sets:" reads too. */
START_TEST(test_last_deleted)
{
	struct des d, *all;
	char path[128];
	size_t n;
	FILE *f;

	sample(&d, "only");
	ck_assert_int_eq(des_create(dir, &d), 0);
	ck_assert_int_eq(des_delete(dir, "only"), 0);
	ck_assert_int_eq(des_list(dir, &all, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(all);
	ck_assert_int_eq(des_create(dir, &d), 0);

	snprintf(path, sizeof(path), "%s/des.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("version: 1\nsets:\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(des_list(dir, &all, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(all);
}
END_TEST

START_TEST(test_previous)
{
	char kid[64];
	struct des d;

	sample(&d, "p");
	des_push_previous(&d, d.active_kid);	/* the active one: no */
	ck_assert_uint_eq(d.nprevious, 0);
	for (int i = 0; i < DES_MAX_PREVIOUS + 3; i++) {
		snprintf(kid, sizeof(kid), "kid-%d", i);
		des_push_previous(&d, kid);
		des_push_previous(&d, kid);	/* no duplicates */
	}
	ck_assert_uint_eq(d.nprevious, DES_MAX_PREVIOUS);
	ck_assert_str_eq(d.previous[0], "kid-3");	/* oldest fell off */
	des_drop_previous(&d, "kid-5");
	ck_assert_uint_eq(d.nprevious, DES_MAX_PREVIOUS - 1);
	ck_assert_str_eq(d.previous[2], "kid-6");
}
END_TEST

/* The key a set moves away from is remembered; moving back forgets it. */
START_TEST(test_set_active)
{
	char first[sizeof(((struct des *)0)->active_kid)];
	struct des d;

	sample(&d, "a");
	snprintf(first, sizeof(first), "%s", d.active_kid);
	des_set_active(&d, "vault://v/keys/k1/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	ck_assert_str_eq(d.active_kid,
			 "vault://v/keys/k1/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	ck_assert_uint_eq(d.nprevious, 1);
	ck_assert_str_eq(d.previous[0], first);
	des_set_active(&d, first);		/* back to the older one */
	ck_assert_str_eq(d.active_kid, first);
	ck_assert_uint_eq(d.nprevious, 1);
	ck_assert_str_eq(d.previous[0],
			 "vault://v/keys/k1/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
}
END_TEST

START_TEST(test_names_and_damage)
{
	struct des d, *all;
	size_t n;
	FILE *f;
	char path[128];

	ck_assert(des_valid_name("prod_db-1"));
	ck_assert(!des_valid_name(""));
	ck_assert(!des_valid_name("a b"));
	ck_assert(!des_valid_name("a/b"));
	sample(&d, "bad name");
	ck_assert_int_eq(des_create(dir, &d), -EINVAL);
	/* no file yet: no sets */
	ck_assert_int_eq(des_list(dir, &all, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(all);
	snprintf(path, sizeof(path), "%s/des.yaml", dir);
	f = fopen(path, "w");
	fputs("version: 1\nsets:\n  - name: \"x\"\n    key: [unclosed\n", f);
	fclose(f);
	ck_assert_int_eq(des_list(dir, &all, &n), -EBADMSG);
	f = fopen(path, "w");
	fputs("version: 1\nsets:\n  - name: \"has space\"\n    key: \"k\"\n", f);
	fclose(f);
	ck_assert_int_eq(des_list(dir, &all, &n), -EBADMSG);
}
END_TEST

Suite *suite_des(void)
{
	Suite *s = suite_create("des");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_last_deleted);
	tcase_add_test(tc, test_previous);
	tcase_add_test(tc, test_set_active);
	tcase_add_test(tc, test_names_and_damage);
	suite_add_tcase(s, tc);
	return s;
}
