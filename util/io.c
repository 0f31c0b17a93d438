/*
 * io.c - whole-buffer I/O, atomic file replacement, directory sync
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/io.h"

ssize_t io_pread_all(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int io_write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int io_read_file(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	n = io_pread_all(fd, buf, (size_t)st.st_size, 0);
	if (n < 0) {
		r = (int)n;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = (size_t)n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

static int dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return snprintf(dir, len, ".") >= (int)len ? -ENAMETOOLONG : 0;
	if (slash == path)
		return snprintf(dir, len, "/") >= (int)len ? -ENAMETOOLONG : 0;
	if ((size_t)(slash - path) >= len)
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return 0;
}

int io_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	int fd, r;

	r = dir_of(path, dir, sizeof(dir));
	if (r < 0)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* ".BASE.tmp-XXXXXXXX" in @dfd, its name (after @dir/, if any) in @tmp */
static int tmpfile_in(int dfd, const char *dir, const char *base,
		      mode_t mode, char *tmp, size_t tmplen)
{
	int fd, r, tries;

	for (tries = 0; tries < 100; tries++) {
		unsigned int rnd;

		if (getentropy(&rnd, sizeof(rnd)) < 0)
			return -errno;
		if (snprintf(tmp, tmplen, "%s%s.%s.tmp-%08x", dir ? dir : "",
			     dir ? "/" : "", base, rnd) >= (int)tmplen)
			return -ENAMETOOLONG;
		fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
			    O_NOFOLLOW, mode);
		if (fd >= 0) {
			/* umask must not loosen or tighten what we asked for */
			if (fchmod(fd, mode) < 0) {
				r = -errno;
				close(fd);
				unlinkat(dfd, tmp, 0);
				return r;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int io_tmpfile_beside(const char *path, mode_t mode, char *tmp, size_t tmplen)
{
	const char *base = strrchr(path, '/');
	char dir[PATH_MAX];
	int r;

	r = dir_of(path, dir, sizeof(dir));
	if (r < 0)
		return r;
	return tmpfile_in(AT_FDCWD, dir, base ? base + 1 : path, mode, tmp,
			  tmplen);
}

int io_tmpfile_at(int dfd, const char *base, mode_t mode, char *tmp,
		  size_t tmplen)
{
	return tmpfile_in(dfd, NULL, base, mode, tmp, tmplen);
}

int io_commit_tmpfile(int fd, const char *tmp, const char *path)
{
	int r;

	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	return io_fsync_parent(path);
fail:
	unlink(tmp);
	return r;
}

int io_write_atomic(const char *path, const void *data, size_t len,
		    mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, r;

	fd = io_tmpfile_beside(path, mode, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	r = io_pwrite_all(fd, data, len, 0);
	if (r < 0) {
		unlink(tmp);
		close(fd);
		return r;
	}
	r = io_commit_tmpfile(fd, tmp, path);
	close(fd);
	return r;
}

int io_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

int io_zero_data(int fd)
{
	static const char zero[65536];
	off_t pos = 0, end;
	int r = 0;

	for (;;) {
		pos = lseek(fd, pos, SEEK_DATA);
		if (pos < 0)
			break;		/* ENXIO: no data past pos */
		end = lseek(fd, pos, SEEK_HOLE);
		if (end < 0)
			return -errno;
		while (pos < end && r == 0) {
			size_t n = end - pos < (off_t)sizeof(zero) ?
				   (size_t)(end - pos) : sizeof(zero);

			r = io_pwrite_all(fd, zero, n, pos);
			pos += (off_t)n;
		}
		if (r < 0)
			return r;
	}
	if (errno != ENXIO)
		return -errno;
	return fdatasync(fd) < 0 ? -errno : 0;
}
