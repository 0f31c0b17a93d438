/*
 * blobback.c - struct backing over an Azure page blob, and its store
 *
 * Locking of one backing:
 *   wr   (rwlock) every write (pwrite, punch, set_size) holds it shared;
 *        hdr_lock() holds it exclusive until hdr_unlock(), so that the
 *        ETag it conditions its writes on moves only by its own writes.
 *        The thread holding it writes without taking it again.
 *   mu   (mutex) the cached size, the lease's state, the sticky error;
 *        held across a request only to grow the blob.
 * The leases of every backing of the process are renewed by one thread
 * (struct renewer below), started with the first lease and joined when
 * the last one goes: process-wide by nature, so the one static state.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "disk/backing.h"
#include "store/azauth.h"
#include "store/azblob.h"
#include "store/blobback.h"
#include "store/readahead.h"

#define IO_CHUNK		AZB_PUT_PAGE_MAX	/* one Put Page or Get */
#define IO_PAR			4	/* requests at once for one call */
/* a read of a few MiB goes as IO_PAR ranged Gets of at least this:
 * one request at a time leaves the service's round trip idle */
#define READ_SLICE		(256u << 10)
#define HDR_WAIT_MS		5000u	/* hdr_lock's wait for a lease */
#define HDR_POLL_MS		250u
#define RENEW_RETRY_MS		1000u
#define ETAGS_SEEN		32	/* our writes' last ETags, for regain */

struct blob_store {
	struct azb_client *c;
	char *url;			/* as given, no trailing '/' */
	int lease_seconds;
	void (*notice)(void *arg, const char *line);
	void *notice_arg;
	unsigned int refs;		/* atomic */
};

/* One lease the renewer keeps alive. */
struct lease {
	struct lease *next;
	struct azb_client *c;
	const char *blob;
	char id[AZB_LEASE_ID_MAX];
	int seconds;
	uint64_t due_ms;		/* next renewal (CLOCK_MONOTONIC) */
	int lost;			/* renewer's: stop renewing */
	/* a renewal failed with @r: 0 when the lease is ours again */
	int (*on_lost)(struct lease *l, int r, const struct azb_err *e);
};

struct blob_backing {
	struct backing b;		/* first: the caller's handle */
	struct blob_store *s;
	char *blob;
	int rdonly;

	pthread_rwlock_t wr;
	int hdr_held;			/* atomic; with hdr_owner */
	pthread_t hdr_owner;
	char hdr_etag[AZB_ETAG_MAX];	/* the owner's */

	pthread_mutex_t mu;
	uint64_t size;
	int lease_on;			/* lease registered with the renewer */
	int lease_inuse;		/* hold_inuse's: kept until close */
	int lease_lost;
	int werr;			/* the first write error since sync */
	struct azb_err last;		/* the service's last refusal */
	struct lease lease;
	/* the ETags our last writes left, newest at etags_n - 1 (mod) */
	char etags[ETAGS_SEEN][AZB_ETAG_MAX];
	unsigned int etags_n;
	pthread_mutex_t regain_mu;	/* one regain at a time */
	struct readahead ra;		/* a streaming reader's windows */
	int ra_on;			/* ra set up */
};

static const struct backing_ops blob_ops;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * "ssefs: WHAT: WHY" into @msg (may be NULL).  A URL's query is cut from
 * WHAT: it may be a SAS, and this line goes to stderr or syslog.
 */
static void __attribute__((format(printf, 4, 5)))
say(char *msg, size_t len, const char *what, const char *fmt, ...)
{
	const char *q = strchr(what, '?');
	char why[BLOB_MSG_MAX];
	va_list ap;

	if (!msg || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, len, "ssefs: %.*s%s: %s",
		 q ? (int)(q - what) : (int)strlen(what), what,
		 q ? "?..." : "", why);
}

/* The service's answer @e and the errno @r, for a message. */
static void say_err(char *msg, size_t len, struct blob_store *s,
		    const char *what, int r, const struct azb_err *e)
{
	char st[128];

	azb_strerror(e, st, sizeof(st));
	switch (r) {
	case -EACCES:
		say(msg, len, what, "access denied (%s): check the key or SAS "
		    "of account %s, container %s", st, azb_account(s->c),
		    azb_container(s->c));
		break;
	case -EBUSY:
		say(msg, len, what, "in use: another host holds its lease (%s)",
		    st);
		break;
	case -EIO:
		say(msg, len, what, "store failed or unreachable (%s)", st);
		break;
	default:
		say(msg, len, what, "%s (%s)", strerror(-r), st);
	}
}

/* Keep the service's answer to a failed request for blob_backing_why(). */
static int noted(struct blob_backing *bb, int r, const struct azb_err *e)
{
	if (r < 0 && (e->http || e->code[0])) {
		pthread_mutex_lock(&bb->mu);
		bb->last = *e;
		pthread_mutex_unlock(&bb->mu);
	}
	return r;
}

/* Process-wide lease renewal. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lease *head;
	struct lease *busy;		/* being renewed, outside mu */
	int running, stop, joining;
	pthread_t tid;
} R = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	NULL, NULL, 0, 0, 0, 0 };

