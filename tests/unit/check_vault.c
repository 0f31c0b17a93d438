/*
 * check_vault.c - the key vault: wrap/unwrap, KWP vectors, key states,
 * sealed-file tampering, the audit chain, passphrases, backup/restore
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "disk/keyops.h"
#include "keyvault/vault.h"
#include "util/io.h"

Suite *suite_vault(void);

static char tmp[256], vdir[300];

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/ssefs-check-vault.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(vdir, sizeof(vdir), "%s/vault", tmp);
}

static void teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}

static struct vault *fresh(void)
{
	struct vault *v = NULL;

	ck_assert_int_eq(vault_init(vdir, "test", NULL), 0);
	ck_assert_int_eq(vault_open(&v, vdir, NULL), 0);
	return v;
}

static void hex(const char *h, unsigned char *out, size_t len)
{
	ck_assert_int_eq(sodium_hex2bin(out, len, h, strlen(h), NULL, NULL,
					NULL), 0);
}

/* NIST ACVP AES-KWP-1.0 (AES-256, encrypt) test cases 1001, 1002, 1025 */
START_TEST(test_kwp_vectors)
{
	static const char *const v[][3] = {
		{ "39FA276B26B762599AA1070192987D0CF8184DDB1C98EEA23F06FF81B63481E0",
		  "8D", "35A739A8A322805B94DEB3CB1A56A008" },
		{ "F80E0BDD0D1B3407F241522045574E3C80CA99D3A6854706047942EB694CDBF3",
		  "C5", "9581CB7E06C38D57C5262A7BD4BD8840" },
		{ "67BA246D02CBBBEDDE0B24C8DD8EE9ECF80DC34ECF0A211B1967BC141265F099",
		  "00", "38AE876F1E45933C75D8B57531B59075" },
	};
	unsigned char key[32], pt[1], ct[16], out[32];
	size_t n;

	for (size_t i = 0; i < 3; i++) {
		hex(v[i][0], key, 32);
		hex(v[i][1], pt, 1);
		hex(v[i][2], ct, 16);
		ck_assert_int_eq(vault_aes_kwp(1, key, pt, 1, out, &n), 0);
		ck_assert_uint_eq(n, 16);
		ck_assert_mem_eq(out, ct, 16);
		ck_assert_int_eq(vault_aes_kwp(0, key, ct, 16, out, &n), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_mem_eq(out, pt, 1);
		ct[3] ^= 1;
		ck_assert_int_eq(vault_aes_kwp(0, key, ct, 16, out, &n), -EBADMSG);
	}
}
END_TEST

static void round_trip(struct vault *v, const char *kid)
{
	struct secbuf *dek = secbuf_new(RNG_DEKBYTES), *back = NULL;
	struct env_layer l;
	struct keyops ops;

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(rng_dek(dek), 0);
	vault_keyops(v, &ops);
	ck_assert_int_eq(ops.wrap(ops.ctx, kid, dek, &l), 0);
	ck_assert_str_eq(l.kid, kid);
	ck_assert_int_eq(ops.unwrap(ops.ctx, &l, &back), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	l.wrapped[l.wrapped_len / 2] ^= 0x40;
	ck_assert_int_eq(ops.unwrap(ops.ctx, &l, &back), -EBADMSG);
	secbuf_free(dek);
}

START_TEST(test_round_trips)
{
	struct vault *v = fresh();
	char kid[VAULT_KID_MAX + 1];
	static const unsigned int bits[] = { 2048, 3072, 4096 };
	char name[16];

	for (size_t i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "rsa%u", bits[i]);
		ck_assert_int_eq(vault_key_create(v, name, bits[i], 0, 0, kid,
						  sizeof(kid)), 0);
		round_trip(v, kid);
	}
	ck_assert_int_eq(vault_resolve(v, "platform", kid, sizeof(kid)), 0);
	ck_assert(strncmp(kid, "vault://test/platform/", 22) == 0);
	round_trip(v, kid);
	ck_assert_int_eq(vault_rotate_platform(v, kid, sizeof(kid)), 0);
	round_trip(v, kid);
	vault_close(v);
}
END_TEST

START_TEST(test_old_version_after_rotations)
{
	struct vault *v = fresh();
	char k1[VAULT_KID_MAX + 1], k3[VAULT_KID_MAX + 1], cur[VAULT_KID_MAX + 1];
	struct secbuf *dek = secbuf_new(RNG_DEKBYTES), *back = NULL;
	struct env_layer l;

	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, 0, k1, sizeof(k1)),
			 0);
	ck_assert_int_eq(vault_wrap(v, k1, dek, &l), 0);
	ck_assert_int_eq(vault_key_rotate(v, "k", k3, sizeof(k3)), 0);
	ck_assert_int_eq(vault_key_rotate(v, "k", k3, sizeof(k3)), 0);
	ck_assert_int_eq(vault_resolve(v, "k", cur, sizeof(cur)), 0);
	ck_assert_str_eq(cur, k3);
	ck_assert_int_eq(vault_unwrap(v, &l, &back), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

START_TEST(test_states)
{
	struct vault *v = fresh();
	char kid[VAULT_KID_MAX + 1], ref[200];
	struct secbuf *dek = secbuf_new(RNG_DEKBYTES), *back = NULL;
	struct vault_key_attrs u;
	const char *ver;
	struct env_layer l;

	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(vault_key_create(v, "s", 2048, 0, 0, kid, sizeof(kid)),
			 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), 0);
	ver = strrchr(kid, '/') + 1;

	memset(&u, 0, sizeof(u));
	u.enabled = 0;
	ck_assert_int_eq(vault_key_set(v, "s", ver, &u), 0);	/* disable */
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_DISABLED);
	ck_assert_int_eq(vault_unwrap(v, &l, &back), -EKEYREVOKED);
	u.enabled = 1;
	ck_assert_int_eq(vault_key_set(v, "s", ver, &u), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_USABLE);

	memset(&u, 0, sizeof(u));
	u.enabled = -1;
	u.set_expires = 1;
	u.expires = time(NULL) - 10;
	ck_assert_int_eq(vault_key_set(v, "s", ver, &u), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_EXPIRED);
	ck_assert_int_eq(vault_unwrap(v, &l, &back), -EKEYEXPIRED);
	u.expires = 0;
	ck_assert_int_eq(vault_key_set(v, "s", ver, &u), 0);

	memset(&u, 0, sizeof(u));
	u.enabled = -1;
	u.set_not_before = 1;
	u.not_before = time(NULL) + 3600;
	ck_assert_int_eq(vault_key_set(v, "s", NULL, &u), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_NOT_YET_VALID);
	ck_assert_int_eq(vault_unwrap(v, &l, &back), -EKEYEXPIRED);
	ck_assert_int_eq(vault_key_state(v, kid, time(NULL) + 7200),
			 KEY_USABLE);
	u.not_before = 0;
	ck_assert_int_eq(vault_key_set(v, "s", NULL, &u), 0);

	ck_assert_int_eq(vault_key_delete(v, "s"), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_DELETED);
	ck_assert_int_eq(vault_unwrap(v, &l, &back), -EKEYREVOKED);
	ck_assert_int_eq(vault_key_create(v, "s", 2048, 0, 0, ref, sizeof(ref)),
			 -EADDRINUSE);
	ck_assert_int_eq(vault_key_purge(v, "s"), -EPERM);
	ck_assert_int_eq(vault_key_recover(v, "s"), 0);
	ck_assert_int_eq(vault_unwrap(v, &l, &back), 0);
	secbuf_free(back);

	memcpy(strrchr(l.kid, '/') + 1, "00000000000000000000000000000000",
	       32);
	ck_assert_int_eq(vault_unwrap(v, &l, &back), -ENOKEY);
	snprintf(l.kid, sizeof(l.kid), "vault://other/keys/s/%s",
		 strrchr(kid, '/') + 1);
	ck_assert_int_eq(vault_unwrap(v, &l, &back), -EXDEV);

	ck_assert_int_eq(vault_set_purge_protection(v, 0), 0);
	ck_assert_int_eq(vault_key_delete(v, "s"), 0);
	ck_assert_int_eq(vault_key_purge(v, "s"), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_MISSING);
	ck_assert_int_eq(key_state_errno(KEY_MISSING), -ENOKEY);
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

