/*
 * azxml.c - the few XML answers of the Blob service we read
 *
 * Not a general XML parser: it finds the elements it needs by name inside
 * the bounds it is given, and takes no length or number on trust.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/azblob.h"
#include "store/azblob_i.h"

#define RANGES_MAX	(1u << 22)	/* 4M ranges: 2 TiB of single pages */

static const char *find(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	if (p >= end)
		return NULL;
	return memmem(p, end - p, s, n);
}

/*
 * The content of the first <@tag>...</@tag> in [@p, @end): its start, its
 * length in *@len, and in *@after (may be NULL) where the element ends.
 */
static const char *element(const char *p, const char *end, const char *tag,
			   size_t *len, const char **after)
{
	char open[64], close[64];
	const char *s, *e;
	size_t t = strlen(tag);

	if (t + 4 > sizeof(open))
		return NULL;
	open[0] = '<';
	memcpy(open + 1, tag, t);
	memcpy(open + 1 + t, ">", 2);
	close[0] = '<';
	close[1] = '/';
	memcpy(close + 2, tag, t);
	memcpy(close + 2 + t, ">", 2);
	s = find(p, end, open);
	if (!s)
		return NULL;
	s += t + 2;
	e = find(s, end, close);
	if (!e)
		return NULL;
	*len = e - s;
	if (after)
		*after = e + t + 3;
	return s;
}

static int unescape(char *dst, size_t size, const char *s, size_t len);

static int parse_u64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -EIO;
	for (i = 0; i < len; i++) {
		unsigned int d = (unsigned char)s[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -EIO;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int azb_parse_page_ranges(const char *xml, size_t len,
			  struct azb_range **out, size_t *n)
{
	return azb_parse_page_ranges_next(xml, len, out, n, NULL, 0);
}

int azb_parse_page_ranges_next(const char *xml, size_t len,
			       struct azb_range **out, size_t *n,
			       char *next, size_t next_size)
{
	const char *p = xml, *end = xml + len, *m;
	struct azb_range *v = NULL, *nv;
	size_t cnt = 0, cap = 0, mlen;
	int r = -EIO;

	if (!find(xml, end, "<PageList"))
		goto out;
	if (next) {
		next[0] = '\0';
		m = element(xml, end, "NextMarker", &mlen, NULL);
		if (m && unescape(next, next_size, m, mlen) < 0)
			goto out;
		if (m)
			end = m;	/* the ranges come before it */
	}
	for (;;) {
		const char *pr = find(p, end, "<PageRange>");
		const char *cr = find(p, end, "<ClearRange>");
		const char *body, *s, *e;
		size_t blen, slen, elen;
		int clear = 0;
		uint64_t start, last;

		if (!pr && !cr)
			break;
		if (!pr || (cr && cr < pr)) {
			clear = 1;
			body = element(cr, end, "ClearRange", &blen, &p);
		} else {
			body = element(pr, end, "PageRange", &blen, &p);
		}
		if (!body)
			goto out;
		s = element(body, body + blen, "Start", &slen, NULL);
		e = element(body, body + blen, "End", &elen, NULL);
		if (!s || !e || parse_u64(s, slen, &start) < 0 ||
		    parse_u64(e, elen, &last) < 0 || last < start ||
		    start % AZB_PAGE || (last + 1) % AZB_PAGE ||
		    last == UINT64_MAX)
			goto out;
		/* sorted and apart, as the service sends them */
		if (cnt && start <= v[cnt - 1].end)
			goto out;
		if (cnt == cap) {
			if (cap >= RANGES_MAX)
				goto out;
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[cnt].start = start;
		v[cnt].end = last;
		v[cnt].clear = clear;
		cnt++;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	r = 0;
out:
	free(v);
	return r;
}

/* Copy @len bytes of XML text into @dst, decoding the five entities. */
static int unescape(char *dst, size_t size, const char *s, size_t len)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	size_t i = 0, o = 0, k;

	while (i < len) {
		char c = s[i];

		if (c == '&') {
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);

				if (len - i >= el &&
				    !memcmp(s + i, ents[k].ent, el))
					break;
			}
			if (k == sizeof(ents) / sizeof(ents[0]))
				return -EIO;
			c = ents[k].c;
			i += strlen(ents[k].ent);
		} else {
			if (c == '\0' || c == '<')
				return -EIO;
			i++;
		}
		if (o + 1 >= size)
			return -EIO;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

enum azb_lease_state azb_lease_state_parse(const char *s, size_t len)
{
	static const char *const names[] = {
		"available", "leased", "expired", "breaking", "broken",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !memcmp(names[i], s, len))
			return (enum azb_lease_state)i;
	return AZB_LEASE_AVAILABLE;
}

int azb_parse_blob_list(const char *xml, size_t len, const char *prefix,
			int (*fn)(const struct azb_blob_info *b, void *arg),
			void *arg, char *next, size_t next_size)
{
	const char *p = xml, *end = xml + len, *blobs, *s;
	size_t plen = prefix ? strlen(prefix) : 0, blen, slen;
	struct azb_blob_info *bi;
	int r = -EIO;

	bi = malloc(sizeof(*bi));
	if (!bi)
		return -ENOMEM;
	if (!find(xml, end, "<EnumerationResults"))
		goto out;
	next[0] = '\0';
	blobs = element(xml, end, "Blobs", &blen, &p);
	s = element(p ? p : xml, end, "NextMarker", &slen, NULL);
	if (s && unescape(next, next_size, s, slen) < 0)
		goto out;
	if (!blobs) {
		/* an empty list may be <Blobs /> */
		r = 0;
		goto out;
	}
	p = blobs;
	end = blobs + blen;
	for (;;) {
		const char *b, *props, *v;
		char name[sizeof(bi->name) + 256];
		size_t bl, pl, vl;

		b = element(p, end, "Blob", &bl, &p);
		if (!b)
			break;
		memset(bi, 0, sizeof(*bi));
		v = element(b, b + bl, "Name", &vl, NULL);
		if (!v || unescape(name, sizeof(name), v, vl) < 0 ||
		    strncmp(name, prefix ? prefix : "", plen) ||
		    strlen(name + plen) >= sizeof(bi->name))
			goto out;
		strcpy(bi->name, name + plen);
		props = element(b, b + bl, "Properties", &pl, NULL);
		if (!props)
			goto out;
		v = element(props, props + pl, "Content-Length", &vl, NULL);
		if (!v || parse_u64(v, vl, &bi->length) < 0)
			goto out;
		v = element(props, props + pl, "BlobType", &vl, NULL);
		bi->page_blob = v && vl == 8 && !memcmp(v, "PageBlob", 8);
		v = element(props, props + pl, "LeaseState", &vl, NULL);
		if (v)
			bi->lease = azb_lease_state_parse(v, vl);
		v = element(props, props + pl, "Etag", &vl, NULL);
		if (v && unescape(bi->etag, sizeof(bi->etag), v, vl) < 0)
			goto out;
		r = fn(bi, arg);
		if (r)
			goto out;
	}
	r = 0;
out:
	free(bi);
	return r;
}
