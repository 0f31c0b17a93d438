/*
 * check_vault.c - the key vault with real keys in real directories
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* One vault with three RSA keys, made once (RSA-4096 is slow). */
static char top[] = "/tmp/ssefs-check-vault-XXXXXX";
static char shared[4200];
static char kid2048[VAULT_KID_MAX + 1], kid3072[VAULT_KID_MAX + 1];
static char kid4096[VAULT_KID_MAX + 1];

static void rm_rf(const char *p)
{
	char cmd[4400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", p);
}

static struct vault *open_dir(const char *dir)
{
	struct vault *v = NULL;

	ck_assert_int_eq(vault_open(&v, dir, NULL, NULL), 0);
	return v;
}

static void setup_shared(void)
{
	struct vault *v;

	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(shared, sizeof(shared), "%s/shared/vault", top);
	ck_assert_int_eq(vault_init(shared, "unit", NULL, NULL), 0);
	v = open_dir(shared);
	ck_assert_int_eq(vault_key_create(v, "r2048", 2048, 0, 0, kid2048,
					  sizeof(kid2048)), 0);
	ck_assert_int_eq(vault_key_create(v, "r3072", 3072, 0, 0, kid3072,
					  sizeof(kid3072)), 0);
	ck_assert_int_eq(vault_key_create(v, "r4096", 4096, 0, 0, kid4096,
					  sizeof(kid4096)), 0);
	vault_close(v);
}

static void teardown_shared(void)
{
	rm_rf(top);
}

/* A fresh vault for one test: TOP/NAME/vault. */
static struct vault *fresh(const char *name, char *dir, size_t len)
{
	snprintf(dir, len, "%s/%s/vault", top, name);
	ck_assert_int_eq(vault_init(dir, "fresh", NULL, NULL), 0);
	return open_dir(dir);
}

static struct secbuf *new_dek(void)
{
	struct secbuf *d = secbuf_new(RNG_DEKBYTES);

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(rng_dek(d), 0);
	return d;
}

static void round_trip(struct vault *v, const char *kid, int alg)
{
	struct secbuf *dek = new_dek(), *back = NULL;
	struct env_layer l;

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), 0);
	ck_assert_int_eq(l.wrap_alg, alg);
	ck_assert_str_eq(l.kid, kid);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	/* A flipped bit in the wrapped DEK never yields a key. */
	l.wrapped[l.wrapped_len / 2] ^= 1;
	back = NULL;
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), -EBADMSG);
	ck_assert_ptr_null(back);
	secbuf_free(dek);
}

START_TEST(test_rsa_round_trips)
{
	struct vault *v = open_dir(shared);
	char kid[VAULT_KID_MAX + 1];

	round_trip(v, kid2048, ENV_WRAP_RSA_OAEP_256);
	round_trip(v, kid3072, ENV_WRAP_RSA_OAEP_256);
	round_trip(v, kid4096, ENV_WRAP_RSA_OAEP_256);
	ck_assert_int_eq(vault_resolve(v, "platform", kid, sizeof(kid)), 0);
	round_trip(v, kid, ENV_WRAP_AES_KWP);
	vault_close(v);
}
END_TEST

static void unhex(uint8_t *out, const char *hex, size_t *n)
{
	size_t got;

	ck_assert_int_eq(sodium_hex2bin(out, 256, hex, strlen(hex), NULL,
					&got, NULL), 0);
	*n = got;
}

/* AES-256 KWP known answer (RFC 5649's plaintext under a 256-bit KEK, as
 * in OpenSSL's evpciph_aes_wrap.txt), through vault_aes_kwp(). */
START_TEST(test_kwp_known_answer)
{
	uint8_t key[64], p[64], c[64], out[96];
	size_t kn, pn, cn, on;

	unhex(key, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"
		   "0001020304050607", &kn);
	unhex(p, "c37b7e6492584340bed12207808941155068f738", &pn);
	unhex(c, "a3696fe696c7baa90972a62d5a334c353ca01cd2d02cb407"
		 "d72a231e01ead9dd", &cn);
	ck_assert_uint_eq(kn, 32);
	ck_assert_int_eq(vault_aes_kwp(1, key, p, pn, out, &on), 0);
	ck_assert_uint_eq(on, cn);
	ck_assert_mem_eq(out, c, cn);
	ck_assert_int_eq(vault_aes_kwp(0, key, c, cn, out, &on), 0);
	ck_assert_uint_eq(on, pn);
	ck_assert_mem_eq(out, p, pn);
	c[3] ^= 0x80;
	ck_assert_int_eq(vault_aes_kwp(0, key, c, cn, out, &on), -EBADMSG);
	c[3] ^= 0x80;
	key[31] ^= 1;
	ck_assert_int_eq(vault_aes_kwp(0, key, c, cn, out, &on), -EBADMSG);
}
END_TEST

