/*
 * blobops.c - the FUSE operations of a blob store's mount: ssefs_ops with
 * the calls that walk a store directory replaced
 *
 * The container is one flat folder of disks (the page blobs NAME.vhd
 * directly in it): getattr, readdir and statfs come from the disk table
 * and the blobs' headers; the data path (open, read, write, fsync,
 * truncate, xattrs) is ssefs_ops' own over a volume on the blob's backing
 * (fuse/fs.c).  Disks are made, copied and deleted with `ssefs disk` on
 * the URL: create, unlink, rename, mkdir and the like are EOPNOTSUPP.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <fuse.h>

#include "disk/volume.h"
#include "fuse/fs.h"
#include "fuse/ops.h"

#define DIR_FH_BIT	((uint64_t)1)	/* as in ops.c */

static const char *blob_rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

/* The plaintext size of @n (disk_stat()), and the header's times: a
 * container has no file times. */
static void node_size(struct disk_node *n, struct stat *st)
{
	disk_stat(n, st);
	pthread_mutex_lock(&n->lock);
	if (n->probe_rc == 0)
		st->st_mtime = st->st_ctime = (time_t)(n->hdr.rotated >
			n->hdr.created ? n->hdr.rotated : n->hdr.created);
	pthread_mutex_unlock(&n->lock);
}

/* What the mount shows of the disk @n: a file of the mounting user. */
static void file_stat(struct ssefs_fs *fs, struct disk_node *n,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	node_size(n, st);
}

static void root_stat(struct ssefs_fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | 0700;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
}

static int blob_getattr(const char *path, struct stat *st,
			struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct disk_node *n;
	const char *rel;
	int r;

	if (fi && fi->fh && !(fi->fh & DIR_FH_BIT)) {
		n = (struct disk_node *)(uintptr_t)fi->fh;
		if (n->flags & NODE_OUTSIDE)
			return outside_node_stat(n, st);
		file_stat(fs, n, st);
		return 0;
	}
	if (!path)
		return -EBADF;
	rel = blob_rel(path);
	if (!strcmp(rel, ".")) {
		root_stat(fs, st);
		return 0;
	}
	n = outside_node(fs, rel);
	if (n)
		return outside_node_stat(n, st);
	r = ssefs_fs_blob_lookup(fs, rel, &n, st);
	if (r < 0)
		return r;
	node_size(n, st);
	return 0;
}

static int blob_opendir(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	return strcmp(blob_rel(path), ".") ? -ENOENT : 0;
}

static int blob_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0;
}

struct fill_ctx {
	void *buf;
	fuse_fill_dir_t fill;
	struct ssefs_fs *fs;
};

static int fill_one(struct ssefs_fs *fs, struct disk_node *n, void *arg)
{
	struct fill_ctx *c = arg;
	struct stat st;

	if (n->flags & NODE_OUTSIDE)	/* the temp disk */
		return outside_node_stat(n, &st) == 0 &&
		       c->fill(c->buf, n->rel, &st, 0, 0) ? 1 : 0;
	file_stat(fs, n, &st);
	return c->fill(c->buf, n->rel, &st, 0, 0) ? 1 : 0;
}

static int blob_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
			off_t off, struct fuse_file_info *fi,
			enum fuse_readdir_flags flags)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct fill_ctx c = { buf, fill, fs };
	unsigned int nd, nb;
	struct stat st;

	(void)path;
	(void)off;
	(void)fi;
	(void)flags;
	root_stat(fs, &st);
	fill(buf, ".", &st, 0, 0);
	fill(buf, "..", &st, 0, 0);
	/* the container now: disks other hosts made since the mount too */
	ssefs_fs_scan(fs, &nd, &nb);
	ssefs_fs_for_each_disk(fs, fill_one, &c);
	return 0;
}

/* A container has no size limit to tell: a large, all-free file system. */
static int blob_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = 4096;
	sv->f_blocks = sv->f_bfree = sv->f_bavail = UINT64_C(1) << 40;
	sv->f_files = sv->f_ffree = sv->f_favail = 1u << 20;
	sv->f_namemax = 1024;
	return 0;
}

/*
 * The container is one flat folder whose disks are made, copied and
 * deleted with `ssefs disk` on the URL: the rest is EOPNOTSUPP
 * ("Operation not supported"), which says so, where libfuse's ENOSYS for
 * a missing operation reads as a bug.
 */
static int no_create(const char *p, mode_t m, struct fuse_file_info *fi)
{ (void)p; (void)m; (void)fi; return -EOPNOTSUPP; }
static int no_path(const char *p)
{ (void)p; return -EOPNOTSUPP; }
static int no_rename(const char *p, const char *to, unsigned int fl)
{ (void)p; (void)to; (void)fl; return -EOPNOTSUPP; }
static int no_mkdir(const char *p, mode_t m)
{ (void)p; (void)m; return -EOPNOTSUPP; }
static int no_chmod(const char *p, mode_t m, struct fuse_file_info *fi)
{ (void)p; (void)m; (void)fi; return -EOPNOTSUPP; }
static int no_chown(const char *p, uid_t u, gid_t g,
		    struct fuse_file_info *fi)
{ (void)p; (void)u; (void)g; (void)fi; return -EOPNOTSUPP; }
static int no_utimens(const char *p, const struct timespec ts[2],
		      struct fuse_file_info *fi)
{ (void)p; (void)ts; (void)fi; return -EOPNOTSUPP; }

static struct fuse_operations blob_ops;

static void blob_ops_init(void)
{
	blob_ops = ssefs_ops;
	blob_ops.getattr = blob_getattr;
	blob_ops.opendir = blob_opendir;
	blob_ops.releasedir = blob_releasedir;
	blob_ops.readdir = blob_readdir;
	blob_ops.statfs = blob_statfs;
	blob_ops.create = no_create;
	blob_ops.unlink = no_path;
	blob_ops.rename = no_rename;
	blob_ops.mkdir = no_mkdir;
	blob_ops.rmdir = no_path;
	blob_ops.chmod = no_chmod;
	blob_ops.chown = no_chown;
	blob_ops.utimens = no_utimens;
}

const struct fuse_operations *ssefs_blob_ops(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, blob_ops_init);
	return &blob_ops;
}