static void *renewer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&R.mu);
	while (!R.stop) {
		struct lease *l, *due = NULL;
		struct azb_err e = { 0, "" };
		uint64_t now = now_ms();
		int r;

		for (l = R.head; l; l = l->next)
			if (!l->lost && (!due || l->due_ms < due->due_ms))
				due = l;
		if (!due || due->due_ms > now) {
			if (due) {
				struct timespec ts;
				uint64_t wait = due->due_ms - now;

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += wait / 1000;
				ts.tv_nsec += (long)(wait % 1000) * 1000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&R.cv, &R.mu, &ts);
			} else {
				pthread_cond_wait(&R.cv, &R.mu);
			}
			continue;
		}
		R.busy = due;
		pthread_mutex_unlock(&R.mu);
		r = azb_lease_renew(due->c, due->blob, due->id, &e);
		if (r < 0 && r != -EIO)		/* still registered */
			r = due->on_lost(due, r, &e);
		pthread_mutex_lock(&R.mu);
		if (r == 0)
			due->due_ms = now_ms() + due->seconds * 1000u / 3;
		else if (r == -EIO)		/* unreachable: try again */
			due->due_ms = now_ms() + RENEW_RETRY_MS;
		else
			due->lost = 1;
		R.busy = NULL;
		pthread_cond_broadcast(&R.cv);
	}
	pthread_mutex_unlock(&R.mu);
	return NULL;
}

/* Renew @l from now on.  Return: 0 or -EAGAIN (no thread). */
static int renew_add(struct lease *l)
{
	int r = 0;

	pthread_mutex_lock(&R.mu);
	while (R.joining)
		pthread_cond_wait(&R.cv, &R.mu);
	if (!R.running) {
		R.stop = 0;
		if (pthread_create(&R.tid, NULL, renewer, NULL)) {
			pthread_mutex_unlock(&R.mu);
			return -EAGAIN;
		}
		R.running = 1;
	}
	l->lost = 0;
	l->due_ms = now_ms() + l->seconds * 1000u / 3;
	l->next = R.head;
	R.head = l;
	pthread_cond_broadcast(&R.cv);
	pthread_mutex_unlock(&R.mu);
	return r;
}

/* Stop renewing @l (waits for a renewal under way); the last one stops
 * the thread. */
static void renew_del(struct lease *l)
{
	struct lease **p;
	pthread_t t;

	pthread_mutex_lock(&R.mu);
	while (R.busy == l)
		pthread_cond_wait(&R.cv, &R.mu);
	for (p = &R.head; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			break;
		}
	if (!R.head && R.running && !R.joining) {
		R.stop = 1;
		R.joining = 1;
		t = R.tid;
		pthread_cond_broadcast(&R.cv);
		pthread_mutex_unlock(&R.mu);
		pthread_join(t, NULL);
		pthread_mutex_lock(&R.mu);
		R.running = 0;
		R.stop = 0;
		R.joining = 0;
		pthread_cond_broadcast(&R.cv);
	}
	pthread_mutex_unlock(&R.mu);
}

static struct blob_backing *bb_of(struct backing *b)
{
	return (struct blob_backing *)b;
}

/* The lease is gone: say so once; later writes are -EIO. */
static void lease_gone(struct blob_backing *bb, int r,
		       const struct azb_err *e)
{
	char st[128], line[BLOB_MSG_MAX];
	int first;

	pthread_mutex_lock(&bb->mu);
	first = !bb->lease_lost;
	bb->lease_lost = 1;
	pthread_mutex_unlock(&bb->mu);
	if (!first || !bb->s->notice)
		return;
	azb_strerror(e, st, sizeof(st));
	say(line, sizeof(line), bb->b.name, "lease lost (%s): another host "
	    "may have taken the disk over; writes fail with EIO",
	    e->http || e->code[0] ? st : strerror(-r));
	bb->s->notice(bb->s->notice_arg, line);
}

/* An ETag our own writes left (the blob as we last changed it). */
static void etag_seen(struct blob_backing *bb, const char *etag)
{
	if (!etag[0])
		return;
	pthread_mutex_lock(&bb->mu);
	memcpy(bb->etags[bb->etags_n++ % ETAGS_SEEN], etag, AZB_ETAG_MAX);
	pthread_mutex_unlock(&bb->mu);
}

static int etag_ours(struct blob_backing *bb, const char *etag)
{
	unsigned int i, n;
	int r = 0;

	pthread_mutex_lock(&bb->mu);
	n = bb->etags_n < ETAGS_SEEN ? bb->etags_n : ETAGS_SEEN;
	for (i = 0; i < n && !r; i++)
		r = !strcmp(bb->etags[i], etag);
	pthread_mutex_unlock(&bb->mu);
	return r;
}

/*
 * The lease went away under us without anyone taking it: it lapsed while
 * the service was unreachable for longer than the lease (store_timeout
 * allows that), or the service forgot it across a restart.  Take it again,
 * with the same id, when that is safe: a renewal with our id (the service
 * allows it while no one else leased or changed the blob), else only when
 * no one holds or broke it (a break is someone taking the disk from us)
 * and the blob still has an ETag our own last writes left, checked again
 * once the lease is ours.  Return: 0 (ours again), -errno.
 */
static int lease_regain(struct blob_backing *bb)
{
	struct azb_props p;
	char id[AZB_LEASE_ID_MAX];
	int r;

	pthread_mutex_lock(&bb->regain_mu);
	r = azb_lease_renew(bb->s->c, bb->blob, bb->lease.id, NULL);
	if (r == 0)
		goto out;
	r = azb_props(bb->s->c, bb->blob, &p, NULL);
	if (r < 0)
		goto out;
	if ((p.lease != AZB_LEASE_AVAILABLE && p.lease != AZB_LEASE_EXPIRED) ||
	    !etag_ours(bb, p.etag)) {
		r = -EBUSY;
		goto out;
	}
	r = azb_lease_acquire(bb->s->c, bb->blob, bb->lease.seconds,
			      bb->lease.id, id, NULL);
	if (r == 0 && strcmp(id, bb->lease.id))
		r = -EBUSY;
	if (r == 0)
		r = azb_props(bb->s->c, bb->blob, &p, NULL);
	if (r == 0 && !etag_ours(bb, p.etag)) {
		azb_lease_release(bb->s->c, bb->blob, bb->lease.id, NULL);
		r = -EBUSY;
	}
	if (r == 0 && bb->s->notice) {
		char line[BLOB_MSG_MAX];

		say(line, sizeof(line), bb->b.name, "lease gone after the "
		    "store was unreachable; taken again (no one else wrote)");
		bb->s->notice(bb->s->notice_arg, line);
	}
out:
	pthread_mutex_unlock(&bb->regain_mu);
	return r;
}

