/*
 * xts_speed.c - single-core throughput of ssefs's XTS path, 4096-byte sectors
 *
 * Built by bench/run.sh against build/libssefs.a; never part of the product.
 * Encrypts (then decrypts) one 4096-byte buffer sector after sector with
 * xts_encrypt()/xts_decrypt() for about SECONDS seconds each and prints
 *
 *	xts CIPHER encrypt MB/s decrypt MB/s
 *
 * in MB/s (10^6 bytes), the unit `openssl speed` reports in kB/s (10^3).
 *
 * Usage: xts_speed [SECONDS] [aes|camellia|aes-generic]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "crypto/xts.h"

#define SECTOR	4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run @enc or decrypt over 4096-byte sectors for @secs; return MB/s. */
static double run(struct xts_ctx *x, uint8_t *buf, int enc, double secs)
{
	double t0 = now(), t;
	uint64_t sector = 0, n = 0;
	int r;

	do {
		for (int i = 0; i < 256; i++) {
			r = enc ? xts_encrypt(x, sector++, buf, SECTOR) :
				  xts_decrypt(x, sector++, buf, SECTOR);
			if (r) {
				fprintf(stderr, "xts_speed: xts: %s\n",
					strerror(-r));
				exit(1);
			}
		}
		n += 256;
		t = now() - t0;
	} while (t < secs);
	return n * (double)SECTOR / t / 1e6;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
	const char *name = argc > 2 ? argv[2] : "aes";
	enum xts_cipher c = XTS_AES256;
	static uint8_t buf[SECTOR] __attribute__((aligned(64)));
	struct secbuf *key;
	struct xts_ctx *x;
	double e, d;
	int r;

	if (!strcmp(name, "camellia"))
		c = XTS_CAMELLIA256;
	else if (!strcmp(name, "aes-generic"))
		c = XTS_AES256_GENERIC;
	if (secmem_init()) {
		fprintf(stderr, "xts_speed: secure memory: init failed\n");
		return 1;
	}
	key = secbuf_new(XTS_KEYBYTES);
	if (!key || rng_dek(key)) {
		fprintf(stderr, "xts_speed: key: cannot make one\n");
		return 1;
	}
	r = xts_new(&x, c, key, SECTOR);
	if (r) {
		fprintf(stderr, "xts_speed: xts_new: %s\n", strerror(-r));
		return 1;
	}
	memset(buf, 0x5a, sizeof(buf));
	e = run(x, buf, 1, secs);
	d = run(x, buf, 0, secs);
	printf("xts %s encrypt %.0f decrypt %.0f\n", name, e, d);
	xts_free(x);
	secbuf_free(key);
	return 0;
}
