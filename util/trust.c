/*
 * trust.c - may a folder hold secrets or sockets?  ssh's StrictModes rule
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/io.h"
#include "util/trust.h"

/* "alice (uid 1001)", or "uid 1001" for a uid without a name. */
static void who(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) || !res)
		snprintf(buf, len, "uid %u", (unsigned int)uid);
	else
		snprintf(buf, len, "%.64s (uid %u)", res->pw_name,
			 (unsigned int)uid);
}

/* "alice (uid 1001) or root", or "root" for root. */
static void you(uid_t uid, char *buf, size_t len)
{
	char w[96];

	if (!uid) {
		snprintf(buf, len, "root");
		return;
	}
	who(uid, w, sizeof(w));
	snprintf(buf, len, "%s or root", w);
}

static int owned_ok(const struct stat *st, uid_t uid)
{
	return st->st_uid == uid || st->st_uid == 0;
}

/* Drop the last component of the absolute path @p in place ("/" stays). */
static void up(char *p)
{
	char *s = strrchr(p, '/');

	if (s == p)
		p[1] = '\0';
	else if (s)
		*s = '\0';
}

/*
 * The folders from @real (a resolved absolute path, included) up to /:
 * owned by @uid or root, writable by no one else unless sticky.  @below
 * names the folder they are above, for the message.
 */
static int check_above(const char *real, const char *below, uid_t uid,
		       char *why, size_t len)
{
	char p[PATH_MAX], owner[96], me[112];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s", real) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (;;) {
		if (stat(p, &st) < 0)
			return -errno;
		if (!owned_ok(&st, uid)) {
			who(st.st_uid, owner, sizeof(owner));
			you(uid, me, sizeof(me));
			snprintf(why, len, "%s, a folder above %s, is owned by "
				 "%s, not by %s, who could replace "
				 "what is in it (ssh's StrictModes rule): use "
				 "a folder elsewhere", p, below, owner, me);
			return -EPERM;
		}
		if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
			snprintf(why, len, "%s, a folder above %s, is writable "
				 "by others and not sticky (mode %04o), so "
				 "they could replace what is in it (ssh's "
				 "StrictModes rule): chmod go-w %s, or use a "
				 "folder elsewhere", p, below,
				 (unsigned int)(st.st_mode & 07777), p);
			return -EPERM;
		}
		if (!strcmp(p, "/"))
			return 0;
		up(p);
	}
}

int trust_dir(const char *path, uid_t uid, int flags, char *why, size_t len)
{
	char real[PATH_MAX], owner[96], me[112];
	struct stat st;
	int r;

	*why = '\0';
	if (lstat(path, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		char link[PATH_MAX], dir[PATH_MAX];

		if (flags & TRUST_NOFOLLOW) {
			snprintf(why, len, "%s is a symbolic link, not a "
				 "folder: remove it", path);
			return -EPERM;
		}
		/* whoever can write beside the link can re-point it */
		if (snprintf(link, sizeof(link), "%s", path) >=
		    (int)sizeof(link))
			return -ENAMETOOLONG;
		if (!strchr(link, '/'))
			snprintf(link, sizeof(link), "./%s", path);
		up(link);
		if (!realpath(*link ? link : "/", dir))
			return -errno;
		r = check_above(dir, path, uid, why, len);
		if (r < 0)
			return r;
	}
	if (!realpath(path, real))
		return -errno;
	if (stat(real, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a folder", path);
		return -ENOTDIR;
	}
	if (!owned_ok(&st, uid)) {
		who(st.st_uid, owner, sizeof(owner));
		you(uid, me, sizeof(me));
		snprintf(why, len, "%s is owned by %s, not by %s (ssh's StrictModes rule): have it removed, or use a "
			 "folder of your own", path, owner, me);
		return -EPERM;
	}
	if (st.st_mode & 022) {
		snprintf(why, len, "%s is writable by group or others (mode "
			 "%04o; ssh's StrictModes rule): chmod go-w %s", path,
			 (unsigned int)(st.st_mode & 07777), path);
		return -EPERM;
	}
	if (!strcmp(real, "/"))
		return 0;
	up(real);
	return check_above(real, path, uid, why, len);
}

int trust_mkdir(const char *path, mode_t mode, uid_t uid, int flags,
		char *why, size_t len)
{
	char p[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int r;

	*why = '\0';
	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	if (lstat(p, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		/* the nearest folder that exists, and those above it, must
		 * be safe before anything is made in them */
		do {
			if (!strchr(p, '/') || !strcmp(p, "/"))
				snprintf(p, sizeof(p), ".");
			else
				up(p);
		} while (lstat(p, &st) < 0 && errno == ENOENT &&
			 strcmp(p, "."));
		if (!realpath(p, real))
			return -errno;
		r = check_above(real, path, uid, why, len);
		if (r < 0)
			return r;
		r = io_mkdirs(path, mode);
		if (r < 0)
			return r;
	}
	return trust_dir(path, uid, flags, why, len);
}
