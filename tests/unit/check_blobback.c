/*
 * check_blobback.c - store/blobback.h and store/copy.h without a network:
 * URLs split, one-line refusals of blob_store_open(), Get Page Ranges'
 * NextMarker, and the thin copy over an in-memory backing
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/backing.h"
#include "store/azblob.h"
#include "store/blobback.h"
#include "store/copy.h"

Suite *suite_blobback(void);

START_TEST(test_url_split)
{
	char s[256], n[64];

	ck_assert_int_eq(blob_is_url("https://a.blob.core.windows.net/c"), 1);
	ck_assert_int_eq(blob_is_url("HTTP://127.0.0.1:1/a/c"), 1);
	ck_assert_int_eq(blob_is_url("/srv/store"), 0);
	ck_assert_int_eq(blob_is_url("store/http://x"), 0);

	ck_assert_int_eq(blob_url_split("https://acct.blob.core.windows.net/"
					"con/sub/d.vhd", s, sizeof(s), n,
					sizeof(n)), 0);
	ck_assert_str_eq(s, "https://acct.blob.core.windows.net/con/sub");
	ck_assert_str_eq(n, "d.vhd");
	ck_assert_int_eq(blob_url_split("http://127.0.0.1:10000/devstoreaccount1"
					"/con/d.vhd/", s, sizeof(s), n,
					sizeof(n)), 0);
	ck_assert_str_eq(s, "http://127.0.0.1:10000/devstoreaccount1/con");
	ck_assert_str_eq(n, "d.vhd");
	ck_assert_int_eq(blob_url_split("https://", s, sizeof(s), n,
					sizeof(n)), -EINVAL);
	ck_assert_int_eq(blob_url_split("/srv/d.vhd", s, sizeof(s), n,
					sizeof(n)), -EINVAL);
	ck_assert_int_eq(blob_url_split("https://h/a/c//d.vhd", s, sizeof(s),
					n, sizeof(n)), -EINVAL);
	ck_assert_int_eq(blob_url_split("https://h/a/c/d.vhd", s, 8, n,
					sizeof(n)), -ENAMETOOLONG);
}
END_TEST

static void clear_env(void)
{
	unsetenv("AZURE_STORAGE_SAS_TOKEN");
	unsetenv("AZURE_STORAGE_CONNECTION_STRING");
	unsetenv("AZURE_STORAGE_ACCOUNT");
	unsetenv("AZURE_STORAGE_KEY");
}

/* Every refusal is one line "ssefs: URL: WHY" that names what is wrong. */
START_TEST(test_open_refusals)
{
	const char *url = "http://127.0.0.1:10000/devstoreaccount1/con";
	struct blob_store_opts o = { 0 };
	struct blob_store *s = NULL;
	char msg[BLOB_MSG_MAX], file[] = "/tmp/check_blobback.XXXXXX";
	int fd;

	clear_env();
	ck_assert_int_eq(blob_store_open(&s, url, NULL, msg, sizeof(msg)),
			 -ENOKEY);
	ck_assert_ptr_null(strchr(msg, '\n'));
	ck_assert_ptr_nonnull(strstr(msg, "ssefs: http://127.0.0.1:10000/"
				     "devstoreaccount1/con: no credentials"));

	ck_assert_int_eq(blob_store_open(&s, "http://127.0.0.1/ab/con", NULL,
					 msg, sizeof(msg)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(msg, "not a container URL"));

	setenv("AZURE_STORAGE_ACCOUNT", "devstoreaccount1", 1);
	setenv("AZURE_STORAGE_KEY", "a2V5", 1);
	ck_assert_int_eq(blob_store_open(&s, "http://192.0.2.1:10000/"
					 "devstoreaccount1/con", NULL, msg,
					 sizeof(msg)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(msg, "plain http"));
	o.allow_http = 1;
	ck_assert_int_eq(blob_store_open(&s, "http://192.0.2.1:10000/"
					 "devstoreaccount1/con/", &o, msg,
					 sizeof(msg)), 0);
	ck_assert_str_eq(blob_store_url(s), "http://192.0.2.1:10000/"
			 "devstoreaccount1/con");
	blob_store_close(s);
	o.lease_seconds = 14;
	ck_assert_int_eq(blob_store_open(&s, url, &o, msg, sizeof(msg)),
			 -EINVAL);
	o.lease_seconds = 0;

	/* a credentials file: mode 0600, and the caller's or root's */
	clear_env();
	fd = mkstemp(file);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(dprintf(fd, "AccountName=devstoreaccount1;"
				 "AccountKey=a2V5;BlobEndpoint=%s\n",
				 "http://127.0.0.1:10000/devstoreaccount1"),
			 0);
	close(fd);
	o.credentials_file = file;
	ck_assert_int_eq(chmod(file, 0640), 0);
	ck_assert_int_eq(blob_store_open(&s, url, &o, msg, sizeof(msg)),
			 -EPERM);
	ck_assert_ptr_nonnull(strstr(msg, "mode 0640"));
	ck_assert_int_eq(chmod(file, 0600), 0);
	ck_assert_int_eq(blob_store_open(&s, url, &o, msg, sizeof(msg)), 0);
	blob_store_close(s);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(file, 4242, 4242), 0);
		ck_assert_int_eq(blob_store_open(&s, url, &o, msg,
						 sizeof(msg)), -EPERM);
		ck_assert_ptr_nonnull(strstr(msg, "owner 4242"));
	}
	unlink(file);
}
END_TEST