static int on_lost(struct lease *l, int r, const struct azb_err *e)
{
	struct blob_backing *bb = (struct blob_backing *)
		((char *)l - offsetof(struct blob_backing, lease));
	int lost;

	pthread_mutex_lock(&bb->mu);
	lost = bb->lease_lost;
	pthread_mutex_unlock(&bb->mu);
	if (!lost && !strncmp(e->code, "Lease", 5) && lease_regain(bb) == 0)
		return 0;
	noted(bb, r, e);
	lease_gone(bb, r, e);
	return r;
}

/* Is this thread the one holding hdr_lock? */
static int hdr_owner(struct blob_backing *bb)
{
	return __atomic_load_n(&bb->hdr_held, __ATOMIC_ACQUIRE) &&
	       pthread_equal(bb->hdr_owner, pthread_self());
}

/* Take wr shared, unless this thread holds it exclusive; 1 if taken. */
static int wr_enter(struct blob_backing *bb)
{
	if (hdr_owner(bb))
		return 0;
	pthread_rwlock_rdlock(&bb->wr);
	return 1;
}

static void wr_leave(struct blob_backing *bb, int taken)
{
	if (taken)
		pthread_rwlock_unlock(&bb->wr);
}

/*
 * The conditions of a write: the lease id when this backing holds it, the
 * ETag under hdr_lock.  Return: 0, -EIO (the lease was lost).
 */
static int write_cond(struct blob_backing *bb, struct azb_cond *cond,
		      int owner)
{
	int r = 0;

	cond->if_match = owner ? bb->hdr_etag : NULL;
	cond->lease_id = NULL;
	pthread_mutex_lock(&bb->mu);
	if (bb->lease_lost)
		r = -EIO;
	else if (bb->lease_on)
		cond->lease_id = bb->lease.id;
	pthread_mutex_unlock(&bb->mu);
	return r;
}

/* A write failed with @r because the lease went away (a 412 with a
 * Lease... code, not another holder's 409): can it be taken again? */
static int lease_vanished(struct blob_backing *bb, int r,
			  const struct azb_err *e, int leased)
{
	int lost;

	if (r != -EBUSY || !leased || e->http != 412 ||
	    strncmp(e->code, "Lease", 5))
		return 0;
	pthread_mutex_lock(&bb->mu);
	lost = bb->lease_lost;
	pthread_mutex_unlock(&bb->mu);
	return !lost && lease_regain(bb) == 0;
}

/* A write failed with @r: a lease error means the lease is lost. */
static int write_failed(struct blob_backing *bb, int r,
			const struct azb_err *e, int leased)
{
	noted(bb, r, e);
	if (r == -EBUSY && leased && !strncmp(e->code, "Lease", 5)) {
		lease_gone(bb, r, e);
		r = -EIO;
	}
	pthread_mutex_lock(&bb->mu);
	if (!bb->werr)
		bb->werr = r;
	pthread_mutex_unlock(&bb->mu);
	return r;
}

/*
 * Chunks of one large read or write, run by up to IO_PAR threads (the
 * caller's among them): each takes the next chunk until none is left or
 * one failed.  The first failure is kept with the service's answer.
 */
struct par {
	struct blob_backing *bb;
	char *rbuf;			/* read into, or */
	const char *wbuf;		/* write from */
	uint64_t off;
	size_t len;
	const struct azb_cond *cond;
	size_t chunk;			/* bytes per request: IO_CHUNK or
					 * less (reads) */
	size_t next;			/* the next chunk's index; atomic */
	pthread_mutex_t mu;
	int r;
	struct azb_err e;
};

static void *par_worker(void *arg)
{
	struct par *p = arg;
	struct azb_err e = { 0, "" };
	size_t i, at, n;
	int r, failed;

	for (;;) {
		i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
		at = i * p->chunk;
		pthread_mutex_lock(&p->mu);
		failed = p->r;
		pthread_mutex_unlock(&p->mu);
		if (at >= p->len || failed)
			break;
		n = p->len - at < p->chunk ? p->len - at : p->chunk;
		if (p->rbuf)
			r = azb_read(p->bb->s->c, p->bb->blob, NULL, p->off + at,
				     p->rbuf + at, n, &e);
		else {
			char etag[AZB_ETAG_MAX] = "";

			r = azb_put_pages(p->bb->s->c, p->bb->blob,
					  p->off + at, p->wbuf + at, n,
					  p->cond, etag, &e);
			if (r == 0)
				etag_seen(p->bb, etag);
		}
		if (r < 0) {
			pthread_mutex_lock(&p->mu);
			if (!p->r) {
				p->r = r;
				p->e = e;
			}
			pthread_mutex_unlock(&p->mu);
			break;
		}
	}
	return NULL;
}

/* Run @p's chunks; *@e gets the first failure's answer.  Return: 0, -errno. */
static int par_run(struct par *p, struct azb_err *e)
{
	pthread_t t[IO_PAR - 1];
	size_t chunks, i, nt = 0;

	if (!p->chunk)
		p->chunk = IO_CHUNK;
	chunks = (p->len + p->chunk - 1) / p->chunk;
	p->next = 0;
	p->r = 0;
	pthread_mutex_init(&p->mu, NULL);
	for (i = 1; i < chunks && i < IO_PAR; i++) {
		if (pthread_create(&t[nt], NULL, par_worker, p))
			break;		/* fewer threads: still done */
		nt++;
	}
	par_worker(p);
	for (i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p->mu);
	if (p->r)
		*e = p->e;
	return p->r;
}

