/*
 * rotation.h - apply automatic rotation and key policies (ssefs rotate, the
 * mount daemon's rotation timer, des update)
 *
 * One pass: (1) keys whose rotation policy is due get a new version, and
 * expiry events are raised (once per version and expiry: the vault keeps
 * the record, vault_key_notice()); (2) each auto-rotating DES moves its active key
 * to its key's newest usable version; (3) every registered disk of a DES
 * that is not on the set's active key, and every platform-key layer (of a
 * registered platform-key disk, or the inner layer of a double-encrypted
 * one) not on the newest platform key version, is re-wrapped, in
 * parallel; (4) a set
 * whose disks are all current forgets its previous keys, and a set with
 * failures records the error.  Idempotent; safe to interrupt anywhere and
 * to run beside a daemon doing the same.
 */
#ifndef SSEFS_SVC_ROTATION_H
#define SSEFS_SVC_ROTATION_H

#include <stddef.h>

struct backing;
struct blob_store;
struct progress;
struct vault;

struct rotation_opts {
	const char *store;	/* only disks below this directory; NULL: all */
	const char *notify;	/* notify command for events, or NULL */
	int threads;		/* parallel re-wraps; 0: a default */
	/* called for each line worth telling a person; may be NULL */
	void (*say)(void *arg, const char *line);
	void *say_arg;
	/* disks re-wrapped so far of those to check; may be NULL */
	struct progress *progress;
	/*
	 * A blob store's mount (may be NULL): if it holds the disk @name
	 * open (its lease), call @fn with the disk's backing, which stays
	 * open until @fn returns, and return @fn's value; else return 1.
	 * The pass re-wraps such a disk through it.
	 */
	int (*with_held)(void *arg, const char *name,
			 int (*fn)(void *fnarg, struct backing *b),
			 void *fnarg);
	void *held_arg;
	/* a blob store's mount: its open store (its credentials and
	 * options); NULL: the pass opens @store with the environment's */
	struct blob_store *blob;
};

struct rotation_result {
	unsigned int keys_rotated;
	unsigned int des_moved;
	unsigned int disks_rewrapped;
	unsigned int disks_current;
	unsigned int disks_failed;
	unsigned int disks_skipped;	/* registered, but the file is gone */
	unsigned int events_failed;
	/* why the store itself could not be read (a container that cannot
	 * be opened or listed), "WHAT: WHY" without "ssefs: "; "" if it
	 * could: the caller's one error line */
	char store_error[512];
};

/* One pass over the vault.  Return: 0 when every step worked, else the
 * first negative errno (the pass still goes as far as it can). */
int rotation_run(struct vault *v, const struct rotation_opts *o,
		 struct rotation_result *res);

/* Re-wrap every registered disk of set @des to its active key now (des
 * update --key); @res counts them.  Return: 0 or the first -errno. */
int rotation_rewrap_des(struct vault *v, const struct rotation_opts *o,
			const char *des, struct rotation_result *res);

#endif /* SSEFS_SVC_ROTATION_H */
