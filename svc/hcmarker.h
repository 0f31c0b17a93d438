/*
 * hcmarker.h - the store's host-cache marker: STORE/.ssefs-hostcache names
 * the host cache directory while a ReadWrite cache may hold data the store
 * lacks.  The mount writes it and removes it; a mount that would not
 * replay it refuses the store; `disk export` and `snapshot` ask it.
 * Locking: none here; a mount writes and removes the marker only while
 * it holds the store lock (svc/storelock.h).
 */
#ifndef SSEFS_SVC_HCMARKER_H
#define SSEFS_SVC_HCMARKER_H

#include <stddef.h>

#define HC_MARKER	".ssefs-hostcache"

/* hcm_read() - read the marker of the store open at @store_fd.  Return:
 * 1 with the cache directory it names in @dir, 0 when there is none, or
 * -errno. */
int hcm_read(int store_fd, char *dir, size_t len);

/* hcm_cache_gone() - 1 when the cache file in @dir is gone (and what it
 * held with it), else 0. */
int hcm_cache_gone(const char *dir);

/* hcm_write() - write @store's marker naming cache directory @dir,
 * atomically.  Return: 0 or -errno. */
int hcm_write(const char *store, const char *dir);

/* hcm_remove() - remove the marker of the store open at @store_fd (none is
 * fine) and sync the store directory.  Return: 0 or -errno. */
int hcm_remove(int store_fd);

/*
 * hcm_unreplayed() - for `disk export` and `snapshot`, which read a disk's
 * file directly: does the store holding @disk (the nearest directory
 * above it with HC_MARKER) name a ReadWrite host cache that no mount is
 * serving and that still exists, so that it may hold writes the file
 * lacks?  Return: 1 with the store's path in @store and the cache
 * directory in @dir, 0, or -errno.
 */
int hcm_unreplayed(const char *disk, char *store, size_t store_len,
		   char *dir, size_t dir_len);

#endif /* SSEFS_SVC_HCMARKER_H */
