/*
 * block.h - a raw 128-bit block cipher (AES-256 or Camellia-256) in ECB
 *
 * The building block of the generic IEEE 1619 XTS in crypto/xts.c: OpenSSL's
 * ECB mode with padding off, a whole number of independent 16-byte blocks
 * per call.  The expanded key lives inside the EVP_CIPHER_CTX, which
 * EVP_CIPHER_CTX_free() cleanses.
 */
#ifndef SSEFS_CRYPTO_BLOCK_H
#define SSEFS_CRYPTO_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define BLOCK_BYTES	16
#define BLOCK_KEYBYTES	32

enum block_cipher {
	BLOCK_AES256 = 1,
	BLOCK_CAMELLIA256 = 2,
};

/*
 * block_new() - a context that encrypts (@enc 1) or decrypts (@enc 0) with
 * the 32-byte @key.  *@out is set on success only.
 * Return: 0, -EINVAL (bad cipher), -ENOMEM, -EIO.
 */
int block_new(EVP_CIPHER_CTX **out, enum block_cipher cipher,
	      const uint8_t *key, int enc) __attribute__((warn_unused_result));

/*
 * block_crypt() - transform @nblocks 16-byte blocks from @in to @out (which
 * may be the same buffer).  Return: 0, -EIO.
 */
int block_crypt(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in,
		size_t nblocks);

#endif /* SSEFS_CRYPTO_BLOCK_H */
