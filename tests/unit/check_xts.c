/*
 * check_xts.c - XTS (OpenSSL fast path and the generic code) and cascade
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>

#include "crypto/cascade.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "crypto/xts.h"

Suite *suite_xts(void);

/* IEEE P1619/D16 vector 10: XTS-AES-256, data unit 0xff, 512 bytes */
#define V10_KEY1 "2718281828459045235360287471352662497757247093699959574966967627"
#define V10_KEY2 "3141592653589793238462643383279502884197169399375105820974944592"
static const char v10_ct[] =
	"1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b"
	"5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd"
	"5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0"
	"c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca"
	"2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0"
	"b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f"
	"93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec"
	"583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a"
	"84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1"
	"505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae"
	"9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29"
	"a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac"
	"6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f"
	"645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385"
	"1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa"
	"773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151";

static void unhex(uint8_t *out, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static struct secbuf *hexkey(const char *k1, const char *k2)
{
	struct secbuf *k = secbuf_new(XTS_KEYBYTES);

	ck_assert_ptr_nonnull(k);
	unhex(secbuf_data(k), k1, 32);
	unhex(secbuf_data(k) + 32, k2, 32);
	return k;
}

static struct secbuf *randkey(void)
{
	struct secbuf *k = secbuf_new(RNG_DEKBYTES);

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(rng_dek(k), 0);
	return k;
}

static void check_v10(enum xts_cipher cipher)
{
	struct secbuf *k = hexkey(V10_KEY1, V10_KEY2);
	uint8_t buf[512], ct[512];
	struct xts_ctx *x = NULL;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	unhex(ct, v10_ct, sizeof(ct));
	ck_assert_int_eq(xts_new(&x, cipher, k, 512), 0);
	ck_assert_int_eq(xts_encrypt(x, 0xff, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, ct, sizeof(ct));
	ck_assert_int_eq(xts_decrypt(x, 0xff, buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], (uint8_t)i);
	xts_free(x);
	secbuf_free(k);
}

START_TEST(test_kat_v10_fast)
{
	check_v10(XTS_AES256);
}
END_TEST

START_TEST(test_kat_v10_generic)
{
	check_v10(XTS_AES256_GENERIC);
}
END_TEST

/* Generic over AES must equal OpenSSL's AES-256-XTS bit for bit. */
START_TEST(test_generic_equals_openssl)
{
	static const uint64_t fixed[] = {
		0, 1, 0xffffffffULL, 0x100000000ULL, 0xfffffffffffffff0ULL,
	};
	size_t ss = (_i & 1) ? 4096 : 512, nsec = 1 + (size_t)(_i % 5);
	size_t len = ss * nsec;
	struct xts_ctx *fast = NULL, *gen = NULL;
	struct secbuf *k = randkey();
	uint8_t *a = malloc(len), *b = malloc(len), *p = malloc(len);
	uint64_t sector;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(p);
	if ((size_t)_i < sizeof(fixed) / sizeof(fixed[0]))
		sector = fixed[_i];
	else
		rng_bytes(&sector, sizeof(sector));
	if (_i % 7 == 6)	/* near 2^64, may wrap within the buffer */
		sector = UINT64_MAX - (uint64_t)(_i % 3);
	rng_bytes(p, len);
	memcpy(a, p, len);
	memcpy(b, p, len);
	ck_assert_int_eq(xts_new(&fast, XTS_AES256, k, ss), 0);
	ck_assert_int_eq(xts_new(&gen, XTS_AES256_GENERIC, k, ss), 0);
	ck_assert_int_eq(xts_encrypt(fast, sector, a, len), 0);
	ck_assert_int_eq(xts_encrypt(gen, sector, b, len), 0);
	ck_assert_mem_eq(a, b, len);
	ck_assert_int_ne(memcmp(a, p, len), 0);
	ck_assert_int_eq(xts_decrypt(gen, sector, a, len), 0);
	ck_assert_int_eq(xts_decrypt(fast, sector, b, len), 0);
	ck_assert_mem_eq(a, p, len);
	ck_assert_mem_eq(b, p, len);
	xts_free(fast);
	xts_free(gen);
	secbuf_free(k);
	free(a);
	free(b);
	free(p);
}
END_TEST

START_TEST(test_camellia)
{
	struct secbuf *k = randkey();
	struct xts_ctx *cam = NULL, *aes = NULL;
	uint8_t p[8192], c[8192], d[8192];

	rng_bytes(p, sizeof(p));
	ck_assert_int_eq(xts_new(&cam, XTS_CAMELLIA256, k, 4096), 0);
	ck_assert_int_eq(xts_new(&aes, XTS_AES256, k, 4096), 0);
	memcpy(c, p, sizeof(p));
	ck_assert_int_eq(xts_encrypt(cam, 1ULL << 40, c, sizeof(c)), 0);
	ck_assert_int_ne(memcmp(c, p, sizeof(p)), 0);
	memcpy(d, p, sizeof(p));
	ck_assert_int_eq(xts_encrypt(aes, 1ULL << 40, d, sizeof(d)), 0);
	ck_assert_int_ne(memcmp(c, d, sizeof(c)), 0);
	ck_assert_int_eq(xts_decrypt(cam, 1ULL << 40, c, sizeof(c)), 0);
	ck_assert_mem_eq(c, p, sizeof(p));
	/* the same plaintext in two sectors encrypts differently */
	memcpy(c, p, 4096);
	memcpy(c + 4096, p, 4096);
	ck_assert_int_eq(xts_encrypt(cam, 7, c, sizeof(c)), 0);
	ck_assert_int_ne(memcmp(c, c + 4096, 4096), 0);
	/* and the second sector alone matches sector 8 */
	memcpy(d, p, 4096);
	ck_assert_int_eq(xts_encrypt(cam, 8, d, 4096), 0);
	ck_assert_mem_eq(d, c + 4096, 4096);
	xts_free(cam);
	xts_free(aes);
	secbuf_free(k);
}
END_TEST

START_TEST(test_refusals)
{
	static const enum xts_cipher all[] = {
		XTS_AES256, XTS_CAMELLIA256, XTS_AES256_GENERIC,
	};
	struct secbuf *eq = secbuf_new(XTS_KEYBYTES), *k = randkey();
	struct secbuf *shortk = secbuf_new(32);
	struct xts_ctx *x = NULL;
	uint8_t buf[1024] = { 0 };

	memset(secbuf_data(eq), 0x5a, XTS_KEYBYTES);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		ck_assert_int_eq(xts_new(&x, all[i], eq, 512), -EINVAL);
		ck_assert_ptr_null(x);
		ck_assert_int_eq(xts_new(&x, all[i], shortk, 512), -EINVAL);
		ck_assert_int_eq(xts_new(&x, all[i], k, 1024), -EINVAL);
		ck_assert_ptr_null(x);
		ck_assert_int_eq(xts_new(&x, all[i], k, 512), 0);
		ck_assert_uint_eq(xts_sector_size(x), 512);
		ck_assert_int_eq(xts_encrypt(x, 0, buf, 100), -EINVAL);
		ck_assert_int_eq(xts_decrypt(x, 0, buf, 513), -EINVAL);
		ck_assert_int_eq(xts_encrypt(x, 0, buf, 0), 0);
		xts_free(x);
		x = NULL;
	}
	ck_assert_int_eq(xts_new(&x, (enum xts_cipher)9, k, 512), -EINVAL);
	xts_free(NULL);
	secbuf_free(eq);
	secbuf_free(k);
	secbuf_free(shortk);
}
END_TEST

START_TEST(test_dup)
{
	static const enum xts_cipher all[] = {
		XTS_AES256, XTS_CAMELLIA256, XTS_AES256_GENERIC,
	};
	struct secbuf *k = randkey();
	uint8_t p[4096], a[4096], b[4096];

	rng_bytes(p, sizeof(p));
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct xts_ctx *x = NULL, *y = NULL;

		ck_assert_int_eq(xts_new(&x, all[i], k, 512), 0);
		ck_assert_int_eq(xts_dup(&y, x), 0);
		memcpy(a, p, sizeof(p));
		memcpy(b, p, sizeof(p));
		ck_assert_int_eq(xts_encrypt(x, 42, a, sizeof(a)), 0);
		xts_free(x);	/* the copy must not depend on the original */
		ck_assert_int_eq(xts_encrypt(y, 42, b, sizeof(b)), 0);
		ck_assert_mem_eq(a, b, sizeof(a));
		ck_assert_int_eq(xts_decrypt(y, 42, b, sizeof(b)), 0);
		ck_assert_mem_eq(b, p, sizeof(p));
		xts_free(y);
	}
	secbuf_free(k);
}
END_TEST

