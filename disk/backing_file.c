/*
 * backing_file.c - struct backing over a file descriptor
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
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

/*
 * Large reads bypass the page cache.  Whoever reads a disk in large
 * requests (a file system on an attached disk, a copy, the mount's
 * read-ahead) keeps the plaintext in a page cache of its own above us, so
 * the ciphertext cached again below was memory spent twice, and filling
 * that second cache was the slow part on this VM: cold 1 MiB reads of a
 * backing file ran at 720-5900 MB/s buffered and 4200-7200 MB/s with
 * O_DIRECT, and sequential reads of ext4 on an attached disk and of a
 * .vhd through the mount gained 1.4-3x (BENCHMARKS.md, fifteenth
 * session).  The price: a lone stream of O_DIRECT reads of a .vhd, one at
 * a time, no longer has the kernel reading ahead in the backing file
 * (0.71-0.90x).  Small reads stay buffered: a random 4 KiB reader gains
 * from the cache, and a read-modify-write reads what it just wrote.
 * Writes stay buffered (write-behind below); the kernel writes back any
 * dirty page in a range before reading it direct, so the two views agree.
 *
 * The O_DIRECT descriptor is a second open of the same file through
 * /proc/self/fd, made on the first large read; where that, the file
 * system's alignment (statx STATX_DIOALIGN) or a read fails, the read is
 * made buffered as before.  A buffer that is not aligned for direct I/O
 * (libfuse's are not) is read through a page-aligned bounce buffer: one
 * copy, as the buffered read made from the page cache.  Borrowed objects
 * (backing_file_borrow) read buffered: they are closed by no one.
 */
#define DIRECT_MIN	(128u << 10)
#define DIRECT_MAX	(1u << 20)

static pthread_mutex_t direct_lock = PTHREAD_MUTEX_INITIALIZER;

static int direct_fd(struct backing_file *f)
{
	int d = __atomic_load_n(&f->dfd, __ATOMIC_ACQUIRE);
	struct statx st;
	char proc[64];

	if (d != BF_DIRECT_UNTRIED)
		return d;
	pthread_mutex_lock(&direct_lock);
	d = f->dfd;
	if (d == BF_DIRECT_UNTRIED) {
		d = BF_DIRECT_NONE;
		if (statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) == 0 &&
		    (st.stx_mask & STATX_DIOALIGN) &&
		    st.stx_dio_offset_align &&
		    st.stx_dio_offset_align <= 4096 &&
		    st.stx_dio_mem_align <= 4096) {
			f->dalign = st.stx_dio_offset_align;
			f->dmem = st.stx_dio_mem_align ?
				  st.stx_dio_mem_align : 1;
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
			d = open(proc, O_RDONLY | O_DIRECT | O_CLOEXEC);
			if (d < 0)
				d = BF_DIRECT_NONE;
		}
		__atomic_store_n(&f->dfd, d, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&direct_lock);
	return d;
}

/*
 * Bounce buffers: DIRECT_MAX bytes, page-aligned, shared by all disks.  A
 * few are kept for the next reads (as many as reads at once are common on
 * two cores: the rest are freed), so that a pool of idle threads holds no
 * memory of ours.
 */
#define BOUNCE_KEEP	4

static struct {
	pthread_mutex_t lock;
	void *free[BOUNCE_KEEP];
	unsigned int nfree;
} bounces = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *bounce_get(void)
{
	void *p = NULL;

	pthread_mutex_lock(&bounces.lock);
	if (bounces.nfree)
		p = bounces.free[--bounces.nfree];
	pthread_mutex_unlock(&bounces.lock);
	if (!p && posix_memalign(&p, 4096, DIRECT_MAX) != 0)
		p = NULL;
	return p;
}

static void bounce_put(void *p)
{
	pthread_mutex_lock(&bounces.lock);
	if (bounces.nfree < BOUNCE_KEEP) {
		bounces.free[bounces.nfree++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&bounces.lock);
	free(p);
}

/* A direct read of [@off, @off + @len): its length, or -EAGAIN when the
 * read should be made buffered instead. */
static ssize_t read_direct(struct backing_file *f, void *buf, size_t len,
			   uint64_t off)
{
	ssize_t got;
	void *tmp;
	int d;

	if (len < DIRECT_MIN || len > DIRECT_MAX)
		return -EAGAIN;
	d = direct_fd(f);
	if (d < 0 || (off | len) % f->dalign)
		return -EAGAIN;
	if ((uintptr_t)buf % f->dmem == 0) {
		got = io_pread_all(d, buf, len, (off_t)off);
	} else {
		tmp = bounce_get();
		if (!tmp)
			return -EAGAIN;
		got = io_pread_all(d, tmp, len, (off_t)off);
		if (got > 0)
			memcpy(buf, tmp, (size_t)got);
		bounce_put(tmp);
	}
	return got == -EINVAL ? -EAGAIN : got;
}

static int bf_pread(struct backing *b, void *buf, size_t len, uint64_t off)
{
	ssize_t got = read_direct((struct backing_file *)b, buf, len, off);

	if (got == -EAGAIN)
		got = io_pread_all(fd_of(b), buf, len, (off_t)off);

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
	if (f->dfd >= 0)
		close(f->dfd);
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
	f->dfd = BF_DIRECT_UNTRIED;
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
	f->dfd = BF_DIRECT_NONE;	/* nothing would close a second fd */
}
