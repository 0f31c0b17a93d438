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
 */
#ifndef SSEFS_FUSE_FUSEIO_H
#define SSEFS_FUSE_FUSEIO_H

struct fuse_session;

/*
 * fuseio_install() - use the wrappers on @se's channels; call after
 * fuse_mount() and before the loop.  Return: 0 or -errno (then @se is
 * unchanged and works as before, only without the flag).
 */
int fuseio_install(struct fuse_session *se);

/* 1 once the INIT reply carried FUSE_HANDLE_KILLPRIV_V2, else 0. */
int fuseio_killpriv_v2(void);

#endif /* SSEFS_FUSE_FUSEIO_H */
