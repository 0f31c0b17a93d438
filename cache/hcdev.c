/*
 * hcdev.c - the host cache as a device: cache/hcache.c over a lower device
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/hcache.h"
#include "cache/hcdev.h"
#include "crypto/secmem.h"
#include "disk/backing.h"
#include "disk/blkdev.h"
#include "disk/cipherdev.h"
#include "disk/volume.h"

_Static_assert(HC_KEY_BYTES == CIPHERDEV_CACHE_KEY_BYTES,
	       "the cache key the cipher layer derives");

#define HCDEV_MAP	2048u	/* sectors per hit map: 1 MiB of 512 */
#define HCDEV_RUN	64u	/* sectors per write-back run */

struct hcdev {
	struct blkdev dev;
	struct hc_disk *hcd;
	struct volume *vol;
	struct backing *b;
	int rw;				/* ReadWrite: writes stay in it */
	int plain;			/* above the cipher layer */
	struct blkdev *cipher;		/* encrypts sectors of the other kind */
	struct blkdev *below_cipher;	/* takes ciphertext: see settle() */
};

static struct hcdev *hd(struct blkdev *d)
{
	return (struct hcdev *)d;
}

/*
 * A sector of the other kind an earlier mount left (see settle())
 * is made this cache's kind in @p: plaintext is encrypted by the cipher
 * layer (with cipherdev_encrypt(), which has no decrypting twin).
 * Return: 0; -ESTALE (ciphertext above the cipher layer: read the lower
 * device instead, which has the same); -EKEYREVOKED.
 */
static int foreign(struct hcdev *h, uint64_t sector, uint8_t *p)
{
	if (h->plain)
		return -ESTALE;
	return cipherdev_encrypt(h->cipher, sector, p, 1);
}

/*
 * Hits come from the cache, misses (in runs) from the lower device, and
 * what it gave is offered to the cache.  Zero sectors (holes) are not
 * cached.
 */
static int read_run(struct hcdev *h, uint64_t sector, uint8_t *buf,
		    size_t n)
{
	struct blkdev *lo = h->dev.lower;
	uint32_t ss = h->dev.ss;
	uint8_t hit[HCDEV_MAP];
	uint64_t token = hc_token(h->hcd);
	size_t i, j;
	int r = 0;

	for (i = 0; i < n; i++) {
		int plain = 0;

		hit[i] = hc_read(h->hcd, sector + i, buf + i * ss,
				 &plain) == 1;
		if (hit[i] && plain != h->plain)
			hit[i] = foreign(h, sector + i, buf + i * ss) == 0;
	}
	for (i = 0; i < n && r == 0; i = j) {
		for (j = i; j < n && !hit[j]; j++)
			;
		if (j > i)
			r = lo->ops->read(lo, sector + i, buf + i * ss, j - i);
		else
			j++;
	}
	for (i = 0; i < n && r == 0; i++) {
		uint8_t *p = buf + i * ss;

		if (!hit[i] && !blk_is_zero(p, ss))
			hc_fill(h->hcd, sector + i, p, h->plain, token);
	}
	return r;
}

static int hd_read(struct blkdev *d, uint64_t sector, void *vbuf, size_t n)
{
	uint8_t *buf = vbuf;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i += HCDEV_MAP) {
		size_t k = n - i < HCDEV_MAP ? n - i : HCDEV_MAP;

		r = read_run(hd(d), sector + i, buf + i * d->ss, k);
	}
	return r;
}

/*
 * ReadWrite: every sector goes to the cache and is written back later;
 * one the cache cannot take (no room, or its file system is full) goes to
 * the lower device at once, and the write is acknowledged only once the
 * lower device has it and no older cached copy can come back over it.
 */
static int write_rw(struct hcdev *h, uint64_t sector, const uint8_t *buf,
		    size_t n)
{
	struct blkdev *lo = h->dev.lower;
	int r = 0, c;

	for (size_t i = 0; i < n && r == 0; i++) {
		const uint8_t *p = buf + i * h->dev.ss;

		c = hc_write_dirty(h->hcd, sector + i, p, h->plain);
		if (c < 0)
			return c;
		if (c == 1)
			continue;
		r = lo->ops->write(lo, sector + i, p, 1);
		if (r == 0)
			r = hc_wrote_through(h->hcd, sector + i);
		else
			hc_drop(h->hcd, sector + i, sector + i);
	}
	return r;
}

