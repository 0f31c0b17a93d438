/*
 * check_envelope.c - the header codec and the two-copy reader
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "disk/backing_file.h"
#include "disk/header.h"

Suite *suite_envelope(void);

static void sample(struct env_header *h, unsigned int nlayers)
{
	memset(h, 0, sizeof(*h));
	h->version_major = ENV_VERSION_MAJOR;
	h->seq = 7;
	randombytes_buf(h->uuid, sizeof(h->uuid));
	h->sector_size = 4096;
	h->plain_size = (64ull << 20) + 512;
	h->enc_type = nlayers == 2 ? ENV_TYPE_PLATFORM_AND_CUSTOMER :
				     ENV_TYPE_CUSTOMER;
	strcpy(h->des, "des-1");
	h->created = 1800000000;
	h->nlayers = nlayers;
	for (unsigned int i = 0; i < nlayers; i++) {
		struct env_layer *l = &h->layer[i];

		l->cipher = i ? ENV_CIPHER_CAMELLIA256_XTS :
				ENV_CIPHER_AES256_XTS;
		l->key_source = i ? ENV_KEY_PLATFORM : ENV_KEY_CUSTOMER;
		l->wrap_alg = i ? ENV_WRAP_AES_KWP : ENV_WRAP_RSA_OAEP_256;
		strcpy(l->kid, "vault://t/keys/k1/0123456789abcdef0123456789abcdef");
		l->wrapped_len = i ? 72 : 384;
		randombytes_buf(l->wrapped, l->wrapped_len);
	}
	randombytes_buf(h->mac, sizeof(h->mac));
}

START_TEST(test_round_trip)
{
	uint8_t buf[ENV_COPY_BYTES];
	struct env_header h, g;

	for (unsigned int layers = 1; layers <= 2; layers++) {
		for (unsigned int copy = 0; copy < 2; copy++) {
			sample(&h, layers);
			ck_assert_int_eq(env_encode(&h, copy, buf, sizeof(buf)), 0);
			ck_assert_int_eq(env_decode(&g, copy, buf, sizeof(buf)), 0);
			ck_assert_mem_eq(&g, &h, sizeof(h));
			/* a copy is not the other copy */
			ck_assert_int_eq(env_decode(&g, 1 - copy, buf,
						    sizeof(buf)), -EBADMSG);
		}
	}
}
END_TEST

START_TEST(test_refuses_bad_fields)
{
	uint8_t buf[ENV_COPY_BYTES];
	struct env_header h;

	sample(&h, 1);
	h.sector_size = 1024;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
	sample(&h, 1);
	h.enc_type = ENV_TYPE_PLATFORM_AND_CUSTOMER;	/* needs 2 layers */
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
	sample(&h, 1);
	strcpy(h.des, "no spaces");
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
	sample(&h, 1);
	h.layer[0].wrapped_len = ENV_WRAPPED_MAX + 1;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(env_decode(&h, 0, buf, 100), -EINVAL);
}
END_TEST

/* A newer format or an unknown required feature is refused as such. */
START_TEST(test_unknown_incompat)
{
	uint8_t buf[ENV_COPY_BYTES];
	struct env_header h;

	sample(&h, 1);
	h.incompat = 0x80;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(env_decode(&h, 0, buf, sizeof(buf)),
			 -EPROTONOSUPPORT);
	sample(&h, 1);
	h.ro_compat = 0x80;	/* decodes; the volume opens read-only */
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(env_decode(&h, 0, buf, sizeof(buf)), 0);
}
END_TEST

/* hdr_put() over a file descriptor. */
static int put_fd(int fd, struct env_header *h)
{
	struct backing_file f;

	backing_file_borrow(&f, fd);
	return hdr_put(&f.b, h);
}

static int tmpfd(void)
{
	char path[] = "/tmp/ssefs-env-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	return fd;
}

/* Every single-byte corruption of the newer copy is detected, and the
 * reader falls back to the other copy. */
