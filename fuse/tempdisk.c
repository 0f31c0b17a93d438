/*
 * tempdisk.c - temp.vhd: a fixed VHD in the host cache directory, under an
 * ephemeral platform key, discarded at unmount (see fuse/tempdisk.h)
 */
#include <errno.h>
#include <fcntl.h>
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
#include "disk/backing_file.h"
#include "disk/keyops.h"
#include "disk/offsets.h"
#include "disk/vhd.h"
#include "disk/volume.h"
#include "fuse/fs.h"
#include "fuse/tempdisk.h"
#include "keyvault/vault.h"
#include "util/log.h"
#include "util/parse.h"

#define TEMPDISK_MIB	(UINT64_C(1) << 20)
#define KID_ID_BYTES	16		/* 32 hex digits */
#define RAW_SECTOR	512		/* the plaintext volume's: the .vhd
					 * length is N MiB + 512 */
/* its size is fixed, and fsync returns at once: nothing outlives the
 * mount anyway */
#define TEMPDISK_VOL_FLAGS	(VOL_FIXED_SIZE | VOL_SCRATCH)

struct tempdisk {
	int dirfd;			/* a dup of the directory's fd */
	const char *name;		/* TEMPDISK_FILE_ENC or _PLAIN */
	char *path;			/* DIR/name */
	int linked;			/* the backing file is ours to unlink */
	int fd;				/* the backing file (stat, truncate) */
	uint64_t size;			/* .vhd length, footer included */
	int encrypted;

	/* encryption at host on */
	struct secbuf *kek;		/* the ephemeral platform key */
	char kid[sizeof(TEMPDISK_KID_PREFIX) + 2 * KID_ID_BYTES];

	/* an envelope volume under the ephemeral key, or a raw one over
	 * the plaintext .vhd; TEMPDISK_VOL_FLAGS either way */
	struct volume *vol;
	struct disk_node *node;		/* in the mount's table, or NULL */
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

/* The encrypted backing file: an envelope disk and its volume. */
static int make_encrypted(struct tempdisk *t, const uint8_t *uuid)
{
	struct keyops ops = { t, eph_unwrap, eph_wrap };
	struct vol_format f;
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
	r = vol_open_fd(&t->vol, vfd, t->path, TEMPDISK_VOL_FLAGS, &ops);
	if (r < 0)
		t->vol = NULL;
	return r;
}

/* The plaintext backing file: the .vhd itself, sparse, as a raw volume. */
static int make_plain(struct tempdisk *t)
{
	struct backing *b;
	int vfd, r;

	vfd = fcntl(t->fd, F_DUPFD_CLOEXEC, 0);
	if (vfd < 0)
		return -errno;
	r = backing_file_new(&b, vfd, t->path);
	if (r == 0)
		r = vol_open_raw(&t->vol, b, RAW_SECTOR, t->size,
				 TEMPDISK_VOL_FLAGS);
	if (r < 0)
		t->vol = NULL;
	return r;
}

int tempdisk_create(struct tempdisk **out, int dirfd, const char *dirpath,
		    uint64_t size, int encrypt)
{
	uint8_t footer[VHD_FOOTER_BYTES], uuid[16];
	struct tempdisk *t;
	ssize_t w;
	int r;

	if (!size || size % TEMPDISK_MIB || size > VOL_MAX_SIZE - TEMPDISK_MIB)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = t->dirfd = -1;
	t->size = size + VHD_FOOTER_BYTES;
	t->name = encrypt ? TEMPDISK_FILE_ENC : TEMPDISK_FILE_PLAIN;
	t->encrypted = !!encrypt;
	if (asprintf(&t->path, "%s/%s", dirpath, t->name) < 0) {
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
	/* the mount shows the file's stat: 0600 whatever the umask */
	if (fchmod(t->fd, 0600) < 0) {
		r = -errno;
		goto fail;
	}

	/* the footer carries the disk's UUID, as `ssefs disk create` does */
	rng_uuid(uuid);
	vhd_footer_build(footer, size, uuid, time(NULL));
	r = encrypt ? make_encrypted(t, uuid) : make_plain(t);
	if (r < 0)
		goto fail;
	w = vol_write(t->vol, footer, VHD_FOOTER_BYTES,
		      t->size - VHD_FOOTER_BYTES);
	if (w != VHD_FOOTER_BYTES) {
		r = w < 0 ? (int)w : -EIO;
		goto fail;
	}
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
	free(t->path);
	free(t);
}

/* ---- what the mount shows ---- */

uint64_t tempdisk_size(const struct tempdisk *t)
{
	return t->size;
}

int tempdisk_encrypted(const struct tempdisk *t)
{
	return t->encrypted;
}

const char *tempdisk_path(const struct tempdisk *t)
{
	return t->path;
}

const char *tempdisk_kid(const struct tempdisk *t)
{
	return t->encrypted ? t->kid : NULL;
}

struct volume *tempdisk_volume(struct tempdisk *t)
{
	return t->vol;
}

struct disk_node *tempdisk_node(struct tempdisk *t)
{
	return t->node;
}

uint64_t tempdisk_allocated(struct tempdisk *t)
{
	struct stat st;

	return fstat(t->fd, &st) < 0 ? 0 : (uint64_t)st.st_blocks * 512;
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
	/* a disk of the mount like any other, but for its properties */
	if (r == 0) {
		r = ssefs_fs_add_node(fs, TEMPDISK_NAME, NODE_PINNED |
				      NODE_NO_VAULT, t->vol, t->dirfd,
				      t->name, &t->node);
		if (r < 0)
			tempdisk_destroy(t);
	}
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
	if (t)
		ssefs_fs_remove_node(fs, t->node);
	tempdisk_destroy(t);
}
