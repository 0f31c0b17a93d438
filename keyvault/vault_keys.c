/*
 * vault_keys.c - customer keys, their versions and states, the platform key
 *
 * A key is a name with versions (oldest first, the last current), each an
 * RSA private key sealed in DIR/keys/NAME/VERSION.sealed or, for a key in
 * the token, the blob of vault_token.c.  Every change is one exclusive
 * section: vault_begin(LOCK_EX), change, vault_commit() or vault_refuse().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "crypto/secmem.h"
#include "keyvault/hsm.h"
#include "keyvault/kid.h"
#include "keyvault/vault_priv.h"

const char *key_state_name(enum key_state s)
{
	static const char *const names[] = {
		"usable", "disabled", "expired", "not-yet-valid", "deleted",
		"missing",
	};

	return (unsigned int)s < 6 ? names[s] : "missing";
}

int key_state_errno(enum key_state s)
{
	switch (s) {
	case KEY_USABLE:
		return 0;
	case KEY_DISABLED:
	case KEY_DELETED:
		return -EKEYREVOKED;
	case KEY_EXPIRED:
	case KEY_NOT_YET_VALID:
		return -EKEYEXPIRED;
	default:
		return -ENOKEY;
	}
}

static int format_kid(const struct vault *v, const char *name,
		      const char *ver, char *buf, size_t len)
{
	struct kid k;

	memset(&k, 0, sizeof(k));
	k.platform = !name;
	snprintf(k.vault, sizeof(k.vault), "%s", v->name);
	if (name)
		snprintf(k.name, sizeof(k.name), "%s", name);
	snprintf(k.version, sizeof(k.version), "%s", ver);
	return kid_format(&k, buf, len);
}

int vault_resolve(struct vault *v, const char *ref, char *kid, size_t len)
{
	char name[KID_NAME_MAX + 1], ver[KID_VERSION_LEN + 1];
	struct vault_key *k;
	struct kid pk;
	int err;

	err = vault_begin(v, LOCK_SH);
	if (err)
		return err;
	if (!strcmp(ref, "platform")) {
		err = v->nplatform ? format_kid(v, NULL,
			v->platform[v->nplatform - 1].version, kid, len) :
			-ENOKEY;
		goto out;
	}
	if (!strncmp(ref, "vault://", 8)) {
		err = kid_parse(ref, &pk);
		if (err)
			goto out;
		if (strcmp(pk.vault, v->name)) {
			err = -EXDEV;
			goto out;
		}
		snprintf(name, sizeof(name), "%s", pk.name);
		snprintf(ver, sizeof(ver), "%s", pk.version);
		if (pk.platform) {
			size_t i;

			err = -ENOKEY;
			for (i = 0; i < v->nplatform; i++)
				if (!strcmp(v->platform[i].version, ver))
					err = format_kid(v, NULL, ver, kid,
							 len);
			goto out;
		}
	} else {
		err = kid_split_ref(ref, name, ver);
		if (err)
			goto out;
	}
	k = vault_find_key(v, name);
	if (!k || !k->nversions) {
		err = -ENOKEY;
		goto out;
	}
	if (!*ver)
		snprintf(ver, sizeof(ver), "%s",
			 k->versions[k->nversions - 1].version);
	else if (!vault_find_version(k, ver)) {
		err = -ENOKEY;
		goto out;
	}
	err = format_kid(v, name, ver, kid, len);
out:
	vault_end(v);
	return err;
}

static enum key_state state_of(const struct vault_key *k,
			       const struct vault_version *p, time_t now)
{
	if (k->deleted)
		return KEY_DELETED;
	if (!k->enabled || !p->enabled)
		return KEY_DISABLED;
	if (p->expires && p->expires <= now)
		return KEY_EXPIRED;
	if (p->not_before && p->not_before > now)
		return KEY_NOT_YET_VALID;
	return KEY_USABLE;
}

enum key_state vault_version_state(const struct vault_key *k,
				   const struct vault_version *p, time_t now)
{
	return state_of(k, p, now ? now : time(NULL));
}

/* The state of a parsed kid; the lock is held. */
enum key_state vault_kid_state(struct vault *v, const struct kid *pk,
			       time_t now)
{
	struct vault_key *k;
	struct vault_version *p;
	size_t i;

	if (strcmp(pk->vault, v->name))
		return KEY_MISSING;
	if (pk->platform) {
		for (i = 0; i < v->nplatform; i++)
			if (!strcmp(v->platform[i].version, pk->version))
				return KEY_USABLE;
		return KEY_MISSING;
	}
	k = vault_find_key(v, pk->name);
	p = k ? vault_find_version(k, pk->version) : NULL;
	if (!p)
		return KEY_MISSING;
	return state_of(k, p, now ? now : time(NULL));
}

