/*
 * linger.h - a disk whose ReadWrite host cache is still dirty stays open
 * after its last close until the cache has written it back (fuse/linger.c;
 * its closing task is in fuse/tasks.h)
 */
#ifndef SSEFS_FUSE_LINGER_H
#define SSEFS_FUSE_LINGER_H

struct disk_node;

/*
 * node_last_close() - the last file handle of @n went (n->lock held, refs
 * 0, n->vol open and the node's own): persist the size and leave the
 * volume open if its ReadWrite cache holds dirty sectors, else flush and
 * close it (keys wiped, lease and in-use mark released).
 * Return: 0 or -errno of the flush.
 */
int node_last_close(struct disk_node *n);

/* Is @n lingering (open volume, no handle)?  Caller holds n->lock. */
int node_lingers(struct disk_node *n);

#endif /* SSEFS_FUSE_LINGER_H */
