/*
 * hcdev.c - the host cache as a device: cache/hcache.c over a lower device
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
/* bytes of consecutive sectors written back in one lower write: a blob
 * store sends it as one Put Page (AZB_PUT_PAGE_MAX) */
#define HCDEV_RUN_BYTES	(4u << 20)
/* bytes written back between two checkpoints (a sync of the lower
 * device, then the entries cleared: their slots can be reused) ... */
#define HCDEV_BATCH_BYTES (16u << 20)
/* ... or, while writes find the cache full, this many, or after this */
#define HCDEV_STARVED_BYTES (4u << 20)
#define HCDEV_STARVED_NS 200000000L
/* threads writing back scattered runs at once, when a lower write takes
 * a round trip (a blob store) rather than a local write's time */
#define HCDEV_WORKERS	4u
#define HCDEV_SLOW_NS	500000L
/* ReadWrite over a remote store: once a run of consecutive writes reaches
 * this many bytes, its writes go straight to the store (bcache's
 * sequential cutoff): a stream would only pass through the cache to be
 * read back and sent on, at the store's speed either way */
#define HCDEV_SEQ_CUTOFF (4u << 20)
/* ... and over a remote store, dirty sectors up to this far apart are
 * written back as one span, the sectors between read from the store: a
 * Put Page costs the service more than 64 KiB does (Azurite: more as a
 * blob's page ranges fragment; Azure: a page blob's IOPS).  A span is at
 * most HCDEV_SPAN_BYTES. */
#define HCDEV_GAP_BYTES	(64u << 10)
#define HCDEV_SPAN_BYTES (1u << 20)

