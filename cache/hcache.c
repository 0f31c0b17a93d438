/*
 * hcache.c - the host cache (see hcache.h for the model and crash rules)
 *
 * On disk (DIR/hostcache.ssefs, all integers little-endian; the layout is
 * in ssefs-format(5)):
 *	0	superblock, 4096 bytes
 *	4096	nslots table entries of 64 bytes (zero: nothing to replay)
 *	data_off nslots slots of 4096 bytes
 * In memory every slot has a struct slot; a hash maps (disk, sector) to
 * its slot; a clock hand picks victims among clean slots.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cache/hcache.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "disk/backing.h"
#include "util/endian.h"
#include "util/io.h"

#define HC_MAGIC	"SSEFSHC1"
#define HC_VERSION	2u		/* files we create */
#define HC_VERSION_BLAKE2B 1u		/* an older ssefs's: BLAKE2b MACs */
#define HC_SB_SIZE	4096u
#define HC_ENTRY_SIZE	64u
#define HC_STORE_MAX	3968u		/* bytes of store path kept */
#define HC_SUM_OFF	(HC_SB_SIZE - 32u)
#define HC_MAC_BYTES	16u
#define HC_SESSION_OFF	56u		/* version 2: the mount's session */

#define E_DIRTY		0x1u		/* entry flags */
#define E_PLAIN		0x2u

enum slot_state {
	S_FREE = 0,
	S_FILLING,		/* mapped; its data is being written */
	S_VALID,		/* mapped; data readable */
	S_DROPPED,		/* unmapped, but its entry still says dirty */
	S_PENDING,		/* dirty from an earlier mount, not adopted */
};

struct slot {
	struct hc_disk *d;	/* owner: FILLING, VALID, DROPPED */
	uint64_t sector;
	uint32_t hnext;		/* hash chain: slot index + 1; 0 ends */
	uint8_t state;
	uint8_t dirty;		/* newer than the store */
	uint8_t ondisk;		/* its table entry says dirty */
	uint8_t ref;		/* clock: recently used */
	uint8_t stale;		/* FILLING overtaken by a write or a drop */
	uint8_t plain;		/* data is plaintext */
	uint8_t wb;		/* a write-back of it is in flight */
	uint16_t pins;		/* readers and writers of its data */
	uint32_t wgen;		/* bumped by every hc_write_dirty() */
	uint64_t cmark;		/* d->mark when cleaned or dropped */
};

struct pending {
	uint64_t slot;
	uint64_t seq;
	uint8_t uuid[16];
};

#define HC_SPANS	16	/* spans in flight per disk, at most */

struct hc_disk {
	struct hcache *hc;
	struct hc_disk *next;
	uint8_t uuid[16];
	uint32_t ss;
	struct secbuf *key;
	int (*flush)(void *owner);
	void *owner;
	unsigned int busy;	/* background write-backs running */
	unsigned int pass;
	uint64_t ndirty, nondisk;
	uint64_t ndropped;	/* S_DROPPED slots (their entries say dirty) */
	uint64_t nwb;		/* slots with a write-back in flight */
	struct { uint64_t first, last; } span[HC_SPANS];
	unsigned int nspan;	/* hc_span_begin()'s, not yet ended */
	uint64_t mark;		/* hc_mark(): lower-device syncs begun */
	uint64_t gen;		/* bumped by every write and drop */
	struct backing_fp fp;	/* parked: the backing file when it closed */
};

struct hcache {
	int fd;
	char *path;			/* DIR/hostcache.ssefs */
	int mode, plain;
	int had_plain;			/* replayed plaintext slots */
	uint64_t nslots, table_off, data_off;
	uint32_t version;		/* of the file: its entries' MAC */
	uint8_t id[16];
	uint8_t session[8];		/* this open's, in its new entries */

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a fill ended, a write-back ended */
	pthread_cond_t wake;		/* the write-back thread */
	struct slot *slots;
	uint32_t *bucket;
	uint64_t nbuckets;		/* a power of two */
	uint64_t hand;
	uint64_t seq;
	struct pending *pend;
	size_t npend;
	struct hc_disk *disks;		/* open */
	struct hc_disk *parked;		/* closed, with clean slots kept */
	uint64_t nused, ndirty;
	uint64_t hits, misses, writebacks, refused;
	uint64_t writethroughs;
	int last_err;			/* the cache file's last write error */
	int starved;			/* a claim found no slot since the
					 * last checkpoint */

	pthread_t thread;
	int running, stop;
	int kick;			/* write back now, do not wait */
	unsigned int delay;		/* seconds between write-backs */
	unsigned int pass;
};

/* --- encoding ----------------------------------------------------------- */

/*
 * A table entry: uuid[16] sector[8] seq[8] flags[4] len[4] mac[16]
 * session[8] (version 1: reserved, zero).  Version 1's MAC is keyed
 * BLAKE2b-128 over bytes 0-39, the cache id, the slot index and the
 * slot's @len bytes of data.  Version 2's is Poly1305 over the data under
 * a one-time key: keyed BLAKE2b-256 of bytes 0-39, the session, the cache
 * id and the slot index.  (session, seq) never repeats: seq grows within
 * an open of the file and every open draws a new random session, so no
 * one-time key is used twice, even when a crash loses the newest entries
 * and their sequence numbers come round again.  Every write to the cache
 * pays for its MAC, and over a 4096-byte slot this one costs under half of
 * version 1's: Poly1305 is much faster than BLAKE2b over the data.
 */
static void mac_blake2b(struct hcache *hc, const struct secbuf *key,
			const uint8_t *ix, const uint8_t *e,
			const void *data, uint32_t len, uint8_t *mac)
{
	crypto_generichash_blake2b_state st;

	crypto_generichash_blake2b_init(&st, secbuf_data(key),
					secbuf_len(key), HC_MAC_BYTES);
	crypto_generichash_blake2b_update(&st, e, 40);
	crypto_generichash_blake2b_update(&st, hc->id, sizeof(hc->id));
	crypto_generichash_blake2b_update(&st, ix, 8);
	crypto_generichash_blake2b_update(&st, data, len);
	crypto_generichash_blake2b_final(&st, mac, HC_MAC_BYTES);
	sodium_memzero(&st, sizeof(st));
}

