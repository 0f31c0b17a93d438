/*
 * cmd_attach.c - `ssefs disk attach` and `ssefs disk detach`: a disk of a
 * mount as the block device a VM would see, and (--mount) its file
 * systems mounted for browsing
 *
 * The loop device is made with the loop ioctls (util/loopdev.c): the size
 * limit leaves the VHD footer out, the logical sector size is the disk's,
 * and direct I/O is on, so that no second page cache holds plaintext
 * (a revoked disk then has nothing left to serve) and a request goes to
 * the daemon once, at its full size.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli/attach.h"
#include "cli/cli.h"
#include "disk/vhd.h"
#include "fuse/tempdisk.h"
#include "svc/errors.h"
#include "svc/mountinfo.h"
#include "util/json.h"
#include "util/log.h"
#include "util/loopdev.h"

#define FUSE_MAGIC	0x65735546	/* statfs f_type of every FUSE mount */
#define MAX_PARTS	128		/* a GPT's usual number of entries */

const char attach_usage[] =
"usage: ssefs disk attach MNT/NAME.vhd [--read-only] [--mount DIR [--rw]]\n"
"       ssefs disk detach /dev/loopN|MNT/NAME.vhd\n";

/* --- what the mount says about the disk --------------------------- */

struct attach_disk {
	char path[PATH_MAX];		/* realpath of MNT/NAME.vhd */
	char mnt[PATH_MAX];		/* the ssefs mount it is in */
	unsigned int sector_size;
	uint64_t size;			/* without the footer */
};

/*
 * Open @arg through its ssefs mount and learn its sector size and size.
 * Opening it unwraps its key, so a disk that cannot be used says so here.
 * Return: the fd, or -1 after one line.
 */
