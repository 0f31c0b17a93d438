/*
 * check_config.c - the YAML configuration loader
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "util/config.h"

Suite *suite_config(void);

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/ssefs-cfg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write @text to DIR/@name and return its path (static buffer). */
static const char *put(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* Load @text expecting failure; return the error message after "PATH:". */
static const char *load_bad(const char *text, int want)
{
	static char err[512];
	struct config *cfg = NULL;
	const char *p = put("bad.yaml", text);

	ck_assert_int_eq(config_load(&cfg, p, err, sizeof(err)), want);
	ck_assert_ptr_null(cfg);
	ck_assert_int_eq(strncmp(err, p, strlen(p)), 0);
	return err + strlen(p);
}

START_TEST(test_good)
{
	char err[512], opts[256], store[128], text[1024];
	struct config *cfg = NULL;
	const char *p;

	snprintf(store, sizeof(store), "%s/store", dir);
	ck_assert_int_eq(mkdir(store, 0700), 0);
	snprintf(text, sizeof(text),
		 "# a comment\n"
		 "vault:\n"
		 "  dir: /var/lib/ssefs/vault\n"
		 "  keyfile: /etc/ssefs/vault.key\n"
		 "  passphrase_file: \"/etc/ssefs/pass phrase\"\n"
		 "store: /srv/ssefs/store\n"
		 "notify: /usr/local/bin/ssefs-notify\n"
		 "mount:\n"
		 "  revoke_grace: 1h\n"
		 "  caching: ReadOnly\n"
		 "stores:\n"
		 "  %s:\n"
		 "    des: prod\n"
		 "    caching: None\n"
		 "  /elsewhere:\n"
		 "    des: other\n", store);
	p = put("good.yaml", text);
	ck_assert_int_eq(config_load(&cfg, p, err, sizeof(err)), 0);
	ck_assert_str_eq(config_vault_dir(cfg), "/var/lib/ssefs/vault");
	ck_assert_str_eq(config_vault_keyfile(cfg), "/etc/ssefs/vault.key");
	ck_assert_str_eq(config_passphrase_file(cfg), "/etc/ssefs/pass phrase");
	ck_assert_str_eq(config_default_store(cfg), "/srv/ssefs/store");
	ck_assert_str_eq(config_notify(cfg), "/usr/local/bin/ssefs-notify");

	ck_assert_int_eq(config_mount_options(cfg, NULL, opts, sizeof(opts)),
			 0);
	ck_assert_str_eq(opts, "revoke_grace=1h,caching=ReadOnly");
	/* matched by realpath: a different spelling of the same directory */
	snprintf(store, sizeof(store), "%s/./store/", dir);
	ck_assert_int_eq(config_mount_options(cfg, store, opts, sizeof(opts)),
			 0);
	ck_assert_str_eq(opts, "revoke_grace=1h,caching=None,des=prod");
	/* not existing: matched by string */
	ck_assert_int_eq(config_mount_options(cfg, "/elsewhere", opts,
					      sizeof(opts)), 0);
	ck_assert_str_eq(opts, "revoke_grace=1h,caching=ReadOnly,des=other");
	ck_assert_int_eq(config_mount_options(cfg, "/nowhere", opts,
					      sizeof(opts)), 0);
	ck_assert_str_eq(opts, "revoke_grace=1h,caching=ReadOnly");
	ck_assert_int_eq(config_mount_options(cfg, NULL, opts, 10),
			 -ENAMETOOLONG);
	config_free(cfg);
}
END_TEST

START_TEST(test_empty)
{
	char err[512], opts[16];
	struct config *cfg = NULL;

	ck_assert_int_eq(config_load(&cfg, put("e.yaml", ""), err,
				     sizeof(err)), 0);
	ck_assert_ptr_null(config_vault_dir(cfg));
	ck_assert_ptr_null(config_default_store(cfg));
	ck_assert_int_eq(config_mount_options(cfg, "/x", opts, sizeof(opts)),
			 0);
	ck_assert_str_eq(opts, "");
	config_free(cfg);
}
END_TEST

START_TEST(test_unknown_key)
{
	ck_assert_str_eq(load_bad("vault:\n  dir: /v\n  bogus: 1\n", -EINVAL),
			 ":3:3: unknown key 'vault.bogus'");
	ck_assert_str_eq(load_bad("store: /s\n\nfoo: bar\n", -EINVAL),
			 ":3:1: unknown key 'foo'");
}
END_TEST

START_TEST(test_wrong_type)
{
	ck_assert_str_eq(load_bad("vault:\n  dir:\n    - a\n", -EINVAL),
			 ":3:5: 'vault.dir' must be a string");
	ck_assert_str_eq(load_bad("mount: 3\n", -EINVAL),
			 ":1:8: 'mount' must be a mapping");
	ck_assert_str_eq(load_bad("- a\n", -EINVAL),
			 ":1:1: the file must be a mapping");
	ck_assert_str_eq(load_bad("mount:\n  a: {b: c}\n", -EINVAL),
			 ":2:6: mount option 'a' must be a single value");
}
END_TEST

START_TEST(test_malformed)
{
	const char *e = load_bad("vault:\n  dir: /x\n   keyfile: y\n", -EINVAL);

	ck_assert_int_eq(strncmp(e, ":3:", 3), 0);
	e = load_bad("store: [a\n", -EINVAL);
	ck_assert_int_eq(e[0], ':');
	ck_assert_int_eq(strncmp(e, ":2:", 3), 0);
}
END_TEST

START_TEST(test_duplicate)
{
	ck_assert_str_eq(load_bad("store: a\nnotify: b\nstore: c\n", -EINVAL),
			 ":3:1: duplicate key 'store'");
	ck_assert_str_eq(load_bad("mount:\n  x: 1\n  x: 2\n", -EINVAL),
			 ":3:3: duplicate key 'x'");
}
END_TEST

START_TEST(test_missing)
{
	char err[512];
	struct config *cfg = NULL;
	char p[128];

	snprintf(p, sizeof(p), "%s/none.yaml", dir);
	ck_assert_int_eq(config_load(&cfg, p, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(strstr(err, "none.yaml: "));
}
END_TEST

Suite *suite_config(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_wrong_type);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_duplicate);
	tcase_add_test(tc, test_missing);
	suite_add_tcase(s, tc);
	return s;
}
