/*
 * ops.c - the FUSE operations: plaintext .vhd disks over the store
 *
 * Paths map one to one onto the store ("/a/d0.vhd" is STORE/a/d0.vhd).
 * Directories pass through; a regular file is shown when it is an ssefs
 * disk (with its plaintext size) or carries the ssefs magic without a valid
 * header (size 0; open fails with EBADMSG); everything else is hidden.
 * Callbacks return 0 or -errno; the open disk is in fi->fh.
 *
 * A node's properties (fuse/fs.h: NODE_PINNED, NODE_NO_VAULT,
 * NODE_OUTSIDE) change what the callbacks do with it, whatever its name;
 * its volume may refuse a size change itself (VOL_FIXED_SIZE).  The temp
 * disk (-o temp_disk, fuse/tempdisk.h) is such a node.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <dirent.h>

#include <fuse.h>

#include "cache/hcdev.h"
#include "crypto/envelope.h"
#include "disk/volume.h"
#include "fuse/fs.h"
#include "fuse/linger.h"
#include "fuse/newdisk.h"
#include "fuse/ops.h"
#include "keyvault/vault.h"
#include "svc/mountinfo.h"
#include "svc/registry.h"
#include "util/beneath.h"
#include "util/log.h"
#include "util/name.h"
#include "util/parse.h"

/*
 * fi->fh: a struct disk_node * for files, a strdup'd path with the low bit
 * set for directories (readdir and fstat may come without a path).
 */
#define DIR_FH_BIT	((uint64_t)1)

static struct disk_node *fh_node(const struct fuse_file_info *fi)
{
	if (!fi || !fi->fh || (fi->fh & DIR_FH_BIT))
		return NULL;
	return (struct disk_node *)(uintptr_t)fi->fh;
}

static const char *fh_dir(const struct fuse_file_info *fi)
{
	if (!fi || !(fi->fh & DIR_FH_BIT))
		return NULL;
	return (const char *)(uintptr_t)(fi->fh & ~DIR_FH_BIT);
}

/* "/a/b" -> "a/b"; "/" -> "." */
static const char *relpath(const char *path)
{
	if (!path || !path[0] || !strcmp(path, "/"))
		return ".";
	return path[0] == '/' ? path + 1 : path;
}

static int visible_rc(int probe_rc)
{
	return probe_rc == 0 || probe_rc == -EBADMSG ||
	       probe_rc == -EPROTONOSUPPORT || probe_rc == VOL_EFOREIGN;
}

/* Open files keep their own names; the lock file is never shown. */
static int is_lockfile(const char *rel)
{
	return !strcmp(rel, ".ssefs.lock");
}

/* The NODE_OUTSIDE node at @rel, or NULL. */
struct disk_node *outside_node(struct ssefs_fs *fs, const char *rel)
{
	struct disk_node *n = ssefs_fs_node(fs, rel, 0);

	return n && (n->flags & NODE_OUTSIDE) ? n : NULL;
}

/* Is the node at @rel NODE_PINNED? */
static int is_pinned(struct ssefs_fs *fs, const char *rel)
{
	struct disk_node *n = ssefs_fs_node(fs, rel, 0);

	return n && (n->flags & NODE_PINNED);
}

