/*
 * check_azblob.c - the blob client's pure parts: container URLs,
 * connection strings and the credential order, SharedKey's
 * string-to-sign and signature, and the XML answers (hostile ones too)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "crypto/secmem.h"
#include "store/azauth.h"
#include "store/azblob.h"

Suite *suite_azblob(void);

/* Azurite's well-known development account key: public, not a secret */
#define DEVKEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DEVURL "http://127.0.0.1:10000/devstoreaccount1"

static const struct {
	const char *url;
	int path_style, loopback;
	const char *account, *container, *prefix, *endpoint;
} good_urls[] = {
	{ "https://acct.blob.core.windows.net/con", 0, 0, "acct", "con", "",
	  "https://acct.blob.core.windows.net" },
	{ "https://acct.blob.core.windows.net/con/a/b/", 0, 0, "acct", "con",
	  "a/b", "https://acct.blob.core.windows.net" },
	{ "HTTPS://ACCT.blob.core.windows.net:443/my-con", 0, 0, "acct",
	  "my-con", "", "https://acct.blob.core.windows.net" },
	{ DEVURL "/con/p", 1, 1, "devstoreaccount1", "con", "p", DEVURL },
	{ "http://localhost:10000/devstoreaccount1/con", 1, 1,
	  "devstoreaccount1", "con", "", "http://localhost:10000/devstoreaccount1" },
	{ "http://[::1]:8080/acc/con", 1, 1, "acc", "con", "",
	  "http://[::1]:8080/acc" },
	{ "https://stack.example:8443/acc/con/x", 1, 0, "acc", "con", "x",
	  "https://stack.example:8443/acc" },
	{ "http://127.0.0.1/acc/con", 1, 1, "acc", "con", "",
	  "http://127.0.0.1/acc" },
};

static const char *const bad_urls[] = {
	"", "ftp://h/acc/con", "https://", "https:///acc/con",
	"https://acct.blob.core.windows.net", "https://acct.blob.core.windows.net/",
	"https://acct.blob.core.windows.net/Con",
	"https://ac.blob.core.windows.net/con",		/* account too short */
	"https://acct.blob.core.windows.net/co",	/* container too short */
	"https://acct.blob.core.windows.net/a--b",
	"https://acct.blob.core.windows.net/-ab",
	"https://acct.blob.core.windows.net/ab-",
	"https://u@acct.blob.core.windows.net/con",
	"https://acct.blob.core.windows.net/con?sv=1",
	"https://acct.blob.core.windows.net/con#x",
	"https://acct.blob.core.windows.net/con/a//b",
	"http://h:0/acc/con", "http://h:65536/acc/con", "http://h:/acc/con",
	"http://h:1x/acc/con", "http://h/acc", "http://h/ACC/con",
	"http://[::1/acc/con", "http://h/acc/con/a b",
	"http://h/abcdefghijklmnopqrstuvwxyz/con",	/* account too long */
};

START_TEST(test_url_good)
{
	struct azb_url u;

	ck_assert_int_eq(azb_url_parse(&u, good_urls[_i].url), 0);
	ck_assert_int_eq(u.path_style, good_urls[_i].path_style);
	ck_assert_int_eq(u.loopback, good_urls[_i].loopback);
	ck_assert_str_eq(u.account, good_urls[_i].account);
	ck_assert_str_eq(u.container, good_urls[_i].container);
	ck_assert_str_eq(u.prefix, good_urls[_i].prefix);
	ck_assert_str_eq(u.endpoint, good_urls[_i].endpoint);
}
END_TEST

START_TEST(test_url_bad)
{
	struct azb_url u;

	ck_assert_msg(azb_url_parse(&u, bad_urls[_i]) == -EINVAL,
		      "accepted \"%s\"", bad_urls[_i]);
}
END_TEST

static int connstr(struct azb_creds *c, const char *url, const char *s)
{
	struct azb_url u;

	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(azb_url_parse(&u, url), 0);
	return azb_connstr_parse(c, &u, s, strlen(s));
}

