/*
 * rotate.c - the mount's rotation timer: every rotate_interval, the same
 * pass as `ssefs rotate STORE` (svc/rotation.c), for this store
 */
#include <pthread.h>
#include <string.h>

#include "disk/volume.h"
#include "svc/rotation.h"
#include "fuse/fs.h"
#include "fuse/tasks.h"
#include "fuse/timer.h"
#include "keyvault/vault.h"
#include "util/log.h"

static struct timer rotator;

static void log_line(void *arg, const char *line)
{
	(void)arg;
	info("%s", line);
}

/*
 * A blob store's disk this mount holds open holds its lease, so no one
 * else can re-wrap it: the pass does it through the open volume's
 * backing, under the node's lock (the volume stays open meanwhile).
 */
static int with_held(void *arg, const char *name,
		     int (*fn)(void *fnarg, struct backing *b), void *fnarg)
{
	struct ssefs_fs *fs = arg;
	struct disk_node *n = ssefs_fs_node(fs, name, 0);
	int r = 1;

	if (!n)
		return 1;
	pthread_mutex_lock(&n->lock);
	if (n->vol && !vol_is_rdonly(n->vol)) {
		r = fn(fnarg, vol_backing(n->vol));
		n->probed = 0;		/* the header changed: re-probe */
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

static void rotate_tick(struct ssefs_fs *fs)
{
	struct rotation_opts o = {
		.store = fs->store, .notify = fs->opts.notify,
		.say = log_line,
		.with_held = fs->blob ? with_held : NULL, .held_arg = fs,
		.blob = fs->blob,
	};
	struct rotation_result res;
	int r;

	/* the vault has its own lock for threads; rewraps take each
	 * disk's header lock, never the data path's */
	r = rotation_run(fs->vault, &o, &res);
	if (r < 0)
		warning("automatic rotation: %u disk(s) failed: %s",
			res.disks_failed, strerror(-r));
	else if (res.disks_rewrapped || res.keys_rotated)
		info("automatic rotation: %u key(s) rotated, %u disk(s) "
		     "re-wrapped", res.keys_rotated, res.disks_rewrapped);
}

int rotate_start(struct ssefs_fs *fs)
{
	return timer_start(&rotator, fs, fs->opts.rotate_interval,
			   rotate_tick);
}

void rotate_stop(struct ssefs_fs *fs)
{
	(void)fs;
	timer_stop(&rotator);
}