struct hcdev {
	struct blkdev dev;
	struct hc_disk *hcd;
	struct volume *vol;
	struct backing *b;
	int rw;				/* ReadWrite: writes stay in it */
	int plain;			/* above the cipher layer */
	struct blkdev *cipher;		/* encrypts sectors of the other kind */
	struct blkdev *below_cipher;	/* takes ciphertext: see settle() */
	long run_ns;			/* a write-back run's lower
					 * write, on average (atomic) */
	int remote;			/* the backing is not a local file */
	uint64_t seq_next;		/* the sector after the last write,
					 * and the bytes of the run of
					 * consecutive writes it ends (both
					 * atomic, a hint: racing writers only
					 * blur where a run starts) */
	uint64_t seq_bytes;
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

/* Does this write continue a sequential stream past the cutoff? */
static int streaming(struct hcdev *h, uint64_t sector, size_t n)
{
	uint64_t bytes = (uint64_t)n * h->dev.ss, prev;

	if (!h->remote)
		return 0;
	prev = __atomic_exchange_n(&h->seq_next, sector + n, __ATOMIC_RELAXED);
	if (prev != sector) {
		__atomic_store_n(&h->seq_bytes, bytes, __ATOMIC_RELAXED);
		return 0;
	}
	return __atomic_add_fetch(&h->seq_bytes, bytes, __ATOMIC_RELAXED) >=
	       HCDEV_SEQ_CUTOFF;
}

/*
 * ReadWrite: every sector goes to the cache and is written back later;
 * from the first one the cache cannot take (no room, or its file system
 * is full) the rest of the request goes to the lower device at once, in
 * one write, as does the whole of a write that streams (streaming()); and
 * such a write is acknowledged only once the lower device has it and no
 * older cached copy can come back over it: their cached copies
 * are dropped first (which waits for write-backs of them in flight), the
 * entries vouching for them cleared after.
 */
static int write_rw(struct hcdev *h, uint64_t sector, const uint8_t *buf,
		    size_t n)
{
	struct blkdev *lo = h->dev.lower;
	uint64_t last = sector + n - 1;
	size_t i = 0;
	int r, c;

	if (streaming(h, sector, n))
		goto through;
	for (i = 0; i < n; i++) {
		c = hc_write_dirty(h->hcd, sector + i, buf + i * h->dev.ss,
				   h->plain);
		if (c < 0)
			return c;
		if (c == 0)
			break;
	}
	if (i == n)
		return 0;
through:
	hc_drop(h->hcd, sector + i, last);
	r = lo->ops->write(lo, sector + i, buf + i * h->dev.ss, n - i);
	if (r == 0)
		r = hc_wrote_through(h->hcd, sector + i, last);
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
	/* dirty sectors an earlier mount left may be on their way down */
	hc_wait_writeback(h->hcd, sector, sector + n - 1);
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
	int r;

	/* (no write-back of them lands after the discard) */
	if (n)
		hc_wait_writeback(hd(d)->hcd, sector, sector + n - 1);
	r = d->lower->ops->discard(d->lower, sector, n);

	if (r == 0 && n)
		hc_drop(hd(d)->hcd, sector, sector + n - 1);
	return r;
}

/* The cached copies past the end go after the lower device shrank, so
 * that a reader who read it before cannot cache the old bytes again. */
static int hd_resize(struct blkdev *d, uint64_t nsec)
{
	int r;

	hc_wait_writeback(hd(d)->hcd, nsec, UINT64_MAX);
	r = d->lower->ops->resize(d->lower, nsec);

	if (r == 0)
		hc_drop(hd(d)->hcd, nsec, UINT64_MAX);
	return r;
}

static int hd_size(struct blkdev *d, uint64_t *nsec)
{
	return d->lower->ops->size(d->lower, nsec);
}

/* What one write-back carries between its runs. */
struct wb {
	struct blkdev *to;
	int plain;			/* the kind @to takes */
	size_t max;			/* sectors per run or span */
	size_t gap;			/* sectors between two that a span
					 * bridges; 0: runs only */
	uint8_t *buf;			/* max sectors */
	uint8_t *tbuf;			/* a span's dirty sectors (gap) */
	struct hc_taken *tk;		/* max */
	uint8_t *took;			/* max */
	int wait;			/* for sectors another flush has */
	uint64_t *skipped;		/* ... or they are left for later */
	size_t nskipped;
	size_t count;			/* sectors written back */
	uint64_t since;			/* bytes since the checkpoint */
	struct timespec cp;		/* when that was */
};

/*
 * Take sector @sec out of the cache into @p, as w->tk[@i], for its
 * write-back.  Return: 1 taken, 0 not (clean, or of another kind for
 * now), 2 another flush is writing it back, -errno.
 */
static int take(struct hcdev *h, struct wb *w, uint64_t sec, uint8_t *p,
		size_t i)
{
	int kind = w->plain, t, e;

	t = hc_take_dirty(h->hcd, sec, p, &kind, w->wait, &w->tk[i]);
	/* plaintext an earlier mount left in a cache below the cipher
	 * layer is encrypted; else another kind waits */
	if (t == 1 && kind != w->plain) {
		e = !h->plain && kind ? foreign(h, sec, p) : 1;
		if (e) {
			hc_cleaned(h->hcd, &w->tk[i], 0);
			t = e < 0 ? e : 0;
		}
	}
	return t;
}

/* One lower write of a write-back, timed: h->run_ns says whether the
 * lower device is slow. */
static int lower_write(struct hcdev *h, struct wb *w, uint64_t sector,
		       const uint8_t *buf, size_t n)
{
	struct timespec t0, t1;
	long ns, avg;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = w->to->ops->write(w->to, sector, buf, n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000L +
	     (t1.tv_nsec - t0.tv_nsec);
	avg = __atomic_load_n(&h->run_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&h->run_ns, avg + (ns - avg) / 8, __ATOMIC_RELAXED);
	return r;
}

/*
 * Write back one run of consecutive dirty sectors @secs[0..@n) (@n <=
 * w->max): with their stripes held, take each out of the cache (its slot
 * stays pinned); then, the stripes released, so that writers wait only
 * for the copying out, write what was taken in consecutive pieces, one
 * lower write each, and mark those clean.
 */
static int writeback_run(struct hcdev *h, struct wb *w, const uint64_t *secs,
			 size_t n)
{
	uint32_t ss = h->dev.ss;
	uint8_t *buf = w->buf;
	size_t i, j;
	int r = 0;

	vol_lock_sectors(h->vol, secs[0], secs[n - 1]);
	for (i = 0; i < n; i++) {
		int t = take(h, w, secs[i], buf + i * ss, i);

		if (t == 2) {
			w->skipped[w->nskipped++] = secs[i];
			t = 0;
		}
		w->took[i] = t == 1;
		if (t < 0 && r == 0)
			r = t;
	}
	vol_unlock_sectors(h->vol, secs[0], secs[n - 1]);
	for (i = 0; i < n; i = j) {
		int ok;

		for (j = i; j < n && w->took[j]; j++)
			;
		if (j == i) {
			j++;
			continue;
		}
		ok = lower_write(h, w, secs[i], buf + i * ss, j - i) == 0;
		for (size_t k = i; k < j; k++)
			hc_cleaned(h->hcd, &w->tk[k], ok);
		if (!ok) {
			r = r ? r : -EIO;
			continue;
		}
		w->count += j - i;
		w->since += (uint64_t)(j - i) * ss;
	}
	return r;
}

/*
 * Write back dirty sectors @secs[0..@n), close together but with clean
 * ones between, as one lower write of the span from the first to the
 * last.  With the stripes held, the write-backs of the span in flight
 * are waited for and every sector of it that is dirty is taken (some may
 * have become so since the list was made); the span is then registered
 * (hc_span_begin(): until it ends, no write of the store in it starts),
 * the stripes go, and the span is read from the lower device, the taken
 * sectors laid over it, and written.  Writers to the cache never wait
 * for the store here; writes straight to the store in the span wait for
 * it (too many spans at once: the stripes are kept instead).
 */
static int writeback_span(struct hcdev *h, struct wb *w, const uint64_t *secs,
			  size_t n)
{
	uint32_t ss = h->dev.ss;
	uint64_t first = secs[0], last = secs[n - 1];
	size_t span = last - first + 1, i, k, taken = 0;
	int r = 0, t, ok = 0, busy = 0, held = 0, spanned = 0;

	vol_lock_sectors(h->vol, first, last);
	hc_wait_writeback(h->hcd, first, last);
	for (i = 0; i < span && r == 0; i++) {
		t = take(h, w, first + i, w->tbuf + taken * ss, i);
		w->took[i] = t == 1;
		taken += t == 1;
		busy |= t == 2;		/* not after the wait: never */
		if (t < 0)
			r = t;
	}
	if (r == 0 && taken && !busy) {
		spanned = hc_span_begin(h->hcd, first, last) == 0;
		held = !spanned;
	}
	if (!held)
		vol_unlock_sectors(h->vol, first, last);
	if (spanned || held) {
		r = w->to->ops->read(w->to, first, w->buf, span);
		for (i = 0, k = 0; i < span && r == 0; i++)
			if (w->took[i])
				memcpy(w->buf + i * ss, w->tbuf + k++ * ss, ss);
		ok = r == 0 &&
		     lower_write(h, w, first, w->buf, span) == 0;
	}
	if (held)
		vol_unlock_sectors(h->vol, first, last);
	for (i = 0; i < span; i++)
		if (w->took[i])
			hc_cleaned(h->hcd, &w->tk[i], ok);
	if (spanned)
		hc_span_end(h->hcd, first, last);
	if (busy && r == 0)
		for (k = 0; k < n; k++)
			w->skipped[w->nskipped++] = secs[k];
	if (r < 0 || !taken || busy)
		return r;
	if (!ok)
		return -EIO;
	w->count += taken;
	w->since += (uint64_t)span * ss;
	return 0;
}

/* The lower device synced, then the entries of what it had before
 * cleared: their slots are free for reuse. */
static int checkpoint(struct hcdev *h, struct blkdev *to)
{
	uint64_t mark = hc_mark(h->hcd);
	int r = to->ops->flush(to);

	return r < 0 ? r : hc_checkpoint(h->hcd, mark);
}

/* Is it time for a checkpoint in the middle of a write-back? */
static int batch_done(struct hcdev *h, struct wb *w)
{
	struct timespec now;
	long ns;

	if (w->since >= HCDEV_BATCH_BYTES)
		return 1;
	if (!w->since || !hc_starved(h->hcd))
		return 0;
	if (w->since >= HCDEV_STARVED_BYTES)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (now.tv_sec - w->cp.tv_sec) * 1000000000L +
	     (now.tv_nsec - w->cp.tv_nsec);
	return ns >= HCDEV_STARVED_NS;
}

/* One pass over @secs[0..@n), ascending. */
static int writeback_list(struct hcdev *h, struct wb *w, const uint64_t *secs,
			  size_t n)
{
	size_t i, j;
	int r = 0, r2;

	for (i = 0; i < n; i = j) {
		size_t gaps = 0;

		for (j = i + 1; j < n && secs[j] - secs[i] < w->max &&
			     secs[j] - secs[j - 1] - 1 <= w->gap; j++)
			gaps += secs[j] != secs[j - 1] + 1;
		if (gaps)
			r2 = writeback_span(h, w, secs + i, j - i);
		else
			r2 = writeback_run(h, w, secs + i, j - i);
		if (r2 < 0 && r == 0)
			r = r2;
		if (j < n && batch_done(h, w)) {
			r2 = checkpoint(h, w->to);
			if (r2 < 0 && r == 0)
				r = r2;
			w->since = 0;
			clock_gettime(CLOCK_MONOTONIC, &w->cp);
		}
	}
	return r;
}

/* Buffers for runs of @secs[0..@n), which are ascending. */
static int wb_init(struct hcdev *h, struct wb *w, struct blkdev *to,
		   int plain, const uint64_t *secs, size_t n)
{
	size_t run = 1, longest = 1, cap = HCDEV_RUN_BYTES / h->dev.ss;

	memset(w, 0, sizeof(*w));
	w->to = to;
	w->plain = plain;
	for (size_t i = 1; i < n && longest < cap; i++) {
		run = secs[i] == secs[i - 1] + 1 ? run + 1 : 1;
		if (run > longest)
			longest = run;
	}
	w->max = longest < cap ? longest : cap;
	if (h->remote) {
		w->gap = HCDEV_GAP_BYTES / h->dev.ss;
		if (w->max < HCDEV_SPAN_BYTES / h->dev.ss)
			w->max = HCDEV_SPAN_BYTES / h->dev.ss;
	}
	w->buf = malloc(w->max * h->dev.ss);
	if (w->gap)
		w->tbuf = malloc(w->max * h->dev.ss);
	w->tk = malloc(w->max * sizeof(*w->tk));
	w->took = malloc(w->max);
	w->skipped = malloc(n * sizeof(*w->skipped));
	clock_gettime(CLOCK_MONOTONIC, &w->cp);
	return w->buf && (w->tbuf || !w->gap) && w->tk && w->took &&
		w->skipped ? 0 : -ENOMEM;
}

static void wb_free(struct hcdev *h, struct wb *w)
{
	if (w->buf)
		secmem_wipe(w->buf, w->max * h->dev.ss);
	if (w->tbuf)
		secmem_wipe(w->tbuf, w->max * h->dev.ss);
	free(w->buf);
	free(w->tbuf);
	free(w->tk);
	free(w->took);
	free(w->skipped);
}

/* One of the write-back's workers: a part of the sorted list. */
struct wpart {
	struct hcdev *h;
	struct wb w;
	const uint64_t *secs;
	size_t n;
	int r;
	pthread_t t;
	int started;
};

static void *wpart_main(void *arg)
{
	struct wpart *p = arg;

	p->r = writeback_list(p->h, &p->w, p->secs, p->n);
	return NULL;
}

/*
 * Write this disk's dirty sectors of kind @plain back into @to, in runs
 * of consecutive sectors up to HCDEV_RUN_BYTES, one lower write each,
 * with a checkpoint after every batch (so that a full cache has room
 * again long before the end of the pass); *@count says how many went.
 * Many runs (scattered sectors) are split in up to HCDEV_WORKERS parts
 * written back at once when a lower write is slow: each run costs a
 * round trip to a blob store (a local store's are written in turn: more
 * threads there only contend for the cache's lock).
 * Sectors another flush is writing back (the cache's thread and an fsync
 * at once) are left to it at first, so that the two share the work, and
 * taken again at the end, waiting for that flush's write of them: what
 * was written before this flush began is in @to when it ends.  The
 * caller syncs @to and checkpoints at the end.
 */
static int writeback(struct hcdev *h, struct blkdev *to, int plain,
		     size_t *count)
{
	struct wpart part[HCDEV_WORKERS];
	struct wb last;
	uint64_t *secs, *skipped = NULL;
	size_t n, runs = 1, nparts, nskipped = 0, at = 0;
	int r, r2;

	r = hc_dirty_sectors(h->hcd, &secs, &n);
	if (r < 0 || n == 0)
		return r;
	for (size_t i = 1; i < n; i++)
		runs += secs[i] != secs[i - 1] + 1;
	nparts = runs >= 8 * HCDEV_WORKERS &&
		 __atomic_load_n(&h->run_ns, __ATOMIC_RELAXED) >=
			 HCDEV_SLOW_NS ? HCDEV_WORKERS : 1;
	memset(part, 0, sizeof(part));
	/* parts of about n / nparts sectors, cut between runs */
	for (size_t k = 0; k < nparts; k++) {
		size_t end = k + 1 == nparts ? n : (n * (k + 1)) / nparts;

		if (end < at)
			end = at;
		while (end > at && end < n && secs[end] == secs[end - 1] + 1)
			end++;
		part[k].h = h;
		part[k].secs = secs + at;
		part[k].n = end - at;
		at = end;
	}
	for (size_t k = 0; k < nparts; k++) {
		struct wpart *p = &part[k];

		if (!p->n)
			continue;
		p->r = wb_init(h, &p->w, to, plain, p->secs, p->n);
		if (p->r < 0)
			continue;
		if (k > 0 && pthread_create(&p->t, NULL, wpart_main, p) == 0)
			p->started = 1;
	}
	for (size_t k = 0; k < nparts; k++) {
		struct wpart *p = &part[k];

		if (p->started)
			pthread_join(p->t, NULL);
		else if (p->n && p->r == 0)
			wpart_main(p);
		if (p->r < 0 && r == 0)
			r = p->r;
		*count += p->w.count;
		nskipped += p->w.nskipped;
	}
	if (nskipped)
		skipped = malloc(nskipped * sizeof(*skipped));
	nskipped = 0;
	for (size_t k = 0; k < nparts; k++) {
		if (skipped && part[k].w.nskipped)
			memcpy(skipped + nskipped, part[k].w.skipped,
			       part[k].w.nskipped * sizeof(*skipped));
		nskipped += part[k].w.nskipped;
		wb_free(h, &part[k].w);
	}
	free(secs);
	if (nskipped && !skipped)
		return -ENOMEM;
	if (nskipped) {
		r2 = wb_init(h, &last, to, plain, skipped, nskipped);
		last.wait = 1;
		if (r2 == 0)
			r2 = writeback_list(h, &last, skipped, nskipped);
		if (r2 < 0 && r == 0)
			r = r2;
		*count += last.count;
		wb_free(h, &last);
	}
	free(skipped);
	return r;
}

/* Dirty sectors back, the lower device synced, and then the cache's
 * table entries cleared (the lower device has them now). */
static int hd_flush(struct blkdev *d)
{
	struct hcdev *h = hd(d);
	size_t count = 0;
	int r, r2;

	/* (a ReadOnly cache too: dirty sectors an earlier mount left) */
	r = writeback(h, d->lower, h->plain, &count);
	r2 = checkpoint(h, d->lower);
	return r ? r : r2;
}

static int hd_set_cache_key(struct blkdev *d, const struct secbuf *key)
{
	return hc_set_key(hd(d)->hcd, key);
}

/* ReadWrite: writes are acknowledged from the cache (crash-safe). */
static int hd_write_back(struct blkdev *d, uint64_t *dirty)
{
	struct hcdev *h = hd(d);

	if (!h->rw)
		return 0;
	*dirty = hc_disk_dirty(h->hcd);
	return 1;
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
	.write_back = hd_write_back,
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
	return checkpoint(h, to);
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
	h->remote = strcmp(h->b->ops->kind, "file") != 0;
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
