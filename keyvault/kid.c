/*
 * kid.c - parse and format key identifiers
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keyvault/kid.h"

static int all_of(const char *s, size_t min, size_t max, const char *set,
		  int alnum_upper)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (alnum_upper && c >= 'A' && c <= 'Z')
			continue;
		if (strchr(set, c))
			continue;
		return 0;
	}
	return 1;
}

int kid_valid_vault_name(const char *s)
{
	return all_of(s, 1, KID_VAULT_MAX, "-", 0) && s[0] != '-';
}

int kid_valid_key_name(const char *s)
{
	return all_of(s, 1, KID_NAME_MAX, "-", 1) && s[0] != '-';
}

int kid_valid_version(const char *s)
{
	size_t n = strlen(s);

	if (n != KID_VERSION_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Copy the part of @s up to '/' (or the end) into @out; advance @s. */
static int take_part(const char **s, char *out, size_t outlen)
{
	const char *slash = strchr(*s, '/');
	size_t n = slash ? (size_t)(slash - *s) : strlen(*s);

	if (n >= outlen)
		return -EINVAL;
	memcpy(out, *s, n);
	out[n] = '\0';
	*s += n + (slash ? 1 : 0);
	return slash ? 1 : 0;
}

int kid_parse(const char *s, struct kid *k)
{
	static const char scheme[] = "vault://";
	char kind[16];
	int r;

	memset(k, 0, sizeof(*k));
	if (!s || strncmp(s, scheme, sizeof(scheme) - 1))
		return -EINVAL;
	s += sizeof(scheme) - 1;
	if (take_part(&s, k->vault, sizeof(k->vault)) != 1 ||
	    !kid_valid_vault_name(k->vault))
		return -EINVAL;
	if (take_part(&s, kind, sizeof(kind)) != 1)
		return -EINVAL;
	if (!strcmp(kind, "platform")) {
		k->platform = 1;
	} else if (!strcmp(kind, "keys")) {
		if (take_part(&s, k->name, sizeof(k->name)) != 1 ||
		    !kid_valid_key_name(k->name))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	r = take_part(&s, k->version, sizeof(k->version));
	if (r != 0 || !kid_valid_version(k->version))
		return -EINVAL;
	return 0;
}

int kid_format(const struct kid *k, char *buf, size_t len)
{
	int n;

	if (k->platform)
		n = snprintf(buf, len, "vault://%s/platform/%s", k->vault,
			     k->version);
	else
		n = snprintf(buf, len, "vault://%s/keys/%s/%s", k->vault,
			     k->name, k->version);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int kid_split_ref(const char *ref, char name[KID_NAME_MAX + 1],
		  char version[KID_VERSION_LEN + 1])
{
	const char *s = ref;
	int r;

	version[0] = '\0';
	r = take_part(&s, name, KID_NAME_MAX + 1);
	if (r < 0 || !kid_valid_key_name(name))
		return -EINVAL;
	if (r == 1 && (take_part(&s, version, KID_VERSION_LEN + 1) != 0 ||
		       !kid_valid_version(version)))
		return -EINVAL;
	return 0;
}
