/*
 * config.h - the YAML configuration file (ssefs-config(5))
 *
 *   vault:
 *     dir: /var/lib/ssefs/vault
 *     keyfile: /etc/ssefs/vault.key
 *     passphrase_file: /etc/ssefs/passphrase
 *   store: /srv/ssefs/store          # default STORE for rotate and mount
 *   notify: /usr/local/bin/ssefs-notify
 *   mount:                            # default mount options
 *     revoke_grace: 1h
 *     caching: ReadOnly
 *   stores:                           # per-store overrides
 *     /srv/ssefs/store:
 *       des: prod
 *     https://acct.blob.core.windows.net/disks:
 *       credentials: /etc/ssefs/acct.conn   # a blob store's, mode 0600
 *
 * An unknown key, a wrong type or a malformed file is an error naming the
 * file, line and column.
 */
#ifndef SSEFS_UTIL_CONFIG_H
#define SSEFS_UTIL_CONFIG_H

#include <stddef.h>

struct config;

/*
 * config_load() - parse @path.  On failure writes "PATH:LINE:COL: WHY" (or
 * "PATH: WHY") into @err and returns -EINVAL (syntax or schema), -ENOENT or
 * another -errno; *@out is set on success only.
 */
int config_load(struct config **out, const char *path, char *err,
		size_t errlen) __attribute__((warn_unused_result));
void config_free(struct config *cfg);

/* NULL when not set. */
const char *config_vault_dir(const struct config *cfg);
const char *config_vault_keyfile(const struct config *cfg);
const char *config_passphrase_file(const struct config *cfg);
const char *config_default_store(const struct config *cfg);
const char *config_notify(const struct config *cfg);

/*
 * The mount options for @store (NULL: defaults only) as "k=v,k=v": the
 * "mount" defaults, then the store's own entry (matched by realpath; a
 * container URL by its scheme and host in any case and its path exactly,
 * trailing slashes aside), later ones winning.  Return: 0, -ENAMETOOLONG.
 */
int config_mount_options(const struct config *cfg, const char *store,
			 char *buf, size_t len);

/*
 * A mount option's check: 0 when @key=@val is good; -ENOENT when no one
 * knows @key; another -errno with a reason in @why when @val is bad.
 */
typedef int (*config_opt_check_fn)(const char *key, const char *val,
				   char *why, size_t whylen);

/*
 * config_check_mount_options() - run @check over every option of the
 * "mount" and "stores" sections, so that a mistake there fails every
 * command at once, as any other key does, rather than the mount later.
 * On failure writes "PATH:LINE:COL: WHY" (at the key when it is unknown,
 * else at the value) into @err and returns the check's -errno.
 */
int config_check_mount_options(const struct config *cfg,
			       config_opt_check_fn check, char *err,
			       size_t errlen);

#endif /* SSEFS_UTIL_CONFIG_H */
