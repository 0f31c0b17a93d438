/*
 * vault_sweep.c - what a killed command left in the vault, cleared at open
 *
 * Every change to the vault's files is made under the exclusive vault
 * lock: a key version is written (temporary file, fsync, rename) and then
 * listed in vault.meta.  A command killed in between (kill -9 of `key
 * rotate`) leaves a temporary file, or a version file that the metadata
 * does not list: a version that was never acknowledged.  vault_open()
 * calls vault_sweep(), which, only when it gets the exclusive lock at once
 * (so no living command is in the middle of a change), removes those
 * temporary files and moves the unlisted version files aside into
 * DIR/orphans/, auditing each.  Only names of the vault's own making are
 * touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keyvault/kid.h"
#include "keyvault/vault_priv.h"

#define SEALED		".sealed"
#define TMP_MARK	".tmp-"
#define TMP_HEX		8	/* io_tmpfile_beside()'s suffix */
#define ORPHANS		"orphans"

static int all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* 1 when @name is "VERSION.sealed" (the version goes to @ver). */
static int is_version_file(const char *name, char ver[KEY_VERSION_HEX + 1])
{
	if (strlen(name) != KEY_VERSION_HEX + strlen(SEALED) ||
	    !all_hex(name, KEY_VERSION_HEX) ||
	    strcmp(name + KEY_VERSION_HEX, SEALED))
		return 0;
	memcpy(ver, name, KEY_VERSION_HEX);
	ver[KEY_VERSION_HEX] = '\0';
	return 1;
}

/* ".BASE.tmp-XXXXXXXX" (io_tmpfile_beside()) for a BASE that @base_ok. */
static int is_tmp_of(const char *name, int (*base_ok)(const char *, size_t))
{
	size_t n = strlen(name), m = strlen(TMP_MARK) + TMP_HEX;

	if (n <= 1 + m || name[0] != '.' ||
	    strncmp(name + n - m, TMP_MARK, strlen(TMP_MARK)) ||
	    !all_hex(name + n - TMP_HEX, TMP_HEX))
		return 0;
	return base_ok(name + 1, n - 1 - m);
}

static int base_is_version(const char *b, size_t n)
{
	return n == KEY_VERSION_HEX + strlen(SEALED) &&
	       all_hex(b, KEY_VERSION_HEX) &&
	       !strncmp(b + KEY_VERSION_HEX, SEALED, strlen(SEALED));
}

static int base_is_meta(const char *b, size_t n)
{
	return n == strlen("vault.meta") && !strncmp(b, "vault.meta", n);
}

/* Remove @dir/@name when it is a file older than @since. */
static void drop_tmp(const char *dir, const char *name, time_t since)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) || lstat(path, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_mtime > since)
		return;
	unlink(path);
}

static int listed(const struct vault_version *p, size_t n, const char *ver)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].version, ver))
			return 1;
	return 0;
}

/* Move @dir/@name (a version file nobody listed) to orphans/@as. */
static void quarantine(struct vault *v, const char *dir, const char *name,
		       const char *as, const struct kid *k)
{
	char from[PATH_MAX], to[PATH_MAX], kidstr[VAULT_KID_MAX + 1];
	int err;

	if (snprintf(from, sizeof(from), "%s/%s", dir, name) >=
	    (int)sizeof(from) ||
	    vault_path(v, to, sizeof(to), ORPHANS) ||
	    (mkdir(to, 0700) < 0 && errno != EEXIST) ||
	    vault_path(v, to, sizeof(to), ORPHANS "/%s", as))
		return;
	err = rename(from, to) < 0 ? -errno : 0;
	if (kid_format(k, kidstr, sizeof(kidstr)))
		snprintf(kidstr, sizeof(kidstr), "?");
	/* the record says where it went; a failure is recorded as such */
	vault_audit_append(v, "orphan-quarantined", kidstr, err);
}

/* One folder of version files: keys/@key (or platform/ when @key NULL). */
static void sweep_versions(struct vault *v, const char *dir, const char *key,
			   const struct vault_version *p, size_t np,
			   time_t since)
{
	char ver[KEY_VERSION_HEX + 1], as[PATH_MAX];
	struct dirent *e;
	struct kid k;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (is_tmp_of(e->d_name, base_is_version)) {
			drop_tmp(dir, e->d_name, since);
			continue;
		}
		if (!is_version_file(e->d_name, ver) || listed(p, np, ver))
			continue;
		memset(&k, 0, sizeof(k));
		snprintf(k.vault, sizeof(k.vault), "%s", v->name);
		k.platform = !key;
		if (key)
			snprintf(k.name, sizeof(k.name), "%s", key);
		snprintf(k.version, sizeof(k.version), "%s", ver);
		if (snprintf(as, sizeof(as), "%s%s.%s", key ? "keys." :
			     "platform", key ? key : "", e->d_name) >=
		    (int)sizeof(as))
			continue;
		quarantine(v, dir, e->d_name, as, &k);
	}
	closedir(d);
}

void vault_sweep(struct vault *v)
{
	char dir[PATH_MAX], sub[PATH_MAX];
	struct vault_key *k;
	struct dirent *e;
	time_t since;
	DIR *d = NULL;

	/* only when no one else is in the middle of a change */
	if (vault_begin(v, LOCK_EX | LOCK_NB))
		return;
	since = time(NULL);
	if (!vault_path(v, dir, sizeof(dir), ".") && (d = opendir(dir))) {
		while ((e = readdir(d)))
			if (is_tmp_of(e->d_name, base_is_meta))
				drop_tmp(dir, e->d_name, since);
		closedir(d);
	}
	if (!vault_path(v, dir, sizeof(dir), "platform"))
		sweep_versions(v, dir, NULL, v->platform, v->nplatform, since);
	if (vault_path(v, dir, sizeof(dir), "keys") || !(d = opendir(dir)))
		goto out;
	while ((e = readdir(d))) {
		if (!kid_valid_key_name(e->d_name) ||
		    snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(sub))
			continue;
		k = vault_find_key(v, e->d_name);
		sweep_versions(v, sub, e->d_name, k ? k->versions : NULL,
			       k ? k->nversions : 0, since);
		if (!k)
			rmdir(sub);	/* a key never created: empty now */
	}
	closedir(d);
out:
	vault_end(v);
}
