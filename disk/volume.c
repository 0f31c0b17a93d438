/*
 * volume.c - an open encrypted disk: plaintext I/O at any offset, on top
 * of a stack of sector devices (disk/blkdev.h) built at open: the store
 * device over the backing object, the cipher layer, and whatever the
 * caller pushes below or above the cipher layer (vol_push_layer()).  A
 * raw volume (vol_open_raw()) has the store device alone, at offset 0.
 *
 * Locks, outermost first:
 *   keys    (rwlock) every I/O holds it shared; vol_drop_keys(),
 *           vol_reload_keys() and vol_push_layer() take it exclusive, so
 *           no I/O runs on wiped keys or a stack being changed;
 *   stripes (mutexes) a write or discard holds the stripes of its sectors
 *           (a stripe per VOL_STRIPE_BYTES of the disk, modulo VOL_STRIPES,
 *           taken in ascending stripe order) for its whole read-modify-
 *           write, so two writers in one sector never lose each other's
 *           bytes, while writers of disjoint megabytes run in parallel;
 *           reads take none; a cache's write-back takes them through
 *           vol_lock_sectors(); a shrink takes all;
 *   meta    (mutex) the in-memory header and size;
 *   the header lock (the backing's hdr_lock) only while persisting.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "disk/backing_file.h"
#include "disk/blkdev.h"
#include "disk/cipherdev.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/offsets.h"
#include "disk/vhd.h"
#include "disk/volume.h"
#include "util/beneath.h"

/* 256 stripes of 64 KiB: a 1 MiB write holds 16 of them, and the writes
 * a loop device keeps in flight (max_background, 12) hold disjoint sets */
#define VOL_STRIPES	256
#define VOL_STRIPE_BYTES (64u << 10)
#define NO_BIND		UINT64_MAX
#define VOL_CHUNK	(1u << 20)	/* bytes per device call */

struct volume {
	struct backing *b;
	int rdonly;
	int fixed;			/* VOL_FIXED_SIZE */
	int scratch;			/* VOL_SCRATCH */
	int raw;			/* vol_open_raw(): no header, no cipher */
	uint32_t ss;			/* sector size */
	unsigned int nlayers;

	pthread_rwlock_t keys;
	struct blkdev *top;		/* the volume's lower device */
	struct blkdev *cipher;		/* the cipher layer in the stack */
	unsigned int pushed;		/* layers the caller added */

	pthread_mutex_t meta;
	struct env_header hdr;
	uint64_t size;			/* atomic reads; writes under meta */
	int size_dirty;
	int bad_copy;

	/*
	 * The bound footer (ENV_RO_COMPAT_BOUND_FOOTER): while the header
	 * on disk has the flag, bound_sec is the sector that holds the
	 * footer (atomic reads: the write path's test) and bind_size the
	 * plaintext size it was bound at; else bound_sec is NO_BIND.
	 * store_header() keeps the flag only while bind_ok and the size
	 * is still bind_size.  Writes under meta.
	 */
	uint64_t bound_sec;
	uint64_t bind_size;
	int bind_ok;

	pthread_mutex_t stripe[VOL_STRIPES];
};

/* A raw volume has no keys to lose. */
static int have_keys(struct volume *vol)
{
	return vol->raw || cipherdev_has_keys(vol->cipher);
}

/* Read @n sectors from @sector through the stack into @buf. */
static int read_sectors(struct volume *vol, uint64_t sector, uint8_t *buf,
			size_t n)
{
	return vol->top->ops->read(vol->top, sector, buf, n);
}

static int write_sectors(struct volume *vol, uint64_t sector,
			 const uint8_t *buf, size_t n)
{
	return vol->top->ops->write(vol->top, sector, buf, n);
}

/* --- stripes ------------------------------------------------------------ */

/* Lock or unlock the stripes of sectors [@first, @last]. */
static void stripes(struct volume *vol, uint64_t first, uint64_t last,
		    int lock)
{
	uint64_t per = VOL_STRIPE_BYTES / vol->ss;	/* sectors per stripe */
	uint64_t n;
	unsigned int a, b;

	first /= per;
	last /= per;
	n = last - first + 1;
	if (n >= VOL_STRIPES) {
		for (unsigned int i = 0; i < VOL_STRIPES; i++)
			(lock ? pthread_mutex_lock : pthread_mutex_unlock)(
				&vol->stripe[i]);
		return;
	}
	a = (unsigned int)(first % VOL_STRIPES);
	b = (unsigned int)(last % VOL_STRIPES);
	/* ascending stripe index, also when the range wraps around: the
	 * low part [0, b] first, then [a, VOL_STRIPES) */
	if (a > b) {
		for (unsigned int i = 0; i <= b; i++)
			(lock ? pthread_mutex_lock : pthread_mutex_unlock)(
				&vol->stripe[i]);
		b = VOL_STRIPES - 1;
	}
	for (unsigned int i = a; i <= b; i++)
		(lock ? pthread_mutex_lock : pthread_mutex_unlock)(
			&vol->stripe[i]);
}

