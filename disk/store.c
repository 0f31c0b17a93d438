/*
 * store.c - atomic creation of disks
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "disk/store.h"
#include "disk/volume.h"
#include "util/io.h"

int store_tmpfile(const char *path, char *tmp, size_t tmplen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	tmp[0] = '\0';
	if (!slash)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	return io_tmpfile_beside(path, 0600, tmp, tmplen);
}

int store_publish_fd(int fd, const char *tmp, const char *path)
{
	char proc[64];
	int r = 0;

	if (fsync(fd) < 0)
		return -errno;
	if (tmp && *tmp) {
		/* link() refuses an existing name, unlike rename() */
		if (link(tmp, path) < 0)
			r = -errno;
		unlink(tmp);
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, path,
			   AT_SYMLINK_FOLLOW) < 0)
			r = -errno;
	}
	if (r == 0)
		r = io_fsync_parent(path);
	return r;
}

int store_create(const char *path, const struct vol_format *f,
		 const struct keyops *ops, store_fill_fn fill, void *arg)
{
	char tmp[PATH_MAX];
	struct volume *vol = NULL;
	int fd, vfd, r;

	if (access(path, F_OK) == 0)
		return -EEXIST;
	fd = store_tmpfile(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	r = vol_format(fd, f, ops);
	if (r == 0 && fill) {
		vfd = dup(fd);
		if (vfd < 0)
			r = -errno;
		else
			r = vol_open_fd(&vol, vfd, path, 0, ops);
		if (r == 0)
			r = fill(vol, arg);
		if (vol) {
			int rc = vol_close(vol);	/* persists the size */

			if (r == 0)
				r = rc;
		}
	}
	if (r == 0)
		r = store_publish_fd(fd, tmp, path);
	else if (*tmp)
		unlink(tmp);
	close(fd);
	return r;
}
