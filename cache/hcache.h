/*
 * hcache.h - the host cache: a block cache on host storage in front of the
 * store (-o host_cache=DIR,caching=ReadOnly|ReadWrite, ssefs-mount(8))
 *
 * One file per mount, DIR/hostcache.ssefs (layout in ssefs-format(5)): a
 * superblock, a table of 64-byte entries and as many 4096-byte slots.  A
 * slot holds one sector of one disk, as the disk's volume hands it over:
 * ciphertext, exactly as it is in the store, when encryption at host is on;
 * plaintext when it is off (the entry says which).
 *
 * ReadOnly caches what is read and keeps cached sectors up to date on
 * write; writes go to the store first.  What a disk has cached stays when
 * it closes, and serves it again when it opens unchanged.  ReadWrite also acknowledges writes
 * from the cache: the sector goes to its slot, and the slot's table entry
 * (disk UUID, sector, sequence number, a MAC keyed from the disk's DEK)
 * says it is newer than the store.  A background thread writes dirty
 * sectors back through the owning volume every second, at once when the
 * cache is half dirty or a write found it full, and makes their slots
 * reusable batch by batch; fsync and unmount do it at once
 * (vol_flush()).  Only dirty sectors are recorded in
 * the table; clean ones are forgotten at every mount.
 *
 * Crash rules, which the code keeps:
 *   - a slot's data is written before its entry, and the entry's MAC
 *     covers the data, so a torn slot or entry is never replayed;
 *   - an entry is cleared only after the store holds its data durably
 *     (hc_checkpoint() after the store's fdatasync), and a slot whose entry
 *     is not cleared is never given to another sector, so at most one
 *     valid entry per sector exists and it is the newest write;
 *   - the next mount replays every valid dirty entry (hc_attach() of the
 *     disk verifies and adopts them, the mount then flushes).
 * So nothing acknowledged by fsync is lost; a write not yet fsynced may be
 * lost, as on any disk with a volatile write cache.
 *
 * Locking: one mutex guards the slot table and the hash; slot data is read
 * and written outside it, with the slot pinned.  Writers and the copying
 * out of write-back (hc_take_dirty()) of one sector are serialised by the
 * volume's stripe locks, which callers of hc_write_dirty(),
 * hc_wrote_through(), hc_wrote(), hc_take_dirty() and hc_drop() hold.
 * The write-back's write into the store runs without the stripes, with
 * the slot pinned: a write that lands in the cache meanwhile makes the
 * slot stay dirty (hc_cleaned() sees it), and whoever writes the store
 * itself (a write through, a discard, a shrink) first waits for the
 * write-backs in flight of its sectors (hc_drop() and hc_wait_writeback()
 * do), so that no older copy lands over newer store content.
 * Readers (hc_read()) take no stripe: hc_drop() waits for a reader's pin
 * to go before it lets the slot go.
 */
#ifndef SSEFS_CACHE_HCACHE_H
#define SSEFS_CACHE_HCACHE_H

#include <stddef.h>
#include <stdint.h>

#define HC_FILE		"hostcache.ssefs"
#define HC_SLOT_SIZE	4096u
#define HC_KEY_BYTES	32u

enum hc_mode {
	HC_READONLY = 1,
	HC_READWRITE = 2,
};

struct backing_fp;
struct hcache;
struct hc_disk;
struct secbuf;

struct hc_params {
	const char *dir;		/* the host cache directory */
	const char *store;		/* realpath, recorded in the file */
	uint64_t size;			/* bytes of slots */
	int mode;			/* enum hc_mode */
	int plain;			/* encryption at host off */
	unsigned int writeback_delay;	/* seconds between write-backs */
	unsigned int version;		/* of a new file: 0 the current; 1,
					 * as an older ssefs made (tests) */
};

