/*
 * check_xts.c - XTS: IEEE 1619 known answers, the generic construction
 * proven against OpenSSL's AES-256-XTS, Camellia, key checks
 */
#include <errno.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "crypto/xts.h"

Suite *suite_xts(void);

static void unhex(uint8_t *out, const char *hex, size_t n)
{
	size_t bin_len = 0;

	ck_assert_int_eq(sodium_hex2bin(out, n, hex, strlen(hex), NULL,
					&bin_len, NULL), 0);
	ck_assert_uint_eq(bin_len, n);
}

/* IEEE P1619/D16 annex B, vector 10: XTS-AES-256, data unit 0xff. */
static const char v10_key[] =
	"2718281828459045235360287471352662497757247093699959574966967627"
	"3141592653589793238462643383279502884197169399375105820974944592";
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

/* Both the EVP path and the generic path give the standard's answer. */
START_TEST(test_ieee1619_v10)
{
	static const enum xts_cipher ciphers[] = { XTS_AES256,
						   XTS_AES256_GENERIC };
	uint8_t keyb[64], want[512], buf[512];
	enum xts_cipher c = ciphers[_i];
	struct secbuf *key;
	struct xts_ctx *x = NULL;

	unhex(keyb, v10_key, sizeof(keyb));
	unhex(want, v10_ct, sizeof(want));
	key = secbuf_from(keyb, sizeof(keyb));
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	ck_assert_int_eq(xts_new(&x, c, key, 512), 0);
	ck_assert_int_eq(xts_encrypt(x, 0xff, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, want, sizeof(buf));
	ck_assert_int_eq(xts_decrypt(x, 0xff, buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], (uint8_t)i);
	xts_free(x);
	secbuf_free(key);
}
END_TEST

static struct secbuf *key;

static void setup(void)
{
	key = secbuf_new(XTS_KEYBYTES);
	ck_assert_ptr_nonnull(key);
	ck_assert_int_eq(rng_dek(key), 0);
}

static void teardown(void)
{
	secbuf_free(key);
}

static void store_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The spec's proof: the generic XTS equals OpenSSL's AES-256-XTS, for
 * random keys, sectors across the 2^32 boundary, both sector sizes, and
 * multi-sector buffers. */
START_TEST(test_generic_matches_openssl)
{
	static uint8_t ours[4 * 4096], ref[4 * 4096];
	size_t ss = (_i & 1) ? 4096 : 512, len = ss * (1 + (_i % 4));
	uint64_t base;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	struct xts_ctx *x = NULL;
	int n = 0;

	randombytes_buf(&base, sizeof(base));
	if (_i % 3 == 0)
		base = (UINT64_C(1) << 32) - 2 + (uint64_t)(_i % 5);
	else if (_i % 3 == 1)
		base = UINT64_MAX - 3;
	randombytes_buf(ours, len);
	memcpy(ref, ours, len);

	ck_assert_int_eq(xts_new(&x, XTS_AES256_GENERIC, key, ss), 0);
	ck_assert_int_eq(xts_encrypt(x, base, ours, len), 0);
	for (size_t off = 0; off < len; off += ss) {
		uint8_t iv[16] = { 0 };

		store_le64(iv, base + off / ss);
		ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_256_xts(), NULL,
						    secbuf_data(key), iv), 1);
		ck_assert_int_eq(EVP_EncryptUpdate(c, ref + off, &n, ref + off,
						   (int)ss), 1);
		ck_assert_int_eq(n, (int)ss);
	}
	ck_assert_mem_eq(ours, ref, len);

	/* and the EVP path agrees, both ways */
	xts_free(x);
	ck_assert_int_eq(xts_new(&x, XTS_AES256, key, ss), 0);
	ck_assert_int_eq(xts_decrypt(x, base, ref, len), 0);
	ck_assert_int_eq(xts_encrypt(x, base, ref, len), 0);
	ck_assert_mem_eq(ours, ref, len);
	EVP_CIPHER_CTX_free(c);
	xts_free(x);
}
END_TEST

START_TEST(test_camellia)
{
	uint8_t plain[8192], a[8192], b[8192];
	struct xts_ctx *cam = NULL, *aes = NULL, *dup = NULL;

	randombytes_buf(plain, sizeof(plain));
	memcpy(a, plain, sizeof(a));
	memcpy(b, plain, sizeof(b));
	ck_assert_int_eq(xts_new(&cam, XTS_CAMELLIA256, key, 4096), 0);
	ck_assert_int_eq(xts_new(&aes, XTS_AES256, key, 4096), 0);
	ck_assert_int_eq(xts_encrypt(cam, 7, a, sizeof(a)), 0);
	ck_assert_int_eq(xts_encrypt(aes, 7, b, sizeof(b)), 0);
	ck_assert(memcmp(a, plain, sizeof(a)) != 0);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);	/* differs from AES */
	/* the same plaintext in two sectors encrypts differently */
	memcpy(b, plain, 4096);
	memcpy(b + 4096, plain, 4096);
	ck_assert_int_eq(xts_encrypt(cam, 7, b, sizeof(b)), 0);
	ck_assert(memcmp(b, b + 4096, 4096) != 0);
	/* a duplicate context gives the same answer and round-trips */
	ck_assert_int_eq(xts_dup(&dup, cam), 0);
	ck_assert_int_eq(xts_decrypt(dup, 7, a, sizeof(a)), 0);
	ck_assert_mem_eq(a, plain, sizeof(a));
	xts_free(cam);
	xts_free(aes);
	xts_free(dup);
}
END_TEST

START_TEST(test_refusals)
{
	struct secbuf *eq = secbuf_new(XTS_KEYBYTES), *shortk = secbuf_new(32);
	struct xts_ctx *x = NULL;
	uint8_t buf[4096 + 16];

	memset(secbuf_data(eq), 0x5a, XTS_KEYBYTES);	/* equal halves */
	ck_assert_int_eq(xts_new(&x, XTS_AES256, eq, 4096), -EINVAL);
	ck_assert_int_eq(xts_new(&x, XTS_CAMELLIA256, eq, 4096), -EINVAL);
	ck_assert_int_eq(xts_new(&x, XTS_AES256, shortk, 4096), -EINVAL);
	ck_assert_int_eq(xts_new(&x, XTS_AES256, key, 1024), -EINVAL);
	ck_assert_int_eq(xts_new(&x, (enum xts_cipher)9, key, 512), -EINVAL);
	ck_assert_ptr_null(x);
	ck_assert_int_eq(xts_new(&x, XTS_AES256, key, 4096), 0);
	ck_assert_int_eq(xts_encrypt(x, 0, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(xts_sector_size(x), 4096);
	xts_free(x);
	xts_free(NULL);
	secbuf_free(eq);
	secbuf_free(shortk);
}
END_TEST

Suite *suite_xts(void)
{
	Suite *s = suite_create("xts");
	TCase *kat = tcase_create("ieee1619");
	TCase *tc = tcase_create("openssl");

	tcase_add_loop_test(kat, test_ieee1619_v10, 0, 2);
	suite_add_tcase(s, kat);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_generic_matches_openssl, 0, 64);
	tcase_add_test(tc, test_camellia);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);
	return s;
}
