/*
 * beneath.h - resolve paths beneath a directory, following no symlink
 *
 * A store is a boundary: a user who can write to a folder inside it can
 * swap that folder for a symlink at any moment, and openat(), linkat(),
 * unlinkat() and friends follow a symlink in the middle of a path.  So
 * every path the daemon or a command resolves inside a store goes through
 * here: openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS where the kernel has it, else a walk one component
 * at a time with O_NOFOLLOW.  Either way a path never leaves the root,
 * never names ".." and never passes a symlink, the last component included
 * (ELOOP), whatever happens meanwhile.
 *
 * The *at() system calls that take a name (mkdirat, unlinkat, renameat2,
 * linkat, fchownat and utimensat with AT_SYMLINK_NOFOLLOW, fstatat with
 * AT_SYMLINK_NOFOLLOW) act on a leaf name in a verified parent directory:
 * beneath_at() gives that pair.  Paths are relative ("a/b.vhd"; "" and "."
 * are the root itself); an absolute path or a ".." component is -EXDEV.
 *
 * Commands take paths that an admin typed, which have no store root to be
 * beneath: trusted_at() and trusted_open() walk such a path from "/" (or
 * the working directory) and follow a symlink only while every directory
 * so far can be changed by no one but root and the caller; from the first
 * directory that anyone else can write to, the rest is resolved beneath it
 * as above.  A sticky directory (/tmp) does not end the trust for a
 * directory in it that root or the caller owns and that is not reached
 * through a symlink: others cannot rename or remove it there.
 *
 * Returns are fds or 0, and negative errnos; nothing prints.  Thread-safe.
 */
#ifndef SSEFS_UTIL_BENEATH_H
#define SSEFS_UTIL_BENEATH_H

#include <sys/stat.h>
#include <sys/types.h>

/* Test hook: set (to anything) to force the component walk, as on a
 * kernel without openat2(2). */
#define BENEATH_WALK_ENV	"SSEFS_BENEATH_WALK"

/*
 * beneath_open() - open @rel beneath the directory @root (an fd; O_PATH
 * will do) with @flags (O_CLOEXEC and O_NOFOLLOW are added) and @mode.
 * O_CREAT, O_EXCL, O_TMPFILE, O_DIRECTORY and O_PATH work as in openat();
 * with O_PATH a symlink leaf is opened itself rather than refused; with
 * O_DIRECTORY a symlink (leaf or not) is -ENOTDIR, as in open(2).
 * Return: the new fd, or -EXDEV (escape), -ELOOP (symlink), -errno.
 */
int beneath_open(int root, const char *rel, int flags, mode_t mode)
	__attribute__((warn_unused_result));

/* A verified parent directory and the leaf name in it. */
struct beneath_at {
	int fd;			/* the parent (O_PATH), or the root */
	const char *leaf;	/* points into the caller's path */
	int owned;		/* fd is ours to close */
};

/*
 * beneath_at() - the parent directory of @rel beneath @root, and its last
 * component.  A name at the top (no '/') costs no system call: @at->fd is
 * @root.  The leaf is never "" or ".." ("." only for the root itself).
 * Release with beneath_at_release().  Return: 0 or a negative errno.
 */
int beneath_at(struct beneath_at *at, int root, const char *rel)
	__attribute__((warn_unused_result));
void beneath_at_release(struct beneath_at *at);

/* lstat(2) of @rel beneath @root.  Return: 0 or a negative errno. */
int beneath_stat(int root, const char *rel, struct stat *st);

/*
 * beneath_chmod() - chmod(2) of @rel beneath @root; a symlink leaf is
 * refused (-ELOOP), not followed.  Return: 0 or a negative errno.
 */
int beneath_chmod(int root, const char *rel, mode_t mode);

/*
 * trusted_at() - the parent directory of @path (absolute, or relative to
 * the working directory) and its last component, walked as described
 * above.  Return: 0 or a negative errno (-EINVAL: @path ends in "/", ".",
 * ".." or is empty).
 */
int trusted_at(struct beneath_at *at, const char *path)
	__attribute__((warn_unused_result));

/*
 * trusted_open() - open @path walked as trusted_at() does; the last
 * component is followed only when it is a symlink in a trusted directory
 * and @flags lack O_NOFOLLOW.  Return: the fd or a negative errno.
 */
int trusted_open(const char *path, int flags, mode_t mode)
	__attribute__((warn_unused_result));

#endif /* SSEFS_UTIL_BENEATH_H */
