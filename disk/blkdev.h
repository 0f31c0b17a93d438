/*
 * blkdev.h - a sector block device: one layer of an open disk's stack
 *
 * An open disk (disk/volume.c) is a stack of devices, built at open but
 * for the host cache, which the caller pushes right after
 * (vol_push_layer()):
 *
 *	volume                 byte I/O, read-modify-write, stripes, header
 *	[host cache, plain]    cache/hcdev.c, encryption at host off
 *	cipher                 disk/cipherdev.c: one or two XTS layers, keys
 *	[host cache, cipher]   cache/hcdev.c, encryption at host on
 *	store                  disk/storedev.c: the data region of a backing
 *
 * Every device serves sectors of its own size (ss: 512 or 4096) numbered
 * from 0, and has a lower device (but the store device, at the bottom).
 * Sector numbers, counts and buffers are whole sectors; all calls return
 * 0 or a negative errno.  Sectors never written, discarded, or past the
 * end read as zeros.
 *
 * Concurrency: reads run concurrently with each other and with writes;
 * writes and discards of one sector are serialised by the caller (the
 * volume's stripe locks, vol_lock_sectors()), and so is a resize against
 * every other call.  flush may run concurrently with reads and writes.
 */
#ifndef SSEFS_DISK_BLKDEV_H
#define SSEFS_DISK_BLKDEV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct backing;
struct blkdev;
struct secbuf;

struct blkdev_ops {
	/* @n sectors from @sector into @buf */
	int (*read)(struct blkdev *d, uint64_t sector, void *buf, size_t n);
	/* @n sectors from @buf (not changed) to @sector */
	int (*write)(struct blkdev *d, uint64_t sector, const void *buf,
		     size_t n);
	/* forget @n sectors from @sector: they read as zeros */
	int (*discard)(struct blkdev *d, uint64_t sector, uint64_t n);
	/* everything written before is durable when it returns 0 */
	int (*flush)(struct blkdev *d);
	/* the device's length in sectors; sectors past it are cut off */
	int (*size)(struct blkdev *d, uint64_t *nsec);
	int (*resize)(struct blkdev *d, uint64_t nsec);
	/*
	 * Optional: the key of the host cache's table entries (HKDF of the
	 * outer DEK; NULL wipes it), handed down the stack by the volume
	 * from cipherdev_cache_key().  No device can decrypt with it.
	 */
	int (*set_cache_key)(struct blkdev *d, const struct secbuf *key);
	/*
	 * Optional: does this device acknowledge writes before the device
	 * below has them (a ReadWrite host cache, crash-safe on its own)?
	 * 1, with the sectors not yet written back in *@dirty; 0 if not.
	 */
	int (*write_back)(struct blkdev *d, uint64_t *dirty);
	/*
	 * Close this device and those below it.  @clean: the last flush
	 * succeeded (a cache keeps its clean sectors only then).
	 */
	void (*close)(struct blkdev *d, int clean);
};

struct blkdev {
	const struct blkdev_ops *ops;
	struct blkdev *lower;		/* NULL at the bottom */
	uint32_t ss;			/* sector size */
};

/* Is the sector at @p (any alignment) all zeros?  (A hole, read as is.) */
static inline int blk_is_zero(const uint8_t *p, size_t ss)
{
	uint64_t acc = 0, w;

	for (size_t i = 0; i + sizeof(w) <= ss; i += sizeof(w)) {
		memcpy(&w, p + i, sizeof(w));
		acc |= w;
	}
	return acc == 0;
}

/* Hand @key to every device of the stack from @top down that takes one.
 * Return: the first error, or 0. */
static inline int blk_set_cache_key(struct blkdev *top,
				    const struct secbuf *key)
{
	int r = 0, r2;

	for (struct blkdev *d = top; d; d = d->lower) {
		if (!d->ops->set_cache_key)
			continue;
		r2 = d->ops->set_cache_key(d, key);
		if (r == 0)
			r = r2;
	}
	return r;
}

/* The store device: the data region of @b (sector i at @data_off + i *
 * @ss: ENV_DATA_OFFSET under an envelope header, 0 for a raw volume),
 * which stays the caller's.  Return: 0 or -ENOMEM. */
int storedev_new(struct blkdev **out, struct backing *b, uint32_t ss,
		 uint64_t data_off);

#endif /* SSEFS_DISK_BLKDEV_H */
