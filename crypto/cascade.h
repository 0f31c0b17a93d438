/*
 * cascade.h - n XTS layers over the same sectors (the cipher layer's work)
 *
 * Layer 0 is the outermost: encrypt runs the last layer first and layer
 * 0 last, over the same sectors with the same tweaks; decrypt reverses
 * the order.  A double-encrypted disk is Camellia-256-XTS (layer 1)
 * inside AES-256-XTS (layer 0).  Each key is XTS_KEYBYTES long with
 * distinct halves.  Not safe for concurrent use: each thread takes its
 * own with cascade_dup().
 */
#ifndef SSEFS_CRYPTO_CASCADE_H
#define SSEFS_CRYPTO_CASCADE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/xts.h"

#define CASCADE_MAX	2

struct secbuf;
struct cascade_ctx;

/**
 * cascade_new() - expand @n (1..CASCADE_MAX) keys @key[i] for ciphers
 * @cipher[i] and @sector_size (512 or 4096).  The keys are copied.
 * *@out is set on success only.
 * Return: 0, -EINVAL (count, sizes, equal halves), -ENOMEM, -EIO.
 */
int cascade_new(struct cascade_ctx **out, unsigned int n,
		const enum xts_cipher *cipher, struct secbuf *const *key,
		size_t sector_size) __attribute__((warn_unused_result));
int cascade_dup(struct cascade_ctx **out, const struct cascade_ctx *c)
	__attribute__((warn_unused_result));
/* As xts_encrypt()/xts_decrypt()/xts_encrypt_to() (@src is left as it
 * is).  Return: 0, -EINVAL, -EIO. */
int cascade_encrypt(struct cascade_ctx *c, uint64_t sector, void *buf,
		    size_t len);
int cascade_encrypt_to(struct cascade_ctx *c, uint64_t sector, void *dst,
		       const void *src, size_t len);
int cascade_decrypt(struct cascade_ctx *c, uint64_t sector, void *buf,
		    size_t len);
size_t cascade_sector_size(const struct cascade_ctx *c);
void cascade_free(struct cascade_ctx *c);	/* wipes; NULL is a no-op */

#endif /* SSEFS_CRYPTO_CASCADE_H */
