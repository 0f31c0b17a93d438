/*
 * newdisk.c - a file created through the mount becomes a new disk
 *
 * The header is written to an anonymous file (O_TMPFILE) in the target's
 * directory, which is linked into place only when complete and synced: a
 * crash leaves either no file or a whole empty disk (disk/store.h, which
 * also says what happens without O_TMPFILE).  The folder is resolved
 * beneath the store root, following no symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "disk/store.h"
#include "disk/volume.h"
#include "fuse/fs.h"
#include "fuse/newdisk.h"
#include "keyvault/vault.h"
#include "svc/registry.h"
#include "util/log.h"

#if __has_include("keyvault/des.h")
#include "keyvault/des.h"
#define HAVE_DES 1
#endif

struct kids {
	char kid[2][VAULT_KID_MAX + 1];
	char des[ENV_DES_MAX + 1];
	uint32_t type;
	unsigned int nlayers;
};

/* Work out the kids of a new disk from the mount's default. */
static int pick_kids(struct ssefs_fs *fs, struct kids *k)
{
	int r;

	memset(k, 0, sizeof(*k));
	k->nlayers = 1;
	ssefs_fs_vault_lock(fs);
	if (fs->opts.des) {
#ifdef HAVE_DES
		struct des d;

		r = des_get(fs->vault_dir, fs->opts.des, &d);
		if (r < 0)
			goto out;
		snprintf(k->des, sizeof(k->des), "%s", d.name);
		k->type = d.type;
		if (d.active_kid[0]) {
			snprintf(k->kid[0], sizeof(k->kid[0]), "%s",
				 d.active_kid);
		} else {
			char ref[200];

			snprintf(ref, sizeof(ref), "%s%s%s", d.key,
				 d.version[0] ? "/" : "", d.version);
			r = vault_resolve(fs->vault, ref, k->kid[0],
					  sizeof(k->kid[0]));
			if (r < 0)
				goto out;
		}
		if (k->type == ENV_TYPE_PLATFORM_AND_CUSTOMER) {
			k->nlayers = 2;
			r = vault_resolve(fs->vault, "platform", k->kid[1],
					  sizeof(k->kid[1]));
			if (r < 0)
				goto out;
		} else if (k->type == ENV_TYPE_PLATFORM) {
			r = vault_resolve(fs->vault, "platform", k->kid[0],
					  sizeof(k->kid[0]));
			if (r < 0)
				goto out;
		} else {
			k->type = ENV_TYPE_CUSTOMER;
		}
		r = 0;
#else
		r = -ENOSYS;
#endif
		goto out;
	}
	if (fs->opts.key) {
		k->type = ENV_TYPE_CUSTOMER;
		r = vault_resolve(fs->vault, fs->opts.key, k->kid[0],
				  sizeof(k->kid[0]));
	} else {
		k->type = ENV_TYPE_PLATFORM;
		r = vault_resolve(fs->vault, "platform", k->kid[0],
				  sizeof(k->kid[0]));
	}
out:
	ssefs_fs_vault_unlock(fs);
	return r;
}

static int format_fd(struct ssefs_fs *fs, int fd, const struct kids *k,
		     mode_t mode, uid_t uid, gid_t gid)
{
	struct vol_format f;
	int r;

	memset(&f, 0, sizeof(f));
	f.plain_size = 0;
	f.sector_size = 4096;
	f.enc_type = k->type;
	f.des = k->des[0] ? k->des : NULL;
	f.nlayers = k->nlayers;
	f.kid[0] = k->kid[0];
	f.kid[1] = k->nlayers > 1 ? k->kid[1] : NULL;
	r = vol_format(fd, &f, &fs->keyops);
	if (r < 0)
		return r;
	if (fchmod(fd, mode & 07777) < 0)
		return -errno;
	if (geteuid() == 0 && fchown(fd, uid, gid) < 0)
		return -errno;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/* Enter the new disk @fd (at @rel) in the vault's registry. */
static void registry_add(struct ssefs_fs *fs, const char *rel, int fd)
{
	struct env_header h;
	struct vault_disk d;
	char path[4096];
	int r;

	r = ssefs_fs_abspath(fs, rel, path, sizeof(path));
	if (r == 0)
		r = vol_probe_fd(fd, &h);
	if (r < 0) {
		warning("disk %s: cannot enter it in the vault's registry: %s",
			rel, strerror(-r));
		return;
	}
	registry_entry(&d, &h, path);
	ssefs_fs_vault_lock(fs);
	r = vault_disk_put(fs->vault, &d);
	ssefs_fs_vault_unlock(fs);
	if (r < 0)
		warning("disk %s: cannot enter it in the vault's registry: %s",
			path, strerror(-r));
}

int newdisk_create(struct ssefs_fs *fs, const char *rel, mode_t mode,
		   uid_t uid, gid_t gid)
{
	struct store_new sn;
	struct kids k;
	int r;

	if (!fs->vault)
		return -ENOKEY;
	r = pick_kids(fs, &k);
	if (r < 0)
		return r;
	/* beneath the store root, in the folder it will live in */
	r = store_new_begin(&sn, fs->store_fd, rel);
	if (r == 0)
		r = format_fd(fs, sn.fd, &k, mode, uid, gid);
	if (r == 0)
		r = store_new_publish(&sn);
	if (r == 0)
		registry_add(fs, rel, sn.fd);
	store_new_end(&sn);
	return r;
}
