/*
 * volume.h - an open encrypted disk: plaintext I/O at any offset
 *
 * The volume reads the header (both copies, highest valid sequence id),
 * unwraps the DEKs through a struct keyops, verifies the header MAC, and
 * then serves reads and writes of the plaintext .vhd (data + footer) with
 * sector read-modify-write.  Unwritten sectors (holes or all-zero backing
 * sectors) read as zeros.  Safe for concurrent readers and writers from many
 * threads (including two writers in one sector).
 *
 * Size changes are kept in memory and persisted in the header at
 * vol_flush() and vol_close(), under the header lock.
 *
 * A raw volume (vol_open_raw()) serves a plaintext backing the same way,
 * without header or keys: the temp disk with encryption at host off.
 */
#ifndef SSEFS_DISK_VOLUME_H
#define SSEFS_DISK_VOLUME_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct backing;
struct env_header;
struct keyops;
struct volume;

#define VOL_RDONLY	0x1
/*
 * The size never changes: a write at or past the end fails with -ENOSPC,
 * one that crosses it is cut short; vol_truncate() to another size fails
 * with -EPERM (to the same size it is a no-op).
 */
#define VOL_FIXED_SIZE	0x2
/* Scratch space whose content need not outlive the volume: vol_flush()
 * (and so vol_close()) syncs nothing and returns 0 at once. */
#define VOL_SCRATCH	0x4

/*
 * vol_probe() - read only the header of @path, without keys: is it ours,
 * and is it valid?  Fills @h (may be NULL).  Return: 0; -ENOTSUP (no ssefs
 * magic: not a disk); -EBADMSG (magic but neither copy valid);
 * -EPROTONOSUPPORT; -errno.  Cheap: for store scans.  @path is walked
 * as trusted_open() does (util/beneath.h), and so are those of vol_open()
 * and vol_in_use().
 */
int vol_probe(const char *path, struct env_header *h);
/* The same over an open file descriptor (left open). */
int vol_probe_fd(int fd, struct env_header *h);

/* What a new disk is made of (vol_format()). */
struct vol_format {
	uint64_t plain_size;		/* the .vhd length, footer included */
	uint32_t sector_size;		/* 512 or 4096 */
	uint32_t enc_type;		/* enum env_type */
	const char *des;		/* DES name, or NULL */
	unsigned int nlayers;		/* 1, or 2 for double encryption */
	/* kid per layer: [0] the outer (AES) layer, [1] the inner
	 * (Camellia) layer of a double-encrypted disk */
	const char *kid[2];
	const uint8_t *uuid;		/* NULL: a fresh random one */
};

/*
 * vol_format() - write a new header to the empty file @fd: fresh DEKs (one
 * per layer) wrapped through @ops, the MAC, both copies, and the file's
 * length (sparse).  The DEKs never leave this function unwrapped.
 * Return: 0; the keyops errors; -EINVAL; -errno.
 */
int vol_format(int fd, const struct vol_format *f, const struct keyops *ops)
	__attribute__((warn_unused_result));
/* The same over an empty backing object (left open; the caller holds
 * what keeps others from writing it). */
int vol_format_backing(struct backing *b, const struct vol_format *f,
		       const struct keyops *ops)
	__attribute__((warn_unused_result));

/*
 * vol_open() - open the disk at @path and unwrap its keys through @ops
 * (kept for vol_reload_keys()).  Return: 0; -EBADMSG (no valid header, or
 * MAC mismatch: wrong key or tampered header); VOL_EFOREIGN (the header is
 * another disk's: see below); the keyops errors; -errno.
 * An unknown ro_compat flag opens read-only (vol_is_rdonly()).
 */
int vol_open(struct volume **out, const char *path, int flags,
	     const struct keyops *ops) __attribute__((warn_unused_result));
/* The same over an open file descriptor, which the volume takes over
 * (closed on failure too); @name is for messages. */
int vol_open_fd(struct volume **out, int fd, const char *name, int flags,
		const struct keyops *ops) __attribute__((warn_unused_result));
/* The same over a backing object (disk/backing.h), which the volume
 * takes over (closed on failure too). */
int vol_open_backing(struct volume **out, struct backing *b, int flags,
		     const struct keyops *ops)
	__attribute__((warn_unused_result));
/*
 * vol_open_raw() - a volume without header or cipher layer: the plaintext
 * is @b itself from byte 0, @size bytes (a multiple of @ss, 512 or 4096),
 * which the volume takes over (closed on failure too).  Unless
 * VOL_RDONLY, @b is made @size bytes long (sparse) if it is not.  No keys
 * (vol_drop_keys() and vol_reload_keys() do nothing), no header
 * (vol_set_header() and vol_bind_footer() fail with -EINVAL,
 * vol_get_header() gives a zero header with the size and sector size),
 * no layers to push (-EOPNOTSUPP), no in-use mark; vol_truncate() to a
 * size not a multiple of @ss fails with -EINVAL.
 * Return: 0; -EINVAL; -ENOMEM; -errno of the backing.
 */
int vol_open_raw(struct volume **out, struct backing *b, uint32_t ss,
		 uint64_t size, int flags) __attribute__((warn_unused_result));
/* The backing object under @vol (the volume's, not a new reference). */
struct backing *vol_backing(struct volume *vol);
/* Flush the size; wipe keys; close.  Return: vol_flush()'s answer. */
int vol_close(struct volume *vol);

/* 1 when a daemon holds @path open read-write, 0 if not, or -errno. */
int vol_in_use(const char *path);

/* Return: bytes transferred (reads stop at the plaintext size), or
 * -EKEYREVOKED after vol_drop_keys(), -EROFS, -errno. */
