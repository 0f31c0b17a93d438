/*
 * blobdisk.c - a disk named by its URL: open, create, delete
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "disk/backing.h"
#include "store/blobback.h"
#include "svc/blobdisk.h"

#define URL_MAX		2048
#define BLOBNAME_MAX	1024

/* Split @url and open its store; one line in @msg on failure. */
static int open_store(struct blob_store **s, const char *url, char *name,
		      const struct blob_store_opts *o, char *msg,
		      size_t msglen)
{
	const char *q = strpbrk(url, "?#");
	char store[URL_MAX];
	int r;

	/* a query may be a SAS: not taken, and not repeated */
	if (q) {
		snprintf(msg, msglen, "ssefs: %.*s?...: a URL takes no query: "
			 "give a SAS in AZURE_STORAGE_SAS_TOKEN or a "
			 "credentials file, never in the URL", (int)(q - url),
			 url);
		return -EINVAL;
	}
	r = blob_url_split(url, store, sizeof(store), name, BLOBNAME_MAX);
	if (r < 0) {
		snprintf(msg, msglen, "ssefs: %s: not a CONTAINER-URL/NAME.vhd "
			 "(%s)", url, r == -ENAMETOOLONG ? "too long" :
			 "no disk name");
		return r;
	}
	return blob_store_open(s, store, o, msg, msglen);
}

/* Open (or, with @create, make @len bytes of) the blob @url names. */
static int open_blob(struct backing **out, const char *url, int create,
		     uint64_t len, int flags, const struct blob_store_opts *o,
		     char *msg, size_t msglen)
{
	char name[BLOBNAME_MAX];
	struct blob_store *s;
	int r;

	r = open_store(&s, url, name, o, msg, msglen);
	if (r < 0)
		return r;
	r = create ? blob_backing_create(out, s, name, len, msg, msglen) :
		     blob_backing_open(out, s, name, flags, msg, msglen);
	blob_store_close(s);
	return r;
}

int blobdisk_open(struct backing **out, const char *url, int flags,
		  const struct blob_store_opts *o, char *msg, size_t msglen)
{
	return open_blob(out, url, 0, 0, flags, o, msg, msglen);
}

int blobdisk_create(struct backing **out, const char *url, uint64_t len,
		    const struct blob_store_opts *o, char *msg, size_t msglen)
{
	return open_blob(out, url, 1, len, 0, o, msg, msglen);
}

int blobdisk_delete(const char *url, const struct blob_store_opts *o,
		    char *msg, size_t msglen)
{
	char name[BLOBNAME_MAX];
	struct blob_store *s;
	int r;

	r = open_store(&s, url, name, o, msg, msglen);
	if (r < 0)
		return r;
	r = blob_delete(s, name, msg, msglen);
	blob_store_close(s);
	return r;
}

static int add_range(void *arg, uint64_t off, uint64_t len)
{
	(void)off;
	*(uint64_t *)arg += len;
	return 0;
}

int blobdisk_allocated(struct backing *b, uint64_t *bytes)
{
	uint64_t size;
	int r;

	*bytes = 0;
	r = b->ops->get_size(b, &size);
	if (r == 0)
		r = b->ops->ranges(b, 0, size, add_range, bytes);
	return r;
}