/* Wycheproof aes_kwp_test.json, 256-bit KEK group: valid cases (tcId 166,
 * 167, 168, 171, 179) wrap to the given ciphertext and unwrap back; the
 * ModifiedPadding cases (tcId 186, 194, 210, 226) must not unwrap. */
static const struct kwp_vec {
	const char *key, *msg, *ct;
	int valid;
} kwp_vecs[] = {
	{ "fdcfa902c6f222f527af84da533b14b52e2615da3a89d1d35708b0cd49f60d87",
	  "966b07047354966a703e79607b556032f4f596b7f9206f05",
	  "cfdbbd95f187508a488fe017c5e5d5a5975b68441d520e0e931922388e28784c",
	  1 },
	{ "38e1b1d075d9d852b9a6c01c8ff6965af01bac457a4e339ae3e1d7b2ffacc0cd",
	  "80ad6820f1c90981e2ca42b817a345c1179d0a11d8e23a8adc0505e13d87295a",
	  "b63b7e0fec7e315816233db6758fd3e744b9f6a40862bdf866487e53bcb950d8"
	  "b2649269e51b4475", 1 },
	{ "c641f1689d81caa8ba37d895272240664054ed974cfffc40e6c5c0cad1b916c7",
	  "3fd0ba19955e46749f54d88e99d080b7339d588fe612ec0f4021ca3ca2104270",
	  "837cfc316b49299edaf427e0988020ee876204b29d847669daab72c8660b0d86"
	  "0e9de3bd851198ff", 1 },
	{ "1abf4b7fa2bb62a78f09ddab04625dcacdd9e551d1a69b6b162baa53d2700093",
	  "ae", "06c1e65ac0f385b4e8c400d229f39422", 1 },
	{ "1abf4b7fa2bb62a78f09ddab04625dcacdd9e551d1a69b6b162baa53d2700093",
	  "1723eb9d000916996a",
	  "db7e73da22219e1baac0f4e955c3db2b900b5d3078f94b59", 1 },
	{ "4f710eb6b5e28703becfc3dc52fa8bc1dd44a4a6d38a84b4f94e89ac32d987e7",
	  "a828cbda9b5ff0ae37",
	  "98428fb83dc207033c1585e0242e699be98e0001f1ee15ba", 0 },
	{ "4f710eb6b5e28703becfc3dc52fa8bc1dd44a4a6d38a84b4f94e89ac32d987e7",
	  "a828cbda9b5ff0ae374f84fa01d070",
	  "f795cf444efd94bd6a561d8cb0703ee0e979c073aa66fdaa", 0 },
	{ "4f710eb6b5e28703becfc3dc52fa8bc1dd44a4a6d38a84b4f94e89ac32d987e7",
	  "a828cbda9b5ff0ae374f84fa01d070a5f0a17a0c462be4f1",
	  "8b011408049eab81cc185796b9636982c1ad28e940e5c35ab1219434c23e8c59",
	  0 },
	{ "4f710eb6b5e28703becfc3dc52fa8bc1dd44a4a6d38a84b4f94e89ac32d987e7",
	  "a828cbda9b5ff0ae37",
	  "64956d333265a8f2547756feab37b81f97786a4ebf491f13", 0 },
};

START_TEST(test_kwp_wycheproof)
{
	const struct kwp_vec *t = &kwp_vecs[_i];
	uint8_t key[64], p[64], c[64], out[96];
	size_t kn, pn, cn, on;

	unhex(key, t->key, &kn);
	unhex(p, t->msg, &pn);
	unhex(c, t->ct, &cn);
	ck_assert_uint_eq(kn, 32);
	if (!t->valid) {
		ck_assert_int_eq(vault_aes_kwp(0, key, c, cn, out, &on),
				 -EBADMSG);
		return;
	}
	ck_assert_int_eq(vault_aes_kwp(1, key, p, pn, out, &on), 0);
	ck_assert_uint_eq(on, cn);
	ck_assert_mem_eq(out, c, cn);
	ck_assert_int_eq(vault_aes_kwp(0, key, c, cn, out, &on), 0);
	ck_assert_uint_eq(on, pn);
	ck_assert_mem_eq(out, p, pn);
}
END_TEST