/* readahead.h's fetch: one Get of a window */
static int ra_fetch(void *arg, void *buf, size_t len, uint64_t off)
{
	struct blob_backing *bb = arg;

	return azb_read(bb->s->c, bb->blob, NULL, off, buf, len, NULL);
}

static int bb_pread(struct backing *b, void *buf, size_t len, uint64_t off)
{
	struct blob_backing *bb = bb_of(b);
	struct azb_err e = { 0, "" };
	struct par p;
	uint64_t size, have;
	size_t got = 0;
	int r, again = 1, first = 1;

	if (off % AZB_PAGE || len % AZB_PAGE || off + len < off)
		return -EINVAL;
	pthread_mutex_lock(&bb->mu);
	size = bb->size;
	pthread_mutex_unlock(&bb->mu);
	for (;;) {
		have = off >= size ? 0 : size - off;
		if (have > len)
			have = len;
		if (!have)
			break;
		if (first && bb->ra_on)
			got = ra_read(&bb->ra, buf, have, off, size);
		first = 0;
		if (got >= have)
			break;
		memset(&p, 0, sizeof(p));
		p.bb = bb;
		p.rbuf = (char *)buf + got;
		p.off = off + got;
		p.len = have - got;
		/* IO_PAR slices of a page-aligned share, READ_SLICE at least */
		p.chunk = (p.len / IO_PAR + AZB_PAGE - 1) / AZB_PAGE * AZB_PAGE;
		if (p.chunk < READ_SLICE)
			p.chunk = READ_SLICE;
		if (p.chunk > IO_CHUNK)
			p.chunk = IO_CHUNK;
		r = par_run(&p, &e);
		if (r == -EINVAL && e.http == 416 && again) {
			/* shorter than we thought: learn its length */
			again = 0;
			r = b->ops->get_size(b, &size);
			if (r < 0)
				return r;
			continue;
		}
		if (r < 0)
			return noted(bb, r, &e);
		break;
	}
	if (have < len)
		memset((char *)buf + have, 0, len - have);
	return 0;
}

/* Grow the blob to hold [0, @end) before a write there.  Return: 1 grown,
 * 0, -errno. */
static int grow(struct blob_backing *bb, uint64_t end,
		const struct azb_cond *cond, struct azb_err *e)
{
	int r = 0;

	pthread_mutex_lock(&bb->mu);
	if (end > bb->size) {
		r = azb_resize(bb->s->c, bb->blob, end, cond, e);
		if (r == 0) {
			bb->size = end;
			r = 1;
		}
	}
	pthread_mutex_unlock(&bb->mu);
	return r;
}

/* After a change the ETag of which we did not see: the owner learns it. */
static int refresh_etag(struct blob_backing *bb)
{
	struct azb_err e = { 0, "" };
	struct azb_props p;
	int r;

	r = azb_props(bb->s->c, bb->blob, &p, &e);
	if (r == 0)
		memcpy(bb->hdr_etag, p.etag, sizeof(p.etag));
	return noted(bb, r, &e);
}

/*
 * An ETag-conditional write was refused (412) though we hold the lease:
 * when a retry follows an attempt that did land, the ETag moved by our
 * own hand.  Return: 0 (the pages hold @buf; the ETag is learnt again),
 * -ESTALE (they do not), -errno.
 */
static int landed(struct blob_backing *bb, const char *buf, size_t len,
		  uint64_t off)
{
	char *got = malloc(len);
	int r;

	if (!got)
		return -ENOMEM;
	r = azb_read(bb->s->c, bb->blob, NULL, off, got, len, NULL);
	if (r == 0)
		r = memcmp(got, buf, len) ? -ESTALE : refresh_etag(bb);
	free(got);
	return r;
}

static int bb_pwrite(struct backing *b, const void *buf, size_t len,
		     uint64_t off)
{
	struct blob_backing *bb = bb_of(b);
	struct azb_err e = { 0, "" };
	struct azb_cond cond;
	char etag[AZB_ETAG_MAX];
	size_t done = 0, n;
	int r, taken, owner;

	if (off % AZB_PAGE || len % AZB_PAGE || off + len < off)
		return -EINVAL;
	if (bb->rdonly)
		return -EBADF;
	if (!len)
		return 0;
	taken = wr_enter(bb);
	owner = !taken;
	r = write_cond(bb, &cond, owner);
	if (r == 0) {
		r = grow(bb, off + len, &cond, &e);
		if (r > 0)
			r = owner ? refresh_etag(bb) : 0;
	}
	/* under hdr_lock one at a time: each ETag conditions the next */
	while (r == 0 && owner && done < len) {
		n = len - done > IO_CHUNK ? IO_CHUNK : len - done;
		r = azb_put_pages(bb->s->c, bb->blob, off + done,
				  (const char *)buf + done, n, &cond, etag,
				  &e);
		if (r == 0) {
			memcpy(bb->hdr_etag, etag, sizeof(etag));
			etag_seen(bb, etag);
		} else if (r == -ESTALE) {
			r = landed(bb, (const char *)buf + done, n, off + done);
		}
		done += n;
	}
	if (r == 0 && !owner) {
		struct par p;
		int again = 1;

		for (;;) {
			memset(&p, 0, sizeof(p));
			p.bb = bb;
			p.wbuf = buf;
			p.off = off;
			p.len = len;
			p.cond = &cond;
			r = par_run(&p, &e);
			/* the lease lapsed in an outage and is ours again:
			 * the same pages once more */
			if (!again || !lease_vanished(bb, r, &e,
						      cond.lease_id != NULL))
				break;
			again = 0;
		}
	}
	if (r < 0)
		r = write_failed(bb, r, &e, cond.lease_id != NULL);
	if (bb->ra_on)
		ra_invalidate(&bb->ra, off, len);
	wr_leave(bb, taken);
	return r;
}

