/*
 * fs.c - one mount's table of disks: header cache, open volumes, scans
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse.h>

#include "disk/backing.h"
#include "disk/header.h"
#include "disk/volume.h"
#include "cache/hcache.h"
#include "store/azauth.h"
#include "store/blobback.h"
#include "fuse/fs.h"
#include "keyvault/vault.h"
#include "util/beneath.h"
#include "util/log.h"

struct ssefs_fs *ssefs_fs_get(void)
{
	return fuse_get_context()->private_data;
}

void ssefs_fs_vault_lock(struct ssefs_fs *fs)
{
	pthread_mutex_lock(&fs->vault_lock);
}

void ssefs_fs_vault_unlock(struct ssefs_fs *fs)
{
	pthread_mutex_unlock(&fs->vault_lock);
}

/* The vault's keyops.  The vault serialises its own state, and each
 * unwrap's detail is its own: no lock is needed around them. */
static int fs_unwrap(void *ctx, const struct env_layer *layer,
		     struct secbuf **dek)
{
	struct ssefs_fs *fs = ctx;
	struct vault_err e;
	int r;

	r = vault_unwrap(fs->vault, layer, dek, &e);
	/* An hsm key's token said why: the admin needs it in the log. */
	if (r < 0 && *e.why)
		warning("key %s: %s", layer->kid, e.why);
	return r;
}

static int fs_wrap(void *ctx, const char *kid, const struct secbuf *dek,
		   struct env_layer *layer)
{
	struct ssefs_fs *fs = ctx;

	return vault_wrap(fs->vault, kid, dek, layer);
}

int ssefs_fs_init(struct ssefs_fs *fs, const char *store, const char *mnt,
		  struct vault *v, const char *vault_dir)
{
	memset(fs, 0, sizeof(*fs));
	fs->store_fd = -1;
	fs->host.fd = fs->host.lock_fd = -1;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->vault_lock, NULL);
	mount_opts_init(&fs->opts);
	fs->store = strdup(store);
	fs->mnt = strdup(mnt);
	fs->vault_dir = strdup(vault_dir ? vault_dir : "");
	if (!fs->store || !fs->mnt || !fs->vault_dir)
		return -ENOMEM;
	/* a blob store is opened with the mount's options: open_blob() */
	fs->store_fd = blob_is_url(store) ? -1 :
		       trusted_open(store, O_RDONLY | O_DIRECTORY, 0);
	if (fs->store_fd < 0 && !blob_is_url(store))
		return fs->store_fd;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->pid = getpid();
	fs->vault = v;
	if (v) {
		fs->keyops.ctx = fs;
		fs->keyops.unwrap = fs_unwrap;
		fs->keyops.wrap = fs_wrap;
	}
	return 0;
}

static unsigned int hash_rel(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h % SSEFS_NBUCKETS;
}

static void node_free(struct disk_node *n)
{
	if (!n)
		return;
	if (n->vol && !(n->flags & NODE_OUTSIDE))
		vol_close(n->vol);
	if (n->flags & NODE_OUTSIDE)
		close(n->dirfd);
	pthread_mutex_destroy(&n->lock);
	free(n->file);
	free(n->rel);
	free(n);
}

struct disk_node *ssefs_fs_node(struct ssefs_fs *fs, const char *rel,
				int create)
{
	unsigned int b = hash_rel(rel);
	struct disk_node *n;

	pthread_mutex_lock(&fs->lock);
	for (n = fs->bucket[b]; n; n = n->next)
		if (!strcmp(n->rel, rel))
			goto out;
	if (!create)
		goto out;
	n = calloc(1, sizeof(*n));
	if (!n)
		goto out;
	n->rel = strdup(rel);
	if (!n->rel) {
		free(n);
		n = NULL;
		goto out;
	}
	pthread_mutex_init(&n->lock, NULL);
	n->next = fs->bucket[b];
	fs->bucket[b] = n;
out:
	pthread_mutex_unlock(&fs->lock);
	return n;
}