/* A NODE_OUTSIDE node's backing file stat. */
static int outside_stat(struct disk_node *n, struct stat *st)
{
	if (fstatat(n->dirfd, n->file, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISREG(st->st_mode) ? 0 : -EIO;
}

/*
 * Look up a visible regular file: its node (probed) and its backing stat.
 * Return: 0, -ENOENT (hidden or absent), -EISDIR and so on for non-files.
 */
static int lookup_stat(struct ssefs_fs *fs, const char *rel,
		       struct disk_node **out, const struct stat *st)
{
	struct disk_node *n;
	int r;

	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (!S_ISREG(st->st_mode) || is_lockfile(rel))
		return -ENOENT;
	n = ssefs_fs_node(fs, rel, 1);
	if (!n)
		return -ENOMEM;
	r = ssefs_fs_probe_stat(fs, n, st);
	if (r < 0 && !visible_rc(r))
		return r == -ENOTSUP ? -ENOENT : r;
	*out = n;
	return 0;
}

/* The same, from the path: its backing stat in @st (may be NULL).  A
 * NODE_OUTSIDE node comes before any store file of its name. */
static int lookup_file(struct ssefs_fs *fs, const char *rel,
		       struct disk_node **out, struct stat *st)
{
	struct disk_node *n = outside_node(fs, rel);
	struct stat tmp;
	int r;

	if (!st)
		st = &tmp;
	if (n) {
		r = outside_stat(n, st);
		if (r == 0)
			*out = n;
		return r;
	}
	if (fs->blob)
		return ssefs_fs_blob_lookup(fs, rel, out, st);
	r = beneath_stat(fs->store_fd, rel, st);
	return r < 0 ? r : lookup_stat(fs, rel, out, st);
}

/*
 * A disk never carries setuid or setgid: the mount asks the kernel for
 * FUSE_HANDLE_KILLPRIV_V2 (fuse/fuseio.h), which leaves dropping them on
 * write, truncate and chown to the file system; with no such bits there is
 * nothing to drop.  Directories keep theirs.
 */
#define DISK_MODE_MASK	(07777 & ~(S_ISUID | S_ISGID))

/* Fill the size fields of @st for disk node @n (and drop suid/sgid). */
void disk_stat(struct disk_node *n, struct stat *st)
{
	st->st_mode &= ~(mode_t)(S_ISUID | S_ISGID);
	pthread_mutex_lock(&n->lock);
	if (n->vol)
		st->st_size = (off_t)vol_size(n->vol);
	else if (n->probe_rc == 0)
		st->st_size = (off_t)n->hdr.plain_size;
	else
		st->st_size = 0;
	pthread_mutex_unlock(&n->lock);
	st->st_blksize = 1 << 20;
}

int outside_node_stat(struct disk_node *n, struct stat *st)
{
	int r = outside_stat(n, st);

	if (r == 0)
		disk_stat(n, st);
	return r;
}

/*
 * With nullpath_ok, calls on an open file may come without a path: take
 * the node's current name, or NULL when it was unlinked.
 */
static const char *fi_rel(const char *path, struct fuse_file_info *fi,
			  char *buf, size_t len)
{
	struct disk_node *n;
	int gone;

	if (path)
		return relpath(path);
	if (fh_dir(fi))
		return fh_dir(fi);
	n = fh_node(fi);
	if (!n)
		return NULL;
	pthread_mutex_lock(&n->lock);
	gone = n->unlinked;
	snprintf(buf, len, "%s", n->rel);
	pthread_mutex_unlock(&n->lock);
	return gone ? NULL : buf;
}

/*
 * -o readahead: the kernel gives a FUSE mount's bdi 128 KiB of read-ahead
 * and the INIT reply can only lower it; root may raise it in sysfs, but
 * only once the kernel has taken that reply (it would lower it again).
 * The first request after INIT is a LOOKUP or GETATTR, which comes here
 * before any disk can be opened (a file's read-ahead is taken at open).
 */
static void set_readahead(struct ssefs_fs *fs)
{
	uint64_t ra = mount_readahead(&fs->opts);
	unsigned int maj, min;
	char path[96], val[32];
	int fd, n;

	if (__atomic_exchange_n(&fs->readahead_set, 1, __ATOMIC_ACQ_REL) ||
	    !ra)
		return;
	if (!mi_ssefs_devnum(fs->mnt, &maj, &min)) {
		warning("mount %s: -o readahead: cannot find the mount's "
			"device number", fs->mnt);
		return;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 maj, min);
	n = snprintf(val, sizeof(val), "%llu",
		     (unsigned long long)(ra >> 10));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, (size_t)n) != n)
		warning("mount %s: -o readahead: cannot write %s: %s",
			fs->mnt, path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int ssefs_getattr(const char *path, struct stat *st,
			 struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct disk_node *n = NULL;
	char buf[PATH_MAX];
	const char *rel = fi_rel(path, fi, buf, sizeof(buf));
	int r;

	if (!__atomic_load_n(&fs->readahead_set, __ATOMIC_ACQUIRE))
		set_readahead(fs);
	if (!rel && fh_node(fi)) {
		/* unlinked but open: no backing name left */
		n = fh_node(fi);
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 0;
		st->st_uid = fs->uid;
		st->st_gid = fs->gid;
		disk_stat(n, st);
		return 0;
	}
	if (!rel)
		return -EBADF;
	r = lookup_file(fs, rel, &n, st);
	if (r == -EISDIR)
		return 0;
	if (r < 0)
		return r;
	disk_stat(n, st);
	return 0;
}

/* A directory handle remembers its path (readdir may come without one). */
static int ssefs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	const char *rel = relpath(path);
	struct stat st;
	char *dup;
	int r;

	r = beneath_stat(fs->store_fd, rel, &st);
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	dup = strdup(rel);
	if (!dup)
		return -ENOMEM;
	fi->fh = (uintptr_t)dup | DIR_FH_BIT;
	return 0;
}

static int ssefs_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	free((char *)fh_dir(fi));
	fi->fh = 0;
	return 0;
}

