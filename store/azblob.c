/*
 * azblob.c - the Blob service REST client over libcurl
 *
 * A request is described by a struct req (verb, blob, query, x-ms-*
 * headers, body or output buffer); run() signs it, sends it, retries it
 * while the failure is transient and time is left, and maps the answer.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "crypto/secmem.h"
#include "store/azauth.h"
#include "store/azblob.h"
#include "store/azblob_i.h"

#define DEFAULT_TIMEOUT_MS	30000u
#define CONNECT_TIMEOUT_MS	10000u
#define BACKOFF_FIRST_MS	100u
#define BACKOFF_MAX_MS		4000u
#define XML_MAX			(64u << 20)
#define MAXQ			8
#define MAXH			10
#define POOL_MAX		32	/* idle connections kept */

struct azb_client {
	struct azb_url url;
	struct azb_creds creds;
	char base[300];			/* scheme://host[:port] */
	unsigned int timeout_ms;
	char *ca_file;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t stats_lock;
	struct azb_stats st;
};

struct req {
	const char *verb;
	const char *name;		/* NULL: the container itself */
	const char *query[MAXQ];	/* "name=value", value unencoded */
	size_t nquery;
	const char *hdr[MAXH];		/* "x-ms-name:value" */
	size_t nhdr;
	const char *if_match, *if_none_match;
	const void *body;		/* PUT body */
	size_t body_len, body_pos;
	void *out;			/* fixed output (ranged GET) */
	size_t out_len;
	int want_body;			/* collect the body in @body_buf */

