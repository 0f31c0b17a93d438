/*
 * check_tempdisk.c - the temp disk over real files: a fixed VHD, zero but
 * its footer, ciphertext (or plaintext) in its directory, gone at destroy
 */
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
#include "disk/keyops.h"
#include "disk/offsets.h"
#include "disk/vhd.h"
#include "disk/volume.h"
#include "fuse/tempdisk.h"
#include "keyvault/vault.h"

Suite *suite_tempdisk(void);

#define MiB	(UINT64_C(1) << 20)
#define SIZE	(4 * MiB)

static char dir[64];
static int dirfd = -1;

static void setup(void)
{
	strcpy(dir, "/tmp/ssefs-tmpdisk-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd, 0);
}

static void teardown(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, TEMPDISK_FILE_ENC);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s", dir, TEMPDISK_FILE_PLAIN);
	unlink(p);
	snprintf(p, sizeof(p), "%s/other", dir);
	unlink(p);
	close(dirfd);
	rmdir(dir);
}

/* The whole backing file in memory (malloc'd), its length in *@len. */
static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static int dir_is_empty(void)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, TEMPDISK_FILE_ENC);
	if (stat(p, &st) == 0)
		return 0;
	snprintf(p, sizeof(p), "%s/%s", dir, TEMPDISK_FILE_PLAIN);
	return stat(p, &st) < 0;
}

/* Fresh: SIZE zero bytes, then a valid fixed-VHD footer for SIZE. */
static void check_fresh(struct tempdisk *t)
{
	uint8_t *buf = malloc(SIZE + VHD_FOOTER_BYTES);
	struct vhd_info vi;
	size_t i;

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(tempdisk_size(t), SIZE + VHD_FOOTER_BYTES);
	ck_assert_int_eq(vol_read(tempdisk_volume(t), buf, SIZE + VHD_FOOTER_BYTES + 99, 0),
			 SIZE + VHD_FOOTER_BYTES);
	for (i = 0; i < SIZE; i++)
		if (buf[i])
			break;
	ck_assert_uint_eq(i, SIZE);
	ck_assert_int_eq(vhd_footer_parse(buf + SIZE, &vi), 0);
	ck_assert_uint_eq(vi.size, SIZE);
	ck_assert_uint_eq(vi.type, VHD_TYPE_FIXED);
	ck_assert_int_eq(vol_read(tempdisk_volume(t), buf, 10, SIZE + VHD_FOOTER_BYTES), 0);
	free(buf);
}

static const char canary[] = "temp-disk-canary-0123456789";

