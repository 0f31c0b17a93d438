/*
 * vault_wrap.c - wrapping and unwrapping a disk's DEK, and the keyops
 *
 * Customer keys wrap with RSA-OAEP-256 (SHA-256, MGF1-SHA-256), the
 * platform key with AES-256-KWP (RFC 5649).  A key in the token wraps
 * with its public key here and unwraps in the token (vault_token.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/envelope.h"
#include "crypto/secmem.h"
#include "disk/keyops.h"
#include "keyvault/kid.h"
#include "keyvault/vault_priv.h"

int vault_aes_kwp(int wrap, const uint8_t key[32], const uint8_t *in,
		  size_t inlen, uint8_t *out, size_t *outlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, m = 0, err = -EBADMSG;

	if (!c)
		return -ENOMEM;
	if (inlen > INT_MAX)
		goto out;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (wrap) {
		if (EVP_EncryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, key,
				       NULL) != 1 ||
		    EVP_EncryptUpdate(c, out, &n, in, (int)inlen) != 1 ||
		    EVP_EncryptFinal_ex(c, out + n, &m) != 1)
			goto out;
	} else {
		if (EVP_DecryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, key,
				       NULL) != 1 ||
		    EVP_DecryptUpdate(c, out, &n, in, (int)inlen) != 1 ||
		    EVP_DecryptFinal_ex(c, out + n, &m) != 1)
			goto out;
	}
	*outlen = (size_t)(n + m);
	err = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return err;
}

static EVP_PKEY *decode_private(const struct secbuf *der)
{
	const unsigned char *p = secbuf_data(der);

	return d2i_AutoPrivateKey(NULL, &p, (long)secbuf_len(der));
}

static int rsa_oaep(int enc, EVP_PKEY *pk, const uint8_t *in, size_t inlen,
		    uint8_t *out, size_t *outlen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	int err = -EBADMSG, ok;

	if (!c)
		return -ENOMEM;
	ok = enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c);
	if (ok != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) != 1)
		goto out;
	ok = enc ? EVP_PKEY_encrypt(c, out, outlen, in, inlen) :
		   EVP_PKEY_decrypt(c, out, outlen, in, inlen);
	if (ok == 1)
		err = 0;
out:
	EVP_PKEY_CTX_free(c);
	return err;
}

/* Check @kidstr is usable and belongs here; the shared lock is held. */
static int usable(struct vault *v, const char *kidstr, struct kid *pk)
{
	if (kid_parse(kidstr, pk))
		return -EINVAL;
	if (strcmp(pk->vault, v->name))
		return -EXDEV;
	return key_state_errno(vault_kid_state(v, pk, 0));
}

static int do_wrap(struct vault *v, const char *kidstr,
		   const struct secbuf *dek, struct env_layer *l)
{
	struct secbuf *key = NULL;
	EVP_PKEY *pk = NULL;
	struct kid k;
	size_t n = ENV_WRAPPED_MAX;
	int err;

	err = vault_begin(v, LOCK_SH);
	if (err)
		return err;
	err = usable(v, kidstr, &k);
	vault_end(v);
	if (!err)
		err = vault_read_sealed(v, &k, &key);
	if (err)
		return err;
	if (k.platform) {
		if (secbuf_len(dek) + 16 > ENV_WRAPPED_MAX)
			err = -EINVAL;
		else
			err = vault_aes_kwp(1, secbuf_data(key),
					    secbuf_data(dek), secbuf_len(dek),
					    l->wrapped, &n);
		l->key_source = ENV_KEY_PLATFORM;
		l->wrap_alg = ENV_WRAP_AES_KWP;
	} else {
		/* An hsm key wraps with its public key; no token call. */
		pk = vault_is_hsm_blob(key) ? vault_blob_public(key) :
					decode_private(key);
		if (!pk)
			err = -EBADMSG;
		else
			err = rsa_oaep(1, pk, secbuf_data(dek),
				       secbuf_len(dek), l->wrapped, &n);
		l->key_source = ENV_KEY_CUSTOMER;
		l->wrap_alg = ENV_WRAP_RSA_OAEP_256;
	}
	EVP_PKEY_free(pk);
	secbuf_free(key);
	if (err)
		return err;
	l->wrapped_len = (uint16_t)n;
	snprintf(l->kid, sizeof(l->kid), "%s", kidstr);
	return 0;
}

int vault_wrap(struct vault *v, const char *kid, const struct secbuf *dek,
	       struct env_layer *out)
{
	int err = do_wrap(v, kid, dek, out);

	vault_audit(v, "wrap", kid, err);
	return err;
}

static int do_unwrap(struct vault *v, const struct env_layer *in,
		     struct secbuf **dek, struct vault_err *e)
{
	struct secbuf *key = NULL, *m = NULL;
	EVP_PKEY *pk = NULL;
	struct kid k;
	size_t n;
	int err;

	err = vault_begin(v, LOCK_SH);
	if (err)
		return -EIO;
	err = usable(v, in->kid, &k);
	vault_end(v);
	if (err == -EINVAL)
		err = -ENOKEY;
	if (!err)
		err = vault_read_sealed(v, &k, &key);
	if (err)
		return err;
	if (in->wrapped_len > ENV_WRAPPED_MAX ||
	    (k.platform ? 1 : 0) != (in->wrap_alg == ENV_WRAP_AES_KWP)) {
		err = -EBADMSG;
		goto out;
	}
	m = secbuf_new(ENV_WRAPPED_MAX);
	if (!m) {
		err = -ENOMEM;
		goto out;
	}
	n = ENV_WRAPPED_MAX;
	if (k.platform) {
		err = vault_aes_kwp(0, secbuf_data(key), in->wrapped,
				    in->wrapped_len, secbuf_data(m), &n);
	} else if (vault_is_hsm_blob(key)) {
		err = vault_token_unwrap(v, key, in, m, &n, e);
	} else {
		pk = decode_private(key);
		err = pk ? rsa_oaep(0, pk, in->wrapped, in->wrapped_len,
				    secbuf_data(m), &n) : -EBADMSG;
	}
	if (!err) {
		*dek = secbuf_from(secbuf_data(m), n);
		if (!*dek)
			err = -ENOMEM;
	}
out:
	EVP_PKEY_free(pk);
	secbuf_free(m);
	secbuf_free(key);
	return err;
}

int vault_unwrap(struct vault *v, const struct env_layer *in,
		 struct secbuf **dek, struct vault_err *e)
{
	int err;

	vault_err_clear(e);
	err = do_unwrap(v, in, dek, e);
	vault_audit(v, "unwrap", in->kid, err);
	return vault_err_ret(e, err);
}

static int ko_unwrap(void *ctx, const struct env_layer *l,
		     struct secbuf **dek)
{
	struct vault_keyctx *kc = ctx;

	return vault_unwrap(kc->v, l, dek, kc->err);
}

static int ko_wrap(void *ctx, const char *kid, const struct secbuf *dek,
		   struct env_layer *l)
{
	struct vault_keyctx *kc = ctx;

	return vault_wrap(kc->v, kid, dek, l);
}

void vault_keyops(struct vault_keyctx *kc, struct keyops *ops)
{
	ops->ctx = kc;
	ops->unwrap = ko_unwrap;
	ops->wrap = ko_wrap;
}
