/*
 * check_volume.c - the volume layer over real files, with a real AES-KWP
 * key wrap (OpenSSL) standing in for the vault
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "cache/hcache.h"
#include "cache/hcdev.h"
#include "crypto/envelope.h"
#include "crypto/secmem.h"
#include "disk/backing_file.h"
#include "disk/blkdev.h"
#include "disk/cipherdev.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/offsets.h"
#include "disk/vhd.h"
#include "disk/volume.h"

Suite *suite_volume(void);

#define KID "vault://t/platform/0123456789abcdef0123456789abcdef"

static uint8_t kek[32];
static char dir[64], path[128];

static int kwp(int enc, const uint8_t *in, int inlen, uint8_t *out, int *outlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, m = 0, ok;

	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex(c, EVP_aes_256_wrap_pad(), NULL, kek, NULL,
			       enc) == 1 &&
	     EVP_CipherUpdate(c, out, &n, in, inlen) == 1 &&
	     EVP_CipherFinal_ex(c, out + n, &m) == 1;
	EVP_CIPHER_CTX_free(c);
	*outlen = n + m;
	return ok ? 0 : -EBADMSG;
}

static int t_wrap(void *ctx, const char *kid, const struct secbuf *dek,
		  struct env_layer *l)
{
	int n;

	(void)ctx;
	l->key_source = ENV_KEY_PLATFORM;
	l->wrap_alg = ENV_WRAP_AES_KWP;
	strcpy(l->kid, kid);
	if (kwp(1, secbuf_data(dek), (int)secbuf_len(dek), l->wrapped, &n))
		return -EIO;
	l->wrapped_len = (uint16_t)n;
	return 0;
}

static int t_unwrap(void *ctx, const struct env_layer *l, struct secbuf **dek)
{
	uint8_t out[ENV_WRAPPED_MAX + 16];
	int n, r;

	(void)ctx;
	r = kwp(0, l->wrapped, l->wrapped_len, out, &n);
	if (r == 0) {
		*dek = secbuf_from(out, (size_t)n);
		r = *dek ? 0 : -ENOMEM;
	}
	sodium_memzero(out, sizeof(out));
	return r;
}

static const struct keyops ops = { NULL, t_unwrap, t_wrap };

static void make_disk(uint64_t size, uint32_t ss, unsigned int layers)
{
	struct vol_format f = {
		.plain_size = size, .sector_size = ss,
		.enc_type = layers == 2 ? ENV_TYPE_PLATFORM_AND_CUSTOMER :
					  ENV_TYPE_PLATFORM,
		.nlayers = layers, .kid = { KID, KID },
	};
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vol_format(fd, &f, &ops), 0);
	close(fd);
}

static void setup(void)
{
	randombytes_buf(kek, sizeof(kek));
	strcpy(dir, "/tmp/ssefs-vol-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.vhd", dir);
}

/* Set or clear the append-only attribute of the store file.  Return: 0,
 * or -1 when this file system or this process cannot. */
static int set_append_only(int on)
{
	int fd = open(path, O_RDONLY), flags, r = -1;

	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_APPEND_FL : flags & ~FS_APPEND_FL;
		r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return r;
}

static void teardown(void)
{
	char hc[160];

	set_append_only(0);
	snprintf(hc, sizeof(hc), "%s/%s", dir, HC_FILE);
	unlink(hc);
	unlink(path);
	rmdir(dir);
}

START_TEST(test_offsets)
{
	ck_assert_uint_eq(off_backing(0, 4096), 8192);
	ck_assert_uint_eq(off_backing(1, 512), 8192 + 512);
	ck_assert_uint_eq(off_sectors(0, 4096), 0);
	ck_assert_uint_eq(off_sectors(1, 4096), 1);
	ck_assert_uint_eq(off_sectors(4096, 4096), 1);
	ck_assert_uint_eq(off_sectors(4097, 4096), 2);
	/* a 1 MiB disk plus its footer: one more partial sector */
	ck_assert_uint_eq(off_backing_len((1u << 20) + 512, 4096),
			  8192 + (1u << 20) + 4096);
	ck_assert_uint_eq(off_backing_len((1u << 20) + 512, 512),
			  8192 + (1u << 20) + 512);
	ck_assert_uint_eq(off_backing_len(VOL_MAX_SIZE, 4096),
			  8192 + VOL_MAX_SIZE);
}
END_TEST

/* Writes at every awkward place read back; the footer boundary too. */
START_TEST(test_round_trip_edges)
{
	uint32_t ss = _i & 1 ? 512 : 4096;
	unsigned int layers = _i & 2 ? 2 : 1;
	uint64_t size = (1u << 20) + 512;
	static uint8_t ref[(1u << 20) + 512], got[(1u << 20) + 512];
	static const struct { uint64_t off, len; } w[] = {
		{ 0, 1 }, { 1, 4095 }, { 4095, 2 }, { 511, 514 },
		{ 100000, 70000 }, { (1u << 20) - 1, 2 },
		{ (1u << 20), 512 },		/* the footer */
		{ (1u << 20) + 511, 1 },	/* its last byte */
	};
	struct volume *vol = NULL;

	make_disk(size, ss, layers);
	memset(ref, 0, sizeof(ref));
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_uint_eq(vol_size(vol), size);
	/* thin: a fresh disk reads as zeros */
	ck_assert_int_eq(vol_read(vol, got, size, 0), (ssize_t)size);
	ck_assert_mem_eq(got, ref, size);
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		uint8_t chunk[70000];

		randombytes_buf(chunk, w[i].len);
		memcpy(ref + w[i].off, chunk, w[i].len);
		ck_assert_int_eq(vol_write(vol, chunk, w[i].len, w[i].off),
				 (ssize_t)w[i].len);
	}
	ck_assert_uint_eq(vol_size(vol), size);
	/* past the end: short read */
	ck_assert_int_eq(vol_read(vol, got, 100, size - 10), 10);
	/* reads at awkward places: a partial first and last sector around
	 * whole ones (those are decrypted in the caller's buffer) */
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		uint64_t o = w[i].off > 3 ? w[i].off - 3 : 0;
		uint64_t l = w[i].len + 2 * ss + 7;

		if (o + l > size)
			l = size - o;
		memset(got, 0xa5, (size_t)l);
		ck_assert_int_eq(vol_read(vol, got, (size_t)l, o), (ssize_t)l);
		ck_assert_mem_eq(got, ref + o, (size_t)l);
	}
	ck_assert_int_eq(vol_close(vol), 0);
	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, VOL_RDONLY, &ops), 0);
	ck_assert_int_eq(vol_read(vol, got, size, 0), (ssize_t)size);
	ck_assert_mem_eq(got, ref, size);
	ck_assert_int_eq(vol_write(vol, got, 1, 0), -EROFS);
	vol_close(vol);
}
END_TEST

/* The store file holds no plaintext sector. */
START_TEST(test_ciphertext_at_rest)
{
	static uint8_t plain[64 * 4096], back[64 * 4096];
	struct volume *vol = NULL;
	int fd;

	make_disk(sizeof(plain), 4096, 1);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)("canary-"[i % 7]);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_write(vol, plain, sizeof(plain), 0),
			 (ssize_t)sizeof(plain));
	vol_close(vol);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(pread(fd, back, sizeof(back), 8192),
			 (ssize_t)sizeof(back));
	close(fd);
	ck_assert_ptr_null(memmem(back, sizeof(back), "canary-c", 8));
}
END_TEST

