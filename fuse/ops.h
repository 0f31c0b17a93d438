/*
 * ops.h - the FUSE operations table of an ssefs mount
 *
 * Per-mount state is the struct ssefs_fs given to fuse_new() (fuse/fs.h);
 * an open disk is its struct disk_node in fi->fh.
 */
#ifndef SSEFS_FUSE_OPS_H
#define SSEFS_FUSE_OPS_H

#include <fuse.h>

extern const struct fuse_operations ssefs_ops;

/* The NODE_OUTSIDE node at @rel (fuse/fs.h), or NULL; and what the
 * mount shows of such a node: its backing file's stat with the disk's
 * size.  Return: 0 or -errno. */
struct disk_node;
struct ssefs_fs;
struct stat;
struct disk_node *outside_node(struct ssefs_fs *fs, const char *rel);
int outside_node_stat(struct disk_node *n, struct stat *st);
/* Fill the size fields of @st for disk node @n (and drop suid/sgid). */
void disk_stat(struct disk_node *n, struct stat *st);

/* A blob store's mount: ssefs_ops over a flat container (fuse/blobops.c). */
const struct fuse_operations *ssefs_blob_ops(void);

#endif /* SSEFS_FUSE_OPS_H */
