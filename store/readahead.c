/*
 * store/readahead.c - read-ahead for a sequential reader of a remote blob
 *
 * A window is EMPTY, QUEUED for the loader thread, LOADING (its Get in
 * flight, by the loader or by a reader that would rather not wait) or
 * READY.  Readers copy out of a READY window without the lock, the window pinned
 * (readers > 0) so that no load reuses its buffer meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/readahead.h"

int ra_init(struct readahead *ra, ra_fetch_fn fetch, void *arg)
{
	memset(ra, 0, sizeof(*ra));
	ra->fetch = fetch;
	ra->arg = arg;
	ra->next = ra->cnext = UINT64_MAX;	/* the first read follows none */
	if (pthread_mutex_init(&ra->mu, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&ra->done, NULL)) {
		pthread_mutex_destroy(&ra->mu);
		return -ENOMEM;
	}
	if (pthread_cond_init(&ra->work, NULL)) {
		pthread_cond_destroy(&ra->done);
		pthread_mutex_destroy(&ra->mu);
		return -ENOMEM;
	}
	return 0;
}

/* The window that holds, or will hold, the byte at @pos; or NULL. */
static struct ra_win *find(struct readahead *ra, uint64_t pos)
{
	struct ra_win *w;
	int i;

	for (i = 0; i < RA_WINDOWS; i++) {
		w = &ra->w[i];
		if (w->state != RA_EMPTY && pos >= w->off &&
		    pos - w->off < w->len)
			return w;
	}
	return NULL;
}

/*
 * A window for the bytes at @pos (of a blob @size long): one that is
 * empty, else a ready one wholly before @keep (a read there is done).
 * Not one a reader copies from.  Return: the window, its range set; NULL.
 */
static struct ra_win *claim(struct readahead *ra, uint64_t pos,
			    uint64_t keep, uint64_t size)
{
	struct ra_win *w = NULL, *c;
	int i;

	for (i = 0; i < RA_WINDOWS && !w; i++) {
		c = &ra->w[i];
		if (c->readers)
			continue;
		if (c->state == RA_EMPTY ||
		    (c->state == RA_READY && c->off + c->len <= keep))
			w = c;
	}
	if (!w)
		return NULL;
	if (!w->buf && !(w->buf = malloc(RA_WINDOW)))
		return NULL;
	w->state = RA_EMPTY;
	w->off = pos;
	w->len = size - pos < RA_WINDOW ? size - pos : RA_WINDOW;
	w->stale = 0;
	return w;
}

/* Get @w (LOADING, ours) into its buffer; ra->mu held, dropped meanwhile. */
static void load(struct readahead *ra, struct ra_win *w)
{
	int r;

	pthread_mutex_unlock(&ra->mu);
	r = ra->fetch(ra->arg, w->buf, w->len, w->off);
	pthread_mutex_lock(&ra->mu);
	w->state = r == 0 && !w->stale ? RA_READY : RA_EMPTY;
	w->stale = 0;
	if (r == 0)
		ra->gets++;
	pthread_cond_broadcast(&ra->done);
}

static void *loader_main(void *arg)
{
	struct readahead *ra = arg;
	struct ra_win *w;
	int i;

	pthread_mutex_lock(&ra->mu);
	while (!ra->stop) {
		w = NULL;
		for (i = 0; i < RA_WINDOWS; i++)
			if (ra->w[i].state == RA_QUEUED &&
			    (!w || ra->w[i].off < w->off))
				w = &ra->w[i];
		if (!w) {
			pthread_cond_wait(&ra->work, &ra->mu);
			continue;
		}
		w->state = RA_LOADING;
		load(ra, w);
	}
	pthread_mutex_unlock(&ra->mu);
	return NULL;
}

/* Queue the window at @pos for the loader, unless it is there already or
 * there is no room (a read before @keep is still being served). */
static void prefetch(struct readahead *ra, uint64_t pos, uint64_t keep,
		     uint64_t size)
{
	struct ra_win *w;

	if (pos >= size || find(ra, pos))
		return;
	if (!ra->loader_on) {
		if (pthread_create(&ra->loader, NULL, loader_main, ra))
			return;		/* no read-ahead: still correct */
		ra->loader_on = 1;
	}
	w = claim(ra, pos, keep, size);
	if (!w)
		return;
	w->state = RA_QUEUED;
	pthread_cond_signal(&ra->work);
}

