/*
 * xts.c - IEEE 1619 XTS, a sector at a time
 *
 * AES-256 goes through OpenSSL's EVP AES-256-XTS: one EVP call per sector,
 * with the contexts keyed once and only the IV (the plain64 tweak) changed
 * per sector.  Camellia-256 (and AES-256 for the proof against OpenSSL)
 * goes through the generic construction below, built on OpenSSL's one-block
 * ECB function: T = E_K2(tweak), then for each 16-byte block j,
 * C_j = E_K1(P_j ^ T) ^ T and T = T * alpha in GF(2^128).
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/secmem.h"
#include "crypto/xts.h"

#define XTS_BLOCK	16
#define XTS_HALF	(XTS_KEYBYTES / 2)

struct xts_ctx {
	enum xts_cipher cipher;
	size_t sector_size;
	/* EVP path: one keyed context per direction.  Generic path: ECB
	 * contexts for K1 (both directions) and K2 (encrypt, tweaks). */
	EVP_CIPHER_CTX *enc, *dec, *tweak;
};

static const EVP_CIPHER *ecb_of(enum xts_cipher c)
{
	return c == XTS_CAMELLIA256 ? EVP_camellia_256_ecb() :
				      EVP_aes_256_ecb();
}

void xts_free(struct xts_ctx *x)
{
	if (!x)
		return;
	/* EVP_CIPHER_CTX_free cleanses the key schedule it holds */
	EVP_CIPHER_CTX_free(x->enc);
	EVP_CIPHER_CTX_free(x->dec);
	EVP_CIPHER_CTX_free(x->tweak);
	OPENSSL_secure_clear_free(x, sizeof(*x));
}

