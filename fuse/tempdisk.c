/*
 * tempdisk.c - temp.vhd: a fixed VHD in the host cache directory, under an
 * ephemeral platform key, discarded at unmount (see fuse/tempdisk.h)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "disk/keyops.h"
#include "disk/offsets.h"
#include "disk/vhd.h"
#include "disk/volume.h"
#include "fuse/fs.h"
#include "fuse/tempdisk.h"
#include "keyvault/vault.h"
#include "util/io.h"
#include "util/log.h"
#include "util/parse.h"

#define TEMPDISK_MIB	(UINT64_C(1) << 20)
#define KID_ID_BYTES	16		/* 32 hex digits */

struct tempdisk {
	int dirfd;			/* a dup of the directory's fd */
	const char *name;		/* TEMPDISK_FILE_ENC or _PLAIN */
	char *path;			/* DIR/name */
	int linked;			/* the backing file is ours to unlink */
	int fd;				/* the backing file (stat, plain I/O) */
	uint64_t size;			/* .vhd length, footer included */

	/* encryption at host on */
	struct secbuf *kek;		/* the ephemeral platform key */
	char kid[sizeof(TEMPDISK_KID_PREFIX) + 2 * KID_ID_BYTES];
	struct volume *vol;		/* NULL when plaintext */

	struct disk_node node;		/* what the mount hands out */
};

/* ---- the ephemeral platform key, as a struct keyops ---- */

/* Wrap @dek under the ephemeral key (RFC 5649 through OpenSSL). */
static int eph_wrap(void *ctx, const char *kid, const struct secbuf *dek,
		    struct env_layer *l)
{
	struct tempdisk *t = ctx;
	size_t n = ENV_WRAPPED_MAX;
	int r;

	if (!t->kek || strcmp(kid, t->kid))
		return -ENOKEY;
	if (secbuf_len(dek) + 16 > ENV_WRAPPED_MAX)
		return -EINVAL;
	r = vault_aes_kwp(1, secbuf_data(t->kek), secbuf_data(dek),
			  secbuf_len(dek), l->wrapped, &n);
	if (r < 0)
		return r;
	l->key_source = ENV_KEY_PLATFORM;
	l->wrap_alg = ENV_WRAP_AES_KWP;
	l->wrapped_len = (uint16_t)n;
	snprintf(l->kid, sizeof(l->kid), "%s", t->kid);
	return 0;
}

/* Unwrap a DEK wrapped by eph_wrap(); any other kid is unknown here. */
static int eph_unwrap(void *ctx, const struct env_layer *l,
		      struct secbuf **dek)
{
	struct tempdisk *t = ctx;
	struct secbuf *m;
	size_t n = ENV_WRAPPED_MAX;
	int r;

	if (!t->kek || strcmp(l->kid, t->kid))
		return -ENOKEY;
	if (l->wrap_alg != ENV_WRAP_AES_KWP ||
	    l->wrapped_len > ENV_WRAPPED_MAX)
		return -EBADMSG;
	m = secbuf_new(ENV_WRAPPED_MAX);
	if (!m)
		return -ENOMEM;
	r = vault_aes_kwp(0, secbuf_data(t->kek), l->wrapped, l->wrapped_len,
			  secbuf_data(m), &n);
	if (r == 0) {
		*dek = secbuf_from(secbuf_data(m), n);
		if (!*dek)
			r = -ENOMEM;
	}
	secbuf_free(m);
	return r;
}

/* ---- make and destroy ---- */

int tempdisk_remove_leftovers(int dirfd)
{
	static const char *const names[] = {
		TEMPDISK_FILE_ENC, TEMPDISK_FILE_PLAIN,
	};
	unsigned int i;
	int r = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (unlinkat(dirfd, names[i], 0) < 0 && errno != ENOENT &&
		    r == 0)
			r = -errno;
	return r;
}

/* A new ephemeral key and a kid that names it (not derived from it). */
static int new_ephemeral_key(struct tempdisk *t)
{
	uint8_t id[KID_ID_BYTES];
	char hex[2 * KID_ID_BYTES + 1];

	t->kek = secbuf_new(TEMPDISK_KEYBYTES);
	if (!t->kek)
		return -ENOMEM;
	rng_bytes(secbuf_data(t->kek), TEMPDISK_KEYBYTES);
	rng_bytes(id, sizeof(id));
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	snprintf(t->kid, sizeof(t->kid), "%s%s", TEMPDISK_KID_PREFIX, hex);
	return 0;
}

