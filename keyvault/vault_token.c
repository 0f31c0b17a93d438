/*
 * vault_token.c - keys whose private half lives in a PKCS#11 token
 *
 * An hsm key's sealed file holds "SSEFSHS1", the token object's CKA_ID and
 * the public key (DER SubjectPublicKeyInfo) instead of a private key.  The
 * token session (keyvault/hsm.h) is opened at first use and kept in the
 * handle under hsm_mu, which is taken after the vault lock, never before.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include <openssl/x509.h>

#include "crypto/envelope.h"
#include "crypto/secmem.h"
#include "keyvault/hsm.h"
#include "keyvault/kid.h"
#include "keyvault/vault_priv.h"

#define HSM_MAGIC	"SSEFSHS1"
#define HSM_MAGIC_LEN	8
#define HSM_BLOB_HDR	(HSM_MAGIC_LEN + HSM_ID_BYTES)

/* A sealed file of an hsm key holds this instead of a private key (a DER
 * private key starts with 0x30, never with 'S'). */
int vault_is_hsm_blob(const struct secbuf *b)
{
	return secbuf_len(b) > HSM_BLOB_HDR &&
	       !memcmp(secbuf_data(b), HSM_MAGIC, HSM_MAGIC_LEN);
}

static const uint8_t *blob_id(const struct secbuf *b)
{
	return secbuf_data(b) + HSM_MAGIC_LEN;
}

EVP_PKEY *vault_blob_public(const struct secbuf *b)
{
	const unsigned char *p = secbuf_data(b) + HSM_BLOB_HDR;

	return d2i_PUBKEY(NULL, &p, (long)(secbuf_len(b) - HSM_BLOB_HDR));
}

/* Note why the token failed in @e (NULL: nowhere). */
static void token_why(struct vault_err *e, const char *token,
		      const char *why)
{
	vault_err_why(e, "token %s: %s", token, why);
}

/* An operation on session @h failed: keep what the token said.  The copy
 * is taken under @h's own lock, as other threads may be using it. */
static void token_failed(struct vault_err *e, struct hsm *h)
{
	char why[256];

	hsm_why_copy(h, why, sizeof(why));
	token_why(e, hsm_token(h), why);
}

/*
 * The token session, opened at first use and kept until vault_close().
 * @locked: the caller holds the vault lock, so the settings are fresh;
 * otherwise they are read under it first: hsm_mu is always taken after
 * the vault lock, never before.
 */
int vault_token_get(struct vault *v, int locked, struct hsm **out,
		    struct vault_err *e)
{
	char module[PATH_MAX], token[33], pin[PATH_MAX], why[256] = "";
	int err;

	if (!locked) {
		err = vault_begin(v, LOCK_SH);
		if (err)
			return err;
	}
	snprintf(module, sizeof(module), "%s", v->hsm_module);
	snprintf(token, sizeof(token), "%s", v->hsm_token);
	snprintf(pin, sizeof(pin), "%s", *v->hsm_pin_override ?
		 v->hsm_pin_override : v->hsm_pin_file);
	if (!locked)
		vault_end(v);
	pthread_mutex_lock(&v->hsm_mu);
	err = 0;
	if (e)
		*e->why = '\0';
	if (!*module) {
		vault_err_why(e, "no PKCS#11 token is configured (ssefs "
			      "vault set --hsm-module)");
		err = -ENODEV;
	} else if (!v->hsm) {
		err = hsm_open(&v->hsm, module, token, pin, why, sizeof(why));
		if (err)
			token_why(e, token, why);
	}
	if (!err)
		*out = v->hsm;
	pthread_mutex_unlock(&v->hsm_mu);
	return err;
}

/* Generate version @kidstr of an hsm key in the token: the sealed blob
 * to keep goes to *@blob, the object id to @id. */
int vault_token_generate(struct vault *v, int bits, const char *kidstr,
			 uint8_t id[HSM_ID_BYTES], struct secbuf **blob,
			 struct vault_err *e)
{
	struct hsm *h = NULL;
	uint8_t *pub = NULL;
	size_t publen = 0;
	int err;

	err = vault_token_get(v, 0, &h, e);
	if (err)
		return err;
	err = hsm_generate_rsa(h, bits, kidstr, id, &pub, &publen);
	if (err) {
		token_failed(e, h);
		return err;
	}
	*blob = secbuf_new(HSM_BLOB_HDR + publen);
	if (*blob) {
		memcpy(secbuf_data(*blob), HSM_MAGIC, HSM_MAGIC_LEN);
		memcpy(secbuf_data(*blob) + HSM_MAGIC_LEN, id, HSM_ID_BYTES);
		memcpy(secbuf_data(*blob) + HSM_BLOB_HDR, pub, publen);
	} else {
		err = -ENOMEM;
		hsm_destroy(h, id);
	}
	free(pub);
	return err;
}

