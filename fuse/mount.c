/*
 * mount.c - the mount daemon: store lock, store scan, libfuse setup, the
 * multithreaded loop, background tasks, teardown with keys wiped
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse.h>
#include <fuse_lowlevel.h>

#include "cache/hostdir.h"
#include "crypto/secmem.h"
#include "fuse/cache.h"
#include "fuse/ctl.h"
#include "fuse/fs.h"
#include "fuse/fuseio.h"
#include "fuse/fuseuring.h"
#include "fuse/mount.h"
#include "fuse/ops.h"
#include "store/blobback.h"
#include "svc/storelock.h"
#include "util/json.h"
#include "util/log.h"

/* The mount's default for new disks, checked once at mount time. */
static char *default_ref(const struct mount_opts *o)
{
	if (o->des)
		return NULL;		/* newdisk asks the DES each time */
	return strdup(o->key ? o->key : "platform");
}

static int start_tasks(struct ssefs_fs *fs, int *started)
{
	int i, r;

	for (i = 0; ssefs_tasks[i].name; i++) {
		r = ssefs_tasks[i].start(fs);
		if (r < 0) {
			error("mount: cannot start the %s task: %s",
			      ssefs_tasks[i].name, strerror(-r));
			*started = i;
			return r;
		}
	}
	*started = i;
	return 0;
}

static void stop_tasks(struct ssefs_fs *fs, int started)
{
	while (started-- > 0)
		ssefs_tasks[started].stop(fs);
}

/*
 * What libfuse says while it parses the options ("fuse: unknown
 * option(s): `-o foo'"), kept to be told in ssefs's one line.  libfuse's
 * log hook takes no argument, hence the static buffer; it is used only
 * around fuse_new(), before any thread exists.
 */
static char fuse_said[256];

static int fuse_said_done;

static void keep_fuse_log(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	size_t len = strlen(fuse_said), n;

	(void)level;
	if (fuse_said_done || len + 1 >= sizeof(fuse_said))
		return;		/* the first line says why; it may come in parts */
	vsnprintf(fuse_said + len, sizeof(fuse_said) - len, fmt, ap);
	n = strcspn(fuse_said, "\n");
	if (fuse_said[n]) {
		fuse_said[n] = '\0';
		fuse_said_done = 1;
	}
}

/*
 * fuse_mount(), with what it and fusermount3 (which libfuse runs for a
 * user who is not root) write on stderr kept: the first line, without
 * its "fusermount3: " or "fuse: ", goes into @why, so that a failed mount
 * is one line ("option allow_other only allowed if 'user_allow_other' is
 * set in /etc/fuse.conf").  No other thread runs yet.
 */
static int mount_told(struct fuse *fuse, const char *mnt, char *why,
		      size_t len)
{
	static const char *const who[] = {
		"fusermount3: ", "fusermount: ", "fuse: "
	};
	int mfd, saved = -1, r;
	ssize_t n = 0;
	size_t i;

	*why = '\0';
	mfd = memfd_create("ssefs-mount", MFD_CLOEXEC);
	if (mfd >= 0) {
		fflush(stderr);
		saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (saved < 0 || dup2(mfd, STDERR_FILENO) < 0) {
			if (saved >= 0)
				close(saved);
			saved = -1;
		}
	}
	r = fuse_mount(fuse, mnt);
	if (saved >= 0) {
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		n = pread(mfd, why, len - 1, 0);
		/* a mount that worked: what was said is not ours to drop */
		if (r == 0 && n > 0 && write(STDERR_FILENO, why, (size_t)n) < 0)
			n = 0;
	}
	if (mfd >= 0)
		close(mfd);
	why[n > 0 ? n : 0] = '\0';
	why[strcspn(why, "\n")] = '\0';
	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		size_t w = strlen(who[i]);

		if (!strncmp(why, who[i], w)) {
			memmove(why, why + w, strlen(why + w) + 1);
			break;
		}
	}
	return r;
}