static int ssefs_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
			 off_t off, struct fuse_file_info *fi,
			 enum fuse_readdir_flags flags)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	const char *rel = fh_dir(fi) ? fh_dir(fi) : relpath(path);
	struct dirent *de;
	DIR *d;
	int fd, top = !strcmp(rel, ".");

	(void)off;
	(void)flags;
	fd = beneath_open(fs->store_fd, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	if (top) {
		struct disk_node *o[SSEFS_MAX_OUTSIDE];
		size_t k = ssefs_fs_outside(fs, o, SSEFS_MAX_OUTSIDE);
		struct stat st;

		for (size_t i = 0; i < k; i++) {
			if (outside_stat(o[i], &st) < 0)
				continue;
			disk_stat(o[i], &st);
			fill(buf, o[i]->rel, &st, 0, 0);
		}
	}
	while ((de = readdir(d))) {
		char child[PATH_MAX];
		struct disk_node *n;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			memset(&st, 0, sizeof(st));
			st.st_mode = S_IFDIR;
			fill(buf, de->d_name, &st, 0, 0);
			continue;
		}
		if (snprintf(child, sizeof(child), "%s%s%s", top ? "" : rel,
			     top ? "" : "/", de->d_name) >= (int)sizeof(child) ||
		    (top && outside_node(fs, child)))
			continue;	/* (listed above) */
		/* beside the open folder: never through a path again */
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			if (lookup_stat(fs, child, &n, &st) < 0)
				continue;
			disk_stat(n, &st);
		}
		if (fill(buf, de->d_name, &st, 0, 0))
			break;
	}
	closedir(d);
	return 0;
}

/* Open @n's volume (or share the open one).  Caller holds no lock. */
static int node_open(struct ssefs_fs *fs, struct disk_node *n, int want_write)
{
	int r;

	pthread_mutex_lock(&n->lock);
	if (n->probe_rc < 0) {
		r = n->probe_rc == -ENOTSUP ? -ENOENT :
		    n->probe_rc == VOL_EFOREIGN ? -EBADMSG : n->probe_rc;
		goto out;
	}
	if (n->state == DISK_REVOKED) {
		r = -EKEYREVOKED;	/* open fails as I/O does */
		goto out;
	}
	if (!n->vol) {
		r = ssefs_fs_open_volume(fs, n->rel, 0, &n->vol);
		n->rw_rc = 0;
		if (r == -EACCES || r == -EROFS || r == -EPERM) {
			n->rw_rc = r;
			r = ssefs_fs_open_volume(fs, n->rel, VOL_RDONLY,
						 &n->vol);
		}
		/* SPEC: a version that is disabled, expired, not yet valid
		 * or deleted stops I/O with one error, EKEYREVOKED */
		if (r == -EKEYEXPIRED)
			r = -EKEYREVOKED;
		if (r == 0 && fs->hc) {
			r = hcdev_attach(n->vol, fs->hc);
			if (r < 0) {
				vol_close(n->vol);
				n->vol = NULL;
			}
		}
		n->open_rc = r;
		if (r == VOL_EFOREIGN) {
			/* damaged from now on, until the file changes */
			n->probe_rc = r;
			warning("disk %s: header does not belong to this "
				"disk's data (its footer does not carry the "
				"header's disk id); open fails with EBADMSG",
				n->rel);
			r = -EBADMSG;
		}
		if (r < 0) {
			n->vol = NULL;
			goto out;
		}
	}
	if (want_write && vol_is_rdonly(n->vol)) {
		/* the store said why (a read-only SAS: EACCES, SPEC) */
		r = n->rw_rc ? n->rw_rc : -EROFS;
		if (!n->refs) {
			vol_close(n->vol);
			n->vol = NULL;
		}
		goto out;
	}
	n->refs++;
	r = 0;
out:
	pthread_mutex_unlock(&n->lock);
	return r;
}

