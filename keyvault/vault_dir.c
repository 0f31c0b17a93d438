/*
 * vault_dir.c - where a vault lives when nobody says
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "keyvault/vault.h"

int vault_default_dir(char *buf, size_t len)
{
	const char *env = getenv("SSEFS_VAULT"), *xdg, *home;
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/var/lib/ssefs/vault");
	else if ((xdg = getenv("XDG_DATA_HOME")) && *xdg)
		n = snprintf(buf, len, "%s/ssefs/vault", xdg);
	else if ((home = getenv("HOME")) && *home)
		n = snprintf(buf, len, "%s/.local/share/ssefs/vault", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