/* A stream holds windows. */
static int streaming(const struct readahead *ra)
{
	int i;

	for (i = 0; i < RA_WINDOWS; i++)
		if (ra->w[i].buf)
			return 1;
	return 0;
}

/* The stream ended: free what no Get or reader holds. */
static void end_stream(struct readahead *ra)
{
	struct ra_win *w;
	int i;

	for (i = 0; i < RA_WINDOWS; i++) {
		w = &ra->w[i];
		if (w->readers || w->state == RA_LOADING)
			continue;
		free(w->buf);
		w->buf = NULL;
		w->state = RA_EMPTY;
	}
}

size_t ra_read(struct readahead *ra, void *buf, size_t len, uint64_t off,
	       uint64_t size)
{
	struct ra_win *w;
	size_t done = 0, n;
	uint64_t pos;
	int seq, loaded = 0;

	pthread_mutex_lock(&ra->mu);
	seq = off == ra->next || find(ra, off);
	if (seq) {
		ra->misses = 0;
		ra->run += len;
		if (off + len > ra->next)
			ra->next = off + len;
	} else {
		/* another run of reads: it takes over once it is long
		 * enough, or once the stream has had RA_MISSES reads
		 * elsewhere in a row (a header, a file system's metadata,
		 * another reader: the caller's, the stream goes on) */
		seq = off == ra->cnext;	/* it follows one, at least */
		ra->crun = seq ? ra->crun + len : len;
		ra->cnext = off + len;
		if (streaming(ra) && ++ra->misses < RA_MISSES &&
		    (!seq || ra->crun < RA_START)) {
			pthread_mutex_unlock(&ra->mu);
			return 0;
		}
		end_stream(ra);
		ra->misses = 0;
		ra->run = ra->crun;
		ra->next = ra->cnext;
	}
	if (!seq || ra->run < RA_START) {
		pthread_mutex_unlock(&ra->mu);
		return 0;
	}
	while (done < len) {
		pos = off + done;
		w = find(ra, pos);
		if (!w) {
			/* a window of our own, once: if it is gone again (a
			 * write, a failed Get) the caller reads the rest */
			if (loaded || !(w = claim(ra, pos, off, size)))
				break;
			loaded = 1;
			w->state = RA_LOADING;
			load(ra, w);
			continue;
		}
		if (w->state == RA_QUEUED) {
			w->state = RA_LOADING;	/* ours rather than wait */
			load(ra, w);
			continue;
		}
		if (w->state == RA_LOADING) {
			pthread_cond_wait(&ra->done, &ra->mu);
			continue;
		}
		n = w->off + w->len - pos;
		if (n > len - done)
			n = len - done;
		w->readers++;
		pthread_mutex_unlock(&ra->mu);
		memcpy((char *)buf + done, w->buf + (pos - w->off), n);
		pthread_mutex_lock(&ra->mu);
		w->readers--;
		done += n;
		prefetch(ra, w->off + w->len, off, size);
	}
	pthread_mutex_unlock(&ra->mu);
	return done;
}

void ra_invalidate(struct readahead *ra, uint64_t off, uint64_t len)
{
	struct ra_win *w;
	int i;

	pthread_mutex_lock(&ra->mu);
	for (i = 0; i < RA_WINDOWS; i++) {
		w = &ra->w[i];
		if (w->state == RA_EMPTY)
			continue;
		/* no overlap; off + len may pass UINT64_MAX */
		if (!len || off >= w->off + w->len ||
		    (w->off >= off && w->off - off >= len))
			continue;
		if (w->state == RA_LOADING)
			w->stale = 1;	/* load() drops it */
		else
			w->state = RA_EMPTY;
	}
	pthread_mutex_unlock(&ra->mu);
}

void ra_destroy(struct readahead *ra)
{
	int i;

	pthread_mutex_lock(&ra->mu);
	ra->stop = 1;
	pthread_cond_broadcast(&ra->work);
	pthread_mutex_unlock(&ra->mu);
	if (ra->loader_on)
		pthread_join(ra->loader, NULL);
	for (i = 0; i < RA_WINDOWS; i++)
		free(ra->w[i].buf);
	pthread_cond_destroy(&ra->work);
	pthread_cond_destroy(&ra->done);
	pthread_mutex_destroy(&ra->mu);
}