/* --- I/O ---------------------------------------------------------------- */

static uint64_t load_size(struct volume *vol)
{
	return __atomic_load_n(&vol->size, __ATOMIC_ACQUIRE);
}

static void grow_size(struct volume *vol, uint64_t end)
{
	/* the common case, a write inside the disk, takes no lock */
	if (end <= load_size(vol))
		return;
	pthread_mutex_lock(&vol->meta);
	if (end > vol->size) {
		__atomic_store_n(&vol->size, end, __ATOMIC_RELEASE);
		vol->size_dirty = 1;
	}
	pthread_mutex_unlock(&vol->meta);
}

/* A bounce buffer big enough for [off, off+len), at most VOL_CHUNK: a 4 KiB
 * request must not pay for allocating and wiping a whole chunk. */
static size_t bounce_size(const struct volume *vol, uint64_t off, size_t len)
{
	uint64_t n = ((off % vol->ss) + (uint64_t)len + vol->ss - 1) / vol->ss;

	return n * vol->ss > VOL_CHUNK ? VOL_CHUNK : (size_t)(n * vol->ss);
}

ssize_t vol_read(struct volume *vol, void *ubuf, size_t len, uint64_t off)
{
	uint8_t *out = ubuf, *buf = NULL;
	uint64_t size, end;
	size_t done = 0;
	int r = 0;

	pthread_rwlock_rdlock(&vol->keys);
	if (!have_keys(vol)) {
		r = -EKEYREVOKED;
		goto out;
	}
	size = load_size(vol);
	if (off >= size || len == 0)
		goto out;
	end = off + len > size || off + len < off ? size : off + len;
	/*
	 * Whole sectors are read and decrypted in the caller's buffer; only
	 * a partly wanted first or last sector goes through a one-sector
	 * bounce buffer.
	 */
	while (off + done < end) {
		uint64_t pos = off + done;
		uint64_t sec = pos / vol->ss, in = pos % vol->ss;
		uint64_t want = end - pos;
		size_t take;

		if (in == 0 && want >= vol->ss) {
			size_t n = (size_t)(want / vol->ss);

			if (n > VOL_CHUNK / vol->ss)
				n = VOL_CHUNK / vol->ss;
			r = read_sectors(vol, sec, out + done, n);
			if (r < 0)
				break;
			done += n * vol->ss;
			continue;
		}
		if (!buf) {
			buf = malloc(vol->ss);
			if (!buf) {
				r = -ENOMEM;
				break;
			}
		}
		r = read_sectors(vol, sec, buf, 1);
		if (r < 0)
			break;
		take = vol->ss - (size_t)in;
		if (take > want)
			take = (size_t)want;
		memcpy(out + done, buf + in, take);
		done += take;
	}
out:
	pthread_rwlock_unlock(&vol->keys);
	if (buf) {
		secmem_wipe(buf, vol->ss);
		free(buf);
	}
	return r < 0 && done == 0 ? r : (ssize_t)done;
}

/*
 * Write @len bytes of @src (NULL: zeros) at @off; keys held shared and the
 * stripes of the range held by the caller.  Whole sectors go down from
 * @src as they are; a run with a partly covered first or last sector is
 * staged in the bounce buffer *@buf (allocated here, up to @bufsz bytes;
 * the caller wipes and frees it).
 */
