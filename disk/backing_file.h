/*
 * backing_file.h - a disk's backing object as a file (a directory store)
 */
#ifndef SSEFS_DISK_BACKING_FILE_H
#define SSEFS_DISK_BACKING_FILE_H

#include "disk/backing.h"

/* Byte 8191 of the header area: a daemon holds a shared OFD read lock on
 * it while it has the disk open read-write (hold_inuse). */
#define HDR_INUSE_BYTE	(8192 - 1)

struct backing_file {
	struct backing b;
	int fd;
	int own;		/* close() closes @fd and frees this */
	uint64_t behind;	/* large-write bytes since writeback was kicked */
};

/*
 * backing_file_new() - a backing object over @fd, which it takes over
 * (closed on failure too); @name is for messages.  Return: 0 or -ENOMEM.
 */
int backing_file_new(struct backing **out, int fd, const char *name);

/* Borrow @fd in the caller's @f (no allocation; close() leaves @fd open):
 * for the fd-taking wrappers of disk/header.h. */
void backing_file_borrow(struct backing_file *f, int fd);

#endif /* SSEFS_DISK_BACKING_FILE_H */
