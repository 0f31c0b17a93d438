/*
 * rewrap.c - re-wrap a disk's DEKs under other key versions
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "disk/backing_file.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/rewrap.h"
#include "util/beneath.h"

/* Are both copies valid, equal in kids, and on the targets? */
static int current(struct backing *b, const struct env_header *h,
		   const char *const targets[ENV_MAX_LAYERS],
		   const struct rewrap_set *set, const struct hdr_status *st)
{
	uint8_t buf[ENV_COPY_BYTES];
	struct env_header twin;

	if (set && (strcmp(h->des, set->des) || h->enc_type != set->enc_type))
		return 0;
	for (unsigned int i = 0; i < h->nlayers; i++)
		if (targets[i] && strcmp(h->layer[i].kid, targets[i]))
			return 0;
	if (st->state[0] == HDR_COPY_BAD || st->state[1] == HDR_COPY_BAD)
		return 0;
	/* the stale twin of a crashed rotation may hold the old kid */
	for (unsigned int c = 0; c < ENV_NCOPIES; c++) {
		if (st->state[c] != HDR_COPY_STALE)
			continue;
		if (b->ops->pread(b, buf, sizeof(buf),
				  (uint64_t)c * ENV_COPY_BYTES) < 0 ||
		    env_decode(&twin, c, buf, sizeof(buf)) < 0)
			return 0;
		for (unsigned int i = 0; i < h->nlayers; i++)
			if (strcmp(twin.layer[i].kid, h->layer[i].kid) ||
			    twin.layer[i].wrapped_len !=
				    h->layer[i].wrapped_len ||
			    memcmp(twin.layer[i].wrapped, h->layer[i].wrapped,
				   h->layer[i].wrapped_len))
				return 0;
	}
	return 1;
}

/* One layer or two is fixed at creation: a new set must keep the count. */
static int layers_of(uint32_t enc_type)
{
	return enc_type == ENV_TYPE_PLATFORM_AND_CUSTOMER ? 2 : 1;
}

int disk_rewrap_fd(int fd, const struct keyops *ops,
		   const char *const targets_in[ENV_MAX_LAYERS],
		   const struct rewrap_src *src, const struct rewrap_set *set,
		   int *changed, char old_kids[ENV_MAX_LAYERS][ENV_KID_MAX + 1])
{
	struct backing_file bf;
	struct stat sb;

	*changed = 0;
	if (fstat(fd, &sb) < 0)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return -EBADMSG;	/* no disk, whatever it is */
	backing_file_borrow(&bf, fd);
	return disk_rewrap_backing(&bf.b, ops, targets_in, src, set, changed,
				   old_kids);
}

int disk_rewrap_backing(struct backing *b, const struct keyops *ops,
			const char *const targets_in[ENV_MAX_LAYERS],
			const struct rewrap_src *src,
			const struct rewrap_set *set, int *changed,
			char old_kids[ENV_MAX_LAYERS][ENV_KID_MAX + 1])
{
	struct secbuf *dek[ENV_MAX_LAYERS] = { NULL, NULL };
	const char *targets[ENV_MAX_LAYERS] = { NULL, NULL };
	struct env_header h;
	struct hdr_status st;
	int r;

	*changed = 0;
	r = b->ops->hdr_lock(b);
	if (r < 0)
		return r;
	r = hdr_get(b, &h, &st);
	if (r == -ENOTSUP)
		r = -EBADMSG;
	if (r < 0)
		goto out;
	if (old_kids)
		for (unsigned int i = 0; i < ENV_MAX_LAYERS; i++)
			strcpy(old_kids[i], i < h.nlayers ? h.layer[i].kid : "");
	if (set && (layers_of(set->enc_type) != (int)h.nlayers ||
		    strlen(set->des) > ENV_DES_MAX)) {
		r = -EMEDIUMTYPE;	/* the data would need re-encrypting */
		goto out;
	}
	for (unsigned int i = 0; i < h.nlayers; i++) {
		if (targets_in)
			targets[i] = targets_in[i];
		else if (h.layer[i].key_source == ENV_KEY_PLATFORM)
			targets[i] = src->platform;
		else
			targets[i] = src->customer;
	}
	if (current(b, &h, targets, set, &st))
		goto out;

	for (unsigned int i = 0; i < h.nlayers && r == 0; i++)
		r = ops->unwrap(ops->ctx, &h.layer[i], &dek[i]);
	if (r == 0)
		r = env_verify_mac(&h, dek);	/* the right disk, untouched */
	for (unsigned int i = 0; i < h.nlayers && r == 0; i++) {
		struct env_layer l = h.layer[i];

		if (!targets[i])
			continue;
		r = ops->wrap(ops->ctx, targets[i], dek[i], &l);
		l.cipher = h.layer[i].cipher;
		if (r == 0)
			h.layer[i] = l;
	}
	if (r == 0 && set) {
		snprintf(h.des, sizeof(h.des), "%s", set->des);
		h.enc_type = set->enc_type;
	}
	if (r == 0) {
		h.rotated = (uint64_t)time(NULL);
		r = env_compute_mac(&h, dek, h.mac);
	}
	if (r == 0)
		r = hdr_put(b, &h);
	if (r == 0)
		*changed = 1;
out:
	for (unsigned int i = 0; i < ENV_MAX_LAYERS; i++)
		secbuf_free(dek[i]);
	b->ops->hdr_unlock(b);
	return r;
}

int disk_rewrap_set(const char *path, const struct keyops *ops,
		    const char *const targets[ENV_MAX_LAYERS],
		    const struct rewrap_set *set, int *changed,
		    char old_kids[ENV_MAX_LAYERS][ENV_KID_MAX + 1])
{
	int fd, r;

	*changed = 0;
	fd = trusted_open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	r = disk_rewrap_fd(fd, ops, targets, NULL, set, changed, old_kids);
	close(fd);
	return r;
}