static void entry_mac(struct hcache *hc, const struct secbuf *key,
		      uint64_t idx, const uint8_t *e, const void *data,
		      uint32_t len, uint8_t *mac)
{
	crypto_generichash_blake2b_state st;
	crypto_onetimeauth_poly1305_state pst;
	uint8_t ix[8], otk[32];

	put_le64(ix, idx);
	if (hc->version == HC_VERSION_BLAKE2B) {
		mac_blake2b(hc, key, ix, e, data, len, mac);
		return;
	}
	crypto_generichash_blake2b_init(&st, secbuf_data(key),
					secbuf_len(key), sizeof(otk));
	crypto_generichash_blake2b_update(&st, e, 40);
	crypto_generichash_blake2b_update(&st, e + HC_SESSION_OFF, 8);
	crypto_generichash_blake2b_update(&st, hc->id, sizeof(hc->id));
	crypto_generichash_blake2b_update(&st, ix, sizeof(ix));
	crypto_generichash_blake2b_final(&st, otk, sizeof(otk));
	crypto_onetimeauth_poly1305_init(&pst, otk);
	crypto_onetimeauth_poly1305_update(&pst, data, len);
	crypto_onetimeauth_poly1305_final(&pst, mac);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(&pst, sizeof(pst));
	sodium_memzero(otk, sizeof(otk));
}

static off_t entry_off(const struct hcache *hc, uint64_t idx)
{
	return (off_t)(hc->table_off + idx * HC_ENTRY_SIZE);
}

static off_t slot_off(const struct hcache *hc, uint64_t idx)
{
	return (off_t)(hc->data_off + idx * HC_SLOT_SIZE);
}

static int clear_entry(struct hcache *hc, uint64_t idx)
{
	static const uint8_t zero[HC_ENTRY_SIZE];

	return io_pwrite_all(hc->fd, zero, sizeof(zero), entry_off(hc, idx));
}

/* --- the map ------------------------------------------------------------ */

static uint64_t hash_of(const struct hcache *hc, const struct hc_disk *d,
			uint64_t sector)
{
	uint64_t h = sector * 0x9e3779b97f4a7c15ull;

	h ^= (uint64_t)(uintptr_t)d * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	return h & (hc->nbuckets - 1);
}

#define NONE	UINT64_MAX

static uint64_t map_find(struct hcache *hc, const struct hc_disk *d,
			 uint64_t sector)
{
	uint32_t i = hc->bucket[hash_of(hc, d, sector)];

	while (i) {
		struct slot *s = &hc->slots[i - 1];

		if (s->d == d && s->sector == sector)
			return i - 1;
		i = s->hnext;
	}
	return NONE;
}

static void map_insert(struct hcache *hc, uint64_t idx)
{
	struct slot *s = &hc->slots[idx];
	uint64_t b = hash_of(hc, s->d, s->sector);

	s->hnext = hc->bucket[b];
	hc->bucket[b] = (uint32_t)(idx + 1);
}

static void map_remove(struct hcache *hc, uint64_t idx)
{
	struct slot *s = &hc->slots[idx];
	uint32_t *p = &hc->bucket[hash_of(hc, s->d, s->sector)];

	while (*p && *p != idx + 1)
		p = &hc->slots[*p - 1].hnext;
	if (*p)
		*p = s->hnext;
	s->hnext = 0;
}

static void slot_free(struct hcache *hc, uint64_t idx)
{
	struct slot *s = &hc->slots[idx];

	if (s->state == S_DROPPED)
		s->d->ndropped--;
	if (s->state != S_FREE)
		hc->nused--;
	memset(s, 0, sizeof(*s));
}

/* Unmap a FILLING or VALID slot: forget it, or keep it out of use while
 * its entry still says dirty. */
static void slot_unmap(struct hcache *hc, uint64_t idx)
{
	struct slot *s = &hc->slots[idx];

	map_remove(hc, idx);
	if (s->dirty) {
		s->dirty = 0;
		s->d->ndirty--;
		hc->ndirty--;
	}
	if (s->ondisk) {
		s->state = S_DROPPED;
		s->cmark = s->d->mark;	/* cleared after the next sync */
		s->d->ndropped++;
		return;
	}
	slot_free(hc, idx);
}

/*
 * A slot for a new sector: a free one, or a clean one not recently used
 * whose entry is clear and that no one reads.  Return: its index (unmapped
 * and counted as used), or NONE.
 */
static uint64_t victim(struct hcache *hc)
{
	for (uint64_t n = 0; n < 2 * hc->nslots; n++) {
		uint64_t idx = hc->hand;
		struct slot *s = &hc->slots[idx];

		hc->hand = (hc->hand + 1) % hc->nslots;
		if (s->state == S_FREE) {
			hc->nused++;
			return idx;
		}
		if (s->state != S_VALID || s->dirty || s->ondisk || s->pins)
			continue;
		if (s->ref) {
			s->ref = 0;
			continue;
		}
		map_remove(hc, idx);
		memset(s, 0, sizeof(*s));
		return idx;
	}
	return NONE;
}

/* Claim a fresh slot for @d/@sector in state FILLING, pinned. */
static uint64_t claim(struct hcache *hc, struct hc_disk *d, uint64_t sector,
		      int plain)
{
	uint64_t idx = victim(hc);
	struct slot *s;

	if (idx == NONE)
		return NONE;
	s = &hc->slots[idx];
	s->d = d;
	s->sector = sector;
	s->state = S_FILLING;
	s->plain = (uint8_t)!!plain;
	s->pins = 1;
	s->ref = 1;
	map_insert(hc, idx);
	return idx;
}

/* End a fill: the data is in place (@ok) or not. */
static void fill_done(struct hcache *hc, uint64_t idx, int ok)
{
	struct slot *s = &hc->slots[idx];

	s->pins--;
	if (!ok || s->stale) {
		s->stale = 0;
		slot_unmap(hc, idx);
	} else {
		s->state = S_VALID;
	}
	pthread_cond_broadcast(&hc->cond);
}

/* --- file --------------------------------------------------------------- */

