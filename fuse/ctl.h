/*
 * ctl.h - the mount daemon's control socket (`ssefs status MNT`)
 *
 * A unix stream socket, mode 0600, at /run/ssefs/ID.sock for root or
 * $XDG_RUNTIME_DIR/ssefs/ID.sock (else /tmp/ssefs-UID/ID.sock), where ID is
 * the BLAKE2b-128 hex of the mount point's realpath.  A client sends one
 * line ("status" or "status json") and reads the answer until EOF.  The
 * daemon answers only root and the user who mounted (SO_PEERCRED).
 */
#ifndef SSEFS_FUSE_CTL_H
#define SSEFS_FUSE_CTL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct ssefs_fs;

/* The socket path for mount point @mnt_real as user @uid. */
int ctl_socket_path(const char *mnt_real, uid_t uid, char *buf, size_t len);

/*
 * ctl_prepare_dir() - make the socket folder of @uid (0700) unless it
 * exists, and check it as ssh's StrictModes does (util/trust.h): a folder,
 * not a link, owned by @uid or root, writable by no one else; the same
 * for the folders above it, sticky ones (/tmp) excepted.  On a refusal
 * @why holds one line naming the folder and the fix.
 * Return: 0, -EPERM, -ENOTDIR, or -errno.
 */
int ctl_prepare_dir(uid_t uid, char *why, size_t len);

/* Start/stop the listening thread of the daemon.  Return: 0 or -errno. */
int ctl_start(struct ssefs_fs *fs);
void ctl_stop(struct ssefs_fs *fs);

/*
 * ctl_request() - send @req to the daemon of @mnt_real and copy its answer
 * to @out.  The socket's folder is checked first (ctl_prepare_dir()'s
 * rule) and the server must run as the caller or root (SO_PEERCRED).
 * Return: 0; -ENOTCONN (no daemon answers there); -EACCES; -EPERM (the
 * folder or the server is not trusted: @why says which); -errno.
 */
int ctl_request(const char *mnt_real, const char *req, FILE *out,
		char *why, size_t whylen);

/* Write the status of @fs as text or JSON (used by the daemon). */
void ctl_write_status(struct ssefs_fs *fs, FILE *f, int json);

#endif /* SSEFS_FUSE_CTL_H */
