/*
 * hostdir.c - the host cache directory: create, check, lock
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/hostdir.h"

/* Is @a the same as @b or below it (realpaths)? */
static int path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (n == 1 && b[0] == '/')
		return 1;
	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/');
}

int hostdir_open(struct hostdir *hd, const char *dir, const char *store,
		 const char *mnt, pid_t *holder)
{
	char real[PATH_MAX], buf[32];
	struct stat st;
	ssize_t n;
	int r;

	hd->path = NULL;
	hd->fd = hd->lock_fd = -1;
	*holder = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (!realpath(dir, real))
		return -errno;
	if (path_within(real, store) || path_within(store, real) ||
	    path_within(real, mnt) || path_within(mnt, real))
		return -ELOOP;
	hd->fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hd->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(hd->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto fail;
	}
	hd->lock_fd = openat(hd->fd, HOSTDIR_LOCK_FILE,
			     O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (hd->lock_fd < 0) {
		r = -errno;
		goto fail;
	}
	if (flock(hd->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		n = pread(hd->lock_fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			*holder = (pid_t)atoi(buf);
		}
		goto fail;
	}
	hd->path = strdup(real);
	if (!hd->path) {
		r = -ENOMEM;
		goto fail;
	}
	hostdir_set_pid(hd, getpid());
	return 0;
fail:
	hostdir_close(hd);
	return r;
}

void hostdir_set_pid(struct hostdir *hd, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);

	if (ftruncate(hd->lock_fd, 0) == 0 &&
	    pwrite(hd->lock_fd, buf, (size_t)n, 0) == n)
		return;
}

void hostdir_close(struct hostdir *hd)
{
	if (hd->lock_fd >= 0)
		close(hd->lock_fd);
	if (hd->fd >= 0)
		close(hd->fd);
	free(hd->path);
	hd->path = NULL;
	hd->fd = hd->lock_fd = -1;
}
