/*
 * store.h - the store directory: scan it for disks, create disks atomically
 *
 * A new disk is built in an anonymous file (O_TMPFILE in the target's
 * directory) and linked into place only when complete and synced, so a
 * crash or kill -9 at any moment leaves neither a half-written disk nor a
 * stray temporary file.  Where O_TMPFILE is not supported, a named
 * ".NAME.tmp-XXXXXX" file beside the target is used and removed on failure.
 */
#ifndef SSEFS_DISK_STORE_H
#define SSEFS_DISK_STORE_H

#include <limits.h>

struct env_header;

struct store_tmp {
	int fd;
	int anonymous;			/* 1: O_TMPFILE, no name yet */
	char tmp[PATH_MAX];		/* the named fallback's path */
	char target[PATH_MAX];
};

/*
 * store_tmp_open() - begin a new file that will become @target (mode 0600).
 * Refuses an existing @target.  Return: 0 (t->fd is open) or -errno
 * (-EEXIST).
 */
int store_tmp_open(struct store_tmp *t, const char *target)
	__attribute__((warn_unused_result));
/* fsync, link into place (never replacing an existing file), fsync the
 * directory, close.  Return: 0 or -errno (-EEXIST); on failure the
 * temporary file is gone. */
int store_tmp_commit(struct store_tmp *t) __attribute__((warn_unused_result));
/* Give up: close and remove the temporary file. */
void store_tmp_abort(struct store_tmp *t);

/*
 * store_scan() - walk @dir recursively; call @fn for every regular file
 * that carries the ssefs magic, with @err = vol_probe()'s answer (0 valid,
 * -EBADMSG, -EPROTONOSUPPORT) and @h filled when @err is 0.  A non-zero
 * return from @fn stops the walk and is returned.  Return: 0 or -errno.
 */
int store_scan(const char *dir,
	       int (*fn)(const char *path, const struct env_header *h,
			 int err, void *arg),
	       void *arg);

#endif /* SSEFS_DISK_STORE_H */
