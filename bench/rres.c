/*
 * rres.c - random 4 KiB reads on one file, and how much of it is cached
 *
 *   cc -O2 -o rres bench/rres.c && ./rres FILE MIB SECONDS
 *
 * Reads random 4 KiB blocks of the first MIB MiB of FILE with pread() on
 * one descriptor for SECONDS, and once a second prints the reads done in
 * that second and the share of the range resident in the page cache
 * (mincore() of a shared mapping of the same file: mapping it reads
 * nothing).  For a FUSE file this shows whether the kernel keeps the pages
 * it read (the resident share only grows) or drops them (it falls back).
 * Opening the file through FUSE with keep_cache off drops its pages, so
 * the file is opened once, before the first read.  Not part of make bench.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned char *vec;
	size_t size, pages;
	double t0, last;
	long n = 0;
	char buf[4096];
	void *map;
	int fd, secs;

	if (argc != 4) {
		fprintf(stderr, "usage: rres FILE MIB SECONDS\n");
		return 2;
	}
	size = (size_t)atol(argv[2]) << 20;
	secs = atoi(argv[3]);
	pages = size / 4096;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || pages == 0) {
		perror(argv[1]);
		return 1;
	}
	vec = malloc(pages);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (!vec || map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	srandom((unsigned int)getpid());
	t0 = last = now();
	while (now() - t0 < secs) {
		off_t off = (off_t)((size_t)random() % pages) * 4096;
		size_t res = 0;

		if (pread(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf)) {
			perror("pread");
			return 1;
		}
		n++;
		if (now() - last < 1)
			continue;
		if (mincore(map, size, vec) < 0) {
			perror("mincore");
			return 1;
		}
		for (size_t i = 0; i < pages; i++)
			res += vec[i] & 1;
		printf("t=%5.1f reads/s=%7ld resident=%5.1f%%\n", now() - t0,
		       n, 100.0 * (double)res / (double)pages);
		fflush(stdout);
		n = 0;
		last = now();
	}
	return 0;
}