START_TEST(test_flipped_bit)
{
	struct vault *v = fresh();
	char kid[VAULT_KID_MAX + 1], path[600], *buf;
	struct secbuf *dek = secbuf_new(RNG_DEKBYTES);
	struct env_layer l;
	size_t len;

	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(vault_key_create(v, "f", 2048, 0, 0, kid, sizeof(kid)),
			 0);
	snprintf(path, sizeof(path), "%s/keys/f/%s.sealed", vdir,
		 strrchr(kid, '/') + 1);
	ck_assert_int_eq(io_read_file(path, 1 << 20, &buf, &len), 0);
	buf[len / 2] ^= 0x01;
	ck_assert_int_eq(io_write_atomic(path, buf, len, 0600), 0);
	free(buf);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), -EBADMSG);
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

static char where[600];

/* Verify the chain; @line is unused (the place is in where[]). */
static int verify(struct vault *v, unsigned long *line)
{
	where[0] = '\0';
	return vault_audit_verify(v, where, sizeof(where), line);
}

static void assert_where(const char *what)
{
	ck_assert_msg(strstr(where, what) != NULL, "\"%s\" not in \"%s\"",
		      what, where);
}

/* Rewrite the audit log through a shell command run in its directory. */
static void edit(const char *sh)
{
	char cmd[1000];

	snprintf(cmd, sizeof(cmd), "cd '%s' && cp audit.log audit.orig && %s",
		 vdir, sh);
	ck_assert_int_eq(system(cmd), 0);
}

