/*
 * volume.c - an open encrypted disk: plaintext I/O at any offset
 *
 * Locks, outermost first:
 *   keys    (rwlock) every I/O holds it shared; vol_drop_keys() and
 *           vol_reload_keys() take it exclusive, so no I/O runs on wiped
 *           keys;
 *   stripes (mutexes) a write or discard holds the stripes of its sectors
 *           (sector % VOL_STRIPES, taken in ascending stripe order) for its
 *           whole read-modify-write, so two writers in one sector never lose
 *           each other's bytes; reads take none;
 *   meta    (mutex) the in-memory header and size;
 *   the header lock (OFD, disk/header.c) only while persisting.
 * Cipher contexts come from a per-volume pool (xts_dup of the keyed
 * prototypes), one set per I/O call, so threads never share one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/hcache.h"
#include "crypto/envelope.h"
#include "crypto/hkdf.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "crypto/xts.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/offsets.h"
#include "disk/vhd.h"
#include "disk/volume.h"
#include "util/beneath.h"
#include "util/io.h"

#define VOL_STRIPES	256
#define NO_BIND		UINT64_MAX
#define VOL_CHUNK	(1u << 20)	/* bytes per bounce buffer */

struct cipher_set {
	struct cipher_set *next;
	struct xts_ctx *x[ENV_MAX_LAYERS];
};

struct volume {
	int fd;
	char *name;
	int rdonly;
	struct keyops ops;
	uint32_t ss;			/* sector size */
	unsigned int nlayers;

	pthread_rwlock_t keys;
	int have_keys;
	struct secbuf *dek[ENV_MAX_LAYERS];
	struct xts_ctx *proto[ENV_MAX_LAYERS];
	pthread_mutex_t pool_lock;
	struct cipher_set *pool;

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

	/* the host cache (vol_attach_cache()), or NULL */
	struct hc_disk *hcd;
	int hc_rw;			/* ReadWrite: writes stay in it */
	int hc_plain;			/* it holds plaintext */
};

/* --- keys and cipher contexts ---------------------------------------- */

static void free_set(struct cipher_set *s)
{
	for (unsigned int i = 0; i < ENV_MAX_LAYERS; i++)
		xts_free(s->x[i]);
	free(s);
}

/* Wipe everything keyed; caller holds keys exclusive (or is the only user). */
static void wipe_keys(struct volume *vol)
{
	struct cipher_set *s;

	while ((s = vol->pool)) {
		vol->pool = s->next;
		free_set(s);
	}
	for (unsigned int i = 0; i < ENV_MAX_LAYERS; i++) {
		xts_free(vol->proto[i]);
		vol->proto[i] = NULL;
		secbuf_free(vol->dek[i]);
		vol->dek[i] = NULL;
	}
	vol->have_keys = 0;
}

static enum xts_cipher xts_of(uint8_t cipher)
{
	return cipher == ENV_CIPHER_CAMELLIA256_XTS ? XTS_CAMELLIA256 :
						      XTS_AES256;
}

/*
 * Unwrap @h's DEKs, check the MAC, key the prototypes.  Caller holds keys
 * exclusive.  Nothing is kept on failure.
 */
static int load_keys(struct volume *vol, const struct env_header *h)
{
	int r = 0;

	for (unsigned int i = 0; i < h->nlayers && r == 0; i++)
		r = vol->ops.unwrap(vol->ops.ctx, &h->layer[i], &vol->dek[i]);
	if (r == 0)
		r = env_verify_mac(h, vol->dek);
	for (unsigned int i = 0; i < h->nlayers && r == 0; i++)
		r = xts_new(&vol->proto[i], xts_of(h->layer[i].cipher),
			    vol->dek[i], h->sector_size);
	if (r < 0) {
		wipe_keys(vol);
		return r;
	}
	vol->have_keys = 1;
	return 0;
}

static struct cipher_set *get_set(struct volume *vol)
{
	struct cipher_set *s;

