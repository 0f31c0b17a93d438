/*
 * check_volume.c - the volume layer over real files, with a real AES-KWP
 * key wrap (OpenSSL) standing in for the vault
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/secmem.h"
#include "disk/keyops.h"
#include "disk/offsets.h"
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

static void teardown(void)
{
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
	suite_add_tcase(s, tc);
	return s;
}