START_TEST(test_connstr)
{
	struct azb_creds c;

	ck_assert_int_eq(connstr(&c, DEVURL "/con",
		"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
		"AccountKey=" DEVKEY ";BlobEndpoint=" DEVURL "/;"), 0);
	ck_assert_int_eq(c.kind, AZB_CRED_SHAREDKEY);
	ck_assert_str_eq(c.account, "devstoreaccount1");
	ck_assert_uint_eq(secbuf_len(c.key), 64);
	azb_creds_release(&c);

	/* the endpoint derived from protocol, name and suffix */
	ck_assert_int_eq(connstr(&c, "https://acct.blob.core.windows.net/con",
		"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="
		DEVKEY ";EndpointSuffix=core.windows.net"), 0);
	azb_creds_release(&c);
	ck_assert_int_eq(connstr(&c, "https://acct.blob.core.windows.net/con",
		" AccountName=acct ; AccountKey=" DEVKEY " "), 0);
	azb_creds_release(&c);
	ck_assert_int_eq(connstr(&c, "https://acct.blob.core.chinacloudapi.cn/con",
		"AccountName=acct;AccountKey=" DEVKEY), -EXDEV);
	azb_creds_release(&c);

	/* another endpoint or account: refused */
	ck_assert_int_eq(connstr(&c, "http://127.0.0.1:10001/devstoreaccount1/con",
		"AccountName=devstoreaccount1;AccountKey=" DEVKEY
		";BlobEndpoint=" DEVURL), -EXDEV);
	azb_creds_release(&c);
	ck_assert_int_eq(connstr(&c, DEVURL "/con",
		"AccountName=other;AccountKey=" DEVKEY
		";BlobEndpoint=" DEVURL), -EXDEV);
	azb_creds_release(&c);

	/* a SAS connection string */
	ck_assert_int_eq(connstr(&c, DEVURL "/con",
		"BlobEndpoint=" DEVURL ";SharedAccessSignature=sv=2021-08-06&sig=x%3D"), 0);
	ck_assert_int_eq(c.kind, AZB_CRED_SAS);
	ck_assert_str_eq((char *)secbuf_data(c.sas), "sv=2021-08-06&sig=x%3D");
	azb_creds_release(&c);

	/* malformed */
	ck_assert_int_eq(connstr(&c, DEVURL "/con",
		"AccountName=devstoreaccount1;AccountKey=***;BlobEndpoint=" DEVURL),
		-EINVAL);
	azb_creds_release(&c);
	ck_assert_int_eq(connstr(&c, DEVURL "/con",
		"AccountName=devstoreaccount1;BlobEndpoint=" DEVURL), -EINVAL);
	azb_creds_release(&c);
	ck_assert_int_eq(connstr(&c, DEVURL "/con", "garbage"), -EINVAL);
	azb_creds_release(&c);
	ck_assert_int_eq(connstr(&c, DEVURL "/con", ""), -EINVAL);
	azb_creds_release(&c);
}
END_TEST

static void clear_env(void)
{
	unsetenv("AZURE_STORAGE_SAS_TOKEN");
	unsetenv("AZURE_STORAGE_CONNECTION_STRING");
	unsetenv("AZURE_STORAGE_ACCOUNT");
	unsetenv("AZURE_STORAGE_KEY");
}