START_TEST(test_cascade)
{
	struct secbuf *k1 = randkey(), *k2 = randkey();
	struct cascade_ctx *c = NULL, *d = NULL;
	struct xts_ctx *aes = NULL, *cam = NULL;
	uint8_t p[8192], a[8192], b[8192];

	rng_bytes(p, sizeof(p));
	ck_assert_int_eq(cascade_new(&c, k1, k2, 4096), 0);
	ck_assert_uint_eq(cascade_sector_size(c), 4096);
	ck_assert_int_eq(xts_new(&aes, XTS_AES256, k1, 4096), 0);
	ck_assert_int_eq(xts_new(&cam, XTS_CAMELLIA256, k2, 4096), 0);
	memcpy(a, p, sizeof(p));
	ck_assert_int_eq(cascade_encrypt(c, 99, a, sizeof(a)), 0);
	/* inner Camellia (key 2), then outer AES (key 1) */
	memcpy(b, p, sizeof(p));
	ck_assert_int_eq(xts_encrypt(cam, 99, b, sizeof(b)), 0);
	ck_assert_int_eq(xts_encrypt(aes, 99, b, sizeof(b)), 0);
	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert_int_eq(cascade_dup(&d, c), 0);
	cascade_free(c);
	ck_assert_int_eq(cascade_decrypt(d, 99, a, sizeof(a)), 0);
	ck_assert_mem_eq(a, p, sizeof(p));
	ck_assert_int_eq(cascade_encrypt(d, 0, a, 100), -EINVAL);
	cascade_free(d);
	c = NULL;
	ck_assert_int_eq(cascade_new(&c, k1, k2, 333), -EINVAL);
	ck_assert_ptr_null(c);
	xts_free(aes);
	xts_free(cam);
	secbuf_free(k1);
	secbuf_free(k2);
}
END_TEST

Suite *suite_xts(void)
{
	Suite *s = suite_create("xts");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_kat_v10_fast);
	tcase_add_test(tc, test_kat_v10_generic);
	tcase_add_loop_test(tc, test_generic_equals_openssl, 0, 64);
	tcase_add_test(tc, test_camellia);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_dup);
	tcase_add_test(tc, test_cascade);
	suite_add_tcase(s, tc);
	return s;
}
