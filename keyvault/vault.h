/*
 * vault.h - the embedded key vault, as the rest of ssefs sees it
 *
 * A vault is a directory (mode 0700) of metadata and sealed private keys,
 * unlocked by a master key from a key file or a passphrase (Argon2id).  It
 * holds customer-managed RSA keys with versions, the platform key, the
 * registry of disks, and the audit log.  Every function re-reads what other
 * processes changed (the daemon sees `ssefs key set` at its next check), and
 * every change is atomic and serialised by the vault's lock.
 *
 * Functions return 0 or a negative errno and never print.
 */
#ifndef SSEFS_KEYVAULT_VAULT_H
#define SSEFS_KEYVAULT_VAULT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct env_layer;
struct keyops;
struct secbuf;
struct vault;

#define VAULT_NAME_MAX		24	/* [a-z0-9-], fixed at init */
#define KEY_NAME_MAX		127	/* [A-Za-z0-9-] */
#define KEY_VERSION_HEX		32	/* a version id is 32 lowercase hex */
#define VAULT_KID_MAX		255

/*
 * What a failed call can say beyond its errno, for the caller's message.
 * The calls that take one (NULL: not wanted) clear it first; on failure
 * @code is the error returned, and @why and @path say more when there is
 * more to say.  An out-parameter rather than a global or a field of the
 * handle: the mount daemon's threads and the rotation workers share one
 * struct vault, and each call's detail must reach the thread that made
 * it without a lock held from the call to the read.
 */
struct vault_err {
	int code;		/* the error returned; 0: none */
	char why[1024];		/* one line ("token tk1: wrong pin", a folder
				 * that is not safe and the fix), or "" */
	char path[PATH_MAX];	/* the file or folder at fault, or "" */
};

struct vault_unlock {
	const char *keyfile;		/* NULL: DIR.key beside the vault */
	const char *passphrase_file;	/* set: Argon2id passphrase instead */
};

enum key_state {
	KEY_USABLE = 0,
	KEY_DISABLED,
	KEY_EXPIRED,
	KEY_NOT_YET_VALID,
	KEY_DELETED,
	KEY_MISSING,
};

/* "usable", "disabled", "expired", "not-yet-valid", "deleted", "missing" */
const char *key_state_name(enum key_state s);
/* The errno a key state stands for: 0, -EKEYREVOKED, -EKEYEXPIRED, -ENOKEY */
int key_state_errno(enum key_state s);

/* $SSEFS_VAULT, else /var/lib/ssefs/vault for root, else
 * $XDG_DATA_HOME/ssefs/vault (~/.local/share/ssefs/vault). */
int vault_default_dir(char *buf, size_t len);

/*
 * vault_init() - create a new vault at @dir named @name (NULL: "default")
 * with a fresh master key and platform key version.  Refuses an existing
 * vault.  Return: 0, -EEXIST, -EINVAL (bad name), -errno; @e as
 * vault_open().
 */
int vault_init(const char *dir, const char *name,
	       const struct vault_unlock *u, struct vault_err *e);
/* The same with VAULT_INIT_* @flags: VAULT_INIT_NO_PURGE_PROTECTION makes
 * a vault whose purge protection is off (on can only be chosen later). */
int vault_init_ex(const char *dir, const char *name,
		  const struct vault_unlock *u, unsigned int flags,
		  struct vault_err *e);
#define VAULT_INIT_NO_PURGE_PROTECTION	(1u << 0)

/*
 * vault_open() - open and unlock @dir.  Refuses loose permissions on the
 * directory or key file (-EPERM), a wrong passphrase or key (-EACCES), a
 * missing vault (-ENOENT).  On failure @e->path names the file or
 * directory at fault, and after -EPERM or -ENOTDIR @e->why is one line
 * naming the folder that is not safe and the fix (util/trust.h), or "".
 */
int vault_open(struct vault **out, const char *dir,
	       const struct vault_unlock *u, struct vault_err *e)
	__attribute__((warn_unused_result));
