/*
 * storedev.c - the bottom of the stack: sectors in a backing object, from
 * a data offset on (ENV_DATA_OFFSET past an envelope header, 0 for a raw
 * volume)
 */
#include <errno.h>
#include <stdlib.h>

#include "disk/backing.h"
#include "disk/blkdev.h"

struct storedev {
	struct blkdev dev;
	struct backing *b;
	uint64_t off;			/* where sector 0 starts */
};

static struct backing *bk(struct blkdev *d)
{
	return ((struct storedev *)d)->b;
}

/* The backing offset of @sector. */
static uint64_t at(struct blkdev *d, uint64_t sector)
{
	return ((struct storedev *)d)->off + sector * d->ss;
}

static int sd_read(struct blkdev *d, uint64_t sector, void *buf, size_t n)
{
	return bk(d)->ops->pread(bk(d), buf, n * d->ss,
				 at(d, sector));
}

static int sd_write(struct blkdev *d, uint64_t sector, const void *buf,
		    size_t n)
{
	return bk(d)->ops->pwrite(bk(d), buf, n * d->ss,
				  at(d, sector));
}

static int sd_discard(struct blkdev *d, uint64_t sector, uint64_t n)
{
	return bk(d)->ops->punch(bk(d), at(d, sector), n * d->ss);
}

static int sd_flush(struct blkdev *d)
{
	return bk(d)->ops->sync(bk(d));
}

static int sd_size(struct blkdev *d, uint64_t *nsec)
{
	uint64_t len, off = ((struct storedev *)d)->off;
	int r = bk(d)->ops->get_size(bk(d), &len);

	if (r == 0)
		*nsec = len > off ? (len - off) / d->ss : 0;
	return r;
}

static int sd_resize(struct blkdev *d, uint64_t nsec)
{
	return bk(d)->ops->set_size(bk(d), at(d, nsec));
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

int storedev_new(struct blkdev **out, struct backing *b, uint32_t ss,
		 uint64_t data_off)
{
	struct storedev *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->dev.ops = &store_ops;
	s->dev.ss = ss;
	s->b = b;
	s->off = data_off;
	*out = &s->dev;
	return 0;
}
