/*
 * azauth.c - container URLs, connection strings, credentials, SharedKey
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "crypto/secmem.h"
#include "store/azauth.h"

#define CONNSTR_MAX	(64 * 1024)

static int copy_str(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int valid_account(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 3 || n > 24)
		return 0;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int valid_container(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '-' && s[i + 1] == '-')
			return 0;
		if (s[i] != '-' && !islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int is_loopback(const char *host)
{
	unsigned int a, b, c, d;
	char tail;

	if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]"))
		return 1;
	return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 &&
	       a == 127 && b < 256 && c < 256 && d < 256;
}

/* Next path segment of @p (no leading '/'), its length in *@len. */
static const char *segment(const char *p, size_t *len)
{
	while (*p == '/')
		p++;
	*len = strcspn(p, "/");
	return p;
}

/*
 * "scheme://host[:port]" of @url, lower-cased, the default port dropped,
 * into @u's scheme, host, port; the rest of the URL in *@rest.
 */
static int parse_authority(struct azb_url *u, const char *url,
			   const char **rest)
{
	const char *p, *h, *colon;
	unsigned long port = 0;
	size_t hlen, i;
	char *end;

	if (!strncasecmp(url, "https://", 8)) {
		strcpy(u->scheme, "https");
		p = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		strcpy(u->scheme, "http");
		p = url + 7;
	} else {
		return -EINVAL;
	}
	h = p;
	hlen = strcspn(h, "/?#");
	if (hlen == 0 || memchr(h, '@', hlen))
		return -EINVAL;
	colon = NULL;
	if (h[0] == '[') {
		const char *rb = memchr(h, ']', hlen);

		if (!rb)
			return -EINVAL;
		if (rb + 1 < h + hlen) {
			if (rb[1] != ':')
				return -EINVAL;
			colon = rb + 1;
		}
	} else {
		colon = memchr(h, ':', hlen);
	}
	if (colon) {
		if (colon + 1 == h + hlen || !isdigit((unsigned char)colon[1]))
			return -EINVAL;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || end != h + hlen || port == 0 || port > 65535)
			return -EINVAL;
		if (copy_str(u->host, sizeof(u->host), h, colon - h) < 0)
			return -EINVAL;
	} else if (copy_str(u->host, sizeof(u->host), h, hlen) < 0) {
		return -EINVAL;
	}
	if (!u->host[0])
		return -EINVAL;
	for (i = 0; u->host[i]; i++)
		u->host[i] = tolower((unsigned char)u->host[i]);
	if ((port == 443 && !strcmp(u->scheme, "https")) ||
	    (port == 80 && !strcmp(u->scheme, "http")))
		port = 0;
	u->port = port;
	u->loopback = is_loopback(u->host);
	*rest = h + hlen;
	return 0;
}

int azb_url_parse(struct azb_url *u, const char *url)
{
	const char *rest, *seg, *dot;
	char ep[sizeof(u->endpoint)];
	size_t len;
	int n, r;

	memset(u, 0, sizeof(*u));
	if (strpbrk(url, "?# \t\r\n"))
		return -EINVAL;
	r = parse_authority(u, url, &rest);
	if (r < 0)
		return r;

	/* ACCOUNT.blob.SUFFIX names the account in the host */
	dot = strchr(u->host, '.');
	u->path_style = !(dot && !strncmp(dot, ".blob.", 6) &&
			  !is_loopback(u->host));
	if (!u->path_style) {
		if (copy_str(u->account, sizeof(u->account), u->host,
			     dot - u->host) < 0)
			return -EINVAL;
	} else {
		seg = segment(rest, &len);
		if (copy_str(u->account, sizeof(u->account), seg, len) < 0)
			return -EINVAL;
		rest = seg + len;
	}
	seg = segment(rest, &len);
	if (copy_str(u->container, sizeof(u->container), seg, len) < 0)
		return -EINVAL;
	rest = seg + len;
	if (!valid_account(u->account) || !valid_container(u->container))
		return -EINVAL;

	/* the prefix: the rest, without the slashes around it */
	while (*rest == '/')
		rest++;
	len = strlen(rest);
	while (len && rest[len - 1] == '/')
		len--;
	if (copy_str(u->prefix, sizeof(u->prefix), rest, len) < 0 ||
	    strstr(u->prefix, "//"))
		return -EINVAL;

	if (u->port)
		n = snprintf(ep, sizeof(ep), "%s://%s:%u", u->scheme, u->host,
			     u->port);
	else
		n = snprintf(ep, sizeof(ep), "%s://%s", u->scheme, u->host);
	if (n < 0 || (size_t)n >= sizeof(ep))
		return -EINVAL;
	if (u->path_style)
		n = snprintf(u->endpoint, sizeof(u->endpoint), "%s/%s", ep,
			     u->account);
	else
		n = snprintf(u->endpoint, sizeof(u->endpoint), "%s", ep);
	if (n < 0 || (size_t)n >= sizeof(u->endpoint))
		return -EINVAL;
	return 0;
}

