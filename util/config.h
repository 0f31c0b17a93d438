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
 * "mount" defaults, then the store's own entry (matched by realpath), later
 * ones winning.  Return: 0, -ENAMETOOLONG.
 */
int config_mount_options(const struct config *cfg, const char *store,
			 char *buf, size_t len);

#endif /* SSEFS_UTIL_CONFIG_H */
