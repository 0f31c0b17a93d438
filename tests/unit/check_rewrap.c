/*
 * check_rewrap.c - header-only re-wrap and atomic store creation, over
 * real files with a real AES-KWP wrap (OpenSSL) standing in for the vault:
 * the kid's last character picks one of two KEKs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/secmem.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/rewrap.h"
#include "disk/store.h"
#include "disk/volume.h"

Suite *suite_rewrap(void);

#define KID1 "vault://t/platform/00000000000000000000000000000001"
#define KID2 "vault://t/platform/00000000000000000000000000000002"

static uint8_t kek[2][32];
static char dir[64], path[128];

static const uint8_t *kek_of(const char *kid)
{
	return kek[kid[strlen(kid) - 1] == '2'];
}

static int kwp(int enc, const uint8_t *k, const uint8_t *in, int inlen,
	       uint8_t *out, int *outlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, m = 0, ok;

	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex(c, EVP_aes_256_wrap_pad(), NULL, k, NULL,
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
	snprintf(l->kid, sizeof(l->kid), "%s", kid);
	if (kwp(1, kek_of(kid), secbuf_data(dek), (int)secbuf_len(dek),
		l->wrapped, &n))
		return -EIO;
	l->wrapped_len = (uint16_t)n;
	return 0;
}

static int t_unwrap(void *ctx, const struct env_layer *l, struct secbuf **dek)
{
	uint8_t out[ENV_WRAPPED_MAX + 16];
	int n, r;

	(void)ctx;
	r = kwp(0, kek_of(l->kid), l->wrapped, l->wrapped_len, out, &n);
	if (r == 0) {
		*dek = secbuf_from(out, (size_t)n);
		r = *dek ? 0 : -ENOMEM;
	}
	sodium_memzero(out, sizeof(out));
	return r;
}

static int t_revoked(void *ctx, const struct env_layer *l,
		     struct secbuf **dek)
{
	(void)ctx;
	(void)l;
	(void)dek;
	return -EKEYREVOKED;
}

static const struct keyops ops = { NULL, t_unwrap, t_wrap };

static void setup(void)
{
	randombytes_buf(kek, sizeof(kek));
	strcpy(dir, "/tmp/ssefs-rw-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.vhd", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void make_disk(void)
{
	struct vol_format f = {
		.plain_size = (1u << 20) + 512, .sector_size = 4096,
		.enc_type = ENV_TYPE_PLATFORM, .nlayers = 1, .kid = { KID1 },
	};
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vol_format(fd, &f, &ops), 0);
	close(fd);
}

static void fill(uint8_t *buf, size_t n, uint64_t off)
{
	struct volume *vol;

	ck_assert_int_eq(vol_open(&vol, path, 0, &ops), 0);
	ck_assert_int_eq(vol_write(vol, buf, n, off), (ssize_t)n);
	ck_assert_int_eq(vol_close(vol), 0);
}

static void read_back(uint8_t *buf, size_t n, uint64_t off)
{
	struct volume *vol;

	ck_assert_int_eq(vol_open(&vol, path, VOL_RDONLY, &ops), 0);
	ck_assert_int_eq(vol_read(vol, buf, n, off), (ssize_t)n);
	ck_assert_int_eq(vol_close(vol), 0);
}

static void data_of(const char *p, uint8_t *out, size_t n)
{
	int fd = open(p, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, out, n, ENV_DATA_OFFSET), (ssize_t)n);
	close(fd);
}

START_TEST(test_rewrap_moves_kid_not_data)
{
	static uint8_t data[100000], back[100000], c1[65536], c2[65536];
	const char *to2[ENV_MAX_LAYERS] = { KID2, NULL };
	struct rewrap_result res;
	struct env_header h1, h2;

	make_disk();
	randombytes_buf(data, sizeof(data));
	fill(data, sizeof(data), 12345);
	ck_assert_int_eq(vol_probe(path, &h1), 0);
	data_of(path, c1, sizeof(c1));

	ck_assert_int_eq(rewrap_disk(path, to2, &ops, &res), 0);
	ck_assert_int_eq(res.changed, 1);
	ck_assert_str_eq(res.old_kid[0], KID1);
	ck_assert_str_eq(res.new_kid[0], KID2);
	ck_assert_int_eq(vol_probe(path, &h2), 0);
	ck_assert_str_eq(h2.layer[0].kid, KID2);
	ck_assert_int_ne(memcmp(h1.layer[0].wrapped, h2.layer[0].wrapped,
				h1.layer[0].wrapped_len), 0);
	ck_assert_int_ne(memcmp(h1.mac, h2.mac, ENV_MAC_BYTES), 0);
	ck_assert_int_eq(memcmp(h1.uuid, h2.uuid, ENV_UUID_BYTES), 0);
	ck_assert_uint_gt(h2.rotated, 0);
	ck_assert_uint_gt(h2.seq, h1.seq);
	/* no data touched, and the same plaintext under the new kid */
	data_of(path, c2, sizeof(c2));
	ck_assert_int_eq(memcmp(c1, c2, sizeof(c1)), 0);
	read_back(back, sizeof(back), 12345);
	ck_assert_int_eq(memcmp(data, back, sizeof(data)), 0);

	/* idempotent: nothing written the second time */
	ck_assert_int_eq(rewrap_disk(path, to2, &ops, &res), 0);
	ck_assert_int_eq(res.changed, 0);
	ck_assert_int_eq(vol_probe(path, &h1), 0);
	ck_assert_uint_eq(h1.seq, h2.seq);
}
END_TEST

