/*
 * cmd_mount.c - `ssefs mount STORE MNT [-o OPTIONS] [-f]`
 *
 * Checks everything that can be checked before a mount (options, the
 * vault, the default key or DES, the store lock), then hands over to the
 * daemon (fuse/mount.c).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fuse.h>

#include "cache/hostdir.h"
#include "cli/cli.h"
#include "fuse/ctl.h"
#include "fuse/mount.h"
#include "fuse/opts.h"
#include "fuse/tempdisk.h"
#include "keyvault/events.h"
#include "keyvault/vault.h"
#include "store/blobback.h"
#include "svc/errors.h"
#include "svc/mountinfo.h"
#include "svc/storelock.h"
#include "util/config.h"
#include "util/log.h"
#include "util/trust.h"

#if __has_include("keyvault/des.h")
#include "keyvault/des.h"
#define HAVE_DES 1
#endif

static const char mount_usage[] =
"usage: ssefs mount STORE MNT [-o OPTIONS] [-f|--foreground]\n"
"       ssefs --config FILE mount MNT [-o OPTIONS] [-f]   (STORE: store:)\n";

/* A daemon whose mount is gone may still be closing its disks: wait this
 * many times 50 ms for it to let go of the store lock. */
#define LOCK_TRIES	200

static void mount_help(void)
{
	printf("%s", mount_usage);
	printf(
"\n"
"Mount the store directory STORE on MNT: every ssefs disk in STORE shows in\n"
"MNT at the same path as a plaintext fixed .vhd; other files are hidden.\n"
"Without STORE, the config file's store: is mounted.\n"
"STORE may be an Azure blob container URL (https://ACCOUNT.blob.core.\n"
"windows.net/CONTAINER[/PREFIX], or http(s)://HOST:PORT/ACCOUNT/CONTAINER):\n"
"each page blob NAME.vhd in it is a disk; an open one holds its lease, so\n"
"another host's open of it fails with EBUSY.  Credentials from\n"
"AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING,\n"
"AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, or credentials=FILE.\n"
"A disk never has the setuid or setgid bit (chmod drops them).\n"
"\n"
"  -f                 stay in the foreground, log to stderr\n"
"  -o OPTIONS         comma-separated mount options (may repeat):\n"
"     key=NAME          new disks use customer key NAME\n"
"     des=NAME          new disks use disk encryption set NAME\n"
"                       (neither: the platform key)\n"
"     allow_other       let other users see the mount (needs\n"
"                       user_allow_other in /etc/fuse.conf for non-root)\n"
"     allow_root        let root see the mount too\n"
"                       (both also as =true|false, the config file's form)\n"
"     key_check_interval=DUR   how often keys are checked (60s)\n"
"     revoke_grace=DUR  I/O goes on this long after a key becomes\n"
"                       unusable (1h; 0 allowed)\n"
"     rotate_interval=DUR      automatic rotation period (1h)\n"
"     notify=CMD        run CMD with each event as JSON on stdin, in the\n"
"                       directory ssefs mount was run from\n"
"                       (default: the config file's notify:)\n"
"     host_cache=DIR    directory for the host cache and the temp disk;\n"
"                       refused when another user owns it or can write\n"
"                       to it, or to a folder above it (StrictModes)\n"
"     caching=None|ReadOnly|ReadWrite    host caching (None)\n"
"     cache_size=SIZE   host cache size (1G)\n"
"     writeback_delay=DUR      ReadWrite: dirty data is written back\n"
"                       to the store this often (1s), and at fsync;\n"
"                       close does not wait: a disk stays open after\n"
"                       its last close until written back\n"
"     temp_disk=SIZE    needs host_cache: temp.vhd at the root of MNT, a\n"
"                       fixed VHD of SIZE (whole MiB) kept in DIR and\n"
"                       discarded at unmount; STORE/temp.vhd must not exist\n"
"     nonempty          mount over a directory that holds files (hidden\n"
"                       until the unmount); without it such a mount point\n"
"                       is refused\n"
"     encryption_at_host=on|off    (on) on: the host cache holds\n"
"                       ciphertext and the temp disk is encrypted under a\n"
"                       key that lives only in the daemon's memory; off:\n"
"                       both hold plaintext in DIR until a clean unmount\n"
"                       removes them (the cache overwritten with zeros)\n"
"     readahead=SIZE    root only: the mount's read-ahead (4K to 64M;\n"
"                       1M by default as root, the kernel's 128K if not)\n"
"     io_uring=auto|on|off    (auto) requests over io_uring when the\n"
"                       kernel offers it (Linux 6.14+, Y in /sys/module/\n"
"                       fuse/parameters/enable_uring); on: the mount is\n"
"                       refused if it does not; off: /dev/fuse\n"
"     store_timeout=DUR a blob store's request retries stop after DUR\n"
"                       (30s), then EIO\n"
"     credentials=FILE  a blob store's connection string, mode 0600\n"
"     allow_http        a blob store over plain http off loopback\n"
"     and libfuse's own options (ro, max_read=N, debug...)\n"
"  -h, --help         this text\n"
"\n"
"Defaults come from the config file's mount: and stores: sections.\n"
"With --json, one object once the mount is in place: {store, mountpoint,\n"
"disks, damagedDisks, foreground}.\n"
"Unmount with 'fusermount3 -u MNT' or 'umount MNT'; a new mount of the\n"
"store waits up to 10 s for the old daemon to finish.  See ssefs-mount(8).\n");
}

