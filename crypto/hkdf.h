/*
 * hkdf.h - HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF
 */
#ifndef SSEFS_CRYPTO_HKDF_H
#define SSEFS_CRYPTO_HKDF_H

#include <stddef.h>
#include <stdint.h>

#define HKDF_SHA256_BYTES	32

/* "info" labels, one per derived key, so no two uses share a key */
#define HKDF_INFO_HDR_MAC	"ssefs header mac v1"
#define HKDF_INFO_CACHE		"ssefs host cache v1"
#define HKDF_INFO_AUDIT		"ssefs audit chain v1"

/*
 * hkdf_sha256() - extract-and-expand @ikm with optional @salt (NULL, 0 for
 * none) and @info into @outlen bytes at @out (at most 255 * 32).
 * Return: 0, -EINVAL, -EIO.
 */
int hkdf_sha256(void *out, size_t outlen, const void *ikm, size_t ikmlen,
		const void *salt, size_t saltlen, const void *info,
		size_t infolen) __attribute__((warn_unused_result));

#endif /* SSEFS_CRYPTO_HKDF_H */
