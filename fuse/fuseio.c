/*
 * fuseio.c - read/writev on /dev/fuse that add FUSE_HANDLE_KILLPRIV_V2 to
 * the INIT reply (see fuseio.h for why)
 *
 * The read wrapper notes the INIT request (its unique id and whether the
 * kernel offers the flag); the writev wrapper, for the reply with that
 * unique id only, copies the reply and sets the flag in fuse_init_out.flags.
 * Every other request and reply passes through untouched: one compare per
 * request.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/fuse.h>

#include <fuse_lowlevel.h>

#include "fuse/fuseio.h"

/* INIT: 0 not seen, 1 seen (reply pending), 2 answered */
static int init_state;
static uint64_t init_unique;
static int init_offered;
static int killpriv_v2;

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct fuse_in_header *h = buf;
	ssize_t n;

	(void)userdata;
	n = read(fd, buf, len);
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 0 &&
	    n >= (ssize_t)(sizeof(*h) + offsetof(struct fuse_init_in, flags) +
			   sizeof(uint32_t)) &&
	    h->opcode == FUSE_INIT) {
		const struct fuse_init_in *in = (const void *)(h + 1);

		init_unique = h->unique;
		init_offered = (in->flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
		__atomic_store_n(&init_state, 1, __ATOMIC_RELEASE);
	}
	return n;
}

/* The INIT reply with the flag added; -2 when @iov is not one we know. */
static ssize_t init_reply(int fd, const struct iovec *iov, int count)
{
	unsigned char msg[sizeof(struct fuse_out_header) +
			  sizeof(struct fuse_init_out)];
	const size_t at = sizeof(struct fuse_out_header) +
			  offsetof(struct fuse_init_out, flags);
	struct fuse_out_header oh;
	size_t len = 0;
	uint32_t flags;
	ssize_t n;

	for (int i = 0; i < count; i++) {
		if (iov[i].iov_len > sizeof(msg) - len)
			return -2;
		memcpy(msg + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (len < at + sizeof(flags))
		return -2;
	memcpy(&oh, msg, sizeof(oh));
	if (oh.error != 0 || oh.len != len)
		return -2;
	memcpy(&flags, msg + at, sizeof(flags));
	flags |= FUSE_HANDLE_KILLPRIV_V2;
	memcpy(msg + at, &flags, sizeof(flags));
	n = write(fd, msg, len);
	if (n >= 0)
		killpriv_v2 = 1;
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count,
			 void *userdata)
{
	ssize_t n;

	(void)userdata;
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 1 && count > 0 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    ((const struct fuse_out_header *)iov[0].iov_base)->unique ==
	    init_unique) {
		__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
		if (init_offered) {
			n = init_reply(fd, iov, count);
			if (n != -2)
				return n;
		}
	}
	return writev(fd, iov, count);
}

int fuseio_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
	};
	int fd = fuse_session_fd(se);

	if (fd < 0)
		return -EBADF;
	return fuse_session_custom_io(se, &io, fd);
}

int fuseio_killpriv_v2(void)
{
	return killpriv_v2;
}
