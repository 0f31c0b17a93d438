/*
 * header.h - the two header copies of a backing file
 *
 * A reader takes the valid copy with the highest sequence id.  A writer
 * holds the header lock (an OFD write lock on bytes [0, 8191)), re-reads
 * both copies, writes the older or invalid one with seq = max + 1 and syncs
 * it, then the other with max + 2 and syncs it: a crash at any point leaves
 * at least one valid copy, and after the write both hold the new contents.
 * Byte 8191 is the "in use" byte: a daemon holds a shared OFD read lock on
 * it while it has the disk open read-write.
 */
#ifndef SSEFS_DISK_HEADER_H
#define SSEFS_DISK_HEADER_H

#include <stdint.h>

struct env_header;

#define HDR_INUSE_BYTE	(8192 - 1)

/* What a read found in each copy. */
enum hdr_copy_state {
	HDR_COPY_OK = 0,	/* valid, and the one taken */
	HDR_COPY_STALE,		/* valid, older seq, other contents */
	HDR_COPY_BAD,		/* torn, corrupt, or missing */
};

struct hdr_status {
	enum hdr_copy_state state[2];
	uint64_t seq[2];	/* for valid copies */
	int err[2];		/* env_decode()'s answer per copy */
	int magic;		/* 1: either copy starts with the ssefs magic */
};

/*
 * hdr_read() - read both copies of @fd's header into @h (the best one).
 * @st may be NULL.  Return: 0; -ENOTSUP (no ssefs magic in either copy);
 * -EBADMSG (magic, but no valid copy); -EPROTONOSUPPORT; -errno.
 */
int hdr_read(int fd, struct env_header *h, struct hdr_status *st)
	__attribute__((warn_unused_result));

/* Take and drop the header lock (blocking; F_OFD_SETLKW). */
int hdr_lock(int fd);
void hdr_unlock(int fd);

/*
 * hdr_write() - write @h to both copies as described above; the caller
 * holds the header lock.  @h->seq is set to the new sequence id.
 * Return: 0 or -errno.
 */
int hdr_write(int fd, struct env_header *h);

/* Rewrite copy @copy from @h without touching the other (repair of a bad
 * twin); caller holds the lock and @h is the newest valid header. */
int hdr_repair(int fd, struct env_header *h, unsigned int copy);

/* Shared "in use" lock for a daemon's open volume; test for it. */
int hdr_hold_inuse(int fd);
int hdr_inuse(int fd);		/* 1 held elsewhere, 0 not, -errno */

#endif /* SSEFS_DISK_HEADER_H */
