/*
 * storelock.h - the store's lock: one mount daemon serves a store, and the
 * commands that read a store's files directly ask whether one does
 */
#ifndef SSEFS_SVC_STORELOCK_H
#define SSEFS_SVC_STORELOCK_H

#include <sys/types.h>

#define SSEFS_LOCK_FILE	".ssefs.lock"	/* in the store; hidden (no magic) */

/*
 * store_lock() - take the store's lock (STORE/.ssefs.lock, flock
 * LOCK_EX|LOCK_NB), so one daemon serves a store.  *@fd is the held lock.
 * Return: 0; -EBUSY when another process holds it (*@holder: its pid as
 * written in the file, or 0 if unknown); -errno.
 */
int store_lock(const char *store, int *fd, pid_t *holder);

/*
 * store_lock_held() - does some process hold @store's lock, that is, is
 * a daemon serving it?  Read from /proc/locks, so that asking takes no
 * lock that a mount starting at that moment could find taken.
 * Return: 1, 0 (also when the store has no lock file), or -errno.
 */
int store_lock_held(const char *store);

/* Write our pid into the held lock file (after daemonising). */
void store_lock_set_pid(int fd, pid_t pid);

#endif /* SSEFS_SVC_STORELOCK_H */