struct writer {
	struct volume *vol;
	unsigned int id;
};

/* Each thread owns 16 bytes of every one of the first 8 sectors and
 * writes them over and over: no thread's bytes may be lost. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t b[16];

	for (int round = 0; round < 200; round++) {
		for (uint64_t sec = 0; sec < 8; sec++) {
			memset(b, (int)(w->id * 16 + (unsigned)round % 16),
			       sizeof(b));
			if (vol_write(w->vol, b, sizeof(b),
				      sec * 4096 + w->id * 16) != 16)
				return (void *)1;
		}
	}
	return NULL;
}

START_TEST(test_writers_in_one_sector)
{
	struct writer w[8];
	pthread_t t[8];
	struct volume *vol = NULL;
	uint8_t got[8 * 4096];

	make_disk(1u << 20, 4096, 1);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	for (unsigned int i = 0; i < 8; i++) {
		w[i].vol = vol;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer_main,
						&w[i]), 0);
	}
	for (unsigned int i = 0; i < 8; i++) {
		void *rv;

		pthread_join(t[i], &rv);
		ck_assert_ptr_null(rv);
	}
	ck_assert_int_eq(vol_read(vol, got, sizeof(got), 0),
			 (ssize_t)sizeof(got));
	for (uint64_t sec = 0; sec < 8; sec++)
		for (unsigned int i = 0; i < 8; i++)
			for (unsigned int k = 0; k < 16; k++)
				ck_assert_uint_eq(got[sec * 4096 + i * 16 + k],
						  i * 16 + 199 % 16);
	vol_close(vol);
}
END_TEST

static long blocks(void)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (long)st.st_blocks;
}

START_TEST(test_discard_and_truncate)
{
	static uint8_t data[1u << 20], got[1u << 20];
	struct volume *vol = NULL;
	long before;

	make_disk(4u << 20, 4096, 1);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	randombytes_buf(data, sizeof(data));
	ck_assert_int_eq(vol_write(vol, data, sizeof(data), 0),
			 (ssize_t)sizeof(data));
	ck_assert_int_eq(vol_flush(vol), 0);
	before = blocks();
	/* punch [1000, 1MiB-1000): whole sectors freed, ends zeroed */
	ck_assert_int_eq(vol_discard(vol, 1000, sizeof(data) - 2000), 0);
	ck_assert_int_lt(blocks(), before - 1500);
	ck_assert_int_eq(vol_read(vol, got, sizeof(got), 0),
			 (ssize_t)sizeof(got));
	ck_assert_mem_eq(got, data, 1000);
	ck_assert_mem_eq(got + sizeof(got) - 1000, data + sizeof(data) - 1000,
			 1000);
	for (size_t i = 1000; i < sizeof(got) - 1000; i++)
		ck_assert_uint_eq(got[i], 0);

	/* shrink into a sector, grow again: the cut-off bytes read zero */
	ck_assert_int_eq(vol_truncate(vol, 10), 0);
	ck_assert_uint_eq(vol_size(vol), 10);
	ck_assert_int_eq(vol_truncate(vol, 8192), 0);
	ck_assert_int_eq(vol_read(vol, got, 8192, 0), 8192);
	ck_assert_mem_eq(got, data, 10);
	for (size_t i = 10; i < 8192; i++)
		ck_assert_uint_eq(got[i], 0);
	/* the size survives a reopen (persisted at close) */
	ck_assert_int_eq(vol_close(vol), 0);
	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_uint_eq(vol_size(vol), 8192);
	/* writing past the end grows the disk */
	ck_assert_int_eq(vol_write(vol, data, 100, 20000), 100);
	ck_assert_uint_eq(vol_size(vol), 20100);
	vol_close(vol);
}
END_TEST

START_TEST(test_wrong_key_and_revocation)
{
	struct volume *vol = NULL;
	uint8_t b[4096] = { 1 };

	make_disk(1u << 20, 4096, 1);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_write(vol, b, sizeof(b), 0), 4096);
	vol_drop_keys(vol);
	ck_assert_int_eq(vol_has_keys(vol), 0);
	ck_assert_int_eq(vol_read(vol, b, sizeof(b), 0), -EKEYREVOKED);
	ck_assert_int_eq(vol_write(vol, b, sizeof(b), 0), -EKEYREVOKED);
	ck_assert_int_eq(vol_reload_keys(vol), 0);
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(vol_read(vol, b, sizeof(b), 0), 4096);
	ck_assert_uint_eq(b[0], 1);
	/* the daemon's "in use" lock is visible to others */
	ck_assert_int_eq(vol_in_use(path), 1);
	vol_close(vol);
	ck_assert_int_eq(vol_in_use(path), 0);

	/* another KEK unwraps garbage or nothing: never opens */
	randombytes_buf(kek, sizeof(kek));
	vol = NULL;
	ck_assert_int_lt(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_ptr_null(vol);
}
END_TEST

/* --- the bound footer (ENV_RO_COMPAT_BOUND_FOOTER) -------------------- */

#define BF_DATA		(1u << 20)

static int on_disk_bound(const char *p)
{
	struct env_header h;

	ck_assert_int_eq(vol_probe(p, &h), 0);
	return (h.ro_compat & ENV_RO_COMPAT_BOUND_FOOTER) != 0;
}

/* A disk at @path with its footer written and bound, as create does. */
static void make_bound(uint32_t ss)
{
	uint8_t f[VHD_FOOTER_BYTES];
	struct volume *vol = NULL;
	struct env_header h;

	make_disk(BF_DATA + VHD_FOOTER_BYTES, ss, 1);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	/* no footer yet: nothing to bind */
	ck_assert_int_eq(vol_bind_footer(vol), VOL_EFOREIGN);
	vol_get_header(vol, &h);
	vhd_footer_build(f, BF_DATA, h.uuid, time(NULL));
	ck_assert_int_eq(vol_write(vol, f, sizeof(f), BF_DATA), sizeof(f));
	ck_assert_int_eq(vol_bind_footer(vol), 0);
	ck_assert_int_eq(vol_close(vol), 0);
	ck_assert(on_disk_bound(path));
}