	/* the answer */
	long status;
	size_t got;
	char *body_buf;
	size_t body_buf_len, body_buf_size;
	int overflow;
	uint64_t length;
	char etag[AZB_ETAG_MAX];
	char code[64];
	char lease_id[AZB_LEASE_ID_MAX];
	char lease_state[16];
	char snapshot[AZB_SNAPSHOT_MAX];
	char blob_type[16];
	char copy_status[16];
	char last_modified[40];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a,
		       void *arg)
{
	struct azb_client *c = arg;

	(void)h;
	(void)a;
	pthread_mutex_lock(&c->locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *arg)
{
	struct azb_client *c = arg;

	(void)h;
	pthread_mutex_unlock(&c->locks[d]);
}

int azb_open(struct azb_client **out, const char *url,
	     const struct azb_opts *opts, char *detail, size_t detail_len)
{
	struct azb_client *c;
	int r, i;

	if (detail && detail_len)
		detail[0] = '\0';
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return -EIO;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	pthread_mutex_init(&c->stats_lock, NULL);

	r = azb_url_parse(&c->url, url);
	if (r < 0)
		goto fail;
	if (!strcmp(c->url.scheme, "http") && !c->url.loopback &&
	    !(opts && opts->allow_http)) {
		r = -EPROTO;
		goto fail;
	}
	if (c->url.port)
		snprintf(c->base, sizeof(c->base), "%s://%s:%u",
			 c->url.scheme, c->url.host, c->url.port);
	else
		snprintf(c->base, sizeof(c->base), "%s://%s", c->url.scheme,
			 c->url.host);
	r = azb_creds_load(&c->creds, &c->url,
			   opts ? opts->credentials_file : NULL);
	if (detail && detail_len)
		snprintf(detail, detail_len, "%s", c->creds.source);
	if (r < 0)
		goto fail;
	c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms :
		DEFAULT_TIMEOUT_MS;
	if (opts && opts->ca_file) {
		c->ca_file = strdup(opts->ca_file);
		if (!c->ca_file) {
			r = -ENOMEM;
			goto fail;
		}
	}
	c->share = curl_share_init();
	if (!c->share) {
		r = -EIO;
		goto fail;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	*out = c;
	return 0;
fail:
	azb_close(c);
	return r;
}

void azb_close(struct azb_client *c)
{
	int i;

	if (!c)
		return;
	if (c->share)
		curl_share_cleanup(c->share);
	azb_creds_release(&c->creds);
	free(c->ca_file);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->locks[i]);
	pthread_mutex_destroy(&c->stats_lock);
	free(c);
}

const char *azb_account(const struct azb_client *c)
{
	return c->url.account;
}

const char *azb_container(const struct azb_client *c)
{
	return c->url.container;
}

const char *azb_prefix(const struct azb_client *c)
{
	return c->url.prefix;
}

void azb_get_stats(struct azb_client *c, struct azb_stats *st)
{
	pthread_mutex_lock(&c->stats_lock);
	*st = c->st;
	pthread_mutex_unlock(&c->stats_lock);
}

const char *azb_strerror(const struct azb_err *e, char *buf, size_t len)
{
	if (e->http)
		snprintf(buf, len, "HTTP %ld%s%s", e->http,
			 e->code[0] ? " " : "", e->code);
	else
		snprintf(buf, len, "%s", e->code[0] ? e->code : "not sent");
	return buf;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Percent-encode @s (all but RFC 3986 unreserved and, if @slash, '/'). */
static char *encode(const char *s, int slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = malloc(strlen(s) * 3 + 1), *p = o;

	if (!o)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = *s;

		if (isalnum(ch) || strchr("-._~", ch) || (slash && ch == '/')) {
			*p++ = ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return o;
}

/* "/[account/]container[/prefix/name]", percent-encoded; malloc'd. */
static char *req_path(const struct azb_client *c, const char *name)
{
	char *full = NULL, *enc = NULL, *path = NULL;

	if (name) {
		if (asprintf(&full, "%s%s%s", c->url.prefix,
			     c->url.prefix[0] ? "/" : "", name) < 0)
			return NULL;
		enc = encode(full, 1);
		free(full);
		if (!enc)
			return NULL;
	}
	if (asprintf(&path, "%s%s/%s%s%s", c->url.path_style ? "/" : "",
		     c->url.path_style ? c->url.account : "",
		     c->url.container, enc ? "/" : "", enc ? enc : "") < 0)
		path = NULL;
	free(enc);
	return path;
}

/* The answer's headers we keep, each into its field of struct req. */
#define KEEP(h, f) { h, offsetof(struct req, f), sizeof(((struct req *)0)->f) }
static const struct {
	const char *name;
	size_t off, size;
} kept[] = {
	KEEP("ETag", etag),
	KEEP("x-ms-error-code", code),
	KEEP("x-ms-lease-id", lease_id),
	KEEP("x-ms-lease-state", lease_state),
	KEEP("x-ms-snapshot", snapshot),
	KEEP("x-ms-blob-type", blob_type),
	KEEP("x-ms-copy-status", copy_status),
	KEEP("Last-Modified", last_modified),
};
#undef KEEP

static size_t on_header(char *b, size_t size, size_t n, void *arg)
{
	struct req *q = arg;
	size_t len = size * n, vlen, i;
	const char *colon, *v;
	char *dst = NULL;
	size_t dsize = 0;

	if (len > 5 && !memcmp(b, "HTTP/", 5)) {
		const char *sp = memchr(b, ' ', len);

		q->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return len;
	}
	colon = memchr(b, ':', len);
	if (!colon)
		return len;
	v = colon + 1;
	vlen = b + len - v;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && isspace((unsigned char)v[vlen - 1]))
		vlen--;
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strlen(kept[i].name) == (size_t)(colon - b) &&
		    !strncasecmp(b, kept[i].name, colon - b))
			break;
	if (i < sizeof(kept) / sizeof(kept[0])) {
		dst = (char *)q + kept[i].off;
		dsize = kept[i].size;
	} else if ((size_t)(colon - b) == 14 &&
		   !strncasecmp(b, "Content-Length", 14) &&
		   !strcmp(q->verb, "HEAD")) {
		char num[24];

		if (vlen && vlen < sizeof(num)) {
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			q->length = strtoull(num, NULL, 10);
		}
	}
	if (dst) {
		if (vlen >= dsize)
			vlen = dsize - 1;
		memcpy(dst, v, vlen);
		dst[vlen] = '\0';
	}
	return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *arg)
{
	struct req *q = arg;
	size_t len = size * n;

	if (q->out && q->status >= 200 && q->status < 300) {
		if (len > q->out_len - q->got)
			return 0;	/* more than asked for */
		memcpy((char *)q->out + q->got, b, len);
		q->got += len;
		return len;
	}
	/* an XML answer, or an error's body: keep it, bounded */
	if (q->body_buf_len + len + 1 > XML_MAX) {
		q->overflow = 1;
		return 0;
	}
	if (q->body_buf_len + len + 1 > q->body_buf_size) {
		size_t ns = (q->body_buf_len + len + 1) * 2;
		char *nb = realloc(q->body_buf, ns);

		if (!nb)
			return 0;
		q->body_buf = nb;
		q->body_buf_size = ns;
	}
	memcpy(q->body_buf + q->body_buf_len, b, len);
	q->body_buf_len += len;
	q->body_buf[q->body_buf_len] = '\0';
	return len;
}

static size_t on_read(char *b, size_t size, size_t n, void *arg)
{
	struct req *q = arg;
	size_t len = size * n;

	if (len > q->body_len - q->body_pos)
		len = q->body_len - q->body_pos;
	memcpy(b, (const char *)q->body + q->body_pos, len);
	q->body_pos += len;
	return len;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct req *q = arg;

	if (origin != SEEK_SET || off < 0 || (size_t)off > q->body_len)
		return CURL_SEEKFUNC_FAIL;
	q->body_pos = off;
	return CURL_SEEKFUNC_OK;
}

static void req_reset_answer(struct req *q)
{
	q->status = 0;
	q->got = 0;
	q->body_pos = 0;
	q->body_buf_len = 0;
	if (q->body_buf)
		q->body_buf[0] = '\0';
	q->overflow = 0;
	q->length = 0;
	q->etag[0] = q->code[0] = q->lease_id[0] = q->lease_state[0] = '\0';
	q->snapshot[0] = q->blob_type[0] = q->copy_status[0] = '\0';
	q->last_modified[0] = '\0';
}

/* Append a header line "name: value" (printf-like) to @l. */
static struct curl_slist *add_hdr(struct curl_slist *l, int *fail,
				  const char *fmt, const char *a,
				  const char *b)
{
	struct curl_slist *n;
	char *s;

	if (*fail || asprintf(&s, fmt, a, b) < 0) {
		*fail = 1;
		return l;
	}
	n = curl_slist_append(l, s);
	free(s);
	if (!n) {
		*fail = 1;
		return l;
	}
	return n;
}

/*
 * One attempt of @q within @budget_ms.  Return: the CURLcode (CURLE_OK
 * when an answer came, q->status holds it) or -errno for our own failures.
 */
static int attempt(struct azb_client *c, struct req *q, unsigned int budget,
		   long *connects)
{
	char date[64], sig[AZB_SIG_B64], *path = NULL, *url = NULL;
	char *sts = NULL, *qs = NULL, *tmp;
	const char *sh[MAXH + 2];
	struct curl_slist *hl = NULL;
	struct tm tm;
	time_t t;
	CURL *h = NULL;
	size_t i;
	int fail = 0, r;

	t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "x-ms-date:%a, %d %b %Y %H:%M:%S GMT",
		 &tm);

	path = req_path(c, q->name);
	if (!path) {
		r = -ENOMEM;
		goto out;
	}
	/* the query, in the order given; SharedKey sorts its own copy */
	qs = strdup("");
	for (i = 0; qs && i < q->nquery; i++) {
		const char *eq = strchr(q->query[i], '=');
		char *v = encode(eq + 1, 0);

		if (!v ||
		    asprintf(&tmp, "%s%s%.*s=%s", qs, i ? "&" : "",
			     (int)(eq - q->query[i]), q->query[i], v) < 0)
			tmp = NULL;
		free(v);
		free(qs);
		qs = tmp;
	}
	if (qs && c->creds.kind == AZB_CRED_SAS) {
		if (asprintf(&tmp, "%s%s%s", qs, qs[0] ? "&" : "",
			     (const char *)secbuf_data(c->creds.sas)) < 0)
			tmp = NULL;
		free(qs);
		qs = tmp;
	}
	if (!qs) {
		r = -ENOMEM;
		goto out;
	}
	if (asprintf(&url, "%s%s%s%s", c->base, path, qs[0] ? "?" : "",
		     qs) < 0) {
		url = NULL;
		r = -ENOMEM;
		goto out;
	}

	hl = add_hdr(hl, &fail, "%s%s", date, "");
	hl = add_hdr(hl, &fail, "x-ms-version:%s%s", AZB_API_VERSION, "");
	for (i = 0; i < q->nhdr; i++)
		hl = add_hdr(hl, &fail, "%s%s", q->hdr[i], "");
	if (q->if_match)
		hl = add_hdr(hl, &fail, "If-Match: %s%s", q->if_match, "");
	if (q->if_none_match)
		hl = add_hdr(hl, &fail, "If-None-Match: %s%s",
			     q->if_none_match, "");
	hl = add_hdr(hl, &fail, "Expect:%s%s", "", "");
	if (c->creds.kind == AZB_CRED_SHAREDKEY) {
		struct azb_sign_req sr = {
			.verb = q->verb,
			.content_length = !strcmp(q->verb, "PUT") ?
				q->body_len : 0,
			.if_match = q->if_match,
			.if_none_match = q->if_none_match,
			.headers = sh,
			.nheaders = q->nhdr + 2,
			.path = path,
			.query = q->query,
			.nquery = q->nquery,
		};
		char vers[] = "x-ms-version:" AZB_API_VERSION;

		sh[0] = date;
		sh[1] = vers;
		for (i = 0; i < q->nhdr; i++)
			sh[i + 2] = q->hdr[i];
		r = azb_string_to_sign(&sts, c->creds.account, &sr);
		if (r < 0)
			goto out;
		r = azb_sign(sig, c->creds.key, sts);
		if (r < 0)
			goto out;
		hl = add_hdr(hl, &fail, "Authorization: SharedKey %s:%s",
			     c->creds.account, sig);
		sodium_memzero(sig, sizeof(sig));
	}
	if (fail) {
		r = -ENOMEM;
		goto out;
	}

	h = curl_easy_init();
	if (!h) {
		r = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, (long)POOL_MAX);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)budget);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(budget < CONNECT_TIMEOUT_MS ? budget :
				CONNECT_TIMEOUT_MS));
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
	if (!strcmp(q->verb, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->verb, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)q->body_len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, q);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, q);
	} else if (strcmp(q->verb, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->verb);
	}
	r = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, connects);
	if (r == CURLE_OK) {
		long code = 0;

		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		q->status = code;
	}
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	if (sts) {
		sodium_memzero(sts, strlen(sts));
		free(sts);
	}
	if (url) {
		sodium_memzero(url, strlen(url));	/* may hold a SAS */
		free(url);
	}
	if (qs) {
		sodium_memzero(qs, strlen(qs));
		free(qs);
	}
	free(path);
	return r;
}

