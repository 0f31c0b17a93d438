/*
 * disk_vault_weak.c - weak stand-ins for the vault functions `ssefs disk`
 * calls, so that the program links before keyvault/vault.c lands.  Each
 * fails with -ENOSYS; the vault's real (strong) definitions replace them
 * at link time.  Delete this file once keyvault/ implements vault.h.
 */
#include <errno.h>
#include <string.h>

#include "disk/keyops.h"
#include "keyvault/vault.h"

__attribute__((weak)) void vault_close(struct vault *v)
{
	(void)v;
}

__attribute__((weak)) int vault_resolve(struct vault *v, const char *ref,
					char *kid, size_t len)
{
	(void)v;
	(void)ref;
	(void)kid;
	(void)len;
	return -ENOSYS;
}

static int no_unwrap(void *ctx, const struct env_layer *l,
		     struct secbuf **dek)
{
	(void)ctx;
	(void)l;
	(void)dek;
	return -ENOSYS;
}

static int no_wrap(void *ctx, const char *kid, const struct secbuf *dek,
		   struct env_layer *l)
{
	(void)ctx;
	(void)kid;
	(void)dek;
	(void)l;
	return -ENOSYS;
}

__attribute__((weak)) void vault_keyops(struct vault *v, struct keyops *ops)
{
	ops->ctx = v;
	ops->unwrap = no_unwrap;
	ops->wrap = no_wrap;
}

__attribute__((weak)) int vault_disk_put(struct vault *v,
					 const struct vault_disk *d)
{
	(void)v;
	(void)d;
	return -ENOSYS;
}
