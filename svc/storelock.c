/*
 * storelock.c - STORE/.ssefs.lock: one daemon serves a store
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "svc/storelock.h"

int store_lock(const char *store, int *fd, pid_t *holder)
{
	char path[4096], buf[32];
	ssize_t n;
	int lfd;

	*holder = 0;
	if (snprintf(path, sizeof(path), "%s/%s", store, SSEFS_LOCK_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return -errno;
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EBUSY : -errno;

		n = pread(lfd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			*holder = (pid_t)atoi(buf);
		}
		close(lfd);
		return r;
	}
	*fd = lfd;
	return 0;
}

int store_lock_held(const char *store)
{
	char path[4096], line[256];
	unsigned long long ino;
	unsigned int maj, min;
	struct stat st;
	int held = 0;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", store, SSEFS_LOCK_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	f = fopen("/proc/locks", "re");
	if (!f)
		return -errno;
	/* "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF"; a waiter's
	 * line has "->" after the number and is not a holder */
	while (!held && fgets(line, sizeof(line), f))
		held = sscanf(line, "%*d: FLOCK %*s %*s %*d %x:%x:%llu",
			      &maj, &min, &ino) == 3 &&
		       maj == major(st.st_dev) && min == minor(st.st_dev) &&
		       ino == (unsigned long long)st.st_ino;
	fclose(f);
	return held;
}

void store_lock_set_pid(int fd, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);

	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n)
		return;
}