	pthread_mutex_lock(&vol->pool_lock);
	s = vol->pool;
	if (s)
		vol->pool = s->next;
	pthread_mutex_unlock(&vol->pool_lock);
	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (unsigned int i = 0; i < vol->nlayers; i++) {
		if (xts_dup(&s->x[i], vol->proto[i]) < 0) {
			free_set(s);
			return NULL;
		}
	}
	return s;
}

static void put_set(struct volume *vol, struct cipher_set *s)
{
	pthread_mutex_lock(&vol->pool_lock);
	s->next = vol->pool;
	vol->pool = s;
	pthread_mutex_unlock(&vol->pool_lock);
}

/* Encrypt @n sectors at @buf, the first being @sector: inner layer first. */
static int encrypt_run(struct volume *vol, struct cipher_set *s,
		       uint64_t sector, uint8_t *buf, size_t n)
{
	int r = 0;

	for (int i = (int)vol->nlayers - 1; i >= 0 && r == 0; i--)
		r = xts_encrypt(s->x[i], sector, buf, n * vol->ss);
	return r;
}

/* The same, out of place: @src (plaintext) is not touched, @dst gets the
 * ciphertext; no copy of the plaintext into a bounce buffer first. */
static int encrypt_run_to(struct volume *vol, struct cipher_set *s,
			  uint64_t sector, uint8_t *dst, const uint8_t *src,
			  size_t n)
{
	int i = (int)vol->nlayers - 1;
	int r;

	r = xts_encrypt_to(s->x[i], sector, dst, src, n * vol->ss);
	for (i--; i >= 0 && r == 0; i--)
		r = xts_encrypt(s->x[i], sector, dst, n * vol->ss);
	return r;
}

static int decrypt_run(struct volume *vol, struct cipher_set *s,
		       uint64_t sector, uint8_t *buf, size_t n)
{
	int r = 0;

	for (unsigned int i = 0; i < vol->nlayers && r == 0; i++)
		r = xts_decrypt(s->x[i], sector, buf, n * vol->ss);
	return r;
}

/* @p may be unaligned (vol_read() decrypts in the caller's buffer). */
static int is_zero(const uint8_t *p, size_t n)
{
	uint64_t acc = 0, w;

	for (size_t i = 0; i + sizeof(w) <= n; i += sizeof(w)) {
		memcpy(&w, p + i, sizeof(w));
		acc |= w;
	}
	return acc == 0;
}

/* Read sectors [@i, @j) of a run from the store; zeros past its end. */
static int pread_sectors(struct volume *vol, uint64_t sector, uint8_t *buf,
			 size_t i, size_t j)
{
	size_t bytes = (j - i) * vol->ss;
	ssize_t got;

	got = io_pread_all(vol->fd, buf + i * vol->ss, bytes,
			   (off_t)off_backing(sector + i, vol->ss));
	if (got < 0)
		return (int)got;
	if ((size_t)got < bytes)
		memset(buf + i * vol->ss + got, 0, bytes - (size_t)got);
	return 0;
}

/*
 * read_sectors() through the host cache: hits come from it, misses from
 * the store, and what the store gave is offered to the cache (ciphertext,
 * or with encryption at host off plaintext).  Zero sectors are not cached.
 */
