/*
 * check_hkdf.c - RFC 5869 test cases 1-3 (HKDF-SHA256)
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "crypto/hkdf.h"

Suite *suite_hkdf(void);

static void unhex(uint8_t *out, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void range(uint8_t *p, unsigned int from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(from + i);
}

START_TEST(test_case1)
{
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	range(salt, 0, sizeof(salt));
	range(info, 0xf0, sizeof(info));
	unhex(want, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
		    "2d56ecc4c5bf34007208d5b887185865", sizeof(want));
	ck_assert_int_eq(hkdf_sha256(okm, sizeof(okm), ikm, sizeof(ikm), salt,
				     sizeof(salt), info, sizeof(info)), 0);
	ck_assert_mem_eq(okm, want, sizeof(want));
}
END_TEST

START_TEST(test_case2)
{
	uint8_t ikm[80], salt[80], info[80], okm[82], want[82];

	range(ikm, 0, sizeof(ikm));
	range(salt, 0x60, sizeof(salt));
	range(info, 0xb0, sizeof(info));
	unhex(want, "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050"
		    "cc4c19afa97c59045a99cac7827271cb41c65e590e09da327560"
		    "0c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3"
		    "434f1d87", sizeof(want));
	ck_assert_int_eq(hkdf_sha256(okm, sizeof(okm), ikm, sizeof(ikm), salt,
				     sizeof(salt), info, sizeof(info)), 0);
	ck_assert_mem_eq(okm, want, sizeof(want));
}
END_TEST

START_TEST(test_case3)
{
	uint8_t ikm[22], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	unhex(want, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec345"
		    "4e5f3c738d2d9d201395faa4b61a96c8", sizeof(want));
	ck_assert_int_eq(hkdf_sha256(okm, sizeof(okm), ikm, sizeof(ikm), NULL,
				     0, NULL, 0), 0);
	ck_assert_mem_eq(okm, want, sizeof(want));
}
END_TEST

Suite *suite_hkdf(void)
{
	Suite *s = suite_create("hkdf");
	TCase *tc = tcase_create("rfc5869");

	tcase_add_test(tc, test_case1);
	tcase_add_test(tc, test_case2);
	tcase_add_test(tc, test_case3);
	suite_add_tcase(s, tc);
	return s;
}
