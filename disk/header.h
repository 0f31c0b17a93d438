/*
 * header.h - the two header copies of a backing file: read, write, lock
 *
 * A reader takes the valid copy with the highest sequence id.  A writer
 * takes an OFD write lock on the header range, re-reads both copies, then
 * writes the older (or invalid) copy with seq = max + 1 and syncs it, then
 * the other with max + 2 and syncs it.  See man/ssefs-format.5.
 */
#ifndef SSEFS_DISK_HEADER_H
#define SSEFS_DISK_HEADER_H

struct env_header;

/* Copy states reported by hdr_read_states(). */
enum hdr_state {
	HDR_OK = 0,	/* valid and the newest */
	HDR_STALE = 1,	/* valid but an older sequence id */
	HDR_BAD = 2,	/* unreadable, torn or corrupt */
};

/*
 * hdr_read() - read both copies from @fd and fill @h with the valid one of
 * the highest sequence id.  *@good_copy gets its number; *@bad_copy the
 * other copy's number when that one is invalid or stale, else -1 (either
 * pointer may be NULL).  Return: 0; -ENOTSUP (no ssefs magic in either
 * copy); -EBADMSG (neither copy valid); -EPROTONOSUPPORT; -errno.
 */
int hdr_read(int fd, struct env_header *h, int *good_copy, int *bad_copy);

/* Like hdr_read(), also reporting each copy's state and sequence id
 * (0 when bad). */
int hdr_read_states(int fd, struct env_header *h, enum hdr_state st[2],
		    unsigned long long seq[2]);

/* The header lock covers [0, HDR_LOCK_LEN); byte HDR_INUSE_BYTE (after it,
 * before the data) carries the shared "in use by a mount" lock. */
#define HDR_LOCK_LEN	8191
#define HDR_INUSE_BYTE	8191

/*
 * hdr_write() - write @h (its seq is ignored) as both copies under the
 * header lock, taken and released here.  On return h->seq is the newest
 * copy's sequence id.  Return: 0 or -errno.
 */
int hdr_write(int fd, struct env_header *h);
/* The same for a caller that holds the lock (hdr_lock()) across a
 * read-modify-write. */
int hdr_write_locked(int fd, struct env_header *h);

/* Take / release the OFD write lock on the header range (waits). */
int hdr_lock(int fd);
int hdr_unlock(int fd);

#endif /* SSEFS_DISK_HEADER_H */
