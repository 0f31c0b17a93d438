/*
 * config.c - placeholder until the YAML loader lands (issue 2)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/config.h"

int config_load(struct config **out, const char *path, char *err,
		size_t errlen)
{
	(void)out;
	snprintf(err, errlen, "%s: configuration files are not supported yet",
		 path);
	return -EINVAL;
}

void config_free(struct config *cfg)
{
	free(cfg);
}

const char *config_vault_dir(const struct config *cfg) { (void)cfg; return NULL; }
const char *config_vault_keyfile(const struct config *cfg) { (void)cfg; return NULL; }
const char *config_passphrase_file(const struct config *cfg) { (void)cfg; return NULL; }
const char *config_default_store(const struct config *cfg) { (void)cfg; return NULL; }
const char *config_notify(const struct config *cfg) { (void)cfg; return NULL; }

int config_mount_options(const struct config *cfg, const char *store,
			 char *buf, size_t len)
{
	(void)cfg;
	(void)store;
	if (len)
		buf[0] = '\0';
	return 0;
}
