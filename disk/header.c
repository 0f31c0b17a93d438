/*
 * header.c - the two header copies of a backing file: read, write, lock
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "disk/header.h"
#include "util/io.h"

static int ofd_lock(int fd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = HDR_LOCK_LEN;
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int hdr_lock(int fd)
{
	return ofd_lock(fd, F_WRLCK);
}

int hdr_unlock(int fd)
{
	return ofd_lock(fd, F_UNLCK);
}

/* Do two valid copies carry the same fields (seq aside)? */
static int same_fields(const struct env_header *a, const struct env_header *b)
{
	uint8_t x[ENV_COPY_BYTES], y[ENV_COPY_BYTES];
	struct env_header t;

	t = *a;
	t.seq = 0;
	if (env_encode(&t, 0, x, sizeof(x)))
		return 0;
	t = *b;
	t.seq = 0;
	if (env_encode(&t, 0, y, sizeof(y)))
		return 0;
	return memcmp(x, y, sizeof(x)) == 0;
}

int hdr_read_states(int fd, struct env_header *h, enum hdr_state st[2],
		    unsigned long long seq[2])
{
	uint8_t buf[ENV_DATA_OFFSET];
	struct env_header c[ENV_NCOPIES];
	int r[ENV_NCOPIES], magic = 0, best = -1;
	ssize_t n;

	n = io_pread_all(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(buf))
		memset(buf + n, 0, sizeof(buf) - n);
	for (int i = 0; i < ENV_NCOPIES; i++) {
		const uint8_t *p = buf + i * ENV_COPY_BYTES;

		if (memcmp(p, env_magic[i], 6) == 0)
			magic = 1;
		r[i] = env_decode(&c[i], i, p, ENV_COPY_BYTES);
		if (r[i] == 0 && (best < 0 || c[i].seq > c[best].seq))
			best = i;
	}
	if (best < 0) {
		if (!magic)
			return -ENOTSUP;
		if (r[0] == -EPROTONOSUPPORT || r[1] == -EPROTONOSUPPORT)
			return -EPROTONOSUPPORT;
		return -EBADMSG;
	}
	for (int i = 0; i < ENV_NCOPIES; i++) {
		if (r[i] != 0) {
			st[i] = HDR_BAD;
			seq[i] = 0;
			continue;
		}
		seq[i] = c[i].seq;
		st[i] = same_fields(&c[i], &c[best]) ? HDR_OK : HDR_STALE;
	}
	*h = c[best];
	return 0;
}

int hdr_read(int fd, struct env_header *h, int *good_copy, int *bad_copy)
{
	enum hdr_state st[ENV_NCOPIES];
	unsigned long long seq[ENV_NCOPIES];
	int ret, good = -1, bad = -1;

	ret = hdr_read_states(fd, h, st, seq);
	if (ret)
		return ret;
	for (int i = 0; i < ENV_NCOPIES; i++) {
		if (st[i] == HDR_OK && good < 0)
			good = i;
		else if (st[i] != HDR_OK)
			bad = i;
	}
	if (good_copy)
		*good_copy = good;
	if (bad_copy)
		*bad_copy = bad;
	return 0;
}

static int write_copy(int fd, const struct env_header *h, unsigned int copy)
{
	uint8_t buf[ENV_COPY_BYTES];
	int ret;

	ret = env_encode(h, copy, buf, sizeof(buf));
	if (ret)
		return ret;
	ret = io_pwrite_all(fd, buf, sizeof(buf),
			    (off_t)copy * ENV_COPY_BYTES);
	if (ret)
		return ret;
	if (fdatasync(fd) < 0)
		return -errno;
	return 0;
}

int hdr_write_locked(int fd, struct env_header *h)
{
	struct env_header cur, out = *h;
	enum hdr_state st[ENV_NCOPIES];
	unsigned long long seq[ENV_NCOPIES];
	uint64_t max = 0;
	unsigned int first = 0;
	int ret;

	/* learn the newest seq; the older or invalid copy goes first, so a
	 * crash mid-write leaves the newest valid copy untouched */
	ret = hdr_read_states(fd, &cur, st, seq);
	if (ret == 0) {
		max = cur.seq;
		if (st[0] == HDR_OK && st[1] == HDR_OK)
			first = seq[0] <= seq[1] ? 0 : 1;
		else
			first = st[0] != HDR_OK ? 0 : 1;
	} else if (ret != -ENOTSUP && ret != -EBADMSG) {
		return ret;
	}
	out.seq = max + 1;
	ret = write_copy(fd, &out, first);
	if (ret)
		return ret;
	out.seq = max + 2;
	ret = write_copy(fd, &out, !first);
	if (ret)
		return ret;
	h->seq = out.seq;
	return 0;
}

int hdr_write(int fd, struct env_header *h)
{
	int ret = hdr_lock(fd);

	if (ret)
		return ret;
	ret = hdr_write_locked(fd, h);
	hdr_unlock(fd);
	return ret;
}
