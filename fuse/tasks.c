/*
 * tasks.c - the mount's background tasks (see fuse/fs.h)
 *
 * A task registers here: its pair declared in fuse/tasks.h, an entry
 * before the end marker.  Tasks start in this order and stop in reverse.
 */
#include <stddef.h>

#include "fuse/fs.h"
#include "fuse/tasks.h"
#include "fuse/tempdisk.h"

const struct ssefs_task ssefs_tasks[] = {
	/* first, so it is there before anything else runs, and stops last */
	{ "tempdisk", tempdisk_start, tempdisk_stop },
	{ "revoke", revoke_start, revoke_stop },
	{ "rotate", rotate_start, rotate_stop },
	{ "linger", linger_start, linger_stop },
	{ NULL, NULL, NULL }
};
