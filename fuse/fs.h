/*
 * fs.h - one mount's state, its table of disks, and the hooks that the
 * rotation and revocation timers (fuse/rotate.c, fuse/revoke.c) use
 *
 * Every regular file of the store that the mount has looked at gets a
 * struct disk_node, keyed by its path relative to the store ("a/d0.vhd").
 * A node caches the probe of its header (refreshed when the backing file's
 * inode, size or mtime change) and, while the disk is open, holds the one
 * struct volume that every open file handle of it shares (fi->fh points at
 * the node).  Nodes are never freed while the file system is mounted (an
 * unlinked or replaced node moves to a graveyard), so a pointer to one stays
 * valid until ssefs_fs_destroy().
 *
 * A node may have properties (node->flags, NODE_*), which the FUSE
 * callbacks test instead of names: the temp disk (fuse/tempdisk.h) is a
 * node added with ssefs_fs_add_node() whose file is outside the store.
 *
 * Locking: fs->lock guards the table (lookup, insert, rename); node->lock
 * guards the node's fields (header cache, vol, refs, state).  Take fs->lock
 * before a node's lock, never the other way round.  Vault calls go through
 * fs->vault_lock (ssefs_fs_vault_lock()); the keyops in fs->keyops need
 * not (the vault serialises itself, and an unwrap's error detail is its
 * own).  I/O on an open volume takes no lock here (disk/ is
 * thread-safe), so revocation can drop keys under node->lock while reads
 * and writes fail with -EKEYREVOKED.
 *
 * Hooks for the timers:
 *   - ssefs_fs_for_each_disk() visits every known disk node;
 *   - under node->lock: node->vol (NULL when closed), vol_drop_keys(),
 *     vol_reload_keys(); node->state and node->state_detail show in
 *     `ssefs status`;
 *   - ssefs_fs_invalidate() drops the kernel's cached pages and
 *     attributes of a disk; it takes fs->lock and the kernel writes
 *     dirty pages back through the daemon, so call it with no node lock;
 *   - background tasks: add a struct ssefs_task to ssefs_tasks[] in
 *     fuse/tasks.c; start() runs after the daemon has detached and before
 *     the FUSE loop, stop() after the loop ends (in reverse order), before
 *     the volumes are closed.  fs->opts has the intervals.
 */
#ifndef SSEFS_FUSE_FS_H
#define SSEFS_FUSE_FS_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "cache/hostdir.h"
#include "crypto/envelope.h"
#include "disk/keyops.h"
#include "fuse/opts.h"
#include "keyvault/vault.h"

struct blob_store;
struct fuse;
struct hcache;
struct tempdisk;
struct vault;
struct volume;

enum disk_state {
	DISK_OK = 0,		/* keys usable (or not yet needed) */
	DISK_GRACE,		/* key unusable, I/O goes on until the grace ends */
	DISK_REVOKED,		/* keys wiped; I/O fails with EKEYREVOKED */
};

/*
 * Node properties (node->flags), fixed when the node is made:
 *   NODE_PINNED    its name, mode and owner are fixed: unlink, rename from
 *                  or to it, chmod and chown fail with EPERM;
 *   NODE_NO_VAULT  its keys are not the vault's: no user.ssefs.*
 *                  attributes, never in the vault's registry, skipped by
 *                  revocation (fuse/revoke.c) and cache replay;
 *   NODE_OUTSIDE   its backing file is not in the store but @file in the
 *                  directory @dirfd (ssefs_fs_add_node()): stat and times
 *                  go there; it shows at the mount's root over any store
 *                  file of its name, whose name it takes (create, mkdir:
 *                  EEXIST); it is never probed (probe_rc 0), is not
 *                  among the store's disks in `ssefs status`, and its
 *                  volume is its adder's: always open, handles share it
 *                  and the last one does not close it.
 */
#define NODE_PINNED	0x1
#define NODE_NO_VAULT	0x2
#define NODE_OUTSIDE	0x4

struct disk_node {
	struct disk_node *next;		/* hash chain or graveyard */
	char *rel;			/* path in the store, no leading '/' */
	pthread_mutex_t lock;
	unsigned int flags;		/* NODE_* */
	int dirfd;			/* NODE_OUTSIDE: @file's directory */
	char *file;			/* NODE_OUTSIDE: its backing file */