static int read_sectors_cached(struct volume *vol, struct cipher_set *s,
			       uint64_t sector, uint8_t *buf, size_t n)
{
	enum { MISS, HIT_CIPHER, HIT_PLAIN };
	uint8_t st[VOL_CHUNK / 512];
	uint64_t token = hc_token(vol->hcd);
	size_t i, j;
	int r = 0;

	for (i = 0; i < n; i++) {
		int plain = 0;

		st[i] = hc_read(vol->hcd, sector + i, buf + i * vol->ss,
				&plain) == 1 ? (plain ? HIT_PLAIN : HIT_CIPHER) :
					       MISS;
	}
	for (i = 0; i < n && r == 0; i = j) {
		for (j = i; j < n && st[j] == MISS; j++)
			;
		if (j > i)
			r = pread_sectors(vol, sector, buf, i, j);
		else
			j++;
	}
	for (i = 0; i < n && r == 0; i++) {
		uint8_t *p = buf + i * vol->ss;

		if (st[i] == HIT_PLAIN || is_zero(p, vol->ss))
			continue;
		if (st[i] == MISS && !vol->hc_plain)
			hc_fill(vol->hcd, sector + i, p, 0, token);
		r = decrypt_run(vol, s, sector + i, p, 1);
		if (r == 0 && st[i] == MISS && vol->hc_plain)
			hc_fill(vol->hcd, sector + i, p, 1, token);
	}
	return r;
}

/*
 * Read @n backing sectors from @sector into @buf and decrypt them; holes,
 * all-zero sectors and sectors past the end of the file read as zeros.
 */