static int transient_curl(int rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
		return 1;
	}
	return 0;
}

static int transient_status(long s)
{
	return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 ||
	       s == 504;
}

static int map_status(const struct req *q)
{
	long s = q->status;
	int lease = !strncmp(q->code, "Lease", 5);

	if (s >= 200 && s < 300)
		return 0;
	switch (s) {
	case 404:
		return -ENOENT;
	case 409:
		if (strstr(q->code, "AlreadyExists"))
			return -EEXIST;
		return -EBUSY;
	case 412:
		return lease ? -EBUSY : -ESTALE;
	case 401:
	case 403:
		return -EACCES;
	case 400:
	case 411:
	case 413:
	case 416:
		return -EINVAL;
	}
	return -EIO;
}

/* Sleep @ms milliseconds, whatever signals arrive. */
static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int run(struct azb_client *c, struct req *q, struct azb_err *err)
{
	uint64_t start = now_ms(), deadline = start + c->timeout_ms, t0, t1;
	unsigned int backoff = BACKOFF_FIRST_MS, wait;
	long connects;
	int rc, r;

	for (;;) {
		req_reset_answer(q);
		t0 = now_ms();
		connects = 0;
		rc = attempt(c, q, deadline > t0 ? deadline - t0 : 1,
			     &connects);
		t1 = now_ms();

		pthread_mutex_lock(&c->stats_lock);
		c->st.requests++;
		c->st.connects += connects > 0 ? connects : 0;
		c->st.latency_us_total += (t1 - t0) * 1000;
		if ((t1 - t0) * 1000 > c->st.latency_us_max)
			c->st.latency_us_max = (t1 - t0) * 1000;
		if (rc == CURLE_OK) {
			c->st.bytes_out += q->body_len;
			c->st.bytes_in += q->got + q->body_buf_len;
		}
		pthread_mutex_unlock(&c->stats_lock);

		if (rc < 0) {
			r = rc;
			break;
		}
		if (!(rc != CURLE_OK ? transient_curl(rc) :
		      transient_status(q->status))) {
			if (rc != CURLE_OK) {
				r = -EIO;
				break;
			}
			r = map_status(q);
			break;
		}
		/* transient: back off, with jitter, while time is left */
		t1 = now_ms();
		if (t1 >= deadline) {
			r = -EIO;
			break;
		}
		wait = backoff / 2 + randombytes_uniform(backoff / 2 + 1);
		if (wait > deadline - t1)
			wait = deadline - t1;
		sleep_ms(wait);
		if (backoff < BACKOFF_MAX_MS)
			backoff *= 2;
		pthread_mutex_lock(&c->stats_lock);
		c->st.retries++;
		pthread_mutex_unlock(&c->stats_lock);
	}
	if (r < 0) {
		pthread_mutex_lock(&c->stats_lock);
		c->st.failures++;
		pthread_mutex_unlock(&c->stats_lock);
	}
	if (err) {
		err->http = rc == CURLE_OK ? q->status : 0;
		if (rc > 0)
			snprintf(err->code, sizeof(err->code), "%s",
				 curl_easy_strerror(rc));
		else
			snprintf(err->code, sizeof(err->code), "%s", q->code);
	}
	return r;
}