	/* header cache, from vol_probe() */
	int probed;
	dev_t dev;
	ino_t ino;
	off_t bsize;			/* backing file size */
	struct timespec mtime;		/* backing file mtime */
	int probe_rc;			/* 0, -ENOTSUP (hidden), -EBADMSG... */
	struct env_header hdr;		/* valid when probe_rc == 0 */

	/* open state */
	/* NULL: closed, no keys in memory; open with refs 0: lingering,
	 * written back by its ReadWrite cache before it closes
	 * (fuse/linger.h) */
	struct volume *vol;
	unsigned int refs;		/* open file handles */
	int open_rc;			/* the last open's result */
	int rw_rc;			/* why vol is read-only: the
					 * read-write open's -EACCES, -EPERM
					 * or -EROFS; 0 when it is not */
	int unlinked;			/* gone from the store (graveyard) */

	/* statistics (atomic) */
	uint64_t bytes_read, bytes_written;

	/* revocation state, filled by fuse/revoke.c */
	int state;			/* enum disk_state */
	time_t state_since;
	char state_detail[128];
};

struct ssefs_fs {
	char *store;			/* realpath of the store */
	char *mnt;			/* realpath of the mount point */
	int store_fd;			/* O_DIRECTORY fd of the store; -1
					 * for a blob store */
	/* a container URL's store (SPEC "Stores beyond one host"), or NULL:
	 * its disks are the page blobs NAME.vhd directly in it, each open
	 * one holding its lease; no folders, and disks are made, renamed
	 * and deleted with `ssefs disk`, not through the mount */
	struct blob_store *blob;
	int blob_denied;		/* a 403 said once (atomic) */
	uid_t uid;			/* who mounted */
	gid_t gid;
	pid_t pid;			/* the daemon */

	struct vault *vault;
	char *vault_dir;
	pthread_mutex_t vault_lock;
	struct keyops keyops;		/* the vault's wrap and unwrap */

	struct mount_opts opts;
	struct hostdir host;		/* -o host_cache (fd -1: none) */
	struct hcache *hc;		/* caching=ReadOnly|ReadWrite, or NULL */
	struct tempdisk *temp;		/* -o temp_disk, or NULL */
	char *default_kid_ref;		/* "platform", key name, or NULL */

	struct fuse *fuse;		/* set once mounted */
	volatile int stopping;		/* the loop is ending */
	int readahead_set;		/* read_ahead_kb written (atomic) */

	pthread_mutex_t lock;		/* the table */
#define SSEFS_NBUCKETS 1024
	struct disk_node *bucket[SSEFS_NBUCKETS];
	struct disk_node *graveyard;
#define SSEFS_MAX_OUTSIDE 4
	struct disk_node *outside[SSEFS_MAX_OUTSIDE];	/* NODE_OUTSIDE */
};

/* The running mount (inside FUSE callbacks). */
struct ssefs_fs *ssefs_fs_get(void);

/* Set up @fs for @store (a realpath) and @mnt; takes over @v. */
int ssefs_fs_init(struct ssefs_fs *fs, const char *store, const char *mnt,
		  struct vault *v, const char *vault_dir);
/* Close every open volume (flushing sizes, wiping keys). */
void ssefs_fs_close_all(struct ssefs_fs *fs);
/* Free the table; closes what is still open.  Does not close the vault
 * nor the host cache (fs_cache_close(), after ssefs_fs_close_all()). */
void ssefs_fs_destroy(struct ssefs_fs *fs);

/*
 * ssefs_fs_node() - the node for @rel (no leading '/'), creating it when
 * @create; NULL when it does not exist (or out of memory).
 */
struct disk_node *ssefs_fs_node(struct ssefs_fs *fs, const char *rel,
				int create);

/*
 * ssefs_fs_probe() - refresh @n's header cache from the backing file if it
 * changed.  Return: @n->probe_rc, or -errno of the stat.
 */
int ssefs_fs_probe(struct ssefs_fs *fs, struct disk_node *n);
/* The same with the backing file's lstat @st in hand (saves a lookup). */
int ssefs_fs_probe_stat(struct ssefs_fs *fs, struct disk_node *n,
			const struct stat *st);

/*
 * ssefs_fs_for_each_disk() - call @fn on every node that is an ssefs disk
 * (or a damaged one), NODE_OUTSIDE ones included (@fn tests the flags it
 * cares for), without fs->lock held; stops at and returns the first
 * non-zero return of @fn.
 */
