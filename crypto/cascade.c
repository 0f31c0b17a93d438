/*
 * cascade.c - n XTS layers, the outermost (layer 0) applied last
 */
#include <errno.h>
#include <stdlib.h>

#include "crypto/cascade.h"
#include "crypto/xts.h"

struct cascade_ctx {
	unsigned int n;
	struct xts_ctx *x[CASCADE_MAX];
};

void cascade_free(struct cascade_ctx *c)
{
	if (!c)
		return;
	for (unsigned int i = 0; i < c->n; i++)
		xts_free(c->x[i]);
	free(c);
}

int cascade_new(struct cascade_ctx **out, unsigned int n,
		const enum xts_cipher *cipher, struct secbuf *const *key,
		size_t sector_size)
{
	struct cascade_ctx *c;
	int r = 0;

	if (n < 1 || n > CASCADE_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->n = n;
	for (unsigned int i = 0; i < n && r == 0; i++)
		r = xts_new(&c->x[i], cipher[i], key[i], sector_size);
	if (r) {
		cascade_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int cascade_dup(struct cascade_ctx **out, const struct cascade_ctx *c)
{
	struct cascade_ctx *d;
	int r = 0;

	if (!c)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->n = c->n;
	for (unsigned int i = 0; i < c->n && r == 0; i++)
		r = xts_dup(&d->x[i], c->x[i]);
	if (r) {
		cascade_free(d);
		return r;
	}
	*out = d;
	return 0;
}

int cascade_encrypt(struct cascade_ctx *c, uint64_t sector, void *buf,
		    size_t len)
{
	int r = 0;

	for (int i = (int)c->n - 1; i >= 0 && r == 0; i--)
		r = xts_encrypt(c->x[i], sector, buf, len);
	return r;
}

int cascade_encrypt_to(struct cascade_ctx *c, uint64_t sector, void *dst,
		       const void *src, size_t len)
{
	int i = (int)c->n - 1;
	int r;

	/* the innermost layer out of place, the others in place in @dst */
	r = xts_encrypt_to(c->x[i], sector, dst, src, len);
	for (i--; i >= 0 && r == 0; i--)
		r = xts_encrypt(c->x[i], sector, dst, len);
	return r;
}

int cascade_decrypt(struct cascade_ctx *c, uint64_t sector, void *buf,
		    size_t len)
{
	int r = 0;

	for (unsigned int i = 0; i < c->n && r == 0; i++)
		r = xts_decrypt(c->x[i], sector, buf, len);
	return r;
}

size_t cascade_sector_size(const struct cascade_ctx *c)
{
	return xts_sector_size(c->x[0]);
}
