/*
 * vault.c - the embedded key vault: create, open, close, settings
 *
 * Layout of a vault directory DIR (mode 0700), documented in ssefs-vault(1):
 *	DIR/vault.meta			metadata, text, 0600, replaced whole
 *	DIR/vault.lock			flock(2) target serialising every change
 *	DIR/keys/NAME/VERSION.sealed	RSA private key (DER), sealed; for a
 *					key in the token (protection hsm):
 *					"SSEFSHS1", CKA_ID (16 bytes), public
 *					key (DER SubjectPublicKeyInfo), sealed
 *	DIR/platform/VERSION.sealed	32-byte platform key, sealed
 *	DIR/audit.log[.N]		chained audit log (vault_audit.c)
 * The parts: vault_meta.c (metadata, lock), vault_seal.c (sealing, the
 * master key), vault_keys.c (keys, versions, states), vault_wrap.c
 * (wrap/unwrap), vault_token.c (keys in the PKCS#11 token),
 * vault_registry.c (disks), vault_audit.c (the log), vault_backup.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/secmem.h"
#include "keyvault/hsm.h"
#include "keyvault/kid.h"
#include "keyvault/vault_priv.h"
#include "util/trust.h"

/*
 * The vault directory must be ours (or root's), writable by no one else,
 * and so must the folders above it (sticky ones excepted), as ssh's
 * StrictModes asks of ~/.ssh: whoever could write there could swap the
 * metadata or the sealed keys.  -EPERM or -ENOTDIR with the reason in
 * @e->why and @dir in @e->path.  @make: create it (and its parents) first.
 */
static int trust_vault_dir(const char *dir, int make, struct vault_err *e)
{
	char why[sizeof(e->why)];
	int err = make ? trust_mkdir(dir, 0755, geteuid(), 0, why,
				     sizeof(why)) :
			 trust_dir(dir, geteuid(), 0, why, sizeof(why));

	if ((err == -EPERM || err == -ENOTDIR) && e) {
		snprintf(e->why, sizeof(e->why), "%s", why);
		snprintf(e->path, sizeof(e->path), "%s", dir);
	}
	return err;
}

/* vault_open() or vault_init() failed with @err: the file at fault goes
 * to @e before @v is freed.  Return: @err. */
static int fail_detail(struct vault *v, struct vault_err *e, int err)
{
	if (e)
		snprintf(e->path, sizeof(e->path), "%s", v->last_path);
	return vault_err_ret(e, err);
}

static int open_lock(struct vault *v)
{
	char path[PATH_MAX];
	int err = vault_path(v, path, sizeof(path), "vault.lock");

	if (err)
		return err;
	v->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (v->lockfd < 0) {
		vault_set_last(v, path);
		return -errno;
	}
	return 0;
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
	       const struct vault_unlock *u, struct vault_err *e)
{
	return vault_init_ex(dir, name, u, 0, e);
}

int vault_init_ex(const char *dir, const char *name,
		  const struct vault_unlock *u, unsigned int flags,
		  struct vault_err *e)
{
	struct vault *v;
	char path[PATH_MAX], kidstr[VAULT_KID_MAX + 1];
	uint8_t zero[32] = { 0 }, *c = NULL;
	size_t clen;
	struct kid k;
	int err, existed = 0;

	vault_err_clear(e);
	if (!name)
		name = "default";
	if (!kid_valid_vault_name(name) ||
	    (flags & ~VAULT_INIT_NO_PURGE_PROTECTION))
		return vault_err_ret(e, -EINVAL);
	/* An empty directory made for the vault (a mount point, a
	 * StateDirectory) is taken; anything else that exists is not. */
	if (access(dir, F_OK) == 0) {
		if (!dir_empty(dir))
			return vault_err_ret(e, -EEXIST);
		existed = 1;
	}
	/* before anything is made or taken: ours, and no one else's */
	err = trust_vault_dir(dir, !existed, e);
	if (err)
		return vault_err_ret(e, err);
	v = vault_alloc(dir);
	if (!v)
		return vault_err_ret(e, -ENOMEM);
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
	err = vault_master_key(v, u, 1);
	if (err)
		goto fail;
	/* Remember a key file given at init, so later commands find it. */
	if (u && u->keyfile && !u->passphrase_file &&
	    !realpath(u->keyfile, v->keyfile))
		*v->keyfile = 0;
	err = vault_seal(v, VERIFIER_AD, zero, sizeof(zero), &c, &clen);
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
	err = vault_platform_key_new(v, &k);
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
		err = vault_save_meta(v);
	if (err)
		goto fail;
	goto out;
fail:
	fail_detail(v, e, err);	/* the key or passphrase file, say */
	/* Leave nothing half made: the directory is ours, just created
	 * (or it was empty, and is left empty). */
	vault_remove_tree(dir);
	if (existed && mkdir(dir, 0700) < 0 && errno != EEXIST)
		err = err ? err : -errno;
out:
	vault_close(v);
	return vault_err_ret(e, err);
}

