/*
 * cache.c - the mount's host cache: open, replay, start
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/hcache.h"
#include "cache/hcdev.h"
#include "disk/volume.h"
#include "fuse/cache.h"
#include "fuse/fs.h"
#include "svc/hcmarker.h"
#include "util/log.h"
#include "util/parse.h"

struct find_uuid {
	const uint8_t *uuid;
	struct disk_node *found;
};

static int match_uuid(struct ssefs_fs *fs, struct disk_node *n, void *arg)
{
	struct find_uuid *f = arg;
	int hit;

	(void)fs;
	pthread_mutex_lock(&n->lock);
	hit = n->probe_rc == 0 && !n->unlinked &&
	      !(n->flags & NODE_NO_VAULT) &&
	      !memcmp(n->hdr.uuid, f->uuid, sizeof(n->hdr.uuid));
	pthread_mutex_unlock(&n->lock);
	if (hit)
		f->found = n;
	return hit;
}

/* Write back what an earlier mount left of disk @uuid, and say so. */
static void replay_disk(struct ssefs_fs *fs, const uint8_t uuid[16])
{
	struct find_uuid f = { uuid, NULL };
	struct hc_stats before, after;
	uint64_t adopted = 0, ignored;
	struct volume *vol = NULL;
	char id[37];
	int r;

	format_uuid(uuid, id);
	ssefs_fs_for_each_disk(fs, match_uuid, &f);
	if (!f.found) {
		warning("host cache: disk %s has data to write back but is "
			"not in store %s; the data stays in the cache", id,
			fs->store);
		return;
	}
	hc_get_stats(fs->hc, &before);
	r = ssefs_fs_open_volume(fs, f.found->rel, 0, &vol);
	if (r == 0)
		r = hcdev_attach(vol, fs->hc);
	hc_get_stats(fs->hc, &after);
	/* nothing else is open yet; sectors of the other kind (cipher- or
	 * plaintext) were written back at attach */
	adopted = after.dirty + (after.writebacks - before.writebacks);
	if (r == 0)
		r = vol_flush(vol);
	if (vol) {
		int r2 = vol_close(vol);

		if (r == 0)
			r = r2;
	}
	/* (entries past the disk's end were dropped: neither count) */
	ignored = after.refused - before.refused;
	if (ignored)
		warning("disk %s: %llu host cache entr%s failed %s check "
			"(torn by the crash, or altered) and %s ignored",
			f.found->rel, (unsigned long long)ignored,
			ignored == 1 ? "y" : "ies", ignored == 1 ? "its" :
			"their", ignored == 1 ? "was" : "were");
	if (r < 0) {
		warning("disk %s: cannot write back its host cache data: %s; "
			"the data stays in the cache for the next mount",
			f.found->rel, strerror(-r));
		return;
	}
	warning("disk %s: wrote back %llu sector%s from the host cache "
		"(an earlier mount ended without doing so)", f.found->rel,
		(unsigned long long)adopted, adopted == 1 ? "" : "s");
}

/*
 * STORE/.ssefs-hostcache names the host cache directory while a
 * ReadWrite cache may hold data the store lacks.  A mount that would not
 * replay it (no cache, or another directory) is refused: its writes would
 * be overwritten by the replay of older data later.
 */
static int check_marker(struct ssefs_fs *fs)
{
	char dir[PATH_MAX];
	int r;

	if (fs->blob)
		return 0;	/* no marker in a container (yet) */
	r = hcm_read(fs->store_fd, dir, sizeof(dir));
	if (r <= 0)
		return r == 0 ? 0 : (error("store %s: %s: %s", fs->store,
					   HC_MARKER, strerror(-r)), -1);
	if (fs->opts.caching != CACHING_NONE && fs->host.path &&
	    !strcmp(dir, fs->host.path))
		return 0;		/* this mount replays it */
	if (dir[0] && hcm_cache_gone(dir)) {
		warning("store %s: the host cache %s/%s named in %s is gone; "
			"what it held is lost", fs->store, dir, HC_FILE,
			HC_MARKER);
		hcm_remove(fs->store_fd);
		return 0;
	}
	error("store %s: host cache %s may hold data not yet written to "
	      "this store (a mount with caching=ReadWrite did not end "
	      "cleanly): mount with -o host_cache=%s,caching=ReadWrite to "
	      "write it back, or remove %s/%s to discard it", fs->store, dir,
	      dir, fs->store, HC_MARKER);
	return -1;
}

void fs_cache_close(struct ssefs_fs *fs)
{
	int clean, r;

	if (!fs->hc)
		return;
	clean = hc_pending(fs->hc, NULL, 0) == 0;
	/* nothing of the cache outlives a clean unmount (plaintext, with
	 * encryption at host off); what the store lacks stays */
	r = hc_remove(fs->hc);
	if (r < 0)
		warning("host cache %s/%s: cannot remove it: %s", fs->host.path,
			HC_FILE, strerror(-r));
	hc_close(fs->hc);
	fs->hc = NULL;
	/* nothing left to replay: a mount without this cache is safe */
	if (clean && !fs->blob)
		hcm_remove(fs->store_fd);
}

int fs_cache_open(struct ssefs_fs *fs)
{
	struct hc_params p;
	uint8_t (*uuids)[16];
	char err[4400], note[4400];
	unsigned int n;
	int r;

	if (check_marker(fs) < 0)
		return -1;
	if (fs->opts.caching == CACHING_NONE)
		return 0;
	memset(&p, 0, sizeof(p));
	p.dir = fs->host.path;
	p.store = fs->store;
	p.size = mount_cache_size(&fs->opts);
	p.mode = fs->opts.caching == CACHING_READWRITE ? HC_READWRITE :
							 HC_READONLY;
	p.plain = !fs->opts.encryption_at_host;
	p.writeback_delay = fs->opts.writeback_delay > 86400 ? 86400 :
			    (unsigned int)fs->opts.writeback_delay;
	r = hc_open(&fs->hc, &p, err, sizeof(err), note, sizeof(note));
	if (r < 0) {
		if (err[0])
			error("host cache: %s", err);
		else
			error("host cache %s: %s", fs->host.path,
			      strerror(-r));
		return -1;
	}
	if (note[0])
		warning("host cache: %s", note);
	if (p.mode == HC_READWRITE && !fs->blob) {
		r = hcm_write(fs->store, fs->host.path);
		if (r < 0) {
			error("store %s: cannot write %s: %s", fs->store,
			      HC_MARKER, strerror(-r));
			return -1;
		}
	}
	/* every disk with something to replay (at most one per entry) */
	n = hc_pending(fs->hc, NULL, 0);
	if (!n)
		return 0;
	uuids = calloc(n, sizeof(*uuids));
	if (!uuids) {
		error("host cache: out of memory");
		return -1;
	}
	n = hc_pending(fs->hc, uuids, n);
	for (unsigned int i = 0; i < n; i++)
		replay_disk(fs, uuids[i]);
	free(uuids);
	return 0;
}

int fs_cache_start(struct ssefs_fs *fs)
{
	return fs->hc ? hc_start(fs->hc) : 0;
}
