/*
 * linger.c - the last close of a disk whose ReadWrite host cache still
 * holds dirty sectors, and the task that closes such a disk once clean
 *
 * A ReadWrite cache is crash-safe (cache/hcache.h): what it acknowledged
 * is replayed after a crash.  So the last close does not wait for the
 * write-back, which into a blob store can take minutes: the disk stays
 * open ("lingers": its volume, keys, lease and in-use mark kept, no file
 * handle) while the cache's own thread writes it back, and this task
 * closes it as a last close does once nothing is dirty.  An open meanwhile
 * shares the volume (node_open() in fuse/ops.c); unmount closes what still
 * lingers, writing it back (ssefs_fs_close_all()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache/hcache.h"
#include "disk/volume.h"
#include "fuse/fs.h"
#include "fuse/linger.h"
#include "fuse/tasks.h"
#include "fuse/timer.h"
#include "util/log.h"

static struct timer closer;

/* Close @n's volume as the last close does.  Caller holds n->lock. */
static int close_now(struct disk_node *n)
{
	int r = 0;

	if (!vol_is_rdonly(n->vol))
		r = vol_flush(n->vol);
	vol_close(n->vol);
	n->vol = NULL;
	n->probed = 0;		/* the header changed: re-probe */
	return r;
}

int node_last_close(struct disk_node *n)
{
	uint64_t dirty = 0;

	if (!n->unlinked && n->state != DISK_REVOKED &&
	    vol_write_back(n->vol, &dirty) && dirty)
		return vol_persist_size(n->vol);	/* it lingers */
	return close_now(n);
}

int node_lingers(struct disk_node *n)
{
	return n->vol && !n->refs && !(n->flags & NODE_OUTSIDE);
}

/* Close @n if it lingers and its cache has written it all back (or it
 * was revoked meanwhile: closed as a last close of it would be). */
static void check(struct disk_node *n)
{
	uint64_t dirty = 0;

	pthread_mutex_lock(&n->lock);
	if (node_lingers(n) &&
	    (n->unlinked || n->state == DISK_REVOKED ||
	     !vol_write_back(n->vol, &dirty) || !dirty)) {
		int r = close_now(n);

		if (r < 0 && r != -EKEYREVOKED)
			warning("disk %s: closing after its write-back: %s; "
				"what is left stays in the host cache", n->rel,
				strerror(-r));
	}
	pthread_mutex_unlock(&n->lock);
}

static void tick(struct ssefs_fs *fs)
{
	struct disk_node **all = NULL, **p, *n;
	size_t cnt = 0, cap = 0;
	unsigned int b;

	/*
	 * Every node, then each under its own lock without fs->lock: nodes
	 * live until unmount, and revocation takes fs->lock under a node's
	 * lock (ssefs_fs_invalidate()), so no node lock is taken here while
	 * holding fs->lock.
	 */
	pthread_mutex_lock(&fs->lock);
	for (b = 0; b <= SSEFS_NBUCKETS; b++) {
		n = b < SSEFS_NBUCKETS ? fs->bucket[b] : fs->graveyard;
		for (; n; n = n->next) {
			if (cnt == cap) {
				cap = cap ? cap * 2 : 64;
				p = realloc(all, cap * sizeof(*all));
				if (!p)
					goto out;
				all = p;
			}
			all[cnt++] = n;
		}
	}
out:
	pthread_mutex_unlock(&fs->lock);
	for (size_t i = 0; i < cnt; i++)
		check(all[i]);
	free(all);
}

int linger_start(struct ssefs_fs *fs)
{
	if (!fs->hc || hc_mode(fs->hc) != HC_READWRITE)
		return 0;		/* no disk ever lingers */
	/* the cache writes back every writeback_delay; look every second */
	return timer_start(&closer, fs, 1, tick);
}

void linger_stop(struct ssefs_fs *fs)
{
	(void)fs;
	timer_stop(&closer);
}
