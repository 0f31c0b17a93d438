/*
 * xts.h - IEEE 1619 XTS over a 128-bit block cipher, a sector at a time
 *
 * XTS_AES256 goes through OpenSSL's own EVP AES-256-XTS (the fast path).
 * XTS_CAMELLIA256 is the generic IEEE 1619 construction over OpenSSL's
 * Camellia-256 block function; XTS_AES256_GENERIC runs the same generic code
 * over AES-256 so that tests can prove it against OpenSSL bit for bit.
 *
 * A sector's tweak is its index, 64-bit little-endian (dm-crypt's plain64).
 * A context holds both expanded key halves (in OpenSSL's secure heap).  Not
 * safe for concurrent use: each I/O thread takes its own with xts_dup().
 */
#ifndef SSEFS_CRYPTO_XTS_H
#define SSEFS_CRYPTO_XTS_H

#include <stddef.h>
#include <stdint.h>

struct secbuf;
struct xts_ctx;

#define XTS_KEYBYTES	64	/* two 256-bit halves, which must differ */

enum xts_cipher {
	XTS_AES256 = 1,
	XTS_CAMELLIA256 = 2,
	XTS_AES256_GENERIC = 3,	/* test only: generic code over AES */
};

/**
 * xts_new() - expand @key for one cipher and sector size (512 or 4096).
 * The key is copied; the caller still owns @key. *@out is set on success only.
 * Return: 0, -EINVAL (bad size, equal halves, bad cipher), -ENOMEM, -EIO.
 */
int xts_new(struct xts_ctx **out, enum xts_cipher cipher,
	    const struct secbuf *key, size_t sector_size)
	__attribute__((warn_unused_result));
int xts_dup(struct xts_ctx **out, const struct xts_ctx *x)
	__attribute__((warn_unused_result));

/*
 * Transform @len bytes (a multiple of the sector size) in place, from
 * sector @sector on; each following sector's tweak is one more.
 * Return: 0, -EINVAL (length), -EIO (OpenSSL).
 */
int xts_encrypt(struct xts_ctx *x, uint64_t sector, void *buf, size_t len);
int xts_decrypt(struct xts_ctx *x, uint64_t sector, void *buf, size_t len);

/*
 * The same, out of place: @src is left as it is, the result goes to @dst.
 * @dst and @src must not overlap (unless equal: then it is in place).
 * Saves the caller a copy of the plaintext into a bounce buffer first.
 * On failure @dst may hold a partial result (plaintext, for the generic
 * ciphers): the caller wipes it.
 * Return: 0, -EINVAL (length), -EIO (OpenSSL).
 */
int xts_encrypt_to(struct xts_ctx *x, uint64_t sector, void *dst,
		   const void *src, size_t len);
int xts_decrypt_to(struct xts_ctx *x, uint64_t sector, void *dst,
		   const void *src, size_t len);

size_t xts_sector_size(const struct xts_ctx *x);

void xts_free(struct xts_ctx *x);	/* wipes; NULL is a no-op */

#endif /* SSEFS_CRYPTO_XTS_H */