static int open_disk(const char *arg, int rdonly, struct attach_disk *d)
{
	char val[32], temp[PATH_MAX + 16];
	struct statfs sfs;
	struct stat st;
	ssize_t n;
	int fd;

	if (!realpath(arg, d->path))
		return error("disk %s: %s", arg, strerror(errno));
	fd = open(d->path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return error("disk %s: cannot open: %s", arg,
			     svc_strerror(errno));
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
		goto fail_errno;
	if (!S_ISREG(st.st_mode) || sfs.f_type != FUSE_MAGIC ||
	    !mi_ssefs_dev(st.st_dev, d->mnt, sizeof(d->mnt))) {
		error("disk %s: not a disk in an ssefs mount (attach "
		      "MNT/NAME.vhd, through the mount)", arg);
		goto fail;
	}
	n = fgetxattr(fd, "user.ssefs.sector_size", val, sizeof(val) - 1);
	snprintf(temp, sizeof(temp), "%s/%s", d->mnt, TEMPDISK_NAME);
	if (n > 0) {
		val[n] = '\0';
		d->sector_size = (unsigned int)strtoul(val, NULL, 10);
	} else if (!strcmp(d->path, temp)) {
		d->sector_size = TEMPDISK_SECTOR;
	} else {
		error("disk %s: not an ssefs disk", arg);
		goto fail;
	}
	if ((uint64_t)st.st_size <= VHD_FOOTER_BYTES ||
	    (d->sector_size != 512 && d->sector_size != 4096) ||
	    ((uint64_t)st.st_size - VHD_FOOTER_BYTES) % d->sector_size) {
		error("disk %s: its size %lld is not whole %u-byte sectors "
		      "and a 512-byte footer", arg, (long long)st.st_size,
		      d->sector_size);
		goto fail;
	}
	d->size = (uint64_t)st.st_size - VHD_FOOTER_BYTES;
	return fd;
fail_errno:
	error("disk %s: %s", arg, strerror(errno));
fail:
	close(fd);
	return -1;
}

struct find_backing {
	const char *path;
	int nr;
};

static int match_backing(int nr, const char *backing, void *arg)
{
	struct find_backing *f = arg;

	if (strcmp(backing, f->path))
		return 0;
	f->nr = nr;
	return 1;
}

/* N of the loop device over @path (a realpath), or -1. */
static int attached_as(const char *path)
{
	struct find_backing f = { path, -1 };

	loopdev_each(match_backing, &f);
	return f.nr;
}

/* --- the devices of /dev/loopN: itself and its partitions --------- */

struct part {
	char dev[64];			/* /dev/loopN or /dev/loopNpM */
	char name[16];			/* "" for the whole disk, or "pM" */
	unsigned int major, minor;
};

static int read_devnum(const char *sysdir, struct part *p)
{
	char path[PATH_MAX], buf[32];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/dev", sysdir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ok = fgets(buf, sizeof(buf), f) &&
	     sscanf(buf, "%u:%u", &p->major, &p->minor) == 2;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static int cmp_part(const void *a, const void *b)
{
	const struct part *x = a, *y = b;

	return x->minor < y->minor ? -1 : x->minor > y->minor;
}

/*
 * The partitions the kernel found on /dev/loop@nr (sorted), or when none
 * the whole device alone.  Return: how many, or -errno.
 */
static int list_parts(int nr, struct part *parts, int max)
{
	char sys[64], sub[PATH_MAX], prefix[32];
	struct dirent *e;
	size_t plen;
	DIR *d;
	int n = 0;

	snprintf(sys, sizeof(sys), "/sys/block/loop%d", nr);
	snprintf(prefix, sizeof(prefix), "loop%dp", nr);
	plen = strlen(prefix);
	d = opendir(sys);
	if (!d)
		return -errno;
	while (n < max && (e = readdir(d))) {
		if (strncmp(e->d_name, prefix, plen) || !e->d_name[plen])
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", sys, e->d_name);
		if (read_devnum(sub, &parts[n]) < 0)
			continue;
		snprintf(parts[n].dev, sizeof(parts[n].dev), "/dev/%.40s",
			 e->d_name);
		snprintf(parts[n].name, sizeof(parts[n].name), "p%.10s",
			 e->d_name + plen);
		n++;
	}
	closedir(d);
	if (n > 0) {
		qsort(parts, (size_t)n, sizeof(*parts), cmp_part);
		return n;
	}
	if (read_devnum(sys, &parts[0]) < 0)
		return -ENXIO;
	snprintf(parts[0].dev, sizeof(parts[0].dev), "/dev/loop%d", nr);
	parts[0].name[0] = '\0';
	return 1;
}

/* --- file systems ------------------------------------------------- */

/*
 * Run @argv (a util-linux tool, found in PATH) with its stdout in @out (up
 * to @len - 1 bytes, NUL-terminated; NULL: thrown away) and its stderr
 * thrown away.  Return: its exit status, or -errno (-ENOEXEC: not found).
 */
static int run_tool(const char *const argv[], char *out, size_t len)
{
	int pfd[2], status, devnull;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(pfd[1], STDOUT_FILENO);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while (out && got + 1 < len &&
	       (n = read(pfd[0], out + got, len - 1 - got)) > 0)
		got += (size_t)n;
	if (out)
		out[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		return -ENOEXEC;
	return WEXITSTATUS(status);
}

/*
 * The file system type on @dev as blkid(8) probes it (-p: the device
 * itself, no cache).  Return: 0, -ENOENT (nothing recognised), -errno.
 */
static int probe_fs(const char *dev, char *type, size_t len)
{
	const char *argv[] = { "blkid", "-p", "-u", "filesystem", "-o", "value",
				"-s", "TYPE", dev, NULL };
	int r = run_tool(argv, type, len);

	if (r < 0)
		return r;
	type[strcspn(type, "\n")] = '\0';
	return r == 0 && *type ? 0 : -ENOENT;
}

/*
 * A kernel built without partition parsers (CONFIG_MSDOS_PARTITION,
 * CONFIG_EFI_PARTITION) finds no partitions however the loop device is
 * set up: when it found none, let partx(8) read the table and add them
 * (BLKPG); a disk without a table is left as it is.
 */
static void add_parts(int nr)
{
	char dev[32], pt[64];
	const char *probe[] = { "blkid", "-p", "-o", "value", "-s", "PTTYPE", dev,
			  NULL };
	const char *partx[] = { "partx", "-a", dev, NULL };
	struct part p;

	if (list_parts(nr, &p, 1) == 1 && p.name[0])
		return;			/* the kernel has them */
	snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
	if (run_tool(probe, pt, sizeof(pt)) != 0 || pt[0] == '\n' || !pt[0])
		return;
	run_tool(partx, NULL, 0);
}

struct mounted {
	const struct part *parts;
	int nparts;
	char (*points)[PATH_MAX];
	int n, max;
};

static int match_mount(const struct mi_entry *e, void *arg)
{
	struct mounted *m = arg;

	for (int i = 0; i < m->nparts && m->n < m->max; i++)
		if (e->major == m->parts[i].major &&
		    e->minor == m->parts[i].minor)
			snprintf(m->points[m->n++], PATH_MAX, "%s", e->point);
	return 0;
}

/*
 * Unmount every file system mounted from /dev/loop@nr or its partitions,
 * newest first.  Return: 0, or -1 after one line naming the busy one.
 */
static int unmount_all(int nr, const char *what)
{
	static char points[MAX_PARTS][PATH_MAX];
	struct part parts[MAX_PARTS + 1];
	struct mounted m = { parts, 0, points, 0, MAX_PARTS };
	int r;

	r = list_parts(nr, parts, MAX_PARTS);
	if (r < 0)
		return 0;		/* gone already: nothing mounted */
	m.nparts = r;
	/* the whole device too, when it has partitions */
	if (parts[0].name[0]) {
		char sys[64];

		snprintf(sys, sizeof(sys), "/sys/block/loop%d", nr);
		if (read_devnum(sys, &parts[m.nparts]) == 0)
			m.nparts++;
	}
	mi_each(match_mount, &m);
	for (int i = m.n - 1; i >= 0; i--) {
		if (umount2(points[i], 0) < 0)
			return error("%s: cannot unmount %s: %s (nothing "
				     "detached)", what, points[i],
				     strerror(errno));
	}
	return 0;
}

/* The journaling file systems that can be mounted without replaying. */
static int has_norecovery(const char *type)
{
	return !strcmp(type, "ext3") || !strcmp(type, "ext4") ||
	       !strcmp(type, "xfs");
}

/*
 * Mount each partition of /dev/loop@nr at DIR/pM, or the whole device at
 * DIR; a partition without a recognised file system is named and left.
 * Return: 0, or -1 after one line (what was mounted is unmounted again).
 */
static int mount_all(int nr, const char *arg, const char *dir, int rw,
		     struct json *j, FILE *out)
{
	unsigned long flags = MS_NOSUID | MS_NODEV | (rw ? 0 : MS_RDONLY);
	struct part parts[MAX_PARTS];
	char point[PATH_MAX], type[64];
	int n, i, done = 0, r;

	n = list_parts(nr, parts, MAX_PARTS);
	if (n < 0)
		return error("disk %s: /dev/loop%d: %s", arg, nr,
			     strerror(-n));
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return error("--mount %s: %s", dir, strerror(errno));
	if (j)
		json_arr_begin(j, "mounts");
	for (i = 0; i < n; i++) {
		r = probe_fs(parts[i].dev, type, sizeof(type));
		if (r == -ENOEXEC) {
			if (j)
				json_arr_end(j);
			unmount_all(nr, arg);
			return error("disk %s: cannot run blkid(8) to find "
				     "its file system", arg);
		}
		if (r < 0) {
			if (n > 1)
				warning("disk %s: %s: no recognisable file "
					"system; not mounted", arg,
					parts[i].dev);
			continue;
		}
		if (parts[i].name[0]) {
			snprintf(point, sizeof(point), "%s/%s", dir,
				 parts[i].name);
			if (mkdir(point, 0755) < 0 && errno != EEXIST) {
				r = -errno;
				goto fail;
			}
		} else {
			snprintf(point, sizeof(point), "%s", dir);
		}
		r = mount(parts[i].dev, point, type, flags, NULL) < 0 ?
		    -errno : 0;
		/* a journal to replay (a VM that stopped dirty) on a device
		 * that is read-only: browse without replaying it */
		if (r == -EROFS && !rw && has_norecovery(type)) {
			r = mount(parts[i].dev, point, type, flags,
				  "norecovery") < 0 ? -errno : 0;
			if (r == 0)
				warning("disk %s: %s: its journal needs "
					"recovery; mounted without replaying "
					"it (--rw replays it)", arg,
					parts[i].dev);
		}
		if (r < 0)
			goto fail;
		done++;
		if (j) {
			json_obj_begin(j, NULL);
			json_str(j, "device", parts[i].dev);
			json_str(j, "mountpoint", point);
			json_str(j, "type", type);
			json_bool(j, "readOnly", !rw);
			json_obj_end(j);
		} else {
			fprintf(out, "%s on %s type %s (%s)\n", parts[i].dev,
				point, type, rw ? "rw" : "ro");
		}
	}
	if (j)
		json_arr_end(j);
	if (!done)
		return error("disk %s: no recognisable file system on "
			     "/dev/loop%d%s", arg, nr,
			     n > 1 ? " nor on its partitions" :
			     " (nor a partition table)");
	return 0;
fail:
	if (j)
		json_arr_end(j);
	unmount_all(nr, arg);
	return error("disk %s: cannot mount %s (%s) on %s: %s", arg,
		     parts[i].dev, type, point, strerror(-r));
}

/* --- attach -------------------------------------------------------- */

int disk_attach(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *arg = NULL, *dir = NULL, *v;
	struct loopdev_info li;
	struct attach_disk d;
	int rdonly = 0, rw = 0, fd, nr, r, i;
	char *out = NULL;
	size_t outlen = 0;
	FILE *mo = NULL;
	struct json j;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(attach_usage, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--read-only")) {
			rdonly = 1;
		} else if (!strcmp(argv[i], "--rw")) {
			rw = 1;
		} else if ((r = cli_take(argc, argv, &i, "--mount", &v))) {
			if (r < 0)
				return cli_usage(NULL, "disk attach: --mount "
						 "needs a value");
			dir = v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return cli_usage(NULL, "disk attach: %s: unknown "
					 "option", argv[i]);
		} else if (arg) {
			return cli_usage(NULL, "disk attach: needs one "
					 "MNT/NAME.vhd");
		} else {
			arg = argv[i];
		}
	}
	if (!arg)
		return cli_usage(NULL, "disk attach: needs MNT/NAME.vhd");
	if (rw && !dir)
		return cli_usage(NULL, "disk attach: --rw goes with --mount");
	if (rw && rdonly)
		return cli_usage(NULL, "disk attach: --rw and --read-only "
				 "exclude each other");
	/* browsing is read-only down to the block device, unless --rw */
	if (dir && !rw)
		rdonly = 1;

	fd = open_disk(arg, rdonly, &d);
	if (fd < 0)
		return EXIT_FAIL;
	nr = attached_as(d.path);
	if (nr >= 0) {
		close(fd);
		return error("disk %s: already attached as /dev/loop%d", arg,
			     nr), EXIT_FAIL;
	}
	r = loopdev_attach(fd, d.path, d.size, d.sector_size,
			   LOOPDEV_PARTSCAN | (rdonly ? LOOPDEV_RDONLY : 0),
			   &nr);
	close(fd);
	if (r == -EACCES || r == -EPERM)
		return error("disk %s: cannot set up a loop device: %s "
			     "(attaching needs root)", arg, strerror(-r)),
		       EXIT_FAIL;
	if (r < 0)
		return error("disk %s: cannot set up a loop device: %s", arg,
			     strerror(-r)), EXIT_FAIL;
	add_parts(nr);
	r = loopdev_get(nr, &li);
	if (r == 0 && !li.direct_io)
		warning("disk %s: the kernel refused direct I/O on "
			"/dev/loop%d: a second page cache holds its data",
			arg, nr);

	/* all output waits until it all worked: nothing half-printed */
	mo = open_memstream(&out, &outlen);
	if (!mo) {
		r = -ENOMEM;
		goto undo;
	}
	if (ctx->json) {
		char dev[32];

		snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
		json_init(&j, mo, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_str(&j, "disk", d.path);
		json_str(&j, "mountpoint", d.mnt);
		json_str(&j, "device", dev);
		json_uint(&j, "sectorSize", d.sector_size);
		json_uint(&j, "sizeBytes", d.size);
		json_bool(&j, "readOnly", rdonly);
		json_bool(&j, "directIO", r == 0 && li.direct_io);
	} else {
		fprintf(mo, "/dev/loop%d\n", nr);
	}
	if (dir && mount_all(nr, arg, dir, rw, ctx->json ? &j : NULL,
			     mo) < 0) {
		r = -1;
		goto undo;
	}
	if (ctx->json) {
		json_obj_end(&j);
		json_end(&j);
	}
	if (fclose(mo)) {
		mo = NULL;
		r = -ENOMEM;
		goto undo;
	}
	fputs(out, stdout);
	free(out);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
undo:
	if (mo)
		fclose(mo);
	free(out);
	if (r == -ENOMEM)
		error("disk %s: out of memory", arg);
	r = loopdev_detach(nr);
	if (r < 0)
		error("/dev/loop%d: cannot detach: %s", nr, strerror(-r));
	return EXIT_FAIL;
}

/* --- detach -------------------------------------------------------- */

int disk_detach(int argc, char **argv, struct cli_ctx *ctx)
{
	char path[PATH_MAX], backing[PATH_MAX], mnt[PATH_MAX];
	const char *arg;
	struct stat st;
	int nr, r;

	(void)ctx;
	if (argc == 2 && (!strcmp(argv[1], "-h") ||
			  !strcmp(argv[1], "--help"))) {
		fputs(attach_usage, stdout);
		return EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(NULL, argc != 2 ?
				 "disk detach: needs /dev/loopN or "
				 "MNT/NAME.vhd" :
				 "disk detach: %s: unknown option", argv[1]);
	arg = argv[1];
	if (loopdev_parse(arg, &nr) == 0) {
		/* only a loop device over a disk of an ssefs mount */
		if (loopdev_backing(nr, backing, sizeof(backing)) < 0)
			return error("%s: not attached", arg), EXIT_FAIL;
		if (stat(backing, &st) < 0 ||
		    !mi_ssefs_dev(st.st_dev, mnt, sizeof(mnt)))
			return error("%s: its backing file %s is not a disk "
				     "in an ssefs mount", arg, backing),
			       EXIT_FAIL;
	} else {
		if (!realpath(arg, path))
			return error("disk %s: %s", arg, strerror(errno)),
			       EXIT_FAIL;
		nr = attached_as(path);
		if (nr < 0)
			return error("disk %s: not attached", arg), EXIT_FAIL;
	}
	if (unmount_all(nr, arg) < 0)
		return EXIT_FAIL;
	r = loopdev_detach(nr);
	if (r == -EBUSY)
		return error("%s: /dev/loop%d is in use (held open, or a "
			     "device mapper or RAID member): nothing "
			     "detached", arg, nr), EXIT_FAIL;
	if (r < 0)
		return error("%s: cannot detach /dev/loop%d: %s", arg, nr,
			     strerror(-r)), EXIT_FAIL;
	return EXIT_OK;
}
