/*
 * vault_audit.h - the chained audit log, as the vault's other parts use it
 *
 * vault_audit.c sees of a vault only what struct vault_log gives it: the
 * directory its log lives in, the master key its MAC key comes from, and
 * the head the next record chains on.  It takes no lock and knows nothing
 * of struct vault: its callers, the vault's other parts, hold the vault's
 * lock.  So the dependency runs one way, from the vault to its log.
 */
#ifndef SSEFS_KEYVAULT_VAULT_AUDIT_H
#define SSEFS_KEYVAULT_VAULT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct secbuf;

/* The newest record: how many there are, and its mac. */
struct vault_audit_head {
	unsigned long long count;
	uint8_t mac[32];
};

struct vault_log {
	const char *dir;		/* the vault's directory */
	const struct secbuf *master;	/* its master key */
	struct vault_audit_head *head;	/* moved on by every record */
};

/*
 * Append one record to the log: the head is found, the record chained on
 * it, written with one write(2) and made durable, then *@l->head and
 * DIR/audit.head are moved on.  *@headfd (-1 if none) is audit.head, for
 * the caller to hand to vault_log_sync_head() outside the vault's lock;
 * with @headfd NULL the record is written but not synced (a batch, ended
 * by vault_log_append()).  Return: 0 or -errno.
 */
int vault_log_write(const struct vault_log *l, const char *op,
		    const char *kid, int result, int *headfd);
/* Sync and close @fd from vault_log_write() (-1: nothing).  Return: 0 or
 * -errno. */
int vault_log_sync_head(int fd);
/* vault_log_write() and vault_log_sync_head() in one. */
int vault_log_append(const struct vault_log *l, const char *op,
		     const char *kid, int result);
/* The log files, oldest first; *@out is a malloc'd array of malloc'd
 * strings. */
int vault_log_files(const struct vault_log *l, char ***out, size_t *n);
/* Check the chain of every log file against *@l->head (the metadata's
 * checkpoint) and audit.head; as vault_audit_verify(). */
int vault_log_verify(const struct vault_log *l, char *where, size_t len,
		     unsigned long *nlines);

#endif /* SSEFS_KEYVAULT_VAULT_AUDIT_H */
