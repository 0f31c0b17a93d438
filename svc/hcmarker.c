/*
 * hcmarker.c - STORE/.ssefs-hostcache: the host cache a store waits for
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/hcache.h"
#include "svc/hcmarker.h"
#include "svc/storelock.h"
#include "util/io.h"

/* Read a marker, @path relative to @atfd: as hcm_read(). */
static int read_marker(int atfd, const char *path, char *dir, size_t len)
{
	ssize_t n;
	int fd;

	fd = openat(atfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, dir, len - 1);
	close(fd);
	dir[n > 0 ? n : 0] = '\0';
	dir[strcspn(dir, "\n")] = '\0';
	return 1;
}

int hcm_read(int store_fd, char *dir, size_t len)
{
	return read_marker(store_fd, HC_MARKER, dir, len);
}

int hcm_cache_gone(const char *dir)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, HC_FILE);
	return access(path, F_OK) < 0 && errno == ENOENT;
}

int hcm_write(const char *store, const char *dir)
{
	char path[PATH_MAX + 64], line[PATH_MAX + 2];
	int n;

	snprintf(path, sizeof(path), "%s/%s", store, HC_MARKER);
	n = snprintf(line, sizeof(line), "%s\n", dir);
	return io_write_atomic(path, line, (size_t)n, 0600);
}

int hcm_remove(int store_fd)
{
	if (unlinkat(store_fd, HC_MARKER, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return fsync(store_fd) < 0 ? -errno : 0;
}

int hcm_unreplayed(const char *disk, char *store, size_t store_len,
		   char *dir, size_t dir_len)
{
	char d[PATH_MAX], path[PATH_MAX + 64];
	char *slash;
	int r;

	if (!realpath(disk, d))
		return -errno;
	while ((slash = strrchr(d, '/')) != NULL) {
		slash[slash == d] = '\0';	/* the parent; "/" stays "/" */
		snprintf(path, sizeof(path), "%s/%s", strcmp(d, "/") ? d : "",
			 HC_MARKER);
		r = read_marker(AT_FDCWD, path, dir, dir_len);
		if (r < 0)
			return r;
		if (r == 0) {
			if (!strcmp(d, "/"))
				return 0;
			continue;
		}
		snprintf(store, store_len, "%s", d);
		/* a cache that is gone holds nothing (the next mount says
		 * so); a live mount writes a disk back at its last close */
		if (!dir[0] || hcm_cache_gone(dir))
			return 0;
		r = store_lock_held(d);
		return r < 0 ? r : !r;
	}
	return 0;
}