static int write_range(struct volume *vol, const uint8_t *src, size_t len,
		       uint64_t off, uint8_t **buf, size_t bufsz)
{
	size_t done = 0;
	int r = 0;

	while (done < len && r == 0) {
		uint64_t pos = off + done;
		uint64_t sec = pos / vol->ss, in = pos % vol->ss;
		size_t n = (size_t)((in + (len - done) + vol->ss - 1) / vol->ss);
		size_t take;

		if (n > bufsz / vol->ss)
			n = bufsz / vol->ss;
		take = n * vol->ss - (size_t)in;
		if (take > len - done)
			take = len - done;
		if (src && in == 0 && take == n * vol->ss) {
			r = write_sectors(vol, sec, src + done, n);
			done += take;
			continue;
		}
		if (!*buf) {
			*buf = malloc(bufsz);
			if (!*buf)
				return -ENOMEM;
		}
		/* the partly covered first and last sectors keep their
		 * other bytes: read-modify-write */
		if (in)
			r = read_sectors(vol, sec, *buf, 1);
		if (r == 0 && (in + take) % vol->ss &&
		    (n > 1 || in == 0))
			r = read_sectors(vol, sec + n - 1,
					 *buf + (n - 1) * vol->ss, 1);
		if (r < 0)
			break;
		if (src)
			memcpy(*buf + in, src + done, take);
		else
			memset(*buf + in, 0, take);
		r = write_sectors(vol, sec, *buf, n);
		done += take;
	}
	return r;
}

static void free_bounce(uint8_t *buf, size_t bufsz)
{
	if (buf) {
		secmem_wipe(buf, bufsz);	/* it held plaintext */
		free(buf);
	}
}

/* Does [@first, @last] hold the bound footer's sector?  One load and two
 * compares on the write path. */
static int hits_bound(struct volume *vol, uint64_t first, uint64_t last)
{
	uint64_t b = __atomic_load_n(&vol->bound_sec, __ATOMIC_ACQUIRE);

	return b != NO_BIND && first <= b && b <= last;
}

static int unbind(struct volume *vol);

static int begin_write(struct volume *vol)
{
	pthread_rwlock_rdlock(&vol->keys);
	if (!have_keys(vol))
		return -EKEYREVOKED;
	if (vol->rdonly)
		return -EROFS;
	return 0;
}

ssize_t vol_write(struct volume *vol, const void *src, size_t len,
		  uint64_t off)
{
	uint8_t *buf = NULL;
	size_t bufsz = 0;
	int r;

	if (len == 0)
		return 0;
	if (vol->fixed) {
		/* never grows: at or past the end ENOSPC, across it short */
		uint64_t size = load_size(vol);

		if (off >= size)
			return -ENOSPC;
		if (len > size - off)
			len = (size_t)(size - off);
	}
	if (off + len < off || off + len > VOL_MAX_SIZE)
		return -EFBIG;
	r = begin_write(vol);
	if (r == 0 && hits_bound(vol, off / vol->ss, (off + len - 1) / vol->ss))
		r = unbind(vol);
	if (r < 0)
		goto out;
	bufsz = bounce_size(vol, off, len);
	stripes(vol, off / vol->ss, (off + len - 1) / vol->ss, 1);
	r = write_range(vol, src, len, off, &buf, bufsz);
	stripes(vol, off / vol->ss, (off + len - 1) / vol->ss, 0);
	if (r == 0)
		grow_size(vol, off + len);
out:
	pthread_rwlock_unlock(&vol->keys);
	free_bounce(buf, bufsz);
	return r < 0 ? r : (ssize_t)len;
}

int vol_discard(struct volume *vol, uint64_t off, uint64_t len)
{
	uint8_t *buf = NULL;
	uint64_t size, end, a, b;
	int r;

	r = begin_write(vol);
	if (r < 0)
		goto out;
	size = load_size(vol);
	end = off + len < off || off + len > size ? size : off + len;
	if (off >= end)
		goto out;
	if (hits_bound(vol, off / vol->ss, (end - 1) / vol->ss)) {
		r = unbind(vol);
		if (r < 0)
			goto out;
	}
	/* whole sectors are discarded; partial ends are written as zeros */
	a = (off + vol->ss - 1) / vol->ss;
	b = end / vol->ss;
	stripes(vol, off / vol->ss, (end - 1) / vol->ss, 1);
	if (a < b) {
		r = vol->top->ops->discard(vol->top, a, b - a);
		if (r == 0 && off < a * vol->ss)
			r = write_range(vol, NULL, (size_t)(a * vol->ss - off),
					off, &buf, VOL_CHUNK);
		if (r == 0 && end > b * vol->ss)
			r = write_range(vol, NULL, (size_t)(end - b * vol->ss),
					b * vol->ss, &buf, VOL_CHUNK);
	} else {
		r = write_range(vol, NULL, (size_t)(end - off), off, &buf,
				VOL_CHUNK);
	}
	stripes(vol, off / vol->ss, (end - 1) / vol->ss, 0);
out:
	pthread_rwlock_unlock(&vol->keys);
	free_bounce(buf, VOL_CHUNK);
	return r;
}