/* ReadOnly: the lower device first, then the cached copies. */
static int hd_write(struct blkdev *d, uint64_t sector, const void *vbuf,
		    size_t n)
{
	struct hcdev *h = hd(d);
	const uint8_t *buf = vbuf;
	int r;

	if (h->rw)
		return write_rw(h, sector, buf, n);
	r = d->lower->ops->write(d->lower, sector, buf, n);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			hc_wrote(h->hcd, sector + i, buf + i * d->ss, h->plain);
		else
			hc_drop(h->hcd, sector + i, sector + i);
	}
	return r;
}

/* The cached copies and dirty sectors go too: nothing may be written
 * back over the hole; but if the lower device kept its bytes, so does
 * the cache (its dirty sectors are newer). */
static int hd_discard(struct blkdev *d, uint64_t sector, uint64_t n)
{
	int r = d->lower->ops->discard(d->lower, sector, n);

	if (r == 0 && n)
		hc_drop(hd(d)->hcd, sector, sector + n - 1);
	return r;
}

/* The cached copies past the end go after the lower device shrank, so
 * that a reader who read it before cannot cache the old bytes again. */
static int hd_resize(struct blkdev *d, uint64_t nsec)
{
	int r = d->lower->ops->resize(d->lower, nsec);

	if (r == 0)
		hc_drop(hd(d)->hcd, nsec, UINT64_MAX);
	return r;
}

static int hd_size(struct blkdev *d, uint64_t *nsec)
{
	return d->lower->ops->size(d->lower, nsec);
}

/*
 * Write back one run of consecutive dirty sectors @secs[0..@n) (@n <=
 * HCDEV_RUN) into @to, with their stripes held: take each out of the
 * cache, write what was taken in consecutive pieces, and mark those
 * clean.  @plain: the kind @to takes.
 */
static int writeback_run(struct hcdev *h, struct blkdev *to, int plain,
			 const uint64_t *secs, size_t n, uint8_t *buf,
			 size_t *count)
{
	uint32_t ss = h->dev.ss;
	uint8_t took[HCDEV_RUN];
	size_t i, j;
	int r = 0;

	vol_lock_sectors(h->vol, secs[0], secs[n - 1]);
	for (i = 0; i < n; i++) {
		int kind = plain, t;

		t = hc_take_dirty(h->hcd, secs[i], buf + i * ss, &kind);
		/* plaintext an earlier mount left in a cache below the
		 * cipher layer is encrypted; else another kind waits */
		if (t == 1 && kind != plain && !h->plain && kind) {
			t = foreign(h, secs[i], buf + i * ss);
			t = t < 0 ? t : 1;
		} else if (t == 1 && kind != plain) {
			t = 0;
		}
		took[i] = t == 1;
		if (t < 0 && r == 0)
			r = t;
	}
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && took[j]; j++)
			;
		if (j == i) {
			j++;
			continue;
		}
		if (to->ops->write(to, secs[i], buf + i * ss, j - i) < 0) {
			r = r ? r : -EIO;
			continue;
		}
		for (size_t k = i; k < j; k++)
			hc_cleaned(h->hcd, secs[k]);
		*count += j - i;
	}
	vol_unlock_sectors(h->vol, secs[0], secs[n - 1]);
	return r;
}

/* Write this disk's dirty sectors of kind @plain back into @to; *@count
 * says how many went. */
static int writeback(struct hcdev *h, struct blkdev *to, int plain,
		     size_t *count)
{
	uint64_t *secs;
	uint8_t *buf;
	size_t n, i, j;
	int r, r2;

	r = hc_dirty_sectors(h->hcd, &secs, &n);
	if (r < 0 || n == 0)
		return r;
	buf = malloc((size_t)HCDEV_RUN * h->dev.ss);
	if (!buf) {
		free(secs);
		return -ENOMEM;
	}
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && j - i < HCDEV_RUN &&
			     secs[j] == secs[j - 1] + 1; j++)
			;
		r2 = writeback_run(h, to, plain, secs + i, j - i, buf, count);
		if (r2 < 0 && r == 0)
			r = r2;
	}
	secmem_wipe(buf, (size_t)HCDEV_RUN * h->dev.ss);
	free(buf);
	free(secs);
	return r;
}

