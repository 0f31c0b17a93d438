/*
 * keyops.h - how disk/ asks for keys without knowing where they live
 *
 * keyvault/ fills this table (vault_keyops()); tests may fill it with any
 * real implementation.  disk/ never includes keyvault/.
 */
#ifndef SSEFS_DISK_KEYOPS_H
#define SSEFS_DISK_KEYOPS_H

#include <stddef.h>

struct env_layer;
struct secbuf;

struct keyops {
	void *ctx;
	/*
	 * Unwrap @layer's wrapped DEK into a new secbuf (*@dek, caller frees).
	 * Return: 0; -EKEYREVOKED (version disabled or deleted), -EKEYEXPIRED
	 * (expired or not yet valid), -ENOKEY (no such key or version),
	 * -EXDEV (the kid names another vault), -EBADMSG (unwrap failed),
	 * -EIO (vault unreadable).
	 */
	int (*unwrap)(void *ctx, const struct env_layer *layer,
		      struct secbuf **dek);
	/*
	 * Wrap @dek under @kid (a full versioned kid) and fill @layer's
	 * key_source, wrap_alg, kid, wrapped and wrapped_len (not cipher).
	 * Return: 0 or the errors of unwrap.
	 */
	int (*wrap)(void *ctx, const char *kid, const struct secbuf *dek,
		    struct env_layer *layer);
};

#endif /* SSEFS_DISK_KEYOPS_H */
