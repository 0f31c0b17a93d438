/*
 * tasks.c - the mount's background tasks (see fuse/fs.h)
 *
 * The rotation and revocation timers register here: add
 *	{ "revoke", revoke_start, revoke_stop },
 * before the end marker.  Tasks start in this order and stop in reverse.
 */
#include <stddef.h>

#include "fuse/fs.h"
#include "fuse/tempdisk.h"

int revoke_start(struct ssefs_fs *fs);
void revoke_stop(struct ssefs_fs *fs);
int rotate_start(struct ssefs_fs *fs);
void rotate_stop(struct ssefs_fs *fs);

const struct ssefs_task ssefs_tasks[] = {
	/* first, so it is there before anything else runs, and stops last */
	{ "tempdisk", tempdisk_start, tempdisk_stop },
	{ "revoke", revoke_start, revoke_stop },
	{ "rotate", rotate_start, rotate_stop },
	{ NULL, NULL, NULL }
};
