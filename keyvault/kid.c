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

/* Why @s is no NAME (or VAULT, when @vault): which rule it breaks. */
static int name_why(const char *s, int vault, char *why, size_t len)
{
	const char *what = vault ? "VAULT" : "NAME";
	size_t max = vault ? KID_VAULT_MAX : KID_NAME_MAX, n = strlen(s);
	const char *bad;

	if (vault ? kid_valid_vault_name(s) : kid_valid_key_name(s))
		return 0;
	if (!n) {
		snprintf(why, len, "%s is empty", what);
		return -EINVAL;
	}
	if (n > max) {
		snprintf(why, len, "%s has %zu characters, at most %zu", what,
			 n, max);
		return -EINVAL;
	}
	if (*s == '-') {
		snprintf(why, len, "%s \"%.*s\" starts with '-'", what,
			 (int)(n > 40 ? 40 : n), s);
		return -EINVAL;
	}
	for (bad = s; *bad; bad++)
		if (!((*bad >= 'a' && *bad <= 'z') ||
		      (*bad >= '0' && *bad <= '9') || *bad == '-' ||
		      (!vault && *bad >= 'A' && *bad <= 'Z')))
			break;
	if ((unsigned char)*bad >= 0x20 && (unsigned char)*bad < 0x7f)
		snprintf(why, len, "%s \"%.*s\" has '%c' at position %zu; "
			 "want %s", what, (int)(n > 40 ? 40 : n), s, *bad,
			 (size_t)(bad - s) + 1, vault ? "a-z 0-9 -" :
			 "A-Z a-z 0-9 -");
	else
		snprintf(why, len, "%s has a control or non-ASCII byte at "
			 "position %zu; want %s", what, (size_t)(bad - s) + 1,
			 vault ? "a-z 0-9 -" : "A-Z a-z 0-9 -");
	return -EINVAL;
}

/* Why @s is no VERSION. */
static int version_why(const char *s, char *why, size_t len)
{
	static const char want[] = "a version is 32 lowercase hex digits";
	size_t n = strlen(s), i;

	if (kid_valid_version(s))
		return 0;
	if (!n) {
		snprintf(why, len, "VERSION after '/' is empty; %s", want);
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			break;
	if (i < n && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f)
		snprintf(why, len, "VERSION \"%.*s\" has '%c' at position %zu, "
			 "not a lowercase hex digit; %s",
			 (int)(n > 40 ? 40 : n), s, s[i], i + 1, want);
	else if (i < n)
		snprintf(why, len, "VERSION has a control or non-ASCII byte at "
			 "position %zu; %s", i + 1, want);
	else
		snprintf(why, len, "VERSION \"%.*s\" has %zu digits; %s",
			 (int)(n > 40 ? 40 : n), s, n, want);
	return -EINVAL;
}

/* Take the next part of @s into @part (for a kid_ref_why() message). */
static int next_part(const char **s, char *part, size_t size,
		     const char *what, char *why, size_t len)
{
	const char *slash = strchr(*s, '/');
	size_t n = slash ? (size_t)(slash - *s) : strlen(*s);

	if (n >= size) {
		snprintf(why, len, "%s has %zu characters, at most %zu", what,
			 n, size - 1);
		return -EINVAL;
	}
	memcpy(part, *s, n);
	part[n] = '\0';
	*s += n + (slash ? 1 : 0);
	return slash ? 1 : 0;
}

int kid_ref_why(const char *ref, char *why, size_t len)
{
	static const char scheme[] = "vault://";
	static const char form[] = "a kid is vault://VAULT/keys/NAME/VERSION";
	char part[KID_NAME_MAX + 1];
	const char *s = ref;
	int r;

	*why = '\0';
	if (!strncmp(s, scheme, sizeof(scheme) - 1)) {
		s += sizeof(scheme) - 1;
		r = next_part(&s, part, KID_VAULT_MAX + 1, "VAULT", why, len);
		if (r == 0)
			snprintf(why, len, "%s", form);
		if (r <= 0 || name_why(part, 1, why, len) < 0)
			return -EINVAL;
		r = next_part(&s, part, sizeof(part), "the kind", why, len);
		if (r != 1 || (strcmp(part, "keys") &&
			       strcmp(part, "platform"))) {
			snprintf(why, len, "after VAULT a kid has \"keys/\" "
				 "(or \"platform/\")");
			return -EINVAL;
		}
		if (!strcmp(part, "keys")) {
			r = next_part(&s, part, sizeof(part), "NAME", why, len);
			if (r == 0)
				snprintf(why, len, "%s", form);
			if (r <= 0 || name_why(part, 0, why, len) < 0)
				return -EINVAL;
		}
	} else {
		r = next_part(&s, part, sizeof(part), "NAME", why, len);
		if (r < 0 || name_why(part, 0, why, len) < 0)
			return -EINVAL;
		if (r == 0)
			return 0;	/* NAME alone */
	}
	if (strchr(s, '/')) {
		snprintf(why, len, "more than NAME/VERSION: \"/%.40s\" follows "
			 "the version", strchr(s, '/') + 1);
		return -EINVAL;
	}
	return version_why(s, why, len);
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
