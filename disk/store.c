/*
 * store.c - atomic creation of disks
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/store.h"
#include "disk/volume.h"
#include "util/beneath.h"
#include "util/io.h"

int store_new_begin(struct store_new *sn, int root, const char *path)
{
	struct stat st;
	int r;

	memset(sn, 0, sizeof(*sn));
	sn->fd = -1;
	r = root == AT_FDCWD ? trusted_at(&sn->at, path) :
			       beneath_at(&sn->at, root, path);
	if (r < 0)
		return r;
	if (fstatat(sn->at.fd, sn->at.leaf, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	sn->fd = openat(sn->at.fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (sn->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	r = io_tmpfile_at(sn->at.fd, sn->at.leaf, 0600, sn->tmp,
			  sizeof(sn->tmp));
	if (r < 0)
		return r;
	sn->fd = r;
	return 0;
}

int store_new_publish(struct store_new *sn)
{
	char proc[64];
	int dfd, r = 0;

	if (fsync(sn->fd) < 0)
		return -errno;
	if (*sn->tmp) {
		/* link() refuses an existing name, unlike rename() */
		if (linkat(sn->at.fd, sn->tmp, sn->at.fd, sn->at.leaf, 0) < 0)
			r = -errno;
	} else {
		/* the /proc link names our own file, nothing in the store */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sn->fd);
		if (linkat(AT_FDCWD, proc, sn->at.fd, sn->at.leaf,
			   AT_SYMLINK_FOLLOW) < 0)
			r = -errno;
	}
	if (r < 0)
		return r;
	sn->published = 1;
	if (*sn->tmp && unlinkat(sn->at.fd, sn->tmp, 0) == 0)
		sn->tmp[0] = '\0';
	dfd = openat(sn->at.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return r;
}

void store_new_end(struct store_new *sn)
{
	if (*sn->tmp)
		unlinkat(sn->at.fd, sn->tmp, 0);
	sn->tmp[0] = '\0';
	if (sn->fd >= 0)
		close(sn->fd);
	sn->fd = -1;
	beneath_at_release(&sn->at);
}

int store_create(int root, const char *path, const struct vol_format *f,
		 const struct keyops *ops, store_fill_fn fill, void *arg)
{
	struct store_new sn;
	struct volume *vol = NULL;
	int vfd, r;

	r = store_new_begin(&sn, root, path);
	if (r == 0)
		r = vol_format(sn.fd, f, ops);
	if (r == 0 && fill) {
		vfd = dup(sn.fd);
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
		r = store_new_publish(&sn);
	store_new_end(&sn);
	return r;
}