enum key_state vault_key_state(struct vault *v, const char *kid, time_t now)
{
	enum key_state s;
	struct kid pk;

	if (kid_parse(kid, &pk))
		return KEY_MISSING;
	if (vault_begin(v, LOCK_SH))
		return KEY_MISSING;
	s = vault_kid_state(v, &pk, now);
	vault_end(v);
	return s;
}

static int copy_key(struct vault_key *dst, const struct vault_key *src,
		    int retention_days)
{
	*dst = *src;
	dst->purge_at = src->deleted ?
		src->deleted_at + (time_t)retention_days * 86400 : 0;
	dst->versions = calloc(src->nversions ? src->nversions : 1,
			       sizeof(*src->versions));
	if (!dst->versions)
		return -ENOMEM;
	if (src->nversions)
		memcpy(dst->versions, src->versions,
		       src->nversions * sizeof(*src->versions));
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct vault_key *)a)->name,
		      ((const struct vault_key *)b)->name);
}

int vault_key_list(struct vault *v, struct vault_key **out, size_t *n)
{
	struct vault_key *ks;
	size_t i;
	int err;

	err = vault_begin(v, LOCK_SH);
	if (err)
		return err;
	ks = calloc(v->nkeys ? v->nkeys : 1, sizeof(*ks));
	err = ks ? 0 : -ENOMEM;
	for (i = 0; !err && i < v->nkeys; i++) {
		err = copy_key(&ks[i], &v->keys[i], v->retention_days);
		if (err)
			vault_keys_free(ks, i);
	}
	vault_end(v);
	if (err)
		return err;
	qsort(ks, v->nkeys, sizeof(*ks), cmp_key);
	*out = ks;
	*n = v->nkeys;
	return 0;
}

void vault_keys_free(struct vault_key *k, size_t n)
{
	size_t i;

	if (!k)
		return;
	for (i = 0; i < n; i++)
		free(k[i].versions);
	free(k);
}

int vault_key_get(struct vault *v, const char *name, struct vault_key **out)
{
	struct vault_key *k, *c;
	int err;

	err = vault_begin(v, LOCK_SH);
	if (err)
		return err;
	k = vault_find_key(v, name);
	c = k ? calloc(1, sizeof(*c)) : NULL;
	err = !k ? -ENOKEY : !c ? -ENOMEM : copy_key(c, k, v->retention_days);
	vault_end(v);
	if (err) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

/* The DER of @pk's private key, in guarded memory (*@der; NULL on error). */
static int pkey_to_der(EVP_PKEY *pk, struct secbuf **der)
{
	int len = i2d_PrivateKey(pk, NULL);
	unsigned char *p;

	*der = len > 0 ? secbuf_new((size_t)len) : NULL;
	if (!*der)
		return -ENOMEM;
	p = secbuf_data(*der);
	if (i2d_PrivateKey(pk, &p) != len) {
		secbuf_free(*der);
		*der = NULL;
		return -EIO;
	}
	return 0;
}

static int generate_rsa(int bits, struct secbuf **der, int *gotbits)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	int err;

	if (!pk)
		return -EIO;
	err = pkey_to_der(pk, der);
	*gotbits = EVP_PKEY_get_bits(pk);
	EVP_PKEY_free(pk);
	return err;
}

