/*
 * envelope.c - one copy of the envelope header: decode, encode, checksum, MAC
 *
 * On-disk layout of one copy (ENV_COPY_BYTES, little-endian integers,
 * NUL-padded strings, every byte not listed is reserved and must be zero);
 * man/ssefs-format.5 is the reference and must be kept in step:
 *
 *	   0   8  magic (env_magic[copy])
 *	   8   8  self offset (copy * ENV_COPY_BYTES)
 *	  16   2  version major		  18   2  version minor
 *	  20   4  header length (ENV_COPY_BYTES)
 *	  24   8  sequence id
 *	  32   4  compat flags		  36   4  ro_compat flags
 *	  40   4  incompat flags	  44   4  reserved
 *	  48  32  SHA-256 checksum of the copy with this field zeroed
 *	  80  16  disk UUID
 *	  96   4  sector size		 100   4  encryption type
 *	 104   8  plaintext size	 112   8  created (unix s)
 *	 120   8  last rotated (unix s)	 128   4  number of layers
 *	 132   4  reserved
 *	 136  88  DES name (NUL-padded, at most 80 bytes)
 *	 224  32  header MAC (HMAC-SHA256)
 *	 256 784  layer 0		1040 784  layer 1 (zero if unused)
 *	1824 2272 reserved
 *
 * A layer (784 bytes): +0 cipher, +1 key source, +2 wrap algorithm,
 * +3 reserved, +4 u16 wrapped length, +6 2 reserved, +8 256 kid
 * (NUL-padded, at most 255 bytes), +264 512 wrapped DEK (zero beyond the
 * wrapped length), +776 8 reserved.
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

const uint8_t env_magic[ENV_NCOPIES][ENV_MAGIC_LEN] = {
	{ 'S', 'S', 'E', 'F', 'S', 0, 'h', '0' },
	{ 'S', 'S', 'E', 'F', 'S', 0, 'h', '1' },
};

#define OFF_MAGIC	0
#define OFF_SELF	8
#define OFF_VMAJOR	16
#define OFF_VMINOR	18
#define OFF_HDRLEN	20
#define OFF_SEQ		24
#define OFF_COMPAT	32
#define OFF_ROCOMPAT	36
#define OFF_INCOMPAT	40
#define OFF_RSV0	44
#define OFF_CSUM	48
#define CSUM_BYTES	32
#define OFF_UUID	80
#define OFF_SECTOR	96
#define OFF_TYPE	100
#define OFF_PLAIN	104
#define OFF_CREATED	112
#define OFF_ROTATED	120
#define OFF_NLAYERS	128
#define OFF_RSV1	132
#define OFF_DES		136
#define DES_FIELD	88
#define OFF_MAC		224
#define OFF_LAYER	256
#define LAYER_BYTES	784
#define OFF_TAIL	(OFF_LAYER + ENV_MAX_LAYERS * LAYER_BYTES)

#define L_CIPHER	0
#define L_SOURCE	1
#define L_WRAP		2
#define L_RSV0		3
#define L_WLEN		4
#define L_RSV1		6
#define L_KID		8
#define KID_FIELD	256
#define L_WRAPPED	264
#define L_RSV2		776

#define MAC_DOMAIN	"ssefs header v1"

_Static_assert(OFF_TAIL <= ENV_COPY_BYTES, "header layout overflows");
_Static_assert(L_RSV2 + 8 == LAYER_BYTES, "layer layout");
_Static_assert(L_WRAPPED + ENV_WRAPPED_MAX == L_RSV2, "layer layout");
_Static_assert(OFF_DES + DES_FIELD == OFF_MAC, "des field");

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

/* Same charset as a DES name: [A-Za-z0-9._-], starting alphanumeric. */
static int des_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return 1;	/* no DES */
	if (n > ENV_DES_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9');

		if (!alnum && !(i > 0 && (c == '.' || c == '_' || c == '-')))
			return 0;
	}
	return 1;
}

static int kid_ok(const char *kid)
{
	size_t n = strnlen(kid, ENV_KID_MAX + 1);

	if (n == 0 || n > ENV_KID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)kid[i] < 0x21 || (unsigned char)kid[i] > 0x7e)
			return 0;
	return 1;
}