START_TEST(test_old_version_after_rotations)
{
	char dir[4200], v1[VAULT_KID_MAX + 1], v3[VAULT_KID_MAX + 1];
	char p1[VAULT_KID_MAX + 1], cur[VAULT_KID_MAX + 1];
	struct vault *v = fresh("rot", dir, sizeof(dir));
	struct secbuf *dek = new_dek(), *back = NULL;
	struct env_layer l, pl;

	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, 0, v1, sizeof(v1)),
			 0);
	ck_assert_int_eq(vault_wrap(v, v1, dek, &l), 0);
	ck_assert_int_eq(vault_resolve(v, "platform", p1, sizeof(p1)), 0);
	ck_assert_int_eq(vault_wrap(v, p1, dek, &pl), 0);
	ck_assert_int_eq(vault_key_rotate(v, "k", NULL, 0, NULL), 0);
	ck_assert_int_eq(vault_key_rotate(v, "k", v3, sizeof(v3), NULL), 0);
	ck_assert_int_eq(vault_rotate_platform(v, NULL, 0), 0);
	ck_assert_int_eq(vault_rotate_platform(v, NULL, 0), 0);
	ck_assert_int_eq(vault_resolve(v, "k", cur, sizeof(cur)), 0);
	ck_assert_str_eq(cur, v3);
	ck_assert_str_ne(cur, v1);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	ck_assert_int_eq(vault_unwrap(v, &pl, &back, NULL), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	ck_assert_int_eq(vault_resolve(v, "platform", cur, sizeof(cur)), 0);
	ck_assert_str_ne(cur, p1);
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

START_TEST(test_states_and_errnos)
{
	char dir[4200], kid[VAULT_KID_MAX + 1], other[VAULT_KID_MAX + 1];
	struct vault *v = fresh("states", dir, sizeof(dir));
	struct vault *v2;
	struct secbuf *dek = new_dek(), *back = NULL;
	struct vault_key_attrs a = { .enabled = -1 };
	struct env_layer l;
	time_t now = time(NULL);

	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, 0, kid,
					  sizeof(kid)), 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_USABLE);

	/* Disabled, seen by another handle (another process's change). */
	v2 = open_dir(dir);
	a.enabled = 0;
	ck_assert_int_eq(vault_key_set(v2, "k", NULL, &a), 0);
	vault_close(v2);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_DISABLED);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), -EKEYREVOKED);
	a.enabled = 1;
	ck_assert_int_eq(vault_key_set(v, "k", NULL, &a), 0);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), 0);
	secbuf_free(back);
	back = NULL;

	a.enabled = -1;
	a.set_expires = 1;
	a.expires = now - 10;
	ck_assert_int_eq(vault_key_set(v, "k", strrchr(kid, '/') + 1, &a), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_EXPIRED);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), -EKEYEXPIRED);
	a.expires = 0;
	a.set_not_before = 1;
	a.not_before = now + 3600;
	ck_assert_int_eq(vault_key_set(v, "k", NULL, &a), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_NOT_YET_VALID);
	ck_assert_int_eq(vault_key_state(v, kid, now + 7200), KEY_USABLE);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), -EKEYEXPIRED);
	a.not_before = 0;
	ck_assert_int_eq(vault_key_set(v, "k", NULL, &a), 0);

	ck_assert_int_eq(vault_key_delete(v, "k"), 0);
	ck_assert_int_eq(vault_key_state(v, kid, 0), KEY_DELETED);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), -EKEYREVOKED);
	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, 0, NULL, 0),
			 -EADDRINUSE);
	/* Purge protection on: refused before the retention is over. */
	ck_assert_int_eq(vault_key_purge(v, "k", NULL), -EPERM);
	ck_assert_int_eq(vault_key_recover(v, "k"), 0);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), 0);
	secbuf_free(back);
	back = NULL;
	ck_assert_int_eq(vault_key_delete(v, "k"), 0);
	/* Once on, it stays on (as in Key Vault); on again is fine. */
	ck_assert_int_eq(vault_set_purge_protection(v, 0), -EPERM);
	ck_assert_int_eq(vault_purge_protection(v), 1);
	ck_assert_int_eq(vault_set_purge_protection(v, 1), 0);
	ck_assert_int_eq(vault_key_purge(v, "k", NULL), -EPERM);
	/* A vault made without it purges at once. */
	{
		char dn[4300], kn[VAULT_KID_MAX + 1];
		struct vault *vn = NULL;
		struct env_layer ln;

		snprintf(dn, sizeof(dn), "%s/states-nopp/vault", top);
		ck_assert_int_eq(vault_init_ex(dn, "fresh", NULL,
			VAULT_INIT_NO_PURGE_PROTECTION, NULL), 0);
		vn = open_dir(dn);
		ck_assert_int_eq(vault_purge_protection(vn), 0);
		ck_assert_int_eq(vault_key_create(vn, "k", 2048, 0, 0, kn,
						  sizeof(kn)), 0);
		ck_assert_int_eq(vault_wrap(vn, kn, dek, &ln), 0);
		ck_assert_int_eq(vault_key_delete(vn, "k"), 0);
		ck_assert_int_eq(vault_key_purge(vn, "k", NULL), 0);
		ck_assert_int_eq(vault_key_state(vn, kn, 0), KEY_MISSING);
		ck_assert_int_eq(vault_unwrap(vn, &ln, &back, NULL), -ENOKEY);
		vault_close(vn);
	}

	/* A kid of another vault. */
	strcpy(other, kid);
	memcpy(other + strlen("vault://"), "fresx", 5);
	strcpy(l.kid, other);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), -EXDEV);
	ck_assert_ptr_null(back);

	ck_assert_int_eq(key_state_errno(KEY_DISABLED), -EKEYREVOKED);
	ck_assert_int_eq(key_state_errno(KEY_EXPIRED), -EKEYEXPIRED);
	ck_assert_int_eq(key_state_errno(KEY_NOT_YET_VALID), -EKEYEXPIRED);
	ck_assert_int_eq(key_state_errno(KEY_DELETED), -EKEYREVOKED);
	ck_assert_int_eq(key_state_errno(KEY_MISSING), -ENOKEY);
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

