/*
 * secmem.c - guarded key memory over libsodium; OpenSSL secure heap
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "crypto/secmem.h"

struct secbuf {
	size_t len;
	uint8_t data[];
};

/* OpenSSL's secure heap: 256 KiB holds a few hundred RSA private keys'
 * numbers and every key schedule; minimum allocation 32 bytes. */
#define SECURE_HEAP_BYTES	(256 * 1024)
#define SECURE_HEAP_MINSIZE	32

int secmem_init(void)
{
	struct rlimit no_core = { 0, 0 };

	if (sodium_init() < 0)
		return -EIO;
	if (!CRYPTO_secure_malloc_initialized() &&
	    CRYPTO_secure_malloc_init(SECURE_HEAP_BYTES,
				      SECURE_HEAP_MINSIZE) == 0)
		return -EIO;
	/* no core dump, no ptrace by other users, no /proc/PID/mem peeking */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &no_core);
	return 0;
}

int secmem_lock_all(void)
{
	/* MCL_ONFAULT: lock pages as they are touched, not up front, so
	 * every FUSE thread's 8 MiB stack does not become resident */
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0 &&
	    mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		return -errno;
	return 0;
}

struct secbuf *secbuf_new(size_t len)
{
	struct secbuf *b;

	if (len == 0 || len > (1u << 20))
		return NULL;
	/*
	 * sodium_malloc() puts the end of the block against the guard page,
	 * so the start is only aligned when the size is a multiple of 16.
	 */
	b = sodium_malloc((sizeof(*b) + len + 15) & ~(size_t)15);
	if (!b)
		return NULL;
	b->len = len;
	sodium_memzero(b->data, len);
	return b;
}

struct secbuf *secbuf_from(const void *data, size_t len)
{
	struct secbuf *b = secbuf_new(len);

	if (b)
		memcpy(b->data, data, len);
	return b;
}

void secbuf_free(struct secbuf *b)
{
	/* sodium_free() wipes the whole allocation before unmapping it */
	if (b)
		sodium_free(b);
}

uint8_t *secbuf_data(const struct secbuf *b)
{
	return (uint8_t *)b->data;
}

size_t secbuf_len(const struct secbuf *b)
{
	return b->len;
}

int secbuf_eq(const struct secbuf *a, const struct secbuf *b)
{
	if (a->len != b->len)
		return 0;
	return sodium_memcmp(a->data, b->data, a->len) == 0;
}

void secmem_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}
