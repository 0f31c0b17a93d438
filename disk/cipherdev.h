/*
 * cipherdev.h - the cipher layer: one or two XTS layers over a device
 *
 * The only holder of a disk's DEKs (secbufs) and of the cipher contexts
 * keyed from them (a pool of crypto/cascade.c contexts, one per I/O call,
 * so threads never share one).  Reads decrypt what the lower device gives,
 * but an all-zero ciphertext sector reads as zeros (a hole, or a sector
 * never written); writes encrypt into a per-context buffer and leave the
 * caller's plaintext as it is.  Without keys, I/O fails with -EKEYREVOKED
 * (discard, flush, resize and size still pass down).
 *
 * Locking: I/O calls are safe from many threads.  cipherdev_load() and
 * cipherdev_drop() must not run concurrently with any other call on the
 * device (the volume takes its keys lock exclusive around them).
 */
#ifndef SSEFS_DISK_CIPHERDEV_H
#define SSEFS_DISK_CIPHERDEV_H

#include <stddef.h>
#include <stdint.h>

struct blkdev;
struct env_header;
struct keyops;
struct secbuf;

/* A cipher layer over @lower (closed with it), without keys; @ops
 * (copied) unwraps them at cipherdev_load().  Return: 0 or -ENOMEM. */
int cipherdev_new(struct blkdev **out, struct blkdev *lower,
		  const struct keyops *ops);

/*
 * cipherdev_load() - unwrap @h's DEKs, check @h's MAC with them, key the
 * layers (any keys held before are wiped first).  Nothing is kept on
 * failure.  Return: 0; -EBADMSG (MAC mismatch); the keyops errors; -errno.
 */
int cipherdev_load(struct blkdev *d, const struct env_header *h);
/* Wipe the DEKs and every context keyed from them. */
void cipherdev_drop(struct blkdev *d);
int cipherdev_has_keys(struct blkdev *d);

/* The header MAC under the DEKs (crypto/envelope.h): check @h's, or
 * compute it into @mac.  Return: 0; -EBADMSG; -EKEYREVOKED (no keys). */
int cipherdev_verify_mac(struct blkdev *d, const struct env_header *h);
int cipherdev_compute_mac(struct blkdev *d, const struct env_header *h,
			  uint8_t *mac);

/*
 * cipherdev_encrypt() - encrypt @n plaintext sectors at @buf in place,
 * the first being @sector: for a host cache below this layer that holds
 * plaintext an earlier mount (encryption at host off) left dirty.  There
 * is no decrypting twin: nothing below this layer ever sees plaintext
 * otherwise.  Return: 0; -EKEYREVOKED; -ENOMEM; -EIO.
 */
int cipherdev_encrypt(struct blkdev *d, uint64_t sector, void *buf,
		      size_t n);

/*
 * cipherdev_cache_key() - the host cache's entry key (HKDF of the outer
 * DEK, CIPHERDEV_CACHE_KEY_BYTES): it authenticates cache entries and cannot decrypt.
 * Return: a new secbuf (caller frees), or NULL (no keys, no memory).
 */
#define CIPHERDEV_CACHE_KEY_BYTES	32u
struct secbuf *cipherdev_cache_key(struct blkdev *d);

#endif /* SSEFS_DISK_CIPHERDEV_H */