START_TEST(test_flipped_sealed_bit)
{
	char dir[4200], kid[VAULT_KID_MAX + 1], path[4400];
	struct vault *v = fresh("flip", dir, sizeof(dir));
	struct secbuf *dek = new_dek(), *back = NULL;
	struct env_layer l;
	uint8_t b;
	int fd;

	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, 0, kid,
					  sizeof(kid)), 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), 0);
	snprintf(path, sizeof(path), "%s/keys/k/%s.sealed", dir,
		 strrchr(kid, '/') + 1);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, 100), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, 100), 1);
	close(fd);
	ck_assert_int_eq(vault_unwrap(v, &l, &back, NULL), -EBADMSG);
	ck_assert_ptr_null(back);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), -EBADMSG);
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len;

	ck_assert_int_eq(io_read_file(path, 1 << 24, &buf, &len), 0);
	return buf;
}

static void put(const char *path, const char *s)
{
	ck_assert_int_eq(io_write_atomic(path, s, strlen(s), 0600), 0);
}

static int verify(struct vault *v)
{
	char where[512];
	unsigned long n;

	return vault_audit_verify(v, where, sizeof(where), &n);
}

START_TEST(test_audit_chain)
{
	char dir[4200], log[4400], *orig, *p, *l2, *l3, *mod;
	struct vault *v = fresh("audit", dir, sizeof(dir));
	char where[512];
	unsigned long n;
	size_t len;

	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(vault_key_policy(v, "k", 86400, 3600, UINT64_MAX), 0);
	ck_assert_int_eq(vault_audit(v, "test", NULL, -EIO), 0);
	ck_assert_int_eq(vault_audit_verify(v, where, sizeof(where), &n), 0);
	ck_assert_uint_eq(n, 4);
	snprintf(log, sizeof(log), "%s/audit.log", dir);
	orig = slurp(log);
	ck_assert_ptr_null(strstr(orig, "BEGIN"));
	len = strlen(orig);
	mod = malloc(len + 1);

	/* An edited line. */
	strcpy(mod, orig);
	p = strstr(mod, "\"op\":\"policy\"");
	ck_assert_ptr_nonnull(p);
	memcpy(p, "\"op\":\"polica\"", 13);
	put(log, mod);
	ck_assert_int_eq(vault_audit_verify(v, where, sizeof(where), &n),
			 -EBADMSG);
	ck_assert_ptr_nonnull(strstr(where, "line 3"));

	/* A removed line (line 2). */
	l2 = strchr(orig, '\n') + 1;
	l3 = strchr(l2, '\n') + 1;
	snprintf(mod, len + 1, "%.*s%s", (int)(l2 - orig), orig, l3);
	put(log, mod);
	ck_assert_int_eq(verify(v), -EBADMSG);

	/* Lines 2 and 3 swapped. */
	p = strchr(l3, '\n') + 1;
	snprintf(mod, len + 1, "%.*s%.*s%.*s%s", (int)(l2 - orig), orig,
		 (int)(p - l3), l3, (int)(l3 - l2), l2, p);
	ck_assert_uint_eq(strlen(mod), len);
	put(log, mod);
	ck_assert_int_eq(verify(v), -EBADMSG);

	/* A cut-off tail: the first two lines alone chain fine. */
	snprintf(mod, len + 1, "%.*s", (int)(l3 - orig), orig);
	put(log, mod);
	ck_assert_int_eq(vault_audit_verify(v, where, sizeof(where), &n),
			 -EBADMSG);
	ck_assert_ptr_nonnull(strstr(where, "cut off"));

	put(log, orig);
	ck_assert_int_eq(verify(v), 0);
	free(mod);
	free(orig);
	vault_close(v);
}
END_TEST

