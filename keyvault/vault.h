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

#include <stddef.h>
#include <time.h>

struct env_layer;
struct keyops;
struct secbuf;
struct vault;

#define VAULT_NAME_MAX		24	/* [a-z0-9-], fixed at init */
#define KEY_NAME_MAX		127	/* [A-Za-z0-9-] */
#define KEY_VERSION_HEX		32	/* a version id is 32 lowercase hex */
#define VAULT_KID_MAX		255

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
 * vault.  Return: 0, -EEXIST, -EINVAL (bad name), -errno.
 */
int vault_init(const char *dir, const char *name,
	       const struct vault_unlock *u);

/*
 * vault_open() - open and unlock @dir.  Refuses loose permissions on the
 * directory or key file (-EPERM), a wrong passphrase or key (-EACCES), a
 * missing vault (-ENOENT).
 */
int vault_open(struct vault **out, const char *dir,
	       const struct vault_unlock *u)
	__attribute__((warn_unused_result));
void vault_close(struct vault *v);		/* wipes; NULL is a no-op */

const char *vault_name(const struct vault *v);
const char *vault_dir(const struct vault *v);
/* The file or setting a failed open is about (for error messages). */
const char *vault_last_path(const struct vault *v);

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
 * key_state_errno().  Both are audited.
 */
int vault_wrap(struct vault *v, const char *kid, const struct secbuf *dek,
	       struct env_layer *out) __attribute__((warn_unused_result));
int vault_unwrap(struct vault *v, const struct env_layer *in,
		 struct secbuf **dek) __attribute__((warn_unused_result));

/* Fill @ops with this vault's wrap/unwrap for disk/. */
void vault_keyops(struct vault *v, struct keyops *ops);

/* The registry of disks: UUID -> path, DES, kid(s). */
struct vault_disk {
	char uuid[37];			/* lowercase, with dashes */
	char path[4096];		/* absolute */
	char des[81];			/* "" when none */
	char kid[VAULT_KID_MAX + 1];	/* outer layer's kid */
};
int vault_disk_put(struct vault *v, const struct vault_disk *d);
int vault_disk_del(struct vault *v, const char *uuid);
/* *@out is a malloc'd array of *@n entries (free()). */
int vault_disk_list(struct vault *v, struct vault_disk **out, size_t *n);

/*
 * Append one audit record {time, op, kid, caller, result} to the chained
 * log.  @kid may be NULL; @result is 0 or a negative errno.
 */
int vault_audit(struct vault *v, const char *op, const char *kid, int result);

#endif /* SSEFS_KEYVAULT_VAULT_H */
