/*
 * header.h - the two header copies of a backing object (disk/backing.h)
 *
 * A reader takes the valid copy with the highest sequence id.  A writer
 * holds the header lock (the backing's hdr_lock), re-reads both copies,
 * writes the older or invalid one with seq = max + 1 and syncs it, then
 * the other with max + 2 and syncs it: a crash at any point leaves at
 * least one valid copy, and after the write both hold the new contents.
 */
#ifndef SSEFS_DISK_HEADER_H
#define SSEFS_DISK_HEADER_H

#include <stdint.h>

struct backing;
struct env_header;

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
 * hdr_get() - read both copies of @b's header into @h (the best one).
 * @st may be NULL.  Return: 0; -ENOTSUP (no ssefs magic in either copy);
 * -EBADMSG (magic, but no valid copy); -EPROTONOSUPPORT; -errno.
 */
int hdr_get(struct backing *b, struct env_header *h, struct hdr_status *st)
	__attribute__((warn_unused_result));

/*
 * hdr_put() - write @h to both copies as described above; the caller
 * holds the header lock.  @h->seq is set to the new sequence id.
 * Return: 0 or -errno.
 */
int hdr_put(struct backing *b, struct env_header *h);

/* Rewrite copy @copy from @h without touching the other (repair of a bad
 * twin); caller holds the lock and @h is the newest valid header. */
int hdr_put_copy(struct backing *b, struct env_header *h, unsigned int copy);

/* The same over a file descriptor (left open), for cli/; hdr_lock()
 * blocks (F_OFD_SETLKW). */
int hdr_read(int fd, struct env_header *h, struct hdr_status *st)
	__attribute__((warn_unused_result));
int hdr_repair(int fd, struct env_header *h, unsigned int copy);
int hdr_lock(int fd);
void hdr_unlock(int fd);

#endif /* SSEFS_DISK_HEADER_H */