/* Unwrap @in with the private key of @blob, in the token. */
int vault_token_unwrap(struct vault *v, const struct secbuf *blob,
		       const struct env_layer *in, struct secbuf *m,
		       size_t *n, struct vault_err *e)
{
	struct secbuf *d = NULL;
	struct hsm *h = NULL;
	int err;

	err = vault_token_get(v, 0, &h, e);
	if (err)
		return err;
	err = hsm_unwrap_oaep256(h, blob_id(blob), in->wrapped,
				 in->wrapped_len, 0, &d);
	if (err) {
		token_failed(e, h);
		return err;
	}
	if (secbuf_len(d) > secbuf_len(m)) {
		err = -EBADMSG;
	} else {
		memcpy(secbuf_data(m), secbuf_data(d), secbuf_len(d));
		*n = secbuf_len(d);
	}
	secbuf_free(d);
	return err;
}

/* Destroy the token objects of every version of hsm key @k, so purge
 * leaves nothing of it in the token either.  The vault lock is held. */
int vault_token_destroy_keys(struct vault *v, const struct vault_key *k,
			     struct vault_err *e)
{
	struct secbuf *b;
	struct hsm *h = NULL;
	struct kid pk;
	size_t i;
	int err;

	err = vault_token_get(v, 1, &h, e);
	if (err)
		return err;
	for (i = 0; i < k->nversions; i++) {
		memset(&pk, 0, sizeof(pk));
		snprintf(pk.vault, sizeof(pk.vault), "%s", v->name);
		snprintf(pk.name, sizeof(pk.name), "%s", k->name);
		snprintf(pk.version, sizeof(pk.version), "%s",
			 k->versions[i].version);
		b = NULL;
		err = vault_read_sealed(v, &pk, &b);
		if (err == -ENOKEY)
			continue;
		if (!err && vault_is_hsm_blob(b)) {
			err = hsm_destroy(h, blob_id(b));
			if (err)
				token_failed(e, h);
		}
		secbuf_free(b);
		if (err)
			return err;
	}
	return 0;
}

int vault_hsm_get(struct vault *v, struct vault_hsm *out)
{
	int err = vault_begin(v, LOCK_SH);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	snprintf(out->module, sizeof(out->module), "%s", v->hsm_module);
	snprintf(out->token, sizeof(out->token), "%s", v->hsm_token);
	snprintf(out->pin_file, sizeof(out->pin_file), "%s",
		 v->hsm_pin_file);
	vault_end(v);
	return 0;
}

static int hsm_setting_ok(const char *s, size_t max)
{
	return *s && strlen(s) <= max && !strchr(s, '\n');
}

int vault_hsm_set(struct vault *v, const struct vault_hsm *c,
		  struct vault_err *e)
{
	int set = c && *c->module;
	struct hsm *h = NULL;
	char why[256] = "";
	size_t i;
	int err;

	vault_err_clear(e);
	if (set) {
		if (*c->module != '/' || *c->pin_file != '/' ||
		    !hsm_setting_ok(c->module, sizeof(v->hsm_module) - 1) ||
		    !hsm_setting_ok(c->token, HSM_LABEL_MAX) ||
		    !hsm_setting_ok(c->pin_file,
				    sizeof(v->hsm_pin_file) - 1))
			return vault_err_ret(e, -EINVAL);
		/* Record nothing that does not work. */
		err = hsm_open(&h, c->module, c->token, c->pin_file, why,
			       sizeof(why));
		if (err) {
			token_why(e, c->token, why);
			return vault_err_ret(e, err);
		}
		hsm_close(h);
	}
	err = vault_begin(v, LOCK_EX);
	if (err)
		return vault_err_ret(e, err);
	if (!set) {
		for (i = 0; i < v->nkeys; i++)
			if (v->keys[i].hsm)
				return vault_err_ret(e, vault_refuse(v,
					"set hsm-module=none", NULL, -EBUSY));
		*v->hsm_module = *v->hsm_token = *v->hsm_pin_file = 0;
	} else {
		snprintf(v->hsm_module, sizeof(v->hsm_module), "%s",
			 c->module);
		snprintf(v->hsm_token, sizeof(v->hsm_token), "%s", c->token);
		snprintf(v->hsm_pin_file, sizeof(v->hsm_pin_file), "%s",
			 c->pin_file);
	}
	/* The next use opens a session with the new settings. */
	pthread_mutex_lock(&v->hsm_mu);
	hsm_close(v->hsm);
	v->hsm = NULL;
	pthread_mutex_unlock(&v->hsm_mu);
	return vault_err_ret(e, vault_commit(v, set ? "set hsm-module" :
					     "set hsm-module=none", NULL));
}

void vault_after_fork(struct vault *v)
{
	pthread_mutex_lock(&v->hsm_mu);
	hsm_close(v->hsm);
	v->hsm = NULL;
	pthread_mutex_unlock(&v->hsm_mu);
}

void vault_hsm_pin_file(struct vault *v, const char *path)
{
	snprintf(v->hsm_pin_override, sizeof(v->hsm_pin_override), "%s",
		 path ? path : "");
}