int ssefs_mount_main(struct ssefs_mount_args *a)
{
	struct fuse_loop_config lc = { .clone_fd = 1, .max_idle_threads = 16 };
	struct ssefs_fs *fs;
	struct fuse *fuse = NULL;
	unsigned int nd = 0, nb = 0;
	int r, ret = -EIO, mounted = 0, tasks = 0, ctl = 0, sigs = 0;

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		error("mount: out of memory");
		return -ENOMEM;
	}
	r = ssefs_fs_init(fs, a->store, a->mnt, a->vault, a->vault_dir);
	if (r < 0) {
		error("store %s: %s", a->store, strerror(-r));
		goto out;
	}
	fs->opts = *a->opts;		/* take over the strings */
	fs->host = *a->host;		/* and the host cache directory */
	a->host->path = NULL;
	a->host->fd = a->host->lock_fd = -1;
	mount_opts_init(a->opts);
	fs->default_kid_ref = default_ref(&fs->opts);

	/* a blob store: its client, with the mount's options */
	if (blob_is_url(a->store) && ssefs_fs_open_blob(fs) < 0)
		goto out;
	/* Headers only, no keys: a store of 1000 disks mounts at once.  A
	 * container that cannot be listed (a 403) is no mount. */
	if (ssefs_fs_scan(fs, &nd, &nb) < 0 && fs->blob)
		goto out;
	/* the host cache, and what an earlier mount left in it */
	if (fs_cache_open(fs) < 0)
		goto out;

	*fuse_said = '\0';
	fuse_said_done = 0;
	fuse_set_log_func(keep_fuse_log);
	fuse = fuse_new(a->fargs, fs->blob ? ssefs_blob_ops() : &ssefs_ops,
			sizeof(ssefs_ops), fs);
	fuse_set_log_func(NULL);	/* back to libfuse's stderr */
	if (!fuse) {
		/* one line: "ssefs: mount: unknown option(s): `-o foo'" */
		error("mount: %s", *fuse_said ? fuse_said +
		      (strncmp(fuse_said, "fuse: ", 6) ? 0 : 6) :
		      "libfuse refused the options");
		ret = -EINVAL;
		goto out;
	}
	if (mount_told(fuse, a->mnt, fuse_said, sizeof(fuse_said)) != 0) {
		error("%s: cannot mount%s%s", a->mnt, *fuse_said ? ": " : "",
		      fuse_said);
		goto out;
	}
	mounted = 1;
	fs->fuse = fuse;
	/* one FUSE round trip per write, not two (fuse/fuseio.h) */
	/* FUSE over io_uring where the kernel offers it (fuse/fuseuring.h) */
	r = fuseio_install(fuse_get_session(fuse),
			   fs->opts.io_uring != IO_URING_OFF);
	if (r < 0)
		warning("mount: FUSE_HANDLE_KILLPRIV_V2 not requested, writes "
			"will be slower: %s", strerror(-r));
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0) {
		error("mount: cannot set signal handlers");
		goto out;
	}
	sigs = 1;
	/* --json: the mount is in place; say so before the daemon leaves
	 * (flushed, so that its child does not print it again) */
	if (a->json) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_str(&j, "store", a->store);
		json_str(&j, "mountpoint", a->mnt);
		json_uint(&j, "disks", nd);
		json_uint(&j, "damagedDisks", nb);
		json_bool(&j, "foreground", a->foreground);
		json_obj_end(&j);
		json_end(&j);
		fflush(stdout);
	}
	if (!a->foreground) {
		if (fuse_daemonize(0) != 0) {
			error("mount: cannot become a daemon");
			goto out;
		}
		log_use_syslog(1);
		/* a host cache replay may have used an hsm key's token */
		vault_after_fork(fs->vault);
	}
	fs->pid = getpid();
	if (a->lock_fd >= 0)
		store_lock_set_pid(a->lock_fd, fs->pid);
	if (fs->host.fd >= 0)
		hostdir_set_pid(&fs->host, fs->pid);
	/*
	 * The daemon's memory is locked, and locked pages are never returned
	 * by free(): glibc's trim (madvise) fails on them.  Its default
	 * sliding mmap threshold would move libfuse's per-thread receive
	 * buffers (max_write + a page: a chunk of 1 MiB + 4112) into the
	 * arenas after the first one is freed, where what they leave stays
	 * resident for good.  With a fixed threshold of 1 MiB + 4096 they
	 * are mapped on their own and unmapped whole when freed, so a burst
	 * of threads leaves nothing behind (37 -> 26 MiB, BENCHMARKS.md,
	 * ninth session).
	 * The buffer libfuse allocates for every READ (up to max_read, a
	 * chunk of 1 MiB + 16) stays below it, in the arenas, and is reused
	 * by the next read: mapped afresh each time (the threshold was
	 * 1 MiB + 1 until the thirteenth session), each of its 256 pages
	 * faulted in again, and on this VM that made 1 MiB sequential reads
	 * of a disk run at 300 instead of 2000 MB/s (BENCHMARKS.md,
	 * thirteenth session), for 3-5 MiB more resident memory.
	 */
	mallopt(M_MMAP_THRESHOLD, (1 << 20) + 4096);
#ifndef __SANITIZE_ADDRESS__
	r = secmem_lock_all();
	if (r < 0)
		warning("mount: cannot lock the daemon's memory: %s",
			strerror(-r));
#endif
	r = fs_cache_start(fs);
	if (r < 0) {
		error("mount: cannot start the host cache write-back: %s",
		      strerror(-r));
		goto out;
	}
	if (start_tasks(fs, &tasks) < 0)
		goto out;
	/* Last, so that the first `ssefs status` already sees the temp
	 * disk and the tasks (it waits for the socket; ssefs-mount(8)). */
	r = ctl_start(fs);
	if (r < 0)
		warning("mount: no control socket (ssefs status will not "
			"work): %s", strerror(-r));
	else
		ctl = 1;
	if (nb)
		warning("store %s: %u damaged disk%s (see ssefs status)",
			a->store, nb, nb == 1 ? "" : "s");
	info("store %s mounted on %s: %u disk%s", a->store, a->mnt, nd,
	     nd == 1 ? "" : "s");

	r = fuse_loop_mt(fuse, &lc);
	if (r < 0)
		r = -r;
	/* libfuse reports the signal that ended the loop: a clean stop */
	if (r != 0 && r != EINTR && r != SIGTERM && r != SIGINT &&
	    r != SIGHUP) {
		error("%s: the file system loop failed: %s", a->mnt,
		      strerror(r));
		goto out;
	}
	ret = 0;
out:
	fs->stopping = 1;
	stop_tasks(fs, tasks);
	if (ctl)
		ctl_stop(fs);
	if (fuse) {
		if (sigs)
			fuse_remove_signal_handlers(fuse_get_session(fuse));
		if (mounted)
			fuse_unmount(fuse);
		fuseuring_stop();	/* no ring thread inside the ops */
		fuse_destroy(fuse);	/* ->destroy closes the volumes */
	}
	fs->fuse = NULL;
	ssefs_fs_close_all(fs);		/* whatever is left: keys wiped */
	fs_cache_close(fs);		/* after every disk detached */
	ssefs_fs_destroy(fs);
	free(fs);
	return ret;
}