START_TEST(test_bound_footer)
{
	uint32_t ss = _i ? 4096 : 512;
	struct volume *vol = NULL;
	char other[160];
	uint8_t b = 7;

	/* a write into the footer's sector clears the flag on disk before
	 * it returns, not at close: a crash cannot leave it set */
	make_bound(ss);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_write(vol, &b, 1, BF_DATA - 1), 1);
	ck_assert(on_disk_bound(path));		/* not the footer's sector */
	ck_assert_int_eq(vol_write(vol, &b, 1, BF_DATA + 600 % ss), 1);
	ck_assert(!on_disk_bound(path));
	ck_assert_int_eq(vol_close(vol), 0);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_close(vol), 0);

	/* a discard there, or a truncate, does too */
	make_bound(ss);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_discard(vol, BF_DATA, VHD_FOOTER_BYTES), 0);
	ck_assert(!on_disk_bound(path));
	ck_assert_int_eq(vol_close(vol), 0);
	make_bound(ss);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_truncate(vol, 2 * BF_DATA), 0);
	ck_assert(!on_disk_bound(path));
	ck_assert_int_eq(vol_close(vol), 0);
	ck_assert(!on_disk_bound(path));	/* no footer at the new end */

	/* the footer rewritten (a resize through the mount ends so): the
	 * flag goes at the write and comes back at close */
	make_bound(ss);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	{
		uint8_t f[VHD_FOOTER_BYTES];
		struct env_header h;

		vol_get_header(vol, &h);
		vhd_footer_build(f, BF_DATA, h.uuid, time(NULL));
		ck_assert_int_eq(vol_write(vol, f, sizeof(f), BF_DATA),
				 sizeof(f));
	}
	ck_assert(!on_disk_bound(path));
	ck_assert_int_eq(vol_close(vol), 0);
	ck_assert(on_disk_bound(path));
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_close(vol), 0);

	/* two bound disks with their headers exchanged: neither opens */
	snprintf(other, sizeof(other), "%s/e.vhd", dir);
	make_bound(ss);
	ck_assert_int_eq(rename(path, other), 0);
	make_bound(ss);
	{
		uint8_t ha[ENV_DATA_OFFSET], hb[ENV_DATA_OFFSET];
		int fa = open(path, O_RDWR), fb = open(other, O_RDWR);

		ck_assert(fa >= 0 && fb >= 0);
		ck_assert_int_eq(pread(fa, ha, sizeof(ha), 0), sizeof(ha));
		ck_assert_int_eq(pread(fb, hb, sizeof(hb), 0), sizeof(hb));
		ck_assert_int_eq(pwrite(fa, hb, sizeof(hb), 0), sizeof(hb));
		ck_assert_int_eq(pwrite(fb, ha, sizeof(ha), 0), sizeof(ha));
		close(fa);
		close(fb);
	}
	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), VOL_EFOREIGN);
	ck_assert_ptr_null(vol);
	ck_assert_int_eq(vol_open(&vol, other, VOL_RDONLY, &ops),
			 VOL_EFOREIGN);
	unlink(other);
}
END_TEST

/* --- the host cache (cache/hcache.h) through a volume ------------------ */

#define HC_REGION	(256u * 1024)
#define HC_THREADS	4

/* A cache file of format @version (0: the current one) */
static struct hcache *open_cache_v(int mode, int plain, uint64_t size,
				   unsigned int version)
{
	struct hc_params p = {
		.dir = dir, .store = "/unit/store", .size = size,
		.mode = mode, .plain = plain, .writeback_delay = 1,
		.version = version,
	};
	struct hcache *hc = NULL;
	char err[512], note[512];

	ck_assert_int_eq(hc_open(&hc, &p, err, sizeof(err), note,
				 sizeof(note)), 0);
	return hc;
}

static struct hcache *open_cache(int mode, int plain, uint64_t size)
{
	return open_cache_v(mode, plain, size, 0);
}

struct hc_worker {
	struct volume *vol;
	unsigned int id;
	uint8_t ref[HC_REGION];
	int bad;
};

/* One thread owns one region: random writes, discards and reads, each
 * read checked against what this thread wrote. */
static void *hc_work(void *arg)
{
	struct hc_worker *w = arg;
	uint64_t base = (uint64_t)w->id * HC_REGION;
	static __thread uint8_t buf[24000];

	for (int op = 0; op < 300 && !w->bad; op++) {
		uint32_t off = randombytes_uniform(HC_REGION - 1);
		uint32_t len = 1 + randombytes_uniform(sizeof(buf));

		if (off + len > HC_REGION)
			len = HC_REGION - off;
		switch (randombytes_uniform(8)) {
		case 0:
			if (vol_discard(w->vol, base + off, len) != 0)
				w->bad = 1;
			memset(w->ref + off, 0, len);
			break;
		case 1: case 2: case 3:
			randombytes_buf(buf, len);
			if (vol_write(w->vol, buf, len, base + off) !=
			    (ssize_t)len)
				w->bad = 2;
			memcpy(w->ref + off, buf, len);
			break;
		default:
			if (vol_read(w->vol, buf, len, base + off) !=
			    (ssize_t)len || memcmp(buf, w->ref + off, len))
				w->bad = 3;
		}
	}
	return NULL;
}

/*
 * Four threads through a 16-slot cache (evictions, write-through when it
 * is full of dirty sectors, the background write-back racing them): every
 * read sees the thread's own last write, and after a flush the store alone
 * holds it all.  Variants: bit 0 ReadWrite, bit 1 plaintext cache, bit 2
 * 512-byte sectors.
 */
START_TEST(test_cache_threads)
{
	int mode = _i & 1 ? HC_READWRITE : HC_READONLY;
	uint32_t ss = _i & 4 ? 512 : 4096;
	static struct hc_worker w[HC_THREADS];
	static uint8_t got[HC_REGION];
	pthread_t t[HC_THREADS];
	struct volume *vol = NULL;
	struct hcache *hc;
	struct hc_stats st;

	make_disk((uint64_t)HC_THREADS * HC_REGION, ss, 1);
	hc = open_cache(mode, _i & 2, 64 * 1024);
	ck_assert_int_eq(hc_start(hc), 0);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(hcdev_attach(vol, hc), 0);
	for (unsigned int i = 0; i < HC_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].vol = vol;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, hc_work, &w[i]),
				 0);
	}
	for (unsigned int i = 0; i < HC_THREADS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].bad, 0);
	}
	ck_assert_int_eq(vol_flush(vol), 0);
	hc_get_stats(hc, &st);
	ck_assert_uint_eq(st.dirty, 0);
	ck_assert_uint_gt(st.hits + st.misses, 0);
	ck_assert_int_eq(vol_close(vol), 0);
	hc_close(hc);

	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, VOL_RDONLY, &ops), 0);
	for (unsigned int i = 0; i < HC_THREADS; i++) {
		ck_assert_int_eq(vol_read(vol, got, HC_REGION,
					  (uint64_t)i * HC_REGION),
				 (ssize_t)HC_REGION);
		ck_assert_mem_eq(got, w[i].ref, HC_REGION);
	}
	vol_close(vol);
}
END_TEST

/*
 * A process writes through a ReadWrite cache and dies before any
 * write-back; the next open adopts and writes back what it left, but not
 * an entry whose data was altered.
 */
/* Flip one bit at @off in the cache file slot whose dirty entry holds
 * @sector; with @in_entry, at @off in the entry instead of the data.  The
 * file is open_cache()'s of 1 MiB: 256 slots, their table at 4096, their
 * data at 4096 + 256 * 64 = 5 * 4096. */
