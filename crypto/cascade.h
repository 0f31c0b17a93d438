/*
 * cascade.h - double encryption: Camellia-256-XTS inside AES-256-XTS
 *
 * Encrypt runs the inner Camellia-256-XTS (key 2) and then the outer
 * AES-256-XTS (key 1) over the same sectors with the same tweaks; decrypt
 * reverses the order.  Each key is XTS_KEYBYTES long with distinct halves.
 * Not safe for concurrent use: each thread takes its own with cascade_dup().
 */
#ifndef SSEFS_CRYPTO_CASCADE_H
#define SSEFS_CRYPTO_CASCADE_H

#include <stddef.h>
#include <stdint.h>

struct secbuf;
struct cascade_ctx;

/**
 * cascade_new() - expand outer AES key @key1 and inner Camellia key @key2
 * for @sector_size (512 or 4096).  *@out is set on success only.
 * Return: 0, -EINVAL (sizes, equal halves), -ENOMEM, -EIO.
 */
int cascade_new(struct cascade_ctx **out, const struct secbuf *key1,
		const struct secbuf *key2, size_t sector_size)
	__attribute__((warn_unused_result));
int cascade_dup(struct cascade_ctx **out, const struct cascade_ctx *c)
	__attribute__((warn_unused_result));
/* As xts_encrypt()/xts_decrypt().  Return: 0, -EINVAL, -EIO. */
int cascade_encrypt(struct cascade_ctx *c, uint64_t sector, void *buf,
		    size_t len);
int cascade_decrypt(struct cascade_ctx *c, uint64_t sector, void *buf,
		    size_t len);
size_t cascade_sector_size(const struct cascade_ctx *c);
void cascade_free(struct cascade_ctx *c);	/* wipes; NULL is a no-op */

#endif /* SSEFS_CRYPTO_CASCADE_H */
