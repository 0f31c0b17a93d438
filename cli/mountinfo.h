/*
 * mountinfo.h - is a path an ssefs mount, is a store mounted: answers from
 * /proc/self/mountinfo, for the commands that race with a daemon that is
 * still starting (ssefs status right after ssefs mount) or still stopping
 * (ssefs mount right after umount)
 */
#ifndef SSEFS_CLI_MOUNTINFO_H
#define SSEFS_CLI_MOUNTINFO_H

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

#endif /* SSEFS_CLI_MOUNTINFO_H */