static void alter_slot(int fd, uint64_t sector, int in_entry, off_t off)
{
	for (uint64_t i = 0; i < 256; i++) {
		off_t at = in_entry ? 4096 + 64 * (off_t)i + off :
				      4096 * 5 + 4096 * (off_t)i + off;
		uint8_t e[64], b;
		uint64_t sec = 0;

		ck_assert_int_eq(pread(fd, e, 64, 4096 + 64 * i), 64);
		for (int k = 7; k >= 0; k--)
			sec = sec << 8 | e[16 + k];
		if (!(e[32] & 1) || sec != sector)
			continue;
		ck_assert_int_eq(pread(fd, &b, 1, at), 1);
		b ^= 1;
		ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
	}
}

/*
 * A crash leaves 64 dirty sectors in the cache; the next mount replays
 * them, but not one whose data was altered, nor (version 2) one whose
 * entry's session was.  _i: bit 0 encryption at host off, bit 1 a file
 * in version 1, as an older ssefs left it (BLAKE2b MACs), whose entries
 * have no session.
 */
START_TEST(test_cache_replay)
{
	static uint8_t data[64 * 4096], got[64 * 4096];
	uint8_t seed[randombytes_SEEDBYTES] = { 7 };
	unsigned int version = _i & 2 ? 1 : 0;
	struct volume *vol = NULL;
	struct hcache *hc;
	struct hc_stats st;
	uint8_t uuid[1][16], sb[12];
	char hcpath[160];
	pid_t pid;
	int status, fd;

	randombytes_buf_deterministic(data, sizeof(data), seed);
	make_disk(sizeof(data) + 4096, 4096, 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		hc = open_cache_v(HC_READWRITE, _i & 1, 1 << 20, version);
		if (vol_open(&vol, path, 0, &ops) || hcdev_attach(vol, hc) ||
		    vol_write(vol, data, sizeof(data), 0) != sizeof(data))
			_exit(1);
		_exit(0);		/* no flush, no close: a crash */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);

	snprintf(hcpath, sizeof(hcpath), "%s/%s", dir, HC_FILE);
	fd = open(hcpath, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, sb, sizeof(sb), 0), sizeof(sb));
	ck_assert_uint_eq(sb[8], version ? 1 : 2);
	alter_slot(fd, 5, 0, 9);	/* the data of sector 5 */
	if (!version)
		alter_slot(fd, 7, 1, 60);	/* sector 7's session */
	close(fd);

	/* the next mount adopts the valid ones, writes sector 40 into the
	 * cache (in the file's own format) and crashes too */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		hc = open_cache(HC_READWRITE, 0, 1 << 20);
		if (hc_pending(hc, uuid, 1) != 1 ||
		    vol_open(&vol, path, 0, &ops) || hcdev_attach(vol, hc))
			_exit(1);
		hc_get_stats(hc, &st);
		if (st.dirty != (version ? 63u : 62u) ||
		    st.refused != (version ? 1u : 2u) || st.pending)
			_exit(2);
		if (vol_write(vol, data + 9 * 4096, 4096, 40 * 4096) != 4096)
			_exit(3);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	fd = open(hcpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, sb, sizeof(sb), 0), sizeof(sb));
	ck_assert_uint_eq(sb[8], version ? 1 : 2);
	close(fd);

	hc = open_cache(HC_READWRITE, 0, 1 << 20);
	ck_assert_uint_eq(hc_pending(hc, uuid, 1), 1);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(hcdev_attach(vol, hc), 0);
	hc_get_stats(hc, &st);
	ck_assert_uint_eq(st.dirty, version ? 63 : 62);
	ck_assert_uint_eq(st.refused, 0);
	ck_assert_int_eq(vol_close(vol), 0);
	hc_close(hc);

	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, VOL_RDONLY, &ops), 0);
	ck_assert_int_eq(vol_read(vol, got, sizeof(got), 0),
			 (ssize_t)sizeof(got));
	vol_close(vol);
	memcpy(data + 40 * 4096, data + 9 * 4096, 4096);
	ck_assert_mem_eq(got, data, 5 * 4096);
	for (size_t i = 5 * 4096; i < 6 * 4096; i++)
		ck_assert_uint_eq(got[i], 0);	/* the store's old zeros */
	if (version) {
		ck_assert_mem_eq(got + 6 * 4096, data + 6 * 4096, 58 * 4096);
	} else {
		ck_assert_mem_eq(got + 6 * 4096, data + 6 * 4096, 4096);
		for (size_t i = 7 * 4096; i < 8 * 4096; i++)
			ck_assert_uint_eq(got[i], 0);
		ck_assert_mem_eq(got + 8 * 4096, data + 8 * 4096, 56 * 4096);
	}
}
END_TEST

static int no_flush(void *owner)
{
	(void)owner;
	return 0;
}

/*
 * The table entry of a cached write, byte for byte as ssefs-format(5)
 * says, recomputed here from the documented formula: version 1 (_i 0), a
 * keyed BLAKE2b-128; version 2 (_i 1), Poly1305 under a one-time key.
 */
START_TEST(test_cache_entry_format)
{
	static uint8_t buf[4096], slot[4096];
	unsigned int version = _i ? 2 : 1;
	uint8_t uuid[16] = { 0x42 }, kb[HC_KEY_BYTES], sb[64], e[64];
	uint8_t ix[8], otk[32], mac[16], zero[8] = { 0 };
	crypto_generichash_blake2b_state st;
	struct backing_fp fp = { 0 };
	struct hc_disk *d;
	struct secbuf *key;
	struct hcache *hc;
	char hcpath[160];
	uint64_t idx = 0;
	int fd;

	randombytes_buf(buf, sizeof(buf));
	randombytes_buf(kb, sizeof(kb));
	key = secbuf_from(kb, sizeof(kb));
	ck_assert_ptr_nonnull(key);
	hc = open_cache_v(HC_READWRITE, 0, 16 * 4096, version == 1);
	ck_assert_int_eq(hc_attach(hc, uuid, 4096, key, &fp, no_flush, NULL,
				   &d), 0);
	ck_assert_int_eq(hc_write_dirty(d, 77, buf, 0), 1);

	snprintf(hcpath, sizeof(hcpath), "%s/%s", dir, HC_FILE);
	fd = open(hcpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, sb, sizeof(sb), 0), sizeof(sb));
	ck_assert_uint_eq(sb[8], version);
	for (idx = 0; idx < 16; idx++) {
		ck_assert_int_eq(pread(fd, e, 64, 4096 + 64 * idx), 64);
		if (e[32] & 1)
			break;
	}
	ck_assert_uint_lt(idx, 16);
	ck_assert_int_eq(pread(fd, slot, 4096, 8192 + 4096 * idx), 4096);
	close(fd);
	ck_assert_mem_eq(slot, buf, sizeof(buf));
	ck_assert_mem_eq(e, uuid, 16);
	ck_assert_uint_eq(e[16], 77);
	ck_assert_uint_eq(e[32], 1);
	ck_assert_uint_eq(e[37], 0x10);	/* length 4096 */
	for (int k = 0; k < 8; k++)
		ix[k] = (uint8_t)(idx >> (8 * k));
	if (version == 1) {
		ck_assert_mem_eq(e + 56, zero, 8);
		crypto_generichash_blake2b_init(&st, kb, sizeof(kb), 16);
		crypto_generichash_blake2b_update(&st, e, 40);
		crypto_generichash_blake2b_update(&st, sb + 48, 16);
		crypto_generichash_blake2b_update(&st, ix, 8);
		crypto_generichash_blake2b_update(&st, buf, sizeof(buf));
		crypto_generichash_blake2b_final(&st, mac, 16);
	} else {
		crypto_generichash_blake2b_init(&st, kb, sizeof(kb), 32);
		crypto_generichash_blake2b_update(&st, e, 40);
		crypto_generichash_blake2b_update(&st, e + 56, 8);
		crypto_generichash_blake2b_update(&st, sb + 48, 16);
		crypto_generichash_blake2b_update(&st, ix, 8);
		crypto_generichash_blake2b_final(&st, otk, 32);
		crypto_onetimeauth_poly1305(mac, buf, sizeof(buf), otk);
	}
	ck_assert_mem_eq(e + 40, mac, 16);
	hc_detach(d, &fp);
	hc_close(hc);
	secbuf_free(key);
}
END_TEST