static void sb_encode(uint8_t *sb, const struct hcache *hc, const char *store)
{
	size_t n = strlen(store);

	if (n > HC_STORE_MAX)
		n = HC_STORE_MAX;
	memset(sb, 0, HC_SB_SIZE);
	memcpy(sb, HC_MAGIC, 8);
	put_le32(sb + 8, hc->version);
	put_le32(sb + 12, HC_SLOT_SIZE);
	put_le64(sb + 16, hc->nslots);
	put_le64(sb + 24, hc->table_off);
	put_le64(sb + 32, hc->data_off);
	put_le64(sb + 40, (uint64_t)time(NULL));
	memcpy(sb + 48, hc->id, 16);
	put_le32(sb + 64, (uint32_t)n);
	memcpy(sb + 68, store, n);
	crypto_generichash_blake2b(sb + HC_SUM_OFF, 32, sb, HC_SUM_OFF,
				   NULL, 0);
}

/* Check a superblock; fill @hc's geometry and @store (HC_STORE_MAX + 1). */
static int sb_decode(const uint8_t *sb, uint64_t fsize, struct hcache *hc,
		     char *store)
{
	uint8_t sum[32];
	uint32_t n;

	crypto_generichash_blake2b(sum, sizeof(sum), sb, HC_SUM_OFF, NULL, 0);
	if (memcmp(sb, HC_MAGIC, 8) ||
	    sodium_memcmp(sum, sb + HC_SUM_OFF, sizeof(sum)))
		return -EBADMSG;
	hc->version = get_le32(sb + 8);
	if ((hc->version != HC_VERSION && hc->version != HC_VERSION_BLAKE2B) ||
	    get_le32(sb + 12) != HC_SLOT_SIZE)
		return -EPROTONOSUPPORT;
	hc->nslots = get_le64(sb + 16);
	hc->table_off = get_le64(sb + 24);
	hc->data_off = get_le64(sb + 32);
	n = get_le32(sb + 64);
	/* trust no number read: the geometry must be the one we write */
	if (hc->nslots == 0 || hc->nslots > (1ull << 31) ||
	    hc->table_off != HC_SB_SIZE || n > HC_STORE_MAX ||
	    hc->data_off != HC_SB_SIZE + ((hc->nslots * HC_ENTRY_SIZE +
					   HC_SB_SIZE - 1) / HC_SB_SIZE) *
					  HC_SB_SIZE ||
	    fsize < hc->data_off + hc->nslots * HC_SLOT_SIZE)
		return -EBADMSG;
	memcpy(hc->id, sb + 48, 16);
	memcpy(store, sb + 68, n);
	store[n] = '\0';
	return 0;
}

static void set_geometry(struct hcache *hc, uint64_t size)
{
	hc->nslots = size / HC_SLOT_SIZE;
	if (hc->nslots < 16)
		hc->nslots = 16;
	hc->table_off = HC_SB_SIZE;
	hc->data_off = HC_SB_SIZE +
		       ((hc->nslots * HC_ENTRY_SIZE + HC_SB_SIZE - 1) /
			HC_SB_SIZE) * HC_SB_SIZE;
}

/* A new, empty cache file, atomically replacing any old one. */
static int create_file(struct hcache *hc, const char *path, const char *store)
{
	uint8_t sb[HC_SB_SIZE];
	char tmp[4200];
	int fd, r;

	randombytes_buf(hc->id, sizeof(hc->id));
	sb_encode(sb, hc, store);
	fd = io_tmpfile_beside(path, 0600, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	r = io_pwrite_all(fd, sb, sizeof(sb), 0);
	if (r == 0 && ftruncate(fd, (off_t)(hc->data_off +
					    hc->nslots * HC_SLOT_SIZE)) < 0)
		r = -errno;
	if (r == 0)
		r = io_commit_tmpfile(fd, tmp, path);
	else
		unlink(tmp);
	if (r < 0) {
		close(fd);
		return r;
	}
	hc->fd = fd;
	return 0;
}

static int cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Record slot @idx as waiting for disk @uuid to attach.  Return: the
 * record, or NULL (out of memory). */
static struct pending *add_pending(struct hcache *hc, uint64_t idx,
				   uint64_t seq, const uint8_t *uuid)
{
	struct pending *p;

	p = realloc(hc->pend, (hc->npend + 1) * sizeof(*p));
	if (!p)
		return NULL;
	hc->pend = p;
	p += hc->npend++;
	p->slot = idx;
	p->seq = seq;
	memcpy(p->uuid, uuid, 16);
	return p;
}

/* Read the table: every dirty entry becomes a pending slot. */
static int load_table(struct hcache *hc)
{
	size_t chunk = 1024 * HC_ENTRY_SIZE;
	uint8_t *buf = malloc(chunk);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t i = 0; i < hc->nslots && r == 0; i += 1024) {
		uint64_t n = hc->nslots - i < 1024 ? hc->nslots - i : 1024;
		ssize_t got = io_pread_all(hc->fd, buf, n * HC_ENTRY_SIZE,
					   entry_off(hc, i));

		if (got < 0) {
			r = (int)got;
			break;
		}
		if ((size_t)got < n * HC_ENTRY_SIZE)
			memset(buf + got, 0, n * HC_ENTRY_SIZE - (size_t)got);
		for (uint64_t j = 0; j < n; j++) {
			const uint8_t *e = buf + j * HC_ENTRY_SIZE;
			struct pending *p;

			if (!(get_le32(e + 32) & E_DIRTY))
				continue;
			p = add_pending(hc, i + j, get_le64(e + 24), e);
			if (!p) {
				r = -ENOMEM;
				break;
			}
			if (get_le32(e + 32) & E_PLAIN)
				hc->had_plain = 1;
			hc->slots[i + j].state = S_PENDING;
			hc->nused++;
			if (p->seq >= hc->seq)
				hc->seq = p->seq + 1;
		}
	}
	free(buf);
	if (r == 0 && hc->npend)
		qsort(hc->pend, hc->npend, sizeof(*hc->pend), cmp_pending);
	return r;
}

static int alloc_tables(struct hcache *hc)
{
	hc->nbuckets = 1;
	while (hc->nbuckets < hc->nslots)
		hc->nbuckets <<= 1;
	hc->slots = calloc(hc->nslots, sizeof(*hc->slots));
	hc->bucket = calloc(hc->nbuckets, sizeof(*hc->bucket));
	return hc->slots && hc->bucket ? 0 : -ENOMEM;
}

static void free_tables(struct hcache *hc)
{
	free(hc->slots);
	free(hc->bucket);
	free(hc->pend);
	hc->slots = NULL;
	hc->bucket = NULL;
	hc->pend = NULL;
	hc->npend = 0;
	hc->nused = 0;
}

