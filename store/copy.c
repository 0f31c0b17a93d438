/*
 * copy.c - a thin copy between two backing objects
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk/backing.h"
#include "store/copy.h"

#define COPY_CHUNK	(4u << 20)	/* one Put Page at most */
#define ZERO_BLOCK	512u	/* a page: the copy is as thin as the source */

struct copy {
	struct backing *src, *dst;
	store_copy_progress progress;
	void *arg;
	uint64_t done, total;
	char *buf;
};

static int add_len(void *arg, uint64_t off, uint64_t len)
{
	struct copy *c = arg;

	(void)off;
	c->total += len;
	return 0;
}

static int all_zero(const char *p, size_t len)
{
	return len == 0 || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

/* Write the blocks of @buf (@len bytes at @off) that are not zeros. */
static int write_nonzero(struct backing *dst, const char *buf, size_t len,
			 uint64_t off)
{
	size_t i = 0, j, blk;
	int r;

	while (i < len) {
		blk = len - i < ZERO_BLOCK ? len - i : ZERO_BLOCK;
		if (all_zero(buf + i, blk)) {
			i += blk;
			continue;
		}
		/* a run of non-zero blocks: one write */
		for (j = i + blk; j < len; j += blk) {
			blk = len - j < ZERO_BLOCK ? len - j : ZERO_BLOCK;
			if (all_zero(buf + j, blk))
				break;
		}
		if (j > len)
			j = len;
		r = dst->ops->pwrite(dst, buf + i, j - i, off + i);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

static int copy_range(void *arg, uint64_t off, uint64_t len)
{
	struct copy *c = arg;
	uint64_t n;
	int r;

	while (len) {
		n = len < COPY_CHUNK ? len : COPY_CHUNK;
		r = c->src->ops->pread(c->src, c->buf, n, off);
		if (r == 0)
			r = write_nonzero(c->dst, c->buf, n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
		c->done += n;
		if (c->progress)
			c->progress(c->arg, c->done, c->total);
	}
	return 0;
}

int store_copy(struct backing *src, struct backing *dst,
	       store_copy_progress progress, void *arg)
{
	struct copy c = { src, dst, progress, arg, 0, 0, NULL };
	uint64_t size;
	int r;

	r = src->ops->get_size(src, &size);
	if (r == 0)
		r = dst->ops->set_size(dst, size);
	if (r == 0)
		r = src->ops->ranges(src, 0, size, add_len, &c);
	if (r < 0)
		return r;
	c.buf = malloc(COPY_CHUNK);
	if (!c.buf)
		return -ENOMEM;
	if (progress)
		progress(arg, 0, c.total);
	r = src->ops->ranges(src, 0, size, copy_range, &c);
	if (r == 0)
		r = dst->ops->sync(dst);
	if (r == 0 && progress && c.done != c.total)
		progress(arg, c.done, c.total);
	free(c.buf);
	return r;
}
