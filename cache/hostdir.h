/*
 * hostdir.h - the host cache directory (-o host_cache=DIR)
 *
 * One directory on fast host storage holds a mount's host cache file and
 * its temp disk.  A mount owns it for as long as it runs: hostdir_open()
 * creates it (mode 0700) when missing, refuses one inside the store or the
 * mount point, and takes DIR/.ssefs-host.lock (flock), so two mounts never
 * share a cache; the lock file holds the owning daemon's pid.
 */
#ifndef SSEFS_CACHE_HOSTDIR_H
#define SSEFS_CACHE_HOSTDIR_H

#include <sys/types.h>

#define HOSTDIR_LOCK_FILE	".ssefs-host.lock"

struct hostdir {
	char *path;		/* realpath of DIR */
	int fd;			/* O_DIRECTORY */
	int lock_fd;		/* the held flock */
};

/*
 * hostdir_open() - open (creating, mode 0700) the host cache directory
 * @dir for the store @store mounted on @mnt (both realpaths).
 * Return: 0; -EBUSY (another mount holds it; *@holder its pid or 0);
 * -ELOOP (inside the store or the mount point, or holding them);
 * -ENOTDIR; -errno.
 */
int hostdir_open(struct hostdir *hd, const char *dir, const char *store,
		 const char *mnt, pid_t *holder);

/* Record @pid in the lock file (after the daemon detached). */
void hostdir_set_pid(struct hostdir *hd, pid_t pid);

/* Close and unlock; @hd can be opened again. */
void hostdir_close(struct hostdir *hd);

#endif /* SSEFS_CACHE_HOSTDIR_H */
