/*
 * azb-tool.c - drive store/azblob.h from the shell, for tests only
 *
 *   azb-tool URL COMMAND [ARGS]
 *
 * Credentials come from the environment as for ssefs (AZB_CREDENTIALS
 * names a credentials file); AZB_TIMEOUT_MS sets store_timeout.  An error
 * is one line "azb-tool: COMMAND: ERRNO TEXT: HTTP N CODE (account ACCOUNT,
 * container CONTAINER)" and exit 1; usage is exit 2.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secmem.h"
#include "store/azblob.h"

static int print_blob(const struct azb_blob_info *b, void *arg)
{
	(void)arg;
	printf("%s %llu %s\n", b->name, (unsigned long long)b->length,
	       b->page_blob ? "page" : "other");
	return 0;
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 0);
}

static int put_file(struct azb_client *c, const char *name, uint64_t off,
		    const char *file, const char *lease, struct azb_err *err)
{
	struct azb_cond cond = { NULL, lease };
	FILE *f = fopen(file, "rb");
	char *buf = malloc(AZB_PUT_PAGE_MAX);
	size_t n;
	int r = 0;

	if (!f || !buf) {
		r = -errno;
		goto out;
	}
	while (r == 0 && (n = fread(buf, 1, AZB_PUT_PAGE_MAX, f)) > 0) {
		r = azb_put_pages(c, name, off, buf, n, &cond, NULL, err);
		off += n;
	}
out:
	if (f)
		fclose(f);
	free(buf);
	return r;
}

/*
 * "hammer NAME THREADS": each thread writes its own 64 KiB of NAME four
 * times through the one client and reads it back; the share's locks and
 * the pool are exercised from many threads at once.
 */
#define HAMMER_SPAN	(64u << 10)

struct hammer {
	struct azb_client *c;
	const char *name;
	unsigned int idx;
	int r;
};

static void *hammer_one(void *arg)
{
	struct hammer *h = arg;
	unsigned char *w = malloc(HAMMER_SPAN), *rd = malloc(HAMMER_SPAN);
	uint64_t off = (uint64_t)h->idx * HAMMER_SPAN;
	unsigned int round, i;

	h->r = -ENOMEM;
	if (!w || !rd)
		goto out;
	for (round = 0; round < 4; round++) {
		for (i = 0; i < HAMMER_SPAN; i++)
			w[i] = (unsigned char)(h->idx * 31 + round * 7 + i);
		h->r = azb_put_pages(h->c, h->name, off, w, HAMMER_SPAN, NULL,
				     NULL, NULL);
		if (h->r == 0)
			h->r = azb_read(h->c, h->name, NULL, off, rd,
					HAMMER_SPAN, NULL);
		if (h->r == 0 && memcmp(w, rd, HAMMER_SPAN))
			h->r = -EIO;
		if (h->r < 0)
			break;
	}
out:
	free(w);
	free(rd);
	return NULL;
}

static int hammer(struct azb_client *c, const char *name, unsigned int n)
{
	struct hammer h[16];
	pthread_t t[16];
	unsigned int i;
	int r;

	if (n == 0 || n > 16)
		return -EINVAL;
	r = azb_create(c, name, (uint64_t)n * HAMMER_SPAN, 0, NULL, NULL);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		h[i] = (struct hammer){ c, name, i, 0 };
		if (pthread_create(&t[i], NULL, hammer_one, &h[i]))
			return -EAGAIN;
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < n; i++)
		if (h[i].r < 0)
			r = h[i].r;
	return r;
}