int ssefs_fs_for_each_disk(struct ssefs_fs *fs,
			   int (*fn)(struct ssefs_fs *fs, struct disk_node *n,
				     void *arg), void *arg);

/*
 * ssefs_fs_scan() - walk the whole store (probing headers only), so that
 * every disk has a node; returns how many disks and damaged disks it saw.
 */
int ssefs_fs_scan(struct ssefs_fs *fs, unsigned int *ndisks,
		  unsigned int *nbad);

/*
 * Store files are reached only through this (and util/beneath.h): every
 * path resolves beneath the store root and follows no symlink.
 * ssefs_fs_open_volume() - vol_open() of the store file @rel, through
 * fs->keyops.  Return: as vol_open(); what is not a regular file is
 * -EBADMSG.
 */
int ssefs_fs_open_volume(struct ssefs_fs *fs, const char *rel, int flags,
			 struct volume **out);

/*
 * ssefs_fs_add_node() - put a disk whose backing file is not in the store
 * into the table, at @rel (a name at the mount's root: no '/'), with
 * @flags | NODE_OUTSIDE.  Its file is @file in the directory @dirfd (both
 * copied); @vol is open and stays the caller's, who closes it only after
 * ssefs_fs_remove_node().  The node (in *@out) lives until
 * ssefs_fs_destroy().  Return: 0; -EINVAL; -EEXIST (a node at @rel
 * already); -ENOSPC (SSEFS_MAX_OUTSIDE of them); -ENOMEM; -errno.
 */
int ssefs_fs_add_node(struct ssefs_fs *fs, const char *rel,
		      unsigned int flags, struct volume *vol, int dirfd,
		      const char *file, struct disk_node **out);
/* Take a node of ssefs_fs_add_node() out of the table (graveyard): its
 * volume is no longer used, the caller may close it.  NULL: no-op. */
void ssefs_fs_remove_node(struct ssefs_fs *fs, struct disk_node *n);
/* The NODE_OUTSIDE nodes now in the table, up to @max of them, in @out.
 * Return: how many. */
size_t ssefs_fs_outside(struct ssefs_fs *fs, struct disk_node **out,
			size_t max);

/*
 * ssefs_fs_open_blob() - open the container @fs->store names, with the
 * mount's options, before the scan.  On failure prints one line.
 * Return: 0 or blob_store_open()'s error.
 */
int ssefs_fs_open_blob(struct ssefs_fs *fs);

/*
 * ssefs_fs_blob_lookup() - the disk NAME.vhd of a blob store's mount: its
 * node, probed (a page blob that appeared since the scan too), and a
 * stat of it in @st (may be NULL).  Return: 0, -ENOENT, -errno.
 */
int ssefs_fs_blob_lookup(struct ssefs_fs *fs, const char *rel,
			 struct disk_node **out, struct stat *st);

/* Move @n out of the table into the graveyard (unlinked, replaced). */
void ssefs_fs_bury(struct ssefs_fs *fs, struct disk_node *n);
/* After a rename in the store: every node at or under @from moves to @to. */
int ssefs_fs_rename_nodes(struct ssefs_fs *fs, const char *from,
			  const char *to);

/* Drop the kernel's cached pages and attributes of @n (best effort). */
void ssefs_fs_invalidate(struct ssefs_fs *fs, struct disk_node *n);

/* "STORE/REL" into @buf.  Return: 0 or -ENAMETOOLONG. */
int ssefs_fs_abspath(struct ssefs_fs *fs, const char *rel, char *buf,
		     size_t len);

/*
 * The key state of a disk: that of the first layer whose version is not
 * usable (its index in *@layer, which may be NULL), else KEY_USABLE.  Takes
 * the vault lock.
 */
enum key_state ssefs_fs_key_state(struct ssefs_fs *fs,
				  const struct env_header *h,
				  unsigned int *layer);

void ssefs_fs_vault_lock(struct ssefs_fs *fs);
void ssefs_fs_vault_unlock(struct ssefs_fs *fs);

/* Background tasks (fuse/tasks.c). */
struct ssefs_task {
	const char *name;
	int (*start)(struct ssefs_fs *fs);	/* 0 or -errno */
	void (*stop)(struct ssefs_fs *fs);
};
extern const struct ssefs_task ssefs_tasks[];	/* ends with { NULL } */

#endif /* SSEFS_FUSE_FS_H */