static int layer_ok(const struct env_layer *l)
{
	if (l->cipher != ENV_CIPHER_AES256_XTS &&
	    l->cipher != ENV_CIPHER_CAMELLIA256_XTS)
		return 0;
	if (l->key_source != ENV_KEY_CUSTOMER &&
	    l->key_source != ENV_KEY_PLATFORM)
		return 0;
	if (l->wrap_alg != ENV_WRAP_RSA_OAEP_256 &&
	    l->wrap_alg != ENV_WRAP_AES_KWP)
		return 0;
	if (l->wrapped_len == 0 || l->wrapped_len > ENV_WRAPPED_MAX)
		return 0;
	return kid_ok(l->kid);
}

/* Range checks shared by encode and decode (not flags or version). */
static int fields_ok(const struct env_header *h)
{
	if (h->sector_size != 512 && h->sector_size != 4096)
		return 0;
	if (!env_type_name(h->enc_type))
		return 0;
	if (h->nlayers < 1 || h->nlayers > ENV_MAX_LAYERS)
		return 0;
	if (h->plain_size > (UINT64_MAX >> 2))
		return 0;
	if (memchr(h->des, '\0', sizeof(h->des)) == NULL || !des_name_ok(h->des))
		return 0;
	for (uint32_t i = 0; i < h->nlayers; i++)
		if (!layer_ok(&h->layer[i]))
			return 0;
	return 1;
}

static int checksum(uint8_t out[CSUM_BYTES], const uint8_t *copy)
{
	crypto_hash_sha256_state st;
	static const uint8_t zero[CSUM_BYTES];

	if (crypto_hash_sha256_init(&st) != 0)
		return -EIO;
	crypto_hash_sha256_update(&st, copy, OFF_CSUM);
	crypto_hash_sha256_update(&st, zero, CSUM_BYTES);
	crypto_hash_sha256_update(&st, copy + OFF_CSUM + CSUM_BYTES,
				  ENV_COPY_BYTES - OFF_CSUM - CSUM_BYTES);
	crypto_hash_sha256_final(&st, out);
	return 0;
}

/* Lay out the fields (everything but magic, self offset, seq, checksum). */
static void put_fields(uint8_t *b, const struct env_header *h)
{
	put16(b + OFF_VMAJOR, h->version_major);
	put16(b + OFF_VMINOR, h->version_minor);
	put32(b + OFF_HDRLEN, ENV_COPY_BYTES);
	put32(b + OFF_COMPAT, h->compat);
	put32(b + OFF_ROCOMPAT, h->ro_compat);
	put32(b + OFF_INCOMPAT, h->incompat);
	memcpy(b + OFF_UUID, h->uuid, ENV_UUID_BYTES);
	put32(b + OFF_SECTOR, h->sector_size);
	put32(b + OFF_TYPE, h->enc_type);
	put64(b + OFF_PLAIN, h->plain_size);
	put64(b + OFF_CREATED, h->created);
	put64(b + OFF_ROTATED, h->rotated);
	put32(b + OFF_NLAYERS, h->nlayers);
	memcpy(b + OFF_DES, h->des, strlen(h->des));
	memcpy(b + OFF_MAC, h->mac, ENV_MAC_BYTES);
	for (uint32_t i = 0; i < h->nlayers; i++) {
		const struct env_layer *l = &h->layer[i];
		uint8_t *p = b + OFF_LAYER + i * LAYER_BYTES;

		p[L_CIPHER] = l->cipher;
		p[L_SOURCE] = l->key_source;
		p[L_WRAP] = l->wrap_alg;
		put16(p + L_WLEN, l->wrapped_len);
		memcpy(p + L_KID, l->kid, strlen(l->kid));
		memcpy(p + L_WRAPPED, l->wrapped, l->wrapped_len);
	}
}

