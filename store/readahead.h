/*
 * store/readahead.h - read-ahead for a sequential reader of a remote blob
 *
 * A reader that streams through a disk (fio, dd, `cat` of a file on ext4
 * on an attached disk, a copy) reaches the backing as READs of up to
 * 1 MiB, one or two in flight.  Against a remote store each is a round
 * trip, and each Get has a fixed cost at the service.  Once reads have
 * followed each other for RA_START bytes, whole windows of RA_WINDOW bytes
 * are fetched in one Get each, and the window after the one being read is
 * fetched by a thread of its own while the reader copies out of the first.
 * Reads elsewhere (a header, a file system's metadata, another reader)
 * go to the store as before.  RA_MISSES of them in a row end the stream
 * and free its windows, and so do RA_START bytes of them in order, which
 * start a stream of their own.
 *
 * The windows hold what the store held (ciphertext: nothing here is
 * secret).  The one writer of a blob is this process (SPEC.md: one
 * writer per disk), and every write, clear or resize it makes calls
 * ra_invalidate() once the service has answered: a window that overlaps
 * is dropped, or, if its Get is still in flight, dropped when the Get
 * ends.  A Get that starts after the write's answer sees the write.
 *
 * Thread-safe: any number of readers and writers at once.
 */
#ifndef SSEFS_STORE_READAHEAD_H
#define SSEFS_STORE_READAHEAD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* one Get per window: more than 4 MiB (BENCHMARKS.md, eleventh session:
 * a ranged Get of up to 4 MiB costs Azurite two reads and an MD5) */
#define RA_WINDOW	(8u << 20)
#define RA_WINDOWS	2	/* the one being read, and the next */
#define RA_START	(2u << 20)	/* bytes read in order before it starts */
#define RA_MISSES	16	/* reads elsewhere in a row that end it */

/* Read @len bytes at @off into @buf: 0 or -errno (one Get, no retry of
 * its own beyond the client's). */
typedef int (*ra_fetch_fn)(void *arg, void *buf, size_t len, uint64_t off);

enum ra_state { RA_EMPTY, RA_QUEUED, RA_LOADING, RA_READY };

struct ra_win {
	char *buf;			/* RA_WINDOW bytes, or NULL */
	uint64_t off;
	size_t len;
	int state;			/* enum ra_state */
	int stale;			/* written to while its Get ran */
	int readers;			/* copying out of it, unlocked */
};

struct readahead {
	pthread_mutex_t mu;
	pthread_cond_t done;		/* a window's Get ended */
	pthread_cond_t work;		/* the loader has a window to fetch */
	ra_fetch_fn fetch;
	void *arg;
	uint64_t next;			/* where the last read ended */
	uint64_t run;			/* bytes read in order up to next */
	unsigned int misses;		/* reads elsewhere since the stream's */
	uint64_t cnext, crun;		/* those reads' own next and run */
	struct ra_win w[RA_WINDOWS];
	pthread_t loader;
	int loader_on;			/* loader started */
	int stop;			/* ra_destroy(): loader, end */
	uint64_t gets;			/* windows fetched (for tests) */
};

/* Set up @ra (no memory, no thread until a stream starts). */
int ra_init(struct readahead *ra, ra_fetch_fn fetch, void *arg);

/*
 * ra_read() - serve [@off, @off + @len) of a blob @size bytes long
 * (@off + @len <= @size) from the windows, fetching them as needed.
 * Return: how many bytes from @off on are in @buf.  The caller reads the
 * rest from the store itself: all of it when the reads do not stream,
 * the tail when a window's Get failed (the caller's read says why) or a
 * write overlapped it.
 */
size_t ra_read(struct readahead *ra, void *buf, size_t len, uint64_t off,
	       uint64_t size);

/* [@off, @off + @len) of the blob changed (or may have: a write that
 * failed): no window will serve the old bytes.  A resize passes 0 and
 * UINT64_MAX. */
void ra_invalidate(struct readahead *ra, uint64_t off, uint64_t len);

/* Stop the loader (waiting for a Get in flight) and free the windows. */
void ra_destroy(struct readahead *ra);

#endif