START_TEST(test_creds_order)
{
	char file[] = "/tmp/check_azblob.XXXXXX";
	const char *cs = "AccountName=devstoreaccount1;AccountKey=" DEVKEY
		";BlobEndpoint=" DEVURL "\n";
	struct azb_creds c;
	struct azb_url u;
	int fd;

	ck_assert_int_eq(azb_url_parse(&u, DEVURL "/con"), 0);
	clear_env();
	ck_assert_int_eq(azb_creds_load(&c, &u, NULL), -ENOKEY);

	/* the file: 0600 only */
	fd = mkstemp(file);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, cs, strlen(cs)), (int)strlen(cs));
	close(fd);
	ck_assert_int_eq(chmod(file, 0644), 0);
	ck_assert_int_eq(azb_creds_load(&c, &u, file), -EPERM);
	ck_assert_str_eq(c.source, "credentials file");
	ck_assert_int_eq(chmod(file, 0600), 0);
	ck_assert_int_eq(azb_creds_load(&c, &u, file), 0);
	ck_assert_int_eq(c.kind, AZB_CRED_SHAREDKEY);
	azb_creds_release(&c);

	/* account + key come before the file; must be this account */
	setenv("AZURE_STORAGE_ACCOUNT", "other", 1);
	setenv("AZURE_STORAGE_KEY", DEVKEY, 1);
	ck_assert_int_eq(azb_creds_load(&c, &u, file), -EXDEV);
	setenv("AZURE_STORAGE_ACCOUNT", "devstoreaccount1", 1);
	ck_assert_int_eq(azb_creds_load(&c, &u, file), 0);
	ck_assert_str_eq(c.source, "AZURE_STORAGE_ACCOUNT");
	azb_creds_release(&c);

	/* the connection string before them, the SAS first of all */
	setenv("AZURE_STORAGE_CONNECTION_STRING", cs, 1);
	ck_assert_int_eq(azb_creds_load(&c, &u, file), 0);
	ck_assert_str_eq(c.source, "AZURE_STORAGE_CONNECTION_STRING");
	azb_creds_release(&c);
	setenv("AZURE_STORAGE_SAS_TOKEN", "?sv=1&sig=abc", 1);
	ck_assert_int_eq(azb_creds_load(&c, &u, file), 0);
	ck_assert_int_eq(c.kind, AZB_CRED_SAS);
	ck_assert_str_eq((char *)secbuf_data(c.sas), "sv=1&sig=abc");
	azb_creds_release(&c);

	clear_env();
	unlink(file);
}
END_TEST

/*
 * A Put Page as the client sends it.  The string below was written by hand
 * from Azure's "Authorize with Shared Key" (2015-02-21 and later), and the
 * signature computed apart with Python's hmac and hashlib.
 */
START_TEST(test_string_to_sign)
{
	static const char *const hdrs[] = {
		"x-ms-version:2021-08-06", "X-MS-Range:bytes=0-511",
		"x-ms-date:Sat, 05 Dec 2026 18:00:00 GMT",
		"x-ms-page-write: update ",
	};
	static const char *const query[] = { "comp=page" };
	static const char want[] =
		"PUT\n\n\n512\n\n\n\n\n\"0x1\"\n\n\n\n"
		"x-ms-date:Sat, 05 Dec 2026 18:00:00 GMT\n"
		"x-ms-page-write:update\n"
		"x-ms-range:bytes=0-511\n"
		"x-ms-version:2021-08-06\n"
		"/devstoreaccount1/devstoreaccount1/con/d.vhd\ncomp:page";
	struct azb_sign_req r = {
		.verb = "PUT", .content_length = 512, .if_match = "\"0x1\"",
		.headers = hdrs, .nheaders = 4,
		.path = "/devstoreaccount1/con/d.vhd",
		.query = query, .nquery = 1,
	};
	char sig[AZB_SIG_B64], *sts = NULL;
	struct azb_creds c;

	ck_assert_int_eq(azb_string_to_sign(&sts, "devstoreaccount1", &r), 0);
	ck_assert_str_eq(sts, want);
	ck_assert_int_eq(connstr(&c, DEVURL "/con",
		"AccountName=devstoreaccount1;AccountKey=" DEVKEY
		";BlobEndpoint=" DEVURL), 0);
	ck_assert_int_eq(azb_sign(sig, c.key, sts), 0);
	ck_assert_str_eq(sig, "lN5tcxTfszMxAIDAoexcAyJolk2mua2Dc670gHNocWw=");
	azb_creds_release(&c);
	free(sts);
}
END_TEST