struct pin_race {
	struct hc_disk *d;
	volatile int stop;
	unsigned long hits, bad;
};

/* Read sector 0 over and over: a hit must be sector 0's bytes (0xa0). */
static void *pin_reader(void *arg)
{
	struct pin_race *pr = arg;
	static uint8_t buf[4096];

	while (!pr->stop) {
		int plain;

		if (hc_read(pr->d, 0, buf, &plain) != 1)
			continue;
		pr->hits++;
		for (size_t i = 0; i < sizeof(buf); i++)
			if (buf[i] != 0xa0) {
				pr->bad++;
				break;
			}
	}
	return NULL;
}

/*
 * A reader holds a slot pinned while it copies the data out; dropping the
 * sector (discard, truncate) meanwhile must not free the slot under it,
 * else the slot goes to another sector and the reader returns that
 * sector's bytes as a hit.  15 of the 16 slots are kept dirty, so the one
 * left over alternates between sector 0 (0xa0) and sector 1 (0xb1).
 */
START_TEST(test_cache_drop_pinned)
{
	static uint8_t a[4096], b[4096];
	uint8_t uuid[16] = { 1 };
	struct pin_race pr = { 0 };
	struct backing_fp fp = { 0 };
	struct secbuf *key;
	struct hcache *hc;
	pthread_t t;
	time_t end;

	memset(a, 0xa0, sizeof(a));
	memset(b, 0xb1, sizeof(b));
	hc = open_cache(HC_READWRITE, 0, 16 * 4096);
	key = secbuf_new(HC_KEY_BYTES);
	ck_assert_ptr_nonnull(key);
	ck_assert_int_eq(hc_attach(hc, uuid, 4096, key, &fp, no_flush, NULL,
				   &pr.d), 0);
	for (uint64_t sec = 100; sec < 115; sec++)
		ck_assert_int_eq(hc_write_dirty(pr.d, sec, b, 0), 1);
	ck_assert_int_eq(pthread_create(&t, NULL, pin_reader, &pr), 0);
	end = time(NULL) + 3;
	while (time(NULL) < end && !pr.bad) {
		for (int k = 0; k < 200; k++) {
			hc_fill(pr.d, 0, a, 0, hc_token(pr.d));
			hc_drop(pr.d, 0, 0);
			hc_fill(pr.d, 1, b, 0, hc_token(pr.d));
			hc_drop(pr.d, 1, 1);
		}
	}
	pr.stop = 1;
	pthread_join(t, NULL);
	ck_assert_uint_gt(pr.hits, 0);
	ck_assert_uint_eq(pr.bad, 0);
	/* all slots usable again: no pin left behind */
	hc_drop(pr.d, 0, UINT64_MAX);
	ck_assert_int_eq(hc_checkpoint(pr.d, hc_mark(pr.d)), 0);
	for (uint64_t sec = 200; sec < 216; sec++)
		ck_assert_int_eq(hc_write_dirty(pr.d, sec, a, 0), 1);
	hc_detach(pr.d, &fp);
	hc_close(hc);
	secbuf_free(key);
}
END_TEST

/*
 * A mount with encryption at host off leaves plaintext in the slots it
 * cached; the next mount of the same store, with encryption at host on,
 * must not keep that plaintext in its cache file ("clean cached sectors
 * are forgotten at every mount").
 */
START_TEST(test_cache_plain_forgotten)
{
	static uint8_t secret[4096], file[64 * 4096 + 8192];
	uint8_t uuid[16] = { 2 };
	struct hc_disk *d = NULL;
	struct backing_fp fp = { 0 };
	struct secbuf *key;
	struct hcache *hc;
	char hcpath[160];
	ssize_t got;
	int fd;

	memset(secret, 'S', sizeof(secret));
	memcpy(secret, "TOP-SECRET-PLAINTEXT", 20);
	key = secbuf_new(HC_KEY_BYTES);
	ck_assert_ptr_nonnull(key);
	hc = open_cache(HC_READONLY, 1, 16 * 4096);
	ck_assert_int_eq(hc_attach(hc, uuid, 4096, key, &fp, no_flush, NULL,
				   &d), 0);
	hc_fill(d, 3, secret, 1, hc_token(d));
	hc_detach(d, &fp);
	hc_close(hc);

	hc = open_cache(HC_READONLY, 0, 16 * 4096);
	snprintf(hcpath, sizeof(hcpath), "%s/%s", dir, HC_FILE);
	fd = open(hcpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	got = read(fd, file, sizeof(file));
	close(fd);
	ck_assert_int_gt(got, 16 * 4096);
	ck_assert_ptr_null(memmem(file, (size_t)got, secret, 20));
	hc_close(hc);
	secbuf_free(key);
}
END_TEST

struct trunc_race {
	struct volume *vol;
	volatile int stop;
	unsigned long reads;
};

/* Read the sectors a truncation cuts off, over and over. */
static void *trunc_reader(void *arg)
{
	struct trunc_race *tr = arg;
	static uint8_t buf[8 * 4096];

	while (!tr->stop) {
		vol_read(tr->vol, buf, sizeof(buf), 8 * 4096);
		tr->reads++;
	}
	return NULL;
}

/*
 * A shrink racing a reader: a reader that read the store before the
 * ftruncate() must not put what it read in the cache after the cached
 * copies were dropped, else growing the disk again shows the old bytes
 * from the cache where the store has zeros.
 */
START_TEST(test_cache_truncate_read_race)
{
	static uint8_t data[8 * 4096], got[8 * 4096], zero[8 * 4096];
	struct trunc_race tr = { 0 };
	struct volume *vol = NULL;
	struct hcache *hc;
	pthread_t t;
	time_t end;
	int bad = 0;

	memset(data, 0x5a, sizeof(data));
	make_disk(16 * 4096, 4096, 1);
	hc = open_cache(HC_READONLY, _i, 1 << 20);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(hcdev_attach(vol, hc), 0);
	tr.vol = vol;
	ck_assert_int_eq(pthread_create(&t, NULL, trunc_reader, &tr), 0);
	end = time(NULL) + 4;
	while (time(NULL) < end && !bad) {
		ck_assert_int_eq(vol_write(vol, data, sizeof(data), 8 * 4096),
				 (ssize_t)sizeof(data));
		ck_assert_int_eq(vol_truncate(vol, 8 * 4096), 0);
		ck_assert_int_eq(vol_truncate(vol, 16 * 4096), 0);
		ck_assert_int_eq(vol_read(vol, got, sizeof(got), 8 * 4096),
				 (ssize_t)sizeof(got));
		bad = memcmp(got, zero, sizeof(got)) != 0;
	}
	tr.stop = 1;
	pthread_join(t, NULL);
	ck_assert_uint_gt(tr.reads, 0);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(vol_close(vol), 0);
	hc_close(hc);
}
END_TEST

/*
 * A discard the store refuses (here: an append-only file, where the
 * kernel refuses to punch holes) changes nothing: written sectors the
 * ReadWrite cache has not written back yet must not be dropped with it,
 * else the disk reads the store's older bytes.
 */
START_TEST(test_cache_discard_fails)
{
	static uint8_t data[8 * 4096], got[8 * 4096];
	struct volume *vol = NULL;
	struct hcache *hc;

	memset(data, 0x77, sizeof(data));
	make_disk(16 * 4096, 4096, 1);
	hc = open_cache(HC_READWRITE, _i, 1 << 20);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(hcdev_attach(vol, hc), 0);
	ck_assert_int_eq(vol_write(vol, data, sizeof(data), 0),
			 (ssize_t)sizeof(data));
	if (set_append_only(1) < 0) {
		vol_close(vol);
		hc_close(hc);
		return;		/* cannot make the store refuse here */
	}
	ck_assert_int_lt(vol_discard(vol, 0, sizeof(data)), 0);
	ck_assert_int_eq(set_append_only(0), 0);
	ck_assert_int_eq(vol_read(vol, got, sizeof(got), 0),
			 (ssize_t)sizeof(got));
	ck_assert_mem_eq(got, data, sizeof(data));
	ck_assert_int_eq(vol_close(vol), 0);
	hc_close(hc);

	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, VOL_RDONLY, &ops), 0);
	ck_assert_int_eq(vol_read(vol, got, sizeof(got), 0),
			 (ssize_t)sizeof(got));
	ck_assert_mem_eq(got, data, sizeof(data));
	vol_close(vol);
}
END_TEST

