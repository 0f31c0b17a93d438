/*
 * vault_seal.c - sealed files and the master key that seals them
 *
 * A sealed file is nonce (24 bytes) || XChaCha20-Poly1305-IETF ciphertext
 * under the master key, with the full kid as associated data.  The master
 * key is a 32-byte key file or an Argon2id passphrase; the verifier in the
 * metadata (zeros sealed under it) tells a wrong one.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/secmem.h"
#include "keyvault/kid.h"
#include "keyvault/vault_priv.h"
#include "util/io.h"

#define SEAL_NONCE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG	crypto_aead_xchacha20poly1305_ietf_ABYTES

/* Refuse group/world access to @path.  -EPERM names it in last_path. */
int vault_check_mode(struct vault *v, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		vault_set_last(v, path);
		return -errno;
	}
	if (st.st_mode & 077) {
		vault_set_last(v, path);
		return -EPERM;
	}
	return 0;
}

int vault_seal(const struct vault *v, const char *ad, const uint8_t *m,
	       size_t mlen, uint8_t **out, size_t *outlen)
{
	uint8_t *c = malloc(SEAL_NONCE + mlen + SEAL_TAG);
	unsigned long long clen;

	if (!c)
		return -ENOMEM;
	randombytes_buf(c, SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(c + SEAL_NONCE, &clen, m,
		mlen, (const uint8_t *)ad, strlen(ad), NULL, c,
		secbuf_data(v->master));
	*out = c;
	*outlen = SEAL_NONCE + clen;
	return 0;
}

static int unseal(const struct vault *v, const char *ad, const uint8_t *c,
		  size_t clen, struct secbuf **out)
{
	struct secbuf *m;
	unsigned long long mlen;

	if (clen < SEAL_NONCE + SEAL_TAG)
		return -EBADMSG;
	m = secbuf_new(clen - SEAL_NONCE - SEAL_TAG + 1);
	if (!m)
		return -ENOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(secbuf_data(m), &mlen,
			NULL, c + SEAL_NONCE, clen - SEAL_NONCE,
			(const uint8_t *)ad, strlen(ad), c,
			secbuf_data(v->master))) {
		secbuf_free(m);
		return -EBADMSG;
	}
	*out = m;
	return 0;
}

static int sealed_path(const struct vault *v, const struct kid *k, char *buf,
		       size_t len)
{
	if (k->platform)
		return vault_path(v, buf, len, "platform/%s.sealed",
				  k->version);
	return vault_path(v, buf, len, "keys/%s/%s.sealed", k->name,
			  k->version);
}

/* @k's kid (the associated data) and the path of its sealed file. */
static int sealed_names(const struct vault *v, const struct kid *k,
			char kidstr[VAULT_KID_MAX + 1], char path[PATH_MAX])
{
	int err = kid_format(k, kidstr, VAULT_KID_MAX + 1);

	return err ? err : sealed_path(v, k, path, PATH_MAX);
}

int vault_write_sealed(struct vault *v, const struct kid *k,
		       const uint8_t *m, size_t mlen)
{
	char path[PATH_MAX], kidstr[VAULT_KID_MAX + 1];
	uint8_t *c = NULL;
	size_t clen;
	int err = sealed_names(v, k, kidstr, path);

	if (err)
		return err;
	if (!k->platform) {
		char d[PATH_MAX];

		err = vault_path(v, d, sizeof(d), "keys/%s", k->name);
		if (!err && mkdir(d, 0700) < 0 && errno != EEXIST)
			err = -errno;
		if (err)
			return err;
	}
	err = vault_seal(v, kidstr, m, mlen, &c, &clen);
	if (!err)
		err = io_write_atomic(path, c, clen, 0600);
	free(c);
	return err;
}

/* The unsealed contents of @k's key file (DER private key or AES key). */
int vault_read_sealed(struct vault *v, const struct kid *k,
		      struct secbuf **out)
{
	char *c = NULL, path[PATH_MAX], kidstr[VAULT_KID_MAX + 1];
	size_t clen;
	int err = sealed_names(v, k, kidstr, path);

	if (err)
		return err;
	err = io_read_file(path, 1 << 20, &c, &clen);
	if (err == -ENOENT)
		err = -ENOKEY;
	if (err)
		return err == -ENOKEY ? err : -EIO;
	err = unseal(v, kidstr, (uint8_t *)c, clen, out);
	free(c);
	return err;
}

static int read_keyfile(struct vault *v, const char *path, int create)
{
	char *buf = NULL;
	size_t len;
	int err;

	if (create && access(path, F_OK) < 0) {
		uint8_t k[32];

		randombytes_buf(k, sizeof(k));
		err = io_write_atomic(path, k, sizeof(k), 0600);
		sodium_memzero(k, sizeof(k));
		if (err) {
			vault_set_last(v, path);
			return err;
		}
	}
	err = vault_check_mode(v, path);
	if (err)
		return err;
	err = io_read_file(path, 4096, &buf, &len);
	if (err) {
		vault_set_last(v, path);
		return err;
	}
	if (len != 32) {
		sodium_memzero(buf, len);
		free(buf);
		vault_set_last(v, path);
		return -EINVAL;
	}
	v->master = secbuf_from(buf, 32);
	sodium_memzero(buf, len);
	free(buf);
	return v->master ? 0 : -ENOMEM;
}

static int passphrase_key(struct vault *v, const char *path)
{
	char *buf = NULL;
	size_t len;
	int err;

	err = io_read_file(path, 64 * 1024, &buf, &len);
	if (err) {
		vault_set_last(v, path);
		return err;
	}
	if (len && buf[len - 1] == '\n')
		buf[--len] = 0;
	if (!len) {
		free(buf);
		vault_set_last(v, path);
		return -EINVAL;
	}
	v->master = secbuf_new(32);
	if (!v->master)
		err = -ENOMEM;
	else if (crypto_pwhash(secbuf_data(v->master), 32, buf, len, v->salt,
			       v->opslimit, v->memlimit,
			       crypto_pwhash_ALG_ARGON2ID13))
		err = -ENOMEM;
	sodium_memzero(buf, len);
	free(buf);
	return err;
}

int vault_master_key(struct vault *v, const struct vault_unlock *u, int create)
{
	char kf[PATH_MAX];

	if (u && u->passphrase_file)
		return passphrase_key(v, u->passphrase_file);
	if (u && u->keyfile)
		snprintf(kf, sizeof(kf), "%s", u->keyfile);
	else if (*v->keyfile)
		snprintf(kf, sizeof(kf), "%s", v->keyfile);
	else if (snprintf(kf, sizeof(kf), "%s.key", v->dir) >=
		 (int)sizeof(kf))
		return -ENAMETOOLONG;
	return read_keyfile(v, kf, create);
}

int vault_check_verifier(struct vault *v)
{
	struct secbuf *m = NULL;
	int err = unseal(v, VERIFIER_AD, v->verifier, sizeof(v->verifier),
			 &m);

	secbuf_free(m);
	if (err) {
		vault_set_last(v, v->dir);
		return -EACCES;
	}
	return 0;
}