static int load_pem(const char *path, struct secbuf **der, int *bits)
{
	BIO *b = BIO_new_file(path, "r");
	EVP_PKEY *pk;
	int err;

	if (!b)
		return -errno ? -errno : -ENOENT;
	pk = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
	BIO_free(b);
	if (!pk)
		return -EBADMSG;
	*bits = EVP_PKEY_get_bits(pk);
	if (!EVP_PKEY_is_a(pk, "RSA") ||
	    (*bits != 2048 && *bits != 3072 && *bits != 4096)) {
		EVP_PKEY_free(pk);
		return -ENOTSUP;
	}
	err = pkey_to_der(pk, der);
	EVP_PKEY_free(pk);
	return err;
}

/* Take the lock for a change to key @name: *@k is it, or NULL when there
 * is none.  Return: 0 or vault_begin()'s error (*@k untouched). */
static int begin_key(struct vault *v, const char *name, struct vault_key **k)
{
	int err = vault_begin(v, LOCK_EX);

	if (!err)
		*k = vault_find_key(v, name);
	return err;
}

/* Add version @ver holding @der (a private key, or an hsm key's blob) to
 * key @name (created when @create, with protection @hsm). */
static int add_version(struct vault *v, const char *name, int create,
		       int hsm, int bits, const struct secbuf *der,
		       const char *ver, time_t nbf, time_t exp,
		       const char *op, char *kidbuf, size_t len)
{
	struct vault_key *k;
	struct vault_version *p;
	char kidstr[VAULT_KID_MAX + 1];
	struct kid pk;
	time_t now = time(NULL);
	int err;

	err = begin_key(v, name, &k);
	if (err)
		return err;
	if (create && k) {
		err = k->deleted ? -EADDRINUSE : -EEXIST;
		goto refused;
	}
	if (!create && !k) {
		err = -ENOKEY;
		goto refused;
	}
	if (!create && k->deleted) {
		err = -EKEYREVOKED;
		goto refused;
	}
	if (!create && k->hsm != hsm) {
		err = -EINVAL;
		goto refused;
	}
	if (create) {
		k = vault_grow(v->keys, v->nkeys, sizeof(*k));
		if (!k) {
			err = -ENOMEM;
			goto refused;
		}
		v->keys = k;
		k += v->nkeys++;
		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "%s", name);
		k->enabled = 1;
		k->hsm = hsm;
		k->bits = bits;
		k->created = now;
	}
	/* a rotation (by hand or by policy) follows the expire-after
	 * policy, as Key Vault's expiryTime does */
	if (!create && !exp && k->expire_after)
		exp = now + (time_t)k->expire_after;
	p = vault_grow(k->versions, k->nversions, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto refused;
	}
	k->versions = p;
	p += k->nversions;
	memset(p, 0, sizeof(*p));
	snprintf(p->version, sizeof(p->version), "%s", ver);
	p->enabled = 1;
	p->not_before = nbf;
	p->expires = exp;
	p->created = p->updated = now;
	k->nversions++;
	memset(&pk, 0, sizeof(pk));
	snprintf(pk.vault, sizeof(pk.vault), "%s", v->name);
	snprintf(pk.name, sizeof(pk.name), "%s", name);
	snprintf(pk.version, sizeof(pk.version), "%s", p->version);
	err = kid_format(&pk, kidstr, sizeof(kidstr));
	if (!err)
		err = vault_write_sealed(v, &pk, secbuf_data(der),
					 secbuf_len(der));
	if (err)
		goto refused;
	err = vault_commit(v, op, kidstr);
	if (!err && kidbuf)
		snprintf(kidbuf, len, "%s", kidstr);
	return err;
refused:
	return vault_refuse(v, op, name, err);
}