void vault_close(struct vault *v);		/* wipes; NULL is a no-op */

const char *vault_name(const struct vault *v);
const char *vault_dir(const struct vault *v);

/*
 * vault_resolve() - turn a key reference into a full versioned kid:
 * "NAME" (its newest version), "NAME/VERSION", a full kid, or "platform"
 * (the current platform key version).  Return: 0, -ENOKEY, -EINVAL.
 */
int vault_resolve(struct vault *v, const char *ref, char *kid, size_t len);

/* The state of @kid's version at time @now (0: the current time).  The
 * version's own attributes and its key's (a disabled key disables all its
 * versions) both count. */
enum key_state vault_key_state(struct vault *v, const char *kid, time_t now);

/*
 * Wrap @dek under @kid: RSA-OAEP-256 for customer keys, AES-256-KWP
 * (RFC 5649) for the platform key; fills @out's key_source, wrap_alg, kid,
 * wrapped, wrapped_len.  Unwrap refuses a version that is not usable with
 * key_state_errno(); when the token of an hsm key fails, @e->why says
 * why ("token LABEL: WHY").  Both are audited.
 */
int vault_wrap(struct vault *v, const char *kid, const struct secbuf *dek,
	       struct env_layer *out) __attribute__((warn_unused_result));
int vault_unwrap(struct vault *v, const struct env_layer *in,
		 struct secbuf **dek, struct vault_err *e)
	__attribute__((warn_unused_result));

/* The context of vault_keyops(): the vault, and where a failed unwrap
 * leaves its detail (NULL: nowhere).  The caller keeps it as long as the
 * keyops; threads that use keyops at once each need their own. */
struct vault_keyctx {
	struct vault *v;
	struct vault_err *err;
};
/* Fill @ops with @kc's vault's wrap/unwrap for disk/. */
void vault_keyops(struct vault_keyctx *kc, struct keyops *ops);

/* The registry of disks: UUID -> path, DES, kid(s). */
struct vault_disk {
	char uuid[37];			/* lowercase, with dashes */
	char path[4096];		/* absolute */
	char des[81];			/* "" when none */
	char kid[VAULT_KID_MAX + 1];	/* outer layer's kid */
};
/* 1 when the registry can hold @d (no newline in its path, ...); else
 * vault_disk_put() and vault_disk_put_many() refuse it with -EINVAL. */
int vault_disk_valid(const struct vault_disk *d);
int vault_disk_put(struct vault *v, const struct vault_disk *d);
/* Enter or update @n disks at once: one metadata write, one flush. */
int vault_disk_put_many(struct vault *v, const struct vault_disk *d,
			size_t n);
int vault_disk_del(struct vault *v, const char *uuid);
/* *@out is a malloc'd array of *@n entries (free()). */
int vault_disk_list(struct vault *v, struct vault_disk **out, size_t *n);

/*
 * Append one audit record {time, op, kid, caller, result} to the chained
 * log.  @kid may be NULL; @result is 0 or a negative errno.
 */
int vault_audit(struct vault *v, const char *op, const char *kid, int result);

/* ---- Keys, versions and settings (the command line and rotation) ---- */

#define VAULT_RSA_DEFAULT_BITS	3072
#define VAULT_RETENTION_DEFAULT	90	/* days a deleted key is kept */

struct vault_version {
	char version[KEY_VERSION_HEX + 1];
	int enabled;
	time_t not_before, expires;	/* 0: none */
	time_t created, updated;
};

/* Expiry notices, sent once per version and expiry (vault_key_notice). */
enum vault_notice {
	VAULT_NOTICE_NEAR_EXPIRY,
	VAULT_NOTICE_EXPIRED,
	VAULT_NOTICES
};

/* The version (and its expiry then) a notice was last sent for. */
struct vault_notice_sent {
	char version[KEY_VERSION_HEX + 1];	/* "": never sent */
	time_t expires;
};

