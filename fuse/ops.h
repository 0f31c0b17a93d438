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

/* A blob store's mount: ssefs_ops over a flat container (fuse/blobops.c). */
const struct fuse_operations *ssefs_blob_ops(void);

#endif /* SSEFS_FUSE_OPS_H */
