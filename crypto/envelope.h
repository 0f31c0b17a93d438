/*
 * envelope.h - one copy of the envelope header: decode, encode, checksum, MAC
 *
 * The in-memory header (host-endian, validated) is apart from its on-disk
 * form, which man/ssefs-format.5 documents byte for byte.  Two copies live
 * at the start of each backing file, ENV_COPY_BYTES each (copy 0 at 0, copy 1
 * at 4096), each with its own magic, self offset, sequence id and checksum;
 * data starts at ENV_DATA_OFFSET.  No file I/O here (disk/header.c does it).
 */
#ifndef SSEFS_CRYPTO_ENVELOPE_H
#define SSEFS_CRYPTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

struct secbuf;

#define ENV_COPY_BYTES		4096
#define ENV_NCOPIES		2
#define ENV_DATA_OFFSET		8192	/* 4096-aligned, after both copies */
#define ENV_MAX_LAYERS		2
#define ENV_KID_MAX		255	/* bytes, without the NUL */
#define ENV_WRAPPED_MAX		512	/* RSA-4096 OAEP output */
#define ENV_DES_MAX		80
#define ENV_MAC_BYTES		32	/* HMAC-SHA256 */
#define ENV_UUID_BYTES		16
#define ENV_VERSION_MAJOR	1
#define ENV_VERSION_MINOR	0

/* The first 8 bytes of a backing file: how a store scan recognises ours. */
#define ENV_MAGIC_LEN		8
extern const uint8_t env_magic[ENV_NCOPIES][ENV_MAGIC_LEN];

enum env_type {		/* the cloud's encryptionType values */
	ENV_TYPE_PLATFORM = 1,		/* EncryptionAtRestWithPlatformKey */
	ENV_TYPE_CUSTOMER = 2,		/* EncryptionAtRestWithCustomerKey */
	ENV_TYPE_PLATFORM_AND_CUSTOMER = 3,
};

enum env_cipher {
	ENV_CIPHER_AES256_XTS = 1,
	ENV_CIPHER_CAMELLIA256_XTS = 2,
};

enum env_key_source {
	ENV_KEY_CUSTOMER = 1,	/* an RSA key in the vault (CMK) */
	ENV_KEY_PLATFORM = 2,	/* the vault's platform key (PMK) */
};

enum env_wrap {
	ENV_WRAP_RSA_OAEP_256 = 1,	/* RSA-OAEP, SHA-256, MGF1-SHA-256 */
	ENV_WRAP_AES_KWP = 2,		/* AES-256 key wrap with padding */
};

/* Feature flags.  Unknown incompat bits refuse the open; unknown ro_compat
 * bits open the disk read-only; unknown compat bits are ignored. */
#define ENV_COMPAT_KNOWN	0u
/* The plaintext ends with a fixed-VHD footer whose unique id is the disk
 * UUID: an open checks it, so a header put on another disk's data is
 * found (man/ssefs-format.5).  ro_compat: a writer that does not know it
 * could overwrite the footer without clearing it. */
#define ENV_RO_COMPAT_BOUND_FOOTER	0x1u
#define ENV_RO_COMPAT_KNOWN	ENV_RO_COMPAT_BOUND_FOOTER
#define ENV_INCOMPAT_KNOWN	0u

struct env_layer {
	uint8_t cipher;			/* enum env_cipher */
	uint8_t key_source;		/* enum env_key_source */
	uint8_t wrap_alg;		/* enum env_wrap */
	char kid[ENV_KID_MAX + 1];	/* full versioned kid, NUL-terminated */
	uint16_t wrapped_len;
	uint8_t wrapped[ENV_WRAPPED_MAX];
};

struct env_header {
	uint16_t version_major, version_minor;
	uint64_t seq;			/* bumped on every copy written */
	uint32_t compat, ro_compat, incompat;
	uint8_t uuid[ENV_UUID_BYTES];
	uint32_t sector_size;		/* 512 or 4096 */
	uint64_t plain_size;		/* plaintext .vhd length, footer incl. */
	uint32_t enc_type;		/* enum env_type */
	char des[ENV_DES_MAX + 1];	/* "" when the disk has no DES */
	uint64_t created, rotated;	/* unix seconds */
	uint32_t nlayers;		/* 1, or 2 for double encryption */
	struct env_layer layer[ENV_MAX_LAYERS];	/* [0] outer ... inner */
	uint8_t mac[ENV_MAC_BYTES];
};

/*
 * env_decode() - check and parse copy @copy (0 or 1) of a header from the
 * ENV_COPY_BYTES at @buf: magic, version, self offset, sizes and checksum
 * first, then every field against its range.  Trusts no length it reads.
 * Return: 0; -EBADMSG (corrupt, wrong magic or checksum); -EPROTONOSUPPORT
 * (newer major version or unknown incompat flag); -EINVAL (@len too short).
 */
int env_decode(struct env_header *h, unsigned int copy, const void *buf,
	       size_t len) __attribute__((warn_unused_result));

/* Encode @h as copy @copy into ENV_COPY_BYTES at @buf, checksum included.
 * Return: 0 or -EINVAL (a field out of range). */
int env_encode(const struct env_header *h, unsigned int copy, void *buf,
	       size_t len) __attribute__((warn_unused_result));

/*
 * The header MAC: HMAC-SHA256 under HKDF(DEKs of all layers,
 * HKDF_INFO_HDR_MAC) over the header's fields (the sequence id, copy
 * number and checksum excluded, so both copies carry the same MAC).
 * @deks holds one DEK per layer, in layer order.
 */
int env_compute_mac(const struct env_header *h,
		    struct secbuf *const *deks, uint8_t mac[ENV_MAC_BYTES])
	__attribute__((warn_unused_result));
/* Return: 0 or -EBADMSG (wrong key or tampered header). */
int env_verify_mac(const struct env_header *h, struct secbuf *const *deks)
	__attribute__((warn_unused_result));

/* "EncryptionAtRestWithPlatformKey" etc.; NULL for an unknown value. */
const char *env_type_name(uint32_t type);
int env_type_parse(const char *name, uint32_t *type);
const char *env_cipher_name(uint32_t cipher);	/* "aes-256-xts" ... */
const char *env_wrap_name(uint32_t wrap);	/* "RSA-OAEP-256", "A256KWP" */

#endif /* SSEFS_CRYPTO_ENVELOPE_H */