/* The encrypted backing file: an envelope disk, then the footer in it. */
static int make_encrypted(struct tempdisk *t, const uint8_t *footer,
			  const uint8_t *uuid)
{
	struct keyops ops = { t, eph_unwrap, eph_wrap };
	struct vol_format f;
	ssize_t w;
	int vfd, r;

	r = new_ephemeral_key(t);
	if (r < 0)
		return r;
	memset(&f, 0, sizeof(f));
	f.plain_size = t->size;
	f.sector_size = TEMPDISK_SECTOR;
	f.enc_type = ENV_TYPE_PLATFORM;
	f.nlayers = 1;
	f.kid[0] = t->kid;
	f.uuid = uuid;
	r = vol_format(t->fd, &f, &ops);
	if (r < 0)
		return r;
	vfd = fcntl(t->fd, F_DUPFD_CLOEXEC, 0);
	if (vfd < 0)
		return -errno;
	r = vol_open_fd(&t->vol, vfd, t->path, 0, &ops);
	if (r < 0) {
		t->vol = NULL;
		return r;
	}
	w = vol_write(t->vol, footer, VHD_FOOTER_BYTES,
		      t->size - VHD_FOOTER_BYTES);
	if (w < 0)
		return (int)w;
	return w == VHD_FOOTER_BYTES ? 0 : -EIO;
}

/* The plaintext backing file: the .vhd itself, sparse. */
static int make_plain(struct tempdisk *t, const uint8_t *footer)
{
	if (ftruncate(t->fd, (off_t)t->size) < 0)
		return -errno;
	return io_pwrite_all(t->fd, footer, VHD_FOOTER_BYTES,
			     (off_t)(t->size - VHD_FOOTER_BYTES));
}

