/*
 * loopdev.h - loop devices over a file, through the kernel's loop ioctls
 *
 * What `ssefs disk attach` makes and `detach` undoes, and what `ssefs
 * status` looks up: which loop device has which backing file (from
 * /sys/block/loopN/loop/backing_file, the path the kernel resolved).
 * All functions return 0 or a negative errno and never print.
 */
#ifndef SSEFS_UTIL_LOOPDEV_H
#define SSEFS_UTIL_LOOPDEV_H

#include <stddef.h>
#include <stdint.h>

enum loopdev_flags {
	LOOPDEV_RDONLY = (1 << 0),	/* the block device is read-only */
	LOOPDEV_PARTSCAN = (1 << 1),	/* partitions appear as loopNpM */
};

struct loopdev_info {
	int nr;			/* N of /dev/loopN */
	int rdonly;
	int direct_io;		/* the kernel kept LO_FLAGS_DIRECT_IO */
	unsigned int sector_size;
	uint64_t size;		/* bytes the block device shows */
};

/*
 * loopdev_attach() - a free loop device over the open file @fd: offset 0,
 * @sizelimit bytes, logical blocks of @sector_size, direct I/O asked for,
 * no autoclear (it stays until loopdev_detach()).  On success *@nr is N
 * of /dev/loopN.  A device taken by someone else between the look-up and
 * the set-up is passed over.
 * Return: 0, -EACCES (no right to /dev/loop-control), -EINVAL (the kernel
 * refused the sector size), or another -errno.
 */
int loopdev_attach(int fd, const char *name, uint64_t sizelimit,
		   unsigned int sector_size, unsigned int flags, int *nr)
	__attribute__((warn_unused_result));

/*
 * loopdev_detach() - undo loopdev_attach() for /dev/loopN.  The device is
 * opened exclusively first, so one that is mounted or held open gives
 * -EBUSY and is left as it is (the kernel would otherwise only mark it to
 * go at its last close).  Return: 0, -EBUSY, -ENXIO (not attached).
 */
int loopdev_detach(int nr);

/*
 * loopdev_drop_cache() - write back and drop the page cache of /dev/loopN
 * itself (BLKFLSBUF; needs CAP_SYS_ADMIN): what a buffered reader of the
 * block device left there.  Pages a mounted file system holds stay.
 * Return: 0 or -errno.
 */
int loopdev_drop_cache(int nr);

/* loopdev_get() - what /dev/loopN is now.  Return: 0, -ENXIO (free). */
int loopdev_get(int nr, struct loopdev_info *info);

/*
 * loopdev_backing() - the path of /dev/loopN's backing file as the kernel
 * gives it (the sysfs attribute).  Return: 0, -ENXIO (free or no such
 * device), -ENAMETOOLONG.
 */
int loopdev_backing(int nr, char *path, size_t len);

/*
 * loopdev_each() - call @fn for each attached loop device with its backing
 * file; a non-zero return from @fn stops the walk and is returned.
 */
int loopdev_each(int (*fn)(int nr, const char *backing, void *arg),
		 void *arg);

/*
 * loopdev_parse() - N from "/dev/loopN" or "loopN" (a partition, loopNpM,
 * is not one).  Return: 0 or -EINVAL.
 */
int loopdev_parse(const char *s, int *nr);

#endif /* SSEFS_UTIL_LOOPDEV_H */