static void req_free(struct req *q)
{
	free(q->body_buf);
	q->body_buf = NULL;
}

#define REQ(v, n) { .verb = (v), .name = (n) }

static int check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= AZB_NAME_MAX || name[0] == '/' ||
	    strstr(name, "//"))
		return -EINVAL;
	return 0;
}

static void add_cond(struct req *q, const struct azb_cond *cond, char *buf,
		     size_t size)
{
	if (!cond)
		return;
	if (cond->if_match && cond->if_match[0])
		q->if_match = cond->if_match;
	if (cond->lease_id && cond->lease_id[0]) {
		snprintf(buf, size, "x-ms-lease-id:%s", cond->lease_id);
		q->hdr[q->nhdr++] = buf;
	}
}

/* "x-ms-range:bytes=FIRST-LAST" for @len (> 0) bytes at @off. */
static void range_hdr(char *buf, size_t size, uint64_t off, uint64_t len)
{
	snprintf(buf, size, "x-ms-range:bytes=%llu-%llu",
		 (unsigned long long)off, (unsigned long long)(off + len - 1));
}

static void copy_out(char *dst, size_t size, const char *src)
{
	if (dst)
		snprintf(dst, size, "%s", src);
}

int azb_container_create(struct azb_client *c, struct azb_err *err)
{
	struct req q = REQ("PUT", NULL);
	int r;

	q.query[q.nquery++] = "restype=container";
	r = run(c, &q, err);
	req_free(&q);
	return r;
}