/*
 * hc_open() - open or create DIR/hostcache.ssefs and load what is still
 * dirty from an earlier mount (replayed when each disk attaches).  A file
 * of another store that still holds dirty sectors is refused (-EEXIST),
 * as is a file that is not a host cache (-EBADMSG); @err then says why in
 * one line.  A file with nothing dirty in it is created afresh (no
 * sector an earlier mount cached stays in it); one with dirty sectors is
 * kept, with its own size until it is clean (*@note says so).
 * Return: 0 or -errno.
 */
int hc_open(struct hcache **out, const struct hc_params *p, char *err,
	    size_t errlen, char *note, size_t notelen);

/*
 * hc_remove() - a clean unmount, every disk detached: when nothing waits
 * to be written back, overwrite what the cache file holds with zeros if
 * it may hold plaintext (encryption at host off now, or in the mount whose
 * data it replayed; see io_zero_data() for what that reaches), then
 * unlink and truncate it.  Return: 1 removed, 0 kept (data the store lacks),
 * -errno (the name is gone, but its blocks may not be zeroed).
 */
int hc_remove(struct hcache *hc);

/* Stop the write-back thread and close; what is dirty stays in the file. */
void hc_close(struct hcache *hc);

/* Start the background write-back (after the daemon forked). */
int hc_start(struct hcache *hc);

int hc_mode(const struct hcache *hc);
int hc_plain(const struct hcache *hc);

/*
 * hc_pending() - the disks with sectors from an earlier mount that wait
 * for replay: up to @max UUIDs into @uuids.  Return: how many in all.
 */
unsigned int hc_pending(struct hcache *hc, uint8_t (*uuids)[16],
			unsigned int max);

/*
 * hc_attach() - a disk opens: its @uuid, sector size @ss, and its cache
 * key (HKDF of its DEK, HC_KEY_BYTES).  Dirty sectors of an earlier mount
 * are verified with the key and adopted as dirty.  @flush(@owner) writes
 * the disk's dirty sectors back (vol_flush()); the background thread calls
 * it.  @fp identifies the backing object's state (disk/backing.h): clean
 * sectors cached before the disk last closed are used again only if it is
 * the same as at that hc_detach().  Return: 0 or -errno.
 */
int hc_attach(struct hcache *hc, const uint8_t uuid[16], uint32_t ss,
	      const struct secbuf *key, const struct backing_fp *fp,
	      int (*flush)(void *owner), void *owner, struct hc_disk **out);

/* New key (after a reload), or NULL to wipe it (revocation). */
int hc_set_key(struct hc_disk *d, const struct secbuf *key);

/*
 * hc_detach() - the disk closes, after a vol_flush(), with its backing
 * file in state @fp: sectors still dirty (write-back failed) stay in the
 * file for the next attach or mount; clean ones stay cached (the key is
 * wiped) for the next hc_attach() of the same, unchanged disk.
 */
void hc_detach(struct hc_disk *d, const struct backing_fp *fp);

/* Read a cached sector.  Return: 1 (hit; *@plain: plaintext), 0, -errno. */
int hc_read(struct hc_disk *d, uint64_t sector, void *buf, int *plain);

/*
 * After misses: take hc_token() BEFORE reading the store, then offer each
 * sector as the store had it with hc_fill().  It is kept when there is
 * room, no one cached the sector meanwhile, and nothing was written or
 * dropped on the disk since the token (else the copy might be stale).
 */
uint64_t hc_token(struct hc_disk *d);
void hc_fill(struct hc_disk *d, uint64_t sector, const void *buf, int plain,
	     uint64_t token);

/*
 * hc_write_dirty() - ReadWrite: the sector's new content, newer than the
 * store.  Return: 1 (cached), 0 (not cached: no free slot, or the cache
 * file could not take it, e.g. its file system is full; an older cached
 * copy is dropped), -EKEYREVOKED (no key).  On 0, write the sector to the
 * store and then call hc_wrote_through() before the write is
 * acknowledged.
 */
int hc_write_dirty(struct hc_disk *d, uint64_t sector, const void *buf,
		   int plain);