START_TEST(test_audit_rotation)
{
	char dir[4200], path[4400];
	struct vault *v;
	int i;

	setenv("SSEFS_AUDIT_ROTATE_BYTES", "600", 1);
	v = fresh("arot", dir, sizeof(dir));
	for (i = 0; i < 12; i++)
		ck_assert_int_eq(vault_audit(v, "test", NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/audit.log.2", dir);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(verify(v), 0);
	/* Remove the oldest file: the chain breaks at the next one. */
	snprintf(path, sizeof(path), "%s/audit.log.1", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(verify(v), -EBADMSG);
	unsetenv("SSEFS_AUDIT_ROTATE_BYTES");
	vault_close(v);
}
END_TEST

struct thr {
	struct vault *v;
	const struct env_layer *l;
	const struct secbuf *dek;
	int bad;
};

static void *unwrap_loop(void *arg)
{
	struct thr *t = arg;
	struct secbuf *back;
	int i;

	for (i = 0; i < 8; i++) {
		back = NULL;
		if (vault_unwrap(t->v, t->l, &back, NULL) ||
		    !secbuf_eq(back, t->dek))
			t->bad++;
		secbuf_free(back);
	}
	return NULL;
}

/* The mount daemon's threads share one struct vault. */
START_TEST(test_threads_share_a_vault)
{
	char dir[4200], kid[VAULT_KID_MAX + 1];
	struct vault *v = fresh("threads", dir, sizeof(dir));
	struct secbuf *dek = new_dek();
	struct env_layer l;
	struct thr t[4];
	pthread_t th[4];
	int i;

	ck_assert_int_eq(vault_resolve(v, "platform", kid, sizeof(kid)), 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), 0);
	for (i = 0; i < 4; i++) {
		t[i] = (struct thr){ .v = v, .l = &l, .dek = dek };
		ck_assert_int_eq(pthread_create(&th[i], NULL, unwrap_loop,
						&t[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(t[i].bad, 0);
	}
	ck_assert_int_eq(verify(v), 0);
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

static void write_pass(const char *path, const char *pass)
{
	put(path, pass);
}

START_TEST(test_passphrase)
{
	char dir[4200], good[4400], bad[4400], meta[4400], *before, *after;
	struct vault_unlock u = { 0 };
	struct vault *v = NULL;

	snprintf(dir, sizeof(dir), "%s/pass/vault", top);
	snprintf(good, sizeof(good), "%s/pass/good", top);
	snprintf(bad, sizeof(bad), "%s/pass/bad", top);
	ck_assert_int_eq(io_mkdirs(good, 0700), 0);
	rmdir(good);
	write_pass(good, "correct horse battery staple\n");
	write_pass(bad, "correct horse battery stapler\n");
	u.passphrase_file = good;
	ck_assert_int_eq(vault_init(dir, "pass", &u, NULL), 0);
	/* No key file was made for a passphrase vault. */
	snprintf(meta, sizeof(meta), "%s.key", dir);
	ck_assert_int_ne(access(meta, F_OK), 0);
	ck_assert_int_eq(vault_open(&v, dir, &u, NULL), 0);
	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, 0, NULL, 0), 0);
	vault_close(v);
	snprintf(meta, sizeof(meta), "%s/vault.meta", dir);
	before = slurp(meta);
	u.passphrase_file = bad;
	v = NULL;
	ck_assert_int_eq(vault_open(&v, dir, &u, NULL), -EACCES);
	ck_assert_ptr_null(v);
	/* Without the passphrase at all: the key file is not there. */
	ck_assert_int_ne(vault_open(&v, dir, NULL, NULL), 0);
	after = slurp(meta);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_permissions)
{
	char dir[4200], key[4400];
	struct vault *v = fresh("perm", dir, sizeof(dir));
	struct vault_err e;

	vault_close(v);
	snprintf(key, sizeof(key), "%s.key", dir);
	ck_assert_int_eq(chmod(key, 0644), 0);
	ck_assert_int_eq(vault_open(&v, dir, NULL, &e), -EPERM);
	ck_assert_str_eq(e.path, key);
	ck_assert_int_eq(chmod(key, 0600), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(vault_open(&v, dir, NULL, &e), -EPERM);
	ck_assert_str_eq(e.path, dir);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(vault_open(&v, dir, NULL, NULL), 0);
	ck_assert_int_eq(vault_init(dir, "again", NULL, NULL), -EEXIST);
	vault_close(v);
}
END_TEST

START_TEST(test_backup_restore)
{
	char dir[4200], bak[4400], dir2[4400], k1[4400], k2[4500];
	char kid[VAULT_KID_MAX + 1], pkid[VAULT_KID_MAX + 1];
	struct vault *v = fresh("bak", dir, sizeof(dir)), *r;
	struct secbuf *dek = new_dek(), *back = NULL;
	struct env_layer l, pl;
	char *buf;
	size_t len;

	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, 0, kid,
					  sizeof(kid)), 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), 0);
	ck_assert_int_eq(vault_resolve(v, "platform", pkid, sizeof(pkid)), 0);
	ck_assert_int_eq(vault_wrap(v, pkid, dek, &pl), 0);
	snprintf(bak, sizeof(bak), "%s/bak/backup", top);
	ck_assert_int_eq(vault_backup(v, bak), 0);
	ck_assert_int_eq(vault_backup(v, bak), -EEXIST);
	vault_close(v);
	snprintf(dir2, sizeof(dir2), "%s/bak/restored/vault", top);
	ck_assert_int_eq(vault_restore(bak, dir2), 0);
	ck_assert_int_eq(vault_restore(bak, dir2), -EEXIST);
	/* The master key travels apart from the backup. */
	snprintf(k1, sizeof(k1), "%s.key", dir);
	snprintf(k2, sizeof(k2), "%s.key", dir2);
	ck_assert_int_eq(io_read_file(k1, 64, &buf, &len), 0);
	ck_assert_int_eq(io_write_atomic(k2, buf, len, 0600), 0);
	free(buf);
	r = open_dir(dir2);
	ck_assert_int_eq(vault_unwrap(r, &l, &back, NULL), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	ck_assert_int_eq(vault_unwrap(r, &pl, &back, NULL), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	ck_assert_int_eq(verify(r), 0);
	vault_close(r);
	secbuf_free(dek);
}
END_TEST

START_TEST(test_disks_and_keyops)
{
	char dir[4200], kid[VAULT_KID_MAX + 1];
	struct vault *v = fresh("disks", dir, sizeof(dir));
	struct vault_disk d, *list = NULL;
	struct secbuf *dek = new_dek(), *back = NULL;
	struct keyops ops;
	struct vault_keyctx kc = { v, NULL };
	struct env_layer l;
	size_t n;

	memset(&d, 0, sizeof(d));
	strcpy(d.uuid, "0e1c2f6a-1111-4222-8333-444455556666");
	strcpy(d.path, "/srv/store/a disk.vhd");
	ck_assert_int_eq(vault_resolve(v, "platform", kid, sizeof(kid)), 0);
	strcpy(d.kid, kid);
	ck_assert_int_eq(vault_disk_put(v, &d), 0);
	strcpy(d.des, "des1");
	ck_assert_int_eq(vault_disk_put(v, &d), 0);
	ck_assert_int_eq(vault_disk_list(v, &list, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].path, "/srv/store/a disk.vhd");
	ck_assert_str_eq(list[0].des, "des1");
	free(list);
	ck_assert_int_eq(vault_disk_del(v, d.uuid), 0);
	ck_assert_int_eq(vault_disk_del(v, d.uuid), -ENOENT);
	vault_keyops(&kc, &ops);
	ck_assert_int_eq(ops.wrap(ops.ctx, kid, dek, &l), 0);
	ck_assert_int_eq(ops.unwrap(ops.ctx, &l, &back), 0);
	ck_assert(secbuf_eq(dek, back));
	secbuf_free(back);
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

/* Many disks in one batch; two handles on one vault see each other's
 * changes (the parsed metadata is reused only while its bytes are). */
START_TEST(test_disk_registry_batch)
{
	char dir[4200];
	struct vault *a = fresh("batch", dir, sizeof(dir)), *b;
	struct vault_disk *d = calloc(300, sizeof(*d)), *list = NULL;
	size_t n, i;

	ck_assert_ptr_nonnull(d);
	for (i = 0; i < 300; i++) {
		snprintf(d[i].uuid, sizeof(d[i].uuid),
			 "0e1c2f6a-1111-4222-8333-%012zu", i);
		snprintf(d[i].path, sizeof(d[i].path), "/srv/s/d%zu.vhd", i);
		strcpy(d[i].des, "aaaa");
	}
	ck_assert_int_eq(vault_disk_put_many(a, d, 300), 0);
	b = open_dir(dir);
	ck_assert_int_eq(vault_disk_list(b, &list, &n), 0);
	ck_assert_uint_eq(n, 300);
	ck_assert_str_eq(list[299].path, "/srv/s/d299.vhd");
	free(list);
	/* a change of the same length, made through the other handle */
	strcpy(d[7].des, "bbbb");
	ck_assert_int_eq(vault_disk_put_many(a, &d[7], 1), 0);
	ck_assert_int_eq(vault_disk_del(a, d[0].uuid), 0);
	ck_assert_int_eq(vault_disk_list(b, &list, &n), 0);
	ck_assert_uint_eq(n, 299);
	for (i = 0; i < n; i++) {
		ck_assert_str_ne(list[i].uuid, d[0].uuid);
		if (!strcmp(list[i].uuid, d[7].uuid))
			ck_assert_str_eq(list[i].des, "bbbb");
	}
	free(list);
	/* an invalid entry refuses the whole batch */
	strcpy(d[5].des, "a b");
	ck_assert_int_eq(vault_disk_put_many(b, d, 300), -EINVAL);
	ck_assert_int_eq(verify(a), 0);
	vault_close(b);
	vault_close(a);
	free(d);
}
END_TEST

/* Expiry notices: test and record in one step, per version and expiry;
 * a changed expiry clears them; they and expire-after survive a reopen. */
START_TEST(test_notices_and_expire_after)
{
	struct vault_key_attrs a = { .enabled = -1, .set_expires = 1 };
	char dir[4200], ver[KEY_VERSION_HEX + 1];
	struct vault *v = fresh("notice", dir, sizeof(dir)), *w;
	struct vault_key *k = NULL;
	time_t now = time(NULL);

	ck_assert_int_eq(vault_key_create(v, "k", 2048, 0, now + 86400, NULL,
					  0), 0);
	ck_assert_int_eq(vault_key_get(v, "k", &k), 0);
	snprintf(ver, sizeof(ver), "%s", k->versions[0].version);
	vault_keys_free(k, 1);

	ck_assert_int_eq(vault_key_notice(v, "k", VAULT_NOTICE_NEAR_EXPIRY,
					  ver, now + 86400, 1), 1);
	ck_assert_int_eq(vault_key_notice(v, "k", VAULT_NOTICE_NEAR_EXPIRY,
					  ver, now + 86400, 1), 0);
	/* another handle (the daemon beside ssefs rotate) sees the record */
	w = open_dir(dir);
	ck_assert_int_eq(vault_key_notice(w, "k", VAULT_NOTICE_NEAR_EXPIRY,
					  ver, now + 86400, 1), 0);
	ck_assert_int_eq(vault_key_notice(w, "k", VAULT_NOTICE_EXPIRED,
					  ver, now + 86400, 1), 1);
	/* undelivered: forgotten, so it can be claimed again */
	ck_assert_int_eq(vault_key_notice(w, "k", VAULT_NOTICE_EXPIRED,
					  ver, now + 86400, 0), 0);
	ck_assert_int_eq(vault_key_notice(v, "k", VAULT_NOTICE_EXPIRED,
					  ver, now + 86400, 1), 1);
	/* a new expiry is news again */
	a.expires = now + 2 * 86400;
	ck_assert_int_eq(vault_key_set(v, "k", ver, &a), 0);
	ck_assert_int_eq(vault_key_get(w, "k", &k), 0);
	ck_assert_str_eq(k->notice[VAULT_NOTICE_NEAR_EXPIRY].version, "");
	vault_keys_free(k, 1);
	ck_assert_int_eq(vault_key_notice(w, "k", VAULT_NOTICE_NEAR_EXPIRY,
					  ver, now + 2 * 86400, 1), 1);
	ck_assert_int_eq(vault_key_notice(w, "nope", VAULT_NOTICE_EXPIRED,
					  ver, now, 1), -ENOKEY);

	/* expire-after: a rotated version expires that long after it is
	 * made; the policy outlives a reopen */
	ck_assert_int_eq(vault_key_policy(v, "k", UINT64_MAX, UINT64_MAX,
					  3600), 0);
	vault_close(w);
	w = open_dir(dir);
	ck_assert_int_eq(vault_key_rotate(w, "k", NULL, 0, NULL), 0);
	ck_assert_int_eq(vault_key_get(w, "k", &k), 0);
	ck_assert_uint_eq(k->expire_after, 3600);
	ck_assert_int_eq(k->nversions, 2);
	ck_assert_int_eq(k->versions[1].expires - k->versions[1].created,
			 3600);
	ck_assert_str_eq(k->notice[VAULT_NOTICE_NEAR_EXPIRY].version, ver);
	vault_keys_free(k, 1);
	vault_close(w);
	vault_close(v);
}
END_TEST

START_TEST(test_import)
{
	char dir[4200], pem[4400], cmd[9000], kid[VAULT_KID_MAX + 1];
	struct vault *v = fresh("import", dir, sizeof(dir));

	snprintf(pem, sizeof(pem), "%s/import/k.pem", top);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm RSA "
		 "-pkeyopt rsa_keygen_bits:2048 -out '%s' 2>/dev/null", pem);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(vault_key_import(v, "imp", pem, kid, sizeof(kid)),
			 0);
	round_trip(v, kid, ENV_WRAP_RSA_OAEP_256);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm EC "
		 "-pkeyopt ec_paramgen_curve:P-256 -out '%s' 2>/dev/null", pem);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(vault_key_import(v, "ec", pem, NULL, 0), -ENOTSUP);
	put(pem, "not a key\n");
	ck_assert_int_eq(vault_key_import(v, "junk", pem, NULL, 0), -EBADMSG);
	vault_close(v);
}
END_TEST

Suite *suite_vault(void)
{
	Suite *s = suite_create("vault");
	TCase *tc = tcase_create("vault");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup_shared, teardown_shared);
	tcase_add_test(tc, test_kwp_known_answer);
	tcase_add_loop_test(tc, test_kwp_wycheproof, 0,
			    sizeof(kwp_vecs) / sizeof(kwp_vecs[0]));
	tcase_add_test(tc, test_rsa_round_trips);
	tcase_add_test(tc, test_old_version_after_rotations);
	tcase_add_test(tc, test_states_and_errnos);
	tcase_add_test(tc, test_flipped_sealed_bit);
	tcase_add_test(tc, test_audit_chain);
	tcase_add_test(tc, test_audit_rotation);
	tcase_add_test(tc, test_passphrase);
	tcase_add_test(tc, test_permissions);
	tcase_add_test(tc, test_backup_restore);
	tcase_add_test(tc, test_disks_and_keyops);
	tcase_add_test(tc, test_import);
	tcase_add_test(tc, test_notices_and_expire_after);
	tcase_add_test(tc, test_disk_registry_batch);
	tcase_add_test(tc, test_threads_share_a_vault);
	suite_add_tcase(s, tc);
	return s;
}
