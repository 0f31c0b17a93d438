/*
 * check_hkdf.c - RFC 5869 appendix A, test cases 1-3 (SHA-256)
 */
#include <errno.h>
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "crypto/hkdf.h"

Suite *suite_hkdf(void);

static const struct {
	const char *ikm, *salt, *info, *okm;
} cases[] = {
	{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	  "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
	  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	  "34007208d5b887185865" },
	{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	  "404142434445464748494a4b4c4d4e4f",
	  "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	  "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	  "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
	  "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
	  "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
	  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	  "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	  "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	  "cc30c58179ec3e87c14c01d5c1f3434f1d87" },
	{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
	  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	  "9d201395faa4b61a96c8" },
};

static size_t unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t n = 0;

	ck_assert_int_eq(sodium_hex2bin(out, max, hex, strlen(hex), NULL, &n,
					NULL), 0);
	return n;
}

START_TEST(test_rfc5869)
{
	uint8_t ikm[80], salt[80], info[80], want[82], got[82];
	size_t ni = unhex(ikm, sizeof(ikm), cases[_i].ikm);
	size_t ns = unhex(salt, sizeof(salt), cases[_i].salt);
	size_t nf = unhex(info, sizeof(info), cases[_i].info);
	size_t no = unhex(want, sizeof(want), cases[_i].okm);

	ck_assert_int_eq(hkdf_sha256(got, no, ikm, ni, ns ? salt : NULL, ns,
				     nf ? info : NULL, nf), 0);
	ck_assert_mem_eq(got, want, no);
}
END_TEST

START_TEST(test_bad_args)
{
	uint8_t out[32], ikm[32] = { 1 };

	ck_assert_int_eq(hkdf_sha256(out, 0, ikm, 32, NULL, 0, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(hkdf_sha256(out, 32, ikm, 0, NULL, 0, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(hkdf_sha256(out, 255 * 32 + 1, ikm, 32, NULL, 0,
				     NULL, 0), -EINVAL);
}
END_TEST

Suite *suite_hkdf(void)
{
	Suite *s = suite_create("hkdf");
	TCase *tc = tcase_create("rfc5869");

	tcase_add_loop_test(tc, test_rfc5869, 0, 3);
	tcase_add_test(tc, test_bad_args);
	suite_add_tcase(s, tc);
	return s;
}
