/*
 * tasks.h - the mount's background tasks, listed in ssefs_tasks[]
 * (fuse/tasks.c; struct ssefs_task in fuse/fs.h).  Each start returns 0 or
 * -errno; stop undoes it.  The temp disk's pair is in fuse/tempdisk.h.
 */
#ifndef SSEFS_FUSE_TASKS_H
#define SSEFS_FUSE_TASKS_H

struct ssefs_fs;

/* The key-state watcher (fuse/revoke.c): every key_check_interval, each
 * open disk's key versions are checked; grace, revocation, resumption. */
int revoke_start(struct ssefs_fs *fs);
void revoke_stop(struct ssefs_fs *fs);

/* The rotation timer (fuse/rotate.c): every rotate_interval, the pass of
 * `ssefs rotate STORE` (svc/rotation.h) for this store. */
int rotate_start(struct ssefs_fs *fs);
void rotate_stop(struct ssefs_fs *fs);

/* The closer of lingering disks (fuse/linger.c): every second, a disk
 * whose last close left its ReadWrite cache dirty is closed once clean.
 * Started only with caching=ReadWrite. */
int linger_start(struct ssefs_fs *fs);
void linger_stop(struct ssefs_fs *fs);

#endif /* SSEFS_FUSE_TASKS_H */
