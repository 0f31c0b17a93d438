/*
 * cache.h - the mount's host cache (-o caching=ReadOnly|ReadWrite)
 */
#ifndef SSEFS_FUSE_CACHE_H
#define SSEFS_FUSE_CACHE_H

struct ssefs_fs;

/*
 * fs_cache_open() - open the host cache in fs->host for the store (after
 * the store scan, before the daemon detaches) and replay what an earlier
 * mount left dirty in it: each such disk is opened, its sectors written
 * back and synced, and closed again (keys wiped).  A disk that cannot be
 * opened keeps its sectors in the cache for a later mount (a warning says
 * so).  Prints its own messages.  Return: 0, or -1 when the mount must
 * not go on.
 */
int fs_cache_open(struct ssefs_fs *fs);

/* Close the host cache (after every disk closed); with nothing left in it
 * to replay, remove the store's marker. */
void fs_cache_close(struct ssefs_fs *fs);

/* Start the background write-back (after the daemon detached). */
int fs_cache_start(struct ssefs_fs *fs);

#endif /* SSEFS_FUSE_CACHE_H */