/*
 * The key material of a new version @ver of key @name: a fresh software
 * RSA key (DER, *@der), or a key pair generated in the token (@hsm; the
 * blob to seal in *@der, the object id in @id).
 */
static int new_material(struct vault *v, const char *name, int hsm,
			int bits, const char *ver, uint8_t id[HSM_ID_BYTES],
			struct secbuf **der, int *got, struct vault_err *e)
{
	char kidstr[VAULT_KID_MAX + 1];
	int err;

	if (!hsm)
		return generate_rsa(bits, der, got);
	err = format_kid(v, name, ver, kidstr, sizeof(kidstr));
	if (err)
		return err;
	*got = bits;
	return vault_token_generate(v, bits, kidstr, id, der, e);
}

/* After add_version() refused an hsm version: its objects must go. */
static void forget_material(struct vault *v, int hsm,
			    const uint8_t id[HSM_ID_BYTES])
{
	struct hsm *h = NULL;

	if (hsm && !vault_token_get(v, 0, &h, NULL))
		hsm_destroy(h, id);
}

static int create_key(struct vault *v, const char *name, int bits,
		      int flags, time_t not_before, time_t expires,
		      char *kid, size_t len, struct vault_err *e)
{
	char ver[KEY_VERSION_HEX + 1];
	uint8_t id[HSM_ID_BYTES];
	struct secbuf *der = NULL;
	int hsm = flags & VAULT_KEY_HSM ? 1 : 0;
	int err, got;

	if (!bits)
		bits = VAULT_RSA_DEFAULT_BITS;
	/* "platform" stands for the platform key in vault_resolve(). */
	if (!kid_valid_key_name(name) || !strcmp(name, "platform") ||
	    (bits != 2048 && bits != 3072 && bits != 4096) ||
	    (flags & ~VAULT_KEY_HSM))
		return -EINVAL;
	{
		struct vault_key *k = NULL;

		if (vault_key_get(v, name, &k) == 0) {
			err = k->deleted ? -EADDRINUSE : -EEXIST;
			vault_keys_free(k, 1);
			return err;
		}
	}
	vault_new_version_id(ver);
	err = new_material(v, name, hsm, bits, ver, id, &der, &got, e);
	if (err)
		return err;
	err = add_version(v, name, 1, hsm, got, der, ver, not_before,
			  expires, "create", kid, len);
	if (err)
		forget_material(v, hsm, id);
	secbuf_free(der);
	return err;
}

int vault_key_create_ex(struct vault *v, const char *name, int bits,
			int flags, time_t not_before, time_t expires,
			char *kid, size_t len, struct vault_err *e)
{
	vault_err_clear(e);
	return vault_err_ret(e, create_key(v, name, bits, flags, not_before,
					   expires, kid, len, e));
}

int vault_key_create(struct vault *v, const char *name, int bits,
		     time_t not_before, time_t expires, char *kid, size_t len)
{
	return vault_key_create_ex(v, name, bits, 0, not_before, expires,
				   kid, len, NULL);
}

int vault_key_import(struct vault *v, const char *name, const char *pem_path,
		     char *kid, size_t len)
{
	char ver[KEY_VERSION_HEX + 1];
	struct secbuf *der = NULL;
	int err, bits;

	if (!kid_valid_key_name(name) || !strcmp(name, "platform"))
		return -EINVAL;
	err = load_pem(pem_path, &der, &bits);
	if (err)
		return err;
	vault_new_version_id(ver);
	err = add_version(v, name, 1, 0, bits, der, ver, 0, 0, "import", kid,
			  len);
	secbuf_free(der);
	return err;
}

