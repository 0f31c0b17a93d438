/*
 * blobback.h - a disk's backing object in an Azure page blob
 *
 * A blob store is one container URL (SPEC "Stores beyond one host") with
 * its credentials and its client (one connection pool); each disk in it is
 * a page blob NAME.vhd whose bytes are exactly the directory-store file's.
 * blob_backing_open() and blob_backing_create() give a struct backing
 * (disk/backing.h) over one blob, which keeps every rule stated there:
 *   - pread is a ranged Get Blob; past the end reads zeros;
 *   - a large pread or pwrite runs up to four requests of 4 MiB at once;
 *   - pwrite is Put Page in requests of 4 MiB at most, acknowledged before
 *     it returns (so sync has nothing to wait for: it reports a write
 *     error since the last sync once, as fdatasync does); a write past the
 *     end grows the blob first, as a file grows;
 *   - punch is Clear Page; ranges is Get Page Ranges (paged);
 *   - hdr_lock holds the blob's lease (acquired for the while if this
 *     backing holds none; EBUSY after a few seconds when another party
 *     holds it) and, until hdr_unlock, makes every write of this backing
 *     conditional on the blob's ETag as well: other threads' writes wait;
 *   - hold_inuse acquires the lease for the life of the backing (-EBUSY
 *     when another party holds it) and a process-wide thread renews it;
 *     inuse is 1 while another party holds the lease;
 *   - fingerprint comes from the ETag, the length and Last-Modified.
 * Every write of a backing that holds the lease carries its id.  A lease
 * that went away while no one else took or broke it (it lapsed during an
 * outage longer than the lease, or the service forgot it) is taken again
 * with the same id when the blob still has an ETag this backing's own
 * last writes left (one notice line), and the write that found it gone is
 * sent again.  A lease lost otherwise (broken by someone, or lapsed and
 * taken, or the blob changed meanwhile) makes every later write -EIO; the
 * store's notice callback gets one line saying so, once.
 *
 * Errors: 0 or a negative errno, and (functions with @msg) one line
 * "ssefs: WHAT: WHY" in @msg for the caller to print; nothing is printed.
 *   -ENOENT no such blob or container   -EEXIST the blob exists (create)
 *   -EBUSY  another party holds the lease   -EACCES 403 (key, SAS)
 *   -EMEDIUMTYPE not a page blob   -EIO the service failed, or past
 *   store_timeout, or the lease was lost   -EBADF a write to a read-only
 *   backing   -ESTALE the ETag moved under hdr_lock (another writer)
 * Thread-safety: a store and its backings may be used from many threads.
 * Leases are renewed by a thread: open backings after any fork (a
 * daemon's), as a child process has no such thread.
 */
#ifndef SSEFS_STORE_BLOBBACK_H
#define SSEFS_STORE_BLOBBACK_H

#include <stddef.h>
#include <stdint.h>

struct backing;
struct blob_store;

#define BLOB_MSG_MAX		512	/* room for one error line */
#define BLOB_LEASE_MIN		15	/* the service's shortest lease */
#define BLOB_LEASE_DEFAULT	60

struct blob_store_opts {
	unsigned int timeout_ms;	/* store_timeout per request; 0: 30 s */
	int allow_http;			/* plain http to a non-loopback host */
	const char *credentials_file;	/* credentials=FILE, or NULL */
	const char *ca_file;		/* https trust anchors, or NULL */
	int lease_seconds;		/* 15..60; 0: 60 (tests shorten it) */
	/* One line about a lost lease; called from any thread; may be NULL. */
	void (*notice)(void *arg, const char *line);
	void *notice_arg;
};

/* 1 when @s is an http:// or https:// URL (a blob store), else 0. */
int blob_is_url(const char *s);

/*
 * blob_url_split() - "CONTAINER-URL/NAME" into the container URL (with its
 * prefix) and the blob name (the last path segment).  The container URL
 * is checked by blob_store_open(), which says what is wrong with it.
 * Return: 0, -EINVAL (not a URL, no name), -ENAMETOOLONG.
 */
