/*
 * vhd.h - the 512-byte footer of a fixed-format VHD
 *
 * Big-endian fields: cookie "conectix", features 2, version 1.0, data offset
 * all ones (fixed), timestamp (seconds since 2000-01-01 UTC), creator "win "
 * (so that qemu takes the size from current_size, not CHS), creator OS
 * "Wi2k", original and current size, CHS geometry (the VHD specification's
 * algorithm), disk type 2, checksum (ones' complement of the byte sum with
 * the field zeroed), UUID, saved state 0.
 */
#ifndef SSEFS_DISK_VHD_H
#define SSEFS_DISK_VHD_H

#include <stdint.h>

#define VHD_FOOTER_BYTES	512
#define VHD_TYPE_FIXED		2
#define VHD_TYPE_DYNAMIC	3
#define VHD_TYPE_DIFFERENCING	4

struct vhd_info {
	uint64_t size;		/* current size: the disk's bytes */
	uint32_t type;		/* VHD_TYPE_* */
	uint8_t uuid[16];
};

/* Build a fixed-VHD footer for a disk of @size bytes. */
void vhd_footer_build(uint8_t out[VHD_FOOTER_BYTES], uint64_t size,
		      const uint8_t uuid[16], int64_t unix_time);

/* Give the footer @f the unique id @uuid (and its checksum again). */
void vhd_footer_set_uuid(uint8_t f[VHD_FOOTER_BYTES], const uint8_t uuid[16]);

/* Parse a footer.  Return: 0, -EINVAL (no cookie: not a VHD footer),
 * -EBADMSG (cookie, but a bad checksum). */
int vhd_footer_parse(const uint8_t in[VHD_FOOTER_BYTES], struct vhd_info *vi)
	__attribute__((warn_unused_result));

/* The VHD specification's CHS for @size bytes. */
void vhd_chs(uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt);

#endif /* SSEFS_DISK_VHD_H */