/* Drop one reference; the last one flushes, closes and wipes the keys
 * (but a NODE_OUTSIDE node's volume, which is not ours), or leaves a disk
 * whose ReadWrite cache is dirty open until written back (fuse/linger.h). */
static int node_release(struct disk_node *n)
{
	int r = 0;

	pthread_mutex_lock(&n->lock);
	if (n->refs && --n->refs == 0 && n->vol &&
	    !(n->flags & NODE_OUTSIDE))
		r = node_last_close(n);
	pthread_mutex_unlock(&n->lock);
	return r;
}

static struct volume *fh_vol(struct fuse_file_info *fi)
{
	struct disk_node *n = fh_node(fi);

	return n ? n->vol : NULL;
}

/*
 * An open with O_DIRECT (a loop device with direct I/O, qemu with
 * cache=none, fio --direct=1) bypasses the page cache in the kernel:
 * FOPEN_DIRECT_IO, to which fuse/fuseio.c adds FOPEN_PARALLEL_DIRECT_WRITES,
 * so that its writes are not serialised on the inode lock.  Other opens
 * keep the page cache (mmap, read-ahead).
 */
static unsigned int direct_open(const struct fuse_file_info *fi)
{
	return (fi->flags & O_DIRECT) != 0;
}

static int ssefs_open(const char *path, struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct disk_node *n;
	int r;

	r = lookup_file(fs, relpath(path), &n, NULL);
	if (r < 0)
		return r;
	r = node_open(fs, n, (fi->flags & O_ACCMODE) != O_RDONLY);
	if (r < 0)
		return r;
	fi->fh = (uintptr_t)n;
	fi->keep_cache = 0;
	fi->direct_io = direct_open(fi);
	if (fi->flags & O_TRUNC) {
		r = vol_truncate(n->vol, 0);
		if (r < 0) {
			node_release(n);
			return r;
		}
	}
	return 0;
}

static int ssefs_create(const char *path, mode_t mode,
			struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	const char *rel = relpath(path);
	struct fuse_context *cx = fuse_get_context();
	struct disk_node *n;
	int r;

	if (is_lockfile(rel))
		return -EPERM;
	if (outside_node(fs, rel))
		return -EEXIST;
	if (name_has_ctrl(rel))
		return -EINVAL;		/* no newline in a disk's name */
	r = newdisk_create(fs, rel, mode & DISK_MODE_MASK, cx->uid, cx->gid);
	if (r < 0)
		return r;
	r = lookup_file(fs, rel, &n, NULL);
	if (r < 0)
		return r;
	r = node_open(fs, n, 1);
	if (r < 0)
		return r;
	fi->fh = (uintptr_t)n;
	fi->keep_cache = 0;
	fi->direct_io = direct_open(fi);
	return 0;
}

static int ssefs_release(const char *path, struct fuse_file_info *fi)
{
	struct disk_node *n = fh_node(fi);
	int r;

	(void)path;
	if (!n)
		return 0;
	r = node_release(n);
	if (r < 0)
		warning("disk %s: cannot persist its size: %s", n->rel,
			strerror(-r));
	fi->fh = 0;
	return 0;
}

static int ssefs_read(const char *path, char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct disk_node *n = fh_node(fi);
	ssize_t r;

	(void)path;
	if (size > INT_MAX)
		size = INT_MAX;
	if (!n || !n->vol)
		return -EBADF;
	r = vol_read(n->vol, buf, size, (uint64_t)off);
	if (r > 0)
		__atomic_add_fetch(&n->bytes_read, (uint64_t)r,
				   __ATOMIC_RELAXED);
	return (int)r;
}

static int ssefs_write(const char *path, const char *buf, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	struct disk_node *n = fh_node(fi);
	ssize_t r;

	(void)path;
	if (size > INT_MAX)
		size = INT_MAX;
	if (!n || !n->vol)
		return -EBADF;
	r = vol_write(n->vol, buf, size, (uint64_t)off);
	if (r > 0)
		__atomic_add_fetch(&n->bytes_written, (uint64_t)r,
				   __ATOMIC_RELAXED);
	return (int)r;
}

/*
 * FLUSH, at every close(2): what a close must make durable.  A ReadWrite
 * host cache holds acknowledged writes crash-safe, so only a changed size
 * goes to the header; its thread writes the rest back.  Otherwise, as
 * fsync.
 */
