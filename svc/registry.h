/*
 * registry.h - the vault's disk registry as the CLI, the daemon and
 * rotation fill it: one record per disk, from the disk's header
 */
#ifndef SSEFS_SVC_REGISTRY_H
#define SSEFS_SVC_REGISTRY_H

struct env_header;
struct vault_disk;

/*
 * registry_entry() - fill @d, the registry's record of the disk whose
 * header is @h: its id, set and outer layer's kid, and @path (absolute;
 * NULL leaves it empty for the caller).  No locking, no I/O.
 */
void registry_entry(struct vault_disk *d, const struct env_header *h,
		    const char *path);

#endif /* SSEFS_SVC_REGISTRY_H */
