/*
 * rewrap.h - move a disk's wrapped DEKs to other key versions
 *
 * Re-wrapping touches the header only: the DEKs stay, so no data is
 * re-encrypted and the cost does not depend on the disk's size.  Both
 * copies are rewritten (the older first, each synced) under the header
 * lock, after re-reading them, so no copy keeps a DEK under the old
 * version, a crash leaves one valid copy, and a concurrent mount's size
 * update is not lost.
 */
#ifndef SSEFS_DISK_REWRAP_H
#define SSEFS_DISK_REWRAP_H

#include "crypto/envelope.h"

struct keyops;

/* A disk's new set: its name ("" for none) and encryption type. */
struct rewrap_set {
	const char *des;
	uint32_t enc_type;		/* enum env_type */
};

/*
 * disk_rewrap_set() - wrap layer i of @path's header under @targets[i]
 * (NULL: keep that layer's kid), and with @set (may be NULL) move the disk
 * to another disk encryption set or encryption type in the same header
 * write.  A disk already there, with both copies valid and equal, is left
 * alone (*@changed = 0); otherwise both copies are rewritten (*@changed =
 * 1).  @old_kids (may be NULL) receives the kids the disk had.  @path is
 * walked as trusted_open() does (util/beneath.h).  The number of layers
 * cannot change (that would mean re-encrypting the data): -EMEDIUMTYPE,
 * nothing written.  Return: 0; -EBADMSG (no valid header or MAC mismatch);
 * the keyops errors; -errno.
 */
int disk_rewrap_set(const char *path, const struct keyops *ops,
		    const char *const targets[ENV_MAX_LAYERS],
		    const struct rewrap_set *set, int *changed,
		    char old_kids[ENV_MAX_LAYERS][ENV_KID_MAX + 1])
	__attribute__((warn_unused_result));

/* Targets by key source rather than by layer. */
struct rewrap_src {
	const char *customer;	/* for customer-key layers; NULL: keep */
	const char *platform;	/* for platform-key layers; NULL: keep */
};

/*
 * disk_rewrap_fd() - the same over a disk already open read-write (the
 * caller closes @fd); what is not a regular file is -EBADMSG.  The targets
 * are @targets, or with @targets NULL the kid @src gives for each layer's
 * key source, read under the header lock: a rotation moves the customer
 * layer of a disk to its set's active key and its platform layer (a
 * platform-key disk's only one, the inner one of a double-encrypted disk)
 * to the newest platform key version in one header write.
 */
int disk_rewrap_fd(int fd, const struct keyops *ops,
		   const char *const targets[ENV_MAX_LAYERS],
		   const struct rewrap_src *src, const struct rewrap_set *set,
		   int *changed, char old_kids[ENV_MAX_LAYERS][ENV_KID_MAX + 1])
	__attribute__((warn_unused_result));

/* The same over any backing object (a page blob's, say), left open. */
struct backing;
int disk_rewrap_backing(struct backing *b, const struct keyops *ops,
			const char *const targets[ENV_MAX_LAYERS],
			const struct rewrap_src *src,
			const struct rewrap_set *set, int *changed,
			char old_kids[ENV_MAX_LAYERS][ENV_KID_MAX + 1])
	__attribute__((warn_unused_result));

#endif /* SSEFS_DISK_REWRAP_H */