static int ssefs_flush(const char *path, struct fuse_file_info *fi)
{
	struct volume *v = fh_vol(fi);

	(void)path;
	if (!v || vol_is_rdonly(v))
		return 0;
	if (vol_write_back(v, NULL))
		return vol_persist_size(v);
	return vol_flush(v);
}

/* fsync(2): everything written back and the store synced. */
static int ssefs_fsync(const char *path, int datasync,
		       struct fuse_file_info *fi)
{
	struct volume *v = fh_vol(fi);

	(void)path;
	(void)datasync;
	if (!v || vol_is_rdonly(v))
		return 0;
	return vol_flush(v);
}

static int ssefs_truncate(const char *path, off_t size,
			  struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct disk_node *n;
	int r, r2;

	if (size < 0)
		return -EINVAL;
	if (fh_node(fi) && fh_vol(fi))
		return vol_truncate(fh_vol(fi), (uint64_t)size);
	if (!path)
		return -EBADF;
	r = lookup_file(fs, relpath(path), &n, NULL);
	if (r < 0)
		return r;
	r = node_open(fs, n, 1);
	if (r < 0)
		return r;
	r = vol_truncate(n->vol, (uint64_t)size);
	r2 = node_release(n);
	return r < 0 ? r : r2;
}

static int ssefs_fallocate(const char *path, int mode, off_t off, off_t len,
			   struct fuse_file_info *fi)
{
	struct volume *v = fi ? fh_vol(fi) : NULL;
	uint64_t end, size;
	int r;

	(void)path;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (!v)
		return -EBADF;
	end = (uint64_t)off + (uint64_t)len;
	size = vol_size(v);
	switch (mode) {
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
		if ((uint64_t)off >= size)
			return 0;
		return vol_discard(v, (uint64_t)off,
				   (end > size ? size : end) - (uint64_t)off);
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		/* grow first: a fixed-size volume refuses before any
		 * byte is zeroed */
		if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size) {
			r = vol_truncate(v, end);
			if (r < 0)
				return r;
		}
		if ((uint64_t)off < size)
			return vol_discard(v, (uint64_t)off,
					   (end > size ? size : end) -
					   (uint64_t)off);
		return 0;
	case 0:
		/* thin disks: "allocating" only grows the size */
		return end > size ? vol_truncate(v, end) : 0;
	case FALLOC_FL_KEEP_SIZE:
		return 0;
	}
	return -EOPNOTSUPP;
}

static int ssefs_statfs(const char *path, struct statvfs *sv)
{
	struct ssefs_fs *fs = ssefs_fs_get();

	(void)path;
	if (fstatvfs(fs->store_fd, sv) < 0)
		return -errno;
	return 0;
}

static void registry_del(struct ssefs_fs *fs, const struct env_header *h)
{
	char uuid[37];
	int r;

	if (!fs->vault)
		return;
	format_uuid(h->uuid, uuid);
	ssefs_fs_vault_lock(fs);
	r = vault_disk_del(fs->vault, uuid);
	ssefs_fs_vault_unlock(fs);
	if (r < 0 && r != -ENOENT)
		warning("disk %s: cannot remove it from the vault's registry: "
			"%s", uuid, strerror(-r));
}

static int ssefs_unlink(const char *path)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	const char *rel = relpath(path);
	struct beneath_at at;
	struct env_header h;
	struct disk_node *n;
	int r, was_disk;

	r = lookup_file(fs, rel, &n, NULL);
	if (r < 0)
		return r;
	if (n->flags & NODE_PINNED)
		return -EPERM;
	pthread_mutex_lock(&n->lock);
	was_disk = n->probe_rc == 0;
	if (was_disk)
		h = n->hdr;
	pthread_mutex_unlock(&n->lock);
	r = beneath_at(&at, fs->store_fd, rel);
	if (r == 0 && unlinkat(at.fd, at.leaf, 0) < 0)
		r = -errno;
	beneath_at_release(&at);
	if (r < 0)
		return r;
	ssefs_fs_bury(fs, n);
	if (was_disk)
		registry_del(fs, &h);
	return 0;
}