START_TEST(test_encrypted)
{
	struct tempdisk *t = NULL;
	struct env_header h;
	struct stat st;
	uint8_t got[sizeof(canary)], *raw;
	size_t len;

	ck_assert_int_eq(tempdisk_create(&t, dirfd, dir, SIZE, 1), 0);
	ck_assert_int_eq(tempdisk_encrypted(t), 1);
	ck_assert_int_eq(stat(tempdisk_path(t), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size,
			 off_backing_len(SIZE + VHD_FOOTER_BYTES, 4096));
	ck_assert_int_lt(st.st_blocks * 512, 64 * 1024);	/* thin */
	check_fresh(t);

	/* the header: an ssefs disk under the ephemeral kid */
	ck_assert_int_eq(vol_probe(tempdisk_path(t), &h), 0);
	ck_assert_str_eq(h.layer[0].kid, tempdisk_kid(t));
	ck_assert_int_eq(strncmp(h.layer[0].kid, TEMPDISK_KID_PREFIX,
				 strlen(TEMPDISK_KID_PREFIX)), 0);
	ck_assert_uint_eq(strlen(h.layer[0].kid),
			  strlen(TEMPDISK_KID_PREFIX) + 32);
	ck_assert_uint_eq(h.layer[0].key_source, ENV_KEY_PLATFORM);
	ck_assert_uint_eq(h.layer[0].wrap_alg, ENV_WRAP_AES_KWP);
	ck_assert_uint_eq(h.nlayers, 1);
	ck_assert_uint_eq(h.plain_size, SIZE + VHD_FOOTER_BYTES);

	/* written through, read back; only ciphertext in the file */
	ck_assert_int_eq(vol_write(tempdisk_volume(t), canary, sizeof(canary), 12345),
			 sizeof(canary));
	ck_assert_int_eq(vol_read(tempdisk_volume(t), got, sizeof(got), 12345),
			 sizeof(got));
	ck_assert_mem_eq(got, canary, sizeof(canary));
	raw = slurp(tempdisk_path(t), &len);
	ck_assert_ptr_null(memmem(raw, len, canary, sizeof(canary) - 1));
	free(raw);

	tempdisk_destroy(t);
	ck_assert(dir_is_empty());
}
END_TEST

START_TEST(test_plaintext)
{
	struct tempdisk *t = NULL;
	uint8_t *raw;
	size_t len;

	ck_assert_int_eq(tempdisk_create(&t, dirfd, dir, SIZE, 0), 0);
	ck_assert_int_eq(tempdisk_encrypted(t), 0);
	ck_assert_ptr_null(tempdisk_kid(t));
	check_fresh(t);
	ck_assert_int_eq(vol_write(tempdisk_volume(t), canary, sizeof(canary), 777),
			 sizeof(canary));
	/* the backing file is the plaintext .vhd, byte for byte */
	raw = slurp(tempdisk_path(t), &len);
	ck_assert_uint_eq(len, SIZE + VHD_FOOTER_BYTES);
	ck_assert_mem_eq(raw + 777, canary, sizeof(canary));
	free(raw);
	tempdisk_destroy(t);
	ck_assert(dir_is_empty());
}
END_TEST

/* Without the ephemeral key the DEK does not unwrap: a random key of the
 * same kind fails the open. */
static uint8_t other_kek[32];

static int other_unwrap(void *ctx, const struct env_layer *l,
			struct secbuf **dek)
{
	uint8_t out[ENV_WRAPPED_MAX];
	size_t n = sizeof(out);
	int r;

	(void)ctx;
	r = vault_aes_kwp(0, other_kek, l->wrapped, l->wrapped_len, out, &n);
	if (r == 0) {
		*dek = secbuf_from(out, n);
		r = *dek ? 0 : -ENOMEM;
	}
	sodium_memzero(out, sizeof(out));
	return r;
}

START_TEST(test_other_key_fails)
{
	struct keyops ops = { NULL, other_unwrap, NULL };
	struct tempdisk *t = NULL;
	struct volume *vol = NULL;

	randombytes_buf(other_kek, sizeof(other_kek));
	ck_assert_int_eq(tempdisk_create(&t, dirfd, dir, SIZE, 1), 0);
	ck_assert_int_eq(vol_open(&vol, tempdisk_path(t), VOL_RDONLY, &ops),
			 -EBADMSG);
	ck_assert_ptr_null(vol);
	tempdisk_destroy(t);
}
END_TEST

START_TEST(test_fixed_size)
{
	struct tempdisk *t = NULL;
	struct volume *vol;
	uint64_t end;
	uint8_t buf[8192], zero[8192] = { 0 };

	ck_assert_int_eq(tempdisk_create(&t, dirfd, dir, SIZE, _i), 0);
	vol = tempdisk_volume(t);
	end = tempdisk_size(t);
	ck_assert_uint_eq(vol_size(vol), end);
	memset(buf, 0xa5, sizeof(buf));
	/* VOL_FIXED_SIZE (check_volume.c tests what it does) */
	ck_assert_int_eq(vol_write(vol, buf, 512, end), -ENOSPC);
	ck_assert_int_eq(vol_truncate(vol, 0), -EPERM);
	/* a discarded range reads as zeros */
	ck_assert_int_eq(vol_write(vol, buf, sizeof(buf), 65536),
			 sizeof(buf));
	ck_assert_int_eq(vol_discard(vol, 65536, sizeof(buf)), 0);
	ck_assert_int_eq(vol_read(vol, buf, sizeof(buf), 65536),
			 sizeof(buf));
	ck_assert_mem_eq(buf, zero, sizeof(buf));
	ck_assert_uint_eq(vol_size(vol), end);
	ck_assert_uint_eq(tempdisk_size(t), end);
	tempdisk_destroy(t);
	ck_assert(dir_is_empty());
}
END_TEST

START_TEST(test_bad_args_and_leftovers)
{
	struct tempdisk *t = NULL;
	char p[128];
	struct stat st;
	int fd;

	ck_assert_int_eq(tempdisk_create(&t, dirfd, dir, 0, 1), -EINVAL);
	ck_assert_int_eq(tempdisk_create(&t, dirfd, dir, MiB + 1, 1),
			 -EINVAL);
	ck_assert_ptr_null(t);

	/* an existing file is refused and left alone */
	snprintf(p, sizeof(p), "%s/%s", dir, TEMPDISK_FILE_ENC);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	ck_assert_int_eq(tempdisk_create(&t, dirfd, dir, SIZE, 1), -EEXIST);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 1);

	/* leftovers of both kinds go; other files stay */
	snprintf(p, sizeof(p), "%s/%s", dir, TEMPDISK_FILE_PLAIN);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/other", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(tempdisk_remove_leftovers(dirfd), 0);
	ck_assert(dir_is_empty());
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(tempdisk_remove_leftovers(dirfd), 0);
}
END_TEST

Suite *suite_tempdisk(void)
{
	Suite *s = suite_create("tempdisk");
	TCase *tc = tcase_create("files");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_encrypted);
	tcase_add_test(tc, test_plaintext);
	tcase_add_test(tc, test_other_key_fails);
	tcase_add_loop_test(tc, test_fixed_size, 0, 2);
	tcase_add_test(tc, test_bad_args_and_leftovers);
	suite_add_tcase(s, tc);
	return s;
}