START_TEST(test_page_ranges_next)
{
	static const char page[] = "<?xml version=\"1.0\"?><PageList>"
		"<PageRange><Start>0</Start><End>511</End></PageRange>"
		"<NextMarker>2!a&amp;b</NextMarker></PageList>";
	static const char last[] = "<PageList><PageRange><Start>0</Start>"
		"<End>511</End></PageRange><NextMarker /></PageList>";
	struct azb_range *v = NULL;
	char next[64];
	size_t n = 0;

	ck_assert_int_eq(azb_parse_page_ranges_next(page, strlen(page), &v,
						    &n, next, sizeof(next)),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(next, "2!a&b");
	free(v);
	ck_assert_int_eq(azb_parse_page_ranges_next(last, strlen(last), &v,
						    &n, next, sizeof(next)),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(next, "");
	free(v);
	ck_assert_int_eq(azb_parse_page_ranges_next(page, strlen(page), &v,
						    &n, next, 3), -EIO);
}
END_TEST

/* An in-memory backing: pages, each present or not. */
#define MEM_PAGES	64

struct mem {
	struct backing b;
	uint64_t size;
	unsigned char data[MEM_PAGES * 512];
	unsigned char have[MEM_PAGES];
	unsigned int writes, synced;
};

static struct mem *mem_of(struct backing *b)
{
	return (struct mem *)b;
}

static int mem_pread(struct backing *b, void *buf, size_t len, uint64_t off)
{
	struct mem *m = mem_of(b);

	memset(buf, 0, len);
	if (off < m->size)
		memcpy(buf, m->data + off,
		       len < m->size - off ? len : m->size - off);
	return 0;
}

static int mem_pwrite(struct backing *b, const void *buf, size_t len,
		      uint64_t off)
{
	struct mem *m = mem_of(b);

	if (off % 512 || len % 512 || off + len > sizeof(m->data))
		return -EINVAL;
	memcpy(m->data + off, buf, len);
	memset(m->have + off / 512, 1, len / 512);
	if (off + len > m->size)
		m->size = off + len;
	m->writes++;
	return 0;
}

static int mem_sync(struct backing *b)
{
	mem_of(b)->synced++;
	return 0;
}

static int mem_get_size(struct backing *b, uint64_t *len)
{
	*len = mem_of(b)->size;
	return 0;
}

static int mem_set_size(struct backing *b, uint64_t len)
{
	if (len > sizeof(mem_of(b)->data))
		return -EFBIG;
	mem_of(b)->size = len;
	return 0;
}

static int mem_ranges(struct backing *b, uint64_t off, uint64_t len,
		      int (*fn)(void *arg, uint64_t off, uint64_t len),
		      void *arg)
{
	struct mem *m = mem_of(b);
	uint64_t p, q;
	int r;

	for (p = off / 512; p < (off + len) / 512 && p < MEM_PAGES; p = q) {
		if (!m->have[p]) {
			q = p + 1;
			continue;
		}
		for (q = p; q < (off + len) / 512 && q < MEM_PAGES &&
		     m->have[q]; q++)
			;
		r = fn(arg, p * 512, (q - p) * 512);
		if (r)
			return r;
	}
	return 0;
}

static const struct backing_ops mem_ops = {
	.kind = "mem", .pread = mem_pread, .pwrite = mem_pwrite,
	.sync = mem_sync, .get_size = mem_get_size,
	.set_size = mem_set_size, .ranges = mem_ranges,
};

struct prog {
	uint64_t last_done, total;
	unsigned int calls;
};

static void prog(void *arg, uint64_t done, uint64_t total)
{
	struct prog *p = arg;

	ck_assert_uint_ge(done, p->last_done);
	p->last_done = done;
	p->total = total;
	p->calls++;
}

/* Only what exists is read, and of it only pages that are not zeros. */
START_TEST(test_copy_thin)
{
	struct mem *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct prog p = { 0, 0, 0 };

	a->b.ops = b->b.ops = &mem_ops;
	a->size = 40 * 512;
	memset(a->data + 2 * 512, 0xa5, 3 * 512);
	memset(a->have + 2, 1, 3);
	memset(a->have + 10, 1, 4);		/* allocated, but zeros */
	memset(a->data + 12 * 512 + 7, 1, 1);	/* ... but one page */
	memset(a->data + 30 * 512, 0x5a, 512);
	memset(a->have + 30, 1, 1);

	ck_assert_int_eq(store_copy(&a->b, &b->b, prog, &p), 0);
	ck_assert_uint_eq(b->size, a->size);
	ck_assert_mem_eq(b->data, a->data, sizeof(a->data));
	ck_assert_uint_eq(p.total, 8 * 512);
	ck_assert_uint_eq(p.last_done, 8 * 512);
	ck_assert_uint_ge(p.calls, 2);
	ck_assert_uint_eq(b->writes, 3);
	ck_assert_int_eq(b->have[10], 0);
	ck_assert_int_eq(b->have[12], 1);
	ck_assert_int_eq(b->have[13], 0);
	ck_assert_uint_eq(b->synced, 1);

	/* another kind of backing: its name and the errno's text */
	{
		char msg[BLOB_MSG_MAX], name[] = "store/a.vhd";

		a->b.name = name;
		blob_backing_why(&a->b, -ENOSPC, msg, sizeof(msg));
		ck_assert_str_eq(msg, "ssefs: store/a.vhd: No space left on "
				 "device");
	}
	free(a);
	free(b);
}
END_TEST

Suite *suite_blobback(void)
{
	Suite *s = suite_create("blobback");
	TCase *tc = tcase_create("store");

	tcase_add_test(tc, test_url_split);
	tcase_add_test(tc, test_open_refusals);
	tcase_add_test(tc, test_page_ranges_next);
	suite_add_tcase(s, tc);

	tc = tcase_create("copy");
	tcase_add_test(tc, test_copy_thin);
	suite_add_tcase(s, tc);
	return s;
}
