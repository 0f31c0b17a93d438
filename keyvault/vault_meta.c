/*
 * vault_meta.c - the vault's metadata (DIR/vault.meta) and its lock
 *
 * vault.meta is text, one record a line, replaced whole (io_write_atomic)
 * under the exclusive flock(2) of DIR/vault.lock; every call re-reads it
 * under the lock (vault_begin()), reusing the parsed state while the
 * bytes are unchanged.  Lines of sections a later ssefs adds are kept.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include <sodium.h>

#include "keyvault/vault_priv.h"
#include "util/io.h"

#define META_MAX	(16u << 20)

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

void vault_new_version_id(char out[KEY_VERSION_HEX + 1])
{
	uint8_t r[16];

	randombytes_buf(r, sizeof(r));
	tohex(out, r, sizeof(r));
}

int vault_set_last(struct vault *v, const char *path)
{
	snprintf(v->last_path, sizeof(v->last_path), "%s", path);
	return 0;
}

void vault_err_clear(struct vault_err *e)
{
	if (!e)
		return;
	e->code = 0;
	*e->why = *e->path = '\0';
}

int vault_err_ret(struct vault_err *e, int err)
{
	if (e)
		e->code = err;
	return err;
}

void vault_err_why(struct vault_err *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
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

void vault_meta_free(struct vault *v)
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

struct vault_version *vault_find_version(struct vault_key *k,
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
 * allocated by vault_grow() alone (or holds exactly one element), so its
 * capacity is the power of two at or above its length, and it doubles
 * when the length reaches one.
 */
void *vault_grow(void *p, size_t n, size_t size)
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
		v->audit.count = u[0];
		return fromhex(v->audit.mac, 32, a);
	}
	if (sscanf(line, "platform %32s %lld", a, &t[0]) == 2) {
		struct vault_version *p = vault_grow(v->platform, v->nplatform,
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
		struct vault_key *k = vault_grow(v->keys, v->nkeys, sizeof(*k));

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
		p = vault_grow(k->versions, k->nversions, sizeof(*p));
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
		struct vault_disk *d = vault_grow(v->disks, v->ndisks,
						  sizeof(*d));
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
		vault_set_last(v, path);
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
	vault_meta_free(v);
	v->meta_raw = malloc(len ? len : 1);
	if (v->meta_raw) {
		memcpy(v->meta_raw, buf, len);
		v->meta_len = len;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		err = parse_line(v, line);
		if (err) {
			vault_set_last(v, path);
			break;
		}
	}
	free(buf);
	v->meta_clean = !err && v->meta_raw;
	return err;
}

int vault_save_meta(struct vault *v)
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
	tohex(hex, v->audit.mac, 32);
	fprintf(f, "audit %llu %s\n", (unsigned long long)v->audit.count,
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
		vault_set_last(v, path);
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
int vault_commit(struct vault *v, const char *op, const char *kid)
{
	int err = vault_audit_append(v, op, kid, 0);

	if (!err)
		err = vault_save_meta(v);
	vault_end(v);
	return err;
}

/* Record a refused change: forget what was changed, audit the failure. */
int vault_refuse(struct vault *v, const char *op, const char *kid, int res)
{
	if (!load_meta(v) && !vault_audit_append(v, op, kid, res))
		vault_save_meta(v);
	vault_end(v);
	return res;
}