/* 1 when directory @path holds anything but "." and "..", 0, -errno. */
static int dir_has_entries(const char *path)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int r = 0;

	if (!d)
		return -errno;
	while (!r && (e = readdir(d)))
		r = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return r;
}

/*
 * The default for new disks may be unusable now and usable later (the
 * mount goes on, for the disks it has): say so now rather than at the
 * first cp, which fails with EKEYREVOKED.
 */
static void warn_unusable(struct vault *v, const char *what,
			  const char *name, const char *kid)
{
	enum key_state st = vault_key_state(v, kid, 0);

	if (st != KEY_USABLE)
		warning("-o %s=%s: key %s is %s: disks created through the "
			"mount fail (EKEYREVOKED) until it is usable", what,
			name, kid, key_state_name(st));
}

/* Check the default for new disks now rather than at the first cp. */
static int check_default(struct cli_ctx *ctx, struct vault *v,
			 const struct mount_opts *o)
{
	char kid[VAULT_KID_MAX + 1];
	int r;

	if (o->key) {
		r = vault_resolve(v, o->key, kid, sizeof(kid));
		if (r < 0)
			return error("key %s: %s", o->key, svc_strerror(r)),
			       EXIT_FAIL;
		warn_unusable(v, "key", o->key, kid);
	}
	if (o->des) {
#ifdef HAVE_DES
		struct des d;

		r = des_get(ctx->vault_dir, o->des, &d);
		if (r < 0)
			return error("des %s: %s", o->des,
				     r == -ENOENT ?
				     "no such disk encryption set" :
				     svc_strerror(r)), EXIT_FAIL;
		warn_unusable(v, "des", o->des, d.active_kid);
#else
		(void)ctx;
		return error("des %s: disk encryption sets are not available "
			     "yet", o->des), EXIT_FAIL;
#endif
	}
	return EXIT_OK;
}

