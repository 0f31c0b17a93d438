/*
 * check_vhd.c - the fixed-VHD footer: layout, checksum, CHS geometry
 */
#include <errno.h>
#include <string.h>

#include <check.h>

#include "disk/vhd.h"

Suite *suite_vhd(void);

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

START_TEST(test_footer_fields)
{
	static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					  11, 12, 13, 14, 15, 16 };
	uint8_t f[VHD_FOOTER_BYTES];
	struct vhd_info vi;
	uint32_t sum = 0;

	/* 2000-01-02T00:00:00Z: one day after the VHD epoch */
	vhd_footer_build(f, 64u << 20, uuid, 946684800 + 86400);
	ck_assert_int_eq(memcmp(f, "conectix", 8), 0);
	ck_assert_uint_eq(be32(f + 8), 2);		/* features */
	ck_assert_uint_eq(be32(f + 12), 0x00010000);	/* version */
	ck_assert_uint_eq(be32(f + 16), 0xffffffff);	/* data offset */
	ck_assert_uint_eq(be32(f + 20), 0xffffffff);
	ck_assert_uint_eq(be32(f + 24), 86400);		/* timestamp */
	ck_assert_int_eq(memcmp(f + 28, "win ", 4), 0);
	ck_assert_uint_eq(be32(f + 44), 64u << 20);	/* original size */
	ck_assert_uint_eq(be32(f + 52), 64u << 20);	/* current size */
	ck_assert_uint_eq(be32(f + 60), VHD_TYPE_FIXED);
	ck_assert_int_eq(memcmp(f + 68, uuid, 16), 0);
	ck_assert_uint_eq(f[84], 0);			/* saved state */
	/* checksum: ones' complement of the sum of all other bytes */
	for (int i = 0; i < VHD_FOOTER_BYTES; i++)
		if (i < 64 || i >= 68)
			sum += f[i];
	ck_assert_uint_eq(be32(f + 64), ~sum);
	ck_assert_int_eq(vhd_footer_parse(f, &vi), 0);
	ck_assert_uint_eq(vi.size, 64u << 20);
	ck_assert_uint_eq(vi.type, VHD_TYPE_FIXED);
	ck_assert_int_eq(memcmp(vi.uuid, uuid, 16), 0);
}
END_TEST

START_TEST(test_footer_corruption)
{
	static const uint8_t uuid[16];
	uint8_t f[VHD_FOOTER_BYTES];
	struct vhd_info vi;

	vhd_footer_build(f, 1u << 30, uuid, 1700000000);
	/* every single-byte change of the checksummed bytes is caught */
	for (int i = 8; i < VHD_FOOTER_BYTES; i++) {
		f[i] ^= 0x01;
		ck_assert_msg(vhd_footer_parse(f, &vi) == -EBADMSG,
			      "byte %d", i);
		f[i] ^= 0x01;
	}
	f[0] = 'C';
	ck_assert_int_eq(vhd_footer_parse(f, &vi), -EINVAL);
}
END_TEST

START_TEST(test_chs)
{
	uint16_t c;
	uint8_t h, s;

	/* qemu-img create -f vpc -o subformat=fixed 64M: 964/8/17 for its
	 * rounded 67125248 bytes (FACTS.md) */
	vhd_chs(67125248, &c, &h, &s);
	ck_assert_uint_eq(c, 964);
	ck_assert_uint_eq(h, 8);
	ck_assert_uint_eq(s, 17);
	/* the largest geometry caps at 65535/16/255 */
	vhd_chs(UINT64_C(1) << 40, &c, &h, &s);
	ck_assert_uint_eq(c, 65535);
	ck_assert_uint_eq(h, 16);
	ck_assert_uint_eq(s, 255);
	/* tiny: at least 4 heads of 17 sectors */
	vhd_chs(1u << 20, &c, &h, &s);
	ck_assert_uint_eq(h, 4);
	ck_assert_uint_eq(s, 17);
	ck_assert_uint_eq(c, 2048 / 17 / 4);
}
END_TEST

Suite *suite_vhd(void)
{
	Suite *s = suite_create("vhd");
	TCase *tc = tcase_create("footer");

	tcase_add_test(tc, test_footer_fields);
	tcase_add_test(tc, test_footer_corruption);
	tcase_add_test(tc, test_chs);
	suite_add_tcase(s, tc);
	return s;
}