int blob_url_split(const char *url, char *store, size_t store_size,
		   char *name, size_t name_size);

/*
 * blob_store_open() - a store for the container URL @url with credentials
 * in SPEC's order (AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING,
 * AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, @o->credentials_file).  Sends
 * nothing.  *@out is set on success only; @o may be NULL.
 * Return: 0, -EINVAL (URL, malformed credentials), -ENOKEY, -EPERM (the
 * credentials file's mode or owner), -EXDEV (credentials of another
 * account or endpoint), -EPROTO (plain http off loopback without
 * allow_http), -ENOMEM, -EIO.
 */
int blob_store_open(struct blob_store **out, const char *url,
		    const struct blob_store_opts *o, char *msg, size_t msglen)
	__attribute__((warn_unused_result));

/* Drop the caller's reference; open backings keep the store alive. */
void blob_store_close(struct blob_store *s);

/* The URL as opened, without a trailing slash. */
const char *blob_store_url(const struct blob_store *s);

struct azb_stats;
/* Requests, retries, failures, bytes and latency so far (ssefs status). */
void blob_store_stats(struct blob_store *s, struct azb_stats *st);

/* One disk found by blob_store_list(). */
struct blob_entry {
	const char *name;		/* NAME.vhd, relative to the prefix */
	uint64_t size;
	int leased;			/* someone holds its lease */
};

/*
 * blob_store_list() - the disks of the store, for a scan: List Blobs
 * under the prefix, following NextMarker, page blobs named *.vhd directly
 * under it (not in deeper virtual folders), in the service's (name) order.
 * @fn stops the walk with a nonzero return, which is returned.
 * Return: 0, @fn's value, -EACCES, -ENOENT (no container), -EIO.
 */
int blob_store_list(struct blob_store *s,
		    int (*fn)(void *arg, const struct blob_entry *e),
		    void *arg, char *msg, size_t msglen);

#define BLOB_RDONLY	(1 << 0)

/*
 * blob_backing_open() - the backing of the existing page blob @name of
 * @s, read-only with BLOB_RDONLY (one HEAD request).  *@out is set on
 * success only; close it with (*out)->ops->close(*out).
 * Return: 0, -ENOENT, -EMEDIUMTYPE, -EACCES, -EIO, -ENOMEM, -EINVAL.
 */
int blob_backing_open(struct backing **out, struct blob_store *s,
		      const char *name, int flags, char *msg, size_t msglen)
	__attribute__((warn_unused_result));

/*
 * blob_backing_create() - a new page blob @name of @size bytes (a multiple
 * of 512), all pages clear, never over an existing blob (If-None-Match),
 * opened read-write.
 * Return: 0, -EEXIST, -EINVAL, -ENOENT (no container), -EACCES, -EIO.
 */
int blob_backing_create(struct backing **out, struct blob_store *s,
			const char *name, uint64_t size, char *msg,
			size_t msglen)
	__attribute__((warn_unused_result));

/* The store of a blob backing (not a new reference); NULL for others. */
struct blob_store *blob_backing_store(struct backing *b);

/*
 * blob_backing_why() - one line "ssefs: URL/NAME: WHY" for the error @r a
 * backing op returned, from the service's last refusal (HTTP status and
 * code; a 403 names the account and container) or the lease's state.
 * Any backing may be given: another kind's line is its name and
 * strerror(@r).
 */
void blob_backing_why(struct backing *b, int r, char *msg, size_t msglen);

/*
 * blob_delete() - delete the page blob @name with its snapshots; a leased
 * blob is not deleted (-EBUSY).
 * Return: 0, -ENOENT, -EBUSY, -EACCES, -EIO.
 */
int blob_delete(struct blob_store *s, const char *name, char *msg,
		size_t msglen);

#endif /* SSEFS_STORE_BLOBBACK_H */
