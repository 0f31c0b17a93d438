/*
 * envelope.c - one 4096-byte copy of the envelope header
 *
 * Byte layout (little-endian; man/ssefs-format.5 is the reference):
 *
 *     0   8  magic ("SSEFS\0HA" copy 0, "SSEFS\0HB" copy 1)
 *     8   2  version major        10   2  version minor
 *    12   4  header size (4096)   16   8  self offset (0 or 4096)
 *    24   8  sequence id
 *    32   4  compat flags         36   4  ro_compat flags
 *    40   4  incompat flags       44   4  reserved (0)
 *    48  16  disk UUID
 *    64   4  sector size          68   4  encryption type
 *    72   8  plaintext size       80   8  data offset (8192)
 *    88   8  created              96   8  last rotated
 *   104   4  layer count         108   4  reserved (0)
 *   112  96  DES name, NUL-padded (at most 80 bytes)
 *   208  32  header MAC (HMAC-SHA256)
 *   240  16  reserved (0)
 *   256 1024 layer 0 (outer)    1280 1024 layer 1 (inner, or all zero)
 *  2304 1760 reserved (0)
 *  4064  32  SHA-256 of the 4096 bytes with this field zeroed
 *
 * Layer slot: 0 cipher, 1 key source, 2 wrap algorithm, 3 reserved,
 * 4 wrapped length (2), 6 kid length (2), 8 reserved (8), 16 kid (256,
 * NUL-padded), 272 wrapped DEK (512), 784 reserved (240).
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/hkdf.h"
#include "crypto/secmem.h"
#include "util/endian.h"

const uint8_t env_magic[ENV_NCOPIES][ENV_MAGIC_LEN] = {
	{ 'S', 'S', 'E', 'F', 'S', 0, 'H', 'A' },
	{ 'S', 'S', 'E', 'F', 'S', 0, 'H', 'B' },
};

enum {
	OFF_MAGIC = 0, OFF_VMAJ = 8, OFF_VMIN = 10, OFF_HSIZE = 12,
	OFF_SELF = 16, OFF_SEQ = 24, OFF_COMPAT = 32, OFF_ROCOMPAT = 36,
	OFF_INCOMPAT = 40, OFF_RES0 = 44, OFF_UUID = 48, OFF_SECTOR = 64,
	OFF_TYPE = 68, OFF_PSIZE = 72, OFF_DATAOFF = 80, OFF_CREATED = 88,
	OFF_ROTATED = 96, OFF_NLAYERS = 104, OFF_RES1 = 108, OFF_DES = 112,
	DES_FIELD = 96, OFF_MAC = 208, OFF_RES2 = 240, OFF_LAYER = 256,
	LAYER_SIZE = 1024, OFF_RES3 = 2304, OFF_CSUM = 4064, CSUM_LEN = 32,
	/* within a layer slot */
	L_CIPHER = 0, L_SOURCE = 1, L_WRAP = 2, L_RES0 = 3, L_WLEN = 4,
	L_KIDLEN = 6, L_RES1 = 8, L_KID = 16, KID_FIELD = 256, L_WRAPPED = 272,
	L_RES2 = 784,
};

_Static_assert(OFF_LAYER + ENV_MAX_LAYERS * LAYER_SIZE == OFF_RES3,
	       "layer slots");