static int read_sectors(struct volume *vol, struct cipher_set *s,
			uint64_t sector, uint8_t *buf, size_t n)
{
	size_t i = 0;
	int r;

	if (vol->hcd)
		return read_sectors_cached(vol, s, sector, buf, n);

	r = pread_sectors(vol, sector, buf, 0, n);
	if (r < 0)
		return r;
	while (i < n) {
		size_t j = i;

		if (is_zero(buf + i * vol->ss, vol->ss)) {
			i++;
			continue;
		}
		while (j < n && !is_zero(buf + j * vol->ss, vol->ss))
			j++;
		r = decrypt_run(vol, s, sector + i, buf + i * vol->ss, j - i);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

/* --- stripes ------------------------------------------------------------ */

static void stripes(struct volume *vol, uint64_t first, uint64_t last,
		    int lock)
{
	uint64_t n = last - first + 1;
	unsigned int a, b;

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
	struct cipher_set *s = NULL;
	uint64_t size, end;
	size_t done = 0;
	int r = 0;

	pthread_rwlock_rdlock(&vol->keys);
	if (!vol->have_keys) {
		r = -EKEYREVOKED;
		goto out;
	}
	size = load_size(vol);
	if (off >= size || len == 0)
		goto out;
	end = off + len > size || off + len < off ? size : off + len;
	s = get_set(vol);
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	/*
	 * Whole sectors are read and decrypted in the caller's buffer; only
	 * a partly wanted first or last sector goes through a one-sector
	 * bounce buffer.  (A 1 MiB read no longer copies and wipes 1 MiB.)
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
			r = read_sectors(vol, s, sec, out + done, n);
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
		r = read_sectors(vol, s, sec, buf, 1);
		if (r < 0)
			break;
		take = vol->ss - (size_t)in;
		if (take > want)
			take = (size_t)want;
		memcpy(out + done, buf + in, take);
		done += take;
	}
out:
	if (s)
		put_set(vol, s);
	pthread_rwlock_unlock(&vol->keys);
	if (buf) {
		secmem_wipe(buf, vol->ss);
		free(buf);
	}
	return r < 0 && done == 0 ? r : (ssize_t)done;
}

static int pwrite_sectors(struct volume *vol, uint64_t sector,
			  const uint8_t *buf, size_t n)
{
	return io_pwrite_all(vol->fd, buf, n * vol->ss,
			     (off_t)off_backing(sector, vol->ss));
}

/*
 * store_run() with a ReadWrite host cache: every sector goes to the cache
 * (ciphertext, or plaintext with encryption at host off) and is written
 * back later; one the cache cannot take (no room, or its file system is
 * full) goes to the store at once, and the write is acknowledged only
 * once the store has it and no older cached copy can come back over it.
 */
static int store_run_rw(struct volume *vol, struct cipher_set *s,
			uint64_t sec, uint8_t *buf, size_t n)
{
	int r = 0, c;

	if (!vol->hc_plain)
		r = encrypt_run(vol, s, sec, buf, n);
	for (size_t i = 0; i < n && r == 0; i++) {
		uint8_t *p = buf + i * vol->ss;

		c = hc_write_dirty(vol->hcd, sec + i, p, vol->hc_plain);
		if (c < 0)
			return c;
		if (c == 1)
			continue;
		if (vol->hc_plain)
			r = encrypt_run(vol, s, sec + i, p, 1);
		if (r == 0)
			r = pwrite_sectors(vol, sec + i, p, 1);
		if (r == 0)
			r = hc_wrote_through(vol->hcd, sec + i);
		else
			hc_drop(vol->hcd, sec + i, sec + i);
	}
	return r;
}

/*
 * Encrypt the plaintext run @buf of @n sectors from @sec (in place) and
 * write it: to the store; with a ReadOnly host cache, the store first and
 * then the cached copies; with a ReadWrite one, to the cache.
 */
static int store_run(struct volume *vol, struct cipher_set *s, uint64_t sec,
		     uint8_t *buf, size_t n)
{
	uint8_t *plain = NULL;
	int r;

	if (vol->hcd && vol->hc_rw)
		return store_run_rw(vol, s, sec, buf, n);
	if (vol->hcd && vol->hc_plain) {
		plain = malloc(n * vol->ss);
		if (!plain)
			return -ENOMEM;
		memcpy(plain, buf, n * vol->ss);
	}
	r = encrypt_run(vol, s, sec, buf, n);
	if (r == 0)
		r = pwrite_sectors(vol, sec, buf, n);
	if (vol->hcd) {
		const uint8_t *c = plain ? plain : buf;

		for (size_t i = 0; i < n; i++) {
			if (r == 0)
				hc_wrote(vol->hcd, sec + i, c + i * vol->ss,
					 plain != NULL);
			else
				hc_drop(vol->hcd, sec + i, sec + i);
		}
	}
	if (plain) {
		secmem_wipe(plain, n * vol->ss);
		free(plain);
	}
	return r;
}

/*
 * Write @len bytes of @src (NULL: zeros) at @off; keys held shared and the
 * stripes of the range held by the caller.
 */
static int write_range(struct volume *vol, struct cipher_set *s,
		       const uint8_t *src, size_t len, uint64_t off,
		       uint8_t *buf, size_t bufsz, int *staged)
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
		if (src && in == 0 && take == n * vol->ss && !vol->hcd) {
			/* whole sectors, no host cache: encrypt straight
			 * from the caller's buffer; @buf only ever holds
			 * ciphertext */
			r = encrypt_run_to(vol, s, sec, buf, src + done, n);
			if (r == 0)
				r = pwrite_sectors(vol, sec, buf, n);
			if (r < 0 && staged)
				*staged = 1;
			done += take;
			continue;
		}
		if (staged)
			*staged = 1;
		/* the partly covered first and last sectors keep their
		 * other bytes: read-modify-write */
		if (in)
			r = read_sectors(vol, s, sec, buf, 1);
		if (r == 0 && (in + take) % vol->ss &&
		    (n > 1 || in == 0))
			r = read_sectors(vol, s, sec + n - 1,
					 buf + (n - 1) * vol->ss, 1);
		if (r < 0)
			break;
		if (src)
			memcpy(buf + in, src + done, take);
		else
			memset(buf + in, 0, take);
		r = store_run(vol, s, sec, buf, n);
		done += take;
	}
	return r;
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
	if (!vol->have_keys)
		return -EKEYREVOKED;
	if (vol->rdonly)
		return -EROFS;
	return 0;
}

ssize_t vol_write(struct volume *vol, const void *src, size_t len,
		  uint64_t off)
{
	struct cipher_set *s = NULL;
	uint8_t *buf = NULL;
	size_t bufsz = 0;
	int staged = 0;
	int r;

	if (len == 0)
		return 0;
	if (off + len < off || off + len > VOL_MAX_SIZE)
		return -EFBIG;
	r = begin_write(vol);
	if (r == 0 && hits_bound(vol, off / vol->ss, (off + len - 1) / vol->ss))
		r = unbind(vol);
	if (r < 0)
		goto out;
	bufsz = bounce_size(vol, off, len);
	buf = malloc(bufsz);
	s = get_set(vol);
	if (!buf || !s) {
		r = -ENOMEM;
		goto out;
	}
	stripes(vol, off / vol->ss, (off + len - 1) / vol->ss, 1);
	r = write_range(vol, s, src, len, off, buf, bufsz, &staged);
	stripes(vol, off / vol->ss, (off + len - 1) / vol->ss, 0);
	if (r == 0)
		grow_size(vol, off + len);
out:
	if (s)
		put_set(vol, s);
	pthread_rwlock_unlock(&vol->keys);
	if (buf) {
		/* only ciphertext in it unless plaintext was staged */
		if (staged || r < 0)
			secmem_wipe(buf, bufsz);
		free(buf);
	}
	return r < 0 ? r : (ssize_t)len;
}

int vol_discard(struct volume *vol, uint64_t off, uint64_t len)
{
	struct cipher_set *s = NULL;
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
	buf = malloc(VOL_CHUNK);
	s = get_set(vol);
	if (!buf || !s) {
		r = -ENOMEM;
		goto out;
	}
	/* whole sectors become holes; partial ends are written as zeros */
	a = (off + vol->ss - 1) / vol->ss;
	b = end / vol->ss;
	stripes(vol, off / vol->ss, (end - 1) / vol->ss, 1);
	if (a < b) {
		if (fallocate(vol->fd, FALLOC_FL_PUNCH_HOLE |
			      FALLOC_FL_KEEP_SIZE,
			      (off_t)off_backing(a, vol->ss),
			      (off_t)((b - a) * vol->ss)) < 0)
			r = -errno;
		/* the cached copies and dirty sectors go too: nothing may
		 * be written back over the hole; but if the store kept its
		 * bytes, so does the cache (its dirty sectors are newer) */
		if (vol->hcd && r == 0)
			hc_drop(vol->hcd, a, b - 1);
		if (r == 0 && off < a * vol->ss)
			r = write_range(vol, s, NULL,
					(size_t)(a * vol->ss - off), off, buf,
					VOL_CHUNK, NULL);
		if (r == 0 && end > b * vol->ss)
			r = write_range(vol, s, NULL,
					(size_t)(end - b * vol->ss),
					b * vol->ss, buf, VOL_CHUNK, NULL);
	} else {
		r = write_range(vol, s, NULL, (size_t)(end - off), off, buf,
				VOL_CHUNK, NULL);
	}
	stripes(vol, off / vol->ss, (end - 1) / vol->ss, 0);
out:
	if (s)
		put_set(vol, s);
	pthread_rwlock_unlock(&vol->keys);
	if (buf) {
		secmem_wipe(buf, VOL_CHUNK);
		free(buf);
	}
	return r;
}

int vol_truncate(struct volume *vol, uint64_t size)
{
	struct cipher_set *s = NULL;
	uint8_t *buf = NULL;
	uint64_t old;
	int r;

	if (size > VOL_MAX_SIZE)
		return -EFBIG;
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

		buf = malloc(vol->ss);
		s = get_set(vol);
		if (!buf || !s) {
			r = -ENOMEM;
		} else {
			stripes(vol, sec, sec, 1);
			r = write_range(vol, s, NULL,
					(size_t)(vol->ss - size % vol->ss),
					size, buf, vol->ss, NULL);
			stripes(vol, sec, sec, 0);
		}
	}
	/* with a host cache, no write-back may run past the new end; the
	 * cached copies go after the store shrank, so that a reader who
	 * read the store before cannot cache the old bytes again */
	if (vol->hcd && size < old)
		stripes(vol, 0, VOL_STRIPES, 1);
	if (r == 0 && ftruncate(vol->fd, (off_t)off_backing_len(size,
							       vol->ss)) < 0)
		r = -errno;
	if (r == 0 && vol->hcd && size < old)
		hc_drop(vol->hcd, (size + vol->ss - 1) / vol->ss, UINT64_MAX);
	if (vol->hcd && size < old)
		stripes(vol, 0, VOL_STRIPES, 0);
	if (r == 0 && size != old) {
		__atomic_store_n(&vol->size, size, __ATOMIC_RELEASE);
		vol->size_dirty = 1;
	}
	pthread_mutex_unlock(&vol->meta);
out:
	if (s)
		put_set(vol, s);
	pthread_rwlock_unlock(&vol->keys);
	if (buf) {
		secmem_wipe(buf, vol->ss);
		free(buf);
	}
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

	if (!vol->have_keys)
		return -EKEYREVOKED;
	r = hdr_lock(vol->fd);
	if (r < 0)
		return r;
	if (reread) {
		r = hdr_read(vol->fd, h, NULL);
		if (r == 0)
			r = env_verify_mac(h, vol->dek);
	}
	if (r == 0) {
		h->plain_size = vol->size;
		if (vol->bind_ok && vol->size == vol->bind_size)
			h->ro_compat |= ENV_RO_COMPAT_BOUND_FOOTER;
		else
			h->ro_compat &= ~ENV_RO_COMPAT_BOUND_FOOTER;
		r = env_compute_mac(h, vol->dek, h->mac);
	}
	if (r == 0)
		r = hdr_write(vol->fd, h);
	hdr_unlock(vol->fd);
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
	if (vol->size_dirty)
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

#define WB_RUN	64u		/* sectors written back per store write */

/*
 * Write back one run of consecutive dirty sectors @secs[0..@n) (@n <=
 * WB_RUN), with their stripes held: take each out of the cache (encrypting
 * plaintext ones, which needs the keys: @s), write what was taken in
 * consecutive pieces, and mark those clean.
 */
static int writeback_run(struct volume *vol, struct cipher_set *s,
			 const uint64_t *secs, size_t n, uint8_t *buf)
{
	uint8_t took[WB_RUN];
	size_t i, j;
	int r = 0;

	stripes(vol, secs[0], secs[n - 1], 1);
	for (i = 0; i < n; i++) {
		uint8_t *p = buf + i * vol->ss;
		int plain = 0, t;

		t = hc_take_dirty(vol->hcd, secs[i], p, &plain);
		took[i] = t == 1;
		if (t < 0 && r == 0)
			r = t;
		if (t == 1 && plain) {
			t = s ? encrypt_run(vol, s, secs[i], p, 1) :
				-EKEYREVOKED;
			if (t < 0) {
				took[i] = 0;
				if (r == 0)
					r = t;
			}
		}
	}
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && took[j]; j++)
			;
		if (j == i) {
			j++;
			continue;
		}
		if (pwrite_sectors(vol, secs[i], buf + i * vol->ss,
				   j - i) < 0) {
			r = r ? r : -EIO;
			continue;
		}
		for (size_t k = i; k < j; k++)
			hc_cleaned(vol->hcd, secs[k]);
	}
	stripes(vol, secs[0], secs[n - 1], 0);
	return r;
}

