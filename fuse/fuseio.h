/*
 * fuseio.h - the daemon's own read/writev on /dev/fuse, so that the FUSE
 * INIT reply can ask for FUSE_HANDLE_KILLPRIV_V2
 *
 * Why: without it the kernel asks getxattr("security.capability") before
 * every write(2) to a file (file_remove_privs()), unless the file system
 * answers getxattr with ENOSYS, which ssefs cannot do (it serves
 * user.ssefs.*).  That doubled the FUSE round trips of every write.  With
 * FUSE_HANDLE_KILLPRIV_V2 the kernel marks the super block SB_NOSEC and
 * asks once per inode.  libfuse 3.14 has no FUSE_CAP_ for the flag, so
 * fuseio_install() puts thin wrappers around read(2) and writev(2) on the
 * session's channels (fuse_session_custom_io()) that add the flag to the
 * INIT reply when the kernel offered it, and do nothing else.
 *
 * The flag makes the file system responsible for dropping setuid/setgid
 * and security.capability on write, truncate and chown.  ssefs never has
 * any of them on a disk: file capabilities cannot be set (setxattr refuses
 * every name but user.ssefs.*, read-only), and ops.c drops S_ISUID and
 * S_ISGID from the modes of regular files (chmod, create, getattr).
 *
 * The same wrappers add FOPEN_PARALLEL_DIRECT_WRITES to the reply of an
 * open(2) with O_DIRECT that ops.c answered with direct_io (libfuse 3.14's
 * fuse_file_info has no bit for it).  Without it the kernel takes the
 * inode lock exclusively for every direct write, so the writes of a loop
 * device with direct I/O, or of fio --direct=1 --numjobs=2, reach the
 * daemon one at a time; with it, writes inside the file's size run in
 * parallel (the kernel still serialises appends, writes past the end and
 * writes while another open of the file uses the page cache).  Concurrent
 * writes are safe in the daemon: the volume locks the sectors it writes
 * (vol_lock_sectors(), disk/volume.c).
 *
 * When the kernel offers FUSE over io_uring and the mount allows it, the
 * INIT reply also asks for FUSE_OVER_IO_URING and fuse/fuseuring.c serves
 * the requests from rings; their replies still pass through the writev
 * wrapper (the flags above are added the same way) and go back into the
 * ring entry instead of /dev/fuse.
 */
#ifndef SSEFS_FUSE_FUSEIO_H
#define SSEFS_FUSE_FUSEIO_H

#include <stddef.h>

struct fuse_session;

/*
 * fuseio_install() - use the wrappers on @se's channels; call after
 * fuse_mount() and before the loop; @io_uring 1 lets the INIT reply ask
 * for FUSE over io_uring when the kernel offers it.  Return: 0 or -errno
 * (then @se is unchanged and works as before, only without the flags).
 */
int fuseio_install(struct fuse_session *se, int io_uring);

/* 1 once the INIT reply carried FUSE_HANDLE_KILLPRIV_V2, else 0. */
int fuseio_killpriv_v2(void);

/*
 * fuseio_note_request() - what fuseio learns from a request (the INIT
 * offer, O_DIRECT opens); for requests that do not come through its read
 * wrapper (fuse/fuseuring.c).
 */
void fuseio_note_request(const void *buf, size_t n);

/* 1 once an open reply carried FOPEN_PARALLEL_DIRECT_WRITES, else 0. */
int fuseio_parallel_dio(void);

#endif /* SSEFS_FUSE_FUSEIO_H */