struct vault_key {
	char name[KEY_NAME_MAX + 1];
	int enabled, deleted;
	int bits;			/* RSA modulus size */
	int hsm;			/* 1: private key in the PKCS#11 token */
	/* purge_at: deleted_at + retention */
	time_t created, deleted_at, purge_at;
	uint64_t rotate_after, notify_before;	/* policy, seconds; 0: none */
	uint64_t expire_after;		/* policy: a rotated version expires
					 * this long after it is made */
	struct vault_notice_sent notice[VAULT_NOTICES];
	size_t nversions;
	struct vault_version *versions;	/* oldest first: the last is current */
};

/* Every key (deleted ones too), sorted by name; free with vault_keys_free. */
int vault_key_list(struct vault *v, struct vault_key **out, size_t *n);
void vault_keys_free(struct vault_key *k, size_t n);
/* One key.  Return: 0 or -ENOKEY.  Free with vault_keys_free(k, 1). */
int vault_key_get(struct vault *v, const char *name, struct vault_key **out);

/*
 * Create key @name (RSA, @bits 2048, 3072 or 4096) with one version; its kid
 * goes to @kid.  Return: 0, -EEXIST, -EADDRINUSE (a deleted key holds the
 * name), -EINVAL.
 */
int vault_key_create(struct vault *v, const char *name, int bits,
		     time_t not_before, time_t expires, char *kid, size_t len);
/*
 * The same, with @flags: VAULT_KEY_HSM generates the key pair in the
 * vault's PKCS#11 token (ssefs vault set --hsm-module), where the private
 * key stays; the vault keeps its public key and object id.  Return: as
 * vault_key_create(), plus the token's errors (@e->why says more):
 * -ENODEV (no token configured or found), -EACCES (wrong PIN), -EPERM (PIN
 * file readable by others), -EIO.
 */
#define VAULT_KEY_HSM		(1 << 0)
int vault_key_create_ex(struct vault *v, const char *name, int bits,
			int flags, time_t not_before, time_t expires,
			char *kid, size_t len, struct vault_err *e);
/* Import a PEM RSA private key (PKCS#1 or PKCS#8) from @pem_path.
 * Return: as create, plus -EBADMSG (not a PEM private key), -ENOTSUP (not
 * RSA 2048, 3072 or 4096). */
int vault_key_import(struct vault *v, const char *name, const char *pem_path,
		     char *kid, size_t len);
/* A new version of the same size; the newest is current.  With an
 * expire-after policy, the new version expires that long from now.  An
 * hsm key's new version is made in the token: its errors as
 * vault_key_create_ex(). */
int vault_key_rotate(struct vault *v, const char *name, char *kid, size_t len,
		     struct vault_err *e);

struct vault_key_attrs {
	int enabled;			/* -1: unchanged */
	int set_expires, set_not_before;
	time_t expires, not_before;	/* 0: none */
};
/* Set attributes of version @version, or of the key as a whole (every
 * version, and the key's own enabled flag) when @version is NULL or "". */
int vault_key_set(struct vault *v, const char *name, const char *version,
		  const struct vault_key_attrs *a);
int vault_key_delete(struct vault *v, const char *name);	/* soft */
int vault_key_recover(struct vault *v, const char *name);
/* Return: 0, -EPERM (purge protection on and retention not over),
 * -EINVAL (the key is not deleted), -ENOKEY; an hsm key's objects are
 * destroyed in the token: its errors as vault_key_create_ex(). */
int vault_key_purge(struct vault *v, const char *name, struct vault_err *e);
/* Store the rotation policy; UINT64_MAX leaves a value unchanged. */
int vault_key_policy(struct vault *v, const char *name, uint64_t rotate_after,
		     uint64_t notify_before, uint64_t expire_after);

