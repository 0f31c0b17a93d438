/*
 * header.c - read, write and lock the two header copies
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "disk/backing_file.h"
#include "disk/header.h"

int hdr_get(struct backing *b, struct env_header *h, struct hdr_status *st)
{
	static const uint8_t prefix[6] = { 'S', 'S', 'E', 'F', 'S', 0 };
	uint8_t buf[ENV_NCOPIES * ENV_COPY_BYTES];
	struct env_header c[ENV_NCOPIES];
	struct hdr_status s;
	int best = -1, proto = 0;
	int r;

	memset(&s, 0, sizeof(s));
	r = b->ops->pread(b, buf, sizeof(buf), 0);
	if (r < 0)
		return r;
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
		 * current: hdr_put gives the two copies seq N+1 and N+2 */
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

static int write_copy(struct backing *b, struct env_header *h,
		      unsigned int copy, uint64_t seq)
{
	uint8_t buf[ENV_COPY_BYTES];
	int r;

	h->seq = seq;
	r = env_encode(h, copy, buf, sizeof(buf));
	if (r < 0)
		return r;
	r = b->ops->pwrite(b, buf, sizeof(buf), (uint64_t)copy * ENV_COPY_BYTES);
	return r < 0 ? r : b->ops->sync(b);
}

int hdr_put(struct backing *b, struct env_header *h)
{
	struct env_header cur;
	struct hdr_status st;
	unsigned int first;
	uint64_t max = 0;
	int r;

	r = hdr_get(b, &cur, &st);
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
	r = write_copy(b, h, first, max + 1);
	if (r == 0)
		r = write_copy(b, h, 1 - first, max + 2);
	return r;
}

int hdr_put_copy(struct backing *b, struct env_header *h, unsigned int copy)
{
	if (copy >= ENV_NCOPIES)
		return -EINVAL;
	/* the same sequence id: both copies now say the same thing */
	return write_copy(b, h, copy, h->seq);
}

/* --- the fd-taking wrappers (cli/) --------------------------------------- */

int hdr_read(int fd, struct env_header *h, struct hdr_status *st)
{
	struct backing_file f;

	backing_file_borrow(&f, fd);
	return hdr_get(&f.b, h, st);
}

int hdr_repair(int fd, struct env_header *h, unsigned int copy)
{
	struct backing_file f;

	backing_file_borrow(&f, fd);
	return hdr_put_copy(&f.b, h, copy);
}

int hdr_lock(int fd)
{
	struct backing_file f;

	backing_file_borrow(&f, fd);
	return f.b.ops->hdr_lock(&f.b);
}

void hdr_unlock(int fd)
{
	struct backing_file f;

	backing_file_borrow(&f, fd);
	f.b.ops->hdr_unlock(&f.b);
}