static void restore_log(void)
{
	char cmd[1000];

	snprintf(cmd, sizeof(cmd), "cd '%s' && mv audit.orig audit.log",
		 vdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_audit_chain)
{
	struct vault *v = fresh();
	unsigned long line = 99;
	int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(vault_audit(v, "test", NULL, 0), 0);
	ck_assert_int_eq(verify(v, &line), 0);

	edit("sed -i '3s/\"op\":\"test\"/\"op\":\"tset\"/' audit.log");
	ck_assert_int_eq(verify(v, &line), -EBADMSG);
	assert_where("line 3:");
	restore_log();

	edit("sed -i 2d audit.log");
	ck_assert_int_eq(verify(v, &line), -EBADMSG);
	assert_where("line 2:");
	restore_log();

	edit("(sed -n 1p audit.orig; sed -n 3p audit.orig; "
	     "sed -n 2p audit.orig; sed -n '4,$p' audit.orig) > audit.log");
	ck_assert_int_eq(verify(v, &line), -EBADMSG);
	assert_where("line 2:");
	restore_log();

	edit("sed -i '$d' audit.log");
	ck_assert_int_eq(verify(v, &line), -EBADMSG);
	assert_where("cut off");	/* the tail */
	restore_log();

	ck_assert_int_eq(verify(v, &line), 0);
	vault_close(v);
}
END_TEST

START_TEST(test_audit_rotation)
{
	struct vault *v = fresh();
	char path[600];
	unsigned long line;
	int i;

	setenv("SSEFS_AUDIT_ROTATE_BYTES", "700", 1);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(vault_audit(v, "test", NULL, 0), 0);
	unsetenv("SSEFS_AUDIT_ROTATE_BYTES");
	snprintf(path, sizeof(path), "%s/audit.log.3", vdir);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(verify(v, &line), 0);
	snprintf(path, sizeof(path), "%s/audit.log.2", vdir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(verify(v, &line), -EBADMSG);
	vault_close(v);
}
END_TEST

START_TEST(test_passphrase)
{
	struct vault_unlock u = { NULL, NULL };
	struct vault *v = NULL;
	char pw[400], bad[400], meta[400], *before, *after;
	size_t lb, la;
	FILE *f;

	snprintf(pw, sizeof(pw), "%s/pw", tmp);
	snprintf(bad, sizeof(bad), "%s/bad", tmp);
	f = fopen(pw, "w");
	fputs("s3cret\n", f);
	fclose(f);
	f = fopen(bad, "w");
	fputs("s3cret!\n", f);
	fclose(f);
	u.passphrase_file = pw;
	ck_assert_int_eq(vault_init(vdir, "pp", &u), 0);
	ck_assert_int_eq(vault_init(vdir, "pp", &u), -EEXIST);
	snprintf(meta, sizeof(meta), "%s/vault.meta", vdir);
	ck_assert_int_eq(io_read_file(meta, 1 << 20, &before, &lb), 0);
	u.passphrase_file = bad;
	ck_assert_int_eq(vault_open(&v, vdir, &u), -EACCES);
	ck_assert_int_eq(io_read_file(meta, 1 << 20, &after, &la), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert_mem_eq(before, after, la);
	free(before);
	free(after);
	u.passphrase_file = pw;
	ck_assert_int_eq(vault_open(&v, vdir, &u), 0);
	ck_assert_str_eq(vault_name(v), "pp");
	vault_close(v);
}
END_TEST

START_TEST(test_permissions)
{
	struct vault *v = fresh();
	char key[400];

	vault_close(v);
	snprintf(key, sizeof(key), "%s.key", vdir);
	ck_assert_int_eq(chmod(key, 0644), 0);
	ck_assert_int_eq(vault_open(&v, vdir, NULL), -EPERM);
	ck_assert_str_eq(vault_open_failed_path(), key);
	ck_assert_int_eq(chmod(key, 0600), 0);
	ck_assert_int_eq(chmod(vdir, 0755), 0);
	ck_assert_int_eq(vault_open(&v, vdir, NULL), -EPERM);
	ck_assert_str_eq(vault_open_failed_path(), vdir);
	ck_assert_int_eq(chmod(vdir, 0700), 0);
	ck_assert_int_eq(vault_open(&v, vdir, NULL), 0);
	vault_close(v);
}
END_TEST

START_TEST(test_backup_restore)
{
	struct vault *v = fresh(), *r = NULL;
	char kid[VAULT_KID_MAX + 1], bak[400], dir2[400], cmd[1000];
	struct secbuf *dek = secbuf_new(RNG_DEKBYTES), *back = NULL;
	struct vault_unlock u = { NULL, NULL };
	struct env_layer l, p;

	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(vault_key_create(v, "b", 2048, 0, 0, kid, sizeof(kid)),
			 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), 0);
	ck_assert_int_eq(vault_resolve(v, "platform", kid, sizeof(kid)), 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &p), 0);
	snprintf(bak, sizeof(bak), "%s/bak", tmp);
	snprintf(dir2, sizeof(dir2), "%s/restored", tmp);
	ck_assert_int_eq(vault_backup(v, bak), 0);
	ck_assert_int_eq(vault_restore(bak, vdir), -EEXIST);
	ck_assert_int_eq(vault_restore(bak, dir2), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s.key' '%s.key'", vdir, dir2);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(vault_open(&r, dir2, &u), 0);
	ck_assert_int_eq(vault_unwrap(r, &l, &back), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	ck_assert_int_eq(vault_unwrap(r, &p, &back), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	{
		char f[600];
		unsigned long line;

		ck_assert_int_eq(vault_audit_verify(r, f, sizeof(f), &line),
				 0);
	}
	secbuf_free(dek);
	vault_close(r);
	vault_close(v);
}
END_TEST

START_TEST(test_disks)
{
	struct vault *v = fresh();
	struct vault_disk d, *list = NULL;
	size_t n = 0;

	memset(&d, 0, sizeof(d));
	snprintf(d.uuid, sizeof(d.uuid), "11111111-2222-3333-4444-555555555555");
	snprintf(d.path, sizeof(d.path), "/store/a disk.vhd");
	ck_assert_int_eq(vault_disk_put(v, &d), 0);
	snprintf(d.des, sizeof(d.des), "des1");
	ck_assert_int_eq(vault_disk_put(v, &d), 0);
	ck_assert_int_eq(vault_disk_list(v, &list, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].path, "/store/a disk.vhd");
	ck_assert_str_eq(list[0].des, "des1");
	ck_assert_str_eq(list[0].kid, "");
	free(list);
	ck_assert_int_eq(vault_disk_del(v, d.uuid), 0);
	ck_assert_int_eq(vault_disk_del(v, d.uuid), -ENOENT);
	ck_assert_int_eq(vault_disk_list(v, &list, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(list);
	vault_close(v);
}
END_TEST

Suite *suite_vault(void)
{
	Suite *s = suite_create("vault");
	TCase *tc = tcase_create("vault");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_kwp_vectors);
	tcase_add_test(tc, test_round_trips);
	tcase_add_test(tc, test_old_version_after_rotations);
	tcase_add_test(tc, test_states);
	tcase_add_test(tc, test_flipped_bit);
	tcase_add_test(tc, test_audit_chain);
	tcase_add_test(tc, test_audit_rotation);
	tcase_add_test(tc, test_passphrase);
	tcase_add_test(tc, test_permissions);
	tcase_add_test(tc, test_backup_restore);
	tcase_add_test(tc, test_disks);
	suite_add_tcase(s, tc);
	return s;
}
