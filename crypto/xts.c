/*
 * xts.c - IEEE 1619 XTS, a sector (data unit) at a time
 *
 * XTS_AES256 is OpenSSL's EVP AES-256-XTS: one EVP call per sector, the
 * 16-byte IV being the sector index little-endian followed by zeros
 * (plain64).  The two EVP contexts are keyed once in xts_new(); each
 * sector only resets the IV.
 *
 * XTS_CAMELLIA256 and XTS_AES256_GENERIC are the generic construction over
 * a block function (crypto/block.h): T = E_K2(index), then per 16-byte block
 * j, C = E_K1(P xor T_j) xor T_j with T_{j+1} = T_j * alpha in GF(2^128)
 * (IEEE 1619's little-endian convention, reduction x^128 + x^7 + x^2 + x + 1).
 * The tweaks of a whole sector are computed first so that the block cipher
 * runs over the sector in one ECB call.  Sector sizes are multiples of 16,
 * so no ciphertext stealing is needed.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/block.h"
#include "crypto/secmem.h"
#include "crypto/xts.h"

#define HALF	(XTS_KEYBYTES / 2)

struct xts_ctx {
	enum xts_cipher cipher;
	size_t sector_size;
	/* fast path: AES-256-XTS keyed with both halves */
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	/* generic: K1 both ways, K2 encrypt only (tweak) */
	EVP_CIPHER_CTX *k1enc;
	EVP_CIPHER_CTX *k1dec;
	EVP_CIPHER_CTX *k2enc;
	uint8_t *tweaks;	/* one sector of tweak values, wiped after use */
};

static struct xts_ctx *ctx_alloc(enum xts_cipher cipher, size_t sector_size)
{
	struct xts_ctx *x = OPENSSL_secure_zalloc(sizeof(*x));

	if (!x)
		return NULL;
	x->cipher = cipher;
	x->sector_size = sector_size;
	if (cipher != XTS_AES256) {
		x->tweaks = OPENSSL_secure_zalloc(sector_size);
		if (!x->tweaks) {
			OPENSSL_secure_clear_free(x, sizeof(*x));
			return NULL;
		}
	}
	return x;
}

void xts_free(struct xts_ctx *x)
{
	if (!x)
		return;
	EVP_CIPHER_CTX_free(x->enc);
	EVP_CIPHER_CTX_free(x->dec);
	EVP_CIPHER_CTX_free(x->k1enc);
	EVP_CIPHER_CTX_free(x->k1dec);
	EVP_CIPHER_CTX_free(x->k2enc);
	if (x->tweaks)
		OPENSSL_secure_clear_free(x->tweaks, x->sector_size);
	OPENSSL_secure_clear_free(x, sizeof(*x));
}

static int fast_key(EVP_CIPHER_CTX **out, const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (!c)
		return -ENOMEM;
	if (EVP_CipherInit_ex(c, EVP_aes_256_xts(), NULL, key, NULL,
			      enc) != 1) {
		EVP_CIPHER_CTX_free(c);
		return -EIO;
	}
	*out = c;
	return 0;
}

int xts_new(struct xts_ctx **out, enum xts_cipher cipher,
	    const struct secbuf *key, size_t sector_size)
{
	enum block_cipher bc = BLOCK_AES256;
	struct xts_ctx *x;
	const uint8_t *k;
	int r;

	if (!key || secbuf_len(key) != XTS_KEYBYTES)
		return -EINVAL;
	if (sector_size != 512 && sector_size != 4096)
		return -EINVAL;
	switch (cipher) {
	case XTS_AES256:
	case XTS_AES256_GENERIC:
		break;
	case XTS_CAMELLIA256:
		bc = BLOCK_CAMELLIA256;
		break;
	default:
		return -EINVAL;
	}
	k = secbuf_data(key);
	if (sodium_memcmp(k, k + HALF, HALF) == 0)
		return -EINVAL;

	x = ctx_alloc(cipher, sector_size);
	if (!x)
		return -ENOMEM;
	if (cipher == XTS_AES256) {
		r = fast_key(&x->enc, k, 1);
		if (!r)
			r = fast_key(&x->dec, k, 0);
	} else {
		r = block_new(&x->k1enc, bc, k, 1);
		if (!r)
			r = block_new(&x->k1dec, bc, k, 0);
		if (!r)
			r = block_new(&x->k2enc, bc, k + HALF, 1);
	}
	if (r)
		goto fail;
	*out = x;
	return 0;
fail:
	xts_free(x);
	return r;
}

static int copy_ctx(EVP_CIPHER_CTX **dst, const EVP_CIPHER_CTX *src)
{
	EVP_CIPHER_CTX *c;

	if (!src)
		return 0;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_CIPHER_CTX_copy(c, src) != 1) {
		EVP_CIPHER_CTX_free(c);
		return -EIO;
	}
	*dst = c;
	return 0;
}

