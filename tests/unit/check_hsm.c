/*
 * check_hsm.c - the PKCS#11 backend against a real SoftHSM2 token
 *
 * Each test gets a token of its own: a temporary SOFTHSM2_CONF and token
 * directory, initialised with softhsm2-util.  Without SoftHSM2 the suite
 * runs one test that says, loudly, that it skipped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "keyvault/hsm.h"
#include "keyvault/vault.h"

Suite *suite_hsm(void);

#define TOKEN		"ssefs-unit"
#define CKA_PRIVATE_EXPONENT_	0x123UL		/* PKCS#11 */
#define CKA_MODULUS_		0x120UL

static const char *const module_paths[] = {
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
};

static const char *module;
static char top[] = "/tmp/ssefs-check-hsm-XXXXXX";
static char pinfile[1024], badpin[1024];

static const char *find_module(void)
{
	size_t i;

	if (system("command -v softhsm2-util >/dev/null 2>&1") != 0)
		return NULL;
	for (i = 0; i < sizeof(module_paths) / sizeof(*module_paths); i++)
		if (access(module_paths[i], R_OK) == 0)
			return module_paths[i];
	return NULL;
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(s, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void setup(void)
{
	char path[4200], cmd[8600];

	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(path, sizeof(path), "%s/tokens", top);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(cmd, sizeof(cmd), "directories.tokendir = %s\n"
		 "objectstore.backend = file\nlog.level = ERROR\n", path);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", top);
	write_file(path, cmd, 0600);
	setenv("SOFTHSM2_CONF", path, 1);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free "
		 "--label " TOKEN " --pin 1234 --so-pin 5678 >/dev/null");
	ck_assert_int_eq(system(cmd), 0);
	snprintf(pinfile, sizeof(pinfile), "%s/pin", top);
	write_file(pinfile, "1234\n", 0600);
	snprintf(badpin, sizeof(badpin), "%s/badpin", top);
	write_file(badpin, "9999\n", 0600);
}

static void teardown(void)
{
	char cmd[4300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", top);
}

static struct hsm *open_token(void)
{
	struct hsm *h = NULL;
	char why[256];
	int err = hsm_open(&h, module, TOKEN, pinfile, why, sizeof(why));

	ck_assert_msg(err == 0, "hsm_open: %d %s", err, why);
	return h;
}

/* RSA-OAEP-256 with the public key, in OpenSSL: what vault_wrap does. */
static size_t wrap_pub(const uint8_t *der, size_t derlen,
		       const struct secbuf *dek, uint8_t *out, size_t outlen)
{
	const unsigned char *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)derlen);
	EVP_PKEY_CTX *c;

	ck_assert_ptr_nonnull(pk);
	c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(EVP_PKEY_encrypt_init(c), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(c,
			 RSA_PKCS1_OAEP_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()), 1);
	ck_assert_int_eq(EVP_PKEY_encrypt(c, out, &outlen, secbuf_data(dek),
					  secbuf_len(dek)), 1);
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(pk);
	return outlen;
}

START_TEST(test_skipped)
{
	fprintf(stderr, "check_hsm: SKIPPED: SoftHSM2 (softhsm2-util, "
		"libsofthsm2.so) is not installed\n");
}
END_TEST

/* Generate in the token, wrap in OpenSSL, unwrap in the token, both by
 * the automatic path and by forced raw RSA; 2048 and 3072 bits. */
START_TEST(test_wrap_unwrap)
{
	int bits = _i ? 3072 : 2048;
	struct hsm *h = open_token();
	struct secbuf *dek = secbuf_new(64), *got = NULL;
	uint8_t id[HSM_ID_BYTES], *pub = NULL, ct[512];
	size_t publen = 0, n;

	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(hsm_generate_rsa(h, bits, "vault://u/keys/k/1", id,
					  &pub, &publen), 0);
	n = wrap_pub(pub, publen, dek, ct, sizeof(ct));
	ck_assert_uint_eq(n, (size_t)bits / 8);

	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, 0, &got), 0);
	ck_assert_int_eq(secbuf_eq(got, dek), 1);
	fprintf(stderr, "check_hsm: %d bits: the token %s\n", bits,
		hsm_used_oaep(h) ? "did OAEP-256 itself" :
		"refused OAEP-256; raw RSA + OpenSSL OAEP check");
	secbuf_free(got);
	got = NULL;

	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, HSM_FORCE_RAW,
					    &got), 0);
	ck_assert_int_eq(hsm_used_oaep(h), 0);
	ck_assert_int_eq(secbuf_eq(got, dek), 1);
	secbuf_free(got);
	got = NULL;

	/* One flipped bit: the padding check refuses it. */
	ct[n / 2] ^= 1;
	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, 0, &got),
			 -EBADMSG);
	ck_assert_ptr_null(got);
	free(pub);
	secbuf_free(dek);
	hsm_close(h);
}
END_TEST