int main(int argc, char **argv)
{
	struct azb_opts o = { 0 };
	struct azb_client *c = NULL;
	struct azb_err err = { 0, "" };
	char detail[128], msg[160], id[AZB_LEASE_ID_MAX];
	const char *cmd, *name;
	int r = -EINVAL;

	if (argc < 3) {
		fprintf(stderr, "usage: azb-tool URL COMMAND [ARGS]\n");
		return 2;
	}
	if (secmem_init() < 0)
		return 1;
	o.credentials_file = getenv("AZB_CREDENTIALS");
	o.timeout_ms = getenv("AZB_TIMEOUT_MS") ?
		(unsigned int)num(getenv("AZB_TIMEOUT_MS")) : 0;
	o.allow_http = getenv("AZB_ALLOW_HTTP") != NULL;
	cmd = argv[2];
	name = argc > 3 ? argv[3] : "";
	r = azb_open(&c, argv[1], &o, detail, sizeof(detail));
	if (r < 0) {
		fprintf(stderr, "azb-tool: %s: %s (%s)\n", argv[1],
			strerror(-r), detail);
		return 1;
	}
#define ARGS(n) if (argc != (n)) goto usage
	if (!strcmp(cmd, "mkcontainer")) {
		ARGS(3);
		r = azb_container_create(c, &err);
	} else if (!strcmp(cmd, "create")) {
		ARGS(5);
		r = azb_create(c, name, num(argv[4]), 0, NULL, &err);
	} else if (!strcmp(cmd, "create-new")) {
		ARGS(5);
		r = azb_create(c, name, num(argv[4]), 1, NULL, &err);
	} else if (!strcmp(cmd, "put")) {	/* NAME OFF FILE [LEASE] */
		if (argc != 6 && argc != 7)
			goto usage;
		r = put_file(c, name, num(argv[4]), argv[5],
			     argc == 7 ? argv[6] : NULL, &err);
	} else if (!strcmp(cmd, "put-if")) {	/* NAME OFF FILE ETAG */
		struct azb_cond cond = { argv[6], NULL };
		char buf[AZB_PAGE];
		FILE *f;

		ARGS(7);
		f = fopen(argv[5], "rb");
		if (!f || fread(buf, 1, sizeof(buf), f) != sizeof(buf))
			goto usage;
		fclose(f);
		r = azb_put_pages(c, name, num(argv[4]), buf, sizeof(buf),
				  &cond, NULL, &err);
	} else if (!strcmp(cmd, "read")) {	/* NAME OFF LEN [SNAPSHOT] */
		size_t len;
		char *buf;

		if (argc != 6 && argc != 7)
			goto usage;
		len = num(argv[5]);
		buf = malloc(len ? len : 1);
		if (!buf)
			return 1;
		r = azb_read(c, name, argc == 7 ? argv[6] : NULL,
			     num(argv[4]), buf, len, &err);
		if (r == 0)
			fwrite(buf, 1, len, stdout);
		free(buf);
	} else if (!strcmp(cmd, "ranges")) {	/* NAME [OFF LEN] */
		struct azb_range *v = NULL;
		size_t n = 0, i;

		if (argc != 4 && argc != 6)
			goto usage;
		r = azb_page_ranges(c, name, argc == 6 ? num(argv[4]) : 0,
				    argc == 6 ? num(argv[5]) : 0, &v, &n,
				    &err);
		for (i = 0; r == 0 && i < n; i++)
			printf("%llu %llu\n", (unsigned long long)v[i].start,
			       (unsigned long long)v[i].end);
		free(v);
	} else if (!strcmp(cmd, "clear")) {
		ARGS(6);
		r = azb_clear_pages(c, name, num(argv[4]), num(argv[5]), NULL,
				    NULL, &err);
	} else if (!strcmp(cmd, "resize")) {
		ARGS(5);
		r = azb_resize(c, name, num(argv[4]), NULL, &err);
	} else if (!strcmp(cmd, "props")) {
		struct azb_props p;

		ARGS(4);
		r = azb_props(c, name, &p, &err);
		if (r == 0)
			printf("length %llu\netag %s\npage %d\nlease %d\n",
			       (unsigned long long)p.length, p.etag,
			       p.page_blob, (int)p.lease);
	} else if (!strcmp(cmd, "lease-acquire")) {
		ARGS(4);
		r = azb_lease_acquire(c, name, AZB_LEASE_SECONDS, NULL, id,
				      &err);
		if (r == 0)
			printf("%s\n", id);
	} else if (!strcmp(cmd, "lease-renew")) {
		ARGS(5);
		r = azb_lease_renew(c, name, argv[4], &err);
	} else if (!strcmp(cmd, "lease-release")) {
		ARGS(5);
		r = azb_lease_release(c, name, argv[4], &err);
	} else if (!strcmp(cmd, "lease-break")) {
		ARGS(4);
		r = azb_lease_break(c, name, 0, &err);
	} else if (!strcmp(cmd, "snapshot")) {
		char snap[AZB_SNAPSHOT_MAX];

		ARGS(4);
		r = azb_snapshot(c, name, snap, &err);
		if (r == 0)
			printf("%s\n", snap);
	} else if (!strcmp(cmd, "copy")) {
		ARGS(5);
		r = azb_copy(c, name, NULL, argv[4], &err);
	} else if (!strcmp(cmd, "list")) {
		if (argc != 3 && argc != 4)
			goto usage;
		r = azb_list(c, argc == 4 ? argv[3] : NULL, print_blob, NULL,
			     &err);
	} else if (!strcmp(cmd, "delete")) {
		ARGS(4);
		r = azb_delete(c, name, NULL, &err);
	} else if (!strcmp(cmd, "hammer")) {
		struct azb_stats st;

		ARGS(5);
		r = hammer(c, name, (unsigned int)num(argv[4]));
		azb_get_stats(c, &st);
		printf("requests %llu\nconnects %llu\n",
		       (unsigned long long)st.requests,
		       (unsigned long long)st.connects);
	} else if (!strcmp(cmd, "stats")) {	/* two HEADs, the counters */
		struct azb_props p;
		struct azb_stats st;

		ARGS(4);
		r = azb_props(c, name, &p, &err);
		if (r == 0)
			r = azb_props(c, name, &p, &err);
		azb_get_stats(c, &st);
		printf("requests %llu\nretries %llu\nconnects %llu\n",
		       (unsigned long long)st.requests,
		       (unsigned long long)st.retries,
		       (unsigned long long)st.connects);
	} else {
		goto usage;
	}
#undef ARGS
	if (r < 0)
		fprintf(stderr, "azb-tool: %s: %s: %s (account %s, container %s)\n",
			cmd, strerror(-r), azb_strerror(&err, msg, sizeof(msg)),
			azb_account(c), azb_container(c));
	azb_close(c);
	return r < 0 ? 1 : 0;
usage:
	fprintf(stderr, "azb-tool: %s: bad arguments\n", cmd);
	azb_close(c);
	return 2;
}