int vault_open(struct vault **out, const char *dir,
	       const struct vault_unlock *u, struct vault_err *e)
{
	struct vault *v = vault_alloc(dir);
	char path[PATH_MAX];
	int err;

	vault_err_clear(e);
	if (!v)
		return vault_err_ret(e, -ENOMEM);
	err = trust_vault_dir(v->dir, 0, e);
	if (err == -EPERM || err == -ENOTDIR) {
		vault_set_last(v, v->dir);
		goto fail;
	}
	err = vault_check_mode(v, v->dir);
	if (err)
		goto fail;
	err = vault_path(v, path, sizeof(path), "vault.meta");
	if (!err)
		err = vault_check_mode(v, path);
	if (!err)
		err = open_lock(v);
	if (!err)
		err = vault_begin(v, LOCK_SH);
	if (err)
		goto fail;
	vault_end(v);
	if ((u && u->passphrase_file ? 1 : 0) != v->kdf) {
		vault_set_last(v, v->dir);
		err = -EACCES;
		goto fail;
	}
	err = vault_master_key(v, u, 0);
	if (!err)
		err = vault_check_verifier(v);
	if (err)
		goto fail;
	vault_sweep(v);		/* what a killed command left behind */
	*out = v;
	return 0;
fail:
	if (err == -ENOENT && !*v->last_path)
		vault_set_last(v, v->dir);
	fail_detail(v, e, err);
	vault_close(v);
	return err;
}

void vault_close(struct vault *v)
{
	if (!v)
		return;
	secbuf_free(v->master);
	vault_meta_free(v);
	free(v->meta_raw);
	if (v->lockfd >= 0)
		close(v->lockfd);
	hsm_close(v->hsm);
	pthread_mutex_destroy(&v->hsm_mu);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

/* An audit-only record: no metadata is read or written. */
int vault_audit(struct vault *v, const char *op, const char *kid, int result)
{
	int fd = -1, err = vault_lock(v, LOCK_EX), e2;

	if (err)
		return err;
	err = vault_audit_write(v, op, kid, result, &fd);
	vault_end(v);
	e2 = vault_log_sync_head(fd);
	return err ? err : e2;
}

int vault_audit_files(struct vault *v, char ***out, size_t *n)
{
	struct vault_log l = vault_log_of(v);

	return vault_log_files(&l, out, n);
}

int vault_audit_verify(struct vault *v, char *where, size_t len,
		       unsigned long *nlines)
{
	struct vault_log l = vault_log_of(v);
	int err;

	*where = 0;
	*nlines = 0;
	err = vault_begin(v, LOCK_SH);
	if (err)
		return err;
	err = vault_log_verify(&l, where, len, nlines);
	vault_end(v);
	return err;
}

const char *vault_name(const struct vault *v)
{
	return v->name;
}

const char *vault_dir(const struct vault *v)
{
	return v->dir;
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
		return vault_refuse(v, "set purge-protection=off", NULL,
				    -EPERM);
	v->purge_protection = !!on;
	return vault_commit(v, on ? "set purge-protection=on" :
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
	/*
	 * A deleted key's purge date is a promise made when it was deleted:
	 * under purge protection, a shorter retention must not bring it
	 * nearer.  (Azure Key Vault fixes the retention at the vault's
	 * creation; here it may change while no deleted key waits.)
	 */
	if (v->purge_protection && days < v->retention_days)
		for (size_t i = 0; i < v->nkeys; i++) {
			char name[sizeof(v->keys[i].name)];

			if (!v->keys[i].deleted)
				continue;
			/* vault_refuse() reloads the keys: a copy */
			memcpy(name, v->keys[i].name, sizeof(name));
			return vault_refuse(v, "set retention-days", name,
					    -EBUSY);
		}
	v->retention_days = days;
	return vault_commit(v, "set retention-days", NULL);
}
