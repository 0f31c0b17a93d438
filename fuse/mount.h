/*
 * mount.h - the mount daemon: lock the store, mount, serve, tear down
 */
#ifndef SSEFS_FUSE_MOUNT_H
#define SSEFS_FUSE_MOUNT_H

#include <sys/types.h>

#include "fuse/opts.h"

struct fuse_args;
struct vault;

#define SSEFS_LOCK_FILE	".ssefs.lock"	/* in the store; hidden (no magic) */

/*
 * mount_lock_store() - take the store's lock (STORE/.ssefs.lock, flock
 * LOCK_EX|LOCK_NB), so one daemon serves a store.  *@fd is the held lock.
 * Return: 0; -EBUSY when another process holds it (*@holder: its pid as
 * written in the file, or 0 if unknown); -errno.
 */
int mount_lock_store(const char *store, int *fd, pid_t *holder);

/*
 * mount_store_held() - does some process hold @store's lock, that is, is
 * a daemon serving it?  Read from /proc/locks, so that asking takes no
 * lock that a mount starting at that moment could find taken.
 * Return: 1, 0 (also when the store has no lock file), or -errno.
 */
int mount_store_held(const char *store);

/* Write our pid into the held lock file (after daemonising). */
void mount_lock_set_pid(int fd, pid_t pid);

struct ssefs_mount_args {
	const char *store;		/* realpath */
	const char *mnt;		/* realpath */
	struct vault *vault;		/* open; the daemon uses it, the
					 * caller closes it afterwards */
	const char *vault_dir;
	struct mount_opts *opts;	/* moved into the daemon's state */
	struct fuse_args *fargs;	/* libfuse's options ("-o ...") */
	int foreground;			/* -f: no daemon, log to stderr */
	int json;			/* --json: print the mount once it
					 * is in place */
	int lock_fd;			/* from mount_lock_store() */
	struct hostdir *host;		/* -o host_cache: opened and locked
					 * (fd -1 when none); taken over */
};

/*
 * ssefs_mount_main() - mount @a->store on @a->mnt and serve it until it is
 * unmounted or the daemon gets SIGTERM/SIGINT/SIGHUP; then close every
 * volume (sizes persisted, keys wiped).  Prints its own errors (stderr, or
 * syslog once detached).  Return: an exit code (0 after a clean unmount).
 */
int ssefs_mount_main(struct ssefs_mount_args *a);

#endif /* SSEFS_FUSE_MOUNT_H */