/* Query parameters sort by name; an empty length signs as "". */
START_TEST(test_string_to_sign_list)
{
	static const char *const hdrs[] = { "x-ms-version:2021-08-06" };
	static const char *const query[] = {
		"restype=container", "comp=list", "prefix=a b/",
		"marker=2!x",
	};
	struct azb_sign_req r = {
		.verb = "GET", .headers = hdrs, .nheaders = 1, .path = "/con",
		.query = query, .nquery = 4,
	};
	static const char *const bad[] = { "nocolon" };
	char *sts = NULL;

	ck_assert_int_eq(azb_string_to_sign(&sts, "acct", &r), 0);
	ck_assert_str_eq(sts, "GET\n\n\n\n\n\n\n\n\n\n\n\n"
			 "x-ms-version:2021-08-06\n/acct/con\n"
			 "comp:list\nmarker:2!x\nprefix:a b/\n"
			 "restype:container");
	free(sts);
	r.headers = bad;
	ck_assert_int_eq(azb_string_to_sign(&sts, "acct", &r), -EINVAL);
}
END_TEST

static int ranges(const char *xml, struct azb_range **v, size_t *n)
{
	*v = NULL;
	*n = 0;
	return azb_parse_page_ranges(xml, strlen(xml), v, n);
}

START_TEST(test_page_ranges)
{
	struct azb_range *v;
	size_t n;

	ck_assert_int_eq(ranges("<?xml version=\"1.0\"?><PageList>"
		"<PageRange><Start>0</Start><End>511</End></PageRange>"
		"<ClearRange><Start>4096</Start><End>8191</End></ClearRange>"
		"<PageRange><Start>1099511627776</Start>"
		"<End>1099511631871</End></PageRange></PageList>", &v, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(v[0].start, 0);
	ck_assert_uint_eq(v[0].end, 511);
	ck_assert_int_eq(v[1].clear, 1);
	ck_assert_uint_eq(v[1].start, 4096);
	ck_assert_uint_eq(v[2].start, 1099511627776ull);
	ck_assert_uint_eq(v[2].end, 1099511631871ull);
	free(v);
	ck_assert_int_eq(ranges("<PageList />", &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
}
END_TEST

static const char *const hostile_ranges[] = {
	"",
	"garbage",
	"<PageRange><Start>0</Start><End>511</End></PageRange>", /* no list */
	"<PageList><PageRange><Start>1</Start><End>511</End></PageRange></PageList>",
	"<PageList><PageRange><Start>0</Start><End>510</End></PageRange></PageList>",
	"<PageList><PageRange><Start>512</Start><End>511</End></PageRange></PageList>",
	"<PageList><PageRange><Start>0</Start></PageRange></PageList>",
	"<PageList><PageRange><End>511</End></PageRange></PageList>",
	"<PageList><PageRange><Start>0</Start><End>511</End>",
	"<PageList><PageRange><Start>0</Start><End>",
	"<PageList><PageRange><Start>-0</Start><End>511</End></PageRange></PageList>",
	"<PageList><PageRange><Start>0x0</Start><End>511</End></PageRange></PageList>",
	"<PageList><PageRange><Start></Start><End>511</End></PageRange></PageList>",
	"<PageList><PageRange><Start>0</Start><End>18446744073709551615</End></PageRange></PageList>",
	"<PageList><PageRange><Start>0</Start><End>18446744073709552127</End></PageRange></PageList>",
	"<PageList><PageRange><Start>0</Start><End>000000000000000000000511</End></PageRange></PageList>",
	"<PageList><PageRange><Start>1024</Start><End>1535</End></PageRange>"
	"<PageRange><Start>0</Start><End>511</End></PageRange></PageList>",
	"<PageList><PageRange><Start>0</Start><End>1023</End></PageRange>"
	"<PageRange><Start>512</Start><End>1535</End></PageRange></PageList>",
	"<PageList><PageRange><Start> 0</Start><End>511</End></PageRange></PageList>",
};

START_TEST(test_page_ranges_hostile)
{
	struct azb_range *v;
	size_t n;

	ck_assert_msg(ranges(hostile_ranges[_i], &v, &n) == -EIO,
		      "accepted \"%s\"", hostile_ranges[_i]);
	ck_assert_ptr_null(v);
}
END_TEST

struct seen {
	char names[4][1024];
	uint64_t len[4];
	int page[4], lease[4];
	int n;
};

static int collect(const struct azb_blob_info *b, void *arg)
{
	struct seen *s = arg;

	if (s->n == 4)
		return -E2BIG;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", b->name);
	s->len[s->n] = b->length;
	s->page[s->n] = b->page_blob;
	s->lease[s->n] = b->lease;
	s->n++;
	return 0;
}

START_TEST(test_blob_list)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		"<EnumerationResults ServiceEndpoint=\"x\" ContainerName=\"con\">"
		"<Prefix>p/</Prefix><Blobs>"
		"<Blob><Name>p/a&amp;b.vhd</Name><Properties>"
		"<Content-Length>4096</Content-Length><BlobType>PageBlob</BlobType>"
		"<LeaseState>leased</LeaseState><Etag>0x1</Etag></Properties></Blob>"
		"<Blob><Name>p/c.txt</Name><Properties>"
		"<Content-Length>3</Content-Length><BlobType>BlockBlob</BlobType>"
		"</Properties></Blob>"
		"</Blobs><NextMarker>2!16!x</NextMarker></EnumerationResults>";
	char next[64];
	struct seen s = { .n = 0 };

	ck_assert_int_eq(azb_parse_blob_list(xml, strlen(xml), "p/", collect,
					     &s, next, sizeof(next)), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.names[0], "a&b.vhd");
	ck_assert_uint_eq(s.len[0], 4096);
	ck_assert_int_eq(s.page[0], 1);
	ck_assert_int_eq(s.lease[0], AZB_LEASE_LEASED);
	ck_assert_str_eq(s.names[1], "c.txt");
	ck_assert_int_eq(s.page[1], 0);
	ck_assert_str_eq(next, "2!16!x");
}
END_TEST

static const char *const hostile_lists[] = {
	"",
	"<Blobs><Blob><Name>a</Name></Blob></Blobs>",	/* no root */
	"<EnumerationResults><Blobs><Blob><Name>a&bogus;</Name><Properties>"
	"<Content-Length>1</Content-Length></Properties></Blob></Blobs>"
	"</EnumerationResults>",
	"<EnumerationResults><Blobs><Blob><Name>a</Name><Properties>"
	"<Content-Length>x</Content-Length></Properties></Blob></Blobs>"
	"</EnumerationResults>",
	"<EnumerationResults><Blobs><Blob><Name>a</Name></Blob></Blobs>"
	"</EnumerationResults>",
	"<EnumerationResults><Blobs><Blob><Name>q/a</Name><Properties>"
	"<Content-Length>1</Content-Length></Properties></Blob></Blobs>"
	"</EnumerationResults>",			/* outside the prefix */
	"<EnumerationResults><Blobs><Blob><Name>a</Name><Properties>"
	"<Content-Length>1</Content-Length></Properties></Blob></Blobs>"
	"<NextMarker>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"</NextMarker></EnumerationResults>",		/* marker too long */
};

START_TEST(test_blob_list_hostile)
{
	char next[64];
	struct seen s = { .n = 0 };
	const char *x = hostile_lists[_i];

	ck_assert_msg(azb_parse_blob_list(x, strlen(x), _i == 5 ? "p/" : "",
					  collect, &s, next,
					  sizeof(next)) == -EIO,
		      "accepted \"%s\"", x);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *suite_azblob(void)
{
	Suite *s = suite_create("azblob");
	TCase *tc = tcase_create("url");

	tcase_add_loop_test(tc, test_url_good, 0, N(good_urls));
	tcase_add_loop_test(tc, test_url_bad, 0, N(bad_urls));
	suite_add_tcase(s, tc);

	tc = tcase_create("credentials");
	tcase_add_test(tc, test_connstr);
	tcase_add_test(tc, test_creds_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("sharedkey");
	tcase_add_test(tc, test_string_to_sign);
	tcase_add_test(tc, test_string_to_sign_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("xml");
	tcase_add_test(tc, test_page_ranges);
	tcase_add_loop_test(tc, test_page_ranges_hostile, 0,
			    N(hostile_ranges));
	tcase_add_test(tc, test_blob_list);
	tcase_add_loop_test(tc, test_blob_list_hostile, 0, N(hostile_lists));
	suite_add_tcase(s, tc);
	return s;
}
