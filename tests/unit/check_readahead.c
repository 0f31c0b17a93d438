/*
 * check_readahead.c - store/readahead.h over a blob in memory: a stream
 * is served from whole windows, anything else is left to the caller, and
 * no window serves bytes that a write replaced, even one whose Get was in
 * flight when the write was answered
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/readahead.h"

Suite *suite_readahead(void);

#define MIB		(1u << 20)
#define BLOB_SIZE	(40u * MIB + 64u * 1024)	/* not whole windows */

struct blob {
	char *mem;
	size_t size;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned int fetches;
	size_t last_len;
	int hold;		/* the next fetch waits after its copy */
	int held;		/* a fetch is waiting */
};

static int fetch(void *arg, void *buf, size_t len, uint64_t off)
{
	struct blob *b = arg;

	pthread_mutex_lock(&b->mu);
	ck_assert_uint_le(off + len, b->size);
	memcpy(buf, b->mem + off, len);
	b->fetches++;
	b->last_len = len;
	if (b->hold) {
		b->hold = 0;
		b->held = 1;
		pthread_cond_broadcast(&b->cv);
		while (b->held)
			pthread_cond_wait(&b->cv, &b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	return 0;
}

static void blob_init(struct blob *b)
{
	size_t i;

	memset(b, 0, sizeof(*b));
	b->size = BLOB_SIZE;
	b->mem = malloc(b->size);
	ck_assert_ptr_nonnull(b->mem);
	for (i = 0; i < b->size; i++)
		b->mem[i] = (char)(i * 7 + i / 4096);
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
}

static void blob_free(struct blob *b)
{
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->mem);
}

/* What the backing does: the windows, then the store for the rest. */
static size_t rd(struct readahead *ra, struct blob *b, char *buf, size_t len,
		 uint64_t off)
{
	size_t got = ra_read(ra, buf, len, off, b->size);

	ck_assert_uint_le(got, len);
	pthread_mutex_lock(&b->mu);
	memcpy(buf + got, b->mem + off + got, len - got);
	pthread_mutex_unlock(&b->mu);
	return got;
}

/* A write: the store first, then (the service has answered) the windows. */
static void wr(struct readahead *ra, struct blob *b, uint64_t off, size_t len,
	       char c)
{
	pthread_mutex_lock(&b->mu);
	memset(b->mem + off, c, len);
	pthread_mutex_unlock(&b->mu);
	ra_invalidate(ra, off, len);
}

/* Wait until no window's Get is queued or in flight (the loader's). */
static void settle(struct readahead *ra)
{
	int i;

	pthread_mutex_lock(&ra->mu);
	for (i = 0; i < RA_WINDOWS; i++)
		while (ra->w[i].state == RA_QUEUED ||
		       ra->w[i].state == RA_LOADING)
			pthread_cond_wait(&ra->done, &ra->mu);
	pthread_mutex_unlock(&ra->mu);
}

START_TEST(test_stream)
{
	struct readahead ra;
	struct blob b;
	char *buf = malloc(MIB);
	uint64_t off;
	size_t n, served = 0;

	blob_init(&b);
	ck_assert_int_eq(ra_init(&ra, fetch, &b), 0);
	for (off = 0; off < b.size; off += n) {
		n = b.size - off < MIB ? b.size - off : MIB;
		served += rd(&ra, &b, buf, n, off);
		ck_assert_int_eq(memcmp(buf, b.mem + off, n), 0);
	}
	/* all but the reads before RA_START came from windows */
	ck_assert_uint_ge(served, b.size - RA_START);
	/* in whole windows: one Get per RA_WINDOW, no more than one over */
	settle(&ra);
	ck_assert_uint_le(b.fetches, (b.size + RA_WINDOW - 1) / RA_WINDOW + 1);
	ck_assert_uint_eq(ra.gets, b.fetches);
	ra_destroy(&ra);
	blob_free(&b);
	free(buf);
}
END_TEST

/* Reads that do not follow each other are the caller's: no Get here. */
START_TEST(test_random_not_served)
{
	static const uint64_t at[] = { 5, 1, 30, 2, 17, 3, 9 };
	struct readahead ra;
	struct blob b;
	char buf[64 * 1024];
	size_t i;

	blob_init(&b);
	ck_assert_int_eq(ra_init(&ra, fetch, &b), 0);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		ck_assert_uint_eq(rd(&ra, &b, buf, sizeof(buf), at[i] * MIB),
				  0);
		ck_assert_int_eq(memcmp(buf, b.mem + at[i] * MIB,
					sizeof(buf)), 0);
	}
	/* nor is one large read alone */
	ck_assert_uint_eq(ra_read(&ra, b.mem, 4 * MIB, 20 * MIB, b.size), 0);
	ck_assert_uint_eq(b.fetches, 0);
	ra_destroy(&ra);
	blob_free(&b);
}
END_TEST

/* A write into a window that is ready: the next read sees the write. */
START_TEST(test_write_into_window)
{
	struct readahead ra;
	struct blob b;
	char *buf = malloc(MIB), *want = malloc(MIB);
	uint64_t off;

	blob_init(&b);
	ck_assert_int_eq(ra_init(&ra, fetch, &b), 0);
	for (off = 0; off < 4 * MIB; off += MIB)
		rd(&ra, &b, buf, MIB, off);
	ck_assert_uint_eq(rd(&ra, &b, buf, MIB, off), MIB);	/* streaming */
	wr(&ra, &b, off + MIB + 4096, 8192, 'W');
	ck_assert_uint_eq(rd(&ra, &b, buf, MIB, off + MIB), MIB);
	memcpy(want, b.mem + off + MIB, MIB);
	ck_assert_int_eq(memcmp(buf, want, MIB), 0);
	ck_assert_int_eq(buf[4096], 'W');
	/* and a resize drops every window (one whose Get is in flight, the
	 * loader's of the next window, when that Get ends) */
	ra_invalidate(&ra, 0, UINT64_MAX);
	settle(&ra);
	ck_assert_int_eq(ra.w[0].state, RA_EMPTY);
	ck_assert_int_eq(ra.w[1].state, RA_EMPTY);
	ra_destroy(&ra);
	blob_free(&b);
	free(buf);
	free(want);
}
END_TEST

