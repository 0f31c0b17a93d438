/*
 * kid.h - key identifiers: vault://VAULT/keys/NAME/VERSION and
 * vault://VAULT/platform/VERSION
 *
 * VAULT is [a-z0-9-]{1,24}, NAME [A-Za-z0-9-]{1,127}, VERSION 32 lowercase
 * hex digits.  Pure string functions: no vault is opened.
 */
#ifndef SSEFS_KEYVAULT_KID_H
#define SSEFS_KEYVAULT_KID_H

#include <stddef.h>

#define KID_VAULT_MAX	24
#define KID_NAME_MAX	127
#define KID_VERSION_LEN	32

struct kid {
	int platform;			/* 1: the platform key */
	char vault[KID_VAULT_MAX + 1];
	char name[KID_NAME_MAX + 1];	/* "" for the platform key */
	char version[KID_VERSION_LEN + 1];
};

/* Parse a full versioned kid.  Return: 0 or -EINVAL. */
int kid_parse(const char *s, struct kid *k) __attribute__((warn_unused_result));
/* Format @k.  Return: 0 or -ENAMETOOLONG. */
int kid_format(const struct kid *k, char *buf, size_t len);

int kid_valid_vault_name(const char *s);	/* 1 or 0 */
int kid_valid_key_name(const char *s);
int kid_valid_version(const char *s);

/*
 * Split a key reference "NAME" or "NAME/VERSION" (as the command line
 * takes it) into @name and @version ("" when absent).  Return: 0 or -EINVAL.
 */
int kid_split_ref(const char *ref, char name[KID_NAME_MAX + 1],
		  char version[KID_VERSION_LEN + 1]);

/*
 * Why is @ref, a key reference (NAME, NAME/VERSION or a full kid), not
 * one?  Writes which part is wrong into @why ("VERSION \"xyz\" has 3
 * characters; a version is 32 lowercase hex digits").
 * Return: 0 when @ref is well-formed (@why is ""), else -EINVAL.
 */
int kid_ref_why(const char *ref, char *why, size_t len);

#endif /* SSEFS_KEYVAULT_KID_H */