int tempdisk_create(struct tempdisk **out, int dirfd, const char *dirpath,
		    uint64_t size, int encrypt)
{
	uint8_t footer[VHD_FOOTER_BYTES], uuid[16];
	struct tempdisk *t;
	int r;

	if (!size || size % TEMPDISK_MIB || size > VOL_MAX_SIZE - TEMPDISK_MIB)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = t->dirfd = -1;
	t->size = size + VHD_FOOTER_BYTES;
	t->name = encrypt ? TEMPDISK_FILE_ENC : TEMPDISK_FILE_PLAIN;
	pthread_mutex_init(&t->node.lock, NULL);
	t->node.temp = t;
	t->node.probed = 1;		/* never probed: it has no header */
	t->node.rel = strdup(TEMPDISK_NAME);
	if (!t->node.rel || asprintf(&t->path, "%s/%s", dirpath,
				     t->name) < 0) {
		t->path = NULL;
		r = -ENOMEM;
		goto fail;
	}
	t->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (t->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	t->fd = openat(t->dirfd, t->name, O_RDWR | O_CREAT | O_EXCL |
		       O_CLOEXEC | O_NOFOLLOW, 0600);
	if (t->fd < 0) {
		r = -errno;
		goto fail;
	}
	t->linked = 1;

	/* the footer carries the disk's UUID, as `ssefs disk create` does */
	rng_uuid(uuid);
	vhd_footer_build(footer, size, uuid, time(NULL));
	r = encrypt ? make_encrypted(t, footer, uuid) : make_plain(t, footer);
	if (r < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	tempdisk_destroy(t);
	return r;
}

void tempdisk_destroy(struct tempdisk *t)
{
	if (!t)
		return;
	/* unlink first: whatever happens next, nothing is left in DIR */
	if (t->linked)
		unlinkat(t->dirfd, t->name, 0);
	/* drop the blocks now rather than write dirty pages back */
	if (t->fd >= 0 && ftruncate(t->fd, 0) < 0) {
		/* best effort: the file is unlinked either way */
	}
	vol_close(t->vol);		/* wipes the DEK */
	if (t->fd >= 0)
		close(t->fd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	secbuf_free(t->kek);		/* wipes the ephemeral key */
	pthread_mutex_destroy(&t->node.lock);
	free(t->node.rel);
	free(t->path);
	free(t);
}

/* ---- I/O ---- */

ssize_t tempdisk_read(struct tempdisk *t, void *buf, size_t len,
		      uint64_t off)
{
	if (off >= t->size)
		return 0;
	if (len > t->size - off)
		len = (size_t)(t->size - off);
	if (t->vol)
		return vol_read(t->vol, buf, len, off);
	return io_pread_all(t->fd, buf, len, (off_t)off);
}

ssize_t tempdisk_write(struct tempdisk *t, const void *buf, size_t len,
		       uint64_t off)
{
	int r;

	if (off >= t->size)
		return len ? -ENOSPC : 0;
	if (len > t->size - off)
		len = (size_t)(t->size - off);
	if (t->vol)
		return vol_write(t->vol, buf, len, off);
	r = io_pwrite_all(t->fd, buf, len, (off_t)off);
	return r < 0 ? r : (ssize_t)len;
}

/* Free [off, off+len) clipped to the size: it reads as zeros after. */
static int punch(struct tempdisk *t, uint64_t off, uint64_t len)
{
	if (off >= t->size)
		return 0;
	if (len > t->size - off)
		len = t->size - off;
	if (t->vol)
		return vol_discard(t->vol, off, len);
	if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

int tempdisk_fallocate(struct tempdisk *t, int mode, uint64_t off,
		       uint64_t len)
{
	uint64_t end = off + len;

	if (!len || end < off)
		return -EINVAL;
	switch (mode) {
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return punch(t, off, len);
	case FALLOC_FL_ZERO_RANGE:
		return end > t->size ? -EPERM : punch(t, off, len);
	case 0:
		/* thin: allocating only ever grows the size */
		return end > t->size ? -EPERM : 0;
	case FALLOC_FL_KEEP_SIZE:
		return 0;
	}
	return -EOPNOTSUPP;
}

/* ---- what the mount shows ---- */

uint64_t tempdisk_size(const struct tempdisk *t)
{
	return t->size;
}

int tempdisk_encrypted(const struct tempdisk *t)
{
	return t->vol != NULL;
}

const char *tempdisk_path(const struct tempdisk *t)
{
	return t->path;
}

const char *tempdisk_kid(const struct tempdisk *t)
{
	return t->vol ? t->kid : NULL;
}

struct disk_node *tempdisk_node(struct tempdisk *t)
{
	return &t->node;
}

int tempdisk_stat(struct tempdisk *t, uid_t uid, gid_t gid, struct stat *st)
{
	struct stat b;

	if (fstat(t->fd, &b) < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_size = (off_t)t->size;
	st->st_blocks = b.st_blocks;
	st->st_blksize = 1 << 20;
	st->st_atim = b.st_atim;
	st->st_mtim = b.st_mtim;
	st->st_ctim = b.st_ctim;
	return 0;
}

int tempdisk_utimens(struct tempdisk *t, const struct timespec tv[2])
{
	return futimens(t->fd, tv) < 0 ? -errno : 0;
}

/* ---- the mount's task ---- */

int tempdisk_start(struct ssefs_fs *fs)
{
	struct tempdisk *t;
	char sz[32];
	int r;

	if (fs->host.fd < 0)
		return 0;
	/* a crashed mount's temp disk never survives it */
	r = tempdisk_remove_leftovers(fs->host.fd);
	if (r < 0) {
		error("-o host_cache=%s: cannot remove the temp disk of an "
		      "earlier mount: %s", fs->host.path, strerror(-r));
		return r;
	}
	if (!fs->opts.temp_disk)
		return 0;
	r = tempdisk_create(&t, fs->host.fd, fs->host.path,
			    fs->opts.temp_disk, fs->opts.encryption_at_host);
	if (r < 0) {
		error("-o temp_disk: cannot make the temp disk in %s: %s",
		      fs->host.path, strerror(-r));
		return r;
	}
	/* fs->lock: `ssefs status` may be looking (fuse/ctl.c) */
	pthread_mutex_lock(&fs->lock);
	fs->temp = t;
	pthread_mutex_unlock(&fs->lock);
	format_size(fs->opts.temp_disk, sz, sizeof(sz));
	info("temp disk %s/%s: %s, %s in %s", fs->mnt, TEMPDISK_NAME, sz,
	     fs->opts.encryption_at_host ?
	     "encrypted under an ephemeral platform key" :
	     "plaintext (encryption at host is off)",
	     tempdisk_path(t));
	return 0;
}

void tempdisk_stop(struct ssefs_fs *fs)
{
	struct tempdisk *t;

	pthread_mutex_lock(&fs->lock);
	t = fs->temp;
	fs->temp = NULL;
	pthread_mutex_unlock(&fs->lock);
	tempdisk_destroy(t);
}