static int rotate_key(struct vault *v, const char *name, char *kid,
		      size_t len, struct vault_err *e)
{
	char ver[KEY_VERSION_HEX + 1];
	uint8_t id[HSM_ID_BYTES];
	struct vault_key *k = NULL;
	struct secbuf *der = NULL;
	int err, got, hsm;

	err = vault_key_get(v, name, &k);
	if (err)
		return err;
	hsm = k->hsm;
	vault_new_version_id(ver);
	err = k->deleted ? -EKEYREVOKED :
		new_material(v, name, hsm, k->bits, ver, id, &der, &got, e);
	vault_keys_free(k, 1);
	if (err)
		return err;
	err = add_version(v, name, 0, hsm, got, der, ver, 0, 0, "rotate", kid,
			  len);
	if (err)
		forget_material(v, hsm, id);
	secbuf_free(der);
	return err;
}

int vault_key_rotate(struct vault *v, const char *name, char *kid, size_t len,
		     struct vault_err *e)
{
	vault_err_clear(e);
	return vault_err_ret(e, rotate_key(v, name, kid, len, e));
}

static void apply_attrs(struct vault_key *k, struct vault_version *p,
			const struct vault_key_attrs *a, time_t now)
{
	size_t i;

	if (a->enabled >= 0)
		p->enabled = !!a->enabled;
	if (a->set_expires && p->expires != a->expires) {
		/* a new expiry is news again */
		for (i = 0; i < VAULT_NOTICES; i++)
			if (!strcmp(k->notice[i].version, p->version))
				memset(&k->notice[i], 0, sizeof(k->notice[i]));
		p->expires = a->expires;
	}
	if (a->set_not_before)
		p->not_before = a->not_before;
	p->updated = now;
}

int vault_key_set(struct vault *v, const char *name, const char *version,
		  const struct vault_key_attrs *a)
{
	struct vault_key *k;
	struct vault_version *p;
	char ref[VAULT_KID_MAX + 1];
	time_t now = time(NULL);
	size_t i;
	int err;

	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	snprintf(ref, sizeof(ref), "%s%s%s", name, version && *version ?
		 "/" : "", version ? version : "");
	k = vault_find_key(v, name);
	if (!k)
		return vault_refuse(v, "set", ref, -ENOKEY);
	if (k->deleted)
		return vault_refuse(v, "set", ref, -EKEYREVOKED);
	if (version && *version) {
		p = vault_find_version(k, version);
		if (!p)
			return vault_refuse(v, "set", ref, -ENOKEY);
		apply_attrs(k, p, a, now);
		err = format_kid(v, name, version, ref, sizeof(ref));
	} else {
		if (a->enabled >= 0)
			k->enabled = !!a->enabled;
		for (i = 0; i < k->nversions; i++)
			apply_attrs(k, &k->versions[i], a, now);
	}
	if (err)
		return vault_refuse(v, "set", ref, err);
	return vault_commit(v, "set", ref);
}

static int delete_files(struct vault *v, const struct vault_key *k)
{
	char path[PATH_MAX];
	size_t i;
	int err = 0;

	for (i = 0; i < k->nversions; i++) {
		err = vault_path(v, path, sizeof(path), "keys/%s/%s.sealed",
				 k->name, k->versions[i].version);
		if (!err && unlink(path) < 0 && errno != ENOENT)
			err = -errno;
	}
	if (!vault_path(v, path, sizeof(path), "keys/%s", k->name))
		rmdir(path);
	return err;
}

static int key_change(struct vault *v, const char *name, const char *op,
		      struct vault_err *e)
{
	struct vault_key *k;
	time_t now = time(NULL);
	int err;

	err = begin_key(v, name, &k);
	if (err)
		return err;
	if (!k)
		return vault_refuse(v, op, name, -ENOKEY);
	if (!strcmp(op, "delete")) {
		if (k->deleted)
			return vault_refuse(v, op, name, -EKEYREVOKED);
		k->deleted = 1;
		k->deleted_at = now;
	} else if (!strcmp(op, "recover")) {
		if (!k->deleted)
			return vault_refuse(v, op, name, -EINVAL);
		k->deleted = 0;
		k->deleted_at = 0;
	} else {
		if (!k->deleted)
			return vault_refuse(v, op, name, -EINVAL);
		if (v->purge_protection &&
		    now < k->deleted_at + (time_t)v->retention_days * 86400)
			return vault_refuse(v, op, name, -EPERM);
		err = k->hsm ? vault_token_destroy_keys(v, k, e) : 0;
		if (!err)
			err = delete_files(v, k);
		if (err)
			return vault_refuse(v, op, name, err);
		free(k->versions);
		*k = v->keys[--v->nkeys];
	}
	return vault_commit(v, op, name);
}

