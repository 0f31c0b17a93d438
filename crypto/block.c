/*
 * block.c - AES-256 / Camellia-256 block function over OpenSSL ECB
 */
#include <errno.h>
#include <limits.h>

#include <openssl/evp.h>

#include "crypto/block.h"

int block_new(EVP_CIPHER_CTX **out, enum block_cipher cipher,
	      const uint8_t *key, int enc)
{
	const EVP_CIPHER *evp;
	EVP_CIPHER_CTX *c;

	switch (cipher) {
	case BLOCK_AES256:
		evp = EVP_aes_256_ecb();
		break;
	case BLOCK_CAMELLIA256:
		evp = EVP_camellia_256_ecb();
		break;
	default:
		return -EINVAL;
	}
	if (!evp)
		return -EIO;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_CipherInit_ex(c, evp, NULL, key, NULL, enc ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, 0) != 1) {
		EVP_CIPHER_CTX_free(c);
		return -EIO;
	}
	*out = c;
	return 0;
}

int block_crypt(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in,
		size_t nblocks)
{
	int outl = 0;

	if (nblocks > (size_t)INT_MAX / BLOCK_BYTES)
		return -EINVAL;
	if (EVP_CipherUpdate(c, out, &outl, in,
			     (int)(nblocks * BLOCK_BYTES)) != 1 ||
	    (size_t)outl != nblocks * BLOCK_BYTES)
		return -EIO;
	return 0;
}