int azb_create(struct azb_client *c, const char *name, uint64_t size,
	       int if_none_match, char etag[AZB_ETAG_MAX],
	       struct azb_err *err)
{
	struct req q = REQ("PUT", name);
	char len[64];
	int r;

	if (check_name(name) < 0 || size % AZB_PAGE)
		return -EINVAL;
	snprintf(len, sizeof(len), "x-ms-blob-content-length:%llu",
		 (unsigned long long)size);
	q.hdr[q.nhdr++] = "x-ms-blob-type:PageBlob";
	q.hdr[q.nhdr++] = len;
	if (if_none_match)
		q.if_none_match = "*";
	r = run(c, &q, err);
	if (r == -ESTALE && if_none_match)
		r = -EEXIST;
	if (r == 0)
		copy_out(etag, AZB_ETAG_MAX, q.etag);
	req_free(&q);
	return r;
}

static int page_write(struct azb_client *c, const char *name, uint64_t off,
		      const void *buf, uint64_t len,
		      const struct azb_cond *cond, char etag[AZB_ETAG_MAX],
		      struct azb_err *err)
{
	struct req q = REQ("PUT", name);
	char range[80], lease[80];
	int r;

	if (check_name(name) < 0 || off % AZB_PAGE || len % AZB_PAGE ||
	    len == 0 || off + len < off || (buf && len > AZB_PUT_PAGE_MAX))
		return -EINVAL;
	range_hdr(range, sizeof(range), off, len);
	q.query[q.nquery++] = "comp=page";
	q.hdr[q.nhdr++] = range;
	q.hdr[q.nhdr++] = buf ? "x-ms-page-write:update" :
		"x-ms-page-write:clear";
	add_cond(&q, cond, lease, sizeof(lease));
	if (buf) {
		q.body = buf;
		q.body_len = len;
	}
	r = run(c, &q, err);
	if (r == 0)
		copy_out(etag, AZB_ETAG_MAX, q.etag);
	req_free(&q);
	return r;
}