int hc_open(struct hcache **out, const struct hc_params *p, char *err,
	    size_t errlen, char *note, size_t notelen)
{
	char path[4200], old_store[HC_STORE_MAX + 1];
	uint8_t sb[HC_SB_SIZE];
	struct hcache *hc;
	struct stat st;
	ssize_t got;
	int r;

	err[0] = note[0] = '\0';
	if (snprintf(path, sizeof(path), "%s/%s", p->dir, HC_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return -ENOMEM;
	hc->fd = -1;
	hc->mode = p->mode;
	hc->plain = p->plain;
	hc->delay = p->writeback_delay ? p->writeback_delay : 1;
	randombytes_buf(hc->session, sizeof(hc->session));
	pthread_mutex_init(&hc->lock, NULL);
	pthread_cond_init(&hc->cond, NULL);
	pthread_cond_init(&hc->wake, NULL);
	hc->path = strdup(path);
	if (!hc->path) {
		r = -ENOMEM;
		goto fail;
	}

	hc->fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (hc->fd < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (hc->fd >= 0) {
		if (fstat(hc->fd, &st) < 0) {
			r = -errno;
			goto fail;
		}
		got = io_pread_all(hc->fd, sb, sizeof(sb), 0);
		r = got < 0 ? (int)got : got < (ssize_t)sizeof(sb) ?
			-EBADMSG : sb_decode(sb, (uint64_t)st.st_size, hc,
					     old_store);
		if (r < 0) {
			snprintf(err, errlen, "%s: not an ssefs host cache "
				 "of this version (remove it to start afresh)",
				 path);
			goto fail;
		}
		r = alloc_tables(hc);
		if (r == 0)
			r = load_table(hc);
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot read its table: %s",
				 path, strerror(-r));
			goto fail;
		}
		if (hc->npend && strcmp(old_store, p->store)) {
			snprintf(err, errlen, "%s holds data not yet written "
				 "to store %s: mount that store with this host "
				 "cache first, or remove the file to discard "
				 "the data", path, old_store);
			r = -EEXIST;
			goto fail;
		}
		if (hc->npend && hc->nslots != p->size / HC_SLOT_SIZE)
			snprintf(note, notelen, "%s keeps its size until the "
				 "data it holds is written back", path);
		/* nothing to replay: start afresh, also when store and size
		 * are the same, so that no sector an earlier mount cached
		 * stays in the file (plaintext, if encryption at host was
		 * off then and the mount did not end cleanly): overwrite
		 * what it holds before the new file replaces it */
		if (!hc->npend) {
			io_zero_data(hc->fd);
			close(hc->fd);
			hc->fd = -1;
			free_tables(hc);
		}
	}
	if (hc->fd < 0) {
		hc->version = p->version ? p->version : HC_VERSION;
		set_geometry(hc, p->size);
		r = create_file(hc, path, p->store);
		if (r == 0)
			r = alloc_tables(hc);
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot create it: %s", path,
				 strerror(-r));
			goto fail;
		}
		hc->seq = 1;
	}
	*out = hc;
	return 0;
fail:
	hc_close(hc);
	return r;
}