int xts_dup(struct xts_ctx **out, const struct xts_ctx *x)
{
	struct xts_ctx *n;
	int r;

	if (!x)
		return -EINVAL;
	n = ctx_alloc(x->cipher, x->sector_size);
	if (!n)
		return -ENOMEM;
	r = copy_ctx(&n->enc, x->enc);
	if (!r)
		r = copy_ctx(&n->dec, x->dec);
	if (!r)
		r = copy_ctx(&n->k1enc, x->k1enc);
	if (!r)
		r = copy_ctx(&n->k1dec, x->k1dec);
	if (!r)
		r = copy_ctx(&n->k2enc, x->k2enc);
	if (r) {
		xts_free(n);
		return r;
	}
	*out = n;
	return 0;
}

size_t xts_sector_size(const struct xts_ctx *x)
{
	return x->sector_size;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int fast_sector(EVP_CIPHER_CTX *c, uint64_t sector, uint8_t *out,
		       const uint8_t *in, size_t n)
{
	uint8_t iv[16] = { 0 };
	int outl = 0;

	put_le64(iv, sector);
	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) != 1 ||
	    EVP_CipherUpdate(c, out, &outl, in, (int)n) != 1 ||
	    (size_t)outl != n)
		return -EIO;
	return 0;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * Fill @nb tweaks at @t: the first is already there, each next one is the
 * previous times alpha in GF(2^128), IEEE 1619 byte order (byte 0 least
 * significant), worked on as two little-endian 64-bit halves.
 */
static void gf_tweaks(uint8_t *t, size_t nb)
{
	uint64_t lo = get_le64(t), hi = get_le64(t + 8);

	for (size_t j = 1; j < nb; j++) {
		uint64_t carry = hi >> 63;

		hi = (hi << 1) | (lo >> 63);
		lo = (lo << 1) ^ (0x87 & (0 - carry));
		put_le64(t + j * BLOCK_BYTES, lo);
		put_le64(t + j * BLOCK_BYTES + 8, hi);
	}
}

/* p ^= q over @n bytes, a multiple of 8 (sectors are multiples of 16) */
static void xor_buf(uint8_t *p, const uint8_t *q, size_t n)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t a, b;

		memcpy(&a, p + i, 8);
		memcpy(&b, q + i, 8);
		a ^= b;
		memcpy(p + i, &a, 8);
	}
}

static int generic_sector(struct xts_ctx *x, EVP_CIPHER_CTX *k1,
			  uint64_t sector, uint8_t *p)
{
	size_t n = x->sector_size, nb = n / BLOCK_BYTES;
	uint8_t *t = x->tweaks;
	int r;

	memset(t, 0, BLOCK_BYTES);
	put_le64(t, sector);
	r = block_crypt(x->k2enc, t, t, 1);
	if (r)
		goto out;
	gf_tweaks(t, nb);
	xor_buf(p, t, n);
	r = block_crypt(k1, p, p, nb);
	if (r)
		goto out;
	xor_buf(p, t, n);
out:
	sodium_memzero(t, n);
	return r;
}

static int xts_run(struct xts_ctx *x, uint64_t sector, void *dst,
		   const void *src, size_t len, int enc)
{
	size_t n = x->sector_size;
	uint8_t *out = dst;
	const uint8_t *in = src;
	int r = 0;

	if (len % n)
		return -EINVAL;
	for (size_t off = 0; off < len; off += n, sector++) {
		if (x->cipher == XTS_AES256) {
			r = fast_sector(enc ? x->enc : x->dec, sector,
					out + off, in + off, n);
			if (r)
				break;
			continue;
		}
		/* the generic code works in place */
		if (out != in)
			memcpy(out + off, in + off, n);
		r = generic_sector(x, enc ? x->k1enc : x->k1dec, sector,
				   out + off);
		if (r)
			break;
	}
	return r;
}

int xts_encrypt(struct xts_ctx *x, uint64_t sector, void *buf, size_t len)
{
	return xts_run(x, sector, buf, buf, len, 1);
}

int xts_decrypt(struct xts_ctx *x, uint64_t sector, void *buf, size_t len)
{
	return xts_run(x, sector, buf, buf, len, 0);
}

int xts_encrypt_to(struct xts_ctx *x, uint64_t sector, void *dst,
		   const void *src, size_t len)
{
	return xts_run(x, sector, dst, src, len, 1);
}

int xts_decrypt_to(struct xts_ctx *x, uint64_t sector, void *dst,
		   const void *src, size_t len)
{
	return xts_run(x, sector, dst, src, len, 0);
}