static int bb_punch(struct backing *b, uint64_t off, uint64_t len)
{
	struct blob_backing *bb = bb_of(b);
	struct azb_err e = { 0, "" };
	struct azb_cond cond;
	char etag[AZB_ETAG_MAX];
	uint64_t size;
	int r, taken, owner;

	if (off % AZB_PAGE || len % AZB_PAGE || off + len < off)
		return -EINVAL;
	if (bb->rdonly)
		return -EBADF;
	taken = wr_enter(bb);
	owner = !taken;
	pthread_mutex_lock(&bb->mu);
	size = bb->size;
	pthread_mutex_unlock(&bb->mu);
	if (off >= size)
		len = 0;		/* past the end is a hole already */
	else if (len > size - off)
		len = size - off;
	r = write_cond(bb, &cond, owner);
	if (r == 0 && len) {
		r = azb_clear_pages(bb->s->c, bb->blob, off, len, &cond, etag,
				    &e);
		if (r == -EBUSY && lease_vanished(bb, r, &e,
						  cond.lease_id != NULL))
			r = azb_clear_pages(bb->s->c, bb->blob, off, len,
					    &cond, etag, &e);
		if (r == 0)
			etag_seen(bb, etag);
		if (r == 0 && owner)
			memcpy(bb->hdr_etag, etag, sizeof(etag));
		if (r < 0)
			r = write_failed(bb, r, &e, cond.lease_id != NULL);
	}
	if (bb->ra_on)
		ra_invalidate(&bb->ra, off, len);
	wr_leave(bb, taken);
	return r;
}

static int bb_sync(struct backing *b)
{
	struct blob_backing *bb = bb_of(b);
	int r;

	/* every Put Page was acknowledged before pwrite returned */
	pthread_mutex_lock(&bb->mu);
	r = bb->werr;
	bb->werr = 0;
	pthread_mutex_unlock(&bb->mu);
	return r;
}

/* The blob's properties now; the length seen is remembered. */
static int bb_props(struct blob_backing *bb, struct azb_props *p)
{
	struct azb_err e = { 0, "" };
	int r;

	r = azb_props(bb->s->c, bb->blob, p, &e);
	if (r < 0)
		return noted(bb, r, &e);
	pthread_mutex_lock(&bb->mu);
	bb->size = p->length;
	pthread_mutex_unlock(&bb->mu);
	return 0;
}

static int bb_get_size(struct backing *b, uint64_t *len)
{
	struct azb_props p;
	int r = bb_props(bb_of(b), &p);

	if (r == 0)
		*len = p.length;
	return r;
}

static int bb_set_size(struct backing *b, uint64_t len)
{
	struct blob_backing *bb = bb_of(b);
	struct azb_err e = { 0, "" };
	struct azb_cond cond;
	int r, taken, owner;

	if (len % AZB_PAGE)
		return -EINVAL;
	if (bb->rdonly)
		return -EBADF;
	taken = wr_enter(bb);
	owner = !taken;
	r = write_cond(bb, &cond, owner);
	if (r == 0) {
		pthread_mutex_lock(&bb->mu);
		r = azb_resize(bb->s->c, bb->blob, len, &cond, &e);
		if (r == 0)
			bb->size = len;
		pthread_mutex_unlock(&bb->mu);
		if (r == 0 && owner)
			r = refresh_etag(bb);
		if (r < 0)
			r = write_failed(bb, r, &e, cond.lease_id != NULL);
	}
	if (bb->ra_on)
		ra_invalidate(&bb->ra, 0, UINT64_MAX);
	wr_leave(bb, taken);
	return r;
}

