/*
 * newdisk.h - disks created through the mount (`cp x.vhd MNT/`)
 */
#ifndef SSEFS_FUSE_NEWDISK_H
#define SSEFS_FUSE_NEWDISK_H

#include <stdint.h>
#include <sys/types.h>

struct ssefs_fs;

/*
 * newdisk_create() - create an empty disk (plaintext size 0) at @rel in the
 * store, under the mount's default (-o des=, -o key=, else the platform
 * key), owned by @uid/@gid when the daemon runs as root, and enter it in
 * the vault's registry.  Refuses an existing file (-EEXIST).
 * Return: 0 or -errno (the vault's errors for an unusable key).
 */
int newdisk_create(struct ssefs_fs *fs, const char *rel, mode_t mode,
		   uid_t uid, gid_t gid);

#endif /* SSEFS_FUSE_NEWDISK_H */