int azb_put_pages(struct azb_client *c, const char *name, uint64_t off,
		  const void *buf, size_t len, const struct azb_cond *cond,
		  char etag[AZB_ETAG_MAX], struct azb_err *err)
{
	if (!buf)
		return -EINVAL;
	return page_write(c, name, off, buf, len, cond, etag, err);
}

int azb_clear_pages(struct azb_client *c, const char *name, uint64_t off,
		    uint64_t len, const struct azb_cond *cond,
		    char etag[AZB_ETAG_MAX], struct azb_err *err)
{
	return page_write(c, name, off, NULL, len, cond, etag, err);
}

int azb_read(struct azb_client *c, const char *name, const char *snapshot,
	     uint64_t off, void *buf, size_t len, struct azb_err *err)
{
	struct req q = REQ("GET", name);
	char range[80], snap[AZB_SNAPSHOT_MAX + 16];
	int r;

	if (check_name(name) < 0 || len == 0 || off + len < off)
		return -EINVAL;
	range_hdr(range, sizeof(range), off, len);
	q.hdr[q.nhdr++] = range;
	if (snapshot) {
		snprintf(snap, sizeof(snap), "snapshot=%s", snapshot);
		q.query[q.nquery++] = snap;
	}
	q.out = buf;
	q.out_len = len;
	r = run(c, &q, err);
	if (r == 0 && q.got != len)
		r = -EIO;
	req_free(&q);
	return r;
}

/* Append @m ranges of @add to *@v (*@n of them, *@cap room), in order. */
static int ranges_append(struct azb_range **v, size_t *n, size_t *cap,
			 const struct azb_range *add, size_t m)
{
	struct azb_range *nv;
	size_t want;

	if (m && *n && add[0].start <= (*v)[*n - 1].end)
		return -EIO;		/* pages out of order */
	if (*n + m > *cap) {
		want = (*n + m) * 2;
		nv = realloc(*v, want * sizeof(**v));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = want;
	}
	memcpy(*v + *n, add, m * sizeof(*add));
	*n += m;
	return 0;
}

int azb_page_ranges(struct azb_client *c, const char *name, uint64_t off,
		    uint64_t len, struct azb_range **out, size_t *n,
		    struct azb_err *err)
{
	struct azb_range *all = NULL, *v;
	size_t cnt = 0, cap = 0, m;
	char range[80], marker[1024] = "", *mq = NULL;
	int r;

	if (check_name(name) < 0 || off + len < off)
		return -EINVAL;
	if (len)
		range_hdr(range, sizeof(range), off, len);
	/* the service pages a long list: follow NextMarker */
	do {
		struct req q = REQ("GET", name);

		q.query[q.nquery++] = "comp=pagelist";
		if (marker[0]) {
			free(mq);
			if (asprintf(&mq, "marker=%s", marker) < 0) {
				mq = NULL;
				r = -ENOMEM;
				break;
			}
			q.query[q.nquery++] = mq;
		}
		if (len)
			q.hdr[q.nhdr++] = range;
		r = run(c, &q, err);
		if (r == 0)
			r = q.body_buf ?
				azb_parse_page_ranges_next(q.body_buf,
					q.body_buf_len, &v, &m, marker,
					sizeof(marker)) : -EIO;
		req_free(&q);
		if (r == 0) {
			r = ranges_append(&all, &cnt, &cap, v, m);
			free(v);
		}
	} while (r == 0 && marker[0]);
	free(mq);
	if (r < 0) {
		free(all);
		return r;
	}
	*out = all;
	*n = cnt;
	return 0;
}