int vol_truncate(struct volume *vol, uint64_t size)
{
	uint8_t *buf = NULL;
	uint64_t old;
	int r;

	if (vol->fixed)
		return size == load_size(vol) ? 0 : -EPERM;
	if (size > VOL_MAX_SIZE)
		return -EFBIG;
	if (vol->raw && size % vol->ss)
		return -EINVAL;		/* the backing is the plaintext */
	r = begin_write(vol);
	if (r == 0 && size != load_size(vol))
		r = unbind(vol);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&vol->meta);
	old = vol->size;
	/* Shrinking into a sector: zero its tail, so that growing again
	 * later shows zeros there, as a plain file would. */
	if (size < old && size % vol->ss) {
		uint64_t sec = size / vol->ss;

		stripes(vol, sec, sec, 1);
		r = write_range(vol, NULL, (size_t)(vol->ss - size % vol->ss),
				size, &buf, vol->ss);
		stripes(vol, sec, sec, 0);
	}
	/* a shrink holds every stripe: no write-back of a cache below runs
	 * past the new end meanwhile */
	if (size < old)
		stripes(vol, 0, UINT64_MAX, 1);
	if (r == 0)
		r = vol->top->ops->resize(vol->top, off_sectors(size, vol->ss));
	if (size < old)
		stripes(vol, 0, UINT64_MAX, 0);
	if (r == 0 && size != old) {
		__atomic_store_n(&vol->size, size, __ATOMIC_RELEASE);
		vol->size_dirty = 1;
	}
	pthread_mutex_unlock(&vol->meta);
out:
	pthread_rwlock_unlock(&vol->keys);
	free_bounce(buf, vol->ss);
	return r;
}

/*
 * Write a header with this volume's size and a MAC under its keys, under
 * the header lock.  @reread: first re-read the header on disk (a rotation
 * may have re-wrapped the DEKs since we opened), check that it is still
 * ours, and keep it but for the size; else write @h as it is.  Caller
 * holds keys (shared) and meta.
 */
static int store_header(struct volume *vol, struct env_header *h, int reread)
{
	int r;

	if (vol->raw)
		return -EINVAL;		/* no header to write */
	if (!have_keys(vol))
		return -EKEYREVOKED;
	r = vol->b->ops->hdr_lock(vol->b);
	if (r < 0)
		return r;
	if (reread) {
		r = hdr_get(vol->b, h, NULL);
		if (r == 0)
			r = cipherdev_verify_mac(vol->cipher, h);
	}
	if (r == 0) {
		h->plain_size = vol->size;
		if (vol->bind_ok && vol->size == vol->bind_size)
			h->ro_compat |= ENV_RO_COMPAT_BOUND_FOOTER;
		else
			h->ro_compat &= ~ENV_RO_COMPAT_BOUND_FOOTER;
		r = cipherdev_compute_mac(vol->cipher, h, h->mac);
	}
	if (r == 0)
		r = hdr_put(vol->b, h);
	vol->b->ops->hdr_unlock(vol->b);
	if (r == 0) {
		vol->hdr = *h;
		vol->size_dirty = 0;
		if (!(h->ro_compat & ENV_RO_COMPAT_BOUND_FOOTER)) {
			vol->bind_ok = 0;
			__atomic_store_n(&vol->bound_sec, NO_BIND,
					 __ATOMIC_RELEASE);
		}
	}
	return r;
}

/*
 * Before the first write into the footer's sector, or a size change: the
 * header on disk loses ENV_RO_COMPAT_BOUND_FOOTER (written and synced)
 * before any of it reaches the store, so that a footer written through
 * the mount never fails a later open, crash or not.  Writers that find
 * the sector bound wait here until the header is written.  Caller holds
 * keys shared.
 */
static int unbind(struct volume *vol)
{
	struct env_header h;
	int r = 0;

	pthread_mutex_lock(&vol->meta);
	if (vol->bind_ok) {
		vol->bind_ok = 0;
		r = store_header(vol, &h, 1);
		if (r < 0)
			vol->bind_ok = 1;	/* the flag may be on disk */
	}
	pthread_mutex_unlock(&vol->meta);
	return r;
}


