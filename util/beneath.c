/*
 * beneath.c - resolve paths beneath a directory, following no symlink
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "util/beneath.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define RESOLVE_FLAGS	(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | \
			 RESOLVE_NO_MAGICLINKS)

/* openat2: 0 works (or not tried yet), -1 missing or forbidden */
static int have_openat2;

static int openat2_state(void)
{
	if (__atomic_load_n(&have_openat2, __ATOMIC_RELAXED) < 0)
		return -1;
	return getenv(BENEATH_WALK_ENV) ? -1 : 1;
}

static int is_dotdot(const char *p, size_t n)
{
	return n == 2 && p[0] == '.' && p[1] == '.';
}

/* Relative, no "..", not too long.  Return: 0 or a negative errno. */
static int check_rel(const char *rel)
{
	const char *p = rel, *e;

	if (rel[0] == '/')
		return -EXDEV;
	if (strlen(rel) >= PATH_MAX)
		return -ENAMETOOLONG;
	while (*p) {
		e = strchrnul(p, '/');
		if (is_dotdot(p, (size_t)(e - p)))
			return -EXDEV;
		if ((size_t)(e - p) > NAME_MAX)
			return -ENAMETOOLONG;
		p = *e ? e + 1 : e;
	}
	return 0;
}

static int open_how(int root, const char *rel, int flags, mode_t mode)
{
	struct open_how how;
	int fd, tries = 0;

	memset(&how, 0, sizeof(how));
	how.flags = (unsigned int)flags;
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		how.mode = mode;
	how.resolve = RESOLVE_FLAGS;
	do	/* EAGAIN: a rename raced the lookup; try again */
		fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN && ++tries < 8);
	return fd < 0 ? -errno : fd;
}

/* Open a directory component under @dir without following it. */
static int walk_step(int dir, const char *name)
{
	struct stat st;
	int fd;

	fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		int r = S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;

		close(fd);
		return r;
	}
	return fd;
}

/* The fallback: one component at a time, each opened O_NOFOLLOW. */
static int open_walk(int root, const char *rel, int flags, mode_t mode)
{
	char name[NAME_MAX + 1];
	const char *p = rel, *e;
	int cur = root, fd;

	for (;;) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		snprintf(name, sizeof(name), "%.*s", (int)(e - p),
			 p);
		while (*e == '/')
			e++;
		if (!*e)
			break;			/* name is the leaf */
		p = e;
		if (!strcmp(name, "."))
			continue;
		fd = walk_step(cur, name);
		if (cur != root)
			close(cur);
		if (fd < 0)
			return fd;
		cur = fd;
	}
	fd = openat(cur, name[0] ? name : ".", flags, mode);
	if (fd < 0)
		fd = -errno;
	if (cur != root)
		close(cur);
	return fd;
}

int beneath_open(int root, const char *rel, int flags, mode_t mode)
{
	int r, state;

	r = check_rel(rel);
	if (r < 0)
		return r;
	if (!*rel)
		rel = ".";
	flags |= O_CLOEXEC | O_NOFOLLOW;
	state = openat2_state();
	if (state > 0) {
		r = open_how(root, rel, flags, mode);
		if (r != -ENOSYS && r != -EPERM)
			return r;
	}
	r = open_walk(root, rel, flags, mode);
	/* openat2 refused what the walk allows: a kernel without it, or a
	 * seccomp filter that forbids it; stop asking */
	if (state > 0 && r >= 0)
		__atomic_store_n(&have_openat2, -1, __ATOMIC_RELAXED);
	return r;
}

int beneath_at(struct beneath_at *at, int root, const char *rel)
{
	char parent[PATH_MAX];
	const char *slash;
	size_t n;
	int r;

	at->fd = root;
	at->owned = 0;
	at->leaf = ".";
	r = check_rel(rel);
	if (r < 0)
		return r;
	n = strlen(rel);
	while (n && rel[n - 1] == '/')
		n--;
	if (n != strlen(rel))
		return -EINVAL;		/* "a/": no leaf to act on */
	slash = strrchr(rel, '/');
	if (!slash) {
		if (*rel)
			at->leaf = rel;
		return 0;
	}
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
	r = beneath_open(root, parent, O_PATH | O_DIRECTORY, 0);
	if (r < 0)
		return r;
	at->fd = r;
	at->owned = 1;
	at->leaf = slash + 1;
	return 0;
}

