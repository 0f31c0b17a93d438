/*
 * rewrap.c - re-wrap a disk's DEKs under other key versions
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "crypto/secmem.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/rewrap.h"

static void free_deks(struct secbuf *deks[ENV_MAX_LAYERS])
{
	for (unsigned int i = 0; i < ENV_MAX_LAYERS; i++) {
		secbuf_free(deks[i]);
		deks[i] = NULL;
	}
}

int rewrap_unwrap(int fd, struct env_header *h, const struct keyops *ops,
		  struct secbuf *deks[ENV_MAX_LAYERS])
{
	int r;

	for (unsigned int i = 0; i < ENV_MAX_LAYERS; i++)
		deks[i] = NULL;
	r = hdr_read(fd, h, NULL);
	if (r == -ENOTSUP)
		r = -EBADMSG;
	for (unsigned int i = 0; i < h->nlayers && r == 0; i++)
		r = ops->unwrap(ops->ctx, &h->layer[i], &deks[i]);
	if (r == 0)
		r = env_verify_mac(h, deks);
	if (r)
		free_deks(deks);
	return r;
}

int rewrap_fd(int fd, const char *const kids[ENV_MAX_LAYERS],
	      const uint8_t *new_uuid, const struct keyops *ops,
	      struct rewrap_result *res)
{
	struct secbuf *deks[ENV_MAX_LAYERS] = { NULL, NULL };
	struct rewrap_result rr;
	struct env_header h;
	int r;

	memset(&rr, 0, sizeof(rr));
	r = hdr_lock(fd);
	if (r)
		return r;
	r = rewrap_unwrap(fd, &h, ops, deks);
	if (r)
		goto out;
	rr.nlayers = h.nlayers;
	for (unsigned int i = 0; i < h.nlayers; i++) {
		struct env_layer nl;
		const char *kid = kids ? kids[i] : NULL;

		memcpy(rr.old_kid[i], h.layer[i].kid, sizeof(rr.old_kid[i]));
		memcpy(rr.new_kid[i], h.layer[i].kid, sizeof(rr.new_kid[i]));
		if (!kid || !*kid || !strcmp(kid, h.layer[i].kid))
			continue;
		if (strlen(kid) > ENV_KID_MAX) {
			r = -EINVAL;
			goto out;
		}
		memset(&nl, 0, sizeof(nl));
		r = ops->wrap(ops->ctx, kid, deks[i], &nl);
		if (r)
			goto out;
		nl.cipher = h.layer[i].cipher;
		h.layer[i] = nl;
		snprintf(rr.new_kid[i], sizeof(rr.new_kid[i]), "%s", nl.kid);
		rr.changed = 1;
	}
	if (new_uuid) {
		memcpy(h.uuid, new_uuid, ENV_UUID_BYTES);
	} else if (!rr.changed) {
		/* idempotent: nothing to write */
		goto out;
	}
	if (rr.changed)
		h.rotated = (uint64_t)time(NULL);
	r = env_compute_mac(&h, deks, h.mac);
	if (r)
		goto out;
	r = hdr_write(fd, &h);
out:
	free_deks(deks);
	hdr_unlock(fd);
	if (r == 0 && res)
		*res = rr;
	return r;
}

int rewrap_disk(const char *path, const char *const kids[ENV_MAX_LAYERS],
		const struct keyops *ops, struct rewrap_result *res)
{
	int fd, r;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	r = rewrap_fd(fd, kids, NULL, ops, res);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}