/* Persist a changed size (flush, fsync, release, unmount). */
static int persist_size(struct volume *vol)
{
	struct env_header h;
	int r = 0;

	pthread_mutex_lock(&vol->meta);
	if (vol->size_dirty && vol->raw)
		vol->size_dirty = 0;	/* the backing's length is the size */
	else if (vol->size_dirty)
		r = store_header(vol, &h, 1);
	pthread_mutex_unlock(&vol->meta);
	return r;
}

int vol_set_header(struct volume *vol, const struct env_header *h)
{
	struct env_header n = *h;
	int r;

	pthread_rwlock_rdlock(&vol->keys);
	pthread_mutex_lock(&vol->meta);
	/* the footer carries the old UUID: no longer bound */
	if (memcmp(n.uuid, vol->hdr.uuid, sizeof(n.uuid)))
		vol->bind_ok = 0;
	r = store_header(vol, &n, 0);
	pthread_mutex_unlock(&vol->meta);
	pthread_rwlock_unlock(&vol->keys);
	return r;
}

/*
 * Is the plaintext of @size bytes ended by a fixed-VHD footer of that
 * disk, whose unique id is @uuid?  Return: 0, VOL_EFOREIGN, or -errno.
 */
static int footer_check(struct volume *vol, uint64_t size,
			const uint8_t uuid[ENV_UUID_BYTES])
{
	uint8_t f[VHD_FOOTER_BYTES];
	struct vhd_info vi;
	ssize_t n;

	if (size < VHD_FOOTER_BYTES || size % 512)
		return VOL_EFOREIGN;
	n = vol_read(vol, f, sizeof(f), size - VHD_FOOTER_BYTES);
	if (n < 0)
		return (int)n;
	if (n != (ssize_t)sizeof(f) || vhd_footer_parse(f, &vi) < 0 ||
	    vi.type != VHD_TYPE_FIXED || vi.size != size - VHD_FOOTER_BYTES ||
	    memcmp(vi.uuid, uuid, ENV_UUID_BYTES))
		return VOL_EFOREIGN;
	return 0;
}

