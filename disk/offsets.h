/*
 * offsets.h - where plaintext bytes live in a backing file
 *
 * Sector i of the plaintext (i counted in sector-size units from 0) is
 * stored at ENV_DATA_OFFSET + i * sector_size and its XTS tweak is i.  A
 * backing file for a plaintext of P bytes is ENV_DATA_OFFSET +
 * ceil(P / sector_size) * sector_size long.  Pure arithmetic, tested at the
 * edges in tests/unit/check_volume.c.
 */
#ifndef SSEFS_DISK_OFFSETS_H
#define SSEFS_DISK_OFFSETS_H

#include <stdint.h>

#include "crypto/envelope.h"

/* The largest plaintext: 2^60 bytes (1 EiB), far from any overflow. */
#define VOL_MAX_SIZE	(UINT64_C(1) << 60)

static inline uint64_t off_backing(uint64_t sector, uint32_t ss)
{
	return ENV_DATA_OFFSET + sector * ss;
}

static inline uint64_t off_sectors(uint64_t plain_size, uint32_t ss)
{
	return (plain_size + ss - 1) / ss;
}

static inline uint64_t off_backing_len(uint64_t plain_size, uint32_t ss)
{
	return ENV_DATA_OFFSET + off_sectors(plain_size, ss) * ss;
}

#endif /* SSEFS_DISK_OFFSETS_H */
