/*
 * vault.c - the embedded key vault: metadata, sealed keys, wrap/unwrap
 *
 * Layout of a vault directory DIR (mode 0700), documented in ssefs-vault(1):
 *	DIR/vault.meta			metadata, text, 0600, replaced whole
 *	DIR/vault.lock			flock(2) target serialising every change
 *	DIR/keys/NAME/VERSION.sealed	RSA private key (DER), sealed; for a
 *					key in the token (protection hsm):
 *					"SSEFSHS1", CKA_ID (16 bytes), public
 *					key (DER SubjectPublicKeyInfo), sealed
 *	DIR/platform/VERSION.sealed	32-byte platform key, sealed
 *	DIR/audit.log[.N]		chained audit log (keyvault/audit.c)
 * A sealed file is nonce (24 bytes) || XChaCha20-Poly1305-IETF ciphertext
 * under the master key, with the full kid as associated data.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/secmem.h"
#include "disk/keyops.h"
#include "keyvault/hsm.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "keyvault/vault_priv.h"
#include "util/io.h"
#include "util/trust.h"

#define SEAL_NONCE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define META_MAX	(16u << 20)
#define VERIFIER_AD	"ssefs vault verifier v1"

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

/* ---- small helpers ---- */

static void tohex(char *out, const uint8_t *in, size_t n)
{
	sodium_bin2hex(out, n * 2 + 1, in, n);
}

static int fromhex(uint8_t *out, size_t n, const char *hex)
{
	size_t got;

	if (strlen(hex) != n * 2 ||
	    sodium_hex2bin(out, n, hex, n * 2, NULL, &got, NULL) || got != n)
		return -EINVAL;
	return 0;
}

static void new_version_id(char out[KEY_VERSION_HEX + 1])
{
	uint8_t r[16];

	randombytes_buf(r, sizeof(r));
	tohex(out, r, sizeof(r));
}

static int set_last(struct vault *v, const char *path)
{
	snprintf(v->last_path, sizeof(v->last_path), "%s", path);
	return 0;
}

/* Refuse group/world access to @path.  -EPERM names it in last_path. */
static int check_mode(struct vault *v, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		set_last(v, path);
		return -errno;
	}
	if (st.st_mode & 077) {
		set_last(v, path);
		return -EPERM;
	}
	return 0;
}

