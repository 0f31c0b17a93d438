/*
 * des.h - disk encryption sets: a key, an encryption type, a rotation rule
 *
 * A DES names a customer key (following its newest version, or pinned to
 * one), the encryption type of its disks, and whether rotation to the
 * newest key version is automatic.  Sets live in DIR/des.yaml inside the
 * vault directory, replaced atomically under DIR/des.lock; they hold no
 * secret.  Functions return 0 or a negative errno and never print.
 */
#ifndef SSEFS_KEYVAULT_DES_H
#define SSEFS_KEYVAULT_DES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DES_NAME_MAX		80	/* [A-Za-z0-9_-] */
#define DES_MAX_PREVIOUS	8
#define DES_KID_MAX		255

struct des {
	char name[DES_NAME_MAX + 1];
	char key[128];			/* key name */
	char version[33];		/* pinned version; "" follows newest */
	char active_kid[DES_KID_MAX + 1];
	/* kids disks may still be wrapped under while a rotation runs */
	char previous[DES_MAX_PREVIOUS][DES_KID_MAX + 1];
	unsigned int nprevious;
	uint32_t type;			/* enum env_type */
	int auto_rotate;
	time_t created;
	time_t last_rotation;		/* 0: never */
	char rotation_error[256];	/* last automatic-rotation error */
};

int des_valid_name(const char *name);	/* 1 or 0 */

/* All sets of the vault at @dir, sorted by name; *@out malloc'd (free()). */
int des_list(const char *dir, struct des **out, size_t *n);
/* Return: 0 or -ENOENT. */
int des_get(const char *dir, const char *name, struct des *out);
/* Add a new set.  Return: 0, -EEXIST, -EINVAL. */
int des_create(const char *dir, const struct des *d);
/* Replace an existing set (matched by name).  Return: 0, -ENOENT. */
int des_replace(const char *dir, const struct des *d);
int des_delete(const char *dir, const char *name);

/*
 * des_modify() - read-modify-write one set under the lock: @fn gets the
 * current record and may change it; it returns 0 to write it back, or a
 * negative errno to abort (returned as is).
 */
int des_modify(const char *dir, const char *name,
	       int (*fn)(struct des *d, void *arg), void *arg);

/* Remember @kid in d->previous (no duplicates; the oldest falls off). */
void des_push_previous(struct des *d, const char *kid);
void des_drop_previous(struct des *d, const char *kid);

/*
 * Make @kid the active key of @d; the one it replaces goes to
 * d->previous (its disks may still be wrapped under it until the set's
 * rotation completes), and @kid leaves d->previous if it was there.
 */
void des_set_active(struct des *d, const char *kid);

#endif /* SSEFS_KEYVAULT_DES_H */
