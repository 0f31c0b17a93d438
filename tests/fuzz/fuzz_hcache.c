/*
 * fuzz_hcache.c - libFuzzer target for the host cache file parser
 *
 * The input becomes DIR/hostcache.ssefs: its first 4096 bytes the
 * superblock, the rest the table and slots.  The harness puts in the magic
 * and the superblock checksum (which the fuzzer cannot compute), and, when
 * the input's byte 8 says so, the geometry that goes with its slot count,
 * a version this ssefs reads (1 or 2) and a file long enough for it, so
 * that the table loader and the replay (hc_attach() verifying entries
 * under a key, by either version's MAC) are reached too.  Whatever
 * the file holds, hc_open() must fail cleanly or give a cache that can
 * attach a disk, detach it and close.  `make fuzz`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cache/hcache.h"
#include "crypto/secmem.h"
#include "disk/backing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SB	4096u

static char dir[64], path[128];

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void cleanup(void)
{
	rmdir(dir);
}

static int no_flush(void *owner)
{
	(void)owner;
	return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
	uint8_t sb[SB];
	uint64_t nslots, want = 0;
	FILE *f;

	memset(sb, 0, sizeof(sb));
	memcpy(sb, data, size < SB ? size : SB);
	memcpy(sb, "SSEFSHC1", 8);
	if (size > 8 && (data[8] & 1)) {
		/* a consistent geometry: 1..4096 slots */
		nslots = get64(sb + 16) % 4096 + 1;
		put64(sb + 16, nslots);
		put64(sb + 24, SB);
		put64(sb + 32, SB + (nslots * 64 + SB - 1) / SB * SB);
		sb[8] = data[8] & 8 ? 2 : 1;	/* BLAKE2b or Poly1305 */
		sb[9] = sb[10] = sb[11] = 0;
		sb[12] = 0;
		sb[13] = 0x10;
		sb[14] = sb[15] = 0;
		if (data[8] & 2)
			want = get64(sb + 32) + nslots * HC_SLOT_SIZE;
	}
	crypto_generichash_blake2b(sb + SB - 32, 32, sb, SB - 32, NULL, 0);
	f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(sb, 1, sizeof(sb), f);
	if (size > SB)
		fwrite(data + SB, 1, size - SB, f);
	fclose(f);
	if (want > size && truncate(path, (off_t)want) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hc_params p = {
		.store = "/fuzz/store", .size = 16 * HC_SLOT_SIZE,
		.mode = HC_READWRITE, .writeback_delay = 1,
	};
	char err[512], note[512];
	uint8_t uuids[4][16];
	struct hcache *hc = NULL;
	struct hc_disk *d = NULL;
	struct backing_fp fp = { 0 };
	struct secbuf *key;
	unsigned int n;

	if (!dir[0]) {
		if (sodium_init() < 0)
			abort();
		/* tmpfs when there is one: the cache syncs a lot */
		strcpy(dir, "/dev/shm/ssefs-fuzz-hc-XXXXXX");
		if (!mkdtemp(dir)) {
			strcpy(dir, "/tmp/ssefs-fuzz-hc-XXXXXX");
			if (!mkdtemp(dir))
				abort();
		}
		snprintf(path, sizeof(path), "%s/%s", dir, HC_FILE);
		atexit(cleanup);
	}
	p.dir = dir;
	write_file(data, size);
	if (size > 8 && (data[8] & 4))
		p.store = "/another/store";
	if (hc_open(&hc, &p, err, sizeof(err), note, sizeof(note)) < 0) {
		if (!err[0])
			abort();	/* a refusal always says why */
		unlink(path);
		return 0;
	}
	n = hc_pending(hc, uuids, 4);
	key = secbuf_new(HC_KEY_BYTES);
	if (!key)
		abort();
	/* replay the first pending disk: entries are checked, none can
	 * pass with this key but the loader's bookkeeping must hold */
	if (n && hc_attach(hc, uuids[0], 4096, key, &fp, no_flush, NULL,
			   &d) == 0)
		hc_detach(d, &fp);
	secbuf_free(key);
	hc_close(hc);
	unlink(path);
	return 0;
}
