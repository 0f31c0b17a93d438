/*
 * mount.h - the mount daemon: mount, serve, tear down
 */
#ifndef SSEFS_FUSE_MOUNT_H
#define SSEFS_FUSE_MOUNT_H

#include <sys/types.h>

#include "fuse/opts.h"

struct fuse_args;
struct vault;

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
	int lock_fd;			/* from store_lock() */
	struct hostdir *host;		/* -o host_cache: opened and locked
					 * (fd -1 when none); taken over */
};

/*
 * ssefs_mount_main() - mount @a->store on @a->mnt and serve it until it is
 * unmounted or the daemon gets SIGTERM/SIGINT/SIGHUP; then close every
 * volume (sizes persisted, keys wiped).  Prints its own errors (stderr, or
 * syslog once detached).  Return: 0 after a clean unmount; -EINVAL when
 * libfuse refused the options; -ENOMEM or -EIO when the mount failed
 * otherwise (the error already told).
 */
int ssefs_mount_main(struct ssefs_mount_args *a);

#endif /* SSEFS_FUSE_MOUNT_H */
