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
/* The file or directory the last failed vault_open() in this thread was
 * about ("" when none). */
const char *vault_open_path(void);

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

/*
 * vault_kwp() - AES-256 key wrap with padding (RFC 5649, NIST SP 800-38F
 * KWP) through OpenSSL: @enc 1 wraps, 0 unwraps; @out holds @inlen + 15.
 * Return: 0 or -EBADMSG (integrity check failed).
 */
int vault_kwp(int enc, const unsigned char key[32], const unsigned char *in,
	      size_t inlen, unsigned char *out, size_t *outlen);

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


/* ---- key management (cli/cmd_key.c, rotation engine) ---- */

#define VAULT_RETENTION_DAYS	90	/* default soft-delete retention */

struct vault_key_version {
	char version[KEY_VERSION_HEX + 1];
	char kid[VAULT_KID_MAX + 1];
	int enabled;
	time_t not_before, expires;	/* 0: none */
	time_t created, updated;
	enum key_state state;		/* at the time of the query */
};

struct vault_key_info {
	char name[KEY_NAME_MAX + 1];
	int enabled, deleted;
	time_t deleted_date, purge_date;	/* 0 unless deleted */
	time_t created;
	unsigned int size;			/* RSA bits */
	unsigned long long rotate_after;	/* policy, seconds; 0: none */
	unsigned long long notify_before;
	size_t nversions;
	struct vault_key_version *versions;	/* oldest first; newest current */
};

/* Create a key with one version (@bits 2048|3072|4096); *@kid gets its kid.
 * Return: 0, -EEXIST (name in use or reserved by a deleted key), -EINVAL. */
int vault_key_create(struct vault *v, const char *name, unsigned int bits,
		     time_t not_before, time_t expires, char *kid, size_t len);
/* Import an RSA private key from PEM (PKCS#1 or PKCS#8).  -EPROTONOSUPPORT
 * for anything but RSA 2048/3072/4096, -EBADMSG for unreadable PEM. */
int vault_key_import(struct vault *v, const char *name, const char *pem,
		     size_t pemlen, char *kid, size_t len);
/* Add a new version (the new current one). */
int vault_key_rotate(struct vault *v, const char *name, char *kid, size_t len);

/* What vault_key_set() changes; fields with set_X == 0 stay. */
struct vault_key_update {
	int set_enabled, enabled;
	int set_expires;
	time_t expires;			/* 0: never */
	int set_not_before;
	time_t not_before;
};
/* @ref: "NAME" (the key and all its versions) or "NAME/VERSION". */
int vault_key_set(struct vault *v, const char *ref,
		  const struct vault_key_update *u);
int vault_key_delete(struct vault *v, const char *name);	/* soft */
int vault_key_recover(struct vault *v, const char *name);
/* -EPERM while purge protection is on and the retention is not over. */
int vault_key_purge(struct vault *v, const char *name);
/* Store the rotation policy; (unsigned long long)-1 leaves a field. */
int vault_key_policy(struct vault *v, const char *name,
		     unsigned long long rotate_after,
		     unsigned long long notify_before);
/* One key (deleted ones too), for `key show` and the rotation engine. */
int vault_key_get(struct vault *v, const char *name,
		  struct vault_key_info *out);
void vault_key_info_free(struct vault_key_info *k);
/* Every key, sorted by name; free with vault_key_list_free(). */
int vault_key_list(struct vault *v, struct vault_key_info **out, size_t *n);
void vault_key_list_free(struct vault_key_info *k, size_t n);

/* ---- vault-wide ---- */

/* Add a platform key version; *@kid gets its kid. */
int vault_rotate_platform(struct vault *v, char *kid, size_t len);
struct vault_settings {
	int purge_protection;
	unsigned int retention_days;	/* 7..90 */
};
int vault_get_settings(struct vault *v, struct vault_settings *s);
/* Fields < 0 stay.  -EINVAL for retention outside 7..90. */
int vault_set_settings(struct vault *v, int purge_protection,
		       int retention_days);
/* Copy the vault directory (not its key file) to the new directory @dest. */
int vault_backup(struct vault *v, const char *dest);
/* Copy backup @src into the new vault directory @dir (must not exist). */
int vault_restore(const char *src, const char *dir);

/*
 * vault_audit_verify() - walk the whole chained log (rotated files first).
 * Return: 0; -EBADMSG with @bad_file/@bad_line naming the first bad line
 * (line 0: the tail is cut off or the count does not match).
 */
int vault_audit_verify(struct vault *v, char *bad_file, size_t len,
		       unsigned long *bad_line);
/* The audit files oldest first (malloc'd paths; free each and the array). */
int vault_audit_files(struct vault *v, char ***files, size_t *n);

#endif /* SSEFS_KEYVAULT_VAULT_H */