START_TEST(test_rewrap_refusals)
{
	const char *to2[ENV_MAX_LAYERS] = { KID2, NULL };
	const struct keyops revoked = { NULL, t_revoked, t_wrap };
	struct env_header h1, h2;
	uint8_t before[8192], after[8192];
	int fd;

	make_disk();
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(pread(fd, before, sizeof(before), 0), 8192);
	/* a revoked key: nothing changes */
	ck_assert_int_eq(rewrap_disk(path, to2, &revoked, NULL),
			 -EKEYREVOKED);
	ck_assert_int_eq(pread(fd, after, sizeof(after), 0), 8192);
	ck_assert_int_eq(memcmp(before, after, sizeof(before)), 0);
	/* a tampered header field: the MAC catches it before any wrap */
	ck_assert_int_eq(vol_probe(path, &h1), 0);
	h2 = h1;
	h2.plain_size += 4096;
	{
		int wfd = open(path, O_RDWR);

		ck_assert_int_eq(hdr_lock(wfd), 0);
		ck_assert_int_eq(hdr_write(wfd, &h2), 0);
		hdr_unlock(wfd);
		close(wfd);
	}
	ck_assert_int_eq(rewrap_disk(path, to2, &ops, NULL), -EBADMSG);
	ck_assert_int_eq(vol_probe(path, &h2), 0);
	ck_assert_str_eq(h2.layer[0].kid, KID1);
	close(fd);
}
END_TEST

START_TEST(test_snapshot_uuid)
{
	uint8_t uuid[ENV_UUID_BYTES];
	struct rewrap_result res;
	struct env_header h1, h2;
	struct volume *vol;
	int fd;

	make_disk();
	ck_assert_int_eq(vol_probe(path, &h1), 0);
	memset(uuid, 0xab, sizeof(uuid));
	fd = open(path, O_RDWR);
	ck_assert_int_eq(rewrap_fd(fd, NULL, uuid, &ops, &res), 0);
	close(fd);
	ck_assert_int_eq(res.changed, 0);
	ck_assert_int_eq(vol_probe(path, &h2), 0);
	ck_assert_int_eq(memcmp(h2.uuid, uuid, sizeof(uuid)), 0);
	ck_assert_str_eq(h2.layer[0].kid, KID1);
	/* the MAC was recomputed: the disk still opens */
	ck_assert_int_eq(vol_open(&vol, path, VOL_RDONLY, &ops), 0);
	ck_assert_int_eq(vol_close(vol), 0);
}
END_TEST

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

START_TEST(test_store_tmp)
{
	struct store_tmp t;
	struct stat st;

	/* abort leaves nothing */
	ck_assert_int_eq(store_tmp_open(&t, path), 0);
	ck_assert_int_eq(write(t.fd, "abc", 3), 3);
	ck_assert_int_eq(count_entries(), t.anonymous ? 0 : 1);
	store_tmp_abort(&t);
	ck_assert_int_eq(count_entries(), 0);
	/* commit links exactly one file, with the contents */
	ck_assert_int_eq(store_tmp_open(&t, path), 0);
	ck_assert_int_eq(write(t.fd, "abc", 3), 3);
	ck_assert_int_eq(store_tmp_commit(&t), 0);
	ck_assert_int_eq(count_entries(), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 3);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* an existing target is refused, at open and at commit */
	ck_assert_int_eq(store_tmp_open(&t, path), -EEXIST);
	unlink(path);
	ck_assert_int_eq(store_tmp_open(&t, path), 0);
	ck_assert_int_eq(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_eq(store_tmp_commit(&t), -EEXIST);
	ck_assert_int_eq(count_entries(), 1);
}
END_TEST

static int scan_cb(const char *p, const struct env_header *h, int err,
		   void *arg)
{
	int *n = arg;

	(void)p;
	(void)h;
	*n += err == 0 ? 1 : 100;
	return 0;
}

START_TEST(test_store_scan)
{
	char sub[160], other[200];
	int n = 0, fd;

	make_disk();
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(other, sizeof(other), "%s/plain.txt", sub);
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_eq(write(fd, "not a disk", 10), 10);
	close(fd);
	snprintf(other, sizeof(other), "%s/bad.vhd", sub);
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_eq(write(fd, "SSEFS\0HA", 8), 8);	/* magic only */
	close(fd);
	ck_assert_int_eq(store_scan(dir, scan_cb, &n), 0);
	ck_assert_int_eq(n, 101);	/* one valid, one bad, text hidden */
}
END_TEST

Suite *suite_rewrap(void)
{
	Suite *s = suite_create("rewrap");
	TCase *tc = tcase_create("rewrap");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rewrap_moves_kid_not_data);
	tcase_add_test(tc, test_rewrap_refusals);
	tcase_add_test(tc, test_snapshot_uuid);
	tcase_add_test(tc, test_store_tmp);
	tcase_add_test(tc, test_store_scan);
	suite_add_tcase(s, tc);
	return s;
}