static void copy_file(const char *from, const char *to)
{
	static uint8_t buf[1 << 16];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	ck_assert_int_ge(in, 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(out, 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	close(out);
}

/*
 * Power lost inside the fsync that follows a shrink: the store (its new
 * size in the header) is synced, the cache file's cleared entries are not,
 * so the entries of the dirty sectors the shrink cut off are still valid.
 * (The test makes that state by putting back a copy of the cache file
 * taken before the fsync.)  The replay must not write them back past the
 * disk's end, where growing the disk later would show them again instead
 * of zeros.
 */
START_TEST(test_cache_replay_past_end)
{
	static uint8_t data[8 * 4096], got[8 * 4096], zero[8 * 4096];
	struct volume *vol = NULL;
	struct hcache *hc;
	char hcpath[160], saved[160];

	memset(data, 0x33, sizeof(data));
	snprintf(hcpath, sizeof(hcpath), "%s/%s", dir, HC_FILE);
	snprintf(saved, sizeof(saved), "%s/saved", dir);
	make_disk(16 * 4096, 4096, 1);
	hc = open_cache(HC_READWRITE, _i, 1 << 20);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(hcdev_attach(vol, hc), 0);
	ck_assert_int_eq(vol_write(vol, data, sizeof(data), 8 * 4096),
			 (ssize_t)sizeof(data));
	ck_assert_int_eq(vol_truncate(vol, 8 * 4096), 0);
	copy_file(hcpath, saved);
	ck_assert_int_eq(vol_flush(vol), 0);
	ck_assert_int_eq(vol_close(vol), 0);
	hc_close(hc);
	copy_file(saved, hcpath);
	unlink(saved);

	/* the next mount replays */
	hc = open_cache(HC_READWRITE, _i, 1 << 20);
	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_uint_eq(vol_size(vol), 8 * 4096);
	ck_assert_int_eq(hcdev_attach(vol, hc), 0);
	ck_assert_int_eq(vol_close(vol), 0);
	hc_close(hc);

	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_truncate(vol, 16 * 4096), 0);
	ck_assert_int_eq(vol_read(vol, got, sizeof(got), 8 * 4096),
			 (ssize_t)sizeof(got));
	ck_assert_mem_eq(got, zero, sizeof(got));
	vol_close(vol);
}
END_TEST

/* --- the stack's devices on their own ------------------------------------ */

static int count_range(void *arg, uint64_t off, uint64_t len)
{
	uint64_t *seen = arg;

	/* bit i: 4 KiB block i of the first 256 KiB is in a range */
	for (uint64_t b = off / 4096; b < (off + len + 4095) / 4096 && b < 64;
	     b++)
		*seen |= UINT64_C(1) << b;
	return 0;
}

/* The file backing: zeros past the end and in holes, punch, the data
 * ranges, the size, the in-use lock seen from another open, the
 * fingerprint. */
START_TEST(test_backing_file)
{
	struct backing *b = NULL, *c = NULL;
	struct backing_fp fp1, fp2;
	uint8_t in[4096], out[8192];
	uint64_t len, seen = 0;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(backing_file_new(&b, fd, path), 0);
	ck_assert_str_eq(b->ops->kind, "file");
	memset(in, 0xa5, sizeof(in));
	ck_assert_int_eq(b->ops->pwrite(b, in, sizeof(in), 16384), 0);
	ck_assert_int_eq(b->ops->pwrite(b, in, sizeof(in), 65536), 0);
	ck_assert_int_eq(b->ops->get_size(b, &len), 0);
	ck_assert_uint_eq(len, 65536 + 4096);
	/* the last page and one past the end */
	memset(out, 1, sizeof(out));
	ck_assert_int_eq(b->ops->pread(b, out, sizeof(out), 65536), 0);
	ck_assert_mem_eq(out, in, 4096);
	for (size_t i = 4096; i < sizeof(out); i++)
		ck_assert_uint_eq(out[i], 0);
	ck_assert_int_eq(b->ops->ranges(b, 0, 256 * 1024, count_range, &seen),
			 0);
	ck_assert(seen & (UINT64_C(1) << 4));
	ck_assert(seen & (UINT64_C(1) << 16));
	ck_assert(!(seen & (UINT64_C(1) << 10)));
	ck_assert_int_eq(b->ops->punch(b, 16384, 4096), 0);
	ck_assert_int_eq(b->ops->pread(b, out, 4096, 16384), 0);
	for (size_t i = 0; i < 4096; i++)
		ck_assert_uint_eq(out[i], 0);
	ck_assert_int_eq(b->ops->fingerprint(b, &fp1), 0);
	ck_assert_int_eq(b->ops->set_size(b, 1 << 20), 0);
	ck_assert_int_eq(b->ops->fingerprint(b, &fp2), 0);
	ck_assert(memcmp(&fp1, &fp2, sizeof(fp1)) != 0);
	ck_assert_int_eq(b->ops->sync(b), 0);

	/* in use: seen from another open of the file, until closed */
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(backing_file_new(&c, fd, path), 0);
	ck_assert_int_eq(c->ops->inuse(c), 0);
	ck_assert_int_eq(b->ops->hold_inuse(b), 0);
	ck_assert_int_eq(c->ops->inuse(c), 1);
	ck_assert_int_eq(b->ops->hdr_lock(b), 0);
	b->ops->hdr_unlock(b);
	b->ops->close(b);
	ck_assert_int_eq(c->ops->inuse(c), 0);
	c->ops->close(c);
}
END_TEST

/*
 * The cipher layer over a store device over a file backing, without a
 * volume: what goes down is ciphertext, the caller's plaintext is left as
 * it is, holes and all-zero ciphertext read as zeros, keys drop and come
 * back.  One and two layers.
 */
START_TEST(test_cipher_layer)
{
	static uint8_t plain[8 * 4096], copy[8 * 4096], got[8 * 4096];
	struct blkdev *store = NULL, *ciph = NULL;
	struct backing *b = NULL;
	struct env_header h;
	uint64_t nsec;
	int fd;

	make_disk(64 * 4096, 4096, 1 + _i);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(backing_file_new(&b, fd, path), 0);
	ck_assert_int_eq(hdr_get(b, &h, NULL), 0);
	ck_assert_int_eq(storedev_new(&store, b, 4096, ENV_DATA_OFFSET), 0);
	ck_assert_int_eq(cipherdev_new(&ciph, store, &ops), 0);
	ck_assert_ptr_eq(ciph->lower, store);
	ck_assert_int_eq(ciph->ops->read(ciph, 0, got, 1), -EKEYREVOKED);
	ck_assert_int_eq(cipherdev_load(ciph, &h), 0);
	ck_assert_int_eq(cipherdev_verify_mac(ciph, &h), 0);

	randombytes_buf(plain, sizeof(plain));
	memcpy(copy, plain, sizeof(plain));
	ck_assert_int_eq(ciph->ops->write(ciph, 3, plain, 8), 0);
	ck_assert_mem_eq(plain, copy, sizeof(plain));
	ck_assert_int_eq(ciph->ops->read(ciph, 3, got, 8), 0);
	ck_assert_mem_eq(got, plain, sizeof(plain));
	/* the store holds ciphertext, sector by sector unlike the plaintext */
	ck_assert_int_eq(store->ops->read(store, 3, got, 8), 0);
	for (int i = 0; i < 8; i++)
		ck_assert(memcmp(got + i * 4096, plain + i * 4096, 4096));
	/* a sector never written, and an all-zero ciphertext one */
	memset(copy, 0, 4096);
	ck_assert_int_eq(store->ops->write(store, 5, copy, 1), 0);
	ck_assert_int_eq(ciph->ops->read(ciph, 0, got, 8), 0);
	for (size_t i = 0; i < 3 * 4096; i++)
		ck_assert_uint_eq(got[i], 0);
	for (size_t i = 5 * 4096; i < 6 * 4096; i++)
		ck_assert_uint_eq(got[i], 0);
	ck_assert_mem_eq(got + 3 * 4096, plain, 2 * 4096);

	/* size, resize and discard pass down to the store */
	ck_assert_int_eq(ciph->ops->size(ciph, &nsec), 0);
	ck_assert_uint_eq(nsec, 64);
	ck_assert_int_eq(ciph->ops->resize(ciph, 80), 0);
	ck_assert_int_eq(store->ops->size(store, &nsec), 0);
	ck_assert_uint_eq(nsec, 80);
	ck_assert_int_eq(ciph->ops->discard(ciph, 4, 1), 0);
	ck_assert_int_eq(ciph->ops->read(ciph, 4, got, 1), 0);
	for (size_t i = 0; i < 4096; i++)
		ck_assert_uint_eq(got[i], 0);
	ck_assert_int_eq(ciph->ops->flush(ciph), 0);

	cipherdev_drop(ciph);
	ck_assert_int_eq(cipherdev_has_keys(ciph), 0);
	ck_assert_ptr_null(cipherdev_cache_key(ciph));
	ck_assert_int_eq(ciph->ops->write(ciph, 3, plain, 1), -EKEYREVOKED);
	ck_assert_int_eq(cipherdev_load(ciph, &h), 0);
	ck_assert_int_eq(ciph->ops->read(ciph, 3, got, 1), 0);
	ck_assert_mem_eq(got, plain, 4096);
	/* a header of another MAC: refused, nothing kept */
	h.mac[0] ^= 1;
	ck_assert_int_eq(cipherdev_load(ciph, &h), -EBADMSG);
	ck_assert_int_eq(cipherdev_has_keys(ciph), 0);
	ciph->ops->close(ciph, 1);		/* and the store device */
	b->ops->close(b);
}
END_TEST

static int hc_file_has(const uint8_t *canary, size_t len)
{
	char hcpath[160];
	static uint8_t buf[1 << 21];
	ssize_t n;
	int fd, found = 0;

	snprintf(hcpath, sizeof(hcpath), "%s/%s", dir, HC_FILE);
	fd = open(hcpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	for (ssize_t i = 0; i + (ssize_t)len <= n && !found; i += 512)
		found = !memcmp(buf + i, canary, len);
	return found;
}

/* The volume reads @want from 0 on (into @got, @len bytes). */
static void expect_data(struct volume *vol, const uint8_t *want, uint8_t *got,
			size_t len)
{
	memset(got, 0, len);
	ck_assert_int_eq(vol_read(vol, got, len, 0), (ssize_t)len);
	ck_assert_mem_eq(got, want, len);
}

/*
 * The host cache device where it is pushed: below the cipher layer its
 * file holds only ciphertext, above it plaintext.  Then a replay without
 * a crash: the cache file as it was before the flush and the store as it
 * was before the writes are put back; the next attach adopts the dirty
 * sectors, serves them, and writes them back.
 */
START_TEST(test_cache_device_replay)
{
	static uint8_t data[32 * 4096], got[32 * 4096];
	char hcpath[160], saved_hc[160], saved_store[160];
	struct volume *vol = NULL;
	struct hcache *hc;
	struct hc_stats st;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)("stack-canary-"[i % 13]);
	make_disk(sizeof(data), 4096, 1);
	snprintf(hcpath, sizeof(hcpath), "%s/%s", dir, HC_FILE);
	snprintf(saved_hc, sizeof(saved_hc), "%s/hc.saved", dir);
	snprintf(saved_store, sizeof(saved_store), "%s/store.saved", dir);
	copy_file(path, saved_store);

	hc = open_cache(HC_READWRITE, _i, 1 << 20);
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(hcdev_attach(vol, hc), 0);
	ck_assert_int_eq(vol_write(vol, data, sizeof(data), 0),
			 (ssize_t)sizeof(data));
	ck_assert_int_eq(hc_file_has(data, 4096), _i);
	copy_file(hcpath, saved_hc);
	ck_assert_int_eq(vol_close(vol), 0);
	hc_close(hc);

	copy_file(saved_store, path);
	copy_file(saved_hc, hcpath);
	unlink(saved_store);
	unlink(saved_hc);
	hc = open_cache(HC_READWRITE, _i, 1 << 20);
	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(hcdev_attach(vol, hc), 0);
	hc_get_stats(hc, &st);
	ck_assert_uint_eq(st.dirty, 32);
	expect_data(vol, data, got, sizeof(data));	/* from the cache */
	ck_assert_int_eq(vol_close(vol), 0);
	hc_close(hc);

	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, VOL_RDONLY, &ops), 0);
	expect_data(vol, data, got, sizeof(data));	/* from the store */
	vol_close(vol);
}
END_TEST

