/*
 * copy.h - copy one disk's backing object to another, thin
 *
 * Written against struct backing (disk/backing.h) only, so that `ssefs
 * disk copy SRC DEST` works between any two stores: directory and
 * directory, directory and blob, blob and blob.
 */
#ifndef SSEFS_STORE_COPY_H
#define SSEFS_STORE_COPY_H

#include <stdint.h>

struct backing;

/* Progress: @done of @total allocated bytes copied so far. */
typedef void (*store_copy_progress)(void *arg, uint64_t done,
				    uint64_t total);

/*
 * store_copy() - copy @src into @dst, which must read as zeros (newly
 * created): @dst takes @src's length, then only @src's allocated ranges
 * (ranges()) are read, and of them only the 512-byte pages that are not
 * all zeros are written, so a thin disk stays thin.  @dst is synced at
 * the end; @progress (may be NULL) is called once at the start and after
 * every chunk of 4 MiB at most.  Locks nothing: the caller holds what keeps
 * others from writing either object (hold_inuse, hdr_lock).
 * Return: 0, -ENOMEM, or the first error of either backing.
 */
int store_copy(struct backing *src, struct backing *dst,
	       store_copy_progress progress, void *arg)
	__attribute__((warn_unused_result));

#endif /* SSEFS_STORE_COPY_H */
