/*
 * azauth.h - Azure Blob Storage addressing and authorisation, pure parts
 *
 * Container URLs (account-style and path-style), connection strings, the
 * credential search order of SPEC ("Stores beyond one host"), and the
 * SharedKey string-to-sign and signature.  No network I/O here: the REST
 * client (store/azblob.c) builds on it and the unit tests reach it alone.
 */
#ifndef SSEFS_STORE_AZAUTH_H
#define SSEFS_STORE_AZAUTH_H

#include <stddef.h>
#include <stdint.h>

struct secbuf;

#define AZB_NAME_MAX	1024	/* a blob name, in characters (Azure's limit) */

/*
 * A parsed container URL:
 *   https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]
 *   http(s)://HOST[:PORT]/ACCOUNT/CONTAINER[/PREFIX]   (path-style)
 * @endpoint is scheme://host[:port] for account-style and
 * scheme://host[:port]/ACCOUNT for path-style: the connection string's
 * BlobEndpoint.  @prefix has no leading or trailing slash ("" for none).
 */
struct azb_url {
	char scheme[8];			/* "http" or "https" */
	char host[256];
	unsigned int port;		/* 0: the scheme's default */
	int path_style;
	int loopback;			/* host is 127.0.0.0/8, ::1, localhost */
	char account[64];
	char container[64];
	char prefix[AZB_NAME_MAX];
	char endpoint[384];
};

/*
 * azb_url_parse() - split @url into @u.  Account and container names are
 * checked against Azure's rules (account 3-24 lower-case letters and
 * digits; container 3-63 lower-case letters, digits and single hyphens).
 * Return: 0, -EINVAL (not such a URL: no query, fragment, user info).
 */
int azb_url_parse(struct azb_url *u, const char *url)
	__attribute__((warn_unused_result));

/*
 * Credentials found for one URL: a SharedKey (account + decoded key) or a
 * SAS token (its query, without a leading '?').  Both live in secbufs.
 */
enum azb_cred_kind { AZB_CRED_NONE, AZB_CRED_SHAREDKEY, AZB_CRED_SAS };

struct azb_creds {
	enum azb_cred_kind kind;
	char account[64];
	struct secbuf *key;		/* SHAREDKEY: the decoded account key */
	struct secbuf *sas;		/* SAS: NUL-terminated query */
	char source[64];		/* where they came from, for messages */
};

/*
 * azb_connstr_parse() - read a connection string of @len bytes
 * (Key=Value;... as the portal prints it) for the blob service at @u:
 * AccountName + AccountKey, or SharedAccessSignature.  Its BlobEndpoint,
 * or the one DefaultEndpointsProtocol/AccountName/EndpointSuffix imply,
 * must be @u's endpoint.  Return: 0, -EINVAL (malformed, no credential,
 * bad base64 key), -EXDEV (the endpoint or account is not @u's), -ENOMEM.
 */
int azb_connstr_parse(struct azb_creds *c, const struct azb_url *u,
		      const char *s, size_t len)
	__attribute__((warn_unused_result));

/*
 * azb_creds_load() - the first credentials found, in SPEC's order:
 * AZURE_STORAGE_SAS_TOKEN; AZURE_STORAGE_CONNECTION_STRING;
 * AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY; the connection string in
 * @file (when not NULL; the file must be a regular file of mode 0600 or
 * stricter, owned by the caller or root).  Return: 0, -ENOKEY (none found), -EPERM (the file's mode),
 * -EXDEV (they name another account or endpoint), -EINVAL, -ENOENT,
 * -ENOMEM.  @c->source names where the search stopped, also on failure.
 */
int azb_creds_load(struct azb_creds *c, const struct azb_url *u,
		   const char *file)
	__attribute__((warn_unused_result));

/* Wipe and free what @c holds; a zeroed @c is a no-op. */
void azb_creds_release(struct azb_creds *c);

/*
 * Wipe and unset the AZURE_STORAGE_* credentials of this process's
 * environment, once a long-lived process holds what it needs: they would
 * show in /proc/PID/environ and pass to every child (notify=).
 */
void azb_creds_scrub_env(void);

/*
 * One request as SharedKey sees it.  @headers are the x-ms-* headers as
 * "name:value" strings (any case, any order); @query the query parameters
 * as "name=value" strings, values not percent-encoded; @path the URI path
 * as sent (percent-encoded), starting with '/'.
 */
struct azb_sign_req {
	const char *verb;
	uint64_t content_length;	/* 0 signs as the empty string */
	const char *content_type;	/* NULL: none */
	const char *if_match;		/* NULL: none */
	const char *if_none_match;	/* NULL: none */
	const char *range;		/* the Range header; NULL: none */
	const char *const *headers;
	size_t nheaders;
	const char *path;
	const char *const *query;
	size_t nquery;
};

/*
 * azb_string_to_sign() - the SharedKey string-to-sign (service version
 * 2015-02-21 and later) for @r against @account, in a malloc'd string.
 * Return: 0, -ENOMEM, -EINVAL (a header without ':', a query without '=').
 */
int azb_string_to_sign(char **out, const char *account,
		       const struct azb_sign_req *r)
	__attribute__((warn_unused_result));

#define AZB_SIG_B64	45	/* base64 of HMAC-SHA256, with its NUL */

/*
 * azb_sign() - base64(HMAC-SHA256(@key, @sts)) into @sig.
 * Return: 0 or -EIO (OpenSSL).
 */
int azb_sign(char sig[AZB_SIG_B64], const struct secbuf *key,
	     const char *sts) __attribute__((warn_unused_result));

#endif /* SSEFS_STORE_AZAUTH_H */
