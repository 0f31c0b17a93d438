/*
 * azblob.h - a small Azure Blob Storage REST client for page blobs
 *
 * One struct azb_client per container URL (SPEC "Stores beyond one host");
 * its libcurl share keeps one pool of keep-alive HTTP/1.1 connections for
 * every thread of the daemon.  Every call is one REST operation, signed
 * afresh each attempt (SharedKey) or carrying the SAS query, and retried
 * on transient failures (connect errors, timeouts, resets, HTTP 408, 429,
 * 500, 503) with exponential backoff and jitter until the per-request
 * deadline (store_timeout, 30 s by default) passes; then -EIO.
 *
 * Return convention: 0 or a negative errno.
 *   -ENOENT   404 (no such blob or container)
 *   -EEXIST   409 BlobAlreadyExists / ContainerAlreadyExists
 *   -EBUSY    409 lease conflicts (LeaseAlreadyPresent, LeaseIdMissing, ...)
 *   -ESTALE   412 ConditionNotMet: the blob's ETag moved (another writer);
 *             412 on a lease (LeaseIdMismatch, LeaseLost) is -EBUSY
 *   -EACCES   403 (wrong key, SAS without the permission, expired SAS)
 *   -EINVAL   400, 416, bad arguments (alignment, sizes, names)
 *   -EIO      transient errors past the deadline, other statuses, bad XML
 * When @err is not NULL it receives the HTTP status and the service's
 * x-ms-error-code (or libcurl's error) for the caller's one line
 * (azb_strerror()); a call refused before anything was sent (bad
 * arguments) leaves it untouched, so initialise it ({ 0 }).
 * Credentials never appear in an error, a log or a counter.
 *
 * Thread-safety: all calls may run concurrently on one client.
 */
#ifndef SSEFS_STORE_AZBLOB_H
#define SSEFS_STORE_AZBLOB_H

#include <stddef.h>
#include <stdint.h>

struct azb_client;

#define AZB_PAGE		512u		/* page blob alignment */
#define AZB_PUT_PAGE_MAX	(4u << 20)	/* one Put Page */
#define AZB_LEASE_SECONDS	60
#define AZB_API_VERSION		"2021-08-06"
#define AZB_ETAG_MAX		80
#define AZB_LEASE_ID_MAX	40
#define AZB_SNAPSHOT_MAX	40

struct azb_opts {
	unsigned int timeout_ms;	/* per request; 0: 30000 */
	int allow_http;			/* plain http to a non-loopback host */
	const char *credentials_file;	/* credentials=FILE, or NULL */
	const char *ca_file;		/* https trust anchors, or NULL */
};

struct azb_err {
	long http;			/* status; 0: no response */
	char code[64];			/* x-ms-error-code, or a curl error */
};

/* Conditions on a write; a NULL or empty field is no condition. */
struct azb_cond {
	const char *if_match;		/* If-Match: the ETag it must have */
	const char *lease_id;		/* x-ms-lease-id */
};

enum azb_lease_state {
	AZB_LEASE_AVAILABLE, AZB_LEASE_LEASED, AZB_LEASE_EXPIRED,
	AZB_LEASE_BREAKING, AZB_LEASE_BROKEN,
};

struct azb_props {
	uint64_t length;		/* x-ms-blob-content-length */
	char etag[AZB_ETAG_MAX];
	int page_blob;			/* x-ms-blob-type: PageBlob */
	enum azb_lease_state lease;
	char copy_status[16];		/* "success", "pending", ... or "" */
	int64_t last_modified;		/* Last-Modified, Unix seconds; 0 */
};

/* One Get Page Ranges entry, bytes [start, end] inclusive. */
struct azb_range {
	uint64_t start, end;
	int clear;			/* a ClearRange (diff only) */
};

/* One List Blobs entry. */
struct azb_blob_info {
	char name[1024];		/* without the client's prefix */
	uint64_t length;
	int page_blob;
	enum azb_lease_state lease;
	char etag[AZB_ETAG_MAX];
};

struct azb_stats {
	uint64_t requests, retries, failures;
	uint64_t connects;		/* new connections (keep-alive misses) */
	uint64_t bytes_in, bytes_out;
	uint64_t latency_us_total, latency_us_max;
};

/*
 * azb_open() - a client for the container at @url (see azauth.h for the
 * URL forms), credentials per SPEC's order (azauth.h azb_creds_load()).
 * Sends nothing.  *@out is set on success only.
 * Return: 0, -EINVAL (URL), -ENOKEY, -EPERM (credentials file mode),
 * -EXDEV (credentials for another account/endpoint), -EPROTO (plain http
 * to a non-loopback host without allow_http), -ENOMEM, -EIO (libcurl).
 * @detail (may be NULL, 128 bytes) names the credential source at fault.
 */
int azb_open(struct azb_client **out, const char *url,
	     const struct azb_opts *opts, char *detail, size_t detail_len)
	__attribute__((warn_unused_result));
/* Close; waits for nothing (no call may be running); NULL is a no-op. */
void azb_close(struct azb_client *c);

const char *azb_account(const struct azb_client *c);
const char *azb_container(const struct azb_client *c);
/* The prefix ("" or "folder/sub"), blob names are relative to it. */
const char *azb_prefix(const struct azb_client *c);
void azb_get_stats(struct azb_client *c, struct azb_stats *st);

