/*
 * check_header.c - envelope codec, checksum, MAC and the two-copy header
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "crypto/envelope.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "disk/header.h"
#include "util/io.h"

Suite *suite_header(void);

static void sample(struct env_header *h)
{
	memset(h, 0, sizeof(*h));
	h->version_major = ENV_VERSION_MAJOR;
	h->version_minor = ENV_VERSION_MINOR;
	h->seq = 7;
	for (int i = 0; i < ENV_UUID_BYTES; i++)
		h->uuid[i] = (uint8_t)(0xa0 + i);
	h->sector_size = 4096;
	h->plain_size = 100ull * 1024 * 1024 + 512;
	h->enc_type = ENV_TYPE_CUSTOMER;
	strcpy(h->des, "des-1");
	h->created = 1700000000;
	h->rotated = 1700000100;
	h->nlayers = 1;
	h->layer[0].cipher = ENV_CIPHER_AES256_XTS;
	h->layer[0].key_source = ENV_KEY_CUSTOMER;
	h->layer[0].wrap_alg = ENV_WRAP_RSA_OAEP_256;
	strcpy(h->layer[0].kid,
	       "vault://prod/keys/k1/0123456789abcdef0123456789abcdef");
	h->layer[0].wrapped_len = 384;
	for (int i = 0; i < 384; i++)
		h->layer[0].wrapped[i] = (uint8_t)(i * 7 + 1);
	memset(h->mac, 0x5a, ENV_MAC_BYTES);
}

static int hdr_eq(const struct env_header *a, const struct env_header *b)
{
	if (a->version_major != b->version_major ||
	    a->version_minor != b->version_minor || a->seq != b->seq ||
	    a->compat != b->compat || a->ro_compat != b->ro_compat ||
	    a->incompat != b->incompat ||
	    memcmp(a->uuid, b->uuid, ENV_UUID_BYTES) ||
	    a->sector_size != b->sector_size ||
	    a->plain_size != b->plain_size || a->enc_type != b->enc_type ||
	    strcmp(a->des, b->des) || a->created != b->created ||
	    a->rotated != b->rotated || a->nlayers != b->nlayers ||
	    memcmp(a->mac, b->mac, ENV_MAC_BYTES))
		return 0;
	for (uint32_t i = 0; i < a->nlayers; i++) {
		const struct env_layer *x = &a->layer[i], *y = &b->layer[i];

		if (x->cipher != y->cipher || x->key_source != y->key_source ||
		    x->wrap_alg != y->wrap_alg || strcmp(x->kid, y->kid) ||
		    x->wrapped_len != y->wrapped_len ||
		    memcmp(x->wrapped, y->wrapped, x->wrapped_len))
			return 0;
	}
	return 1;
}

START_TEST(test_round_trip)
{
	struct env_header h, d;
	uint8_t buf[ENV_COPY_BYTES];

	sample(&h);
	for (unsigned int copy = 0; copy < ENV_NCOPIES; copy++) {
		ck_assert_int_eq(env_encode(&h, copy, buf, sizeof(buf)), 0);
		ck_assert_int_eq(memcmp(buf, env_magic[copy], 8), 0);
		ck_assert_int_eq(env_decode(&d, copy, buf, sizeof(buf)), 0);
		ck_assert(hdr_eq(&h, &d));
		/* a copy is only valid at its own position */
		ck_assert_int_eq(env_decode(&d, !copy, buf, sizeof(buf)),
				 -EBADMSG);
	}
	ck_assert_int_eq(env_decode(&d, 0, buf, 100), -EINVAL);
	/* two layers */
	h.nlayers = 2;
	h.enc_type = ENV_TYPE_PLATFORM_AND_CUSTOMER;
	h.layer[1] = h.layer[0];
	h.layer[1].cipher = ENV_CIPHER_CAMELLIA256_XTS;
	h.layer[1].key_source = ENV_KEY_PLATFORM;
	h.layer[1].wrap_alg = ENV_WRAP_AES_KWP;
	h.layer[1].wrapped_len = 72;
	strcpy(h.layer[1].kid,
	       "vault://prod/platform/0123456789abcdef0123456789abcdef");
	ck_assert_int_eq(env_encode(&h, 1, buf, sizeof(buf)), 0);
	ck_assert_int_eq(env_decode(&d, 1, buf, sizeof(buf)), 0);
	ck_assert(hdr_eq(&h, &d));
}
END_TEST