int ssefs_fs_abspath(struct ssefs_fs *fs, const char *rel, char *buf,
		     size_t len)
{
	int n;

	if (!*rel || !strcmp(rel, "."))
		n = snprintf(buf, len, "%s", fs->store);
	else
		n = snprintf(buf, len, "%s/%s", fs->store, rel);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Does the vault's registry list a disk at @path? */
static int registered(struct ssefs_fs *fs, const char *path)
{
	struct vault_disk *d = NULL;
	size_t n = 0;
	int hit = 0;

	if (!fs->vault)
		return 0;
	ssefs_fs_vault_lock(fs);
	if (vault_disk_list(fs->vault, &d, &n) < 0)
		n = 0;
	ssefs_fs_vault_unlock(fs);
	for (size_t i = 0; i < n && !hit; i++)
		hit = !strcmp(d[i].path, path);
	free(d);
	return hit;
}

/* Open the store file @rel (beneath the store root), a regular file. */
static int open_rel(struct ssefs_fs *fs, const char *rel, int flags,
		    struct stat *st)
{
	int fd;

	/* O_NONBLOCK: a FIFO swapped in must not hang the daemon */
	fd = beneath_open(fs->store_fd, rel, flags | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
	    fcntl(fd, F_SETFL, 0) < 0) {
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

/* A lost lease, from the store's renewing thread: one line in the log. */
static void blob_notice(void *arg, const char *line)
{
	(void)arg;
	error("%s", strncmp(line, "ssefs: ", 7) ? line : line + 7);
}

int ssefs_fs_open_blob(struct ssefs_fs *fs)
{
	struct blob_store_opts o = {
		.timeout_ms = (unsigned int)fs->opts.store_timeout * 1000,
		.allow_http = fs->opts.allow_http,
		.credentials_file = fs->opts.credentials,
		.lease_seconds = (int)fs->opts.lease_seconds,
		.notice = blob_notice,
	};
	char msg[BLOB_MSG_MAX];
	int r;

	r = blob_store_open(&fs->blob, fs->store, &o, msg, sizeof(msg));
	if (r < 0)
		blob_notice(NULL, msg);
	else
		azb_creds_scrub_env();	/* the store holds its own copy */
	return r;
}

/* A disk of a blob store: a page blob NAME.vhd directly in it. */
static int blob_name_ok(const char *rel)
{
	size_t l = strlen(rel);

	return l > 4 && !strchr(rel, '/') && !strcmp(rel + l - 4, ".vhd");
}

static int open_blob_volume(struct ssefs_fs *fs, const char *rel, int flags,
			    struct volume **out)
{
	char msg[BLOB_MSG_MAX];
	struct backing *b;
	int r;

	r = blob_backing_open(&b, fs->blob, rel,
			      flags & VOL_RDONLY ? BLOB_RDONLY : 0, msg,
			      sizeof(msg));
	if (r < 0) {
		if (r != -ENOENT)
			blob_notice(NULL, msg);
		return r;
	}
	/*
	 * The lease first: credentials that may read but not write (a SAS
	 * without write) fail here with 403.  The mount goes on serving
	 * reads; the first refusal is one line naming the account and the
	 * container, later ones are EACCES alone.
	 */
	r = flags & VOL_RDONLY ? 0 : b->ops->hold_inuse(b);
	if (r == -EACCES) {
		if (!__atomic_exchange_n(&fs->blob_denied, 1,
					 __ATOMIC_ACQ_REL)) {
			blob_backing_why(b, r, msg, sizeof(msg));
			error("%s; writes fail with EACCES, reads go on",
			      strncmp(msg, "ssefs: ", 7) ? msg : msg + 7);
		}
		b->ops->close(b);
		return r;
	}
	if (r < 0) {
		b->ops->close(b);
		if (r == -EBUSY)
			error("disk %s/%s: in use: another host holds its "
			      "lease", fs->store, rel);
		else
			error("disk %s/%s: cannot open: %s", fs->store, rel,
			      strerror(-r));
		return r;
	}
	r = vol_open_backing(out, b, flags, &fs->keyops);
	if (r == -EBUSY)	/* hold_inuse: another host has it open */
		error("disk %s/%s: in use: another host holds its lease",
		      fs->store, rel);
	else if (r == -EACCES || r == -EIO)
		error("disk %s/%s: cannot open: %s", fs->store, rel,
		      strerror(-r));
	return r;
}

int ssefs_fs_open_volume(struct ssefs_fs *fs, const char *rel, int flags,
			 struct volume **out)
{
	char name[4096];
	struct stat st;
	int fd, r;

	if (fs->blob)
		return open_blob_volume(fs, rel, flags, out);

	r = ssefs_fs_abspath(fs, rel, name, sizeof(name));
	if (r < 0)
		return r;
	fd = open_rel(fs, rel, flags & VOL_RDONLY ? O_RDONLY : O_RDWR, &st);
	if (fd == -ENOTSUP)
		return -EBADMSG;	/* no longer a disk */
	if (fd < 0)
		return fd;
	return vol_open_fd(out, fd, name, flags, &fs->keyops);
}

/* probe_locked() of a blob store's disk: the blob's header (two GETs
 * and a HEAD); kept until the disk's last close. */
static int probe_blob(struct ssefs_fs *fs, struct disk_node *n)
{
	char msg[BLOB_MSG_MAX];
	struct backing *b;
	uint64_t len = 0;
	int r;

	if (n->probed || n->vol)
		return n->probed ? n->probe_rc : 0;
	if (!blob_name_ok(n->rel))
		return -ENOTSUP;
	r = blob_backing_open(&b, fs->blob, n->rel, BLOB_RDONLY, msg,
			      sizeof(msg));
	if (r == -EMEDIUMTYPE)
		return -ENOTSUP;	/* a block blob: not a disk */
	if (r < 0)
		return r;
	r = hdr_get(b, &n->hdr, NULL);
	if (r == 0 || r == -ENOTSUP || r == -EBADMSG ||
	    r == -EPROTONOSUPPORT)
		b->ops->get_size(b, &len);
	b->ops->close(b);
	if (r != 0 && r != -ENOTSUP && r != -EBADMSG &&
	    r != -EPROTONOSUPPORT)
		return r;
	n->probe_rc = r;
	n->probed = 1;
	n->bsize = (off_t)len;
	return r;
}

int ssefs_fs_blob_lookup(struct ssefs_fs *fs, const char *rel,
			 struct disk_node **out, struct stat *st)
{
	struct disk_node *n;
	int r;

	if (!blob_name_ok(rel))
		return -ENOENT;
	n = ssefs_fs_node(fs, rel, 0);
	if (!n) {
		/* one node per name that exists: a lookup of a name that
		 * does not leaves nothing behind */
		char msg[BLOB_MSG_MAX];
		struct backing *b;

		r = blob_backing_open(&b, fs->blob, rel, BLOB_RDONLY, msg,
				      sizeof(msg));
		if (r < 0)
			return r == -EMEDIUMTYPE ? -ENOENT : r;
		b->ops->close(b);
		n = ssefs_fs_node(fs, rel, 1);
		if (!n)
			return -ENOMEM;
	}
	r = ssefs_fs_probe(fs, n);
	if (r < 0 && r != -EBADMSG && r != -EPROTONOSUPPORT &&
	    r != VOL_EFOREIGN)
		return r == -ENOTSUP ? -ENOENT : r;
	if (st) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_uid = fs->uid;
		st->st_gid = fs->gid;
		st->st_blocks = n->bsize / 512;
	}
	*out = n;
	return 0;
}

/* Caller holds n->lock.  @known: the file's lstat, if the caller has it. */
static int probe_locked(struct ssefs_fs *fs, struct disk_node *n,
			const struct stat *known)
{
	struct stat st;
	int r, fd;

	if (n->flags & NODE_OUTSIDE)
		return n->probe_rc;	/* not a store file: set at its add */
	if (fs->blob)
		return probe_blob(fs, n);

	if (known) {
		st = *known;
	} else {
		r = beneath_stat(fs->store_fd, n->rel, &st);
		if (r < 0)
			return r;
	}
	if (!S_ISREG(st.st_mode))
		return -ENOTSUP;
	if (n->probed && n->dev == st.st_dev && n->ino == st.st_ino &&
	    n->bsize == st.st_size &&
	    n->mtime.tv_sec == st.st_mtim.tv_sec &&
	    n->mtime.tv_nsec == st.st_mtim.tv_nsec)
		return n->probe_rc;
	if (n->vol && n->probed && n->probe_rc == 0 &&
	    n->dev == st.st_dev && n->ino == st.st_ino)
		return 0;	/* open: the volume is the truth, not the file */
	fd = open_rel(fs, n->rel, O_RDONLY, &st);
	if (fd == -ENOTSUP)
		return fd;		/* swapped for something else */
	if (fd < 0)
		return fd;
	r = vol_probe_fd(fd, &n->hdr);
	close(fd);
	/* a registered disk cut off within its header, magic and all, is
	 * a damaged disk, not a file to hide */
	if (r == -ENOTSUP && st.st_size < ENV_DATA_OFFSET) {
		char path[4096];

		if (ssefs_fs_abspath(fs, n->rel, path, sizeof(path)) == 0 &&
		    registered(fs, path))
			r = -EBADMSG;
	}
	if (r != 0 && r != -ENOTSUP && r != -EBADMSG &&
	    r != -EPROTONOSUPPORT)
		return r;	/* e.g. -ENOENT racing an unlink: no cache */
	n->probe_rc = r;
	n->probed = 1;
	n->dev = st.st_dev;
	n->ino = st.st_ino;
	n->bsize = st.st_size;
	n->mtime = st.st_mtim;
	return r;
}

int ssefs_fs_probe_stat(struct ssefs_fs *fs, struct disk_node *n,
			const struct stat *st)
{
	int r;

	pthread_mutex_lock(&n->lock);
	r = probe_locked(fs, n, st);
	pthread_mutex_unlock(&n->lock);
	return r;
}

int ssefs_fs_probe(struct ssefs_fs *fs, struct disk_node *n)
{
	return ssefs_fs_probe_stat(fs, n, NULL);
}

int ssefs_fs_for_each_disk(struct ssefs_fs *fs,
			   int (*fn)(struct ssefs_fs *fs, struct disk_node *n,
				     void *arg), void *arg)
{
	struct disk_node **all = NULL, *n;
	size_t cnt = 0, cap = 0, i;
	unsigned int b;
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	for (b = 0; b < SSEFS_NBUCKETS; b++) {
		for (n = fs->bucket[b]; n; n = n->next) {
			if (cnt == cap) {
				struct disk_node **p;

				cap = cap ? cap * 2 : 64;
				p = realloc(all, cap * sizeof(*all));
				if (!p) {
					pthread_mutex_unlock(&fs->lock);
					free(all);
					return -ENOMEM;
				}
				all = p;
			}
			all[cnt++] = n;
		}
	}
	pthread_mutex_unlock(&fs->lock);

	/* Nodes live until unmount: safe to use without fs->lock. */
	for (i = 0; i < cnt && r == 0; i++) {
		int pr;

		n = all[i];
		pthread_mutex_lock(&n->lock);
		pr = n->probed ? n->probe_rc : -ENOTSUP;
		pthread_mutex_unlock(&n->lock);
		if (pr == -ENOTSUP || n->unlinked)
			continue;
		r = fn(fs, n, arg);
	}
	free(all);
	return r;
}

/* Walk the folder @dfd (at @rel in the store) and what is below it: each
 * subfolder is opened from its parent's fd without following a symlink. */
static void scan_dir(struct ssefs_fs *fs, int dfd, const char *rel,
		     unsigned int *nd, unsigned int *nb, int depth)
{
	struct dirent *de;
	DIR *d;

	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		char child[4096];
		struct disk_node *n;
		struct stat st;
		int pr, cfd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(child, sizeof(child), "%s%s%s", rel,
			     *rel ? "/" : "", de->d_name) >= (int)sizeof(child))
			continue;
		if (de->d_type == DT_DIR) {
			if (depth >= 64)
				continue;
			cfd = openat(dirfd(d), de->d_name, O_RDONLY |
				     O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0)
				scan_dir(fs, cfd, child, nd, nb, depth + 1);
			continue;
		}
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (!depth && !strcmp(de->d_name, ".ssefs.lock"))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		n = ssefs_fs_node(fs, child, 1);
		if (!n)
			continue;
		pr = ssefs_fs_probe_stat(fs, n, &st);
		if (pr == 0)
			(*nd)++;
		else if (pr == -EBADMSG || pr == -EPROTONOSUPPORT ||
			 pr == VOL_EFOREIGN)
			(*nb)++;
	}
	closedir(d);
}

