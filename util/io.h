/*
 * io.h - whole-buffer I/O, atomic file replacement, directory sync
 *
 * All functions return 0 (or a byte count) on success and a negative errno
 * on failure; none prints.
 */
#ifndef SSEFS_UTIL_IO_H
#define SSEFS_UTIL_IO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read up to @len bytes at @off, retrying short reads and EINTR.
 * Return: bytes read (less than @len only at end of file), or -errno.
 */
ssize_t io_pread_all(int fd, void *buf, size_t len, off_t off);
/* Write all @len bytes at @off.  Return: 0 or -errno (-ENOSPC, -EIO...). */
int io_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Write all @len bytes to a pipe, socket or file at its offset.
 * Return: 0 or -errno (-EPIPE when the reader went away). */
int io_write_all(int fd, const void *buf, size_t len);
/* Read a whole file (at most @max bytes) into a NUL-terminated malloc'd
 * buffer.  Return: 0, -EFBIG when larger than @max, or -errno. */
int io_read_file(const char *path, size_t max, char **out, size_t *len);

/* fsync the directory that holds @path (the parent of its last part). */
int io_fsync_parent(const char *path);

/*
 * Replace @path atomically with @len bytes of @data and mode @mode: a
 * temporary file in the same directory (O_EXCL), write, fsync, rename,
 * fsync of the directory.  On failure @path is untouched and the temporary
 * file is gone.
 */
int io_write_atomic(const char *path, const void *data, size_t len,
		    mode_t mode);

/*
 * Make a unique temporary file "DIR/.NAME.tmp-XXXXXX" next to @path, open
 * O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC with @mode.  Its name goes to @tmp
 * (@tmplen bytes).  Return: the fd or -errno.
 */
int io_tmpfile_beside(const char *path, mode_t mode, char *tmp, size_t tmplen);
/* The same in the directory @dfd, for the name @base; @tmp gets the bare
 * name (relative to @dfd). */
int io_tmpfile_at(int dfd, const char *base, mode_t mode, char *tmp,
		  size_t tmplen);

/* Commit a temporary file made by io_tmpfile_beside(): fsync @fd, rename
 * @tmp to @path, fsync the directory.  On failure @tmp is unlinked.  Does
 * not close @fd. */
int io_commit_tmpfile(int fd, const char *tmp, const char *path);

/*
 * Overwrite with zeros every byte of @fd that holds data (SEEK_DATA to
 * SEEK_HOLE, so holes stay holes), then fdatasync.  Whether the old bytes
 * are gone from the device depends on the file system: in place on ext4
 * and xfs, not on copy-on-write ones, nor below an SSD's remapping.
 * Return: 0 or -errno.
 */
int io_zero_data(int fd);

/* mkdir -p with @mode for the directories it creates. */
int io_mkdirs(const char *path, mode_t mode);

#endif /* SSEFS_UTIL_IO_H */
