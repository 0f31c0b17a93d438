/*
 * header.c - read, write and lock the two header copies
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "disk/header.h"
#include "util/io.h"

int hdr_read(int fd, struct env_header *h, struct hdr_status *st)
{
	static const uint8_t prefix[6] = { 'S', 'S', 'E', 'F', 'S', 0 };
	uint8_t buf[ENV_NCOPIES * ENV_COPY_BYTES];
	struct env_header c[ENV_NCOPIES];
	struct hdr_status s;
	int best = -1, proto = 0;
	ssize_t n;

	memset(&s, 0, sizeof(s));
	memset(buf, 0, sizeof(buf));
	n = io_pread_all(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return (int)n;
	for (unsigned int i = 0; i < ENV_NCOPIES; i++) {
		if (!memcmp(buf + i * ENV_COPY_BYTES, prefix, sizeof(prefix)))
			s.magic = 1;
		s.err[i] = env_decode(&c[i], i, buf + i * ENV_COPY_BYTES,
				      ENV_COPY_BYTES);
		s.state[i] = HDR_COPY_BAD;
		if (s.err[i] == -EPROTONOSUPPORT)
			proto = 1;
		if (s.err[i] < 0)
			continue;
		s.seq[i] = c[i].seq;
		if (best < 0 || c[i].seq > c[best].seq)
			best = (int)i;
	}
	for (unsigned int i = 0; i < ENV_NCOPIES; i++) {
		struct env_header a, b;

		if (s.err[i] < 0)
			continue;
		/* a twin that says the same but for its sequence id is
		 * current: hdr_write gives the two copies seq N+1 and N+2 */
		a = c[i];
		b = c[best];
		a.seq = b.seq = 0;
		s.state[i] = (int)i == best || !memcmp(&a, &b, sizeof(a)) ?
			     HDR_COPY_OK : HDR_COPY_STALE;
	}
	if (st)
		*st = s;
	if (!s.magic)
		return -ENOTSUP;
	if (best < 0)
		return proto ? -EPROTONOSUPPORT : -EBADMSG;
	*h = c[best];
	return 0;
}

static int ofd_lock(int fd, short type, off_t start, off_t len, int wait)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET,
		.l_start = start, .l_len = len,
	};

	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int hdr_lock(int fd)
{
	return ofd_lock(fd, F_WRLCK, 0, HDR_INUSE_BYTE, 1);
}

void hdr_unlock(int fd)
{
	ofd_lock(fd, F_UNLCK, 0, HDR_INUSE_BYTE, 0);
}

int hdr_hold_inuse(int fd)
{
	return ofd_lock(fd, F_RDLCK, HDR_INUSE_BYTE, 1, 0);
}

int hdr_inuse(int fd)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET,
		.l_start = HDR_INUSE_BYTE, .l_len = 1,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static int write_copy(int fd, struct env_header *h, unsigned int copy,
		      uint64_t seq)
{
	uint8_t buf[ENV_COPY_BYTES];
	int r;

	h->seq = seq;
	r = env_encode(h, copy, buf, sizeof(buf));
	if (r < 0)
		return r;
	r = io_pwrite_all(fd, buf, sizeof(buf), (off_t)copy * ENV_COPY_BYTES);
	if (r < 0)
		return r;
	return fdatasync(fd) < 0 ? -errno : 0;
}

int hdr_write(int fd, struct env_header *h)
{
	struct env_header cur;
	struct hdr_status st;
	unsigned int first;
	uint64_t max = 0;
	int r;

	r = hdr_read(fd, &cur, &st);
	if (r < 0 && r != -EBADMSG && r != -ENOTSUP)
		return r;
	for (unsigned int i = 0; i < ENV_NCOPIES; i++)
		if (st.state[i] != HDR_COPY_BAD && st.seq[i] > max)
			max = st.seq[i];
	/* the older (or broken) copy goes first; the newest survives a crash */
	if (st.state[0] == HDR_COPY_BAD)
		first = 0;
	else if (st.state[1] == HDR_COPY_BAD)
		first = 1;
	else
		first = st.seq[0] <= st.seq[1] ? 0 : 1;
	r = write_copy(fd, h, first, max + 1);
	if (r == 0)
		r = write_copy(fd, h, 1 - first, max + 2);
	return r;
}

int hdr_repair(int fd, struct env_header *h, unsigned int copy)
{
	if (copy >= ENV_NCOPIES)
		return -EINVAL;
	/* the same sequence id: both copies now say the same thing */
	return write_copy(fd, h, copy, h->seq);
}