int azb_resize(struct azb_client *c, const char *name, uint64_t size,
	       const struct azb_cond *cond, struct azb_err *err)
{
	struct req q = REQ("PUT", name);
	char len[64], lease[80];
	int r;

	if (check_name(name) < 0 || size % AZB_PAGE)
		return -EINVAL;
	snprintf(len, sizeof(len), "x-ms-blob-content-length:%llu",
		 (unsigned long long)size);
	q.query[q.nquery++] = "comp=properties";
	q.hdr[q.nhdr++] = len;
	add_cond(&q, cond, lease, sizeof(lease));
	r = run(c, &q, err);
	req_free(&q);
	return r;
}

/* An RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT"); 0 if it is not. */
static int64_t http_date(const char *s)
{
	struct tm tm;
	const char *e;

	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!e || *e)
		return 0;
	return (int64_t)timegm(&tm);
}

int azb_props(struct azb_client *c, const char *name, struct azb_props *p,
	      struct azb_err *err)
{
	struct req q = REQ("HEAD", name);
	int r;

	if (check_name(name) < 0)
		return -EINVAL;
	r = run(c, &q, err);
	if (r == 0) {
		memset(p, 0, sizeof(*p));
		p->length = q.length;
		copy_out(p->etag, sizeof(p->etag), q.etag);
		p->page_blob = !strcmp(q.blob_type, "PageBlob");
		p->lease = azb_lease_state_parse(q.lease_state,
						 strlen(q.lease_state));
		copy_out(p->copy_status, sizeof(p->copy_status),
			 q.copy_status);
		p->last_modified = http_date(q.last_modified);
	}
	req_free(&q);
	return r;
}

int azb_delete(struct azb_client *c, const char *name,
	       const struct azb_cond *cond, struct azb_err *err)
{
	struct req q = REQ("DELETE", name);
	char lease[80];
	int r;

	if (check_name(name) < 0)
		return -EINVAL;
	q.hdr[q.nhdr++] = "x-ms-delete-snapshots:include";
	add_cond(&q, cond, lease, sizeof(lease));
	r = run(c, &q, err);
	req_free(&q);
	return r;
}

static int lease_op(struct azb_client *c, const char *name,
		    const char *action, const char *h1, const char *h2,
		    char id_out[AZB_LEASE_ID_MAX], struct azb_err *err)
{
	struct req q = REQ("PUT", name);
	char act[48];
	int r;

	if (check_name(name) < 0)
		return -EINVAL;
	snprintf(act, sizeof(act), "x-ms-lease-action:%s", action);
	q.query[q.nquery++] = "comp=lease";
	q.hdr[q.nhdr++] = act;
	if (h1)
		q.hdr[q.nhdr++] = h1;
	if (h2)
		q.hdr[q.nhdr++] = h2;
	r = run(c, &q, err);
	if (r == 0)
		copy_out(id_out, AZB_LEASE_ID_MAX, q.lease_id);
	req_free(&q);
	return r;
}

int azb_lease_acquire(struct azb_client *c, const char *name, int seconds,
		      const char *proposed, char id_out[AZB_LEASE_ID_MAX],
		      struct azb_err *err)
{
	char dur[48], prop[96];

	if (seconds != -1 && (seconds < 15 || seconds > 60))
		return -EINVAL;
	snprintf(dur, sizeof(dur), "x-ms-lease-duration:%d", seconds);
	if (proposed)
		snprintf(prop, sizeof(prop), "x-ms-proposed-lease-id:%s",
			 proposed);
	return lease_op(c, name, "acquire", dur, proposed ? prop : NULL,
			id_out, err);
}

static int lease_with_id(struct azb_client *c, const char *name,
			 const char *action, const char *id,
			 struct azb_err *err)
{
	char h[96];

	if (!id || !id[0])
		return -EINVAL;
	snprintf(h, sizeof(h), "x-ms-lease-id:%s", id);
	return lease_op(c, name, action, h, NULL, NULL, err);
}

int azb_lease_renew(struct azb_client *c, const char *name, const char *id,
		    struct azb_err *err)
{
	return lease_with_id(c, name, "renew", id, err);
}

int azb_lease_release(struct azb_client *c, const char *name,
		      const char *id, struct azb_err *err)
{
	return lease_with_id(c, name, "release", id, err);
}

int azb_lease_break(struct azb_client *c, const char *name, int period,
		    struct azb_err *err)
{
	char h[48];