/*
 * Write the host cache's dirty sectors of this disk back to the store.
 * Ciphertext needs no key, so this works after a revocation too, but for
 * plaintext sectors (encryption at host off).  Caller holds keys shared.
 */
static int writeback(struct volume *vol)
{
	struct cipher_set *s = NULL;
	uint64_t *secs;
	uint8_t *buf;
	size_t n, i, j;
	int r, r2;

	r = hc_dirty_sectors(vol->hcd, &secs, &n);
	if (r < 0 || n == 0)
		return r;
	buf = malloc((size_t)WB_RUN * vol->ss);
	if (vol->have_keys)
		s = get_set(vol);
	if (!buf || (vol->have_keys && !s)) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && j - i < WB_RUN &&
			     secs[j] == secs[j - 1] + 1; j++)
			;
		r2 = writeback_run(vol, s, secs + i, j - i, buf);
		if (r2 < 0 && r == 0)
			r = r2;
	}
out:
	if (s)
		put_set(vol, s);
	if (buf) {
		secmem_wipe(buf, (size_t)WB_RUN * vol->ss);
		free(buf);
	}
	free(secs);
	return r;
}

/*
 * The barrier: the host cache's dirty sectors to the store, the size to
 * the header, the store to stable storage, and then the cache's table
 * entries cleared (they are in the store now).
 */