ssize_t vol_read(struct volume *vol, void *buf, size_t len, uint64_t off);
ssize_t vol_write(struct volume *vol, const void *buf, size_t len,
		  uint64_t off);
int vol_truncate(struct volume *vol, uint64_t size);
/* Punch out whole sectors in [off, off+len) (partial ones are zeroed). */
int vol_discard(struct volume *vol, uint64_t off, uint64_t len);
/* Flush the stack (a host cache's dirty sectors written back, the store
 * synced, the cache's entries cleared), then persist a changed size in
 * the header.  With VOL_SCRATCH: nothing, 0. */
int vol_flush(struct volume *vol);
/*
 * A device of the stack keeps acknowledged writes the store lacks (a
 * ReadWrite host cache): 1, with how many sectors wait to be written back
 * in *@dirty (may be NULL); 0 when none does (or VOL_RDONLY, VOL_SCRATCH).
 */
int vol_write_back(struct volume *vol, uint64_t *dirty);
/* Persist a changed size in the header, and nothing else: what close(2)
 * must do when vol_write_back() says a crash-safe cache holds the rest.
 * Return: 0 or -errno. */
int vol_persist_size(struct volume *vol);

/*
 * The stack (disk/blkdev.h).  vol_open() builds store device -> cipher
 * layer -> volume; the caller may then push one more device right below
 * or right above the cipher layer (the host cache, cache/hcdev.c), with
 * vol_push_layer(), which calls @fn with the device that will be below
 * the new one and what it may need of the volume.
 */
enum vol_where {
	VOL_BELOW_CIPHER = 1,		/* it sees ciphertext */
	VOL_ABOVE_CIPHER = 2,		/* it sees plaintext */
};

struct blkdev;
struct secbuf;

struct vol_layer_ctx {
	struct volume *vol;		/* vol_flush(), vol_lock_sectors() */
	struct backing *backing;	/* its fingerprint, for a cache */
	const uint8_t *uuid;		/* the disk's */
	uint32_t ss;
	uint64_t size;			/* plaintext bytes now */
	int rdonly;
	/* the host cache's entry key (cipherdev_cache_key()), the
	 * caller's: copy it */
	const struct secbuf *cache_key;
	/* the cipher layer, and the device below it before this push: a
	 * cache writes a sector of the other kind (left by an earlier
	 * mount) back through the one that takes it */
	struct blkdev *cipher, *below_cipher;
};

typedef int (*vol_layer_fn)(void *arg, const struct vol_layer_ctx *ctx,
			    struct blkdev *lower, struct blkdev **out);

/*
 * vol_push_layer() - insert the device @fn makes over @lower at @where.
 * The volume's keys lock is held exclusive while @fn runs (no I/O).  The
 * device is closed with the stack.  Return: 0; -EKEYREVOKED (no keys);
 * @fn's error (nothing changed); -ENOMEM.
 */
int vol_push_layer(struct volume *vol, enum vol_where where,
		   vol_layer_fn fn, void *arg);

/*
 * Hold (and release) the stripe locks of sectors [@first, @last], as a
 * volume writer does: a device that writes sectors on its own (a cache's
 * write-back) serialises with the volume's writers so.  Not while
 * holding the stripes already.
 */
void vol_lock_sectors(struct volume *vol, uint64_t first, uint64_t last);
void vol_unlock_sectors(struct volume *vol, uint64_t first, uint64_t last);

/* Revocation: wipe the DEKs; I/O fails with -EKEYREVOKED until
 * vol_reload_keys() unwraps them again (re-reading the header). */
void vol_drop_keys(struct volume *vol);
int vol_reload_keys(struct volume *vol);
int vol_has_keys(struct volume *vol);

uint64_t vol_size(struct volume *vol);
int vol_is_rdonly(struct volume *vol);
/*
 * The header as the backing file holds it now (a rotation, by a daemon or
 * by `ssefs rotate`, re-wraps the DEKs in the file, not in this volume's
 * memory), with the volume's own size; the copy in memory when the file's
 * header cannot be read or belongs to another disk.
 */
void vol_get_header(struct volume *vol, struct env_header *h);
/*
 * vol_set_header() - write @h (a header from vol_get_header() with its
 * UUID, DES or type changed; layers and size untouched) to both copies,
 * with a new MAC under this volume's keys.  Return: 0 or -errno.
 */
int vol_set_header(struct volume *vol, const struct env_header *h);
/* Which header copy was bad at open (-1: none). */
int vol_bad_copy(struct volume *vol);

/*
 * The bound footer (man/ssefs-format.5, ENV_RO_COMPAT_BOUND_FOOTER): a
 * header with the flag belongs to data whose last 512 bytes are a
 * fixed-VHD footer carrying the header's disk UUID.  vol_open() checks it
 * and fails with VOL_EFOREIGN (shown to applications as EBADMSG) when the
 * data is another disk's, say after two disks' headers were exchanged.
 * A write into the footer's sector, a discard there or a size change
 * clears the flag on disk first, so no legitimate write makes a disk
 * refuse to open; vol_close() binds it again when the disk then ends in
 * its own valid footer.
 */
#define VOL_EFOREIGN	(-EUCLEAN)

/*
 * vol_bind_footer() - if the plaintext ends with a fixed-VHD footer
 * carrying this disk's UUID, set the flag (a header write).  For create,
 * import and snapshot, after the footer is written.  Return: 0;
 * VOL_EFOREIGN (no such footer: left unbound); -EROFS; -errno.
 */
int vol_bind_footer(struct volume *vol) __attribute__((warn_unused_result));

#endif /* SSEFS_DISK_VOLUME_H */