	if (period < 0 || period > 60)
		return -EINVAL;
	snprintf(h, sizeof(h), "x-ms-lease-break-period:%d", period);
	return lease_op(c, name, "break", h, NULL, NULL, err);
}

int azb_snapshot(struct azb_client *c, const char *name,
		 char snap[AZB_SNAPSHOT_MAX], struct azb_err *err)
{
	struct req q = REQ("PUT", name);
	int r;

	if (check_name(name) < 0)
		return -EINVAL;
	q.query[q.nquery++] = "comp=snapshot";
	r = run(c, &q, err);
	if (r == 0 && !q.snapshot[0])
		r = -EIO;
	if (r == 0)
		copy_out(snap, AZB_SNAPSHOT_MAX, q.snapshot);
	req_free(&q);
	return r;
}

int azb_copy(struct azb_client *c, const char *src, const char *src_snapshot,
	     const char *dst, struct azb_err *err)
{
	struct req q = REQ("PUT", dst);
	char *path = NULL, *hdr = NULL, *snap = NULL;
	uint64_t deadline = now_ms() + c->timeout_ms;
	struct azb_props p;
	int r;

	if (check_name(src) < 0 || check_name(dst) < 0)
		return -EINVAL;
	path = req_path(c, src);
	if (src_snapshot)
		snap = encode(src_snapshot, 0);
	if (!path || (src_snapshot && !snap) ||
	    asprintf(&hdr, "x-ms-copy-source:%s%s%s%s%s%s",
		     c->base, path, snap ? "?snapshot=" : "",
		     snap ? snap : "",
		     c->creds.kind == AZB_CRED_SAS ? (snap ? "&" : "?") : "",
		     c->creds.kind == AZB_CRED_SAS ?
		     (const char *)secbuf_data(c->creds.sas) : "") < 0) {
		hdr = NULL;
		r = -ENOMEM;
		goto out;
	}
	q.hdr[q.nhdr++] = hdr;
	r = run(c, &q, err);
	while (r == 0 && strcmp(q.copy_status, "success")) {
		if (strcmp(q.copy_status, "pending")) {
			r = -EIO;	/* failed, aborted */
			break;
		}
		if (now_ms() >= deadline) {
			r = -EIO;
			break;
		}
		sleep_ms(100);
		r = azb_props(c, dst, &p, err);
		if (r == 0)
			snprintf(q.copy_status, sizeof(q.copy_status), "%s",
				 p.copy_status);
	}
out:
	if (hdr) {
		sodium_memzero(hdr, strlen(hdr));
		free(hdr);
	}
	free(snap);
	free(path);
	req_free(&q);
	return r;
}

int azb_list(struct azb_client *c, const char *prefix,
	     int (*fn)(const struct azb_blob_info *b, void *arg), void *arg,
	     struct azb_err *err)
{
	char *full = NULL, *pq = NULL, *mq = NULL, marker[1024] = "";
	int r;

	if (asprintf(&full, "%s%s%s", c->url.prefix,
		     c->url.prefix[0] ? "/" : "", prefix ? prefix : "") < 0)
		return -ENOMEM;
	if (asprintf(&pq, "prefix=%s", full) < 0) {
		pq = NULL;
		r = -ENOMEM;
		goto out;
	}
	do {
		struct req q = REQ("GET", NULL);
		size_t plen = strlen(c->url.prefix);

		q.query[q.nquery++] = "restype=container";
		q.query[q.nquery++] = "comp=list";
		if (full[0])
			q.query[q.nquery++] = pq;
		if (marker[0]) {
			free(mq);
			if (asprintf(&mq, "marker=%s", marker) < 0) {
				mq = NULL;
				r = -ENOMEM;
				goto out;
			}
			q.query[q.nquery++] = mq;
		}
		r = run(c, &q, err);
		if (r == 0) {
			char pfx[AZB_NAME_MAX + 1];

			snprintf(pfx, sizeof(pfx), "%s%s", c->url.prefix,
				 plen ? "/" : "");
			r = q.body_buf ?
				azb_parse_blob_list(q.body_buf, q.body_buf_len,
						    pfx, fn, arg, marker,
						    sizeof(marker)) : -EIO;
		}
		req_free(&q);
	} while (r == 0 && marker[0]);
out:
	free(full);
	free(pq);
	free(mq);
	return r;
}