struct reader {
	struct readahead *ra;
	struct blob *b;
	char *buf;
	uint64_t off;
	size_t got;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->got = rd(r->ra, r->b, r->buf, MIB, r->off);
	return NULL;
}

/*
 * The Get of a window copies the old bytes, a write lands and is
 * answered, then the Get ends: the window must not serve the old bytes.
 */
START_TEST(test_write_during_get)
{
	struct readahead ra;
	struct blob b;
	struct reader r;
	pthread_t t;
	char *buf = malloc(MIB);
	uint64_t off;

	blob_init(&b);
	ck_assert_int_eq(ra_init(&ra, fetch, &b), 0);
	for (off = 0; off < MIB; off += MIB)
		rd(&ra, &b, buf, MIB, off);
	/* the next read starts the stream: its window's Get is held */
	pthread_mutex_lock(&b.mu);
	b.hold = 1;
	pthread_mutex_unlock(&b.mu);
	r = (struct reader){ &ra, &b, buf, off, 0 };
	ck_assert_int_eq(pthread_create(&t, NULL, reader_main, &r), 0);
	pthread_mutex_lock(&b.mu);
	while (!b.held)
		pthread_cond_wait(&b.cv, &b.mu);
	memset(b.mem + off + 512, 'N', 1024);	/* the write lands ... */
	pthread_mutex_unlock(&b.mu);
	ra_invalidate(&ra, off + 512, 1024);	/* ... and is answered */
	pthread_mutex_lock(&b.mu);
	b.held = 0;
	pthread_cond_broadcast(&b.cv);
	pthread_mutex_unlock(&b.mu);
	pthread_join(t, NULL);
	ck_assert_int_eq(buf[512], 'N');
	ck_assert_int_eq(buf[1535], 'N');
	ck_assert_int_eq(memcmp(buf, b.mem + off, MIB), 0);
	/* nor is that window kept for the reads after */
	rd(&ra, &b, buf, MIB, off + MIB);
	ck_assert_int_eq(memcmp(buf, b.mem + off + MIB, MIB), 0);
	ra_destroy(&ra);
	blob_free(&b);
	free(buf);
}
END_TEST

/* Reads elsewhere between the stream's (a header, metadata): the stream
 * goes on; RA_MISSES of them in a row end it and free its windows. */
START_TEST(test_stream_ends)
{
	struct readahead ra;
	struct blob b;
	char *buf = malloc(MIB);
	uint64_t off;
	int i;

	blob_init(&b);
	ck_assert_int_eq(ra_init(&ra, fetch, &b), 0);
	for (off = 0; off < 6 * MIB; off += MIB)
		rd(&ra, &b, buf, MIB, off);
	ck_assert_ptr_nonnull(ra.w[0].buf);
	for (i = 0; i < RA_MISSES - 1; i++) {
		ck_assert_uint_eq(rd(&ra, &b, buf, 4096, 40 * MIB), 0);
		ck_assert_int_eq(memcmp(buf, b.mem + 40 * MIB, 4096), 0);
		ck_assert_uint_eq(rd(&ra, &b, buf, 8192, 0), 0);
		/* the stream is still there */
		ck_assert_uint_eq(rd(&ra, &b, buf, MIB, off), MIB);
		ck_assert_int_eq(memcmp(buf, b.mem + off, MIB), 0);
		off += MIB;
	}
	ck_assert_ptr_nonnull(ra.w[0].buf);
	settle(&ra);		/* a window in flight is kept until it lands */
	/* past every window (they end by 37 MiB), inside the blob */
	for (i = 0; i < RA_MISSES; i++)
		ck_assert_uint_eq(rd(&ra, &b, buf, 4096,
				     38 * MIB + i * 8192), 0);
	for (i = 0; i < RA_WINDOWS; i++)
		ck_assert_ptr_null(ra.w[i].buf);
	ra_destroy(&ra);
	blob_free(&b);
	free(buf);
}
END_TEST

/* Reads in order up to the blob's end, which is no window's end. */
START_TEST(test_tail)
{
	struct readahead ra;
	struct blob b;
	char *buf = malloc(MIB);
	uint64_t off;

	blob_init(&b);
	ck_assert_int_eq(ra_init(&ra, fetch, &b), 0);
	for (off = b.size - 3 * MIB - 64 * 1024; off < b.size - 64 * 1024;
	     off += MIB)
		rd(&ra, &b, buf, MIB, off);
	ck_assert_uint_eq(rd(&ra, &b, buf, 64 * 1024, off), 64 * 1024);
	ck_assert_int_eq(memcmp(buf, b.mem + off, 64 * 1024), 0);
	ck_assert_uint_le(b.last_len, RA_WINDOW);
	ra_destroy(&ra);
	blob_free(&b);
	free(buf);
}
END_TEST

Suite *suite_readahead(void)
{
	Suite *s = suite_create("readahead");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_random_not_served);
	tcase_add_test(tc, test_write_into_window);
	tcase_add_test(tc, test_write_during_get);
	tcase_add_test(tc, test_stream_ends);
	tcase_add_test(tc, test_tail);
	suite_add_tcase(s, tc);
	return s;
}