int vault_path(const struct vault *v, char *buf, size_t len, const char *fmt,
	       ...)
{
	char rel[PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s/%s", v->dir, rel);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- sealing ---- */

static int seal(const struct vault *v, const char *ad, const uint8_t *m,
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

static int write_sealed(struct vault *v, const struct kid *k,
			const uint8_t *m, size_t mlen)
{
	char path[PATH_MAX], kidstr[VAULT_KID_MAX + 1];
	uint8_t *c = NULL;
	size_t clen;
	int err;

	err = kid_format(k, kidstr, sizeof(kidstr));
	if (!err)
		err = sealed_path(v, k, path, sizeof(path));
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
	err = seal(v, kidstr, m, mlen, &c, &clen);
	if (!err)
		err = io_write_atomic(path, c, clen, 0600);
	free(c);
	return err;
}

/* The unsealed contents of @k's key file (DER private key or AES key). */
static int read_sealed(struct vault *v, const struct kid *k,
		       struct secbuf **out)
{
	char path[PATH_MAX], kidstr[VAULT_KID_MAX + 1];
	char *c = NULL;
	size_t clen;
	int err;

	err = kid_format(k, kidstr, sizeof(kidstr));
	if (!err)
		err = sealed_path(v, k, path, sizeof(path));
	if (err)
		return err;
	err = io_read_file(path, 1 << 20, &c, &clen);
	if (err == -ENOENT)
		err = -ENOKEY;
	if (err) {
		set_last(v, path);
		return err == -ENOKEY ? err : -EIO;
	}
	err = unseal(v, kidstr, (uint8_t *)c, clen, out);
	if (err)
		set_last(v, path);
	free(c);
	return err;
}

/* ---- the master key ---- */

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
			set_last(v, path);
			return err;
		}
	}
	err = check_mode(v, path);
	if (err)
		return err;
	err = io_read_file(path, 4096, &buf, &len);
	if (err) {
		set_last(v, path);
		return err;
	}
	if (len != 32) {
		sodium_memzero(buf, len);
		free(buf);
		set_last(v, path);
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
		set_last(v, path);
		return err;
	}
	if (len && buf[len - 1] == '\n')
		buf[--len] = 0;
	if (!len) {
		free(buf);
		set_last(v, path);
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

/* ---- metadata ---- */

static void free_keys(struct vault *v)
{
	vault_keys_free(v->keys, v->nkeys);
	v->keys = NULL;
	v->nkeys = 0;
	free(v->platform);
	v->platform = NULL;
	v->nplatform = 0;
	free(v->disks);
	v->disks = NULL;
	v->ndisks = 0;
	free(v->extra);
	v->extra = NULL;
	*v->hsm_module = *v->hsm_token = *v->hsm_pin_file = 0;
}

struct vault_key *vault_find_key(struct vault *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->nkeys; i++)
		if (!strcmp(v->keys[i].name, name))
			return &v->keys[i];
	return NULL;
}

static struct vault_version *find_version(struct vault_key *k,
					  const char *ver)
{
	size_t i;

	for (i = 0; i < k->nversions; i++)
		if (!strcmp(k->versions[i].version, ver))
			return &k->versions[i];
	return NULL;
}

/*
 * Make room for element @n of an array that holds @n: every array here is
 * allocated by grow() alone (or holds exactly one element), so its
 * capacity is the power of two at or above its length, and it doubles
 * when the length reaches one.
 */
static void *grow(void *p, size_t n, size_t size)
{
	if (n && (n & (n - 1)))
		return p;
	if (n > SIZE_MAX / 2 / size)
		return NULL;
	return realloc(p, (n ? 2 * n : 1) * size);
}

static int parse_line(struct vault *v, char *line)
{
	char a[160], b[160];
	long long t[6];
	int i[4];
	unsigned long long u[3];

	if (!*line || *line == '#')
		return 0;
	if (sscanf(line, "ssefs-vault %d", &i[0]) == 1)
		return i[0] == 1 ? 0 : -EPROTONOSUPPORT;
	if (sscanf(line, "name %24s", v->name) == 1)
		return 0;
	if (sscanf(line, "generation %llu", &u[0]) == 1) {
		v->generation = u[0];
		return 0;
	}
	if (sscanf(line, "kdf argon2id %llu %llu %40s", &u[0], &u[1], a) ==
	    3) {
		v->kdf = 1;
		v->opslimit = u[0];
		v->memlimit = u[1];
		return fromhex(v->salt, sizeof(v->salt), a);
	}
	if (!strcmp(line, "kdf keyfile")) {
		v->kdf = 0;
		return 0;
	}
	if (!strncmp(line, "keyfile /", 9)) {
		snprintf(v->keyfile, sizeof(v->keyfile), "%s", line + 8);
		return 0;
	}
	if (sscanf(line, "verifier %159s", a) == 1)
		return fromhex(v->verifier, sizeof(v->verifier), a);
	if (sscanf(line, "purge-protection %d", &i[0]) == 1) {
		v->purge_protection = !!i[0];
		return 0;
	}
	if (sscanf(line, "retention-days %d", &i[0]) == 1) {
		v->retention_days = i[0];
		return 0;
	}
	if (sscanf(line, "audit %llu %64s", &u[0], a) == 2) {
		v->audit_count = u[0];
		return fromhex(v->audit_mac, 32, a);
	}
	if (sscanf(line, "platform %32s %lld", a, &t[0]) == 2) {
		struct vault_version *p = grow(v->platform, v->nplatform,
					       sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->platform = p;
		p += v->nplatform++;
		memset(p, 0, sizeof(*p));
		snprintf(p->version, sizeof(p->version), "%.32s", a);
		p->enabled = 1;
		p->created = p->updated = t[0];
		return 0;
	}
	if (!strncmp(line, "hsm-module ", 11)) {
		snprintf(v->hsm_module, sizeof(v->hsm_module), "%s", line + 11);
		return 0;
	}
	if (!strncmp(line, "hsm-token ", 10)) {
		snprintf(v->hsm_token, sizeof(v->hsm_token), "%s", line + 10);
		return 0;
	}
	if (!strncmp(line, "hsm-pin-file ", 13)) {
		snprintf(v->hsm_pin_file, sizeof(v->hsm_pin_file), "%s",
			 line + 13);
		return 0;
	}
	i[3] = 0;
	if (sscanf(line, "key %127s %d %d %d %lld %lld %llu %llu%n", a, &i[0],
		   &i[1], &i[2], &t[0], &t[1], &u[0], &u[1], &i[3]) == 8) {
		struct vault_key *k = grow(v->keys, v->nkeys, sizeof(*k));

		if (!k)
			return -ENOMEM;
		v->keys = k;
		k += v->nkeys++;
		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "%.127s", a);
		k->enabled = i[0];
		k->deleted = i[1];
		k->bits = i[2];
		k->created = t[0];
		k->deleted_at = t[1];
		k->rotate_after = u[0];
		k->notify_before = u[1];
		/* protection: a trailing " hsm"; nothing means software */
		k->hsm = i[3] && !strcmp(line + i[3], " hsm");
		return 0;
	}
	if (sscanf(line, "version %127s %32s %d %lld %lld %lld %lld", a, b,
		   &i[0], &t[0], &t[1], &t[2], &t[3]) == 7) {
		struct vault_key *k = vault_find_key(v, a);
		struct vault_version *p;

		if (!k)
			return -EBADMSG;
		p = grow(k->versions, k->nversions, sizeof(*p));
		if (!p)
			return -ENOMEM;
		k->versions = p;
		p += k->nversions++;
		memset(p, 0, sizeof(*p));
		snprintf(p->version, sizeof(p->version), "%.32s", b);
		p->enabled = i[0];
		p->not_before = t[0];
		p->expires = t[1];
		p->created = t[2];
		p->updated = t[3];
		return 0;
	}
	/* policy and notices of a key: after its line; for a key that is
	 * gone (an older ssefs kept the line) they are dropped */
	if (sscanf(line, "key-expire-after %127s %llu", a, &u[0]) == 2) {
		struct vault_key *k = vault_find_key(v, a);

		if (k)
			k->expire_after = u[0];
		return 0;
	}
	if (sscanf(line, "key-notice %127s %d %32s %lld", a, &i[0], b,
		   &t[0]) == 4) {
		struct vault_key *k = vault_find_key(v, a);

		if (k && i[0] >= 0 && i[0] < VAULT_NOTICES) {
			snprintf(k->notice[i[0]].version,
				 sizeof(k->notice[0].version), "%.32s", b);
			k->notice[i[0]].expires = t[0];
		}
		return 0;
	}
	if (!strncmp(line, "disk ", 5)) {
		struct vault_disk *d = grow(v->disks, v->ndisks, sizeof(*d));
		char des[81], kid[VAULT_KID_MAX + 1];
		int off = 0;

		if (!d)
			return -ENOMEM;
		v->disks = d;
		d += v->ndisks;
		memset(d, 0, sizeof(*d));
		if (sscanf(line, "disk %36s %80s %255s %n", d->uuid, des, kid,
			   &off) != 3 || !off)
			return -EBADMSG;
		snprintf(d->des, sizeof(d->des), "%s",
			 strcmp(des, "-") ? des : "");
		snprintf(d->kid, sizeof(d->kid), "%s",
			 strcmp(kid, "-") ? kid : "");
		snprintf(d->path, sizeof(d->path), "%s", line + off);
		v->ndisks++;
		return 0;
	}
	/* Anything else (a later section) is kept as it is. */
	{
		size_t old = v->extra ? strlen(v->extra) : 0;
		char *e = realloc(v->extra, old + strlen(line) + 2);

		if (!e)
			return -ENOMEM;
		v->extra = e;
		sprintf(e + old, "%s\n", line);
	}
	return 0;
}

static int load_meta(struct vault *v)
{
	char path[PATH_MAX], *buf = NULL, *line, *save = NULL;
	size_t len;
	int err;

	err = vault_path(v, path, sizeof(path), "vault.meta");
	if (err)
		return err;
	err = io_read_file(path, META_MAX, &buf, &len);
	if (err) {
		set_last(v, path);
		return err;
	}
	/* Parsing a large registry is the cost; the bytes are cheap to
	 * compare.  The cache is trusted only if no exclusive section could
	 * have changed the parsed state since it was parsed. */
	if (v->meta_clean && v->meta_raw && len == v->meta_len &&
	    !memcmp(buf, v->meta_raw, len)) {
		free(buf);
		return 0;
	}
	free(v->meta_raw);
	v->meta_raw = NULL;
	v->meta_clean = 0;
	free_keys(v);
	v->meta_raw = malloc(len ? len : 1);
	if (v->meta_raw) {
		memcpy(v->meta_raw, buf, len);
		v->meta_len = len;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		err = parse_line(v, line);
		if (err) {
			set_last(v, path);
			break;
		}
	}
	free(buf);
	v->meta_clean = !err && v->meta_raw;
	return err;
}

static int save_meta(struct vault *v)
{
	char path[PATH_MAX], hex[256];
	char *buf = NULL;
	size_t len = 0, i, j;
	FILE *f;
	int err;

	err = vault_path(v, path, sizeof(path), "vault.meta");
	if (err)
		return err;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	v->generation++;
	fprintf(f, "ssefs-vault 1\nname %s\ngeneration %llu\n", v->name,
		(unsigned long long)v->generation);
	if (v->kdf) {
		tohex(hex, v->salt, sizeof(v->salt));
		fprintf(f, "kdf argon2id %llu %llu %s\n",
			(unsigned long long)v->opslimit,
			(unsigned long long)v->memlimit, hex);
	} else {
		fprintf(f, "kdf keyfile\n");
		if (*v->keyfile)
			fprintf(f, "keyfile %s\n", v->keyfile);
	}
	tohex(hex, v->verifier, sizeof(v->verifier));
	fprintf(f, "verifier %s\n", hex);
	fprintf(f, "purge-protection %d\nretention-days %d\n",
		v->purge_protection, v->retention_days);
	tohex(hex, v->audit_mac, 32);
	fprintf(f, "audit %llu %s\n", (unsigned long long)v->audit_count,
		hex);
	if (*v->hsm_module)
		fprintf(f, "hsm-module %s\nhsm-token %s\nhsm-pin-file %s\n",
			v->hsm_module, v->hsm_token, v->hsm_pin_file);
	for (i = 0; i < v->nplatform; i++)
		fprintf(f, "platform %s %lld\n", v->platform[i].version,
			(long long)v->platform[i].created);
	for (i = 0; i < v->nkeys; i++) {
		struct vault_key *k = &v->keys[i];

		fprintf(f, "key %s %d %d %d %lld %lld %llu %llu%s\n",
			k->name, k->enabled, k->deleted, k->bits,
			(long long)k->created, (long long)k->deleted_at,
			(unsigned long long)k->rotate_after,
			(unsigned long long)k->notify_before,
			k->hsm ? " hsm" : "");
		for (j = 0; j < k->nversions; j++) {
			struct vault_version *p = &k->versions[j];

			fprintf(f, "version %s %s %d %lld %lld %lld %lld\n",
				k->name, p->version, p->enabled,
				(long long)p->not_before,
				(long long)p->expires, (long long)p->created,
				(long long)p->updated);
		}
		if (k->expire_after)
			fprintf(f, "key-expire-after %s %llu\n", k->name,
				(unsigned long long)k->expire_after);
		for (j = 0; j < VAULT_NOTICES; j++)
			if (*k->notice[j].version)
				fprintf(f, "key-notice %s %zu %s %lld\n",
					k->name, j, k->notice[j].version,
					(long long)k->notice[j].expires);
	}
	for (i = 0; i < v->ndisks; i++)
		fprintf(f, "disk %s %s %s %s\n", v->disks[i].uuid,
			*v->disks[i].des ? v->disks[i].des : "-",
			*v->disks[i].kid ? v->disks[i].kid : "-",
			v->disks[i].path);
	if (v->extra)
		fputs(v->extra, f);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	err = io_write_atomic(path, buf, len, 0600);
	if (err)
		set_last(v, path);
	free(buf);
	return err;
}

/* Take the lock (LOCK_SH or LOCK_EX) without reading anything. */
int vault_lock(struct vault *v, int how)
{
	int err;

	pthread_mutex_lock(&v->mu);
	if (flock(v->lockfd, how) < 0) {
		err = -errno;
		pthread_mutex_unlock(&v->mu);
		return err;
	}
	return 0;
}

/* Take the lock (LOCK_SH or LOCK_EX) and re-read the metadata. */
int vault_begin(struct vault *v, int how)
{
	int err = vault_lock(v, how);

	if (err)
		return err;
	err = load_meta(v);
	if (err) {
		vault_end(v);
		return err;
	}
	/* Whoever holds it exclusively may change the parsed state. */
	if (how == LOCK_EX)
		v->meta_clean = 0;
	return 0;
}

void vault_end(struct vault *v)
{
	flock(v->lockfd, LOCK_UN);
	pthread_mutex_unlock(&v->mu);
}

/* Commit a change under the lock: audit it, write the metadata. */
static int commit(struct vault *v, const char *op, const char *kid)
{
	int err = vault_audit_append(v, op, kid, 0);

	if (!err)
		err = save_meta(v);
	vault_end(v);
	return err;
}

/* Record a refused change: forget what was changed, audit the failure. */
static int refuse(struct vault *v, const char *op, const char *kid, int res)
{
	if (!load_meta(v) && !vault_audit_append(v, op, kid, res))
		save_meta(v);
	vault_end(v);
	return res;
}

/* ---- open, init, close ---- */

static char failed_path[PATH_MAX];
static char failed_why[1024];

/*
 * The vault directory must be ours (or root's), writable by no one else,
 * and so must the folders above it (sticky ones excepted), as ssh's
 * StrictModes asks of ~/.ssh: whoever could write there could swap the
 * metadata or the sealed keys.  -EPERM or -ENOTDIR with the reason in
 * vault_open_failed_why().  @make: create it (and its parents) first.
 */
static int trust_vault_dir(const char *dir, int make)
{
	int err = make ? trust_mkdir(dir, 0755, geteuid(), 0, failed_why,
				     sizeof(failed_why)) :
			 trust_dir(dir, geteuid(), 0, failed_why,
				   sizeof(failed_why));

	if (err == -EPERM || err == -ENOTDIR)
		snprintf(failed_path, sizeof(failed_path), "%s", dir);
	else
		*failed_why = '\0';
	return err;
}

static int open_lock(struct vault *v)
{
	char path[PATH_MAX];
	int err = vault_path(v, path, sizeof(path), "vault.lock");

	if (err)
		return err;
	v->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (v->lockfd < 0) {
		set_last(v, path);
		return -errno;
	}
	return 0;
}

static int unlock(struct vault *v, const struct vault_unlock *u, int create)
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

static struct vault *vault_alloc(const char *dir)
{
	struct vault *v = calloc(1, sizeof(*v));
	size_t n;

	if (!v)
		return NULL;
	snprintf(v->dir, sizeof(v->dir), "%s", dir);
	n = strlen(v->dir);
	while (n > 1 && v->dir[n - 1] == '/')
		v->dir[--n] = 0;
	v->lockfd = -1;
	pthread_mutex_init(&v->mu, NULL);
	pthread_mutex_init(&v->hsm_mu, NULL);
	return v;
}

static int check_verifier(struct vault *v)
{
	struct secbuf *m = NULL;
	int err = unseal(v, VERIFIER_AD, v->verifier, sizeof(v->verifier),
			 &m);

	secbuf_free(m);
	if (err) {
		set_last(v, v->dir);
		return -EACCES;
	}
	return 0;
}

/* 1 when @dir is a directory with nothing in it. */
static int dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return 0;
	while (empty && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

int vault_init(const char *dir, const char *name,
	       const struct vault_unlock *u)
{
	return vault_init_ex(dir, name, u, 0);
}

int vault_init_ex(const char *dir, const char *name,
		  const struct vault_unlock *u, unsigned int flags)
{
	struct vault *v;
	char path[PATH_MAX], kidstr[VAULT_KID_MAX + 1];
	uint8_t zero[32] = { 0 }, *c = NULL, pk[32];
	size_t clen;
	struct kid k;
	int err, existed = 0;

	if (!name)
		name = "default";
	if (!kid_valid_vault_name(name) ||
	    (flags & ~VAULT_INIT_NO_PURGE_PROTECTION))
		return -EINVAL;
	/* An empty directory made for the vault (a mount point, a
	 * StateDirectory) is taken; anything else that exists is not. */
	*failed_why = '\0';
	if (access(dir, F_OK) == 0) {
		if (!dir_empty(dir))
			return -EEXIST;
		existed = 1;
	}
	/* before anything is made or taken: ours, and no one else's */
	err = trust_vault_dir(dir, !existed);
	if (err)
		return err;
	v = vault_alloc(dir);
	if (!v)
		return -ENOMEM;
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->purge_protection = !(flags & VAULT_INIT_NO_PURGE_PROTECTION);
	v->retention_days = VAULT_RETENTION_DEFAULT;
	if (u && u->passphrase_file) {
		v->kdf = 1;
		v->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		v->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
		randombytes_buf(v->salt, sizeof(v->salt));
	}
	if (chmod(dir, 0700) < 0) {
		err = -errno;
		goto out;
	}
	err = unlock(v, u, 1);
	if (err)
		goto fail;
	/* Remember a key file given at init, so later commands find it. */
	if (u && u->keyfile && !u->passphrase_file &&
	    !realpath(u->keyfile, v->keyfile))
		*v->keyfile = 0;
	err = seal(v, VERIFIER_AD, zero, sizeof(zero), &c, &clen);
	if (err)
		goto fail;
	memcpy(v->verifier, c, sizeof(v->verifier));
	free(c);
	err = vault_path(v, path, sizeof(path), "keys");
	if (!err && mkdir(path, 0700) < 0)
		err = -errno;
	if (!err)
		err = vault_path(v, path, sizeof(path), "platform");
	if (!err && mkdir(path, 0700) < 0)
		err = -errno;
	if (!err)
		err = open_lock(v);
	if (err)
		goto fail;
	memset(&k, 0, sizeof(k));
	k.platform = 1;
	snprintf(k.vault, sizeof(k.vault), "%s", v->name);
	new_version_id(k.version);
	randombytes_buf(pk, sizeof(pk));
	err = write_sealed(v, &k, pk, sizeof(pk));
	sodium_memzero(pk, sizeof(pk));
	if (err)
		goto fail;
	v->platform = calloc(1, sizeof(*v->platform));
	if (!v->platform) {
		err = -ENOMEM;
		goto fail;
	}
	v->nplatform = 1;
	snprintf(v->platform[0].version, sizeof(v->platform[0].version),
		 "%s", k.version);
	v->platform[0].created = time(NULL);
	err = kid_format(&k, kidstr, sizeof(kidstr));
	if (!err)
		err = vault_audit_append(v, "init", kidstr, 0);
	if (!err)
		err = save_meta(v);
	if (err)
		goto fail;
	goto out;
fail:
	vault_last_error_path(v);	/* the key or passphrase file, say */
	/* Leave nothing half made: the directory is ours, just created
	 * (or it was empty, and is left empty). */
	vault_remove_tree(dir);
	if (existed && mkdir(dir, 0700) < 0 && errno != EEXIST)
		err = err ? err : -errno;
out:
	vault_close(v);
	return err;
}

int vault_open(struct vault **out, const char *dir,
	       const struct vault_unlock *u)
{
	struct vault *v = vault_alloc(dir);
	char path[PATH_MAX];
	int err;

	if (!v)
		return -ENOMEM;
	*failed_why = '\0';
	err = trust_vault_dir(v->dir, 0);
	if (err == -EPERM || err == -ENOTDIR) {
		set_last(v, v->dir);
		goto fail;
	}
	err = check_mode(v, v->dir);
	if (err)
		goto fail;
	err = vault_path(v, path, sizeof(path), "vault.meta");
	if (!err)
		err = check_mode(v, path);
	if (!err)
		err = open_lock(v);
	if (!err)
		err = vault_begin(v, LOCK_SH);
	if (err)
		goto fail;
	vault_end(v);
	if ((u && u->passphrase_file ? 1 : 0) != v->kdf) {
		set_last(v, v->dir);
		err = -EACCES;
		goto fail;
	}
	err = unlock(v, u, 0);
	if (!err)
		err = check_verifier(v);
	if (err)
		goto fail;
	vault_sweep(v);		/* what a killed command left behind */
	*out = v;
	return 0;
fail:
	if (err == -ENOENT && !*v->last_path)
		set_last(v, v->dir);
	vault_last_error_path(v);
	vault_close(v);
	return err;
}

void vault_close(struct vault *v)
{
	if (!v)
		return;
	secbuf_free(v->master);
	free_keys(v);
	free(v->meta_raw);
	if (v->lockfd >= 0)
		close(v->lockfd);
	hsm_close(v->hsm);
	pthread_mutex_destroy(&v->hsm_mu);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

/* vault_open() failed and freed its vault: keep the path for messages. */
void vault_last_error_path(struct vault *v)
{
	snprintf(failed_path, sizeof(failed_path), "%s", v->last_path);
}

const char *vault_open_failed_path(void)
{
	return failed_path;
}

const char *vault_open_failed_why(void)
{
	return failed_why;
}

const char *vault_name(const struct vault *v)
{
	return v->name;
}

const char *vault_dir(const struct vault *v)
{
	return v->dir;
}

const char *vault_last_path(const struct vault *v)
{
	return v->last_path;
}

/* ---- kids and states ---- */

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
	else if (!find_version(k, ver)) {
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
static enum key_state kid_state(struct vault *v, const struct kid *pk,
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
	p = k ? find_version(k, pk->version) : NULL;
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
	s = kid_state(v, &pk, now);
	vault_end(v);
	return s;
}

/* ---- wrap and unwrap ---- */

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

/* ---- keys in the PKCS#11 token (protection hsm) ---- */

#define HSM_MAGIC	"SSEFSHS1"
#define HSM_MAGIC_LEN	8
#define HSM_BLOB_HDR	(HSM_MAGIC_LEN + HSM_ID_BYTES)

/* A sealed file of an hsm key holds this instead of a private key (a DER
 * private key starts with 0x30, never with 'S'). */
static int is_hsm_blob(const struct secbuf *b)
{
	return secbuf_len(b) > HSM_BLOB_HDR &&
	       !memcmp(secbuf_data(b), HSM_MAGIC, HSM_MAGIC_LEN);
}

static const uint8_t *blob_id(const struct secbuf *b)
{
	return secbuf_data(b) + HSM_MAGIC_LEN;
}

static EVP_PKEY *blob_public(const struct secbuf *b)
{
	const unsigned char *p = secbuf_data(b) + HSM_BLOB_HDR;

	return d2i_PUBKEY(NULL, &p, (long)(secbuf_len(b) - HSM_BLOB_HDR));
}

/* The process's last token failure (vault_hsm_last_why()). */
static pthread_mutex_t last_why_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_why[320];

static void set_last_why(const char *why)
{
	pthread_mutex_lock(&last_why_mu);
	snprintf(last_why, sizeof(last_why), "%s", why);
	pthread_mutex_unlock(&last_why_mu);
}

const char *vault_hsm_last_why(void)
{
	return last_why;
}

/* Note why the token failed, for vault_hsm_why(); hsm_mu is held. */
static void token_why_locked(struct vault *v, const char *token,
			     const char *why)
{
	snprintf(v->hsm_why, sizeof(v->hsm_why), "token %s: %s", token, why);
	set_last_why(v->hsm_why);
}

static void token_why(struct vault *v, const char *token, const char *why)
{
	pthread_mutex_lock(&v->hsm_mu);
	token_why_locked(v, token, why);
	pthread_mutex_unlock(&v->hsm_mu);
}

/* A new operation: forget why the last one failed in the token. */
static void token_clear(struct vault *v)
{
	pthread_mutex_lock(&v->hsm_mu);
	*v->hsm_why = 0;
	pthread_mutex_unlock(&v->hsm_mu);
	set_last_why("");
}

/* An operation on session @h failed: keep what the token said.  The copy
 * is taken under @h's own lock, as other threads may be using it. */
static void token_failed(struct vault *v, struct hsm *h)
{
	char why[256];

	hsm_why_copy(h, why, sizeof(why));
	token_why(v, hsm_token(h), why);
}

/*
 * The token session, opened at first use and kept until vault_close().
 * @locked: the caller holds the vault lock, so the settings are fresh;
 * otherwise they are read under it first: hsm_mu is always taken after
 * the vault lock, never before.
 */
static int token_get(struct vault *v, int locked, struct hsm **out)
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
	*v->hsm_why = 0;
	if (!*module) {
		snprintf(v->hsm_why, sizeof(v->hsm_why), "no PKCS#11 token "
			 "is configured (ssefs vault set --hsm-module)");
		set_last_why(v->hsm_why);
		err = -ENODEV;
	} else if (!v->hsm) {
		err = hsm_open(&v->hsm, module, token, pin, why, sizeof(why));
		if (err)
			token_why_locked(v, token, why);
	}
	if (!err)
		*out = v->hsm;
	pthread_mutex_unlock(&v->hsm_mu);
	return err;
}

/* Generate version @kidstr of an hsm key in the token: the sealed blob
 * to keep goes to *@blob, the object id to @id. */
static int token_generate(struct vault *v, int bits, const char *kidstr,
			  uint8_t id[HSM_ID_BYTES], struct secbuf **blob)
{
	struct hsm *h = NULL;
	uint8_t *pub = NULL;
	size_t publen = 0;
	int err;

	err = token_get(v, 0, &h);
	if (err)
		return err;
	err = hsm_generate_rsa(h, bits, kidstr, id, &pub, &publen);
	if (err) {
		token_failed(v, h);
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
static int token_unwrap(struct vault *v, const struct secbuf *blob,
			const struct env_layer *in, struct secbuf *m,
			size_t *n)
{
	struct secbuf *d = NULL;
	struct hsm *h = NULL;
	int err;

	err = token_get(v, 0, &h);
	if (err)
		return err;
	err = hsm_unwrap_oaep256(h, blob_id(blob), in->wrapped,
				 in->wrapped_len, 0, &d);
	if (err) {
		token_failed(v, h);
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

/* Check @kidstr is usable and belongs here; the shared lock is held. */
static int usable(struct vault *v, const char *kidstr, struct kid *pk)
{
	if (kid_parse(kidstr, pk))
		return -EINVAL;
	if (strcmp(pk->vault, v->name))
		return -EXDEV;
	return key_state_errno(kid_state(v, pk, 0));
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
		err = read_sealed(v, &k, &key);
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
		pk = is_hsm_blob(key) ? blob_public(key) :
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
		     struct secbuf **dek)
{
	struct secbuf *key = NULL, *m = NULL;
	EVP_PKEY *pk = NULL;
	struct kid k;
	size_t n;
	int err;

	token_clear(v);
	err = vault_begin(v, LOCK_SH);
	if (err)
		return -EIO;
	err = usable(v, in->kid, &k);
	vault_end(v);
	if (err == -EINVAL)
		err = -ENOKEY;
	if (!err)
		err = read_sealed(v, &k, &key);
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
	} else if (is_hsm_blob(key)) {
		err = token_unwrap(v, key, in, m, &n);
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
		 struct secbuf **dek)
{
	int err = do_unwrap(v, in, dek);

	vault_audit(v, "unwrap", in->kid, err);
	return err;
}

static int ko_unwrap(void *ctx, const struct env_layer *l,
		     struct secbuf **dek)
{
	return vault_unwrap(ctx, l, dek);
}

static int ko_wrap(void *ctx, const char *kid, const struct secbuf *dek,
		   struct env_layer *l)
{
	return vault_wrap(ctx, kid, dek, l);
}

void vault_keyops(struct vault *v, struct keyops *ops)
{
	ops->ctx = v;
	ops->unwrap = ko_unwrap;
	ops->wrap = ko_wrap;
}

/* ---- keys ---- */

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

	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	k = vault_find_key(v, name);
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
		k = grow(v->keys, v->nkeys, sizeof(*k));
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
	p = grow(k->versions, k->nversions, sizeof(*p));
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
		err = write_sealed(v, &pk, secbuf_data(der), secbuf_len(der));
	if (err)
		goto refused;
	err = commit(v, op, kidstr);
	if (!err && kidbuf)
		snprintf(kidbuf, len, "%s", kidstr);
	return err;
refused:
	return refuse(v, op, name, err);
}

/*
 * The key material of a new version @ver of key @name: a fresh software
 * RSA key (DER, *@der), or a key pair generated in the token (@hsm; the
 * blob to seal in *@der, the object id in @id).
 */
static int new_material(struct vault *v, const char *name, int hsm,
			int bits, const char *ver, uint8_t id[HSM_ID_BYTES],
			struct secbuf **der, int *got)
{
	char kidstr[VAULT_KID_MAX + 1];
	int err;

	if (!hsm)
		return generate_rsa(bits, der, got);
	err = format_kid(v, name, ver, kidstr, sizeof(kidstr));
	if (err)
		return err;
	*got = bits;
	return token_generate(v, bits, kidstr, id, der);
}

/* After add_version() refused an hsm version: its objects must go. */
static void forget_material(struct vault *v, int hsm,
			    const uint8_t id[HSM_ID_BYTES])
{
	struct hsm *h = NULL;

	if (hsm && !token_get(v, 0, &h))
		hsm_destroy(h, id);
}

int vault_key_create_ex(struct vault *v, const char *name, int bits,
			int flags, time_t not_before, time_t expires,
			char *kid, size_t len)
{
	char ver[KEY_VERSION_HEX + 1];
	uint8_t id[HSM_ID_BYTES];
	struct secbuf *der = NULL;
	int hsm = flags & VAULT_KEY_HSM ? 1 : 0;
	int err, got;

	token_clear(v);
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
	new_version_id(ver);
	err = new_material(v, name, hsm, bits, ver, id, &der, &got);
	if (err)
		return err;
	err = add_version(v, name, 1, hsm, got, der, ver, not_before,
			  expires, "create", kid, len);
	if (err)
		forget_material(v, hsm, id);
	secbuf_free(der);
	return err;
}

int vault_key_create(struct vault *v, const char *name, int bits,
		     time_t not_before, time_t expires, char *kid, size_t len)
{
	return vault_key_create_ex(v, name, bits, 0, not_before, expires,
				   kid, len);
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
	new_version_id(ver);
	err = add_version(v, name, 1, 0, bits, der, ver, 0, 0, "import", kid,
			  len);
	secbuf_free(der);
	return err;
}

int vault_key_rotate(struct vault *v, const char *name, char *kid, size_t len)
{
	char ver[KEY_VERSION_HEX + 1];
	uint8_t id[HSM_ID_BYTES];
	struct vault_key *k = NULL;
	struct secbuf *der = NULL;
	int err, got, hsm;

	token_clear(v);
	err = vault_key_get(v, name, &k);
	if (err)
		return err;
	hsm = k->hsm;
	new_version_id(ver);
	err = k->deleted ? -EKEYREVOKED :
		new_material(v, name, hsm, k->bits, ver, id, &der, &got);
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
		return refuse(v, "set", ref, -ENOKEY);
	if (k->deleted)
		return refuse(v, "set", ref, -EKEYREVOKED);
	if (version && *version) {
		p = find_version(k, version);
		if (!p)
			return refuse(v, "set", ref, -ENOKEY);
		apply_attrs(k, p, a, now);
		err = format_kid(v, name, version, ref, sizeof(ref));
	} else {
		if (a->enabled >= 0)
			k->enabled = !!a->enabled;
		for (i = 0; i < k->nversions; i++)
			apply_attrs(k, &k->versions[i], a, now);
	}
	if (err)
		return refuse(v, "set", ref, err);
	return commit(v, "set", ref);
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

/* Destroy the token objects of every version of hsm key @k, so purge
 * leaves nothing of it in the token either.  The vault lock is held. */
static int destroy_token_keys(struct vault *v, const struct vault_key *k)
{
	struct secbuf *b;
	struct hsm *h = NULL;
	struct kid pk;
	size_t i;
	int err;

	err = token_get(v, 1, &h);
	if (err)
		return err;
	for (i = 0; i < k->nversions; i++) {
		memset(&pk, 0, sizeof(pk));
		snprintf(pk.vault, sizeof(pk.vault), "%s", v->name);
		snprintf(pk.name, sizeof(pk.name), "%s", k->name);
		snprintf(pk.version, sizeof(pk.version), "%s",
			 k->versions[i].version);
		b = NULL;
		err = read_sealed(v, &pk, &b);
		if (err == -ENOKEY)
			continue;
		if (!err && is_hsm_blob(b)) {
			err = hsm_destroy(h, blob_id(b));
			if (err)
				token_failed(v, h);
		}
		secbuf_free(b);
		if (err)
			return err;
	}
	return 0;
}

static int key_change(struct vault *v, const char *name, const char *op)
{
	struct vault_key *k;
	time_t now = time(NULL);
	int err;

	token_clear(v);
	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	k = vault_find_key(v, name);
	if (!k)
		return refuse(v, op, name, -ENOKEY);
	if (!strcmp(op, "delete")) {
		if (k->deleted)
			return refuse(v, op, name, -EKEYREVOKED);
		k->deleted = 1;
		k->deleted_at = now;
	} else if (!strcmp(op, "recover")) {
		if (!k->deleted)
			return refuse(v, op, name, -EINVAL);
		k->deleted = 0;
		k->deleted_at = 0;
	} else {
		if (!k->deleted)
			return refuse(v, op, name, -EINVAL);
		if (v->purge_protection &&
		    now < k->deleted_at + (time_t)v->retention_days * 86400)
			return refuse(v, op, name, -EPERM);
		err = k->hsm ? destroy_token_keys(v, k) : 0;
		if (!err)
			err = delete_files(v, k);
		if (err)
			return refuse(v, op, name, err);
		free(k->versions);
		*k = v->keys[--v->nkeys];
	}
	return commit(v, op, name);
}

int vault_key_delete(struct vault *v, const char *name)
{
	return key_change(v, name, "delete");
}

int vault_key_recover(struct vault *v, const char *name)
{
	return key_change(v, name, "recover");
}

int vault_key_purge(struct vault *v, const char *name)
{
	return key_change(v, name, "purge");
}

int vault_key_policy(struct vault *v, const char *name, uint64_t rotate_after,
		     uint64_t notify_before, uint64_t expire_after)
{
	struct vault_key *k;
	int err;

	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	k = vault_find_key(v, name);
	if (!k)
		return refuse(v, "policy", name, -ENOKEY);
	if (rotate_after != UINT64_MAX)
		k->rotate_after = rotate_after;
	if (notify_before != UINT64_MAX)
		k->notify_before = notify_before;
	if (expire_after != UINT64_MAX)
		k->expire_after = expire_after;
	return commit(v, "policy", name);
}

int vault_key_notice(struct vault *v, const char *name, enum vault_notice what,
		     const char *version, time_t expires, int claim)
{
	struct vault_notice_sent *n;
	struct vault_key *k;
	int err, sent;

	if ((unsigned int)what >= VAULT_NOTICES || !version || !*version)
		return -EINVAL;
	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	k = vault_find_key(v, name);
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
	err = save_meta(v);
	vault_end(v);
	return err ? err : claim;
}

/* ---- platform key and settings ---- */

int vault_rotate_platform(struct vault *v, char *kidbuf, size_t len)
{
	struct vault_version *p;
	char kidstr[VAULT_KID_MAX + 1];
	uint8_t key[32];
	struct kid k;
	int err;

	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	memset(&k, 0, sizeof(k));
	k.platform = 1;
	snprintf(k.vault, sizeof(k.vault), "%s", v->name);
	new_version_id(k.version);
	randombytes_buf(key, sizeof(key));
	err = write_sealed(v, &k, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (!err)
		err = kid_format(&k, kidstr, sizeof(kidstr));
	p = err ? NULL : grow(v->platform, v->nplatform, sizeof(*p));
	if (!p)
		return refuse(v, "rotate-platform-key", NULL,
			      err ? err : -ENOMEM);
	v->platform = p;
	p += v->nplatform++;
	memset(p, 0, sizeof(*p));
	snprintf(p->version, sizeof(p->version), "%s", k.version);
	p->enabled = 1;
	p->created = p->updated = time(NULL);
	err = commit(v, "rotate-platform-key", kidstr);
	if (!err && kidbuf)
		snprintf(kidbuf, len, "%s", kidstr);
	return err;
}

int vault_purge_protection(struct vault *v)
{
	if (!vault_begin(v, LOCK_SH))
		vault_end(v);
	return v->purge_protection;
}

int vault_retention_days(struct vault *v)
{
	if (!vault_begin(v, LOCK_SH))
		vault_end(v);
	return v->retention_days;
}

int vault_set_purge_protection(struct vault *v, int on)
{
	int err = vault_begin(v, LOCK_EX);

	if (err)
		return err;
	/* Once on, it stays on: a deleted key's retention is a promise. */
	if (v->purge_protection && !on)
		return refuse(v, "set purge-protection=off", NULL, -EPERM);
	v->purge_protection = !!on;
	return commit(v, on ? "set purge-protection=on" :
		      "set purge-protection=off", NULL);
}

int vault_set_retention_days(struct vault *v, int days)
{
	int err;

	if (days < 7 || days > 90)
		return -EINVAL;
	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	v->retention_days = days;
	return commit(v, "set retention-days", NULL);
}

/* ---- the PKCS#11 token ---- */

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

int vault_hsm_set(struct vault *v, const struct vault_hsm *c)
{
	int set = c && *c->module;
	struct hsm *h = NULL;
	char why[256] = "";
	size_t i;
	int err;

	token_clear(v);
	if (set) {
		if (*c->module != '/' || *c->pin_file != '/' ||
		    !hsm_setting_ok(c->module, sizeof(v->hsm_module) - 1) ||
		    !hsm_setting_ok(c->token, HSM_LABEL_MAX) ||
		    !hsm_setting_ok(c->pin_file,
				    sizeof(v->hsm_pin_file) - 1))
			return -EINVAL;
		/* Record nothing that does not work. */
		err = hsm_open(&h, c->module, c->token, c->pin_file, why,
			       sizeof(why));
		if (err) {
			token_why(v, c->token, why);
			return err;
		}
		hsm_close(h);
	}
	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	if (!set) {
		for (i = 0; i < v->nkeys; i++)
			if (v->keys[i].hsm)
				return refuse(v, "set hsm-module=none", NULL,
					      -EBUSY);
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
	return commit(v, set ? "set hsm-module" : "set hsm-module=none",
		      NULL);
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

const char *vault_hsm_why(struct vault *v)
{
	return v->hsm_why;
}

/* ---- disks ---- */

int vault_disk_valid(const struct vault_disk *d)
{
	return !strchr(d->path, '\n') && !strchr(d->des, ' ') &&
	       !strchr(d->kid, ' ') && *d->uuid && !strchr(d->uuid, ' ');
}

int vault_disk_put_many(struct vault *v, const struct vault_disk *d,
			size_t n)
{
	struct vault_disk *g;
	size_t i, k;
	int err;

	for (k = 0; k < n; k++)
		if (!vault_disk_valid(&d[k]))
			return -EINVAL;
	if (!n)
		return 0;
	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	for (k = 0; k < n; k++) {
		for (i = 0; i < v->ndisks; i++)
			if (!strcmp(v->disks[i].uuid, d[k].uuid))
				break;
		if (i == v->ndisks) {
			g = grow(v->disks, v->ndisks, sizeof(*g));
			if (!g)
				return refuse(v, "disk-put", d[k].kid, -ENOMEM);
			v->disks = g;
			v->ndisks++;
		}
		v->disks[i] = d[k];
	}
	/* One record per disk, one flush for them all. */
	for (k = 0; !err && k + 1 < n; k++)
		err = vault_audit_write(v, "disk-put",
					*d[k].kid ? d[k].kid : NULL, 0, NULL);
	if (err) {
		vault_end(v);
		return err;
	}
	return commit(v, "disk-put", *d[n - 1].kid ? d[n - 1].kid : NULL);
}

int vault_disk_put(struct vault *v, const struct vault_disk *d)
{
	return vault_disk_put_many(v, d, 1);
}

int vault_disk_del(struct vault *v, const char *uuid)
{
	size_t i;
	int err = vault_begin(v, LOCK_EX);

	if (err)
		return err;
	for (i = 0; i < v->ndisks; i++)
		if (!strcmp(v->disks[i].uuid, uuid))
			break;
	if (i == v->ndisks)
		return refuse(v, "disk-del", NULL, -ENOENT);
	v->disks[i] = v->disks[--v->ndisks];
	return commit(v, "disk-del", NULL);
}

int vault_disk_list(struct vault *v, struct vault_disk **out, size_t *n)
{
	struct vault_disk *d;
	int err = vault_begin(v, LOCK_SH);

	if (err)
		return err;
	d = calloc(v->ndisks ? v->ndisks : 1, sizeof(*d));
	if (d && v->ndisks)
		memcpy(d, v->disks, v->ndisks * sizeof(*d));
	*n = v->ndisks;
	vault_end(v);
	if (!d)
		return -ENOMEM;
	*out = d;
	return 0;
}