int vol_flush(struct volume *vol)
{
	int r = 0, r2;

	if (vol->rdonly)
		return 0;
	pthread_rwlock_rdlock(&vol->keys);
	if (vol->hcd)
		r = writeback(vol);
	r2 = persist_size(vol);
	pthread_rwlock_unlock(&vol->keys);
	if (r == 0)
		r = r2;
	if (fdatasync(vol->fd) < 0) {
		if (r == 0)
			r = -errno;
		return r;
	}
	if (vol->hcd) {
		r2 = hc_checkpoint(vol->hcd);
		if (r == 0)
			r = r2;
	}
	return r;
}

/* --- the host cache ----------------------------------------------------- */

static int cache_flush_cb(void *owner)
{
	return vol_flush(owner);
}

/* The disk's cache key, from its (outer) DEK.  Caller holds keys. */
static struct secbuf *cache_key(struct volume *vol)
{
	struct secbuf *k = secbuf_new(HC_KEY_BYTES);

	if (k && hkdf_sha256(secbuf_data(k), HC_KEY_BYTES,
			     secbuf_data(vol->dek[0]),
			     secbuf_len(vol->dek[0]), NULL, 0,
			     HKDF_INFO_CACHE, strlen(HKDF_INFO_CACHE)) < 0) {
		secbuf_free(k);
		k = NULL;
	}
	return k;
}

