/*
 * trust.h - may a folder hold secrets or sockets?  ssh's StrictModes rule
 *
 * A folder is trusted for user @uid when it is a directory owned by @uid
 * or root that no one else can write to (no group or world write bit), and
 * every folder above it, up to /, is owned by @uid or root and writable by
 * no one else unless its sticky bit is set (as /tmp is: others may add
 * names there, but not rename or remove ours).  A symbolic link is
 * followed (unless TRUST_NOFOLLOW), and the folder holding the link is
 * checked as a folder above it, since whoever can write there can point
 * the link elsewhere.
 *
 * Every function fills @why (at most @len bytes) with one line naming the
 * folder at fault, the rule it breaks and the fix; it does not print.
 */
#ifndef SSEFS_UTIL_TRUST_H
#define SSEFS_UTIL_TRUST_H

#include <stddef.h>
#include <sys/types.h>

#define TRUST_NOFOLLOW	(1 << 0)	/* refuse a symbolic link as @path */

/*
 * trust_dir() - check @path (which must exist) for @uid.
 * Return: 0; -EPERM when the rule is broken; -ENOTDIR when @path (or the
 * target of its link) is no directory; another -errno when it cannot be
 * looked at (-ENOENT: it does not exist).
 */
int trust_dir(const char *path, uid_t uid, int flags, char *why, size_t len);

/*
 * trust_mkdir() - make @path with @mode (and its missing parents, also
 * @mode) unless it exists, then trust_dir() it.  The folders above
 * @path that exist are checked first, so nothing is made beneath a folder
 * another user controls.  Return: as trust_dir(), or -errno from mkdir.
 */
int trust_mkdir(const char *path, mode_t mode, uid_t uid, int flags,
		char *why, size_t len);

#endif /* SSEFS_UTIL_TRUST_H */
