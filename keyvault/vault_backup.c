/*
 * vault_backup.c - a vault in one file, and back; removing a vault tree
 *
 * A backup is "ssefs-vault-backup 1\n", then the metadata, the audit log
 * and the sealed keys, each as "file REL LEN\n" and LEN raw bytes, then
 * "end\n".  The master key is not in it: the keys stay sealed.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyvault/vault_priv.h"
#include "util/io.h"

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int vault_remove_tree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

#define BACKUP_MAGIC	"ssefs-vault-backup 1\n"

static int add_file(FILE *out, const struct vault *v, const char *rel)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len;
	int err;

	err = vault_path(v, path, sizeof(path), "%s", rel);
	if (!err)
		err = io_read_file(path, 1u << 30, &buf, &len);
	if (err)
		return err;
	fprintf(out, "file %s %zu\n", rel, len);
	if (len && fwrite(buf, 1, len, out) != len)
		err = -EIO;
	free(buf);
	return err;
}

static int add_dir(FILE *out, const struct vault *v, const char *rel)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int err;

	err = vault_path(v, path, sizeof(path), "%s", rel);
	if (err)
		return err;
	d = opendir(path);
	if (!d)
		return -errno;
	while (!err && (e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name);
		if (vault_path(v, path, sizeof(path), "%s", sub) ||
		    lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			err = add_dir(out, v, sub);
		else if (S_ISREG(st.st_mode))
			err = add_file(out, v, sub);
	}
	closedir(d);
	return err;
}

int vault_backup(struct vault *v, const char *dest)
{
	char tmp[PATH_MAX];
	char **files = NULL;
	size_t n = 0, i;
	FILE *out;
	int fd, err;

	if (access(dest, F_OK) == 0)
		return -EEXIST;
	/* The backup holds its own record. */
	err = vault_audit(v, "backup", NULL, 0);
	if (!err)
		err = vault_begin(v, LOCK_SH);
	if (err)
		return err;
	fd = io_tmpfile_beside(dest, 0600, tmp, sizeof(tmp));
	if (fd < 0) {
		err = fd;
		goto out;
	}
	out = fdopen(dup(fd), "w");
	if (!out) {
		err = -errno;
		close(fd);
		unlink(tmp);
		goto out;
	}
	fputs(BACKUP_MAGIC, out);
	err = add_file(out, v, "vault.meta");
	if (!err)
		err = vault_audit_files(v, &files, &n);
	for (i = 0; !err && i < n; i++) {
		const char *base = strrchr(files[i], '/') + 1;

		if (access(files[i], F_OK) == 0)
			err = add_file(out, v, base);
	}
	if (!err) {
		char head[PATH_MAX];

		if (!vault_path(v, head, sizeof(head), "audit.head") &&
		    access(head, F_OK) == 0)
			err = add_file(out, v, "audit.head");
	}
	if (!err)
		err = add_dir(out, v, "platform");
	if (!err)
		err = add_dir(out, v, "keys");
	fputs("end\n", out);
	if (fclose(out) && !err)
		err = -EIO;
	if (!err)
		err = io_commit_tmpfile(fd, tmp, dest);
	else
		unlink(tmp);
	close(fd);
	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
out:
	vault_end(v);
	return err;
}

static int safe_rel(const char *rel)
{
	return *rel && *rel != '/' && !strstr(rel, "..") &&
	       !strchr(rel, '\n');
}

int vault_restore(const char *src, const char *dir)
{
	char *buf = NULL, *p, *end, *nl, rel[PATH_MAX], path[PATH_MAX * 2];
	char hdr[PATH_MAX + 64];
	size_t len, flen;
	int err, off;

	if (access(dir, F_OK) == 0)
		return -EEXIST;
	err = io_read_file(src, 1u << 30, &buf, &len);
	if (err)
		return err;
	end = buf + len;
	if (strncmp(buf, BACKUP_MAGIC, strlen(BACKUP_MAGIC))) {
		free(buf);
		return -EBADMSG;
	}
	err = io_mkdirs(dir, 0755);
	if (!err && chmod(dir, 0700) < 0)
		err = -errno;
	if (!err) {
		snprintf(path, sizeof(path), "%s/keys", dir);
		err = io_mkdirs(path, 0700);
	}
	if (!err) {
		snprintf(path, sizeof(path), "%s/platform", dir);
		err = io_mkdirs(path, 0700);
	}
	if (err) {
		free(buf);
		return err;
	}
	for (p = buf + strlen(BACKUP_MAGIC); !err && p < end;) {
		if (!strncmp(p, "end\n", 4))
			break;
		/* "file REL LEN\n" then LEN raw bytes (which may start with
		 * anything, so the header line is parsed on its own). */
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || nl - p >= (long)sizeof(hdr)) {
			err = -EBADMSG;
			break;
		}
		memcpy(hdr, p, (size_t)(nl - p));
		hdr[nl - p] = 0;
		off = (int)(nl - p) + 1;
		if (sscanf(hdr, "file %4095s %zu", rel, &flen) != 2 ||
		    !safe_rel(rel) || flen > (size_t)(end - p - off)) {
			err = -EBADMSG;
			break;
		}
		p += off;
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
		{
			char *slash = strrchr(path, '/');

			*slash = 0;
			err = io_mkdirs(path, 0700);
			*slash = '/';
		}
		if (!err)
			err = io_write_atomic(path, p, flen, 0600);
		p += flen;
	}
	if (!err && p >= end)
		err = -EBADMSG;		/* no end marker: truncated */
	free(buf);
	if (err)
		vault_remove_tree(dir);
	return err;
}
