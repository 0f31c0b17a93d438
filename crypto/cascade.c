/*
 * cascade.c - Camellia-256-XTS (inner) then AES-256-XTS (outer)
 */
#include <errno.h>
#include <stdlib.h>

#include "crypto/cascade.h"
#include "crypto/xts.h"

struct cascade_ctx {
	struct xts_ctx *outer;	/* AES-256-XTS, key 1 */
	struct xts_ctx *inner;	/* Camellia-256-XTS, key 2 */
};

void cascade_free(struct cascade_ctx *c)
{
	if (!c)
		return;
	xts_free(c->outer);
	xts_free(c->inner);
	free(c);
}

int cascade_new(struct cascade_ctx **out, const struct secbuf *key1,
		const struct secbuf *key2, size_t sector_size)
{
	struct cascade_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = xts_new(&c->outer, XTS_AES256, key1, sector_size);
	if (!r)
		r = xts_new(&c->inner, XTS_CAMELLIA256, key2, sector_size);
	if (r) {
		cascade_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int cascade_dup(struct cascade_ctx **out, const struct cascade_ctx *c)
{
	struct cascade_ctx *n;
	int r;

	if (!c)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	r = xts_dup(&n->outer, c->outer);
	if (!r)
		r = xts_dup(&n->inner, c->inner);
	if (r) {
		cascade_free(n);
		return r;
	}
	*out = n;
	return 0;
}

int cascade_encrypt(struct cascade_ctx *c, uint64_t sector, void *buf,
		    size_t len)
{
	int r = xts_encrypt(c->inner, sector, buf, len);

	return r ? r : xts_encrypt(c->outer, sector, buf, len);
}

int cascade_decrypt(struct cascade_ctx *c, uint64_t sector, void *buf,
		    size_t len)
{
	int r = xts_decrypt(c->outer, sector, buf, len);

	return r ? r : xts_decrypt(c->inner, sector, buf, len);
}

size_t cascade_sector_size(const struct cascade_ctx *c)
{
	return xts_sector_size(c->outer);
}
