/*
 * vault_priv.h - the vault's insides, shared by keyvault/vault*.c only
 */
#ifndef SSEFS_KEYVAULT_VAULT_PRIV_H
#define SSEFS_KEYVAULT_VAULT_PRIV_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <openssl/types.h>

#include "keyvault/hsm.h"
#include "keyvault/vault.h"
#include "keyvault/vault_audit.h"

struct env_layer;
struct kid;
struct secbuf;

#define VAULT_VERIFIER_BYTES	(24 + 32 + 16)	/* nonce, zeros, tag */
#define VERIFIER_AD		"ssefs vault verifier v1"

struct vault {
	char dir[PATH_MAX];
	char name[VAULT_NAME_MAX + 1];
	/* the file the failing step of vault_open() or vault_init() is
	 * about, for its struct vault_err; written before the handle is
	 * shared, or under mu */
	char last_path[PATH_MAX];
	int lockfd;
	/* flock() does not exclude threads sharing lockfd: the daemon's
	 * threads share one struct vault, so they take this first. */
	pthread_mutex_t mu;
	struct secbuf *master;
	/* metadata, re-read under the lock by every call */
	unsigned long long generation;
	int kdf;			/* 0 key file, 1 argon2id */
	char keyfile[PATH_MAX];		/* recorded at init; "" = DIR.key */
	unsigned long long opslimit, memlimit;
	uint8_t salt[16];
	uint8_t verifier[VAULT_VERIFIER_BYTES];
	int purge_protection, retention_days;
	struct vault_audit_head audit;	/* the metadata's checkpoint */
	struct vault_version *platform;
	size_t nplatform;
	struct vault_key *keys;
	size_t nkeys;
	struct vault_disk *disks;
	size_t ndisks;
	char *extra;			/* lines of later sections, kept */
	/* the PKCS#11 token (keyvault/hsm.h), from the metadata */
	char hsm_module[PATH_MAX];
	char hsm_token[33];
	char hsm_pin_file[PATH_MAX];
	char hsm_pin_override[PATH_MAX];	/* SSEFS_HSM_PIN_FILE */
	/* the session, opened at first use; hsm_mu is taken after the
	 * vault lock, never before it */
	pthread_mutex_t hsm_mu;
	struct hsm *hsm;
	/* the bytes the state above was parsed from, reused while equal */
	char *meta_raw;
	size_t meta_len;
	int meta_clean;
	/* The lock is taken per call:  vault_begin() = vault_lock() +
	 * re-read, and vault_end(). */
};

/* ---- vault_meta.c: the metadata and the lock ---- */

