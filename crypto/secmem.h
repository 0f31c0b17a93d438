/*
 * secmem.h - guarded, locked memory for key material, and process hardening
 *
 * A struct secbuf is our only home for a secret (DEK, private key, master
 * key): sodium_malloc'd (guard pages, mlock'd, excluded from core dumps),
 * zero-filled at birth, wiped at secbuf_free().
 */
#ifndef SSEFS_CRYPTO_SECMEM_H
#define SSEFS_CRYPTO_SECMEM_H

#include <stddef.h>
#include <stdint.h>

struct secbuf;

/*
 * secmem_init() - initialise libsodium and OpenSSL's secure heap, and turn
 * core dumps off (PR_SET_DUMPABLE 0, RLIMIT_CORE 0).  Call once, first thing
 * in main() and in the unit runner.  Return: 0 or -EIO.
 */
int secmem_init(void) __attribute__((warn_unused_result));

/* Lock all current and future pages (daemon); best effort.  Return: 0 or
 * -errno (the caller warns and goes on). */
int secmem_lock_all(void);

/* New zero-filled buffer of @len bytes (> 0).  NULL on failure. */
struct secbuf *secbuf_new(size_t len);
/* New buffer holding a copy of @len bytes at @data.  NULL on failure. */
struct secbuf *secbuf_from(const void *data, size_t len);
/* Wipe and free; NULL is a no-op. */
void secbuf_free(struct secbuf *b);
uint8_t *secbuf_data(const struct secbuf *b);
size_t secbuf_len(const struct secbuf *b);
/* Constant-time equality of length and contents.  Return: 1 or 0. */
int secbuf_eq(const struct secbuf *a, const struct secbuf *b);

/* Wipe @len bytes at @p in a way the compiler keeps. */
void secmem_wipe(void *p, size_t len);

#endif /* SSEFS_CRYPTO_SECMEM_H */
