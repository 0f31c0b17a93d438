/*
 * vhd.c - fixed-VHD footer: build, parse, checksum
 */
#include <errno.h>
#include <string.h>

#include "disk/vhd.h"

#define VHD_EPOCH	946684800	/* 2000-01-01T00:00:00Z */

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void be64(uint8_t *p, uint64_t v)
{
	be32(p, (uint32_t)(v >> 32));
	be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static uint32_t sum_bytes(const uint8_t *p)
{
	uint32_t s = 0;

	for (int i = 0; i < VHD_FOOTER_BYTES; i++)
		if (i < 64 || i >= 68)		/* the checksum field */
			s += p[i];
	return ~s;
}

void vhd_chs(uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt)
{
	uint64_t ts = size / 512, cth;
	uint32_t h, s;

	if (ts > 65535ull * 16 * 255)
		ts = 65535ull * 16 * 255;
	if (ts >= 65535ull * 16 * 63) {
		s = 255;
		h = 16;
		cth = ts / s;
	} else {
		s = 17;
		cth = ts / s;
		h = (uint32_t)((cth + 1023) / 1024);
		if (h < 4)
			h = 4;
		if (cth >= h * 1024ull || h > 16) {
			s = 31;
			h = 16;
			cth = ts / s;
		}
		if (cth >= h * 1024ull) {
			s = 63;
			h = 16;
			cth = ts / s;
		}
	}
	*cyl = (uint16_t)(cth / h);
	*heads = (uint8_t)h;
	*spt = (uint8_t)s;
}

void vhd_footer_build(uint8_t f[VHD_FOOTER_BYTES], uint64_t size,
		      const uint8_t uuid[16], int64_t unix_time)
{
	uint16_t cyl;
	uint8_t heads, spt;

	memset(f, 0, VHD_FOOTER_BYTES);
	memcpy(f, "conectix", 8);
	be32(f + 8, 2);				/* features: reserved bit */
	be32(f + 12, 0x00010000);		/* format version 1.0 */
	be64(f + 16, UINT64_MAX);		/* data offset: fixed disk */
	be32(f + 24, (uint32_t)(unix_time > VHD_EPOCH ?
				unix_time - VHD_EPOCH : 0));
	memcpy(f + 28, "win ", 4);
	be32(f + 32, 0x000a0000);		/* creator version 10.0 */
	memcpy(f + 36, "Wi2k", 4);
	be64(f + 40, size);
	be64(f + 48, size);
	vhd_chs(size, &cyl, &heads, &spt);
	be16(f + 56, cyl);
	f[58] = heads;
	f[59] = spt;
	be32(f + 60, VHD_TYPE_FIXED);
	memcpy(f + 68, uuid, 16);
	be32(f + 64, sum_bytes(f));
}

void vhd_footer_set_uuid(uint8_t f[VHD_FOOTER_BYTES], const uint8_t uuid[16])
{
	memcpy(f + 68, uuid, 16);
	be32(f + 64, sum_bytes(f));
}

int vhd_footer_parse(const uint8_t f[VHD_FOOTER_BYTES], struct vhd_info *vi)
{
	if (memcmp(f, "conectix", 8))
		return -EINVAL;
	if (get_be32(f + 64) != sum_bytes(f))
		return -EBADMSG;
	vi->size = get_be64(f + 48);
	vi->type = get_be32(f + 60);
	memcpy(vi->uuid, f + 68, 16);
	return 0;
}
