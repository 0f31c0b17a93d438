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