int env_encode(const struct env_header *h, unsigned int copy, void *buf,
	       size_t len)
{
	uint8_t *b = buf;

	if (copy >= ENV_NCOPIES || len < ENV_COPY_BYTES || !fields_ok(h))
		return -EINVAL;
	memset(b, 0, ENV_COPY_BYTES);
	memcpy(b + OFF_MAGIC, env_magic[copy], ENV_MAGIC_LEN);
	put64(b + OFF_SELF, (uint64_t)copy * ENV_COPY_BYTES);
	put64(b + OFF_SEQ, h->seq);
	put_fields(b, h);
	return checksum(b + OFF_CSUM, b);
}

static int decode_layer(struct env_layer *l, const uint8_t *p)
{
	if (p[L_RSV0] || !all_zero(p + L_RSV1, 2) || !all_zero(p + L_RSV2, 8))
		return -EBADMSG;
	l->cipher = p[L_CIPHER];
	l->key_source = p[L_SOURCE];
	l->wrap_alg = p[L_WRAP];
	l->wrapped_len = get16(p + L_WLEN);
	if (l->wrapped_len == 0 || l->wrapped_len > ENV_WRAPPED_MAX)
		return -EBADMSG;
	if (!all_zero(p + L_WRAPPED + l->wrapped_len,
		      ENV_WRAPPED_MAX - l->wrapped_len))
		return -EBADMSG;
	memcpy(l->wrapped, p + L_WRAPPED, l->wrapped_len);
	/* the kid must end within its field, followed by zeros only */
	if (memchr(p + L_KID, '\0', KID_FIELD) == NULL)
		return -EBADMSG;
	memcpy(l->kid, p + L_KID, ENV_KID_MAX + 1);
	if (!all_zero(p + L_KID + strlen(l->kid), KID_FIELD - strlen(l->kid)))
		return -EBADMSG;
	return layer_ok(l) ? 0 : -EBADMSG;
}

int env_decode(struct env_header *out, unsigned int copy, const void *buf,
	       size_t len)
{
	const uint8_t *b = buf;
	uint8_t sum[CSUM_BYTES];
	struct env_header h;
	int ret = -EBADMSG;

	if (copy >= ENV_NCOPIES || len < ENV_COPY_BYTES)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	if (memcmp(b + OFF_MAGIC, env_magic[copy], ENV_MAGIC_LEN) != 0)
		goto out;
	if (get64(b + OFF_SELF) != (uint64_t)copy * ENV_COPY_BYTES)
		goto out;
	if (get32(b + OFF_HDRLEN) != ENV_COPY_BYTES)
		goto out;
	if (checksum(sum, b) != 0 ||
	    CRYPTO_memcmp(sum, b + OFF_CSUM, CSUM_BYTES) != 0)
		goto out;
	h.version_major = get16(b + OFF_VMAJOR);
	h.version_minor = get16(b + OFF_VMINOR);
	h.compat = get32(b + OFF_COMPAT);
	h.ro_compat = get32(b + OFF_ROCOMPAT);
	h.incompat = get32(b + OFF_INCOMPAT);
	if (h.version_major == 0)
		goto out;
	if (h.version_major > ENV_VERSION_MAJOR ||
	    (h.incompat & ~ENV_INCOMPAT_KNOWN)) {
		ret = -EPROTONOSUPPORT;
		goto out;
	}
	if (!all_zero(b + OFF_RSV0, 4) || !all_zero(b + OFF_RSV1, 4) ||
	    !all_zero(b + OFF_TAIL, ENV_COPY_BYTES - OFF_TAIL))
		goto out;
	h.seq = get64(b + OFF_SEQ);
	memcpy(h.uuid, b + OFF_UUID, ENV_UUID_BYTES);
	h.sector_size = get32(b + OFF_SECTOR);
	h.enc_type = get32(b + OFF_TYPE);
	h.plain_size = get64(b + OFF_PLAIN);
	h.created = get64(b + OFF_CREATED);
	h.rotated = get64(b + OFF_ROTATED);
	h.nlayers = get32(b + OFF_NLAYERS);
	if (h.nlayers < 1 || h.nlayers > ENV_MAX_LAYERS)
		goto out;
	if (memchr(b + OFF_DES, '\0', ENV_DES_MAX + 1) == NULL)
		goto out;
	memcpy(h.des, b + OFF_DES, ENV_DES_MAX + 1);
	if (!all_zero(b + OFF_DES + strlen(h.des), DES_FIELD - strlen(h.des)))
		goto out;
	memcpy(h.mac, b + OFF_MAC, ENV_MAC_BYTES);
	for (uint32_t i = 0; i < h.nlayers; i++)
		if (decode_layer(&h.layer[i], b + OFF_LAYER + i * LAYER_BYTES))
			goto out;
	for (uint32_t i = h.nlayers; i < ENV_MAX_LAYERS; i++)
		if (!all_zero(b + OFF_LAYER + i * LAYER_BYTES, LAYER_BYTES))
			goto out;
	if (!fields_ok(&h))
		goto out;
	*out = h;
	ret = 0;
out:
	return ret;
}

