/*
 * tempdisk.h - the temp disk: temp.vhd at the root of a mount, kept in the
 * host cache directory, discarded at unmount (-o temp_disk=SIZE)
 *
 * A temp disk is a fixed VHD (SIZE bytes of data, then the 512-byte
 * footer), thin and all zeros but the footer when it is made.  Its backing
 * file lives in the host cache directory DIR, mode 0600:
 *
 *   - encryption at host on: DIR/temp-disk.ssefs, an ssefs envelope disk
 *     (AES-256-XTS) whose DEK is wrapped (RFC 5649, A256KWP) under an
 *     ephemeral platform key: 32 random bytes in a struct secbuf that exist
 *     only in the daemon's memory for the life of the mount.  The header's
 *     kid is "ephemeral://temp-disk/ID" (ID: 32 random hex digits, a new one
 *     per mount); no vault knows it, so no other process can open the file.
 *   - encryption at host off: DIR/temp-disk.vhd, the plaintext .vhd itself.
 *
 * Either way its I/O goes through an ordinary struct volume of fixed size
 * whose flush syncs nothing (VOL_FIXED_SIZE, VOL_SCRATCH): an envelope
 * volume, or a raw one (vol_open_raw()).
 *
 * The backing file is removed at unmount and, after a crash, by the next
 * mount of any store with the same DIR (tempdisk_remove_leftovers()).  In
 * the mount's table of disks it is a node with properties (fuse/fs.h):
 * NODE_PINNED (its name, mode and owner are fixed), NODE_NO_VAULT (it has
 * no vault key: revocation and the vault's registry skip it; rotation
 * walks the store, where it is not) and NODE_OUTSIDE (its file is in DIR).
 *
 * Library code: returns 0 or a negative errno and never prints, except
 * the task functions at the bottom, which log.
 */
#ifndef SSEFS_FUSE_TEMPDISK_H
#define SSEFS_FUSE_TEMPDISK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct disk_node;
struct ssefs_fs;
struct tempdisk;
struct volume;

#define TEMPDISK_NAME		"temp.vhd"	/* in the mount's root */
#define TEMPDISK_SECTOR		4096		/* its sector size */
#define TEMPDISK_FILE_ENC	"temp-disk.ssefs"	/* in DIR: encrypted */
#define TEMPDISK_FILE_PLAIN	"temp-disk.vhd"	/* in DIR: plaintext */
#define TEMPDISK_KID_PREFIX	"ephemeral://temp-disk/"
#define TEMPDISK_KEYBYTES	32		/* the ephemeral AES-256 key */

/*
 * tempdisk_remove_leftovers() - remove the backing files a crashed mount
 * left in the directory @dirfd.  Return: 0 or -errno (of an unlink that
 * failed for another reason than ENOENT).
 */
int tempdisk_remove_leftovers(int dirfd);

/*
 * tempdisk_create() - make a fresh temp disk of @size data bytes (a whole
 * number of MiB, > 0) in the directory @dirfd (whose path is @dirpath, for
 * tempdisk_path()), encrypted under a new ephemeral key when @encrypt.  The
 * backing file must not exist.  On failure nothing is left behind and *@out
 * is untouched.  Return: 0; -EINVAL; -EEXIST; -ENOMEM; -errno.
 */
int tempdisk_create(struct tempdisk **out, int dirfd, const char *dirpath,
		    uint64_t size, int encrypt)
	__attribute__((warn_unused_result));

/*
 * tempdisk_destroy() - remove the backing file (first, so that nothing is
 * left even if the rest fails), drop its blocks, close the volume, and
 * wipe the DEK and the ephemeral key.  NULL is a no-op.  Not while its
 * node is in a mount's table (tempdisk_stop() takes it out first).
 */
void tempdisk_destroy(struct tempdisk *t);

/*
 * The temp disk's volume (VOL_FIXED_SIZE, VOL_SCRATCH): all I/O goes
 * through it, from many threads at once if need be.  It stays the temp
 * disk's.
 */
struct volume *tempdisk_volume(struct tempdisk *t);

/* The .vhd length, footer included (the data size + 512). */
uint64_t tempdisk_size(const struct tempdisk *t);
/* 1 when encrypted under the ephemeral key, 0 when plaintext. */
int tempdisk_encrypted(const struct tempdisk *t);
/* The backing file's full path. */
const char *tempdisk_path(const struct tempdisk *t);
/* The kid in the backing file's header, or NULL when plaintext. */
const char *tempdisk_kid(const struct tempdisk *t);
/*
 * tempdisk_node() - its node in the mount's table (ssefs_fs_add_node()),
 * NULL before tempdisk_start() put it there.  refs and the byte counters
 * count as for any disk.
 */
struct disk_node *tempdisk_node(struct tempdisk *t);
/* The bytes the backing file takes on the host (0 if fstat fails). */
uint64_t tempdisk_allocated(struct tempdisk *t);

/*
 * The mount's task (fuse/tasks.c): start removes leftovers in the host
 * cache directory and, with -o temp_disk, makes the temp disk (fs->temp)
 * and adds its node to the mount's table; stop takes the node out and
 * destroys the disk.  Without a host cache directory both do nothing.
 */
int tempdisk_start(struct ssefs_fs *fs);
void tempdisk_stop(struct ssefs_fs *fs);

#endif /* SSEFS_FUSE_TEMPDISK_H */
