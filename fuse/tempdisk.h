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
 * The backing file is removed at unmount and, after a crash, by the next
 * mount of any store with the same DIR (tempdisk_remove_leftovers()).  The
 * temp disk has no vault key: it is not in the mount's table of disks, so
 * rotation, revocation and the vault's registry never see it.
 *
 * The I/O functions are safe to call from many threads at once.  Library
 * code: returns 0 or a negative errno and never prints, except the task
 * functions at the bottom, which log.
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
 * left even if the rest fails), drop its blocks, close, and wipe the DEK
 * and the ephemeral key.  NULL is a no-op.
 */
void tempdisk_destroy(struct tempdisk *t);

/* Reads stop at the end of the .vhd.  Return: bytes read or -errno. */
ssize_t tempdisk_read(struct tempdisk *t, void *buf, size_t len,
		      uint64_t off);
/*
 * Writes never grow the disk: a write that starts at or past the end fails
 * with -ENOSPC, one that crosses it is cut short.  Return: bytes written or
 * -errno.
 */
ssize_t tempdisk_write(struct tempdisk *t, const void *buf, size_t len,
		       uint64_t off);
/*
 * fallocate(2) on the temp disk: PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE free
 * the blocks (they read as zeros); plain allocation within the size is a
 * no-op.  Anything that would change the size: -EPERM.
 */
int tempdisk_fallocate(struct tempdisk *t, int mode, uint64_t off,
		       uint64_t len);

/* The .vhd length, footer included (the data size + 512). */
uint64_t tempdisk_size(const struct tempdisk *t);
/* 1 when encrypted under the ephemeral key, 0 when plaintext. */
int tempdisk_encrypted(const struct tempdisk *t);
/* The backing file's full path. */
const char *tempdisk_path(const struct tempdisk *t);
/* The kid in the backing file's header, or NULL when plaintext. */
const char *tempdisk_kid(const struct tempdisk *t);
/*
 * tempdisk_node() - the node the mount hands out in fi->fh for temp.vhd.
 * It is not in the mount's table of disks; node->temp is @t and node->vol
 * stays NULL (all I/O goes through tempdisk_*); refs and the byte counters
 * count as for any disk.
 */
struct disk_node *tempdisk_node(struct tempdisk *t);
/*
 * tempdisk_stat() - what the mount shows: a regular file of mode 0600
 * owned by @uid:@gid, of tempdisk_size() bytes, with the backing file's
 * times and allocated blocks.  Return: 0 or -errno.
 */
int tempdisk_stat(struct tempdisk *t, uid_t uid, gid_t gid, struct stat *st);
/* Set the times (utimensat(2) semantics) on the backing file. */
int tempdisk_utimens(struct tempdisk *t, const struct timespec tv[2]);

/*
 * The mount's task (fuse/tasks.c): start removes leftovers in the host
 * cache directory and, with -o temp_disk, makes the temp disk (fs->temp);
 * stop destroys it.  Without a host cache directory both do nothing.
 */
int tempdisk_start(struct ssefs_fs *fs);
void tempdisk_stop(struct ssefs_fs *fs);

#endif /* SSEFS_FUSE_TEMPDISK_H */