/* @vol of @size bytes is VOL_FIXED_SIZE: ENOSPC at and past the end, a
 * write across it cut short, EPERM for a size change. */
static void expect_fixed(struct volume *vol, uint64_t size, uint8_t *buf)
{
	uint8_t got[100];

	ck_assert_int_eq(vol_write(vol, buf, 512, size), -ENOSPC);
	ck_assert_int_eq(vol_write(vol, buf, 512, size + 9), -ENOSPC);
	ck_assert_int_eq(vol_write(vol, buf, 1024, size - 100), 100);
	ck_assert_int_eq(vol_read(vol, got, 100, size - 100), 100);
	ck_assert_mem_eq(got, buf, 100);
	ck_assert_int_eq(vol_truncate(vol, size + 4096), -EPERM);
	ck_assert_int_eq(vol_truncate(vol, 0), -EPERM);
	ck_assert_int_eq(vol_truncate(vol, size), 0);
	ck_assert_uint_eq(vol_size(vol), size);
}

/*
 * A raw volume over a plaintext file: bytes land at their own offset, a
 * partial sector is read-modify-written, the file is the size; no header,
 * keys or layers.  _i 1: VOL_FIXED_SIZE (ENOSPC at the end, cut short
 * across it, EPERM on a size change), the encrypted volume does the
 * same, and VOL_SCRATCH persists nothing.
 */
