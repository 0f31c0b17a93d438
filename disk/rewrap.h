/*
 * rewrap.h - re-wrap a disk's DEKs under other key versions
 *
 * Touches only the header (both copies), never data: the cost does not
 * depend on the disk's size.  The rotation engine and `ssefs disk rewrap`
 * call this; keys come through a struct keyops.
 */
#ifndef SSEFS_DISK_REWRAP_H
#define SSEFS_DISK_REWRAP_H

#include <stdint.h>

#include "crypto/envelope.h"

struct keyops;

struct rewrap_result {
	unsigned int nlayers;
	int changed;				/* 0: already on the targets */
	char old_kid[ENV_MAX_LAYERS][ENV_KID_MAX + 1];
	char new_kid[ENV_MAX_LAYERS][ENV_KID_MAX + 1];
};

/*
 * rewrap_fd() - under the header lock of @fd: read the header, unwrap
 * every layer's DEK through @ops, verify the MAC, wrap layer i's DEK under
 * @kids[i] (NULL or "" keeps that layer as it is), set the last-rotated
 * time, recompute the MAC and write both copies.  A disk already on every
 * target kid is left untouched (res->changed = 0).  With @new_uuid (16
 * bytes; for snapshots) the UUID is replaced too, which always writes.
 * @res may be NULL.  Return: 0; -EBADMSG (no valid header or MAC
 * mismatch); -EPROTONOSUPPORT; the keyops errors; -errno.
 */
int rewrap_fd(int fd, const char *const kids[ENV_MAX_LAYERS],
	      const uint8_t *new_uuid, const struct keyops *ops,
	      struct rewrap_result *res) __attribute__((warn_unused_result));

/* rewrap_fd() on the file at @path (opened read-write). */
int rewrap_disk(const char *path, const char *const kids[ENV_MAX_LAYERS],
		const struct keyops *ops, struct rewrap_result *res)
	__attribute__((warn_unused_result));

/*
 * rewrap_unwrap() - read the header of @fd, unwrap every layer's DEK and
 * verify the MAC (no lock taken).  @deks gets one secbuf per layer (caller
 * frees with secbuf_free()).  Return: 0 or as rewrap_fd().
 */
int rewrap_unwrap(int fd, struct env_header *h, const struct keyops *ops,
		  struct secbuf *deks[ENV_MAX_LAYERS])
	__attribute__((warn_unused_result));

#endif /* SSEFS_DISK_REWRAP_H */
