/*
 * check_secmem.c - secure buffers and DEK generation
 */
#include <errno.h>
#include <string.h>

#include <check.h>

#include "crypto/rng.h"
#include "crypto/secmem.h"

Suite *suite_secmem(void);

START_TEST(test_secbuf)
{
	static const uint8_t data[5] = { 1, 2, 3, 4, 5 };
	struct secbuf *a = secbuf_new(5), *b, *c;

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(secbuf_len(a), 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_uint_eq(secbuf_data(a)[i], 0);
	b = secbuf_from(data, sizeof(data));
	ck_assert_ptr_nonnull(b);
	ck_assert_mem_eq(secbuf_data(b), data, sizeof(data));
	ck_assert_int_eq(secbuf_eq(a, b), 0);
	memcpy(secbuf_data(a), data, sizeof(data));
	ck_assert_int_eq(secbuf_eq(a, b), 1);
	c = secbuf_from(data, 4);
	ck_assert_int_eq(secbuf_eq(a, c), 0);
	secbuf_free(a);
	secbuf_free(b);
	secbuf_free(c);
	secbuf_free(NULL);
}
END_TEST

START_TEST(test_rng_dek)
{
	struct secbuf *d = secbuf_new(RNG_DEKBYTES), *e = secbuf_new(RNG_DEKBYTES);
	struct secbuf *bad = secbuf_new(32);

	ck_assert_int_eq(rng_dek(d), 0);
	ck_assert_int_eq(rng_dek(e), 0);
	ck_assert_int_ne(memcmp(secbuf_data(d), secbuf_data(d) + 32, 32), 0);
	ck_assert_int_eq(secbuf_eq(d, e), 0);
	ck_assert_int_eq(rng_dek(bad), -EINVAL);
	secbuf_free(d);
	secbuf_free(e);
	secbuf_free(bad);
}
END_TEST

Suite *suite_secmem(void)
{
	Suite *s = suite_create("secmem");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_secbuf);
	tcase_add_test(tc, test_rng_dek);
	suite_add_tcase(s, tc);
	return s;
}
