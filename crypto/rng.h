/*
 * rng.h - the CSPRNG (libsodium's randombytes) and DEK generation
 */
#ifndef SSEFS_CRYPTO_RNG_H
#define SSEFS_CRYPTO_RNG_H

#include <stddef.h>

struct secbuf;

#define RNG_DEKBYTES	64	/* AES-256-XTS: two distinct 256-bit halves */

void rng_bytes(void *buf, size_t len);
/* A random (version 4) UUID. */
void rng_uuid(unsigned char uuid[16]);
/* Fill @dek (RNG_DEKBYTES long) with a fresh DEK whose halves differ.
 * Return: 0 or -EINVAL for a buffer of the wrong size. */
int rng_dek(struct secbuf *dek) __attribute__((warn_unused_result));

#endif /* SSEFS_CRYPTO_RNG_H */