/* A random (version 4) UUID, as lease ids are. */
static void new_lease_id(char out[AZB_LEASE_ID_MAX])
{
	unsigned char u[16];

	randombytes_buf(u, sizeof(u));
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, AZB_LEASE_ID_MAX, "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
		 u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

/*
 * Acquire the lease and have it renewed.  @wait_ms: how long to wait for
 * another party's lease to go.  Return: 0, -EBUSY, the client's errors.
 */
static int lease_take(struct blob_backing *bb, unsigned int wait_ms)
{
	uint64_t until = now_ms() + wait_ms;
	struct azb_err e = { 0, "" };
	char id[AZB_LEASE_ID_MAX], mine[AZB_LEASE_ID_MAX];
	int r;

	/* our own id: an acquire retried after one that landed succeeds */
	new_lease_id(mine);
	for (;;) {
		r = azb_lease_acquire(bb->s->c, bb->blob, bb->s->lease_seconds,
				      mine, id, &e);
		if (r != -EBUSY || now_ms() + HDR_POLL_MS > until)
			break;
		sleep_ms(HDR_POLL_MS);
	}
	if (r < 0)
		return noted(bb, r, &e);
	memcpy(bb->lease.id, id, sizeof(id));
	bb->lease.seconds = bb->s->lease_seconds;
	r = renew_add(&bb->lease);
	if (r < 0) {
		azb_lease_release(bb->s->c, bb->blob, id, NULL);
		return r;
	}
	pthread_mutex_lock(&bb->mu);
	bb->lease_on = 1;
	bb->lease_lost = 0;
	pthread_mutex_unlock(&bb->mu);
	return 0;
}

/* Stop renewing the lease and release it (unless lost). */
static void lease_drop(struct blob_backing *bb)
{
	int lost;

	renew_del(&bb->lease);
	pthread_mutex_lock(&bb->mu);
	lost = bb->lease_lost;
	bb->lease_on = 0;
	bb->lease_inuse = 0;
	pthread_mutex_unlock(&bb->mu);
	if (!lost)
		azb_lease_release(bb->s->c, bb->blob, bb->lease.id, NULL);
}

static int bb_hdr_lock(struct backing *b)
{
	struct blob_backing *bb = bb_of(b);
	int r = 0, on, lost;

	if (bb->rdonly)
		return -EBADF;
	pthread_rwlock_wrlock(&bb->wr);
	pthread_mutex_lock(&bb->mu);
	on = bb->lease_on;
	lost = bb->lease_lost;
	pthread_mutex_unlock(&bb->mu);
	if (lost)
		r = -EIO;
	else if (!on)
		r = lease_take(bb, HDR_WAIT_MS);
	if (r == 0) {
		r = refresh_etag(bb);
		if (r < 0 && !on)
			lease_drop(bb);
	}
	if (r < 0) {
		pthread_rwlock_unlock(&bb->wr);
		return r;
	}
	bb->hdr_owner = pthread_self();
	__atomic_store_n(&bb->hdr_held, 1, __ATOMIC_RELEASE);
	return 0;
}

static void bb_hdr_unlock(struct backing *b)
{
	struct blob_backing *bb = bb_of(b);
	int drop;

	__atomic_store_n(&bb->hdr_held, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&bb->mu);
	drop = bb->lease_on && !bb->lease_inuse;
	pthread_mutex_unlock(&bb->mu);
	if (drop)
		lease_drop(bb);
	pthread_rwlock_unlock(&bb->wr);
}

static int bb_hold_inuse(struct backing *b)
{
	struct blob_backing *bb = bb_of(b);
	int r = 0, on, taken;

	if (bb->rdonly)
		return -EBADF;
	/* not while hdr_lock takes a lease of its own */
	taken = !hdr_owner(bb);
	if (taken)
		pthread_rwlock_wrlock(&bb->wr);
	pthread_mutex_lock(&bb->mu);
	on = bb->lease_on;
	if (on && bb->lease_lost)
		r = -EIO;
	else if (on)
		bb->lease_inuse = 1;	/* hdr_lock's lease: keep it */
	pthread_mutex_unlock(&bb->mu);
	if (!on) {
		r = lease_take(bb, 0);
		if (r == 0) {
			pthread_mutex_lock(&bb->mu);
			bb->lease_inuse = 1;
			pthread_mutex_unlock(&bb->mu);
		}
	}
	if (taken)
		pthread_rwlock_unlock(&bb->wr);
	return r;
}

static int bb_inuse(struct backing *b)
{
	struct blob_backing *bb = bb_of(b);
	struct azb_err e = { 0, "" };
	struct azb_props p;
	int r, ours;

	r = azb_props(bb->s->c, bb->blob, &p, &e);
	if (r < 0)
		return noted(bb, r, &e);
	pthread_mutex_lock(&bb->mu);
	ours = bb->lease_on && !bb->lease_lost;
	pthread_mutex_unlock(&bb->mu);
	return !ours && (p.lease == AZB_LEASE_LEASED ||
			 p.lease == AZB_LEASE_BREAKING);
}

/* FNV-1a, 64 bits: enough to tell ETags apart. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static int bb_fingerprint(struct backing *b, struct backing_fp *fp)
{
	struct azb_props p;
	int r = bb_props(bb_of(b), &p);

	if (r < 0)
		return r;
	memset(fp, 0, sizeof(*fp));
	fp->a = fnv1a(p.etag);
	fp->b = fnv1a(b->name);
	fp->size = p.length;
	fp->mtime_ns = (uint64_t)p.last_modified * 1000000000ull;
	return 0;
}

static int bb_ranges(struct backing *b, uint64_t off, uint64_t len,
		     int (*fn)(void *arg, uint64_t off, uint64_t len),
		     void *arg)
{
	struct blob_backing *bb = bb_of(b);
	struct azb_err er = { 0, "" };
	struct azb_range *v = NULL;
	uint64_t size, s = 0, e = 0, end;
	size_t n = 0, i;
	int r, have = 0;

	if (off + len < off)
		return -EINVAL;
	pthread_mutex_lock(&bb->mu);
	size = bb->size;
	pthread_mutex_unlock(&bb->mu);
	if (off >= size || !len)
		return 0;
	if (len > size - off)
		len = size - off;
	end = off + len;
	r = azb_page_ranges(bb->s->c, bb->blob, off, len, &v, &n, &er);
	if (r < 0)
		return noted(bb, r, &er);
	/* clipped to [off, end), neighbours merged */
	for (i = 0; i < n && r == 0; i++) {
		uint64_t a, z;

		if (v[i].clear)
			continue;
		a = v[i].start < off ? off : v[i].start;
		z = v[i].end + 1 > end ? end : v[i].end + 1;
		if (a >= z)
			continue;
		if (have && a == e) {
			e = z;
			continue;
		}
		if (have)
			r = fn(arg, s, e - s);
		s = a;
		e = z;
		have = 1;
	}
	if (r == 0 && have)
		r = fn(arg, s, e - s);
	free(v);
	return r;
}

static void store_put(struct blob_store *s);

static void bb_close(struct backing *b)
{
	struct blob_backing *bb = bb_of(b);
	int on;

	if (!bb)
		return;
	pthread_mutex_lock(&bb->mu);
	on = bb->lease_on;
	pthread_mutex_unlock(&bb->mu);
	if (on)
		lease_drop(bb);
	if (bb->ra_on)
		ra_destroy(&bb->ra);
	pthread_rwlock_destroy(&bb->wr);
	pthread_mutex_destroy(&bb->mu);
	pthread_mutex_destroy(&bb->regain_mu);
	store_put(bb->s);
	free(bb->blob);
	free(bb->b.name);
	free(bb);
}

