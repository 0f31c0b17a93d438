/*
 * hkdf.c - HKDF-SHA256 through OpenSSL 3's EVP_KDF
 */
#include <errno.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto/hkdf.h"

int hkdf_sha256(void *out, size_t outlen, const void *ikm, size_t ikmlen,
		const void *salt, size_t saltlen, const void *info,
		size_t infolen)
{
	OSSL_PARAM params[5], *p = params;
	EVP_KDF_CTX *ctx = NULL;
	EVP_KDF *kdf = NULL;
	int r = -EIO;

	if (!out || !outlen || outlen > 255 * HKDF_SHA256_BYTES || !ikm ||
	    !ikmlen)
		return -EINVAL;
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		goto out;
	ctx = EVP_KDF_CTX_new(kdf);
	if (!ctx)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)ikm, ikmlen);
	if (salt && saltlen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							 (void *)salt, saltlen);
	if (info && infolen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
							 (void *)info, infolen);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) == 1)
		r = 0;
out:
	EVP_KDF_CTX_free(ctx);	/* clears the key it copied */
	EVP_KDF_free(kdf);
	return r;
}