/*
 * vault_key_notice() - @claim 1: record that notice @what goes out for
 * version @version of key @name, which expires at @expires; return 1 when
 * it had not been sent for that version and expiry (the caller sends it
 * now), 0 when it had.  Test and record are one step under the vault's
 * lock, so a daemon and `ssefs rotate` never both send it.  @claim 0:
 * forget that record again (the notice could not be delivered; the next
 * pass tries again); return 0.  A version whose expiry is changed with
 * vault_key_set() loses its records.  Return: as said, -ENOKEY, -errno.
 */
int vault_key_notice(struct vault *v, const char *name, enum vault_notice what,
		     const char *version, time_t expires, int claim);

/* Add a platform key version; its kid goes to @kid. */
int vault_rotate_platform(struct vault *v, char *kid, size_t len);

int vault_purge_protection(struct vault *v);		/* 1 or 0 */
int vault_retention_days(struct vault *v);
/* Purge protection, once on, stays on (as in Azure Key Vault): switching
 * it off then is refused with -EPERM (and audited).  Return: 0, -EPERM. */
int vault_set_purge_protection(struct vault *v, int on);
/* 7..90.  Shorter than now is refused (-EBUSY, audited) while purge
 * protection is on and a deleted key waits for its purge date.
 * Return: 0, -EINVAL, -EBUSY. */
int vault_set_retention_days(struct vault *v, int days);

/* ---- The PKCS#11 token behind "hsm" keys ---- */

struct vault_hsm {
	char module[4096];	/* the PKCS#11 module's path; "": none */
	char token[33];		/* the token's label */
	char pin_file[4096];	/* the user PIN is read from it, 0600 */
};

/* The vault's token settings (module "" when there is none). */
int vault_hsm_get(struct vault *v, struct vault_hsm *out);
/*
 * Record the token settings after checking that the module loads, the
 * token is there and the PIN logs in; @c NULL or an empty module clears
 * them.  Return: 0, -EBUSY (clearing while HSM keys exist, deleted ones
 * included), the token's errors as vault_key_create_ex().
 */
int vault_hsm_set(struct vault *v, const struct vault_hsm *c,
		  struct vault_err *e);
/* Read the PIN from @path rather than the recorded file, for this handle
 * only (SSEFS_HSM_PIN_FILE).  NULL restores the recorded one. */
void vault_hsm_pin_file(struct vault *v, const char *path);
/* The process has forked (the mount daemon detaching): the token session
 * belongs to the parent, so close it here; the next use opens a new one
 * (a PKCS#11 module must be initialised again in a child). */
void vault_after_fork(struct vault *v);

/* Write every file of the vault except the master key into one file
 * @dest (created 0600, must not exist). */
int vault_backup(struct vault *v, const char *dest);
/* Recreate a vault at @dir (must not exist) from backup @src. */
int vault_restore(const char *src, const char *dir);

/*
 * Check the audit chain of every log file.  On a break returns -EBADMSG
 * and describes where ("audit.log.1 line 3: mac mismatch") in @where.
 * *@nlines gets the number of lines checked.
 */
int vault_audit_verify(struct vault *v, char *where, size_t len,
		       unsigned long *nlines);
/* The log files, oldest first ("DIR/audit.log.2", ..., "DIR/audit.log");
 * *@out is a malloc'd array of malloc'd strings. */
int vault_audit_files(struct vault *v, char ***out, size_t *n);

/* The AES-256 key wrap with padding (RFC 5649) the platform key uses;
 * @wrap 1 wraps, 0 unwraps.  @out holds @inlen + 16 bytes.
 * Return: 0, -EBADMSG (integrity check failed), -EINVAL. */
int vault_aes_kwp(int wrap, const uint8_t key[32], const uint8_t *in,
		  size_t inlen, uint8_t *out, size_t *outlen);

/* The state of version @p of key @k at @now (0: the current time). */
enum key_state vault_version_state(const struct vault_key *k,
				   const struct vault_version *p, time_t now);

#endif /* SSEFS_KEYVAULT_VAULT_H */