/* "HTTP 403 AuthenticationFailed" and the like, into @buf. */
const char *azb_strerror(const struct azb_err *e, char *buf, size_t len);

/* Create Container; -EEXIST when it is there. */
int azb_container_create(struct azb_client *c, struct azb_err *err);

/*
 * Put Blob of a page blob @name of @size bytes (a multiple of 512), all
 * pages clear.  With @if_none_match, -EEXIST rather than overwrite.
 * *@etag (may be NULL) gets the new ETag.
 */
int azb_create(struct azb_client *c, const char *name, uint64_t size,
	       int if_none_match, char etag[AZB_ETAG_MAX],
	       struct azb_err *err);

/* Put Page (update) of @len bytes (512-aligned, <= 4 MiB) at @off. */
int azb_put_pages(struct azb_client *c, const char *name, uint64_t off,
		  const void *buf, size_t len, const struct azb_cond *cond,
		  char etag[AZB_ETAG_MAX], struct azb_err *err);
/* Put Page (clear) of [@off, @off + @len), 512-aligned. */
int azb_clear_pages(struct azb_client *c, const char *name, uint64_t off,
		    uint64_t len, const struct azb_cond *cond,
		    char etag[AZB_ETAG_MAX], struct azb_err *err);

/*
 * Get Blob of bytes [@off, @off + @len) into @buf (x-ms-range); a short
 * answer is -EIO.  @snapshot (may be NULL) reads that snapshot.
 */
int azb_read(struct azb_client *c, const char *name, const char *snapshot,
	     uint64_t off, void *buf, size_t len, struct azb_err *err);

/*
 * Get Page Ranges over [@off, @off + @len) (@len 0: the whole blob),
 * following NextMarker when the service pages the answer: *@out a malloc'd
 * array of *@n valid pages' ranges, sorted, checked.
 */
int azb_page_ranges(struct azb_client *c, const char *name, uint64_t off,
		    uint64_t len, struct azb_range **out, size_t *n,
		    struct azb_err *err);

/* Set Blob Properties: new length @size (a multiple of 512). */
int azb_resize(struct azb_client *c, const char *name, uint64_t size,
	       const struct azb_cond *cond, struct azb_err *err);

/* Get Blob Properties (HEAD). */
int azb_props(struct azb_client *c, const char *name, struct azb_props *p,
	      struct azb_err *err);

/* Delete Blob with its snapshots. */
int azb_delete(struct azb_client *c, const char *name,
	       const struct azb_cond *cond, struct azb_err *err);

/*
 * Leases.  acquire: @seconds 15..60 or -1 (infinite); @id_out (40 bytes)
 * gets the lease id (@proposed, may be NULL, asks for one).  renew and
 * release: the lease @id.  break: @period seconds (0: now).
 */
int azb_lease_acquire(struct azb_client *c, const char *name, int seconds,
		      const char *proposed, char id_out[AZB_LEASE_ID_MAX],
		      struct azb_err *err);
int azb_lease_renew(struct azb_client *c, const char *name, const char *id,
		    struct azb_err *err);
int azb_lease_release(struct azb_client *c, const char *name,
		      const char *id, struct azb_err *err);
int azb_lease_break(struct azb_client *c, const char *name, int period,
		    struct azb_err *err);

/* Snapshot Blob: *@snap gets the snapshot's date-time id. */
int azb_snapshot(struct azb_client *c, const char *name,
		 char snap[AZB_SNAPSHOT_MAX], struct azb_err *err);

/*
 * Copy Blob from @src (in this container; @src_snapshot may be NULL) to
 * @dst, server-side, and wait (bounded by the request deadline) until the
 * copy is no longer pending.  Return -EIO if it failed or was aborted.
 */
int azb_copy(struct azb_client *c, const char *src, const char *src_snapshot,
	     const char *dst, struct azb_err *err);

/*
 * List Blobs under the client's prefix (plus @prefix, may be NULL),
 * following NextMarker; @fn is called once per blob and stops the walk
 * with a non-zero return, which azb_list() returns.
 */
int azb_list(struct azb_client *c, const char *prefix,
	     int (*fn)(const struct azb_blob_info *b, void *arg), void *arg,
	     struct azb_err *err);

/*
 * XML parsers of the service's answers, exposed for the unit tests.
 * They trust no length and no number: -EIO on anything malformed.
 */
int azb_parse_page_ranges(const char *xml, size_t len,
			  struct azb_range **out, size_t *n)
	__attribute__((warn_unused_result));
/* The same, and *@next (@next_size bytes) its NextMarker ("" at end). */
int azb_parse_page_ranges_next(const char *xml, size_t len,
			       struct azb_range **out, size_t *n,
			       char *next, size_t next_size)
	__attribute__((warn_unused_result));
/* Entries to @fn; *@next (@next_size bytes) the NextMarker ("" at end). */
int azb_parse_blob_list(const char *xml, size_t len, const char *prefix,
			int (*fn)(const struct azb_blob_info *b, void *arg),
			void *arg, char *next, size_t next_size)
	__attribute__((warn_unused_result));

#endif /* SSEFS_STORE_AZBLOB_H */