int vol_bind_footer(struct volume *vol)
{
	struct env_header h;
	int r;

	if (vol->rdonly)
		return -EROFS;
	if (vol->raw)
		return -EINVAL;
	pthread_rwlock_rdlock(&vol->keys);
	pthread_mutex_lock(&vol->meta);
	r = footer_check(vol, vol->size, vol->hdr.uuid);
	if (r == 0 && !vol->bind_ok) {
		vol->bind_ok = 1;
		vol->bind_size = vol->size;
		__atomic_store_n(&vol->bound_sec,
				 (vol->size - VHD_FOOTER_BYTES) / vol->ss,
				 __ATOMIC_RELEASE);
		r = store_header(vol, &h, 1);
		if (r < 0) {
			vol->bind_ok = 0;
			__atomic_store_n(&vol->bound_sec, NO_BIND,
					 __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&vol->meta);
	pthread_rwlock_unlock(&vol->keys);
	return r;
}

/*
 * The barrier: every device's write-back and sync from the top of the
 * stack down (a host cache writes its dirty sectors back, the store
 * syncs, then the cache clears its entries), then a changed size to the
 * header.
 */
int vol_flush(struct volume *vol)
{
	int r, r2;

	if (vol->rdonly || vol->scratch)
		return 0;
	pthread_rwlock_rdlock(&vol->keys);
	r = vol->top->ops->flush(vol->top);
	r2 = persist_size(vol);
	pthread_rwlock_unlock(&vol->keys);
	return r ? r : r2;
}

int vol_write_back(struct volume *vol, uint64_t *dirty)
{
	uint64_t total = 0, n;
	int wb = 0;

	if (vol->rdonly || vol->scratch || !vol->top)
		return 0;
	pthread_rwlock_rdlock(&vol->keys);	/* the stack stays as it is */
	for (struct blkdev *d = vol->top; d; d = d->lower) {
		n = 0;
		if (d->ops->write_back && d->ops->write_back(d, &n)) {
			wb = 1;
			total += n;
		}
	}
	pthread_rwlock_unlock(&vol->keys);
	if (dirty)
		*dirty = total;
	return wb;
}

int vol_persist_size(struct volume *vol)
{
	int r;

	if (vol->rdonly || vol->scratch)
		return 0;
	pthread_rwlock_rdlock(&vol->keys);
	r = persist_size(vol);
	pthread_rwlock_unlock(&vol->keys);
	return r;
}

void vol_lock_sectors(struct volume *vol, uint64_t first, uint64_t last)
{
	stripes(vol, first, last, 1);
}

void vol_unlock_sectors(struct volume *vol, uint64_t first, uint64_t last)
{
	stripes(vol, first, last, 0);
}

/* --- the stack ------------------------------------------------------------ */

int vol_push_layer(struct volume *vol, enum vol_where where,
		   vol_layer_fn fn, void *arg)
{
	struct blkdev *lower, *dev = NULL;
	struct vol_layer_ctx ctx;
	struct secbuf *key;
	int r;

	if (vol->raw)
		return -EOPNOTSUPP;	/* no cipher layer to push at */
	pthread_rwlock_wrlock(&vol->keys);
	memset(&ctx, 0, sizeof(ctx));
	key = cipherdev_cache_key(vol->cipher);
	ctx.cache_key = key;
	if (!key) {
		r = have_keys(vol) ? -ENOMEM : -EKEYREVOKED;
		goto out;
	}
	ctx.vol = vol;
	ctx.backing = vol->b;
	ctx.uuid = vol->hdr.uuid;
	ctx.ss = vol->ss;
	ctx.size = load_size(vol);
	ctx.rdonly = vol->rdonly;
	ctx.cipher = vol->cipher;
	ctx.below_cipher = vol->cipher->lower;
	lower = where == VOL_BELOW_CIPHER ? vol->cipher->lower : vol->top;
	r = fn(arg, &ctx, lower, &dev);
	if (r < 0)
		goto out;
	if (where == VOL_BELOW_CIPHER)
		vol->cipher->lower = dev;
	else
		vol->top = dev;
	vol->pushed++;
out:
	pthread_rwlock_unlock(&vol->keys);
	secbuf_free(key);
	return r;
}

/* --- keys: revocation and resumption ------------------------------------ */

void vol_drop_keys(struct volume *vol)
{
	if (vol->raw)
		return;
	pthread_rwlock_wrlock(&vol->keys);
	blk_set_cache_key(vol->top, NULL);
	cipherdev_drop(vol->cipher);
	pthread_rwlock_unlock(&vol->keys);
}

int vol_reload_keys(struct volume *vol)
{
	struct secbuf *key = NULL;
	struct env_header h;
	int r;

	if (vol->raw)
		return 0;
	pthread_rwlock_wrlock(&vol->keys);
	r = hdr_get(vol->b, &h, NULL);
	if (r == 0 && (h.nlayers != vol->nlayers ||
		       h.sector_size != vol->ss))
		r = -EBADMSG;
	if (r == 0)
		r = cipherdev_load(vol->cipher, &h);
	if (r == 0 && vol->pushed) {
		key = cipherdev_cache_key(vol->cipher);
		r = key ? blk_set_cache_key(vol->top, key) : -ENOMEM;
		secbuf_free(key);
	}
	if (r == 0) {
		pthread_mutex_lock(&vol->meta);
		h.plain_size = vol->size;	/* ours may be newer */
		vol->hdr = h;
		pthread_mutex_unlock(&vol->meta);
	}
	pthread_rwlock_unlock(&vol->keys);
	return r;
}

int vol_has_keys(struct volume *vol)
{
	int k;

	pthread_rwlock_rdlock(&vol->keys);
	k = have_keys(vol);
	pthread_rwlock_unlock(&vol->keys);
	return k;
}

/* --- open, close, format ------------------------------------------------ */

int vol_probe_fd(int fd, struct env_header *h)
{
	struct env_header tmp;

	return hdr_read(fd, h ? h : &tmp, NULL);
}

int vol_probe(const char *path, struct env_header *h)
{
	int fd, r;

	fd = trusted_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	r = vol_probe_fd(fd, h);
	close(fd);
	return r;
}

/* The stack without a caller's layers: store device, cipher layer. */
static int build_stack(struct volume *vol, const struct keyops *ops)
{
	struct blkdev *store;
	int r;

	r = storedev_new(&store, vol->b, vol->ss, ENV_DATA_OFFSET);
	if (r < 0)
		return r;
	r = cipherdev_new(&vol->cipher, store, ops);
	if (r < 0) {
		store->ops->close(store, 0);
		return r;
	}
	vol->top = vol->cipher;
	return 0;
}

/* A volume over @b with its locks, no stack yet; NULL (and @b closed)
 * when out of memory. */
static struct volume *vol_new(struct backing *b, int flags)
{
	struct volume *vol = calloc(1, sizeof(*vol));

	if (!vol) {
		b->ops->close(b);
		return NULL;
	}
	vol->b = b;
	vol->fixed = !!(flags & VOL_FIXED_SIZE);
	vol->scratch = !!(flags & VOL_SCRATCH);
	vol->bad_copy = -1;
	vol->bound_sec = NO_BIND;
	pthread_rwlock_init(&vol->keys, NULL);
	pthread_mutex_init(&vol->meta, NULL);
	for (unsigned int i = 0; i < VOL_STRIPES; i++)
		pthread_mutex_init(&vol->stripe[i], NULL);
	return vol;
}

int vol_open_backing(struct volume **out, struct backing *b, int flags,
		     const struct keyops *ops)
{
	struct hdr_status st;
	struct volume *vol;
	int r;

	vol = vol_new(b, flags);
	if (!vol)
		return -ENOMEM;
	r = hdr_get(b, &vol->hdr, &st);
	if (r == -ENOTSUP)
		r = -EBADMSG;
	if (r < 0)
		goto fail;
	for (unsigned int i = 0; i < ENV_NCOPIES; i++)
		if (st.state[i] != HDR_COPY_OK && vol->bad_copy < 0)
			vol->bad_copy = (int)i;
	vol->ss = vol->hdr.sector_size;
	vol->nlayers = vol->hdr.nlayers;
	vol->size = vol->hdr.plain_size;
	vol->rdonly = (flags & VOL_RDONLY) ||
		      (vol->hdr.ro_compat & ~ENV_RO_COMPAT_KNOWN);

	r = build_stack(vol, ops);
	if (r == 0)
		r = cipherdev_load(vol->cipher, &vol->hdr);
	if (r < 0)
		goto fail;
	/* a header put on another disk's data: its footer is not ours */
	if (vol->hdr.ro_compat & ENV_RO_COMPAT_BOUND_FOOTER) {
		r = footer_check(vol, vol->size, vol->hdr.uuid);
		if (r < 0)
			goto fail;
		vol->bind_ok = 1;
		vol->bind_size = vol->size;
		vol->bound_sec = (vol->size - VHD_FOOTER_BYTES) / vol->ss;
	}
	if (!vol->rdonly) {
		r = b->ops->hold_inuse(b);
		if (r < 0)
			goto fail;
	}
	*out = vol;
	return 0;
fail:
	vol_close(vol);
	return r;
}

int vol_open_raw(struct volume **out, struct backing *b, uint32_t ss,
		 uint64_t size, int flags)
{
	struct volume *vol;
	uint64_t len;
	int r;

	if ((ss != 512 && ss != 4096) || size % ss || size > VOL_MAX_SIZE) {
		b->ops->close(b);
		return -EINVAL;
	}
	vol = vol_new(b, flags);
	if (!vol)
		return -ENOMEM;
	vol->raw = 1;
	vol->ss = ss;
	vol->size = size;
	vol->hdr.plain_size = size;
	vol->hdr.sector_size = ss;
	vol->rdonly = !!(flags & VOL_RDONLY);
	r = b->ops->get_size(b, &len);
	if (r == 0 && len != size && !vol->rdonly)
		r = b->ops->set_size(b, size);
	if (r == 0)
		r = storedev_new(&vol->top, b, ss, 0);
	if (r < 0) {
		vol_close(vol);
		return r;
	}
	*out = vol;
	return 0;
}

int vol_open_fd(struct volume **out, int fd, const char *name, int flags,
		const struct keyops *ops)
{
	struct backing *b;
	int r;

	r = backing_file_new(&b, fd, name);
	return r < 0 ? r : vol_open_backing(out, b, flags, ops);
}

int vol_open(struct volume **out, const char *path, int flags,
	     const struct keyops *ops)
{
	int fd;

	fd = trusted_open(path, ((flags & VOL_RDONLY) ? O_RDONLY : O_RDWR) |
			  O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	return vol_open_fd(out, fd, path, flags, ops);
}

int vol_close(struct volume *vol)
{
	int r = 0;

	if (!vol)
		return 0;
	/* a host cache below the cipher layer writes ciphertext back even
	 * without keys */
	if (vol->top && (have_keys(vol) || vol->pushed) && !vol->rdonly)
		r = vol_flush(vol);
	/*
	 * A footer write, discard or size change cleared the binding; a
	 * valid footer of this disk at its end now (flushed and synced
	 * above, so a crash cannot leave the flag before it) binds it again.
	 * Best effort: the disk opens either way.
	 */
	if (r == 0 && vol->top && !vol->rdonly && !vol->raw &&
	    !vol->scratch && !vol->bind_ok && have_keys(vol)) {
		int rb = vol_bind_footer(vol);

		(void)rb;
	}
	if (vol->top)
		vol->top->ops->close(vol->top, r == 0);	/* wipes the keys */
	vol->b->ops->close(vol->b);		/* drops the locks */
	for (unsigned int i = 0; i < VOL_STRIPES; i++)
		pthread_mutex_destroy(&vol->stripe[i]);
	pthread_rwlock_destroy(&vol->keys);
	pthread_mutex_destroy(&vol->meta);
	free(vol);
	return r;
}

int vol_in_use(const char *path)
{
	struct backing_file f;
	int fd, r;

	fd = trusted_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	backing_file_borrow(&f, fd);
	r = f.b.ops->inuse(&f.b);
	close(fd);
	return r;
}

int vol_format(int fd, const struct vol_format *f, const struct keyops *ops)
{
	struct backing_file bf;

	backing_file_borrow(&bf, fd);
	return vol_format_backing(&bf.b, f, ops);
}

int vol_format_backing(struct backing *b, const struct vol_format *f,
		       const struct keyops *ops)
{
	struct secbuf *dek[ENV_MAX_LAYERS] = { NULL, NULL };
	struct env_header h;
	int r = 0;

	if ((f->sector_size != 512 && f->sector_size != 4096) ||
	    f->nlayers < 1 || f->nlayers > ENV_MAX_LAYERS ||
	    f->plain_size > VOL_MAX_SIZE ||
	    (f->des && strlen(f->des) > ENV_DES_MAX))
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	h.version_major = ENV_VERSION_MAJOR;
	h.version_minor = ENV_VERSION_MINOR;
	if (f->uuid) {
		memcpy(h.uuid, f->uuid, ENV_UUID_BYTES);
	} else {
		rng_uuid(h.uuid);
	}
	h.sector_size = f->sector_size;
	h.plain_size = f->plain_size;
	h.enc_type = f->enc_type;
	if (f->des)
		strcpy(h.des, f->des);
	h.created = (uint64_t)time(NULL);
	h.rotated = 0;
	h.nlayers = f->nlayers;
	for (unsigned int i = 0; i < f->nlayers && r == 0; i++) {
		dek[i] = secbuf_new(RNG_DEKBYTES);
		if (!dek[i]) {
			r = -ENOMEM;
			break;
		}
		r = rng_dek(dek[i]);
		if (r == 0)
			r = ops->wrap(ops->ctx, f->kid[i], dek[i], &h.layer[i]);
		h.layer[i].cipher = i == 0 ? ENV_CIPHER_AES256_XTS :
					     ENV_CIPHER_CAMELLIA256_XTS;
	}
	if (r == 0)
		r = env_compute_mac(&h, dek, h.mac);
	if (r == 0)
		r = hdr_put(b, &h);
	if (r == 0)
		r = b->ops->set_size(b, off_backing_len(f->plain_size,
						       f->sector_size));
	for (unsigned int i = 0; i < ENV_MAX_LAYERS; i++)
		secbuf_free(dek[i]);
	return r;
}

/* --- accessors ---------------------------------------------------------- */

struct backing *vol_backing(struct volume *vol)
{
	return vol->b;
}

uint64_t vol_size(struct volume *vol)
{
	return load_size(vol);
}

int vol_is_rdonly(struct volume *vol)
{
	return vol->rdonly;
}

void vol_get_header(struct volume *vol, struct env_header *h)
{
	struct env_header disk;
	int fresh = !vol->raw && hdr_get(vol->b, &disk, NULL) == 0;

	pthread_mutex_lock(&vol->meta);
	/* a rotation re-wraps the file, not this copy in memory: the
	 * file's layers are the truth while it is still this disk */
	if (fresh && !memcmp(disk.uuid, vol->hdr.uuid, sizeof(disk.uuid)) &&
	    disk.nlayers == vol->hdr.nlayers)
		*h = disk;
	else
		*h = vol->hdr;
	h->plain_size = vol->size;
	pthread_mutex_unlock(&vol->meta);
}

int vol_bad_copy(struct volume *vol)
{
	return vol->bad_copy;
}
