/*
 * session12-hcwrite.c - what one sector written to the ReadWrite host
 * cache costs (BENCHMARKS.md, "Twelfth session"), without FUSE:
 *
 *   make && cc -O2 -I. $(pkg-config --cflags libsodium) \
 *      bench/results/session12-hcwrite.c build/libssefs.a \
 *      $(pkg-config --libs fuse3 libcrypto libsodium yaml-0.1 libcurl) \
 *      -lpthread -o /tmp/hcwrite && /tmp/hcwrite DIR [N] [ROUNDS]
 *
 * In turns, ROUNDS times: N (100000) hc_write_dirty() of 4096-byte
 * sectors at random in 1 GiB, into a fresh cache file in DIR of version 1
 * (BLAKE2b entry MACs) and of version 2 (Poly1305); then N pwrite()s of
 * 4096 bytes at random into a laid-out 1 GiB file in DIR, which is what
 * a directory store's write costs there.  Microseconds per write.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cache/hcache.h"
#include "crypto/secmem.h"
#include "disk/backing.h"

#define SECTORS	262144u		/* 1 GiB of 4096-byte sectors */

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int no_flush(void *owner)
{
	(void)owner;
	return 0;
}

static double cache_run(const char *dir, unsigned int version, int n)
{
	struct hc_params p = {
		.dir = dir, .store = "/bench/store", .size = 1ull << 30,
		.mode = HC_READWRITE, .writeback_delay = 3600,
		.version = version,
	};
	static uint8_t buf[4096];
	uint8_t uuid[16] = { 1 };
	struct backing_fp fp = { 0 };
	char err[512], note[512], path[4200];
	struct secbuf *key = secbuf_new(HC_KEY_BYTES);
	struct hcache *hc;
	struct hc_disk *d;
	double t0, t;

	snprintf(path, sizeof(path), "%s/%s", dir, HC_FILE);
	unlink(path);
	if (!key || hc_open(&hc, &p, err, sizeof(err), note, sizeof(note)) ||
	    hc_attach(hc, uuid, 4096, key, &fp, no_flush, NULL, &d)) {
		fprintf(stderr, "hcwrite: cannot open a cache in %s\n", dir);
		exit(1);
	}
	randombytes_buf(buf, sizeof(buf));
	t0 = now();
	for (int i = 0; i < n; i++) {
		buf[0] = (uint8_t)i;
		if (hc_write_dirty(d, randombytes_uniform(SECTORS), buf, 0) != 1) {
			fprintf(stderr, "hcwrite: the cache refused a write\n");
			exit(1);
		}
	}
	t = (now() - t0) * 1e6 / n;
	hc_detach(d, &fp);	/* dirty: the file stays; removed below */
	hc_close(hc);
	unlink(path);
	secbuf_free(key);
	return t;
}

static double pwrite_run(const char *dir, int n)
{
	static uint8_t buf[1 << 20];
	char path[4200];
	double t0, t;
	int fd;

	snprintf(path, sizeof(path), "%s/laid-out", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		exit(1);
	for (unsigned int i = 0; i < SECTORS / 256; i++)
		if (pwrite(fd, buf, sizeof(buf), (off_t)i << 20) < 0)
			exit(1);
	fsync(fd);
	t0 = now();
	for (int i = 0; i < n; i++) {
		buf[0] = (uint8_t)i;
		if (pwrite(fd, buf, 4096,
			   (off_t)randombytes_uniform(SECTORS) * 4096) != 4096)
			exit(1);
	}
	t = (now() - t0) * 1e6 / n;
	close(fd);
	unlink(path);
	return t;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 100000;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;

	if (argc < 2 || n < 1 || sodium_init() < 0) {
		fprintf(stderr, "usage: hcwrite DIR [N] [ROUNDS]\n");
		return 2;
	}
	printf("round\tv1 BLAKE2b us\tv2 Poly1305 us\tpwrite us\n");
	for (int r = 1; r <= rounds; r++) {
		double a = cache_run(argv[1], 1, n);
		double b = cache_run(argv[1], 2, n);
		double c = pwrite_run(argv[1], n);

		printf("%d\t%.2f\t%.2f\t%.2f\n", r, a, b, c);
	}
	return 0;
}