/* Dirty sectors back, the lower device synced, and then the cache's
 * table entries cleared (the lower device has them now). */
static int hd_flush(struct blkdev *d)
{
	struct hcdev *h = hd(d);
	size_t count = 0;
	int r = 0, r2;

	/* (a ReadOnly cache too: dirty sectors an earlier mount left) */
	r = writeback(h, d->lower, h->plain, &count);
	r2 = d->lower->ops->flush(d->lower);
	if (r2 < 0)
		return r ? r : r2;
	r2 = hc_checkpoint(h->hcd);
	return r ? r : r2;
}

static int hd_set_cache_key(struct blkdev *d, const struct secbuf *key)
{
	return hc_set_key(hd(d)->hcd, key);
}

static void hd_close(struct blkdev *d, int clean)
{
	struct hcdev *h = hd(d);
	struct backing_fp fp;

	/* keep the clean sectors only when all went well */
	hc_detach(h->hcd, clean && h->b->ops->fingerprint(h->b, &fp) == 0 ?
			  &fp : NULL);
	d->lower->ops->close(d->lower, clean);
	free(h);
}

static const struct blkdev_ops hcdev_ops = {
	.read = hd_read,
	.write = hd_write,
	.discard = hd_discard,
	.flush = hd_flush,
	.size = hd_size,
	.resize = hd_resize,
	.set_cache_key = hd_set_cache_key,
	.close = hd_close,
};

static int flush_cb(void *owner)
{
	return vol_flush(owner);
}

/*
 * Sectors an earlier mount left dirty of the other kind (it ran with
 * encryption at host the other way): plaintext in a cache below the
 * cipher layer is encrypted when read or written back (foreign());
 * ciphertext in a cache above it cannot be decrypted here, so it is
 * written back into the device below the cipher layer, which then serves
 * it, before the volume serves any I/O.
 */
static int settle(struct hcdev *h)
{
	struct blkdev *to = h->below_cipher;
	size_t count = 0;
	int r;

	if (!h->plain)
		return 0;		/* see foreign() */
	r = writeback(h, to, 0, &count);
	if (r < 0 || count == 0)
		return r;
	r = to->ops->flush(to);
	if (r == 0)
		r = hc_checkpoint(h->hcd);
	return r;
}

struct make_arg {
	struct hcache *hc;
	struct hcdev *made;
};

static int make(void *arg, const struct vol_layer_ctx *ctx,
		struct blkdev *lower, struct blkdev **out)
{
	struct make_arg *m = arg;
	struct hcache *hc = m->hc;
	struct backing_fp fp;
	struct hcdev *h;
	int r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->dev.ops = &hcdev_ops;
	h->dev.lower = lower;
	h->dev.ss = ctx->ss;
	h->vol = ctx->vol;
	h->b = ctx->backing;
	h->rw = hc_mode(hc) == HC_READWRITE && !ctx->rdonly;
	h->plain = !!hc_plain(hc);
	h->cipher = ctx->cipher;
	h->below_cipher = ctx->below_cipher;
	r = h->b->ops->fingerprint(h->b, &fp);
	if (r == 0)
		r = hc_attach(hc, ctx->uuid, ctx->ss, ctx->cache_key, &fp,
			      flush_cb, ctx->vol, &h->hcd);
	if (r < 0) {
		free(h);
		return r;
	}
	/*
	 * Sectors a crash left dirty past the disk's end (cut off by a
	 * shrink whose size reached the header, or written past a size that
	 * never did) are not part of the disk: written back, they would
	 * show again, instead of zeros, when it grows.
	 */
	hc_drop(h->hcd, (ctx->size + ctx->ss - 1) / ctx->ss, UINT64_MAX);
	m->made = h;
	*out = &h->dev;
	return 0;
}

int hcdev_attach(struct volume *vol, struct hcache *hc)
{
	struct make_arg m = { hc, NULL };
	int r;

	r = vol_push_layer(vol, hc_plain(hc) ? VOL_ABOVE_CIPHER :
					       VOL_BELOW_CIPHER, make, &m);
	/* outside the volume's keys lock: the cache's thread may be
	 * waiting in vol_flush() already */
	return r < 0 ? r : settle(m.made);
}