static int init_ecb(EVP_CIPHER_CTX **c, const EVP_CIPHER *ciph,
		    const uint8_t *key, int enc)
{
	*c = EVP_CIPHER_CTX_new();
	if (!*c || EVP_CipherInit_ex(*c, ciph, NULL, key, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(*c, 0) != 1)
		return -EIO;
	return 0;
}

int xts_new(struct xts_ctx **out, enum xts_cipher cipher,
	    const struct secbuf *key, size_t sector_size)
{
	const uint8_t *k;
	struct xts_ctx *x;
	int r;

	if (secbuf_len(key) != XTS_KEYBYTES ||
	    (sector_size != 512 && sector_size != 4096))
		return -EINVAL;
	if (cipher != XTS_AES256 && cipher != XTS_CAMELLIA256 &&
	    cipher != XTS_AES256_GENERIC)
		return -EINVAL;
	k = secbuf_data(key);
	if (CRYPTO_memcmp(k, k + XTS_HALF, XTS_HALF) == 0)
		return -EINVAL;		/* IEEE 1619 asks for distinct halves */

	x = OPENSSL_secure_zalloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->cipher = cipher;
	x->sector_size = sector_size;
	if (cipher == XTS_AES256) {
		r = -EIO;
		x->enc = EVP_CIPHER_CTX_new();
		x->dec = EVP_CIPHER_CTX_new();
		if (!x->enc || !x->dec ||
		    EVP_EncryptInit_ex(x->enc, EVP_aes_256_xts(), NULL, k,
				       NULL) != 1 ||
		    EVP_DecryptInit_ex(x->dec, EVP_aes_256_xts(), NULL, k,
				       NULL) != 1)
			goto fail;
	} else {
		r = init_ecb(&x->enc, ecb_of(cipher), k, 1);
		if (!r)
			r = init_ecb(&x->dec, ecb_of(cipher), k, 0);
		if (!r)
			r = init_ecb(&x->tweak, ecb_of(cipher), k + XTS_HALF, 1);
		if (r)
			goto fail;
	}
	*out = x;
	return 0;
fail:
	xts_free(x);
	return r;
}

int xts_dup(struct xts_ctx **out, const struct xts_ctx *x)
{
	struct xts_ctx *d;
	EVP_CIPHER_CTX *const *src[] = { &x->enc, &x->dec, &x->tweak };
	EVP_CIPHER_CTX **dst[3];

	d = OPENSSL_secure_zalloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cipher = x->cipher;
	d->sector_size = x->sector_size;
	dst[0] = &d->enc;
	dst[1] = &d->dec;
	dst[2] = &d->tweak;
	for (int i = 0; i < 3; i++) {
		if (!*src[i])
			continue;
		*dst[i] = EVP_CIPHER_CTX_new();
		if (!*dst[i] || EVP_CIPHER_CTX_copy(*dst[i], *src[i]) != 1) {
			xts_free(d);
			return -EIO;
		}
	}
	*out = d;
	return 0;
}

size_t xts_sector_size(const struct xts_ctx *x)
{
	return x->sector_size;
}

static void store_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* T = T * alpha in GF(2^128), IEEE 1619's little-endian byte order. */
static void gf_mul_alpha(uint8_t t[XTS_BLOCK])
{
	uint8_t carry = 0;

	for (int i = 0; i < XTS_BLOCK; i++) {
		uint8_t next = t[i] >> 7;

		t[i] = (uint8_t)((t[i] << 1) | carry);
		carry = next;
	}
	if (carry)
		t[0] ^= 0x87;
}

static int ecb_block(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in)
{
	int n = 0;

	if (EVP_CipherUpdate(c, out, &n, in, XTS_BLOCK) != 1 || n != XTS_BLOCK)
		return -EIO;
	return 0;
}

/* One sector through the generic construction. */
static int generic_sector(struct xts_ctx *x, uint64_t sector, uint8_t *buf,
			  int enc)
{
	uint8_t t[XTS_BLOCK] = { 0 }, b[XTS_BLOCK];
	EVP_CIPHER_CTX *k1 = enc ? x->enc : x->dec;
	int r;

	store_le64(t, sector);
	r = ecb_block(x->tweak, t, t);
	for (size_t off = 0; r == 0 && off < x->sector_size;
	     off += XTS_BLOCK) {
		for (int i = 0; i < XTS_BLOCK; i++)
			b[i] = buf[off + i] ^ t[i];
		r = ecb_block(k1, b, b);
		for (int i = 0; i < XTS_BLOCK; i++)
			buf[off + i] = b[i] ^ t[i];
		gf_mul_alpha(t);
	}
	OPENSSL_cleanse(t, sizeof(t));
	OPENSSL_cleanse(b, sizeof(b));
	return r;
}

static int evp_sector(struct xts_ctx *x, uint64_t sector, uint8_t *buf,
		      int enc)
{
	EVP_CIPHER_CTX *c = enc ? x->enc : x->dec;
	uint8_t iv[XTS_BLOCK] = { 0 };
	int n = 0;

	store_le64(iv, sector);
	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, enc) != 1 ||
	    EVP_CipherUpdate(c, buf, &n, buf, (int)x->sector_size) != 1 ||
	    (size_t)n != x->sector_size)
		return -EIO;
	return 0;
}

static int transform(struct xts_ctx *x, uint64_t sector, void *buf,
		     size_t len, int enc)
{
	uint8_t *p = buf;
	int r = 0;

	if (len % x->sector_size)
		return -EINVAL;
	for (size_t off = 0; r == 0 && off < len; off += x->sector_size) {
		if (x->cipher == XTS_AES256)
			r = evp_sector(x, sector++, p + off, enc);
		else
			r = generic_sector(x, sector++, p + off, enc);
	}
	return r;
}

int xts_encrypt(struct xts_ctx *x, uint64_t sector, void *buf, size_t len)
{
	return transform(x, sector, buf, len, 1);
}

int xts_decrypt(struct xts_ctx *x, uint64_t sector, void *buf, size_t len)
{
	return transform(x, sector, buf, len, 0);
}