START_TEST(test_not_extractable)
{
	struct hsm *h = open_token();
	uint8_t id[HSM_ID_BYTES], *pub = NULL;
	size_t publen = 0, len = 0;

	ck_assert_int_eq(hsm_generate_rsa(h, 2048, "k", id, &pub, &publen),
			 0);
	/* SoftHSM2 takes the decrypt-only template. */
	ck_assert_int_eq(hsm_usage_limited(h), 1);
	ck_assert_int_eq(hsm_read_private_attr(h, id, CKA_PRIVATE_EXPONENT_,
					       &len), -EACCES);
	/* The same call does read a public attribute: the check can fail. */
	ck_assert_int_eq(hsm_read_private_attr(h, id, CKA_MODULUS_, &len), 0);
	ck_assert_uint_eq(len, 256);
	free(pub);
	hsm_close(h);
}
END_TEST

START_TEST(test_wrong_pin)
{
	struct hsm *h = NULL;
	char why[256];

	ck_assert_int_eq(hsm_open(&h, module, TOKEN, badpin, why,
				  sizeof(why)), -EACCES);
	ck_assert_ptr_null(h);
	ck_assert_ptr_nonnull(strstr(why, "wrong pin"));
	/* The right PIN still works afterwards. */
	h = open_token();
	hsm_close(h);
}
END_TEST

START_TEST(test_pin_file_mode)
{
	struct hsm *h = NULL;
	char why[256];

	ck_assert_int_eq(chmod(pinfile, 0644), 0);
	ck_assert_int_eq(hsm_open(&h, module, TOKEN, pinfile, why,
				  sizeof(why)), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "too open"));
}
END_TEST

START_TEST(test_no_token)
{
	struct hsm *h = NULL;
	char why[256];

	ck_assert_int_eq(hsm_open(&h, module, "nosuchtoken", pinfile, why,
				  sizeof(why)), -ENODEV);
	ck_assert_int_eq(hsm_open(&h, "/nonexistent/p11.so", TOKEN, pinfile,
				  why, sizeof(why)), -ENOENT);
	ck_assert_int_eq(hsm_open(&h, "/etc/passwd", TOKEN, pinfile,
				  why, sizeof(why)), -ELIBBAD);
}
END_TEST

START_TEST(test_destroy)
{
	struct hsm *h = open_token(), *h2;
	struct secbuf *dek = secbuf_new(64), *got = NULL;
	uint8_t id[HSM_ID_BYTES], *pub = NULL, ct[512];
	size_t publen = 0, n;

	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(hsm_generate_rsa(h, 2048, "k", id, &pub, &publen),
			 0);
	n = wrap_pub(pub, publen, dek, ct, sizeof(ct));
	/* A second handle in the same process shares the module. */
	h2 = open_token();
	ck_assert_int_eq(hsm_unwrap_oaep256(h2, id, ct, n, 0, &got), 0);
	secbuf_free(got);
	got = NULL;
	hsm_close(h2);
	ck_assert_int_eq(hsm_destroy(h, id), 0);
	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, 0, &got), -ENOKEY);
	free(pub);
	secbuf_free(dek);
	hsm_close(h);
}
END_TEST

/* A session lost behind our back is opened again, PIN re-read. */
START_TEST(test_session_lost)
{
	struct hsm *h = open_token();
	struct secbuf *dek = secbuf_new(64), *got = NULL;
	uint8_t id[HSM_ID_BYTES], *pub = NULL, ct[512];
	size_t publen = 0, n;

	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(hsm_generate_rsa(h, 2048, "k", id, &pub, &publen),
			 0);
	n = wrap_pub(pub, publen, dek, ct, sizeof(ct));

	hsm_test_drop_session(h);
	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, 0, &got), 0);
	ck_assert_int_eq(secbuf_eq(got, dek), 1);
	secbuf_free(got);
	got = NULL;

	/* The PIN file is read again: a wrong one now fails the login. */
	hsm_test_drop_session(h);
	write_file(pinfile, "0000\n", 0600);
	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, 0, &got), -EACCES);
	ck_assert_ptr_nonnull(strstr(hsm_why(h), "wrong pin"));
	write_file(pinfile, "1234\n", 0600);
	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, 0, &got), 0);
	secbuf_free(got);
	free(pub);
	secbuf_free(dek);
	hsm_close(h);
}
END_TEST

