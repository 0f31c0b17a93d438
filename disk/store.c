/*
 * store.c - atomic disk creation and store scans
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "disk/store.h"
#include "disk/volume.h"
#include "util/io.h"

static int parent_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return snprintf(buf, len, ".") >= (int)len ? -ENAMETOOLONG : 0;
	if (slash == path)
		return snprintf(buf, len, "/") >= (int)len ? -ENAMETOOLONG : 0;
	if ((size_t)(slash - path) >= len)
		return -ENAMETOOLONG;
	memcpy(buf, path, slash - path);
	buf[slash - path] = 0;
	return 0;
}

int store_tmp_open(struct store_tmp *t, const char *target)
{
	char dir[PATH_MAX];
	struct stat st;
	int fd, r;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (snprintf(t->target, sizeof(t->target), "%s", target) >=
	    (int)sizeof(t->target))
		return -ENAMETOOLONG;
	if (lstat(target, &st) == 0)
		return -EEXIST;
	if (errno != ENOENT)
		return -errno;
	r = parent_of(target, dir, sizeof(dir));
	if (r)
		return r;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) {
		t->fd = fd;
		t->anonymous = 1;
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	fd = io_tmpfile_beside(target, 0600, t->tmp, sizeof(t->tmp));
	if (fd < 0)
		return fd;
	t->fd = fd;
	return 0;
}

int store_tmp_commit(struct store_tmp *t)
{
	char proc[64];
	int r = 0;

	if (fsync(t->fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (t->anonymous) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, t->target,
			   AT_SYMLINK_FOLLOW) < 0) {
			r = -errno;
			goto fail;
		}
	} else {
		/* link() refuses an existing target, unlike rename() */
		if (link(t->tmp, t->target) < 0) {
			r = -errno;
			goto fail;
		}
		unlink(t->tmp);
		t->tmp[0] = 0;
	}
	r = io_fsync_parent(t->target);
	close(t->fd);
	t->fd = -1;
	return r;
fail:
	store_tmp_abort(t);
	return r;
}

void store_tmp_abort(struct store_tmp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (!t->anonymous && t->tmp[0])
		unlink(t->tmp);
	t->tmp[0] = 0;
}

static int scan_dir(const char *dir, int depth,
		    int (*fn)(const char *, const struct env_header *, int,
			      void *),
		    void *arg)
{
	char path[PATH_MAX];
	struct dirent **ents;
	int n, r = 0;

	if (depth > 32)
		return 0;
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct env_header h;
		struct stat st;
		int e;

		if (r || ents[i]->d_name[0] == '.')
			goto next;
		if (snprintf(path, sizeof(path), "%s/%s", dir,
			     ents[i]->d_name) >= (int)sizeof(path))
			goto next;
		if (lstat(path, &st) < 0)
			goto next;
		if (S_ISDIR(st.st_mode)) {
			r = scan_dir(path, depth + 1, fn, arg);
		} else if (S_ISREG(st.st_mode)) {
			e = vol_probe(path, &h);
			if (e != -ENOTSUP && e != -ENOENT && e != -EACCES)
				r = fn(path, e ? NULL : &h, e, arg);
		}
next:
		free(ents[i]);
	}
	free(ents);
	return r;
}

int store_scan(const char *dir,
	       int (*fn)(const char *path, const struct env_header *h,
			 int err, void *arg),
	       void *arg)
{
	return scan_dir(dir, 0, fn, arg);
}
