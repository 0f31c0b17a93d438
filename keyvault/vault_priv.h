/*
 * vault_priv.h - the vault's insides, shared by keyvault/vault*.c only
 */
#ifndef SSEFS_KEYVAULT_VAULT_PRIV_H
#define SSEFS_KEYVAULT_VAULT_PRIV_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "keyvault/vault.h"

struct secbuf;

#define VAULT_VERIFIER_BYTES	(24 + 32 + 16)	/* nonce, zeros, tag */

struct vault {
	char dir[PATH_MAX];
	char name[VAULT_NAME_MAX + 1];
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
	unsigned long long audit_count;
	uint8_t audit_mac[32];
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
	char hsm_why[320];
	/* the bytes the state above was parsed from, reused while equal */
	char *meta_raw;
	size_t meta_len;
	int meta_clean;
	/* The lock is taken per call:  vault_begin() = vault_lock() +
	 * re-read, and vault_end(). */
};

int vault_path(const struct vault *v, char *buf, size_t len, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5)));
int vault_lock(struct vault *v, int how);
int vault_begin(struct vault *v, int how);
void vault_end(struct vault *v);
/* Append one chained record; updates audit_count/audit_mac in memory (the
 * caller writes the metadata).  The lock is held. */
int vault_audit_append(struct vault *v, const char *op, const char *kid,
		       int result);
/* The same, but *@headfd (or -1) is audit.head, written, for the caller
 * to sync and close; with @headfd NULL the record is written but not
 * synced (a batch, ended by vault_audit_append()). */
int vault_audit_write(struct vault *v, const char *op, const char *kid,
		      int result, int *headfd);
int vault_remove_tree(const char *dir);
void vault_last_error_path(struct vault *v);
struct vault_key *vault_find_key(struct vault *v, const char *name);
/* At open: remove what a killed command left (temporary files) and move
 * version files the metadata does not list to DIR/orphans/, audited; only
 * when the exclusive lock is free at once (keyvault/vault_sweep.c). */
void vault_sweep(struct vault *v);

#endif /* SSEFS_KEYVAULT_VAULT_PRIV_H */