/* ---- the vault with hsm keys ---- */

static struct vault *vault_with_token(const char *name)
{
	struct vault_hsm c;
	struct vault *v = NULL;
	char dir[4300];

	/* without purge protection: a test purges hsm keys */
	snprintf(dir, sizeof(dir), "%s/%s", top, name);
	ck_assert_int_eq(vault_init_ex(dir, "unit", NULL,
				       VAULT_INIT_NO_PURGE_PROTECTION, NULL),
			 0);
	ck_assert_int_eq(vault_open(&v, dir, NULL, NULL), 0);
	memset(&c, 0, sizeof(c));
	snprintf(c.module, sizeof(c.module), "%s", module);
	snprintf(c.token, sizeof(c.token), "%s", TOKEN);
	snprintf(c.pin_file, sizeof(c.pin_file), "%s", pinfile);
	ck_assert_int_eq(vault_hsm_set(v, &c, NULL), 0);
	return v;
}

static void wrap_unwrap(struct vault *v, const char *kid,
			struct env_layer *l)
{
	struct secbuf *dek = secbuf_new(64), *got = NULL;

	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, l), 0);
	ck_assert_int_eq(l->wrap_alg, ENV_WRAP_RSA_OAEP_256);
	ck_assert_int_eq(vault_unwrap(v, l, &got, NULL), 0);
	ck_assert_int_eq(secbuf_eq(got, dek), 1);
	secbuf_free(got);
	secbuf_free(dek);
}

/* Create, wrap, unwrap, a second handle, rotate, purge, forget. */
START_TEST(test_vault_hsm_key)
{
	struct vault *v = vault_with_token("v"), *v2 = NULL;
	char kid[VAULT_KID_MAX + 1], kid2[VAULT_KID_MAX + 1], dir[4300];
	struct env_layer l1, l2;
	struct secbuf *got = NULL;
	struct vault_key *k = NULL;

	ck_assert_int_eq(vault_key_create_ex(v, "h1", 2048, VAULT_KEY_HSM, 0,
					     0, kid, sizeof(kid), NULL), 0);
	ck_assert_int_eq(vault_key_get(v, "h1", &k), 0);
	ck_assert_int_eq(k->hsm, 1);
	ck_assert_int_eq(k->bits, 2048);
	vault_keys_free(k, 1);
	wrap_unwrap(v, kid, &l1);

	/* Another handle in the same process: the module is shared, and
	 * closing one handle leaves the other working. */
	snprintf(dir, sizeof(dir), "%s/v", top);
	ck_assert_int_eq(vault_open(&v2, dir, NULL, NULL), 0);
	ck_assert_int_eq(vault_unwrap(v2, &l1, &got, NULL), 0);
	secbuf_free(got);
	got = NULL;
	vault_close(v2);
	ck_assert_int_eq(vault_unwrap(v, &l1, &got, NULL), 0);
	secbuf_free(got);
	got = NULL;

	ck_assert_int_eq(vault_key_rotate(v, "h1", kid2, sizeof(kid2), NULL),
			 0);
	ck_assert_str_ne(kid, kid2);
	ck_assert_int_eq(vault_key_get(v, "h1", &k), 0);
	ck_assert_int_eq(k->hsm, 1);
	ck_assert_uint_eq(k->nversions, 2);
	vault_keys_free(k, 1);
	wrap_unwrap(v, kid2, &l2);

	/* A disabled key refuses before the token is asked. */
	{
		struct vault_key_attrs a = { .enabled = 0 };

		ck_assert_int_eq(vault_key_set(v, "h1", NULL, &a), 0);
		ck_assert_int_eq(vault_unwrap(v, &l2, &got, NULL),
				 -EKEYREVOKED);
		a.enabled = 1;
		ck_assert_int_eq(vault_key_set(v, "h1", NULL, &a), 0);
	}

	ck_assert_int_eq(vault_hsm_set(v, NULL, NULL), -EBUSY);
	ck_assert_int_eq(vault_key_delete(v, "h1"), 0);
	ck_assert_int_eq(vault_hsm_set(v, NULL, NULL), -EBUSY);
	ck_assert_int_eq(vault_key_purge(v, "h1", NULL), 0);
	ck_assert_int_eq(vault_hsm_set(v, NULL, NULL), 0);
	vault_close(v);
}
END_TEST

struct unwrapper {
	struct vault *v;
	const struct env_layer *l;
	const struct secbuf *dek;
	int bad;
};