int hc_remove(struct hcache *hc)
{
	int r = 0;

	pthread_mutex_lock(&hc->lock);
	if (hc->npend || hc->ndirty || hc->disks || hc->fd < 0) {
		pthread_mutex_unlock(&hc->lock);
		return 0;
	}
	/* zeros first: if they do not all get there (a crash), the file
	 * is still there for the next mount to overwrite */
	if (hc->plain || hc->had_plain)
		r = io_zero_data(hc->fd);
	if (unlink(hc->path) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	if (ftruncate(hc->fd, 0) < 0 && r == 0)
		r = -errno;
	pthread_mutex_unlock(&hc->lock);
	if (r == 0)
		r = io_fsync_parent(hc->path);
	return r < 0 ? r : 1;
}

int hc_mode(const struct hcache *hc)
{
	return hc->mode;
}

int hc_plain(const struct hcache *hc)
{
	return hc->plain;
}

unsigned int hc_pending(struct hcache *hc, uint8_t (*uuids)[16],
			unsigned int max)
{
	unsigned int n = 0;

	pthread_mutex_lock(&hc->lock);
	for (size_t i = 0; i < hc->npend; i++) {
		unsigned int j;

		for (j = 0; j < n && j < max; j++)
			if (!memcmp(uuids[j], hc->pend[i].uuid, 16))
				break;
		if (j < n && j < max)
			continue;
		if (n < max)
			memcpy(uuids[n], hc->pend[i].uuid, 16);
		n++;
	}
	pthread_mutex_unlock(&hc->lock);
	return n;
}

/* --- the write-back thread ---------------------------------------------- */

static void *writeback_main(void *arg)
{
	struct hcache *hc = arg;

	int failed = 0;

	pthread_mutex_lock(&hc->lock);
	while (!hc->stop) {
		struct timespec ts;
		struct hc_disk *d;

		/* kicked (the cache is half dirty, or full): almost at
		 * once (a pass that can make no progress does not spin),
		 * unless the last pass failed (the store is down: retry at
		 * the usual pace) */
		clock_gettime(CLOCK_REALTIME, &ts);
		if (hc->kick && !failed) {
			ts.tv_nsec += 10000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
		} else {
			ts.tv_sec += hc->delay;
		}
		pthread_cond_timedwait(&hc->wake, &hc->lock, &ts);
		hc->kick = 0;
		failed = 0;
		hc->pass++;
		/* one write-back per disk and pass; the list may change
		 * while the lock is dropped, so start over each time */
		for (;;) {
			for (d = hc->disks; d; d = d->next)
				if (d->pass != hc->pass &&
				    (d->ndirty || d->nondisk))
					break;
			if (!d || hc->stop)
				break;
			d->pass = hc->pass;
			d->busy++;
			pthread_mutex_unlock(&hc->lock);
			if (d->flush(d->owner) < 0)
				failed = 1;
			pthread_mutex_lock(&hc->lock);
			d->busy--;
			pthread_cond_broadcast(&hc->cond);
		}
	}
	pthread_mutex_unlock(&hc->lock);
	return NULL;
}

int hc_start(struct hcache *hc)
{
	int r;

	if (hc->mode != HC_READWRITE || hc->running)
		return 0;
	r = pthread_create(&hc->thread, NULL, writeback_main, hc);
	if (r)
		return -r;
	hc->running = 1;
	return 0;
}

void hc_close(struct hcache *hc)
{
	if (!hc)
		return;
	if (hc->running) {
		pthread_mutex_lock(&hc->lock);
		hc->stop = 1;
		pthread_cond_signal(&hc->wake);
		pthread_mutex_unlock(&hc->lock);
		pthread_join(hc->thread, NULL);
	}
	if (hc->fd >= 0) {
		fdatasync(hc->fd);
		close(hc->fd);
	}
	while (hc->parked) {
		struct hc_disk *d = hc->parked;

		hc->parked = d->next;
		free(d);
	}
	free_tables(hc);
	free(hc->path);
	pthread_cond_destroy(&hc->wake);
	pthread_cond_destroy(&hc->cond);
	pthread_mutex_destroy(&hc->lock);
	free(hc);
}

/* --- disks -------------------------------------------------------------- */

/* Read slot @idx's entry and data and check them under @d's key.  Return:
 * 1 valid (*@sector, *@plain), 0 not. */
static int verify_pending(struct hcache *hc, struct hc_disk *d, uint64_t idx,
			  uint64_t *sector, int *plain)
{
	uint8_t e[HC_ENTRY_SIZE], mac[HC_MAC_BYTES], data[HC_SLOT_SIZE];
	uint32_t flags, len;
	int ok = 0;

	if (io_pread_all(hc->fd, e, sizeof(e), entry_off(hc, idx)) !=
	    (ssize_t)sizeof(e))
		return 0;
	flags = get_le32(e + 32);
	len = get_le32(e + 36);
	if (!(flags & E_DIRTY) || len != d->ss || memcmp(e, d->uuid, 16))
		return 0;
	if (io_pread_all(hc->fd, data, len, slot_off(hc, idx)) ==
	    (ssize_t)len) {
		entry_mac(hc, d->key, idx, e, data, len, mac);
		ok = !sodium_memcmp(mac, e + 40, sizeof(mac));
	}
	sodium_memzero(data, sizeof(data));
	*sector = get_le64(e + 16);
	*plain = !!(flags & E_PLAIN);
	return ok;
}

/* Adopt @d's pending slots, oldest first, so the newest wins a sector. */
static void adopt_pending(struct hcache *hc, struct hc_disk *d)
{
	size_t keep = 0;

	for (size_t i = 0; i < hc->npend; i++) {
		struct pending *p = &hc->pend[i];
		uint64_t sector, old;
		struct slot *s;
		int plain;

		if (memcmp(p->uuid, d->uuid, 16)) {
			hc->pend[keep++] = *p;
			continue;
		}
		s = &hc->slots[p->slot];
		if (!verify_pending(hc, d, p->slot, &sector, &plain)) {
			/* torn or forged: never replayed */
			hc->refused++;
			clear_entry(hc, p->slot);
			slot_free(hc, p->slot);
			continue;
		}
		old = map_find(hc, d, sector);
		if (old != NONE) {
			clear_entry(hc, old);
			hc->slots[old].ondisk = 0;
			d->nondisk--;
			slot_unmap(hc, old);
		}
		s->d = d;
		s->sector = sector;
		s->state = S_VALID;
		s->plain = (uint8_t)plain;
		s->dirty = s->ondisk = 1;
		d->ndirty++;
		d->nondisk++;
		hc->ndirty++;
		map_insert(hc, p->slot);
	}
	hc->npend = keep;
}

/* Forget every slot a parked disk kept (its file changed meanwhile). */
static void forget_parked(struct hcache *hc, struct hc_disk *d)
{
	for (uint64_t i = 0; i < hc->nslots; i++)
		if (hc->slots[i].d == d && hc->slots[i].state == S_VALID)
			slot_unmap(hc, i);
}

int hc_attach(struct hcache *hc, const uint8_t uuid[16], uint32_t ss,
	      const struct secbuf *key, const struct backing_fp *fp,
	      int (*flush)(void *owner), void *owner, struct hc_disk **out)
{
	struct hc_disk *d, *fresh, **pp;
	struct secbuf *k;

	if (ss > HC_SLOT_SIZE || !key)
		return -EINVAL;
	fresh = calloc(1, sizeof(*fresh));
	k = secbuf_from(secbuf_data(key), secbuf_len(key));
	if (!fresh || !k) {
		free(fresh);
		secbuf_free(k);
		return -ENOMEM;
	}
	pthread_mutex_lock(&hc->lock);
	/* the same disk closed earlier in this mount: its clean slots are
	 * still mapped to its struct, good if the file did not change */
	for (pp = &hc->parked; *pp; pp = &(*pp)->next)
		if (!memcmp((*pp)->uuid, uuid, 16))
			break;
	d = *pp;
	if (d) {
		*pp = d->next;
		if (d->ss != ss || memcmp(&d->fp, fp, sizeof(*fp)))
			forget_parked(hc, d);
		free(fresh);
	} else {
		d = fresh;
		d->hc = hc;
		memcpy(d->uuid, uuid, 16);
		d->ss = ss;
	}
	d->key = k;
	d->flush = flush;
	d->owner = owner;
	adopt_pending(hc, d);
	d->next = hc->disks;
	hc->disks = d;
	pthread_mutex_unlock(&hc->lock);
	*out = d;
	return 0;
}

int hc_set_key(struct hc_disk *d, const struct secbuf *key)
{
	struct secbuf *n = NULL;

	if (key) {
		n = secbuf_from(secbuf_data(key), secbuf_len(key));
		if (!n)
			return -ENOMEM;
	}
	pthread_mutex_lock(&d->hc->lock);
	secbuf_free(d->key);
	d->key = n;
	pthread_mutex_unlock(&d->hc->lock);
	return 0;
}

void hc_detach(struct hc_disk *d, const struct backing_fp *fp)
{
	struct hcache *hc;
	struct hc_disk **pp;
	int sync = 0;

	if (!d)
		return;
	hc = d->hc;
	pthread_mutex_lock(&hc->lock);
	while (d->busy)
		pthread_cond_wait(&hc->cond, &hc->lock);
	for (pp = &hc->disks; *pp && *pp != d; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = d->next;
	for (uint64_t i = 0; i < hc->nslots; i++) {
		struct slot *s = &hc->slots[i];
		struct pending *p;

		if (s->d != d)
			continue;
		if (s->state == S_VALID && s->dirty) {
			/* not written back: the next attach replays it */
			p = add_pending(hc, i, 0, d->uuid);
			map_remove(hc, i);
			hc->ndirty--;
			memset(s, 0, sizeof(*s));
			s->state = p ? S_PENDING : S_FREE;
			if (!p)
				hc->nused--;
			continue;
		}
		if (s->ondisk) {
			clear_entry(hc, i);
			s->ondisk = 0;
			sync = 1;
		}
		if (s->state == S_VALID && fp)
			continue;	/* clean: kept for the next open */
		if (s->state == S_VALID || s->state == S_FILLING)
			map_remove(hc, i);
		slot_free(hc, i);
	}
	d->ndirty = d->nondisk = d->ndropped = 0;
	secbuf_free(d->key);
	d->key = NULL;
	d->flush = NULL;
	d->owner = NULL;
	if (fp) {
		d->fp = *fp;
		d->next = hc->parked;
		hc->parked = d;
		d = NULL;
	}
	pthread_mutex_unlock(&hc->lock);
	if (sync)
		fdatasync(hc->fd);
	free(d);
}

/* --- I/O ---------------------------------------------------------------- */

/* Read slot @idx's data with the lock dropped and the slot pinned, so no
 * one gives it to another sector meanwhile.  Called and returns locked. */
static ssize_t read_pinned(struct hcache *hc, uint64_t idx, void *buf,
			   size_t len)
{
	ssize_t got;

	hc->slots[idx].pins++;
	pthread_mutex_unlock(&hc->lock);
	got = io_pread_all(hc->fd, buf, len, slot_off(hc, idx));
	pthread_mutex_lock(&hc->lock);
	if (!--hc->slots[idx].pins)
		pthread_cond_broadcast(&hc->cond);	/* drop_one() */
	return got;
}

int hc_read(struct hc_disk *d, uint64_t sector, void *buf, int *plain)
{
	struct hcache *hc = d->hc;
	uint64_t idx;
	ssize_t got;

	pthread_mutex_lock(&hc->lock);
	idx = map_find(hc, d, sector);
	if (idx == NONE || hc->slots[idx].state != S_VALID) {
		hc->misses++;
		pthread_mutex_unlock(&hc->lock);
		return 0;
	}
	hc->slots[idx].ref = 1;
	*plain = hc->slots[idx].plain;
	got = read_pinned(hc, idx, buf, d->ss);
	if (got == (ssize_t)d->ss)
		hc->hits++;
	else
		hc->misses++;
	pthread_mutex_unlock(&hc->lock);
	return got == (ssize_t)d->ss ? 1 : got < 0 ? (int)got : -EIO;
}

/* Put a clean copy of @sector in a fresh slot, if there is room. */
static void insert_clean(struct hcache *hc, struct hc_disk *d,
			 uint64_t sector, const void *buf, int plain)
{
	uint64_t idx = claim(hc, d, sector, plain);
	int r;

	if (idx == NONE)
		return;
	pthread_mutex_unlock(&hc->lock);
	r = io_pwrite_all(hc->fd, buf, d->ss, slot_off(hc, idx));
	pthread_mutex_lock(&hc->lock);
	fill_done(hc, idx, r == 0);
}

uint64_t hc_token(struct hc_disk *d)
{
	uint64_t t;

	pthread_mutex_lock(&d->hc->lock);
	t = d->gen;
	pthread_mutex_unlock(&d->hc->lock);
	return t;
}

void hc_fill(struct hc_disk *d, uint64_t sector, const void *buf, int plain,
	     uint64_t token)
{
	struct hcache *hc = d->hc;

	pthread_mutex_lock(&hc->lock);
	if (d->gen == token && map_find(hc, d, sector) == NONE)
		insert_clean(hc, d, sector, buf, plain);
	pthread_mutex_unlock(&hc->lock);
}

/* A span in flight overlaps [@first, @last]. */
static int span_in(const struct hc_disk *d, uint64_t first, uint64_t last)
{
	for (unsigned int i = 0; i < d->nspan; i++)
		if (d->span[i].first <= last && first <= d->span[i].last)
			return 1;
	return 0;
}

/*
 * Drop @d's @sector.  A reader (hc_read() takes no stripe) may hold its
 * slot pinned while it copies the data out: wait for it, else the slot
 * could go to another sector under it and the reader return that
 * sector's bytes.  The wait drops the lock, so look the sector up again.
 */
static void drop_one(struct hcache *hc, struct hc_disk *d, uint64_t sector)
{
	for (;;) {
		uint64_t idx = map_find(hc, d, sector);

		if (idx == NONE)
			return;
		if (hc->slots[idx].state == S_FILLING) {
			hc->slots[idx].stale = 1;
			return;
		}
		if (hc->slots[idx].state != S_VALID)
			return;
		if (!hc->slots[idx].pins) {
			slot_unmap(hc, idx);
			return;
		}
		pthread_cond_wait(&hc->cond, &hc->lock);
	}
}

void hc_wrote(struct hc_disk *d, uint64_t sector, const void *buf, int plain)
{
	struct hcache *hc = d->hc;
	uint64_t idx;
	struct slot *s;
	int r;

	pthread_mutex_lock(&hc->lock);
	d->gen++;
	idx = map_find(hc, d, sector);
	if (idx == NONE) {
		if (hc->mode == HC_READONLY)
			insert_clean(hc, d, sector, buf, plain);
		pthread_mutex_unlock(&hc->lock);
		return;
	}
	s = &hc->slots[idx];
	if (s->state == S_FILLING) {
		s->stale = 1;		/* the filler had the old content */
		pthread_mutex_unlock(&hc->lock);
		return;
	}
	s->pins++;
	s->plain = (uint8_t)!!plain;
	pthread_mutex_unlock(&hc->lock);
	r = io_pwrite_all(hc->fd, buf, d->ss, slot_off(hc, idx));
	pthread_mutex_lock(&hc->lock);
	s->pins--;
	/* a half-written copy must not be served: forget it (once no
	 * reader copies from it) */
	if (r < 0)
		drop_one(hc, d, sector);
	pthread_mutex_unlock(&hc->lock);
}

int hc_write_dirty(struct hc_disk *d, uint64_t sector, const void *buf,
		   int plain)
{
	struct hcache *hc = d->hc;
	uint8_t e[HC_ENTRY_SIZE];
	uint64_t idx, seq;
	struct slot *s;
	int r, fresh = 0;

	pthread_mutex_lock(&hc->lock);
	if (!d->key) {
		pthread_mutex_unlock(&hc->lock);
		return -EKEYREVOKED;
	}
	for (;;) {
		idx = map_find(hc, d, sector);
		if (idx == NONE || hc->slots[idx].state != S_FILLING)
			break;
		/* a reader is caching the old content: let it finish */
		pthread_cond_wait(&hc->cond, &hc->lock);
	}
	if (idx == NONE) {
		idx = claim(hc, d, sector, plain);
		if (idx == NONE) {
			/* full: the write-back makes room now, not at its
			 * next tick, and checkpoints as it goes */
			hc->starved = 1;
			hc->kick = 1;
			pthread_cond_signal(&hc->wake);
			pthread_mutex_unlock(&hc->lock);
			return 0;
		}
		fresh = 1;
	} else {
		hc->slots[idx].pins++;
		hc->slots[idx].ref = 1;
	}
	s = &hc->slots[idx];
	d->gen++;
	s->wgen++;		/* a write-back in flight is of older data */
	if (!s->dirty) {
		s->dirty = 1;
		d->ndirty++;
		hc->ndirty++;
	}
	s->plain = (uint8_t)!!plain;
	seq = hc->seq++;
	memset(e, 0, sizeof(e));
	memcpy(e, d->uuid, 16);
	put_le64(e + 16, sector);
	put_le64(e + 24, seq);
	put_le32(e + 32, E_DIRTY | (plain ? E_PLAIN : 0));
	put_le32(e + 36, d->ss);
	if (hc->version != HC_VERSION_BLAKE2B)
		memcpy(e + HC_SESSION_OFF, hc->session, sizeof(hc->session));
	entry_mac(hc, d->key, idx, e, buf, d->ss, e + 40);
	pthread_mutex_unlock(&hc->lock);

	/* data first, then the entry that vouches for it */
	r = io_pwrite_all(hc->fd, buf, d->ss, slot_off(hc, idx));
	pthread_mutex_lock(&hc->lock);
	if (r == 0)
		r = io_pwrite_all(hc->fd, e, sizeof(e), entry_off(hc, idx));
	if (r == 0 && !s->ondisk) {
		s->ondisk = 1;
		d->nondisk++;
	}
	if (fresh) {
		s->pins--;
		if (r < 0 && !s->ondisk) {
			slot_unmap(hc, idx);
		} else {
			s->state = S_VALID;
		}
		pthread_cond_broadcast(&hc->cond);
	} else {
		s->pins--;
		/* the slot may hold half of the new sector: never write it
		 * back, nor the older copy it held (the store gets the new
		 * one, hc_wrote_through() clears the older entry) */
		if (r < 0)
			drop_one(hc, d, sector);
	}
	if (r < 0)
		hc->last_err = -r;	/* a full file system, say */
	if (hc->ndirty * 2 > hc->nslots && !hc->kick) {
		hc->kick = 1;
		pthread_cond_signal(&hc->wake);
	}
	pthread_mutex_unlock(&hc->lock);
	return r < 0 ? 0 : 1;
}

int hc_wrote_through(struct hc_disk *d, uint64_t first, uint64_t last)
{
	struct hcache *hc = d->hc;
	uint64_t seen = 0;
	int r = 0;

	pthread_mutex_lock(&hc->lock);
	d->gen++;
	hc->writethroughs += last - first + 1;
	if (last - first < 4096)
		for (uint64_t sec = first; sec <= last; sec++)
			drop_one(hc, d, sec);
	/*
	 * An entry that still vouches for an older copy (dropped by the
	 * caller's hc_drop(), by hc_write_dirty() or by a discard) would be
	 * replayed over the store's newer content after a crash: clear it
	 * now.  The slot stays DROPPED, so the next hc_checkpoint() clears
	 * it again and syncs the cache file after the store.
	 */
	for (uint64_t i = 0; i < hc->nslots && seen < d->ndropped; i++) {
		struct slot *s = &hc->slots[i];

		if (s->d != d || s->state != S_DROPPED)
			continue;
		seen++;
		if (s->sector >= first && s->sector <= last && r == 0)
			r = clear_entry(hc, i);
	}
	pthread_mutex_unlock(&hc->lock);
	return r;
}


void hc_drop(struct hc_disk *d, uint64_t first, uint64_t last)
{
	struct hcache *hc = d->hc;

	pthread_mutex_lock(&hc->lock);
	/* a span's write-back would write what the store had over what
	 * the caller is about to write */
	while (span_in(d, first, last))
		pthread_cond_wait(&hc->cond, &hc->lock);
	d->gen++;
	if (last - first < 4096) {
		for (uint64_t sec = first; sec <= last; sec++)
			drop_one(hc, d, sec);
	} else {
		for (uint64_t i = 0; i < hc->nslots; i++) {
			struct slot *s = &hc->slots[i];

			if (s->d == d && s->sector >= first &&
			    s->sector <= last &&
			    (s->state == S_VALID || s->state == S_FILLING))
				drop_one(hc, d, s->sector);
		}
	}
	pthread_mutex_unlock(&hc->lock);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int hc_dirty_sectors(struct hc_disk *d, uint64_t **out, size_t *n)
{
	struct hcache *hc = d->hc;
	uint64_t *v = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&hc->lock);
	if (d->ndirty) {
		v = malloc(d->ndirty * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&hc->lock);
			return -ENOMEM;
		}
		for (uint64_t i = 0; i < hc->nslots && k < d->ndirty; i++)
			if (hc->slots[i].d == d && hc->slots[i].dirty &&
			    hc->slots[i].state == S_VALID)
				v[k++] = hc->slots[i].sector;
	}
	pthread_mutex_unlock(&hc->lock);
	if (k)
		qsort(v, k, sizeof(*v), cmp_u64);
	*out = v;
	*n = k;
	return 0;
}

/* Is a write-back of one of @d's sectors [@first, @last] in flight? */
static int wb_in(struct hcache *hc, struct hc_disk *d, uint64_t first,
		 uint64_t last)
{
	if (span_in(d, first, last))
		return 1;
	if (!d->nwb)
		return 0;
	if (last - first < 4096) {
		for (uint64_t sec = first; sec <= last; sec++) {
			uint64_t idx = map_find(hc, d, sec);

			if (idx != NONE && hc->slots[idx].wb)
				return 1;
		}
		return 0;
	}
	for (uint64_t i = 0; i < hc->nslots; i++) {
		struct slot *s = &hc->slots[i];

		if (s->d == d && s->wb && s->sector >= first &&
		    s->sector <= last)
			return 1;
	}
	return 0;
}

void hc_wait_writeback(struct hc_disk *d, uint64_t first, uint64_t last)
{
	struct hcache *hc = d->hc;

	pthread_mutex_lock(&hc->lock);
	while (wb_in(hc, d, first, last))
		pthread_cond_wait(&hc->cond, &hc->lock);
	pthread_mutex_unlock(&hc->lock);
}

int hc_take_dirty(struct hc_disk *d, uint64_t sector, void *buf, int *plain,
		  int wait, struct hc_taken *t)
{
	struct hcache *hc = d->hc;
	uint64_t idx;
	struct slot *s;
	ssize_t got;

	pthread_mutex_lock(&hc->lock);
	for (;;) {
		idx = map_find(hc, d, sector);
		if (idx == NONE || hc->slots[idx].state != S_VALID ||
		    !hc->slots[idx].dirty) {
			pthread_mutex_unlock(&hc->lock);
			return 0;
		}
		if (!hc->slots[idx].wb && !span_in(d, sector, sector))
			break;
		if (!wait) {
			pthread_mutex_unlock(&hc->lock);
			return 2;
		}
		/* another flush is writing it back: this one's sync must
		 * come after that write, so wait for it */
		pthread_cond_wait(&hc->cond, &hc->lock);
	}
	s = &hc->slots[idx];
	*plain = s->plain;
	s->wb = 1;
	s->pins++;
	d->nwb++;
	t->idx = idx;
	t->sector = sector;
	t->wgen = s->wgen;
	pthread_mutex_unlock(&hc->lock);
	got = io_pread_all(hc->fd, buf, d->ss, slot_off(hc, idx));
	if (got == (ssize_t)d->ss)
		return 1;
	hc_cleaned(d, t, 0);
	return got < 0 ? (int)got : -EIO;
}

int hc_span_begin(struct hc_disk *d, uint64_t first, uint64_t last)
{
	struct hcache *hc = d->hc;
	int r = -EAGAIN;

	pthread_mutex_lock(&hc->lock);
	if (d->nspan < HC_SPANS) {
		d->span[d->nspan].first = first;
		d->span[d->nspan].last = last;
		d->nspan++;
		r = 0;
	}
	pthread_mutex_unlock(&hc->lock);
	return r;
}

void hc_span_end(struct hc_disk *d, uint64_t first, uint64_t last)
{
	struct hcache *hc = d->hc;

	pthread_mutex_lock(&hc->lock);
	for (unsigned int i = 0; i < d->nspan; i++) {
		if (d->span[i].first == first && d->span[i].last == last) {
			d->span[i] = d->span[--d->nspan];
			break;
		}
	}
	pthread_cond_broadcast(&hc->cond);
	pthread_mutex_unlock(&hc->lock);
}

void hc_cleaned(struct hc_disk *d, const struct hc_taken *t, int ok)
{
	struct hcache *hc = d->hc;
	struct slot *s = &hc->slots[t->idx];

	pthread_mutex_lock(&hc->lock);
	s->wb = 0;
	s->pins--;
	d->nwb--;
	/* clean only if no write came since it was taken */
	if (ok && s->d == d && s->state == S_VALID && s->sector == t->sector &&
	    s->wgen == t->wgen && s->dirty) {
		s->dirty = 0;
		s->cmark = d->mark;
		d->ndirty--;
		hc->ndirty--;
		hc->writebacks++;
	}
	pthread_cond_broadcast(&hc->cond);
	pthread_mutex_unlock(&hc->lock);
}

uint64_t hc_mark(struct hc_disk *d)
{
	uint64_t m;

	pthread_mutex_lock(&d->hc->lock);
	m = ++d->mark;
	pthread_mutex_unlock(&d->hc->lock);
	return m;
}

int hc_starved(struct hc_disk *d)
{
	int r;

	pthread_mutex_lock(&d->hc->lock);
	r = d->hc->starved;
	pthread_mutex_unlock(&d->hc->lock);
	return r;
}

int hc_checkpoint(struct hc_disk *d, uint64_t mark)
{
	struct hcache *hc = d->hc;
	int r = 0, any = 0;

	pthread_mutex_lock(&hc->lock);
	for (uint64_t i = 0; i < hc->nslots && d->nondisk; i++) {
		struct slot *s = &hc->slots[i];

		/* only what the lower device had before the sync that
		 * @mark began: a sector cleaned since may not be durable */
		if (s->d != d || !s->ondisk || s->dirty || s->cmark >= mark)
			continue;
		r = clear_entry(hc, i);
		if (r < 0)
			break;
		s->ondisk = 0;
		d->nondisk--;
		any = 1;
		if (s->state == S_DROPPED)
			slot_free(hc, i);
	}
	if (any)
		hc->starved = 0;
	pthread_mutex_unlock(&hc->lock);
	if (any && fdatasync(hc->fd) < 0 && r == 0)
		r = -errno;
	return r;
}

uint64_t hc_disk_dirty(struct hc_disk *d)
{
	uint64_t n;

	pthread_mutex_lock(&d->hc->lock);
	n = d->ndirty;
	pthread_mutex_unlock(&d->hc->lock);
	return n;
}

void hc_get_stats(struct hcache *hc, struct hc_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&hc->lock);
	st->slots = hc->nslots;
	st->used = hc->nused;
	st->dirty = hc->ndirty;
	st->pending = hc->npend;
	st->hits = hc->hits;
	st->misses = hc->misses;
	st->writebacks = hc->writebacks;
	st->refused = hc->refused;
	st->writethroughs = hc->writethroughs;
	st->last_err = hc->last_err;
	st->file_plain = hc->plain;
	pthread_mutex_unlock(&hc->lock);
}
