/*
 * backing.h - the object a store keeps one disk in: the bottom of the stack
 *
 * A disk's backing object holds the envelope byte for byte (ssefs-format(5)):
 * the two header copies in [0, ENV_DATA_OFFSET), then the ciphertext
 * sectors.  A directory store keeps it in a file (disk/backing_file.c); a
 * blob store in a page blob (store/).  Everything above it (the header
 * code, the host cache, the cipher layer, the volume) reaches the object
 * through this table only, so a new store is one new implementation of it.
 *
 * Rules every implementation keeps:
 *   - offsets and lengths of pread, pwrite and punch are multiples of 512
 *     (a page blob's page); bytes never written, or punched, read as zeros,
 *     and reads past the end read as zeros;
 *   - pwrite and punch may be cached by the implementation; sync returns 0
 *     only when everything written before it is durable (fdatasync; the
 *     service confirmed every page);
 *   - hdr_lock excludes every other writer of the header, on this host and
 *     on others (an OFD lock on a file; the blob's lease on a page blob);
 *   - hold_inuse marks the object as open read-write by this process until
 *     close, and inuse tells whether anyone else does (an OFD read lock on
 *     the in-use byte; a lease the daemon renews);
 *   - the fingerprint changes whenever someone else may have written the
 *     object (the host cache keeps clean sectors across mounts only when it
 *     is the same);
 *   - every function returns 0 or a negative errno and never prints; the
 *     object keeps its credentials and connections to itself.
 */
#ifndef SSEFS_DISK_BACKING_H
#define SSEFS_DISK_BACKING_H

#include <stddef.h>
#include <stdint.h>

struct backing;

/* What the host cache compares across mounts (see above). */
struct backing_fp {
	uint64_t a, b, size, mtime_ns, ctime_ns;	/* file: dev, ino, ... */
};

struct backing_ops {
	const char *kind;			/* "file", "blob" */
	int (*pread)(struct backing *b, void *buf, size_t len, uint64_t off);
	int (*pwrite)(struct backing *b, const void *buf, size_t len,
		      uint64_t off);
	int (*punch)(struct backing *b, uint64_t off, uint64_t len);
	int (*sync)(struct backing *b);
	int (*get_size)(struct backing *b, uint64_t *len);
	int (*set_size)(struct backing *b, uint64_t len);
	int (*hdr_lock)(struct backing *b);
	void (*hdr_unlock)(struct backing *b);
	int (*hold_inuse)(struct backing *b);
	int (*inuse)(struct backing *b);	/* 1 held elsewhere, 0, -errno */
	int (*fingerprint)(struct backing *b, struct backing_fp *fp);
	/*
	 * The allocated ranges in [@off, @off + @len): @fn is called for
	 * each, ascending (SEEK_DATA/SEEK_HOLE; Get Page Ranges), so a copy
	 * reads only what exists.  A nonzero return from @fn stops the walk
	 * and is returned.
	 */
	int (*ranges)(struct backing *b, uint64_t off, uint64_t len,
		      int (*fn)(void *arg, uint64_t off, uint64_t len),
		      void *arg);
	void (*close)(struct backing *b);
};

struct backing {
	const struct backing_ops *ops;
	char *name;				/* for messages: path or URL */
};

#endif /* SSEFS_DISK_BACKING_H */
