/*
 * store.h - disks in a store directory: atomic creation
 *
 * A new disk is built in an unnamed file (O_TMPFILE) in the directory it
 * will live in, filled, synced, and only then given its name (linkat), so
 * an interruption at any moment, kill -9 included, leaves neither a
 * half-written disk nor a stray temporary file.  Where the file system has
 * no O_TMPFILE, a named ".NAME.tmp-XXXXXXXX" file and link()+unlink() are
 * used instead (a crash may then leave that file behind).
 */
#ifndef SSEFS_DISK_STORE_H
#define SSEFS_DISK_STORE_H

#include <limits.h>

#include "util/beneath.h"

struct keyops;
struct vol_format;
struct volume;

/* Fills a new disk through its open volume; 0 or a negative errno. */
typedef int (*store_fill_fn)(struct volume *vol, void *arg);

/*
 * store_create() - make a disk at @path (which must not exist) formatted
 * as @f, fill it with @fill (may be NULL), and publish it.  @path is
 * relative to the store root @root (resolved as beneath_at() does), or,
 * with @root AT_FDCWD, a path an admin typed (as trusted_at() does).
 * Return: 0; -EEXIST; the errors of vol_format() and @fill; -errno.
 */
int store_create(int root, const char *path, const struct vol_format *f,
		 const struct keyops *ops, store_fill_fn fill, void *arg);

/* A new disk being built, by hand, for its directory. */
struct store_new {
	struct beneath_at at;		/* its directory, its name */
	char tmp[NAME_MAX + 1];		/* the named temporary file, or "" */
	int fd;				/* the (unnamed) file, read-write */
	int published;
};

/*
 * store_new_begin() - resolve @path as store_create() does and open an
 * unnamed (or, as a fallback, hidden temporary) file in its directory, in
 * @sn->fd, mode 0600.  Return: 0; -EEXIST when @path exists; -errno.
 * store_new_end() is due either way.
 */
int store_new_begin(struct store_new *sn, int root, const char *path);
/* fsync the file and give it its name (no replace); sync the directory. */
int store_new_publish(struct store_new *sn);
/* Close the file; an unpublished one leaves nothing behind. */
void store_new_end(struct store_new *sn);

#endif /* SSEFS_DISK_STORE_H */
