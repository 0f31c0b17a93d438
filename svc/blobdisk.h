/*
 * blobdisk.h - a disk named by its URL, CONTAINER-URL/NAME.vhd: its
 * backing object in a page blob (store/blobback.h), for the commands that
 * take a path or a URL
 *
 * Each call opens the container's store with @o (may be NULL: the
 * defaults, credentials from the environment) and drops the caller's
 * reference to it; the backing keeps it alive.  On failure @msg holds one
 * line "ssefs: WHAT: WHY".  Return values are blob_backing_open()'s,
 * blob_backing_create()'s and blob_delete()'s, with blob_url_split()'s
 * -EINVAL and blob_store_open()'s.
 */
#ifndef SSEFS_SVC_BLOBDISK_H
#define SSEFS_SVC_BLOBDISK_H

#include <stddef.h>
#include <stdint.h>

struct backing;
struct blob_store_opts;

/* Open the existing disk at @url; BLOB_RDONLY in @flags: read-only. */
int blobdisk_open(struct backing **out, const char *url, int flags,
		  const struct blob_store_opts *o, char *msg, size_t msglen)
	__attribute__((warn_unused_result));

/* Make a new, all-clear page blob of @len bytes at @url (never over an
 * existing one), opened read-write. */
int blobdisk_create(struct backing **out, const char *url, uint64_t len,
		    const struct blob_store_opts *o, char *msg, size_t msglen)
	__attribute__((warn_unused_result));

/* Delete the disk at @url (a leased one is not deleted: -EBUSY). */
int blobdisk_delete(const char *url, const struct blob_store_opts *o,
		    char *msg, size_t msglen);

/* The bytes allocated in @b (its ranges): what a thin disk costs. */
int blobdisk_allocated(struct backing *b, uint64_t *bytes);

#endif /* SSEFS_SVC_BLOBDISK_H */