struct blob_scan {
	struct ssefs_fs *fs;
	unsigned int *nd, *nb;
};

static int scan_blob(void *arg, const struct blob_entry *e)
{
	struct blob_scan *sc = arg;
	struct disk_node *n;
	int pr;

	n = ssefs_fs_node(sc->fs, e->name, 1);
	if (!n)
		return 0;
	pr = ssefs_fs_probe(sc->fs, n);
	if (pr == 0)
		(*sc->nd)++;
	else if (pr == -EBADMSG || pr == -EPROTONOSUPPORT)
		(*sc->nb)++;
	return 0;
}

int ssefs_fs_scan(struct ssefs_fs *fs, unsigned int *ndisks,
		  unsigned int *nbad)
{
	int fd;

	*ndisks = *nbad = 0;
	if (fs->blob) {
		struct blob_scan sc = { fs, ndisks, nbad };
		char msg[BLOB_MSG_MAX];
		int r;

		/* a 403 here is the mount's one line */
		r = blob_store_list(fs->blob, scan_blob, &sc, msg, sizeof(msg));
		if (r < 0)
			blob_notice(NULL, msg);
		return r;
	}
	fd = openat(fs->store_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	scan_dir(fs, fd, "", ndisks, nbad, 0);
	return 0;
}

void ssefs_fs_invalidate(struct ssefs_fs *fs, struct disk_node *n)
{
	char path[4097];

	if (!fs->fuse)
		return;
	pthread_mutex_lock(&fs->lock);
	snprintf(path, sizeof(path), "/%s", n->rel);
	pthread_mutex_unlock(&fs->lock);
	fuse_invalidate_path(fs->fuse, path);
}

void ssefs_fs_close_all(struct ssefs_fs *fs)
{
	struct disk_node *n;
	unsigned int b;

	pthread_mutex_lock(&fs->lock);
	for (b = 0; b < SSEFS_NBUCKETS; b++) {
		for (n = fs->bucket[b]; n; n = n->next) {
			pthread_mutex_lock(&n->lock);
			if (n->vol && !(n->flags & NODE_OUTSIDE)) {
				vol_close(n->vol);
				n->vol = NULL;
			}
			pthread_mutex_unlock(&n->lock);
		}
	}
	for (n = fs->graveyard; n; n = n->next) {
		pthread_mutex_lock(&n->lock);
		if (n->vol && !(n->flags & NODE_OUTSIDE)) {
			vol_close(n->vol);
			n->vol = NULL;
		}
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&fs->lock);
}

void ssefs_fs_destroy(struct ssefs_fs *fs)
{
	struct disk_node *n, *next;
	unsigned int b;

	ssefs_fs_close_all(fs);
	for (b = 0; b < SSEFS_NBUCKETS; b++) {
		for (n = fs->bucket[b]; n; n = next) {
			next = n->next;
			node_free(n);
		}
		fs->bucket[b] = NULL;
	}
	for (n = fs->graveyard; n; n = next) {
		next = n->next;
		node_free(n);
	}
	fs->graveyard = NULL;
	if (fs->store_fd >= 0)
		close(fs->store_fd);
	blob_store_close(fs->blob);	/* after every volume */
	fs->blob = NULL;
	fs->store_fd = -1;
	hostdir_close(&fs->host);
	mount_opts_release(&fs->opts);
	free(fs->store);
	free(fs->mnt);
	free(fs->vault_dir);
	free(fs->default_kid_ref);
	fs->store = fs->mnt = fs->vault_dir = fs->default_kid_ref = NULL;
	pthread_mutex_destroy(&fs->lock);
	pthread_mutex_destroy(&fs->vault_lock);
}

void ssefs_fs_bury(struct ssefs_fs *fs, struct disk_node *n)
{
	struct disk_node **pp;

	pthread_mutex_lock(&fs->lock);
	for (pp = &fs->bucket[hash_rel(n->rel)]; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = fs->graveyard;
			fs->graveyard = n;
			n->unlinked = 1;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

int ssefs_fs_add_node(struct ssefs_fs *fs, const char *rel,
		      unsigned int flags, struct volume *vol, int dirfd,
		      const char *file, struct disk_node **out)
{
	struct disk_node *n;
	unsigned int b, slot;
	int r = 0;

	if (!*rel || strchr(rel, '/') || !vol)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->flags = flags | NODE_OUTSIDE;
	n->probed = 1;
	n->vol = vol;
	n->rel = strdup(rel);
	n->file = strdup(file);
	n->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (!n->rel || !n->file || n->dirfd < 0) {
		r = n->dirfd < 0 && n->rel && n->file ? -errno : -ENOMEM;
		if (n->dirfd >= 0)
			close(n->dirfd);
		free(n->rel);
		free(n->file);
		free(n);
		return r;
	}
	vol_get_header(vol, &n->hdr);
	pthread_mutex_init(&n->lock, NULL);

	b = hash_rel(rel);
	pthread_mutex_lock(&fs->lock);
	for (struct disk_node *o = fs->bucket[b]; o; o = o->next)
		if (!strcmp(o->rel, rel))
			r = -EEXIST;
	for (slot = 0; slot < SSEFS_MAX_OUTSIDE && fs->outside[slot]; slot++)
		;
	if (r == 0 && slot == SSEFS_MAX_OUTSIDE)
		r = -ENOSPC;
	if (r == 0) {
		fs->outside[slot] = n;
		n->next = fs->bucket[b];
		fs->bucket[b] = n;
	}
	pthread_mutex_unlock(&fs->lock);
	if (r < 0) {
		n->vol = NULL;
		node_free(n);
		return r;
	}
	*out = n;
	return 0;
}

void ssefs_fs_remove_node(struct ssefs_fs *fs, struct disk_node *n)
{
	if (!n)
		return;
	ssefs_fs_bury(fs, n);
	pthread_mutex_lock(&fs->lock);
	for (unsigned int i = 0; i < SSEFS_MAX_OUTSIDE; i++)
		if (fs->outside[i] == n)
			fs->outside[i] = NULL;
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_lock(&n->lock);
	n->vol = NULL;
	pthread_mutex_unlock(&n->lock);
}

size_t ssefs_fs_outside(struct ssefs_fs *fs, struct disk_node **out,
			size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&fs->lock);
	for (unsigned int i = 0; i < SSEFS_MAX_OUTSIDE && k < max; i++)
		if (fs->outside[i])
			out[k++] = fs->outside[i];
	pthread_mutex_unlock(&fs->lock);
	return k;
}

int ssefs_fs_rename_nodes(struct ssefs_fs *fs, const char *from,
			  const char *to)
{
	struct disk_node *moved = NULL, *n, **pp;
	size_t fl = strlen(from);
	unsigned int b;
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	for (b = 0; b < SSEFS_NBUCKETS; b++) {
		pp = &fs->bucket[b];
		while ((n = *pp)) {
			if (!strncmp(n->rel, from, fl) &&
			    (n->rel[fl] == '\0' || n->rel[fl] == '/')) {
				*pp = n->next;
				n->next = moved;
				moved = n;
			} else {
				pp = &n->next;
			}
		}
	}
	while ((n = moved)) {
		char *rel;

		moved = n->next;
		if (asprintf(&rel, "%s%s", to, n->rel + fl) < 0) {
			n->next = fs->graveyard;
			fs->graveyard = n;
			n->unlinked = 1;
			r = -ENOMEM;
			continue;
		}
		pthread_mutex_lock(&n->lock);
		free(n->rel);
		n->rel = rel;
		pthread_mutex_unlock(&n->lock);
		b = hash_rel(rel);
		n->next = fs->bucket[b];
		fs->bucket[b] = n;
	}
	pthread_mutex_unlock(&fs->lock);
	return r;
}

enum key_state ssefs_fs_key_state(struct ssefs_fs *fs,
				  const struct env_header *h,
				  unsigned int *layer)
{
	enum key_state ks = KEY_MISSING;
	unsigned int i;

	if (!fs->vault)
		return KEY_MISSING;
	ssefs_fs_vault_lock(fs);
	for (i = 0; i < h->nlayers && i < ENV_MAX_LAYERS; i++) {
		ks = vault_key_state(fs->vault, h->layer[i].kid, 0);
		if (ks != KEY_USABLE)
			break;
	}
	ssefs_fs_vault_unlock(fs);
	if (layer)
		*layer = i < h->nlayers ? i : 0;
	return ks;
}