int cmd_mount(int argc, char **argv, struct cli_ctx *ctx)
{
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct ssefs_mount_args ma;
	struct mount_opts o;
	struct vault *v = NULL;
	const char *pos[2] = { NULL, NULL };
	char store[PATH_MAX], mnt[PATH_MAX], cfgopts[4096], err[512];
	char cwd[PATH_MAX];
	char *fsname = NULL;
	struct stat st;
	static const struct option mount_opts_cl[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char **ovals = NULL;
	int i, npos = 0, fg = 0, ret = EXIT_FAIL, r, lock_fd = -1;
	int c, novals = 0, blob = 0;
	struct hostdir hd = { NULL, -1, -1 };
	pid_t holder;

	mount_opts_init(&o);
	if (fuse_opt_add_arg(&fargs, "ssefs")) {
		error("mount: out of memory");
		return EXIT_FAIL;
	}

	/* the -o values, applied after the config's (below), in order */
	ovals = calloc((size_t)argc, sizeof(*ovals));
	if (!ovals) {
		error("mount: out of memory");
		goto out;
	}
	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":hfo:", mount_opts_cl,
			       "mount")) != -1) {
		if (c == 'h') {
			mount_help();
			ret = EXIT_OK;
			goto out;
		}
		if (c == 'f') {
			fg = 1;
		} else if (c == 'o') {
			ovals[novals++] = optarg;
		} else {
			ret = EXIT_USAGE;
			goto out;
		}
	}
	for (i = optind; i < argc; i++) {
		if (npos == 2) {
			ret = cli_usage(mount_usage, "mount: %s: unexpected "
					"argument", argv[i]);
			goto out;
		}
		pos[npos++] = argv[i];
	}
	if (npos == 1 && ctx->cfg && config_default_store(ctx->cfg)) {
		/* "ssefs mount MNT": the config file names the store */
		pos[1] = pos[0];
		pos[0] = config_default_store(ctx->cfg);
		npos = 2;
	}
	if (npos < 2) {
		ret = cli_usage(mount_usage, "mount: needs STORE and MNT");
		goto out;
	}
	blob = blob_is_url(pos[0]);
	if (blob) {
		/* a container URL: checked when the daemon opens it */
		size_t l = strlen(pos[0]);

		while (l > 1 && pos[0][l - 1] == '/')
			l--;
		if (l >= sizeof(store)) {
			error("store %s: %s", pos[0], strerror(ENAMETOOLONG));
			goto out;
		}
		memcpy(store, pos[0], l);
		store[l] = '\0';
	} else if (!realpath(pos[0], store) || stat(store, &st) < 0) {
		error("store %s: %s", pos[0], strerror(errno));
		goto out;
	}
	if (!blob && !S_ISDIR(st.st_mode)) {
		error("store %s: not a directory", pos[0]);
		goto out;
	}
	if (!realpath(pos[1], mnt) || stat(mnt, &st) < 0) {
		error("%s: %s", pos[1], strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		error("%s: not a directory", pos[1]);
		goto out;
	}

	/* options: the config's defaults first, then each -o in order */
	cfgopts[0] = '\0';
	if (ctx->cfg && config_mount_options(ctx->cfg, store, cfgopts,
					     sizeof(cfgopts)) < 0) {
		error("config %s: mount options too long", ctx->config_file);
		goto out;
	}
	if (mount_opts_parse(&o, cfgopts, &fargs, err, sizeof(err)) < 0) {
		error("config %s: %s", ctx->config_file, err);
		ret = EXIT_USAGE;
		goto out;
	}
	for (i = 0; i < novals; i++) {
		if (mount_opts_parse(&o, ovals[i], &fargs, err,
				     sizeof(err)) < 0) {
			ret = cli_usage(NULL, "%s", err);
			goto out;
		}
	}
	/* the config file's notify: hears the daemon's events too (key
	 * revoked, disk re-wrapped), unless an option named another */
	if (!o.notify && ctx->cfg && config_notify(ctx->cfg)) {
		o.notify = strdup(config_notify(ctx->cfg));
		if (!o.notify) {
			error("mount: out of memory");
			goto out;
		}
	}
	r = mount_opts_check(&o, err, sizeof(err));
	if (r < 0) {
		ret = r == -EINVAL ? cli_usage(NULL, "%s", err) :
		      (error("%s", err), EXIT_FAIL);
		goto out;
	}
	/* a mount over files hides them until the unmount: only when asked */
	r = o.nonempty ? 0 : dir_has_entries(mnt);
	if (r) {
		if (r > 0)
			error("%s: mount point is not empty (use -o nonempty "
			      "to mount over it)", pos[1]);
		else
			error("%s: %s", pos[1], strerror(-r));
		goto out;
	}

	/* the temp disk would hide a store file of the same name */
	if (o.temp_disk && !blob) {
		char tpath[PATH_MAX + 16];

		snprintf(tpath, sizeof(tpath), "%s/%s", store, TEMPDISK_NAME);
		if (lstat(tpath, &st) == 0) {
			error("-o temp_disk: %s exists in the store and the "
			      "temp disk would hide it; rename it or mount "
			      "without temp_disk", tpath);
			goto out;
		}
	}

	/* libfuse: always default_permissions; the store as the source */
	if (asprintf(&fsname, "-osubtype=ssefs,default_permissions,"
		     "fsname=%s", store) < 0) {
		fsname = NULL;
		goto out;
	}
	if (strchr(store, ',') || fuse_opt_add_arg(&fargs, fsname)) {
		if (strchr(store, ','))
			error("store %s: a comma in the path is not supported",
			      store);
		goto out;
	}
	if (fg && o.debug && fuse_opt_add_arg(&fargs, "-d"))
		goto out;

	/* `ssefs status` talks to the daemon through this folder: one that
	 * another user controls is refused before anything is mounted */
	{
		char why[1024];

		if (ctl_prepare_dir(geteuid(), why, sizeof(why)) < 0) {
			error("mount: %s", *why ? why : "cannot make the "
			      "control socket's folder");
			goto out;
		}
	}

	/* a missing or locked vault: a clear error and no mount */
	if (cli_open_vault(ctx, &v) != EXIT_OK)
		goto out;
	if (check_default(ctx, v, &o) != EXIT_OK)
		goto out;

	/* a blob store has no lock file: each open disk holds its lease */
	r = blob ? 0 : store_lock(store, &lock_fd, &holder);
	/* Unmounted a moment ago, its daemon still finishing: wait for it
	 * rather than refuse a script's "umount MNT && ssefs mount ...". */
	for (i = 0; r == -EBUSY && i < LOCK_TRIES && !mi_store_mounted(store);
	     i++) {
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
		r = store_lock(store, &lock_fd, &holder);
	}
	if (r == -EBUSY) {
		if (holder > 0)
			error("store %s: already mounted (pid %d)", pos[0],
			      (int)holder);
		else
			error("store %s: already mounted", pos[0]);
		goto out;
	}
	if (r < 0) {
		error("store %s: cannot take its lock: %s", pos[0],
		      strerror(-r));
		goto out;
	}

	if (o.host_cache) {
		char why[1024];

		/* it holds cached disk blocks and the temp disk: a folder
		 * another user owns or can write to is refused */
		r = trust_mkdir(o.host_cache, 0700, geteuid(), 0, why,
				sizeof(why));
		if (r == -EPERM || r == -ENOTDIR) {
			error("-o host_cache=%s: %s", o.host_cache, why);
			goto out;
		}
		r = hostdir_open(&hd, o.host_cache, store, mnt, &holder);
		if (r == -EBUSY) {
			error("-o host_cache=%s: in use by another mount "
			      "(pid %d)", o.host_cache, (int)holder);
			goto out;
		}
		if (r == -ELOOP) {
			error("-o host_cache=%s: must be outside the store "
			      "and the mount point", o.host_cache);
			goto out;
		}
		if (r < 0) {
			error("-o host_cache=%s: %s", o.host_cache,
			      strerror(-r));
			goto out;
		}
	}

	/* notify=./hook: run where it was written, not in the daemon's / */
	if (getcwd(cwd, sizeof(cwd)))
		event_set_workdir(cwd);

	memset(&ma, 0, sizeof(ma));
	ma.store = store;
	ma.mnt = mnt;
	ma.vault = v;
	ma.vault_dir = ctx->vault_dir;
	ma.opts = &o;
	ma.fargs = &fargs;
	ma.foreground = fg;
	ma.json = ctx->json;
	ma.lock_fd = lock_fd;
	ma.host = &hd;
	r = ssefs_mount_main(&ma);
	ret = r == 0 ? EXIT_OK : r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
out:
	if (lock_fd >= 0)
		close(lock_fd);
	hostdir_close(&hd);
	vault_close(v);
	free(fsname);
	free(ovals);
	fuse_opt_free_args(&fargs);
	mount_opts_release(&o);
	return ret;
}