/* What the backing file looks like now, for the cache's reuse check. */
static int backing_fp(struct volume *vol, struct hc_fp *fp)
{
	struct stat st;

	if (fstat(vol->fd, &st) < 0)
		return -errno;
	memset(fp, 0, sizeof(*fp));
	fp->dev = (uint64_t)st.st_dev;
	fp->ino = (uint64_t)st.st_ino;
	fp->size = (uint64_t)st.st_size;
	fp->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u +
		       (uint64_t)st.st_mtim.tv_nsec;
	fp->ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000u +
		       (uint64_t)st.st_ctim.tv_nsec;
	return 0;
}

int vol_attach_cache(struct volume *vol, struct hcache *hc)
{
	struct secbuf *key = NULL;
	struct hc_fp fp;
	int r;

	pthread_rwlock_wrlock(&vol->keys);
	if (vol->hcd) {
		r = -EBUSY;
		goto out;
	}
	if (!vol->have_keys) {
		r = -EKEYREVOKED;
		goto out;
	}
	key = cache_key(vol);
	if (!key) {
		r = -ENOMEM;
		goto out;
	}
	vol->hc_rw = hc_mode(hc) == HC_READWRITE && !vol->rdonly;
	vol->hc_plain = hc_plain(hc);
	r = backing_fp(vol, &fp);
	if (r == 0)
		r = hc_attach(hc, vol->hdr.uuid, vol->ss, key, &fp,
			      cache_flush_cb, vol, &vol->hcd);
	/*
	 * Sectors a crash left dirty past the disk's end (cut off by a
	 * shrink whose size reached the header, or written past a size that
	 * never did) are not part of the disk: written back, they would
	 * show again, instead of zeros, when it grows.
	 */
	if (r == 0)
		hc_drop(vol->hcd, (vol->size + vol->ss - 1) / vol->ss,
			UINT64_MAX);
out:
	pthread_rwlock_unlock(&vol->keys);
	secbuf_free(key);
	return r;
}

