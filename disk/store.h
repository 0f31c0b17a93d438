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

struct keyops;
struct vol_format;
struct volume;

/* Fills a new disk through its open volume; 0 or a negative errno. */
typedef int (*store_fill_fn)(struct volume *vol, void *arg);

/*
 * store_create() - make a disk at @path (which must not exist) formatted
 * as @f, fill it with @fill (may be NULL), and publish it.  Return: 0;
 * -EEXIST; the errors of vol_format() and @fill; -errno.
 */
int store_create(const char *path, const struct vol_format *f,
		 const struct keyops *ops, store_fill_fn fill, void *arg);

/*
 * store_publish_fd() - the last step of an atomic creation done by hand:
 * fsync @fd and give it the name @path (no replace).  @tmp is the named
 * temporary file when there is one (NULL for O_TMPFILE).
 */
int store_publish_fd(int fd, const char *tmp, const char *path);
/* Open an unnamed (or, as a fallback, hidden temporary) file beside
 * @path; its name, if any, goes to @tmp (else @tmp[0] = 0). */
int store_tmpfile(const char *path, char *tmp, size_t tmplen);

#endif /* SSEFS_DISK_STORE_H */