static const struct backing_ops blob_ops = {
	.kind = "blob",
	.pread = bb_pread,
	.pwrite = bb_pwrite,
	.punch = bb_punch,
	.sync = bb_sync,
	.get_size = bb_get_size,
	.set_size = bb_set_size,
	.hdr_lock = bb_hdr_lock,
	.hdr_unlock = bb_hdr_unlock,
	.hold_inuse = bb_hold_inuse,
	.inuse = bb_inuse,
	.fingerprint = bb_fingerprint,
	.ranges = bb_ranges,
	.close = bb_close,
};

int blob_is_url(const char *s)
{
	return !strncasecmp(s, "https://", 8) || !strncasecmp(s, "http://", 7);
}

int blob_url_split(const char *url, char *store, size_t store_size,
		   char *name, size_t name_size)
{
	const char *slash;
	size_t len = strlen(url);

	while (len && url[len - 1] == '/')
		len--;
	slash = memrchr(url, '/', len);
	if (!blob_is_url(url) || !slash || slash == url + len - 1 ||
	    slash[-1] == '/')
		return -EINVAL;
	if ((size_t)(slash - url) >= store_size ||
	    (size_t)(url + len - slash - 1) >= name_size)
		return -ENAMETOOLONG;
	memcpy(store, url, slash - url);
	store[slash - url] = '\0';
	memcpy(name, slash + 1, url + len - slash - 1);
	name[url + len - slash - 1] = '\0';
	return 0;
}

static void store_put(struct blob_store *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	azb_close(s->c);
	free(s->url);
	free(s);
}

/* Why azb_open() refused @url, as one line. */
static void say_open(char *msg, size_t len, const char *url, int r,
		     const char *source, const struct blob_store_opts *o)
{
	struct stat st;

	switch (r) {
	case -EINVAL:
		if (strchr(url, '?'))
			say(msg, len, url, "a URL takes no query: give a SAS "
			    "in AZURE_STORAGE_SAS_TOKEN or a credentials "
			    "file, never in the URL");
		else if (!strcmp(source, "") ||
			 !strcmp(source, "the environment"))
			say(msg, len, url, "not a container URL (https://"
			    "ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX] "
			    "or http(s)://HOST:PORT/ACCOUNT/CONTAINER"
			    "[/PREFIX])");
		else
			say(msg, len, url, "malformed credentials in %s",
			    source);
		break;
	case -ENOKEY:
		say(msg, len, url, "no credentials: set AZURE_STORAGE_SAS_TOKEN,"
		    " AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT "
		    "and AZURE_STORAGE_KEY, or credentials=FILE");
		break;
	case -EPERM:
		if (o && o->credentials_file &&
		    lstat(o->credentials_file, &st) == 0)
			say(msg, len, url, "credentials file %s: mode %04o, "
			    "owner %u: it must be a regular file of mode 0600 "
			    "owned by you or root", o->credentials_file,
			    (unsigned int)(st.st_mode & 07777),
			    (unsigned int)st.st_uid);
		else
			say(msg, len, url, "credentials file refused: it must "
			    "be a regular file of mode 0600 owned by you or "
			    "root");
		break;
	case -EXDEV:
		say(msg, len, url, "%s names another account or endpoint than "
		    "the URL", source);
		break;
	case -EPROTO:
		say(msg, len, url, "plain http to a host that is not loopback "
		    "would send credentials in the clear (use https, or "
		    "allow_http)");
		break;
	case -ENOENT:
		say(msg, len, url, "credentials file %s: %s",
		    o && o->credentials_file ? o->credentials_file : "",
		    strerror(-r));
		break;
	default:
		say(msg, len, url, "%s", strerror(-r));
	}
}

int blob_store_open(struct blob_store **out, const char *url,
		    const struct blob_store_opts *o, char *msg, size_t msglen)
{
	struct azb_opts ao = { 0 };
	struct blob_store *s;
	struct azb_url *u;
	char detail[128] = "";
	size_t len;
	int r;

	if (o && o->lease_seconds &&
	    (o->lease_seconds < BLOB_LEASE_MIN ||
	     o->lease_seconds > BLOB_LEASE_DEFAULT))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	u = malloc(sizeof(*u));
	if (!s || !u) {
		free(s);
		free(u);
		return -ENOMEM;
	}
	s->refs = 1;
	s->lease_seconds = o && o->lease_seconds ? o->lease_seconds :
		BLOB_LEASE_DEFAULT;
	if (o) {
		s->notice = o->notice;
		s->notice_arg = o->notice_arg;
		ao.timeout_ms = o->timeout_ms;
		ao.allow_http = o->allow_http;
		ao.credentials_file = o->credentials_file;
		ao.ca_file = o->ca_file;
	}
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	s->url = strndup(url, len);
	if (!s->url) {
		r = -ENOMEM;
		goto fail;
	}
	/* the URL first, so that its faults are told from the creds' */
	r = azb_url_parse(u, s->url);
	if (r == 0)
		r = azb_open(&s->c, s->url, &ao, detail, sizeof(detail));
	if (r < 0) {
		say_open(msg, msglen, s->url, r, detail, o);
		goto fail;
	}
	free(u);
	*out = s;
	return 0;
fail:
	free(u);
	free(s->url);
	free(s);
	return r;
}

void blob_store_close(struct blob_store *s)
{
	store_put(s);
}

const char *blob_store_url(const struct blob_store *s)
{
	return s->url;
}

void blob_store_stats(struct blob_store *s, struct azb_stats *st)
{
	azb_get_stats(s->c, st);
}

struct list_ctx {
	int (*fn)(void *arg, const struct blob_entry *e);
	void *arg;
};

static int list_one(const struct azb_blob_info *b, void *arg)
{
	struct list_ctx *lc = arg;
	struct blob_entry e;
	size_t n = strlen(b->name);

	if (!b->page_blob || strchr(b->name, '/') || n <= 4 ||
	    strcmp(b->name + n - 4, ".vhd"))
		return 0;
	e.name = b->name;
	e.size = b->length;
	e.leased = b->lease == AZB_LEASE_LEASED ||
		   b->lease == AZB_LEASE_BREAKING;
	return lc->fn(lc->arg, &e);
}