static void *unwrap_many(void *arg)
{
	struct unwrapper *u = arg;
	struct secbuf *got;
	int i;

	for (i = 0; i < 15; i++) {
		got = NULL;
		if (vault_unwrap(u->v, u->l, &got, NULL) ||
		    !secbuf_eq(got, u->dek))
			u->bad++;
		secbuf_free(got);
	}
	return NULL;
}

/* The daemon's threads share one vault and so one session: four threads
 * unwrapping at once through it all get the right key. */
START_TEST(test_vault_threads)
{
	struct vault *v = vault_with_token("v");
	struct secbuf *dek = secbuf_new(64);
	char kid[VAULT_KID_MAX + 1];
	struct unwrapper u[4];
	pthread_t t[4];
	struct env_layer l;
	int i;

	ck_assert_int_eq(vault_key_create_ex(v, "h1", 2048, VAULT_KEY_HSM, 0,
					     0, kid, sizeof(kid), NULL), 0);
	ck_assert_int_eq(rng_dek(dek), 0);
	ck_assert_int_eq(vault_wrap(v, kid, dek, &l), 0);
	for (i = 0; i < 4; i++) {
		u[i] = (struct unwrapper){ .v = v, .l = &l, .dek = dek };
		ck_assert_int_eq(pthread_create(&t[i], NULL, unwrap_many,
						&u[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(u[i].bad, 0);
	}
	secbuf_free(dek);
	vault_close(v);
}
END_TEST

/* The mount daemon forks after a host cache replay may have used the
 * token: the child drops the parent's session and opens its own. */
START_TEST(test_vault_fork)
{
	struct vault *v = vault_with_token("v");
	char kid[VAULT_KID_MAX + 1];
	struct secbuf *got = NULL;
	struct env_layer l;
	int status = -1;
	pid_t pid;

	ck_assert_int_eq(vault_key_create_ex(v, "h1", 2048, VAULT_KEY_HSM, 0,
					     0, kid, sizeof(kid), NULL), 0);
	wrap_unwrap(v, kid, &l);	/* the session is open now */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		vault_after_fork(v);
		_exit(vault_unwrap(v, &l, &got, NULL) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The parent's session is untouched. */
	ck_assert_int_eq(vault_unwrap(v, &l, &got, NULL), 0);
	secbuf_free(got);
	vault_close(v);
}
END_TEST

/* Purge leaves nothing in the token: the same blob no longer unwraps. */
START_TEST(test_vault_purge_destroys)
{
	struct vault *v = vault_with_token("v");
	char kid[VAULT_KID_MAX + 1];
	char cmd[4400];

	ck_assert_int_eq(vault_key_create_ex(v, "h1", 2048, VAULT_KEY_HSM, 0,
					     0, kid, sizeof(kid), NULL), 0);
	/* Count the key's objects (private and public) by label, with
	 * pkcs11-tool when it is there. */
	snprintf(cmd, sizeof(cmd), "command -v pkcs11-tool >/dev/null || "
		 "exit 0; test \"$(pkcs11-tool --module %s --token-label %s "
		 "--login --pin 1234 --list-objects 2>/dev/null | "
		 "grep -c 'label: *vault://unit/keys/h1/')\" = %d", module,
		 TOKEN, 2);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(vault_key_delete(v, "h1"), 0);
	ck_assert_int_eq(vault_key_purge(v, "h1", NULL), 0);
	snprintf(cmd, sizeof(cmd), "command -v pkcs11-tool >/dev/null || "
		 "exit 0; test \"$(pkcs11-tool --module %s --token-label %s "
		 "--login --pin 1234 --list-objects 2>/dev/null | "
		 "grep -c 'label: *vault://unit/keys/h1/')\" = %d", module,
		 TOKEN, 0);
	ck_assert_int_eq(system(cmd), 0);
	vault_close(v);
}
END_TEST

/* A wrong PIN at unwrap: -EACCES, and the reason names the token. */
START_TEST(test_vault_wrong_pin)
{
	struct vault *v = vault_with_token("v"), *v2 = NULL;
	char kid[VAULT_KID_MAX + 1], dir[4300];
	struct secbuf *got = NULL;
	struct vault_err e;
	struct env_layer l;

	ck_assert_int_eq(vault_key_create_ex(v, "h1", 2048, VAULT_KEY_HSM, 0,
					     0, kid, sizeof(kid), NULL), 0);
	wrap_unwrap(v, kid, &l);
	/* The login state belongs to the process (PKCS#11 logs in an
	 * application, not a session): while @v is logged in, another
	 * handle would be too. */
	vault_close(v);
	snprintf(dir, sizeof(dir), "%s/v", top);
	ck_assert_int_eq(vault_open(&v2, dir, NULL, NULL), 0);
	vault_hsm_pin_file(v2, badpin);
	ck_assert_int_eq(vault_unwrap(v2, &l, &got, &e), -EACCES);
	ck_assert_ptr_null(got);
	ck_assert_msg(strstr(e.why, "token " TOKEN ": wrong pin"),
		      "why: %s", e.why);
	/* Wrapping needs no token, so it still works. */
	{
		struct secbuf *dek = secbuf_new(64);

		ck_assert_int_eq(vault_wrap(v2, kid, dek, &l), 0);
		secbuf_free(dek);
	}
	vault_close(v2);
}
END_TEST

/*
 * A token named by the environment, which t1101 sets up on swtpm with
 * tpm2-pkcs11: SSEFS_TEST_P11_MODULE, _TOKEN, _PIN_FILE; with
 * SSEFS_TEST_P11_OAEP=1 the token must do RSA-OAEP-256 itself, so this
 * proves the path SoftHSM2 cannot take.
 */
START_TEST(test_external)
{
	const char *want_oaep = getenv("SSEFS_TEST_P11_OAEP");
	struct secbuf *dek = secbuf_new(64), *got = NULL;
	uint8_t id[HSM_ID_BYTES], *pub = NULL, ct[512];
	size_t publen = 0, n, len;
	struct hsm *h = NULL;
	char why[256];
	int err;

	err = hsm_open(&h, getenv("SSEFS_TEST_P11_MODULE"),
		       getenv("SSEFS_TEST_P11_TOKEN"),
		       getenv("SSEFS_TEST_P11_PIN_FILE"), why, sizeof(why));
	ck_assert_msg(err == 0, "hsm_open: %d %s", err, why);
	ck_assert_int_eq(rng_dek(dek), 0);
	err = hsm_generate_rsa(h, 2048, "vault://ext/keys/k/1", id, &pub,
			       &publen);
	ck_assert_msg(err == 0, "generate: %d %s", err, hsm_why(h));
	n = wrap_pub(pub, publen, dek, ct, sizeof(ct));
	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, 0, &got), 0);
	ck_assert_int_eq(secbuf_eq(got, dek), 1);
	fprintf(stderr, "check_hsm: external token: %s; keys %s\n",
		hsm_used_oaep(h) ? "OAEP-256 in the token" :
		"raw RSA + OpenSSL OAEP check",
		hsm_usage_limited(h) ? "decrypt-only" : "not usage-limited");
	if (want_oaep && !strcmp(want_oaep, "1"))
		ck_assert_int_eq(hsm_used_oaep(h), 1);
	secbuf_free(got);
	got = NULL;
	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, HSM_FORCE_RAW,
					    &got), 0);
	ck_assert_int_eq(secbuf_eq(got, dek), 1);
	secbuf_free(got);
	got = NULL;
	ck_assert_int_eq(hsm_read_private_attr(h, id, CKA_PRIVATE_EXPONENT_,
					       &len), -EACCES);
	ck_assert_int_eq(hsm_destroy(h, id), 0);
	ck_assert_int_eq(hsm_unwrap_oaep256(h, id, ct, n, 0, &got), -ENOKEY);
	free(pub);
	secbuf_free(dek);
	hsm_close(h);
}
END_TEST

Suite *suite_hsm(void)
{
	Suite *s = suite_create("hsm");
	TCase *tc = tcase_create("softhsm2");

	if (getenv("SSEFS_TEST_P11_MODULE")) {
		TCase *ext = tcase_create("external");

		tcase_set_timeout(ext, 300);
		tcase_add_test(ext, test_external);
		suite_add_tcase(s, ext);
	}
	module = find_module();
	if (!module) {
		tcase_add_test(tc, test_skipped);
		suite_add_tcase(s, tc);
		return s;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_wrap_unwrap, 0, 2);
	tcase_add_test(tc, test_not_extractable);
	tcase_add_test(tc, test_wrong_pin);
	tcase_add_test(tc, test_pin_file_mode);
	tcase_add_test(tc, test_no_token);
	tcase_add_test(tc, test_destroy);
	tcase_add_test(tc, test_session_lost);
	suite_add_tcase(s, tc);

	tc = tcase_create("vault");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_vault_hsm_key);
	tcase_add_test(tc, test_vault_purge_destroys);
	tcase_add_test(tc, test_vault_wrong_pin);
	tcase_add_test(tc, test_vault_threads);
	tcase_add_test(tc, test_vault_fork);
	suite_add_tcase(s, tc);
	return s;
}