/* --- keys: revocation and resumption ------------------------------------ */

void vol_drop_keys(struct volume *vol)
{
	pthread_rwlock_wrlock(&vol->keys);
	if (vol->hcd)
		hc_set_key(vol->hcd, NULL);
	wipe_keys(vol);
	pthread_rwlock_unlock(&vol->keys);
}

int vol_reload_keys(struct volume *vol)
{
	struct env_header h;
	int r;

	pthread_rwlock_wrlock(&vol->keys);
	r = hdr_read(vol->fd, &h, NULL);
	if (r == 0 && (h.nlayers != vol->nlayers ||
		       h.sector_size != vol->ss))
		r = -EBADMSG;
	if (r == 0) {
		wipe_keys(vol);
		r = load_keys(vol, &h);
	}
	if (r == 0 && vol->hcd) {
		struct secbuf *key = cache_key(vol);

		r = key ? hc_set_key(vol->hcd, key) : -ENOMEM;
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
	k = vol->have_keys;
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

int vol_open_fd(struct volume **out, int fd, const char *name, int flags,
		const struct keyops *ops)
{
	struct hdr_status st;
	struct volume *vol;
	int r;

	vol = calloc(1, sizeof(*vol));
	if (!vol) {
		close(fd);
		return -ENOMEM;
	}
	vol->fd = fd;
	vol->bad_copy = -1;
	vol->bound_sec = NO_BIND;
	vol->ops = *ops;
	pthread_rwlock_init(&vol->keys, NULL);
	pthread_mutex_init(&vol->pool_lock, NULL);
	pthread_mutex_init(&vol->meta, NULL);
	for (unsigned int i = 0; i < VOL_STRIPES; i++)
		pthread_mutex_init(&vol->stripe[i], NULL);
	vol->name = strdup(name ? name : "");
	if (!vol->name) {
		r = -ENOMEM;
		goto fail;
	}

	r = hdr_read(fd, &vol->hdr, &st);
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

	r = load_keys(vol, &vol->hdr);
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
		r = hdr_hold_inuse(fd);
		if (r < 0)
			goto fail;
	}
	*out = vol;
	return 0;
fail:
	vol_close(vol);
	return r;
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
	/* with a host cache, ciphertext is written back even without keys */
	if ((vol->have_keys || vol->hcd) && !vol->rdonly)
		r = vol_flush(vol);
	if (vol->hcd) {
		struct hc_fp fp;

		/* keep the clean sectors only when all went well */
		hc_detach(vol->hcd, r == 0 && backing_fp(vol, &fp) == 0 ?
				    &fp : NULL);
		vol->hcd = NULL;
	}
	wipe_keys(vol);
	if (vol->fd >= 0)
		close(vol->fd);		/* drops the OFD locks */
	for (unsigned int i = 0; i < VOL_STRIPES; i++)
		pthread_mutex_destroy(&vol->stripe[i]);
	pthread_rwlock_destroy(&vol->keys);
	pthread_mutex_destroy(&vol->pool_lock);
	pthread_mutex_destroy(&vol->meta);
	free(vol->name);
	free(vol);
	return r;
}

int vol_in_use(const char *path)
{
	int fd, r;

	fd = trusted_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	r = hdr_inuse(fd);
	close(fd);
	return r;
}

int vol_format(int fd, const struct vol_format *f, const struct keyops *ops)
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
		r = hdr_write(fd, &h);
	if (r == 0 && ftruncate(fd, (off_t)off_backing_len(f->plain_size,
							   f->sector_size)) < 0)
		r = -errno;
	for (unsigned int i = 0; i < ENV_MAX_LAYERS; i++)
		secbuf_free(dek[i]);
	return r;
}

/* --- accessors ---------------------------------------------------------- */

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
	int fresh = hdr_read(vol->fd, &disk, NULL) == 0;

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