/* The endpoint @s (a BlobEndpoint) in azb_url_parse()'s canonical form. */
static int endpoint_norm(char *out, size_t size, const char *s, size_t len)
{
	struct azb_url e;
	char buf[512];
	const char *rest;
	size_t plen;
	int n;

	memset(&e, 0, sizeof(e));
	if (copy_str(buf, sizeof(buf), s, len) < 0 ||
	    parse_authority(&e, buf, &rest) < 0 || strpbrk(rest, "?#"))
		return -EINVAL;
	plen = strlen(rest);
	while (plen && rest[plen - 1] == '/')
		plen--;
	if (e.port)
		n = snprintf(out, size, "%s://%s:%u%.*s", e.scheme, e.host,
			     e.port, (int)plen, rest);
	else
		n = snprintf(out, size, "%s://%s%.*s", e.scheme, e.host,
			     (int)plen, rest);
	return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

/* Decode a base64 account key into c->key. */
static int set_key(struct azb_creds *c, const char *b64, size_t len)
{
	struct secbuf *tmp;
	size_t n = 0;
	int r = 0;

	if (len == 0 || len > 512)
		return -EINVAL;
	tmp = secbuf_new(len);
	if (!tmp)
		return -ENOMEM;
	if (sodium_base642bin(secbuf_data(tmp), len, b64, len, NULL, &n,
			      NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n == 0) {
		r = -EINVAL;
		goto out;
	}
	secbuf_free(c->key);
	c->key = secbuf_from(secbuf_data(tmp), n);
	if (!c->key)
		r = -ENOMEM;
	else
		c->kind = AZB_CRED_SHAREDKEY;
out:
	secbuf_free(tmp);
	return r;
}

/* A SAS token (with or without its '?') into c->sas. */
static int set_sas(struct azb_creds *c, const char *s, size_t len)
{
	if (len && s[0] == '?') {
		s++;
		len--;
	}
	if (len == 0 || memchr(s, '#', len) || memchr(s, ' ', len) ||
	    memchr(s, '\n', len))
		return -EINVAL;
	secbuf_free(c->sas);
	c->sas = secbuf_new(len + 1);
	if (!c->sas)
		return -ENOMEM;
	memcpy(secbuf_data(c->sas), s, len);
	c->kind = AZB_CRED_SAS;
	return 0;
}

struct kv {
	const char *v;
	size_t len;
};

int azb_connstr_parse(struct azb_creds *c, const struct azb_url *u,
		      const char *s, size_t len)
{
	enum { PROTO, NAME, KEY, BLOB, SUFFIX, SAS, NKEYS };
	static const char *const names[NKEYS] = {
		"DefaultEndpointsProtocol", "AccountName", "AccountKey",
		"BlobEndpoint", "EndpointSuffix", "SharedAccessSignature",
	};
	struct kv kv[NKEYS] = { { NULL, 0 } };
	char ep[512], want[512];
	const char *p = s, *end = s + len;
	int r, i, n;

	/* Key=Value pairs apart by ';'; a value may hold '=' (base64) */
	while (p < end) {
		const char *semi = memchr(p, ';', end - p);
		const char *q = semi ? semi : end;
		const char *eq = memchr(p, '=', q - p);
		const char *k = p;

		p = q + 1;
		while (k < q && isspace((unsigned char)*k))
			k++;
		if (k == q)
			continue;
		if (!eq)
			return -EINVAL;
		for (i = 0; i < NKEYS; i++)
			if (strlen(names[i]) == (size_t)(eq - k) &&
			    !strncasecmp(names[i], k, eq - k))
				break;
		if (i == NKEYS)
			continue;	/* QueueEndpoint and the like */
		kv[i].v = eq + 1;
		kv[i].len = q - eq - 1;
		while (kv[i].len &&
		       isspace((unsigned char)kv[i].v[kv[i].len - 1]))
			kv[i].len--;
	}

	/* the endpoint the string speaks of must be this URL's */
	if (kv[BLOB].v) {
		r = endpoint_norm(ep, sizeof(ep), kv[BLOB].v, kv[BLOB].len);
		if (r < 0)
			return r;
	} else {
		if (!kv[NAME].v)
			return -EINVAL;
		n = snprintf(want, sizeof(want), "%.*s://%.*s.blob.%.*s",
			     kv[PROTO].v ? (int)kv[PROTO].len : 5,
			     kv[PROTO].v ? kv[PROTO].v : "https",
			     (int)kv[NAME].len, kv[NAME].v,
			     kv[SUFFIX].v ? (int)kv[SUFFIX].len : 16,
			     kv[SUFFIX].v ? kv[SUFFIX].v : "core.windows.net");
		if (n < 0 || (size_t)n >= sizeof(want))
			return -EINVAL;
		r = endpoint_norm(ep, sizeof(ep), want, n);
		if (r < 0)
			return r;
	}
	if (strcmp(ep, u->endpoint))
		return -EXDEV;
	if (kv[NAME].v && (kv[NAME].len != strlen(u->account) ||
			   memcmp(kv[NAME].v, u->account, kv[NAME].len)))
		return -EXDEV;

	snprintf(c->account, sizeof(c->account), "%s", u->account);
	if (kv[SAS].v)
		return set_sas(c, kv[SAS].v, kv[SAS].len);
	if (kv[KEY].v && kv[NAME].v)
		return set_key(c, kv[KEY].v, kv[KEY].len);
	return -EINVAL;
}

/*
 * The connection string in @file: a regular file no one else may read,
 * owned by the caller or root.
 */
static int load_file(struct azb_creds *c, const struct azb_url *u,
		     const char *file)
{
	struct secbuf *buf = NULL;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, r;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		r = -EPERM;
		goto out;
	}
	if (st.st_size > CONNSTR_MAX) {
		r = -EINVAL;
		goto out;
	}
	buf = secbuf_new(CONNSTR_MAX + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (len < CONNSTR_MAX) {
		n = read(fd, secbuf_data(buf) + len, CONNSTR_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += n;
	}
	while (len && isspace(secbuf_data(buf)[len - 1]))
		len--;
	r = azb_connstr_parse(c, u, (const char *)secbuf_data(buf), len);
out:
	secbuf_free(buf);
	close(fd);
	return r;
}

int azb_creds_load(struct azb_creds *c, const struct azb_url *u,
		   const char *file)
{
	const char *v, *k;

	memset(c, 0, sizeof(*c));
	v = getenv("AZURE_STORAGE_SAS_TOKEN");
	if (v && *v) {
		strcpy(c->source, "AZURE_STORAGE_SAS_TOKEN");
		snprintf(c->account, sizeof(c->account), "%s", u->account);
		return set_sas(c, v, strlen(v));
	}
	v = getenv("AZURE_STORAGE_CONNECTION_STRING");
	if (v && *v) {
		strcpy(c->source, "AZURE_STORAGE_CONNECTION_STRING");
		return azb_connstr_parse(c, u, v, strlen(v));
	}
	v = getenv("AZURE_STORAGE_ACCOUNT");
	k = getenv("AZURE_STORAGE_KEY");
	if (v && *v && k && *k) {
		strcpy(c->source, "AZURE_STORAGE_ACCOUNT");
		if (strcmp(v, u->account))
			return -EXDEV;
		snprintf(c->account, sizeof(c->account), "%s", u->account);
		return set_key(c, k, strlen(k));
	}
	if (file) {
		snprintf(c->source, sizeof(c->source), "credentials file");
		return load_file(c, u, file);
	}
	strcpy(c->source, "the environment");
	return -ENOKEY;
}

void azb_creds_scrub_env(void)
{
	static const char *const names[] = {
		"AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING",
		"AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *v = getenv(names[i]);

		/* the bytes themselves: /proc/PID/environ shows them, not
		 * the pointers unsetenv() changes */
		if (v)
			sodium_memzero(v, strlen(v));
		unsetenv(names[i]);
	}
}

void azb_creds_release(struct azb_creds *c)
{
	secbuf_free(c->key);
	secbuf_free(c->sas);
	c->key = c->sas = NULL;
	c->kind = AZB_CRED_NONE;
}

/* Appendable string: NULL data after a failed append. */
struct sbuf {
	char *d;
	size_t len, size;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	char *nd;

	if (!b->d && b->size)
		return;			/* an earlier failure sticks */
	if (b->len + n + 1 > b->size) {
		size_t size = (b->len + n + 1) * 2;

		nd = realloc(b->d, size);
		if (!nd) {
			free(b->d);
			b->d = NULL;
			b->size = 1;
			return;
		}
		b->d = nd;
		b->size = size;
	}
	memcpy(b->d + b->len, s, n);
	b->len += n;
	b->d[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Sort "name?value" strings by their lower-cased name. */
static int cmp_name(const void *a, const void *b, void *sep)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	char s = *(const char *)sep;

	for (;; x++, y++) {
		int cx = *x == s ? 0 : tolower((unsigned char)*x);
		int cy = *y == s ? 0 : tolower((unsigned char)*y);

		if (cx != cy || !cx)
			return cx - cy;
	}
}

/* Append @n "name<sep>value" items sorted, each as pre+name:value+post. */
static int add_sorted(struct sbuf *b, const char *const *items, size_t n,
		      char sep, const char *pre, const char *post)
{
	const char **v;
	size_t i;
	char s = sep;

	if (!n)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!strchr(items[i], sep)) {
			free(v);
			return -EINVAL;
		}
		v[i] = items[i];
	}
	qsort_r(v, n, sizeof(*v), cmp_name, &s);
	for (i = 0; i < n; i++) {
		const char *at = strchr(v[i], sep), *val = at + 1;
		const char *p;
		size_t vlen;

		sb_str(b, pre);
		for (p = v[i]; p < at; p++) {
			char lc = tolower((unsigned char)*p);

			sb_add(b, &lc, 1);
		}
		sb_add(b, ":", 1);
		while (*val == ' ')
			val++;
		vlen = strlen(val);
		while (vlen && val[vlen - 1] == ' ')
			vlen--;
		sb_add(b, val, vlen);
		sb_str(b, post);
	}
	free(v);
	return 0;
}

int azb_string_to_sign(char **out, const char *account,
		       const struct azb_sign_req *r)
{
	struct sbuf b = { NULL, 0, 0 };
	char num[24];
	int e;

	if (r->content_length)
		snprintf(num, sizeof(num), "%llu",
			 (unsigned long long)r->content_length);
	else
		num[0] = '\0';
	sb_str(&b, r->verb);
	sb_str(&b, "\n\n\n");		/* Content-Encoding, -Language */
	sb_str(&b, num);
	sb_str(&b, "\n\n");		/* Content-MD5 */
	sb_str(&b, r->content_type ? r->content_type : "");
	sb_str(&b, "\n\n\n");		/* Date, If-Modified-Since */
	sb_str(&b, r->if_match ? r->if_match : "");
	sb_str(&b, "\n");
	sb_str(&b, r->if_none_match ? r->if_none_match : "");
	sb_str(&b, "\n\n");		/* If-Unmodified-Since */
	sb_str(&b, r->range ? r->range : "");
	sb_str(&b, "\n");
	e = add_sorted(&b, r->headers, r->nheaders, ':', "", "\n");
	if (e < 0)
		goto fail;
	sb_str(&b, "/");
	sb_str(&b, account);
	sb_str(&b, r->path);
	e = add_sorted(&b, r->query, r->nquery, '=', "\n", "");
	if (e < 0)
		goto fail;
	if (!b.d)
		return -ENOMEM;
	*out = b.d;
	return 0;
fail:
	free(b.d);
	return e;
}

int azb_sign(char sig[AZB_SIG_B64], const struct secbuf *key,
	     const char *sts)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int r = 0;

	if (!HMAC(EVP_sha256(), secbuf_data(key), (int)secbuf_len(key),
		  (const unsigned char *)sts, strlen(sts), md, &mdlen) ||
	    mdlen != 32) {
		r = -EIO;
		goto out;
	}
	sodium_bin2base64(sig, AZB_SIG_B64, md, mdlen,
			  sodium_base64_VARIANT_ORIGINAL);
out:
	sodium_memzero(md, sizeof(md));
	return r;
}
