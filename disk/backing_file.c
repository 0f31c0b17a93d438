/*
 * backing_file.c - struct backing over a file descriptor
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/backing_file.h"
#include "util/io.h"

static int fd_of(struct backing *b)
{
	return ((struct backing_file *)b)->fd;
}

static int bf_pread(struct backing *b, void *buf, size_t len, uint64_t off)
{
	ssize_t got = io_pread_all(fd_of(b), buf, len, (off_t)off);

	if (got < 0)
		return (int)got;
	if ((size_t)got < len)
		memset((uint8_t *)buf + got, 0, len - (size_t)got);
	return 0;
}

/*
 * Write-behind.  A stream of large writes (a copy, a file system's
 * writeback through a loop device) would otherwise sit in the page cache
 * until the fsync that ends it, and the disk would idle while we encrypt
 * and then the CPUs while the disk writes.  After every WB_KICK bytes of
 * writes of at least WB_MIN, start writeback of the file's dirty pages
 * (SYNC_FILE_RANGE_WRITE waits for nothing but the queue): the two then
 * overlap.  Durability is unchanged: only sync (fdatasync) promises it.
 * Small writes do not count, so random 4 KiB writes stay in the cache
 * where a rewrite is free.
 */
#define WB_MIN	(128u << 10)
#define WB_KICK	(8u << 20)

static void write_behind(struct backing_file *f, size_t len)
{
	if (len < WB_MIN ||
	    __atomic_add_fetch(&f->behind, len, __ATOMIC_RELAXED) < WB_KICK)
		return;
	__atomic_store_n(&f->behind, 0, __ATOMIC_RELAXED);
	(void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

static int bf_pwrite(struct backing *b, const void *buf, size_t len,
		     uint64_t off)
{
	int rc = io_pwrite_all(fd_of(b), buf, len, (off_t)off);

	if (rc == 0)
		write_behind((struct backing_file *)b, len);
	return rc;
}

static int bf_punch(struct backing *b, uint64_t off, uint64_t len)
{
	if (fallocate(fd_of(b), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

static int bf_sync(struct backing *b)
{
	return fdatasync(fd_of(b)) < 0 ? -errno : 0;
}

static int bf_get_size(struct backing *b, uint64_t *len)
{
	struct stat st;

	if (fstat(fd_of(b), &st) < 0)
		return -errno;
	*len = (uint64_t)st.st_size;
	return 0;
}

static int bf_set_size(struct backing *b, uint64_t len)
{
	return ftruncate(fd_of(b), (off_t)len) < 0 ? -errno : 0;
}

static int ofd_lock(int fd, short type, off_t start, off_t len, int wait)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET,
		.l_start = start, .l_len = len,
	};

	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* The header lock: an OFD write lock on bytes [0, HDR_INUSE_BYTE). */
static int bf_hdr_lock(struct backing *b)
{
	return ofd_lock(fd_of(b), F_WRLCK, 0, HDR_INUSE_BYTE, 1);
}

static void bf_hdr_unlock(struct backing *b)
{
	ofd_lock(fd_of(b), F_UNLCK, 0, HDR_INUSE_BYTE, 0);
}

static int bf_hold_inuse(struct backing *b)
{
	return ofd_lock(fd_of(b), F_RDLCK, HDR_INUSE_BYTE, 1, 0);
}

static int bf_inuse(struct backing *b)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET,
		.l_start = HDR_INUSE_BYTE, .l_len = 1,
	};

	if (fcntl(fd_of(b), F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static int bf_fingerprint(struct backing *b, struct backing_fp *fp)
{
	struct stat st;

	if (fstat(fd_of(b), &st) < 0)
		return -errno;
	memset(fp, 0, sizeof(*fp));
	fp->a = (uint64_t)st.st_dev;
	fp->b = (uint64_t)st.st_ino;
	fp->size = (uint64_t)st.st_size;
	fp->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u +
		       (uint64_t)st.st_mtim.tv_nsec;
	fp->ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000u +
		       (uint64_t)st.st_ctim.tv_nsec;
	return 0;
}

static int bf_ranges(struct backing *b, uint64_t off, uint64_t len,
		     int (*fn)(void *arg, uint64_t off, uint64_t len),
		     void *arg)
{
	uint64_t end = off + len;
	int fd = fd_of(b);

	while (off < end) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;
		int r;

		if (d < 0)
			return errno == ENXIO ? 0 : -errno;
		if ((uint64_t)d >= end)
			return 0;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		if ((uint64_t)h > end)
			h = (off_t)end;
		r = fn(arg, (uint64_t)d, (uint64_t)(h - d));
		if (r)
			return r;
		off = (uint64_t)h;
	}
	return 0;
}

static void bf_close(struct backing *b)
{
	struct backing_file *f = (struct backing_file *)b;

	if (!f->own)
		return;
	close(f->fd);			/* drops the OFD locks */
	free(f->b.name);
	free(f);
}

static const struct backing_ops file_ops = {
	.kind = "file",
	.pread = bf_pread,
	.pwrite = bf_pwrite,
	.punch = bf_punch,
	.sync = bf_sync,
	.get_size = bf_get_size,
	.set_size = bf_set_size,
	.hdr_lock = bf_hdr_lock,
	.hdr_unlock = bf_hdr_unlock,
	.hold_inuse = bf_hold_inuse,
	.inuse = bf_inuse,
	.fingerprint = bf_fingerprint,
	.ranges = bf_ranges,
	.close = bf_close,
};

int backing_file_new(struct backing **out, int fd, const char *name)
{
	struct backing_file *f = calloc(1, sizeof(*f));

	if (f)
		f->b.name = strdup(name ? name : "");
	if (!f || !f->b.name) {
		free(f);
		close(fd);
		return -ENOMEM;
	}
	f->b.ops = &file_ops;
	f->fd = fd;
	f->own = 1;
	*out = &f->b;
	return 0;
}

void backing_file_borrow(struct backing_file *f, int fd)
{
	memset(f, 0, sizeof(*f));
	f->b.ops = &file_ops;
	f->b.name = NULL;
	f->fd = fd;
}