static int ssefs_mkdir(const char *path, mode_t mode)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct fuse_context *cx = fuse_get_context();
	const char *rel = relpath(path);
	struct beneath_at at;
	int r;

	if (outside_node(fs, rel))
		return -EEXIST;
	if (name_has_ctrl(rel))
		return -EINVAL;		/* nor in a folder of disks */
	r = beneath_at(&at, fs->store_fd, rel);
	if (r == 0 && mkdirat(at.fd, at.leaf, mode & 07777) < 0)
		r = -errno;
	if (r == 0 && geteuid() == 0 &&
	    fchownat(at.fd, at.leaf, cx->uid, cx->gid,
		     AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	beneath_at_release(&at);
	return r;
}

static int ssefs_rmdir(const char *path)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct beneath_at at;
	int r;

	r = beneath_at(&at, fs->store_fd, relpath(path));
	if (r == 0 && unlinkat(at.fd, at.leaf, AT_REMOVEDIR) < 0)
		r = -errno;
	beneath_at_release(&at);
	return r;
}

/* Tell the vault where the disks under @rel (a file or a tree) now are. */
static int registry_put_one(struct ssefs_fs *fs, struct disk_node *n,
			    void *arg)
{
	const char *rel = arg;
	size_t l = strlen(rel);
	struct vault_disk d;
	int r;

	pthread_mutex_lock(&n->lock);
	if (n->probe_rc != 0 || (n->flags & NODE_NO_VAULT) ||
	    strncmp(n->rel, rel, l) ||
	    (n->rel[l] != '\0' && n->rel[l] != '/')) {
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	registry_entry(&d, &n->hdr, NULL);
	r = ssefs_fs_abspath(fs, n->rel, d.path, sizeof(d.path));
	pthread_mutex_unlock(&n->lock);
	if (r < 0)
		return 0;
	ssefs_fs_vault_lock(fs);
	r = vault_disk_put(fs->vault, &d);
	ssefs_fs_vault_unlock(fs);
	if (r < 0)
		warning("disk %s: cannot update the vault's registry: %s",
			d.path, strerror(-r));
	return 0;
}

static int ssefs_rename(const char *from, const char *to, unsigned int flags)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	const char *rf = relpath(from), *rt = relpath(to);
	struct disk_node *n, *old = NULL;
	struct beneath_at af, at;
	struct env_header oldh;
	unsigned int nd, nb;
	struct stat st, tst;
	int r, old_disk = 0;

	if ((flags & ~RENAME_NOREPLACE) || name_has_ctrl(rt))
		return -EINVAL;
	if (is_lockfile(rf) || is_lockfile(rt) || is_pinned(fs, rf) ||
	    is_pinned(fs, rt))
		return -EPERM;
	r = beneath_stat(fs->store_fd, rf, &st);
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode)) {
		r = lookup_file(fs, rf, &n, NULL);
		if (r < 0)
			return r;
	}
	/* a disk being replaced leaves the registry */
	r = lookup_file(fs, rt, &old, NULL);
	if (r == 0) {
		pthread_mutex_lock(&old->lock);
		old_disk = old->probe_rc == 0;
		if (old_disk)
			oldh = old->hdr;
		pthread_mutex_unlock(&old->lock);
	} else if (r != -ENOENT && r != -EISDIR) {
		return r;
	} else if (r == -ENOENT && beneath_stat(fs->store_fd, rt, &tst) == 0) {
		return -EEXIST;	/* a hidden store file: never clobber it */
	}
	r = beneath_at(&af, fs->store_fd, rf);
	if (r == 0) {
		r = beneath_at(&at, fs->store_fd, rt);
		if (r == 0 && renameat2(af.fd, af.leaf, at.fd, at.leaf,
					flags) < 0)
			r = -errno;
		beneath_at_release(&at);
	}
	beneath_at_release(&af);
	if (r < 0)
		return r;
	if (old) {
		ssefs_fs_bury(fs, old);
		if (old_disk)
			registry_del(fs, &oldh);
	}
	r = ssefs_fs_rename_nodes(fs, rf, rt);
	if (fs->vault) {
		/* nodes not seen yet under a renamed directory: probe them */
		if (S_ISDIR(st.st_mode))
			ssefs_fs_scan(fs, &nd, &nb);
		ssefs_fs_for_each_disk(fs, registry_put_one, (void *)rt);
	}
	return r;
}

/* Is @rel a folder or a shown file?  Then @at is its parent and leaf
 * (release it either way). */
static int visible(struct ssefs_fs *fs, const char *rel,
		   struct beneath_at *at)
{
	struct disk_node *n;
	int r = beneath_at(at, fs->store_fd, rel);

