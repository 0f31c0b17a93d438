/*
 * revoke.c - the key-state watcher: grace, revocation, resumption
 *
 * Every key_check_interval the watcher reads the state of each open disk's
 * key versions, from the header on disk (a rotation may have moved it).
 * A disk whose key stopped being usable enters its grace period (the
 * DiskKeyRevoked event goes out now, so admins can act); when the grace
 * ends, its dirty data is flushed, the kernel's cached pages are dropped,
 * and its DEKs are wiped: I/O then fails with EKEYREVOKED.  When the key
 * is usable again the DEKs are unwrapped afresh and I/O resumes
 * (DiskKeyRestored), without a remount.  A vault that cannot be read
 * counts as unusable only after three failed checks in a row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/envelope.h"
#include "disk/volume.h"
#include "fuse/fs.h"
#include "fuse/tasks.h"
#include "fuse/timer.h"
#include "keyvault/events.h"
#include "keyvault/vault.h"
#include "util/log.h"
#include "util/loopdev.h"

#define VAULT_FAILS_TO_REVOKE	3

static struct timer watcher;
static int vault_fails;

static void tell(struct ssefs_fs *fs, enum event_type type,
		 struct disk_node *n, const char *kid, const char *detail)
{
	char disk[4096];
	struct event ev = {
		.type = type, .kid = kid, .detail = detail,
	};
	int r;

	if (ssefs_fs_abspath(fs, n->rel, disk, sizeof(disk)) == 0)
		ev.disk = disk;
	ev.des = *n->hdr.des ? n->hdr.des : NULL;
	ssefs_fs_vault_lock(fs);
	ev.vault = vault_name(fs->vault);
	vault_audit(fs->vault, type == EV_DISK_KEY_REVOKED ?
		    "event.DiskKeyRevoked" : "event.DiskKeyRestored", kid, 0);
	ssefs_fs_vault_unlock(fs);
	info("disk %s: %s%s%s", n->rel, event_name(type),
	     detail ? ": " : "", detail ? detail : "");
	r = event_notify(fs->opts.notify, &ev);
	if (r)
		warning("notify command failed for %s on %s", event_name(type),
			n->rel);
}

/*
 * The first unusable key version of the disk at @n (NULL: all usable),
 * with why in @why.  @vault_ok 0: the vault has been unreadable for long
 * enough to count.
 */
static const char *unusable_kid(struct ssefs_fs *fs, const struct env_header *h,
				int vault_ok, char *why, size_t len)
{
	if (!vault_ok) {
		snprintf(why, len, "vault unreadable");
		return h->layer[0].kid;
	}
	{
		unsigned int i;
		enum key_state st = ssefs_fs_key_state(fs, h, &i);

		if (st != KEY_USABLE) {
			snprintf(why, len, "%s %s", h->layer[i].kid,
				 key_state_name(st));
			return h->layer[i].kid;
		}
	}
	return NULL;
}

struct loop_match {
	const char *path;	/* the disk's path in the mount */
	const char *rel;
};

static int drop_one(int nr, const char *backing, void *arg)
{
	struct loop_match *m = arg;
	int r;

	if (strcmp(backing, m->path))
		return 0;
	r = loopdev_drop_cache(nr);
	if (r < 0)
		warning("disk %s: cannot drop the page cache of /dev/loop%d: "
			"%s", m->rel, nr, strerror(-r));
	return 0;
}

/*
 * A disk attached as a loop device (ssefs disk attach): a buffered reader
 * of /dev/loopN may have left plaintext in that device's own page cache,
 * which FUSE's invalidation does not reach.  Called without the node's
 * lock: the write-back it may cause comes back through the daemon.
 */
static void drop_loop_caches(struct ssefs_fs *fs, const char *rel)
{
	char path[4096];
	struct loop_match m = { path, rel };

	if (snprintf(path, sizeof(path), "%s/%s", fs->mnt, rel) >=
	    (int)sizeof(path))
		return;
	loopdev_each(drop_one, &m);
}

/*
 * Drop every page of @n the kernel may hold in plaintext: the FUSE file's
 * and those of any loop device over it.  Dirty pages are written back
 * first, through the daemon, so the caller holds no lock.
 */
static void drop_cached_pages(struct ssefs_fs *fs, struct disk_node *n)
{
	ssefs_fs_invalidate(fs, n);
	drop_loop_caches(fs, n->rel);
}

/*
 * The grace of @n has ended: write back and wipe.  The kernel's pages are
 * dropped once while the keys still work (so what was dirty reaches the
 * store) and once after the wipe (so nothing read meanwhile survives);
 * only then does `ssefs status` say revoked.  Return: 1 if revoked.
 */
