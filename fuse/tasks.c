/*
 * tasks.c - the mount's background tasks (see fuse/fs.h)
 *
 * The rotation and revocation timers register here: add
 *	{ "revoke", revoke_start, revoke_stop },
 * before the end marker.  Tasks start in this order and stop in reverse.
 */
#include <stddef.h>

#include "fuse/fs.h"

const struct ssefs_task ssefs_tasks[] = {
	{ NULL, NULL, NULL }
};