/*
 * hc_wrote_through() - the store has the new content of sectors [@first,
 * @last] (written, not yet synced; the caller called hc_drop() on them
 * before it wrote, which waited for write-backs in flight): forget any
 * cached copy and clear table entries that still vouch for older dirty
 * copies, so that neither a write-back nor the replay after a crash brings
 * an older copy back over it.  Caller holds the sectors' stripes.
 * Return: 0, or -errno (an entry could not be cleared: do not acknowledge
 * the write).
 */
int hc_wrote_through(struct hc_disk *d, uint64_t first, uint64_t last);

/*
 * hc_wait_writeback() - wait until no write-back of a sector in [@first,
 * @last] is in flight.  With the sectors' stripes held, none starts
 * until they are released: call it before writing, discarding or cutting
 * off those sectors in the store.
 */
void hc_wait_writeback(struct hc_disk *d, uint64_t first, uint64_t last);

/* After the store got the sector's new content: update a cached copy. */
void hc_wrote(struct hc_disk *d, uint64_t sector, const void *buf, int plain);

/* The sectors [@first, @last] are gone (discard, shrink). */
void hc_drop(struct hc_disk *d, uint64_t first, uint64_t last);

/*
 * Write-back, in steps: hc_dirty_sectors() lists the dirty sectors
 * (ascending, malloc'd); for each, with its stripe held, hc_take_dirty()
 * copies it out (1, and *@t says what was taken; 0 when no longer dirty;
 * one another flush is writing back is waited for if @wait, else 2) and
 * pins its slot;
 * the stripe may then go.  Once the store has it (@ok) or the write
 * failed, hc_cleaned() unpins it, clean if no write came meanwhile.
 * hc_mark() just before the store's sync, and after it hc_checkpoint()
 * with that mark clears the entries of what was clean before the mark,
 * durably, and so makes their slots free for reuse.  hc_starved(): a
 * write found no slot since the last checkpoint that freed any (write
 * back and checkpoint in small batches).
 */
struct hc_taken {
	uint64_t idx, sector;
	uint32_t wgen;
};
int hc_dirty_sectors(struct hc_disk *d, uint64_t **out, size_t *n);
int hc_take_dirty(struct hc_disk *d, uint64_t sector, void *buf, int *plain,
		  int wait, struct hc_taken *t);
void hc_cleaned(struct hc_disk *d, const struct hc_taken *t, int ok);
uint64_t hc_mark(struct hc_disk *d);
int hc_checkpoint(struct hc_disk *d, uint64_t mark);
int hc_starved(struct hc_disk *d);
/*
 * A write-back that writes a span [@first, @last] of which it took only
 * the dirty sectors (the others it reads from the store): with the
 * stripes held, hc_wait_writeback() of the span, the dirty sectors
 * taken, then hc_span_begin(); the stripes may then go.  Until
 * hc_span_end(), hc_drop() and hc_wait_writeback() of a sector in the
 * span wait (a write of the store there would be overwritten with what
 * the span read), and so does (or 2) hc_take_dirty() of one.
 * hc_span_begin() returns 0, or -EAGAIN when too many spans are in flight
 * (keep the stripes until the span is written instead).
 */
int hc_span_begin(struct hc_disk *d, uint64_t first, uint64_t last);
void hc_span_end(struct hc_disk *d, uint64_t first, uint64_t last);
/* The disk's sectors newer in the cache than in the store. */
uint64_t hc_disk_dirty(struct hc_disk *d);

struct hc_stats {
	uint64_t slots, used, dirty, pending;
	uint64_t hits, misses, writebacks;
	uint64_t refused;		/* replay: entries that failed the MAC */
	uint64_t writethroughs;		/* ReadWrite writes the cache passed */
	int last_err;			/* the cache file's last write errno */
	int file_plain;			/* any plaintext slot in the file */
};
void hc_get_stats(struct hcache *hc, struct hc_stats *st);

#endif /* SSEFS_CACHE_HCACHE_H */
