/*
 * rng.c - randomness from libsodium; DEKs with distinct XTS halves
 */
#include <errno.h>

#include <sodium.h>

#include "crypto/rng.h"
#include "crypto/secmem.h"

void rng_bytes(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

void rng_uuid(unsigned char u[16])
{
	randombytes_buf(u, 16);
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
}

int rng_dek(struct secbuf *dek)
{
	uint8_t *k;

	if (secbuf_len(dek) != RNG_DEKBYTES)
		return -EINVAL;
	k = secbuf_data(dek);
	/* Equal halves turn XTS into a weaker mode and OpenSSL refuses them;
	 * with 256 random bits each this loop runs once in practice. */
	do {
		randombytes_buf(k, RNG_DEKBYTES);
	} while (sodium_memcmp(k, k + RNG_DEKBYTES / 2, RNG_DEKBYTES / 2) == 0);
	return 0;
}