int blob_store_list(struct blob_store *s,
		    int (*fn)(void *arg, const struct blob_entry *e),
		    void *arg, char *msg, size_t msglen)
{
	struct list_ctx lc = { fn, arg };
	struct azb_err e = { 0, "" };
	int r;

	r = azb_list(s->c, NULL, list_one, &lc, &e);
	if (r < 0 && (e.http || e.code[0]))
		say_err(msg, msglen, s, s->url, r, &e);
	else if (r < 0)
		say(msg, msglen, s->url, "%s", strerror(-r));
	return r;
}

/* A backing for @name, not yet checked against the service. */
static int bb_new(struct blob_backing **out, struct blob_store *s,
		  const char *name, int flags)
{
	struct blob_backing *bb;

	if (!*name || strlen(name) >= AZB_NAME_MAX)
		return -EINVAL;
	bb = calloc(1, sizeof(*bb));
	if (!bb)
		return -ENOMEM;
	bb->blob = strdup(name);
	if (!bb->blob || asprintf(&bb->b.name, "%s/%s", s->url, name) < 0) {
		free(bb->blob);
		free(bb);
		return -ENOMEM;
	}
	bb->b.ops = &blob_ops;
	bb->s = s;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	bb->rdonly = !!(flags & BLOB_RDONLY);
	pthread_rwlock_init(&bb->wr, NULL);
	pthread_mutex_init(&bb->mu, NULL);
	pthread_mutex_init(&bb->regain_mu, NULL);
	bb->lease.c = s->c;
	bb->lease.blob = bb->blob;
	bb->lease.on_lost = on_lost;
	bb->ra_on = ra_init(&bb->ra, ra_fetch, bb) == 0;
	*out = bb;
	return 0;
}

int blob_backing_open(struct backing **out, struct blob_store *s,
		      const char *name, int flags, char *msg, size_t msglen)
{
	struct blob_backing *bb;
	struct azb_err e = { 0, "" };
	struct azb_props p;
	int r;

	r = bb_new(&bb, s, name, flags);
	if (r < 0) {
		say(msg, msglen, name, "%s", strerror(-r));
		return r;
	}
	r = azb_props(s->c, name, &p, &e);
	if (r == -ENOENT) {
		say(msg, msglen, bb->b.name, "no such disk (%s)",
		    e.code[0] ? e.code : "HTTP 404");
	} else if (r < 0) {
		say_err(msg, msglen, s, bb->b.name, r, &e);
	} else if (!p.page_blob) {
		r = -EMEDIUMTYPE;
		say(msg, msglen, bb->b.name, "not a page blob: a disk in a "
		    "blob store is a page blob");
	}
	if (r < 0) {
		bb_close(&bb->b);
		return r;
	}
	bb->size = p.length;
	*out = &bb->b;
	return 0;
}

int blob_backing_create(struct backing **out, struct blob_store *s,
			const char *name, uint64_t size, char *msg,
			size_t msglen)
{
	struct blob_backing *bb;
	struct azb_err e = { 0, "" };
	int r;

	if (size % AZB_PAGE) {
		say(msg, msglen, name, "size %llu is not a multiple of 512",
		    (unsigned long long)size);
		return -EINVAL;
	}
	r = bb_new(&bb, s, name, 0);
	if (r < 0) {
		say(msg, msglen, name, "%s", strerror(-r));
		return r;
	}
	r = azb_create(s->c, name, size, 1, NULL, &e);
	if (r == -EEXIST)
		say(msg, msglen, bb->b.name, "already exists");
	else if (r == -ENOENT)
		say(msg, msglen, bb->b.name, "no container %s in account %s "
		    "(%s)", azb_container(s->c), azb_account(s->c), e.code);
	else if (r < 0)
		say_err(msg, msglen, s, bb->b.name, r, &e);
	if (r < 0) {
		bb_close(&bb->b);
		return r;
	}
	bb->size = size;
	*out = &bb->b;
	return 0;
}

int blob_delete(struct blob_store *s, const char *name, char *msg,
		size_t msglen)
{
	struct azb_err e = { 0, "" };
	char *what = NULL;
	int r;

	r = azb_delete(s->c, name, NULL, &e);
	if (r < 0) {
		if (asprintf(&what, "%s/%s", s->url, name) < 0)
			what = NULL;
		if (r == -ENOENT)
			say(msg, msglen, what ? what : name, "no such disk");
		else
			say_err(msg, msglen, s, what ? what : name, r, &e);
		free(what);
	}
	return r;
}

void blob_backing_why(struct backing *b, int r, char *msg, size_t msglen)
{
	struct blob_backing *bb;
	struct azb_err e;
	int lost;

	if (strcmp(b->ops->kind, blob_ops.kind)) {
		say(msg, msglen, b->name, "%s", strerror(-r));
		return;
	}
	bb = bb_of(b);
	pthread_mutex_lock(&bb->mu);
	e = bb->last;
	lost = bb->lease_lost;
	pthread_mutex_unlock(&bb->mu);
	if (r == -EBADF)
		say(msg, msglen, b->name, "opened read-only");
	else if (r == -EIO && lost)
		say(msg, msglen, b->name, "its lease was lost: another host "
		    "may have taken the disk over");
	else if (r == -EBUSY && !e.http && !e.code[0])
		say(msg, msglen, b->name, "in use: another host holds its "
		    "lease");
	else if (e.http || e.code[0])
		say_err(msg, msglen, bb->s, b->name, r, &e);
	else
		say(msg, msglen, b->name, "%s", strerror(-r));
}

struct blob_store *blob_backing_store(struct backing *b)
{
	return b->ops == &blob_ops ? bb_of(b)->s : NULL;
}