START_TEST(test_encode_rejects)
{
	struct env_header h;
	uint8_t buf[ENV_COPY_BYTES];

	sample(&h);
	h.sector_size = 1024;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
	sample(&h);
	h.nlayers = 3;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
	sample(&h);
	h.layer[0].wrapped_len = ENV_WRAPPED_MAX + 1;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
	sample(&h);
	strcpy(h.des, "bad name");
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
	sample(&h);
	h.enc_type = 9;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(test_flags_and_version)
{
	struct env_header h, d;
	uint8_t buf[ENV_COPY_BYTES];

	sample(&h);
	h.incompat = 0x1;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(env_decode(&d, 0, buf, sizeof(buf)),
			 -EPROTONOSUPPORT);
	sample(&h);
	h.version_major = ENV_VERSION_MAJOR + 1;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(env_decode(&d, 0, buf, sizeof(buf)),
			 -EPROTONOSUPPORT);
	sample(&h);
	h.ro_compat = 0x4;
	h.compat = 0x8;
	ck_assert_int_eq(env_encode(&h, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(env_decode(&d, 0, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(d.ro_compat, 0x4);
}
END_TEST

static char tmpl[64];

static int tmpfd(void)
{
	int fd;

	strcpy(tmpl, "/tmp/check_header.XXXXXX");
	fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	unlink(tmpl);
	return fd;
}

/* Every single-byte change anywhere in one copy is caught, and the other
 * copy is read instead. */
START_TEST(test_every_byte_corruption)
{
	struct env_header h, d;
	uint8_t img[ENV_DATA_OFFSET], bad[ENV_DATA_OFFSET];
	int fd = tmpfd(), good, badc;

	sample(&h);
	ck_assert_int_eq(hdr_write(fd, &h), 0);
	ck_assert_uint_eq(h.seq, 2);
	ck_assert_int_eq(io_pread_all(fd, img, sizeof(img), 0), sizeof(img));
	for (int copy = 0; copy < 2; copy++) {
		for (int off = 0; off < ENV_COPY_BYTES; off++) {
			uint8_t *p = bad + copy * ENV_COPY_BYTES + off;

			memcpy(bad, img, sizeof(img));
			*p ^= (uint8_t)(1u << (off % 8));
			ck_assert_int_ne(env_decode(&d, copy, bad +
					 copy * ENV_COPY_BYTES,
					 ENV_COPY_BYTES), 0);
			ck_assert_int_eq(io_pwrite_all(fd, bad, sizeof(bad), 0),
					 0);
			ck_assert_int_eq(hdr_read(fd, &d, &good, &badc), 0);
			ck_assert_int_eq(good, !copy);
			ck_assert_int_eq(badc, copy);
			ck_assert_uint_eq(d.plain_size, h.plain_size);
		}
	}
	close(fd);
}
END_TEST

START_TEST(test_both_corrupt)
{
	struct env_header h, d;
	uint8_t b = 0;
	int fd = tmpfd();

	sample(&h);
	ck_assert_int_eq(hdr_write(fd, &h), 0);
	ck_assert_int_eq(io_pwrite_all(fd, &b, 1, 100), 0);
	b = 1;
	ck_assert_int_eq(io_pwrite_all(fd, &b, 1, 4096 + 3000), 0);
	ck_assert_int_eq(io_pwrite_all(fd, &b, 1, 3000), 0);
	ck_assert_int_eq(hdr_read(fd, &d, NULL, NULL), -EBADMSG);
	close(fd);
	/* no magic at all: not ours */
	fd = tmpfd();
	ck_assert_int_eq(io_pwrite_all(fd, "hello", 5, 0), 0);
	ck_assert_int_eq(hdr_read(fd, &d, NULL, NULL), -ENOTSUP);
	close(fd);
}
END_TEST

START_TEST(test_write_seq_and_stale)
{
	struct env_header h, d;
	uint8_t old[ENV_COPY_BYTES];
	enum hdr_state st[2];
	unsigned long long seq[2];
	int fd = tmpfd(), good, bad;

	sample(&h);
	ck_assert_int_eq(hdr_write(fd, &h), 0);
	ck_assert_int_eq(io_pread_all(fd, old, sizeof(old), 4096),
			 sizeof(old));
	h.plain_size += 4096;
	ck_assert_int_eq(hdr_write(fd, &h), 0);
	ck_assert_uint_eq(h.seq, 4);
	/* roll copy 1 back: copy 0 (seq 3 or 4) wins, copy 1 is stale */
	ck_assert_int_eq(io_pwrite_all(fd, old, sizeof(old), 4096), 0);
	ck_assert_int_eq(hdr_read_states(fd, &d, st, seq), 0);
	ck_assert_uint_eq(d.plain_size, h.plain_size);
	ck_assert_int_eq(st[0], HDR_OK);
	ck_assert_int_eq(st[1], HDR_STALE);
	ck_assert_int_eq(hdr_read(fd, &d, &good, &bad), 0);
	ck_assert_int_eq(good, 0);
	ck_assert_int_eq(bad, 1);
	/* the next write repairs it */
	ck_assert_int_eq(hdr_write(fd, &d), 0);
	ck_assert_int_eq(hdr_read(fd, &d, &good, &bad), 0);
	ck_assert_int_eq(bad, -1);
	close(fd);
}
END_TEST

START_TEST(test_mac)
{
	struct env_header h;
	struct secbuf *dek[2], *wrong[1];

	dek[0] = secbuf_new(RNG_DEKBYTES);
	dek[1] = secbuf_new(RNG_DEKBYTES);
	wrong[0] = secbuf_new(RNG_DEKBYTES);
	ck_assert_int_eq(rng_dek(dek[0]), 0);
	ck_assert_int_eq(rng_dek(dek[1]), 0);
	ck_assert_int_eq(rng_dek(wrong[0]), 0);
	sample(&h);
	ck_assert_int_eq(env_compute_mac(&h, dek, h.mac), 0);
	ck_assert_int_eq(env_verify_mac(&h, dek), 0);
	/* seq is outside the MAC; every other field is inside */
	h.seq = 99;
	ck_assert_int_eq(env_verify_mac(&h, dek), 0);
	ck_assert_int_eq(env_verify_mac(&h, wrong), -EBADMSG);
	h.plain_size++;
	ck_assert_int_eq(env_verify_mac(&h, dek), -EBADMSG);
	h.plain_size--;
	h.layer[0].wrapped[5] ^= 1;
	ck_assert_int_eq(env_verify_mac(&h, dek), -EBADMSG);
	h.layer[0].wrapped[5] ^= 1;
	h.layer[0].kid[10] = 'X';
	ck_assert_int_eq(env_verify_mac(&h, dek), -EBADMSG);
	/* two layers: both DEKs count */
	sample(&h);
	h.nlayers = 2;
	h.enc_type = ENV_TYPE_PLATFORM_AND_CUSTOMER;
	h.layer[1] = h.layer[0];
	h.layer[1].cipher = ENV_CIPHER_CAMELLIA256_XTS;
	ck_assert_int_eq(env_compute_mac(&h, dek, h.mac), 0);
	ck_assert_int_eq(env_verify_mac(&h, dek), 0);
	{
		struct secbuf *mixed[2] = { dek[0], wrong[0] };

		ck_assert_int_eq(env_verify_mac(&h, mixed), -EBADMSG);
	}
	secbuf_free(dek[0]);
	secbuf_free(dek[1]);
	secbuf_free(wrong[0]);
}
END_TEST

Suite *suite_header(void)
{
	Suite *s = suite_create("header");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_encode_rejects);
	tcase_add_test(tc, test_flags_and_version);
	tcase_add_test(tc, test_every_byte_corruption);
	tcase_add_test(tc, test_both_corrupt);
	tcase_add_test(tc, test_write_seq_and_stale);
	tcase_add_test(tc, test_mac);
	suite_add_tcase(s, tc);
	return s;
}