	if (r == 0)
		r = lookup_file(fs, rel, &n, NULL);
	return r == -EISDIR ? 0 : r;
}

static int ssefs_chmod(const char *path, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct disk_node *n;
	char buf[PATH_MAX];
	const char *rel = fi_rel(path, fi, buf, sizeof(buf));
	int r;

	if (!rel)
		return -EBADF;
	if (is_pinned(fs, rel))
		return -EPERM;
	r = lookup_file(fs, rel, &n, NULL);
	if (r < 0 && r != -EISDIR)
		return r;
	mode &= r == -EISDIR ? 07777 : DISK_MODE_MASK;
	return beneath_chmod(fs->store_fd, rel, mode);
}

static int ssefs_chown(const char *path, uid_t uid, gid_t gid,
		       struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct beneath_at at;
	char buf[PATH_MAX];
	const char *rel = fi_rel(path, fi, buf, sizeof(buf));
	int r;

	if (!rel)
		return -EBADF;
	if (is_pinned(fs, rel))
		return -EPERM;
	r = visible(fs, rel, &at);
	if (r == 0 && fchownat(at.fd, at.leaf, uid, gid,
			       AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	beneath_at_release(&at);
	return r;
}

static int ssefs_utimens(const char *path, const struct timespec tv[2],
			 struct fuse_file_info *fi)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct disk_node *n;
	struct beneath_at at;
	char buf[PATH_MAX];
	const char *rel = fi_rel(path, fi, buf, sizeof(buf));
	int r;

	if (!rel)
		return -EBADF;
	n = outside_node(fs, rel);
	if (n)
		return utimensat(n->dirfd, n->file, tv, AT_SYMLINK_NOFOLLOW) <
		       0 ? -errno : 0;
	r = visible(fs, rel, &at);
	if (r == 0 && utimensat(at.fd, at.leaf, tv, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	beneath_at_release(&at);
	return r;
}

/* ---- read-only user.ssefs.* attributes ---- */

static const char *const xattr_names[] = {
	"user.ssefs.encryption_type",
	"user.ssefs.kid",
	"user.ssefs.des",
	"user.ssefs.sector_size",
	"user.ssefs.uuid",
	"user.ssefs.key_state",
	"user.ssefs.platform_kid",	/* only with double encryption */
};
#define NXATTRS (sizeof(xattr_names) / sizeof(xattr_names[0]))

static int xattr_value(struct ssefs_fs *fs, struct disk_node *n,
		       const char *name, char *val, size_t len)
{
	struct env_header h;
	const char *s = NULL;
	int r;

	pthread_mutex_lock(&n->lock);
	if (n->probe_rc != 0) {
		pthread_mutex_unlock(&n->lock);
		return -ENODATA;
	}
	if (n->vol)
		vol_get_header(n->vol, &h);
	else
		h = n->hdr;
	pthread_mutex_unlock(&n->lock);

	if (!strcmp(name, "user.ssefs.encryption_type")) {
		s = env_type_name(h.enc_type);
	} else if (!strcmp(name, "user.ssefs.kid")) {
		s = h.layer[0].kid;
	} else if (!strcmp(name, "user.ssefs.des")) {
		s = h.des;
	} else if (!strcmp(name, "user.ssefs.sector_size")) {
		snprintf(val, len, "%u", h.sector_size);
	} else if (!strcmp(name, "user.ssefs.uuid")) {
		format_uuid(h.uuid, val);
	} else if (!strcmp(name, "user.ssefs.key_state")) {
		if (!fs->vault)
			return -ENODATA;
		s = key_state_name(ssefs_fs_key_state(fs, &h, NULL));
	} else if (!strcmp(name, "user.ssefs.platform_kid")) {
		if (h.nlayers < 2)
			return -ENODATA;
		s = h.layer[1].kid;
	} else {
		return -ENODATA;
	}
	if (s) {
		r = snprintf(val, len, "%s", s);
		if (r < 0 || (size_t)r >= len)
			return -ERANGE;
	}
	return (int)strlen(val);
}

static int ssefs_getxattr(const char *path, const char *name, char *value,
			  size_t size)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct disk_node *n;
	char val[ENV_KID_MAX + 64];
	int r;

	if (strncmp(name, "user.ssefs.", 11))
		return -ENODATA;
	r = lookup_file(fs, relpath(path), &n, NULL);
	if (r < 0)
		return r == -EISDIR ? -ENODATA : r;
	if (n->flags & NODE_NO_VAULT)
		return -ENODATA;
	r = xattr_value(fs, n, name, val, sizeof(val));
	if (r < 0)
		return r;
	if (size == 0)
		return r;
	if ((size_t)r > size)
		return -ERANGE;
	memcpy(value, val, (size_t)r);
	return r;
}

static int ssefs_listxattr(const char *path, char *list, size_t size)
{
	struct ssefs_fs *fs = ssefs_fs_get();
	struct disk_node *n;
	size_t need = 0, i;
	char *p = list;
	int r, nlayers;

	r = lookup_file(fs, relpath(path), &n, NULL);
	if (r == -EISDIR)
		return 0;
	if (r < 0)
		return r;
	if (n->flags & NODE_NO_VAULT)
		return 0;		/* no user.ssefs.* attributes */
	pthread_mutex_lock(&n->lock);
	r = n->probe_rc;
	nlayers = (int)n->hdr.nlayers;
	pthread_mutex_unlock(&n->lock);
	if (r != 0)
		return 0;
	for (i = 0; i < NXATTRS; i++) {
		if (i == NXATTRS - 1 && nlayers < 2)
			continue;
		need += strlen(xattr_names[i]) + 1;
	}
	if (size == 0)
		return (int)need;
	if (need > size)
		return -ERANGE;
	for (i = 0; i < NXATTRS; i++) {
		if (i == NXATTRS - 1 && nlayers < 2)
			continue;
		memcpy(p, xattr_names[i], strlen(xattr_names[i]) + 1);
		p += strlen(xattr_names[i]) + 1;
	}
	return (int)need;
}

static int ssefs_setxattr(const char *path, const char *name,
			  const char *value, size_t size, int flags)
{
	(void)path;
	(void)value;
	(void)size;
	(void)flags;
	return strncmp(name, "user.ssefs.", 11) ? -ENOTSUP : -EPERM;
}

static int ssefs_removexattr(const char *path, const char *name)
{
	(void)path;
	return strncmp(name, "user.ssefs.", 11) ? -ENOTSUP : -EPERM;
}

static void *ssefs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct ssefs_fs *fs = ssefs_fs_get();

	/*
	 * Throughput: 1 MiB requests (max_pages follows max_write), async
	 * reads, readahead up to 1 MiB.  Correctness: short attribute and
	 * entry timeouts and no kernel_cache, so that a revoked disk's pages
	 * and size can be invalidated; the page cache stays usable (no
	 * direct_io) for mmap, loop devices and qemu-img.
	 */
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	cfg->attr_timeout = 1.0;
	cfg->entry_timeout = 1.0;
	cfg->negative_timeout = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	cfg->direct_io = 0;
	cfg->hard_remove = 1;
	/* I/O on an open disk needs no path (fi->fh has the node): saves
	 * libfuse a path lookup per request; the path-taking callbacks
	 * fall back to the node's name (fi_rel()) */
	cfg->nullpath_ok = 1;
	cfg->use_ino = 0;
	return fs;
}

static void ssefs_destroy(void *private_data)
{
	struct ssefs_fs *fs = private_data;

	if (fs)
		ssefs_fs_close_all(fs);
}

const struct fuse_operations ssefs_ops = {
	.init		= ssefs_init,
	.destroy	= ssefs_destroy,
	.getattr	= ssefs_getattr,
	.opendir	= ssefs_opendir,
	.readdir	= ssefs_readdir,
	.releasedir	= ssefs_releasedir,
	.open		= ssefs_open,
	.create		= ssefs_create,
	.release	= ssefs_release,
	.read		= ssefs_read,
	.write		= ssefs_write,
	.flush		= ssefs_flush,
	.fsync		= ssefs_fsync,
	.truncate	= ssefs_truncate,
	.fallocate	= ssefs_fallocate,
	.statfs		= ssefs_statfs,
	.unlink		= ssefs_unlink,
	.rename		= ssefs_rename,
	.mkdir		= ssefs_mkdir,
	.rmdir		= ssefs_rmdir,
	.chmod		= ssefs_chmod,
	.chown		= ssefs_chown,
	.utimens	= ssefs_utimens,
	.getxattr	= ssefs_getxattr,
	.listxattr	= ssefs_listxattr,
	.setxattr	= ssefs_setxattr,
	.removexattr	= ssefs_removexattr,
};