START_TEST(test_raw_and_fixed)
{
	static uint8_t buf[4 * 512], got[4 * 512], zero[4 * 512];
	const uint64_t size = 64 * 1024 + 512;
	int fixed = _i ? VOL_FIXED_SIZE : 0;
	struct volume *vol = NULL;
	struct backing *b = NULL;
	struct env_header h;
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(backing_file_new(&b, fd, path), 0);
	ck_assert_int_eq(vol_open_raw(&vol, b, 512, size + 1, 0), -EINVAL);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(backing_file_new(&b, fd, path), 0);
	ck_assert_int_eq(vol_open_raw(&vol, b, 512, size, fixed), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, size);		/* made so, sparse */
	ck_assert_uint_eq(vol_size(vol), size);

	randombytes_buf(buf, sizeof(buf));
	ck_assert_int_eq(vol_write(vol, buf, 700, 1000), 700);
	ck_assert_int_eq(vol_read(vol, got, 700, 1000), 700);
	ck_assert_mem_eq(got, buf, 700);
	ck_assert_int_eq(vol_read(vol, got, sizeof(got), 0), sizeof(got));
	ck_assert_mem_eq(got, zero, 1000);		/* kept around it */
	ck_assert_mem_eq(got + 1700, zero, sizeof(got) - 1700);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(pread(fd, got, 700, 1000), 700);
	close(fd);
	ck_assert_mem_eq(got, buf, 700);		/* the file is it */
	ck_assert_int_eq(vol_discard(vol, 512, 1024), 0);
	ck_assert_int_eq(vol_read(vol, got, 1024, 512), 1024);
	ck_assert_mem_eq(got, zero, 1024);

	/* no header, keys or layers */
	vol_get_header(vol, &h);
	ck_assert_uint_eq(h.plain_size, size);
	ck_assert_int_eq(h.nlayers, 0);
	ck_assert_int_eq(vol_set_header(vol, &h), -EINVAL);
	ck_assert_int_eq(vol_bind_footer(vol), -EINVAL);
	vol_drop_keys(vol);
	ck_assert_int_eq(vol_has_keys(vol), 1);
	ck_assert_int_eq(vol_reload_keys(vol), 0);
	ck_assert_int_eq(vol_flush(vol), 0);

	if (fixed) {
		expect_fixed(vol, size, buf);
	} else {
		ck_assert_int_eq(vol_truncate(vol, size + 1), -EINVAL);
		ck_assert_int_eq(vol_truncate(vol, 1024), 0);
		ck_assert_int_eq(vol_write(vol, buf, 512, 4096), 512);
		ck_assert_uint_eq(vol_size(vol), 4096 + 512);
		ck_assert_int_eq(vol_flush(vol), 0);
	}
	ck_assert_int_eq(vol_close(vol), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, fixed ? size : 4096 + 512);

	/* read-only: the file's length is left alone, writes fail */
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(backing_file_new(&b, fd, path), 0);
	vol = NULL;
	ck_assert_int_eq(vol_open_raw(&vol, b, 512, size, VOL_RDONLY), 0);
	ck_assert_int_eq(vol_write(vol, buf, 1, 0), -EROFS);
	vol_close(vol);

	if (!fixed)
		return;
	/* the encrypted volume keeps a fixed size the same way */
	make_disk(size, 4096, 1);
	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, VOL_FIXED_SIZE, &ops), 0);
	expect_fixed(vol, size, buf);
	ck_assert_int_eq(vol_close(vol), 0);

	/* scratch: flush and close persist nothing, not even a new size */
	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, VOL_SCRATCH, &ops), 0);
	ck_assert_int_eq(vol_write(vol, buf, 512, size), 512);
	ck_assert_uint_eq(vol_size(vol), size + 512);
	ck_assert_int_eq(vol_flush(vol), 0);
	ck_assert_int_eq(vol_close(vol), 0);
	vol = NULL;
	ck_assert_int_eq(vol_open(&vol, path, VOL_RDONLY, &ops), 0);
	ck_assert_uint_eq(vol_size(vol), size);
	vol_close(vol);
}
END_TEST

Suite *suite_volume(void)
{
	Suite *s = suite_create("volume");
	TCase *tc = tcase_create("io");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_offsets);
	tcase_add_loop_test(tc, test_round_trip_edges, 0, 4);
	tcase_add_test(tc, test_ciphertext_at_rest);
	tcase_add_test(tc, test_writers_in_one_sector);
	tcase_add_test(tc, test_discard_and_truncate);
	tcase_add_test(tc, test_wrong_key_and_revocation);
	tcase_add_loop_test(tc, test_bound_footer, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostcache");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_cache_threads, 0, 8);
	tcase_add_loop_test(tc, test_cache_replay, 0, 4);
	tcase_add_loop_test(tc, test_cache_entry_format, 0, 2);
	tcase_add_test(tc, test_cache_drop_pinned);
	tcase_add_test(tc, test_cache_plain_forgotten);
	tcase_add_loop_test(tc, test_cache_discard_fails, 0, 2);
	tcase_add_loop_test(tc, test_cache_replay_past_end, 0, 2);
	tcase_add_loop_test(tc, test_cache_truncate_read_race, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("stack");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_backing_file);
	tcase_add_loop_test(tc, test_cipher_layer, 0, 2);
	tcase_add_loop_test(tc, test_cache_device_replay, 0, 2);
	tcase_add_loop_test(tc, test_raw_and_fixed, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