void beneath_at_release(struct beneath_at *at)
{
	if (at->owned && at->fd >= 0)
		close(at->fd);
	at->fd = -1;
	at->owned = 0;
}

int beneath_stat(int root, const char *rel, struct stat *st)
{
	struct beneath_at at;
	int r;

	r = beneath_at(&at, root, rel);
	if (r < 0)
		return r;
	r = fstatat(at.fd, at.leaf, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	beneath_at_release(&at);
	return r;
}

int beneath_chmod(int root, const char *rel, mode_t mode)
{
	char proc[64];
	struct stat st;
	int fd, r = 0;

	fd = beneath_open(root, rel, O_PATH, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISLNK(st.st_mode))
		r = -ELOOP;
	/* an O_PATH fd takes no fchmod(); its /proc link names the inode
	 * itself, never a path that could be swapped */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (r == 0 && chmod(proc, mode) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* --- paths typed by an admin ---------------------------------------- */

/* Can no one but root and us change what is in this directory? */
static int trusted_dir(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return 0;
	if (st.st_mode & S_IWOTH)
		return 0;
	return !(st.st_mode & S_IWGRP) || st.st_gid == 0;
}

/*
 * A sticky directory that anyone may write to (/tmp): others may add
 * entries but not rename or remove ours, so a directory in it that root
 * or we own, reached without following a symlink, is still ours.
 */
static int sticky_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_ISVTX) &&
	       (st.st_uid == 0 || st.st_uid == geteuid());
}

/* Open directory @name in the sticky @dir when it is root's or ours and
 * not a symlink; -1 when not. */
static int sticky_child(int dir, const char *name)
{
	struct stat st;
	int fd;

	fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid())) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Walk the directory part of @path; *@trusted says how it ended. */
static int trusted_walk(struct beneath_at *at, const char *path,
			int *trusted)
{
	char name[NAME_MAX + 1];
	const char *p = path, *e, *slash;
	int cur, fd, r;

	at->fd = -1;
	at->owned = 0;
	at->leaf = NULL;
	if (!*path || path[strlen(path) - 1] == '/')
		return -EINVAL;
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	slash = strrchr(path, '/');
	at->leaf = slash ? slash + 1 : path;
	if (!strcmp(at->leaf, ".") || !strcmp(at->leaf, ".."))
		return -EINVAL;

	cur = open(*path == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	*trusted = trusted_dir(cur);
	while (slash && p < slash) {
		while (*p == '/')
			p++;
		if (p >= slash)
			break;
		e = strchrnul(p, '/');
		if ((size_t)(e - p) > NAME_MAX) {
			close(cur);
			return -ENAMETOOLONG;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(e - p), p);
		if (!*trusted && sticky_dir(cur) && strcmp(name, "..") &&
		    (fd = sticky_child(cur, name)) >= 0) {
			p = e;
			close(cur);
			cur = fd;
			*trusted = trusted_dir(cur);
			continue;
		}
		if (!*trusted) {
			char rest[PATH_MAX];

			/* someone else may change what follows: beneath */
			snprintf(rest, sizeof(rest), "%.*s",
				 (int)(slash - p), p);
			fd = beneath_open(cur, rest, O_PATH | O_DIRECTORY, 0);
			close(cur);
			if (fd < 0)
				return fd;
			cur = fd;
			break;
		}
		p = e;
		if (!strcmp(name, "."))
			continue;
		fd = openat(cur, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		r = -errno;
		close(cur);
		if (fd < 0)
			return r;
		cur = fd;
		*trusted = trusted_dir(cur);
	}
	at->fd = cur;
	at->owned = 1;
	return 0;
}

int trusted_at(struct beneath_at *at, const char *path)
{
	int trusted;

	return trusted_walk(at, path, &trusted);
}

int trusted_open(const char *path, int flags, mode_t mode)
{
	struct beneath_at at;
	int trusted, fd, r;

	r = trusted_walk(&at, path, &trusted);
	if (r < 0)
		return r;
	flags |= O_CLOEXEC;
	if (!trusted)
		flags |= O_NOFOLLOW;
	fd = openat(at.fd, at.leaf, flags, mode);
	r = fd < 0 ? -errno : fd;
	beneath_at_release(&at);
	return r;
}