/* "DIR/" + @fmt.  Return: 0 or -ENAMETOOLONG. */
int vault_path(const struct vault *v, char *buf, size_t len, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5)));
/* Note @path as the file a failing open or init is about (last_path). */
int vault_set_last(struct vault *v, const char *path);
/* A call that takes a struct vault_err starts: clear @e (NULL: no-op). */
void vault_err_clear(struct vault_err *e);
/* The same call ends: @e->code = @err.  Return: @err. */
int vault_err_ret(struct vault_err *e, int err);
/* Say why in @e (NULL: no-op). */
void vault_err_why(struct vault_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A fresh random version id, 32 lowercase hex. */
void vault_new_version_id(char out[KEY_VERSION_HEX + 1]);
/* Free the parsed metadata (keys, platform versions, disks, extra). */
void vault_meta_free(struct vault *v);
struct vault_key *vault_find_key(struct vault *v, const char *name);
struct vault_version *vault_find_version(struct vault_key *k,
					 const char *ver);
/* Room for element @n of an array of @n: realloc'd @p, or NULL. */
void *vault_grow(void *p, size_t n, size_t size);
/* Write the metadata (generation + 1).  The exclusive lock is held. */
int vault_save_meta(struct vault *v);
/* Take the lock (LOCK_SH or LOCK_EX): v->mu, then flock(2). */
int vault_lock(struct vault *v, int how);
/* vault_lock() and re-read the metadata; vault_end() releases both. */
int vault_begin(struct vault *v, int how);
void vault_end(struct vault *v);
/* End an exclusive section: audit @op, write the metadata, unlock. */
int vault_commit(struct vault *v, const char *op, const char *kid);
/* End an exclusive section that changes nothing: re-read, audit the
 * failure @res, unlock.  Return: @res. */
int vault_refuse(struct vault *v, const char *op, const char *kid, int res);

/* ---- vault_seal.c: sealed files and the master key ---- */

/* -EPERM (named in last_path) when group or others may access @path. */
int vault_check_mode(struct vault *v, const char *path);
/* Seal @m under the master key with @ad; *@out is malloc'd. */
int vault_seal(const struct vault *v, const char *ad, const uint8_t *m,
	       size_t mlen, uint8_t **out, size_t *outlen);
/* Write or read the sealed file of version @k.  Read: -ENOKEY when there
 * is none, -EBADMSG when it does not open, -EIO. */
int vault_write_sealed(struct vault *v, const struct kid *k,
		       const uint8_t *m, size_t mlen);
int vault_read_sealed(struct vault *v, const struct kid *k,
		      struct secbuf **out);
/* Load the master key from @u's key file or passphrase (@create: make the
 * key file when there is none). */
int vault_master_key(struct vault *v, const struct vault_unlock *u,
		     int create);
/* -EACCES when the master key does not open the verifier. */
int vault_check_verifier(struct vault *v);

/* ---- vault_keys.c ---- */

/* Make and seal a new platform key version; its kid to @k (not yet in
 * the metadata). */
int vault_platform_key_new(struct vault *v, struct kid *k);
/* The state of a parsed kid at @now (0: now); the lock is held. */
enum key_state vault_kid_state(struct vault *v, const struct kid *pk,
			       time_t now);

/* ---- vault_token.c: keys in the PKCS#11 token ---- */

/* 1 when the unsealed @b is an hsm key's blob, not a private key. */
int vault_is_hsm_blob(const struct secbuf *b);
/* The public key in hsm blob @b, or NULL. */
EVP_PKEY *vault_blob_public(const struct secbuf *b);
/* The token functions below put why they failed in @e ("token LABEL:
 * WHY"; NULL: nowhere). */
/* The token session, opened at first use.  @locked: the caller holds the
 * vault lock.  Return: 0, -ENODEV (none configured), the token's errors. */
int vault_token_get(struct vault *v, int locked, struct hsm **out,
		    struct vault_err *e);
/* Generate the key pair of version @kidstr in the token: its object id to
 * @id, the blob to seal to *@blob. */
int vault_token_generate(struct vault *v, int bits, const char *kidstr,
			 uint8_t id[HSM_ID_BYTES], struct secbuf **blob,
			 struct vault_err *e);
/* Unwrap @in in the token with the key of @blob into @m (*@n bytes). */
int vault_token_unwrap(struct vault *v, const struct secbuf *blob,
		       const struct env_layer *in, struct secbuf *m,
		       size_t *n, struct vault_err *e);
/* Destroy the token objects of every version of hsm key @k; the lock is
 * held. */
int vault_token_destroy_keys(struct vault *v, const struct vault_key *k,
			     struct vault_err *e);

/* ---- vault_audit.c, vault_backup.c, vault_sweep.c ---- */

/* @v's audit log, for vault_audit.h; valid while @v is. */
static inline struct vault_log vault_log_of(struct vault *v)
{
	return (struct vault_log){ v->dir, v->master, &v->audit };
}
/* Append one chained record; updates v->audit in memory (the caller
 * writes the metadata).  The lock is held. */
static inline int vault_audit_append(struct vault *v, const char *op,
				     const char *kid, int result)
{
	struct vault_log l = vault_log_of(v);

	return vault_log_append(&l, op, kid, result);
}
/* The same, but as vault_log_write() with @headfd. */
static inline int vault_audit_write(struct vault *v, const char *op,
				    const char *kid, int result, int *headfd)
{
	struct vault_log l = vault_log_of(v);

	return vault_log_write(&l, op, kid, result, headfd);
}
/* Remove @dir and all below it (vault_backup.c).  Return: 0 or -errno. */
int vault_remove_tree(const char *dir);
/* At open: remove what a killed command left (temporary files) and move
 * version files the metadata does not list to DIR/orphans/, audited; only
 * when the exclusive lock is free at once (keyvault/vault_sweep.c). */
void vault_sweep(struct vault *v);

#endif /* SSEFS_KEYVAULT_VAULT_PRIV_H */