_Static_assert(L_RES2 + 240 == LAYER_SIZE, "layer slot size");
_Static_assert(L_WRAPPED + ENV_WRAPPED_MAX == L_RES2, "wrapped field");
_Static_assert(OFF_CSUM + CSUM_LEN == ENV_COPY_BYTES, "checksum at end");

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int valid_des(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* A kid is printable ASCII without spaces. */
static int valid_kid(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

static void checksum(const uint8_t *buf, uint8_t out[CSUM_LEN])
{
	crypto_hash_sha256_state st;
	static const uint8_t zero[CSUM_LEN];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, buf, OFF_CSUM);
	crypto_hash_sha256_update(&st, zero, sizeof(zero));
	crypto_hash_sha256_final(&st, out);
}

static int layer_valid(const struct env_layer *l)
{
	size_t kl = strnlen(l->kid, sizeof(l->kid));

	return l->cipher >= ENV_CIPHER_AES256_XTS &&
	       l->cipher <= ENV_CIPHER_CAMELLIA256_XTS &&
	       l->key_source >= ENV_KEY_CUSTOMER &&
	       l->key_source <= ENV_KEY_PLATFORM &&
	       l->wrap_alg >= ENV_WRAP_RSA_OAEP_256 &&
	       l->wrap_alg <= ENV_WRAP_AES_KWP &&
	       l->wrapped_len > 0 && l->wrapped_len <= ENV_WRAPPED_MAX &&
	       kl > 0 && kl <= ENV_KID_MAX && valid_kid(l->kid);
}

static int header_valid(const struct env_header *h)
{
	size_t dl = strnlen(h->des, sizeof(h->des));

	if (h->sector_size != 512 && h->sector_size != 4096)
		return 0;
	if (h->enc_type < ENV_TYPE_PLATFORM ||
	    h->enc_type > ENV_TYPE_PLATFORM_AND_CUSTOMER)
		return 0;
	if (h->nlayers < 1 || h->nlayers > ENV_MAX_LAYERS)
		return 0;
	if ((h->enc_type == ENV_TYPE_PLATFORM_AND_CUSTOMER) !=
	    (h->nlayers == 2))
		return 0;
	if (dl > ENV_DES_MAX || !valid_des(h->des))
		return 0;
	/* the backing file must be addressable: data offset + size */
	if (h->plain_size > (UINT64_C(1) << 62))
		return 0;
	for (uint32_t i = 0; i < h->nlayers; i++)
		if (!layer_valid(&h->layer[i]))
			return 0;
	return 1;
}

int env_encode(const struct env_header *h, unsigned int copy, void *out,
	       size_t len)
{
	uint8_t *b = out, sum[CSUM_LEN];

	if (copy >= ENV_NCOPIES || len < ENV_COPY_BYTES || !header_valid(h))
		return -EINVAL;
	memset(b, 0, ENV_COPY_BYTES);
	memcpy(b + OFF_MAGIC, env_magic[copy], ENV_MAGIC_LEN);
	put_le16(b + OFF_VMAJ, h->version_major);
	put_le16(b + OFF_VMIN, h->version_minor);
	put_le32(b + OFF_HSIZE, ENV_COPY_BYTES);
	put_le64(b + OFF_SELF, (uint64_t)copy * ENV_COPY_BYTES);
	put_le64(b + OFF_SEQ, h->seq);
	put_le32(b + OFF_COMPAT, h->compat);
	put_le32(b + OFF_ROCOMPAT, h->ro_compat);
	put_le32(b + OFF_INCOMPAT, h->incompat);
	memcpy(b + OFF_UUID, h->uuid, ENV_UUID_BYTES);
	put_le32(b + OFF_SECTOR, h->sector_size);
	put_le32(b + OFF_TYPE, h->enc_type);
	put_le64(b + OFF_PSIZE, h->plain_size);
	put_le64(b + OFF_DATAOFF, ENV_DATA_OFFSET);
	put_le64(b + OFF_CREATED, h->created);
	put_le64(b + OFF_ROTATED, h->rotated);
	put_le32(b + OFF_NLAYERS, h->nlayers);
	memcpy(b + OFF_DES, h->des, strlen(h->des));
	memcpy(b + OFF_MAC, h->mac, ENV_MAC_BYTES);
	for (uint32_t i = 0; i < h->nlayers; i++) {
		const struct env_layer *l = &h->layer[i];
		uint8_t *p = b + OFF_LAYER + i * LAYER_SIZE;
		size_t kl = strlen(l->kid);

		p[L_CIPHER] = l->cipher;
		p[L_SOURCE] = l->key_source;
		p[L_WRAP] = l->wrap_alg;
		put_le16(p + L_WLEN, l->wrapped_len);
		put_le16(p + L_KIDLEN, (uint16_t)kl);
		memcpy(p + L_KID, l->kid, kl);
		memcpy(p + L_WRAPPED, l->wrapped, l->wrapped_len);
	}
	checksum(b, sum);
	memcpy(b + OFF_CSUM, sum, CSUM_LEN);
	return 0;
}

int env_decode(struct env_header *h, unsigned int copy, const void *in,
	       size_t len)
{
	const uint8_t *b = in;
	uint8_t sum[CSUM_LEN];

	if (copy >= ENV_NCOPIES || len < ENV_COPY_BYTES)
		return -EINVAL;
	memset(h, 0, sizeof(*h));

	/* cheap structural checks first, then the checksum */
	if (memcmp(b + OFF_MAGIC, env_magic[copy], ENV_MAGIC_LEN) ||
	    get_le32(b + OFF_HSIZE) != ENV_COPY_BYTES ||
	    get_le64(b + OFF_SELF) != (uint64_t)copy * ENV_COPY_BYTES ||
	    get_le64(b + OFF_DATAOFF) != ENV_DATA_OFFSET)
		return -EBADMSG;
	checksum(b, sum);
	if (CRYPTO_memcmp(sum, b + OFF_CSUM, CSUM_LEN))
		return -EBADMSG;

	h->version_major = get_le16(b + OFF_VMAJ);
	h->version_minor = get_le16(b + OFF_VMIN);
	h->incompat = get_le32(b + OFF_INCOMPAT);
	if (h->version_major > ENV_VERSION_MAJOR ||
	    (h->incompat & ~ENV_INCOMPAT_KNOWN))
		return -EPROTONOSUPPORT;
	if (h->version_major < 1)
		return -EBADMSG;
	h->seq = get_le64(b + OFF_SEQ);
	h->compat = get_le32(b + OFF_COMPAT);
	h->ro_compat = get_le32(b + OFF_ROCOMPAT);
	memcpy(h->uuid, b + OFF_UUID, ENV_UUID_BYTES);
	h->sector_size = get_le32(b + OFF_SECTOR);
	h->enc_type = get_le32(b + OFF_TYPE);
	h->plain_size = get_le64(b + OFF_PSIZE);
	h->created = get_le64(b + OFF_CREATED);
	h->rotated = get_le64(b + OFF_ROTATED);
	h->nlayers = get_le32(b + OFF_NLAYERS);
	memcpy(h->mac, b + OFF_MAC, ENV_MAC_BYTES);

	/* reserved bytes are zero; the DES name is NUL-padded */
	if (get_le32(b + OFF_RES0) || get_le32(b + OFF_RES1) ||
	    !all_zero(b + OFF_RES2, OFF_LAYER - OFF_RES2) ||
	    !all_zero(b + OFF_RES3, OFF_CSUM - OFF_RES3))
		return -EBADMSG;
	if (b[OFF_DES + ENV_DES_MAX] != 0 ||
	    !all_zero(b + OFF_DES + ENV_DES_MAX, DES_FIELD - ENV_DES_MAX))
		return -EBADMSG;
	memcpy(h->des, b + OFF_DES, ENV_DES_MAX);
	h->des[ENV_DES_MAX] = '\0';
	if (!all_zero(b + OFF_DES + strlen(h->des),
		      DES_FIELD - strlen(h->des)))
		return -EBADMSG;
	if (h->nlayers < 1 || h->nlayers > ENV_MAX_LAYERS)
		return -EBADMSG;

	for (uint32_t i = 0; i < ENV_MAX_LAYERS; i++) {
		const uint8_t *p = b + OFF_LAYER + i * LAYER_SIZE;
		struct env_layer *l = &h->layer[i];
		uint16_t wl = get_le16(p + L_WLEN), kl = get_le16(p + L_KIDLEN);

		if (i >= h->nlayers) {		/* unused slot: all zero */
			if (!all_zero(p, LAYER_SIZE))
				return -EBADMSG;
			continue;
		}
		if (wl == 0 || wl > ENV_WRAPPED_MAX || kl == 0 ||
		    kl > ENV_KID_MAX || p[L_RES0] ||
		    !all_zero(p + L_RES1, L_KID - L_RES1) ||
		    !all_zero(p + L_KID + kl, KID_FIELD - kl) ||
		    !all_zero(p + L_WRAPPED + wl, ENV_WRAPPED_MAX - wl) ||
		    !all_zero(p + L_RES2, LAYER_SIZE - L_RES2))
			return -EBADMSG;
		l->cipher = p[L_CIPHER];
		l->key_source = p[L_SOURCE];
		l->wrap_alg = p[L_WRAP];
		l->wrapped_len = wl;
		memcpy(l->kid, p + L_KID, kl);
		l->kid[kl] = '\0';
		if (strlen(l->kid) != kl)	/* a NUL inside the kid */
			return -EBADMSG;
		memcpy(l->wrapped, p + L_WRAPPED, wl);
	}
	if (!header_valid(h))
		return -EBADMSG;
	return 0;
}

int env_compute_mac(const struct env_header *h, struct secbuf *const *deks,
		    uint8_t mac[ENV_MAC_BYTES])
{
	uint8_t buf[ENV_COPY_BYTES], key[HKDF_SHA256_BYTES];
	uint8_t ikm[ENV_MAX_LAYERS * 64];
	struct env_header c = *h;
	size_t ikmlen = 0;
	unsigned int maclen = 0;
	int r;

	if (h->nlayers < 1 || h->nlayers > ENV_MAX_LAYERS)
		return -EINVAL;
	for (uint32_t i = 0; i < h->nlayers; i++) {
		size_t n = secbuf_len(deks[i]);

		if (n > 64)
			return -EINVAL;
		memcpy(ikm + ikmlen, secbuf_data(deks[i]), n);
		ikmlen += n;
	}
	r = hkdf_sha256(key, sizeof(key), ikm, ikmlen, NULL, 0,
			HKDF_INFO_HDR_MAC, strlen(HKDF_INFO_HDR_MAC));
	sodium_memzero(ikm, sizeof(ikm));
	if (r < 0)
		return r;

	/* the canonical form: copy 0, sequence 0, no MAC, no checksum */
	c.seq = 0;
	memset(c.mac, 0, sizeof(c.mac));
	r = env_encode(&c, 0, buf, sizeof(buf));
	if (r == 0 && !HMAC(EVP_sha256(), key, sizeof(key), buf, OFF_CSUM, mac,
			    &maclen))
		r = -EIO;
	sodium_memzero(key, sizeof(key));
	return r;
}

int env_verify_mac(const struct env_header *h, struct secbuf *const *deks)
{
	uint8_t mac[ENV_MAC_BYTES];
	int r;

	r = env_compute_mac(h, deks, mac);
	if (r < 0)
		return r;
	return CRYPTO_memcmp(mac, h->mac, ENV_MAC_BYTES) ? -EBADMSG : 0;
}

static const char *const type_names[] = {
	[ENV_TYPE_PLATFORM] = "EncryptionAtRestWithPlatformKey",
	[ENV_TYPE_CUSTOMER] = "EncryptionAtRestWithCustomerKey",
	[ENV_TYPE_PLATFORM_AND_CUSTOMER] =
		"EncryptionAtRestWithPlatformAndCustomerKeys",
};

const char *env_type_name(uint32_t type)
{
	if (type < 1 || type > ENV_TYPE_PLATFORM_AND_CUSTOMER)
		return NULL;
	return type_names[type];
}

int env_type_parse(const char *name, uint32_t *type)
{
	for (uint32_t t = 1; t <= ENV_TYPE_PLATFORM_AND_CUSTOMER; t++) {
		if (!strcmp(name, type_names[t])) {
			*type = t;
			return 0;
		}
	}
	return -EINVAL;
}

const char *env_cipher_name(uint32_t cipher)
{
	switch (cipher) {
	case ENV_CIPHER_AES256_XTS:
		return "aes-256-xts";
	case ENV_CIPHER_CAMELLIA256_XTS:
		return "camellia-256-xts";
	}
	return NULL;
}

const char *env_wrap_name(uint32_t wrap)
{
	switch (wrap) {
	case ENV_WRAP_RSA_OAEP_256:
		return "RSA-OAEP-256";
	case ENV_WRAP_AES_KWP:
		return "A256KWP";
	}
	return NULL;
}