START_TEST(test_every_byte_of_one_copy)
{
	uint8_t orig[ENV_COPY_BYTES];
	struct env_header h, got;
	struct hdr_status st;
	unsigned int victim = (unsigned int)_i;
	int fd = tmpfd();

	sample(&h, 2);
	ck_assert_int_eq(put_fd(fd, &h), 0);	/* seq 1 then 2 */
	ck_assert_int_eq(pread(fd, orig, sizeof(orig),
			       victim * ENV_COPY_BYTES), ENV_COPY_BYTES);
	for (size_t off = 0; off < ENV_COPY_BYTES; off++) {
		uint8_t b = orig[off] ^ (uint8_t)(1u << (off % 8));

		ck_assert_int_eq(pwrite(fd, &b, 1, victim * ENV_COPY_BYTES +
					off), 1);
		ck_assert_int_eq(hdr_read(fd, &got, &st), 0);
		ck_assert_msg(st.state[victim] == HDR_COPY_BAD,
			      "byte %zu of copy %u not detected", off, victim);
		ck_assert_int_eq(st.state[1 - victim], HDR_COPY_OK);
		ck_assert_uint_eq(got.seq, victim ? 1 : 2);
		ck_assert_str_eq(got.layer[0].kid, h.layer[0].kid);
		ck_assert_int_eq(pwrite(fd, &orig[off], 1,
					victim * ENV_COPY_BYTES + off), 1);
	}
	close(fd);
}
END_TEST

START_TEST(test_both_bad_and_no_magic)
{
	struct env_header h, got;
	uint8_t junk[ENV_COPY_BYTES];
	int fd = tmpfd();

	ck_assert_int_eq(hdr_read(fd, &got, NULL), -ENOTSUP);	/* empty */
	sample(&h, 1);
	ck_assert_int_eq(put_fd(fd, &h), 0);
	ck_assert_int_eq(h.seq, 2);
	ck_assert_int_eq(hdr_read(fd, &got, NULL), 0);
	ck_assert_int_eq(got.seq, 2);
	/* tear both copies after their magic */
	memset(junk, 0xa5, sizeof(junk));
	ck_assert_int_eq(pwrite(fd, junk, 2048, 2048), 2048);
	ck_assert_int_eq(pwrite(fd, junk, 2048, 4096 + 2048), 2048);
	ck_assert_int_eq(hdr_read(fd, &got, NULL), -EBADMSG);
	close(fd);
}
END_TEST

/* hdr_put writes the older copy first: a crash after the first write
 * leaves the newest complete copy intact. */
START_TEST(test_write_order)
{
	struct env_header h, got;
	struct hdr_status st;
	int fd = tmpfd();

	sample(&h, 1);
	ck_assert_int_eq(put_fd(fd, &h), 0);	/* copy0=1, copy1=2 */
	ck_assert_int_eq(hdr_read(fd, &got, &st), 0);
	ck_assert_uint_eq(st.seq[0], 1);
	ck_assert_uint_eq(st.seq[1], 2);
	h.plain_size += 4096;
	ck_assert_int_eq(put_fd(fd, &h), 0);	/* copy0=3, copy1=4 */
	ck_assert_int_eq(hdr_read(fd, &got, &st), 0);
	ck_assert_uint_eq(st.seq[0], 3);
	ck_assert_uint_eq(st.seq[1], 4);
	ck_assert_uint_eq(got.plain_size, h.plain_size);
	close(fd);
}
END_TEST

START_TEST(test_mac)
{
	struct secbuf *dek[2] = { secbuf_new(64), secbuf_new(64) };
	struct secbuf *wrong[2] = { secbuf_new(64), NULL };
	struct env_header h;

	ck_assert_int_eq(rng_dek(dek[0]), 0);
	ck_assert_int_eq(rng_dek(dek[1]), 0);
	ck_assert_int_eq(rng_dek(wrong[0]), 0);
	wrong[1] = dek[1];
	sample(&h, 2);
	ck_assert_int_eq(env_compute_mac(&h, dek, h.mac), 0);
	ck_assert_int_eq(env_verify_mac(&h, dek), 0);
	ck_assert_int_eq(env_verify_mac(&h, wrong), -EBADMSG);
	h.seq++;		/* not covered: both copies share the MAC */
	ck_assert_int_eq(env_verify_mac(&h, dek), 0);
	h.plain_size++;		/* covered */
	ck_assert_int_eq(env_verify_mac(&h, dek), -EBADMSG);
	h.plain_size--;
	h.layer[1].wrapped[3] ^= 1;
	ck_assert_int_eq(env_verify_mac(&h, dek), -EBADMSG);
	secbuf_free(dek[0]);
	secbuf_free(dek[1]);
	secbuf_free(wrong[0]);
}
END_TEST

Suite *suite_envelope(void)
{
	Suite *s = suite_create("envelope");
	TCase *tc = tcase_create("codec");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refuses_bad_fields);
	tcase_add_test(tc, test_unknown_incompat);
	tcase_add_loop_test(tc, test_every_byte_of_one_copy, 0, 2);
	tcase_add_test(tc, test_both_bad_and_no_magic);
	tcase_add_test(tc, test_write_order);
	tcase_add_test(tc, test_mac);
	suite_add_tcase(s, tc);
	return s;
}
