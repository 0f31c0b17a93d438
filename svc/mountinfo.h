/*
 * mountinfo.h - is a path an ssefs mount, is a store mounted: answers from
 * /proc/self/mountinfo, for the commands that race with a daemon that is
 * still starting (ssefs status right after ssefs mount) or still stopping
 * (ssefs mount right after umount)
 */
#ifndef SSEFS_CLI_MOUNTINFO_H
#define SSEFS_CLI_MOUNTINFO_H

#include <stddef.h>
#include <sys/types.h>

/* One line of /proc/self/mountinfo, unescaped; valid during the call. */
struct mi_entry {
	unsigned int major, minor;	/* st_dev of what is mounted */
	const char *point, *type, *source;
};

/*
 * mi_each() - call @fn for each mount; a non-zero return stops the walk
 * and is returned (0 also when /proc/self/mountinfo cannot be read).
 */
int mi_each(int (*fn)(const struct mi_entry *e, void *arg), void *arg);

/*
 * mi_ssefs_at() - 1 when a file system of type fuse.ssefs is mounted on
 * @mnt_real (a real path, as realpath() gives it), 0 when not or when
 * /proc/self/mountinfo cannot be read.
 */
int mi_ssefs_at(const char *mnt_real);

/*
 * mi_store_mounted() - 1 when a fuse.ssefs mount has the store @store_real
 * (a real path) as its source, 0 otherwise.
 */
int mi_store_mounted(const char *store_real);

/*
 * mi_ssefs_dev() - 1 when a fuse.ssefs mount has the device number @dev
 * (st_dev of a file inside it), its mount point then copied to @mnt.
 */
int mi_ssefs_dev(dev_t dev, char *mnt, size_t len);

/*
 * mi_ssefs_devnum() - 1 when a fuse.ssefs mount is on @mnt_real, its
 * device number (MAJ:MIN, as /sys/class/bdi/ names its bdi) then set.
 */
int mi_ssefs_devnum(const char *mnt_real, unsigned int *maj,
		    unsigned int *min);

#endif /* SSEFS_CLI_MOUNTINFO_H */