int vault_key_delete(struct vault *v, const char *name)
{
	return key_change(v, name, "delete", NULL);
}

int vault_key_recover(struct vault *v, const char *name)
{
	return key_change(v, name, "recover", NULL);
}

int vault_key_purge(struct vault *v, const char *name, struct vault_err *e)
{
	vault_err_clear(e);
	return vault_err_ret(e, key_change(v, name, "purge", e));
}

int vault_key_policy(struct vault *v, const char *name, uint64_t rotate_after,
		     uint64_t notify_before, uint64_t expire_after)
{
	struct vault_key *k;
	int err;

	err = begin_key(v, name, &k);
	if (err)
		return err;
	if (!k)
		return vault_refuse(v, "policy", name, -ENOKEY);
	if (rotate_after != UINT64_MAX)
		k->rotate_after = rotate_after;
	if (notify_before != UINT64_MAX)
		k->notify_before = notify_before;
	if (expire_after != UINT64_MAX)
		k->expire_after = expire_after;
	return vault_commit(v, "policy", name);
}

int vault_key_notice(struct vault *v, const char *name, enum vault_notice what,
		     const char *version, time_t expires, int claim)
{
	struct vault_notice_sent *n;
	struct vault_key *k;
	int err, sent;

	if ((unsigned int)what >= VAULT_NOTICES || !version || !*version)
		return -EINVAL;
	err = begin_key(v, name, &k);
	if (err)
		return err;
	if (!k) {
		vault_end(v);
		return -ENOKEY;
	}
	n = &k->notice[what];
	sent = !strcmp(n->version, version) && n->expires == expires;
	if (claim == sent) {
		vault_end(v);		/* nothing to record */
		return 0;
	}
	if (claim) {
		snprintf(n->version, sizeof(n->version), "%s", version);
		n->expires = expires;
	} else {
		memset(n, 0, sizeof(*n));
	}
	/* bookkeeping of an event the caller audits: no record of its own */
	err = vault_save_meta(v);
	vault_end(v);
	return err ? err : claim;
}

int vault_platform_key_new(struct vault *v, struct kid *k)
{
	uint8_t key[32];
	int err;

	memset(k, 0, sizeof(*k));
	k->platform = 1;
	snprintf(k->vault, sizeof(k->vault), "%s", v->name);
	vault_new_version_id(k->version);
	randombytes_buf(key, sizeof(key));
	err = vault_write_sealed(v, k, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	return err;
}

int vault_rotate_platform(struct vault *v, char *kidbuf, size_t len)
{
	struct vault_version *p;
	char kidstr[VAULT_KID_MAX + 1];
	struct kid k;
	int err;

	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	err = vault_platform_key_new(v, &k);
	if (!err)
		err = kid_format(&k, kidstr, sizeof(kidstr));
	p = err ? NULL : vault_grow(v->platform, v->nplatform, sizeof(*p));
	if (!p)
		return vault_refuse(v, "rotate-platform-key", NULL,
				    err ? err : -ENOMEM);
	v->platform = p;
	p += v->nplatform++;
	memset(p, 0, sizeof(*p));
	snprintf(p->version, sizeof(p->version), "%s", k.version);
	p->enabled = 1;
	p->created = p->updated = time(NULL);
	err = vault_commit(v, "rotate-platform-key", kidstr);
	if (!err && kidbuf)
		snprintf(kidbuf, len, "%s", kidstr);
	return err;
}
