/*
 * hcdev.h - the host cache as a device of a disk's stack (disk/blkdev.h)
 *
 * It caches whatever its lower device holds: pushed below the cipher
 * layer it caches and writes back ciphertext and needs no key (encryption
 * at host on); pushed above it, plaintext (encryption at host off).  The
 * cache file and its rules are cache/hcache.h's: ReadOnly keeps cached
 * copies up to date after the lower device took a write; ReadWrite keeps
 * writes in the cache and writes them back into the lower device at
 * flush (and from the cache's thread, through vol_flush()), as ReadOnly
 * does with what an earlier mount left dirty, holding the volume's
 * stripes of the sectors it writes; entries are cleared only
 * after the lower device's flush; a write the cache file cannot take goes
 * through to the lower device at once.
 */
#ifndef SSEFS_CACHE_HCDEV_H
#define SSEFS_CACHE_HCDEV_H

struct hcache;
struct volume;

/*
 * hcdev_attach() - serve the open volume @vol through the host cache
 * @hc: push a cache device below or above its cipher layer (hc_plain()).
 * Dirty sectors an earlier mount left for this disk are adopted and
 * written back at the next vol_flush(); if that mount ran with encryption
 * at host the other way, plaintext ones below the cipher layer are
 * encrypted as they are read or written back, and ciphertext ones above
 * it are written back here at once.  Call it before the volume serves
 * I/O.  Return: 0; -EKEYREVOKED; -errno (if after the push, the volume is
 * served through the cache all the same: close it).
 */
int hcdev_attach(struct volume *vol, struct hcache *hc);

#endif /* SSEFS_CACHE_HCDEV_H */
