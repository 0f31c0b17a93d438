/*
 * storedev.c - the bottom of the stack: sectors in a backing object
 */
#include <errno.h>
#include <stdlib.h>

#include "disk/backing.h"
#include "disk/blkdev.h"
#include "disk/offsets.h"

struct storedev {
	struct blkdev dev;
	struct backing *b;
};

static struct backing *bk(struct blkdev *d)
{
	return ((struct storedev *)d)->b;
}

static int sd_read(struct blkdev *d, uint64_t sector, void *buf, size_t n)
{
	return bk(d)->ops->pread(bk(d), buf, n * d->ss,
				 off_backing(sector, d->ss));
}

static int sd_write(struct blkdev *d, uint64_t sector, const void *buf,
		    size_t n)
{
	return bk(d)->ops->pwrite(bk(d), buf, n * d->ss,
				  off_backing(sector, d->ss));
}

static int sd_discard(struct blkdev *d, uint64_t sector, uint64_t n)
{
	return bk(d)->ops->punch(bk(d), off_backing(sector, d->ss), n * d->ss);
}

static int sd_flush(struct blkdev *d)
{
	return bk(d)->ops->sync(bk(d));
}

static int sd_size(struct blkdev *d, uint64_t *nsec)
{
	uint64_t len;
	int r = bk(d)->ops->get_size(bk(d), &len);

	if (r == 0)
		*nsec = len > ENV_DATA_OFFSET ?
			(len - ENV_DATA_OFFSET) / d->ss : 0;
	return r;
}

static int sd_resize(struct blkdev *d, uint64_t nsec)
{
	return bk(d)->ops->set_size(bk(d), off_backing(nsec, d->ss));
}

static void sd_close(struct blkdev *d, int clean)
{
	(void)clean;
	free(d);
}

static const struct blkdev_ops store_ops = {
	.read = sd_read,
	.write = sd_write,
	.discard = sd_discard,
	.flush = sd_flush,
	.size = sd_size,
	.resize = sd_resize,
	.close = sd_close,
};

int storedev_new(struct blkdev **out, struct backing *b, uint32_t ss)
{
	struct storedev *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->dev.ops = &store_ops;
	s->dev.ss = ss;
	s->b = b;
	*out = &s->dev;
	return 0;
}