/* The MAC key: HKDF over the DEKs of all layers, concatenated. */
static int mac_key(const struct env_header *h, struct secbuf *const *deks,
		   uint8_t key[HKDF_SHA256_BYTES])
{
	struct secbuf *ikm;
	size_t total = 0, at = 0;
	int ret;

	for (uint32_t i = 0; i < h->nlayers; i++) {
		if (!deks[i] || secbuf_len(deks[i]) == 0)
			return -EINVAL;
		total += secbuf_len(deks[i]);
	}
	ikm = secbuf_new(total);
	if (!ikm)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->nlayers; i++) {
		memcpy(secbuf_data(ikm) + at, secbuf_data(deks[i]),
		       secbuf_len(deks[i]));
		at += secbuf_len(deks[i]);
	}
	ret = hkdf_sha256(key, HKDF_SHA256_BYTES, secbuf_data(ikm), total,
			  NULL, 0, HKDF_INFO_HDR_MAC,
			  strlen(HKDF_INFO_HDR_MAC));
	secbuf_free(ikm);
	return ret;
}

int env_compute_mac(const struct env_header *h, struct secbuf *const *deks,
		    uint8_t mac[ENV_MAC_BYTES])
{
	uint8_t buf[ENV_COPY_BYTES];
	uint8_t key[HKDF_SHA256_BYTES];
	unsigned int maclen = ENV_MAC_BYTES;
	int ret;

	if (h->nlayers < 1 || h->nlayers > ENV_MAX_LAYERS || !fields_ok(h))
		return -EINVAL;
	/* canonical form: the fields only; no magic, self offset, seq,
	 * checksum or MAC, so both copies carry the same MAC */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, MAC_DOMAIN, sizeof(MAC_DOMAIN) - 1);
	put_fields(buf, h);
	memset(buf + OFF_MAC, 0, ENV_MAC_BYTES);
	ret = mac_key(h, deks, key);
	if (ret)
		goto out;
	if (!HMAC(EVP_sha256(), key, sizeof(key), buf, sizeof(buf), mac,
		  &maclen) || maclen != ENV_MAC_BYTES)
		ret = -EIO;
out:
	sodium_memzero(key, sizeof(key));
	return ret;
}

int env_verify_mac(const struct env_header *h, struct secbuf *const *deks)
{
	uint8_t mac[ENV_MAC_BYTES];
	int ret = env_compute_mac(h, deks, mac);

	if (ret)
		return ret == -EINVAL ? -EBADMSG : ret;
	ret = CRYPTO_memcmp(mac, h->mac, ENV_MAC_BYTES) ? -EBADMSG : 0;
	sodium_memzero(mac, sizeof(mac));
	return ret;
}

static const char *const type_names[] = {
	[ENV_TYPE_PLATFORM] = "EncryptionAtRestWithPlatformKey",
	[ENV_TYPE_CUSTOMER] = "EncryptionAtRestWithCustomerKey",
	[ENV_TYPE_PLATFORM_AND_CUSTOMER] =
		"EncryptionAtRestWithPlatformAndCustomerKeys",
};

const char *env_type_name(uint32_t type)
{
	if (type == 0 || type >= sizeof(type_names) / sizeof(type_names[0]))
		return NULL;
	return type_names[type];
}

int env_type_parse(const char *name, uint32_t *type)
{
	for (uint32_t i = 1; i < sizeof(type_names) / sizeof(type_names[0]);
	     i++) {
		if (strcmp(name, type_names[i]) == 0) {
			*type = i;
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