static int revoke(struct ssefs_fs *fs, struct disk_node *n)
{
	int wiped = 0;

	drop_cached_pages(fs, n);
	pthread_mutex_lock(&n->lock);
	if (n->vol && n->state == DISK_GRACE) {
		int r = vol_flush(n->vol);

		if (r < 0)
			warning("disk %s: flush before revocation: %s", n->rel,
				strerror(-r));
		vol_drop_keys(n->vol);
		wiped = 1;
	}
	pthread_mutex_unlock(&n->lock);
	if (!wiped)
		return 0;	/* closed meanwhile: its keys went with it */
	drop_cached_pages(fs, n);
	pthread_mutex_lock(&n->lock);
	if (n->vol) {
		n->state = DISK_REVOKED;
		n->state_since = time(NULL);
	}
	pthread_mutex_unlock(&n->lock);
	return 1;
}

/*
 * One disk's turn of the watcher, the only thread that moves n->state.
 * The kernel is called back (page invalidation) outside n->lock: fs->lock
 * comes before a node's lock, and write-back comes through the daemon.
 */
static int check_disk(struct ssefs_fs *fs, struct disk_node *n, void *arg)
{
	int vault_ok = *(int *)arg;
	char why[sizeof(n->state_detail)], kid[ENV_KID_MAX + 1];
	struct env_header h;
	const char *bad;
	time_t now = time(NULL);
	int restored = 0, expired = 0, entered = 0;

	if (n->flags & NODE_NO_VAULT)
		return 0;		/* no vault key to lose */
	pthread_mutex_lock(&n->lock);
	if (!n->vol) {
		/* closed: no keys in memory; a fresh open asks the vault */
		n->state = DISK_OK;
		n->state_detail[0] = '\0';
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	vol_get_header(n->vol, &h);
	bad = unusable_kid(fs, &h, vault_ok, why, sizeof(why));
	snprintf(kid, sizeof(kid), "%s", bad ? bad : h.layer[0].kid);

	if (bad && n->state == DISK_OK) {
		n->state = DISK_GRACE;
		n->state_since = now;
		snprintf(n->state_detail, sizeof(n->state_detail), "%s", why);
		entered = 1;
	}
	if (bad && n->state == DISK_GRACE &&
	    (uint64_t)(now - n->state_since) >= fs->opts.revoke_grace)
		expired = 1;
	if (!bad && n->state == DISK_GRACE) {
		n->state = DISK_OK;
		n->state_detail[0] = '\0';
		restored = 1;
	}
	if (!bad && n->state == DISK_REVOKED) {
		int r = vol_reload_keys(n->vol);

		if (r == 0) {
			n->state = DISK_OK;
			n->state_since = now;
			n->state_detail[0] = '\0';
			restored = 2;	/* and pages cached as errors go */
		} else {
			snprintf(n->state_detail, sizeof(n->state_detail),
				 "keys usable again but unwrap failed: %s",
				 strerror(-r));
		}
	}
	pthread_mutex_unlock(&n->lock);

	if (entered)
		tell(fs, EV_DISK_KEY_REVOKED, n, kid, why);
	if (expired && revoke(fs, n))
		warning("disk %s: keys wiped, I/O fails with EKEYREVOKED (%s)",
			n->rel, why);
	if (restored == 2)
		ssefs_fs_invalidate(fs, n);
	if (restored)
		tell(fs, EV_DISK_KEY_RESTORED, n, kid, NULL);
	return 0;
}

static void watch(struct ssefs_fs *fs)
{
	struct vault_key *keys = NULL;
	size_t nkeys = 0;
	int r, vault_ok;

	/* can the vault be read at all? */
	ssefs_fs_vault_lock(fs);
	r = vault_key_list(fs->vault, &keys, &nkeys);
	ssefs_fs_vault_unlock(fs);
	if (r == 0)
		vault_keys_free(keys, nkeys);
	vault_fails = r < 0 ? vault_fails + 1 : 0;
	if (r < 0 && vault_fails < VAULT_FAILS_TO_REVOKE) {
		warning("vault unreadable (%s), check %d of %d before disks "
			"stop", strerror(-r), vault_fails,
			VAULT_FAILS_TO_REVOKE);
		return;
	}
	vault_ok = r == 0;
	ssefs_fs_for_each_disk(fs, check_disk, &vault_ok);
}

int revoke_start(struct ssefs_fs *fs)
{
	vault_fails = 0;
	return timer_start(&watcher, fs, fs->opts.key_check_interval, watch);
}

void revoke_stop(struct ssefs_fs *fs)
{
	(void)fs;
	timer_stop(&watcher);
}
