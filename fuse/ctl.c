/*
 * ctl.c - the control socket: status over a unix socket, callers checked
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "cache/hcache.h"
#include "crypto/envelope.h"
#include "disk/volume.h"
#include "fuse/ctl.h"
#include "fuse/fs.h"
#include "fuse/fuseuring.h"
#include "fuse/linger.h"
#include "fuse/tempdisk.h"
#include "keyvault/vault.h"
#include "store/azblob.h"
#include "store/blobback.h"
#include "svc/errors.h"
#include "util/io.h"
#include "util/json.h"
#include "util/log.h"
#include "util/loopdev.h"
#include "util/name.h"
#include "util/parse.h"
#include "util/trust.h"

static int ctl_dir(uid_t uid, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (uid == 0)
		n = snprintf(buf, len, "/run/ssefs");
	else if (xdg && *xdg == '/')
		n = snprintf(buf, len, "%s/ssefs", xdg);
	else
		n = snprintf(buf, len, "/tmp/ssefs-%u", (unsigned int)uid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Check the socket folder of @uid with trust_dir() (@make: make it first,
 * 0700, with trust_mkdir()); *@why gets the whole line on a refusal.
 */
static int ctl_dir_check(uid_t uid, int make, char *why, size_t len)
{
	char dir[4096], w[1024];
	int r;

	*why = '\0';
	r = ctl_dir(uid, dir, sizeof(dir));
	if (r < 0)
		return r;
	r = make ? trust_mkdir(dir, 0700, uid, TRUST_NOFOLLOW, w,
				  sizeof(w)) :
		   trust_dir(dir, uid, TRUST_NOFOLLOW, w, sizeof(w));
	if (r == -EPERM || r == -ENOTDIR)
		snprintf(why, len, "the control socket's folder %s is not "
			 "safe: %s%s", dir, w, uid && make ?
			 " (or set XDG_RUNTIME_DIR to a folder of yours)" : "");
	else if (r < 0 && make)
		snprintf(why, len, "the control socket's folder %s: %s", dir,
			 strerror(-r));
	return r;
}

int ctl_prepare_dir(uid_t uid, char *why, size_t len)
{
	return ctl_dir_check(uid, 1, why, len);
}

int ctl_socket_path(const char *mnt_real, uid_t uid, char *buf, size_t len)
{
	unsigned char h[16];
	char hex[33], dir[4096];
	int r, n;

	r = ctl_dir(uid, dir, sizeof(dir));
	if (r < 0)
		return r;
	crypto_generichash(h, sizeof(h), (const unsigned char *)mnt_real,
			   strlen(mnt_real), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	n = snprintf(buf, len, "%s/%s.sock", dir, hex);
	if (n < 0 || (size_t)n >= len ||
	    (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

/* ---- status ---- */

#define STATUS_LOOPS	64	/* loop devices named per status */

struct status_loop {
	int nr;
	char *rel;		/* the disk's path in the mount */
};

struct status_ctx {
	FILE *f;
	struct json *j;
	unsigned int ndisks, nbad, nopen;
	const char *mnt;
	struct status_loop loops[STATUS_LOOPS];
	unsigned int nloops;
};

/* A loop device whose backing file is in this mount (ssefs disk attach). */
static int collect_loop(int nr, const char *backing, void *arg)
{
	struct status_ctx *c = arg;
	size_t n = strlen(c->mnt);

	if (strncmp(backing, c->mnt, n) || backing[n] != '/' ||
	    c->nloops >= STATUS_LOOPS)
		return 0;
	c->loops[c->nloops].rel = strdup(backing + n + 1);
	if (c->loops[c->nloops].rel)
		c->loops[c->nloops++].nr = nr;
	return 0;
}

static void free_loops(struct status_ctx *c)
{
	while (c->nloops)
		free(c->loops[--c->nloops].rel);
}

/* "attached: /dev/loopN" for each loop device over @rel */
static void status_attached(struct status_ctx *c, const char *rel)
{
	char dev[32];
	int any = 0;

	if (c->j)
		json_arr_begin(c->j, "loopDevices");
	for (unsigned int i = 0; i < c->nloops; i++) {
		if (strcmp(c->loops[i].rel, rel))
			continue;
		snprintf(dev, sizeof(dev), "/dev/loop%d", c->loops[i].nr);
		if (c->j)
			json_str(c->j, NULL, dev);
		else
			fprintf(c->f, "%s%s", any ? ", " :
				"  attached:        ", dev);
		any = 1;
	}
	if (c->j)
		json_arr_end(c->j);
	else if (any)
		fputc('\n', c->f);
}

static const char *disk_state_name(int s)
{
	switch (s) {
	case DISK_GRACE:
		return "grace";
	case DISK_REVOKED:
		return "revoked";
	}
	return "ok";
}

static int status_disk(struct ssefs_fs *fs, struct disk_node *n, void *arg)
{
	struct status_ctx *c = arg;
	enum key_state ks = KEY_MISSING;
	struct env_header h;
	char rel[4096], uuid[37], err[256], esc[4096];
	uint64_t size = 0, rd, wr;
	int pr, open, state, opened_rc, lingering, wb = 0;
	uint64_t dirty = 0;
	time_t since;
	int64_t grace_left;

	if (n->flags & NODE_OUTSIDE)
		return 0;	/* not a store disk (status_tempdisk()) */
	ssefs_fs_probe(fs, n);
	pthread_mutex_lock(&n->lock);
	snprintf(rel, sizeof(rel), "%s", n->rel);
	pr = n->probe_rc;
	open = n->vol != NULL;
	lingering = node_lingers(n);
	if (n->vol) {
		vol_get_header(n->vol, &h);
		size = vol_size(n->vol);
		wb = vol_write_back(n->vol, &dirty);
	} else {
		h = n->hdr;
		size = pr == 0 ? h.plain_size : 0;
	}
	state = n->state;
	since = n->state_since;
	opened_rc = n->open_rc;
	snprintf(err, sizeof(err), "%s", n->state_detail);
	pthread_mutex_unlock(&n->lock);
	grace_left = (int64_t)since + (int64_t)fs->opts.revoke_grace -
		     (int64_t)time(NULL);
	if (grace_left < 0)
		grace_left = 0;
	rd = __atomic_load_n(&n->bytes_read, __ATOMIC_RELAXED);
	wr = __atomic_load_n(&n->bytes_written, __ATOMIC_RELAXED);

	if (pr != 0) {
		c->nbad++;
		if (c->j) {
			json_obj_begin(c->j, NULL);
			json_str(c->j, "path", rel);
			json_bool(c->j, "valid", 0);
			json_str(c->j, "error", svc_strerror(pr));
			json_obj_end(c->j);
		} else {
			fprintf(c->f, "%s\n  error:           %s\n",
				name_escape(rel, esc, sizeof(esc)),
				svc_strerror(pr));
		}
		return 0;
	}
	c->ndisks++;
	c->nopen += open;
	ks = ssefs_fs_key_state(fs, &h, NULL);
	format_uuid(h.uuid, uuid);
	if (c->j) {
		json_obj_begin(c->j, NULL);
		json_str(c->j, "path", rel);
		json_bool(c->j, "valid", 1);
		json_str(c->j, "uuid", uuid);
		json_uint(c->j, "vhdSizeBytes", size);
		json_str(c->j, "encryptionType", env_type_name(h.enc_type));
		json_str(c->j, "des", h.des[0] ? h.des : NULL);
		json_str(c->j, "kid", h.layer[0].kid);
		if (h.nlayers > 1)
			json_str(c->j, "platformKid", h.layer[1].kid);
		json_str(c->j, "keyState", key_state_name(ks));
		json_bool(c->j, "open", open);
		json_bool(c->j, "lingering", lingering);
		if (wb)
			json_uint(c->j, "dirtySectors", dirty);
		else
			json_null(c->j, "dirtySectors");
		status_attached(c, rel);
		json_uint(c->j, "bytesRead", rd);
		json_uint(c->j, "bytesWritten", wr);
		json_str(c->j, "state", disk_state_name(state));
		json_time(c->j, "stateSince", since);
		json_str(c->j, "stateDetail", err[0] ? err : NULL);
		if (state == DISK_GRACE)
			json_int(c->j, "graceSecondsLeft", grace_left);
		else
			json_null(c->j, "graceSecondsLeft");
		json_str(c->j, "lastOpenError",
			 opened_rc < 0 ? svc_strerror(opened_rc) : NULL);
		json_obj_end(c->j);
		return 0;
	}
	/* one line per name, whatever it holds (JSON escapes its own) */
	fprintf(c->f, "%s\n", name_escape(rel, esc, sizeof(esc)));
	fprintf(c->f, "  encryption type: %s\n", env_type_name(h.enc_type));
	if (h.des[0])
		fprintf(c->f, "  des:             %s\n", h.des);
	fprintf(c->f, "  kid:             %s\n", h.layer[0].kid);
	if (h.nlayers > 1)
		fprintf(c->f, "  platform kid:    %s\n", h.layer[1].kid);
	fprintf(c->f, "  key state:       %s\n", key_state_name(ks));
	fprintf(c->f, "  size:            %llu\n", (unsigned long long)size);
	fprintf(c->f, "  open:            %s\n", !open ? "no" :
		lingering ? "yes, no file handle: lingers until written back" :
		"yes");
	if (wb)
		fprintf(c->f, "  dirty sectors:   %llu\n",
			(unsigned long long)dirty);
	status_attached(c, rel);
	fprintf(c->f, "  bytes read:      %llu\n", (unsigned long long)rd);
	fprintf(c->f, "  bytes written:   %llu\n", (unsigned long long)wr);
	fprintf(c->f, "  state:           %s%s%s\n", disk_state_name(state),
		err[0] ? ": " : "", err);
	if (state == DISK_GRACE)
		fprintf(c->f, "  grace left:      %llds\n", (long long)grace_left);
	if (opened_rc < 0)
		fprintf(c->f, "  last open error: %s\n",
			svc_strerror(opened_rc));
	return 0;
}

/* The temp disk: like a disk, plus where it lives and how it is kept. */
static void status_tempdisk(struct ssefs_fs *fs, struct status_ctx *c)
{
	struct tempdisk *t = fs->temp;
	struct disk_node *n = tempdisk_node(t);
	const char *kid = tempdisk_kid(t);
	uint64_t size = tempdisk_size(t), alloc, rd, wr;
	unsigned int refs;

	alloc = tempdisk_allocated(t);
	refs = __atomic_load_n(&n->refs, __ATOMIC_RELAXED);
	rd = __atomic_load_n(&n->bytes_read, __ATOMIC_RELAXED);
	wr = __atomic_load_n(&n->bytes_written, __ATOMIC_RELAXED);
	if (c->j) {
		json_obj_begin(c->j, "tempDisk");
		json_str(c->j, "path", TEMPDISK_NAME);
		json_str(c->j, "backingFile", tempdisk_path(t));
		json_bool(c->j, "encrypted", kid != NULL);
		json_str(c->j, "encryption", kid ? "EphemeralPlatformKey" :
			 "None");
		json_str(c->j, "kid", kid);
		json_uint(c->j, "vhdSizeBytes", size);
		json_uint(c->j, "diskSizeBytes", size - 512);
		json_uint(c->j, "allocatedBytes", alloc);
		json_bool(c->j, "open", refs > 0);
		status_attached(c, TEMPDISK_NAME);
		json_uint(c->j, "bytesRead", rd);
		json_uint(c->j, "bytesWritten", wr);
		json_obj_end(c->j);
		return;
	}
	fprintf(c->f, "%s (temp disk, discarded at unmount)\n", TEMPDISK_NAME);
	fprintf(c->f, "  backing file:    %s\n", tempdisk_path(t));
	if (kid) {
		fprintf(c->f, "  encryption:      encrypted at host, ephemeral "
			"platform key (in memory only)\n");
		fprintf(c->f, "  kid:             %s\n", kid);
	} else {
		fprintf(c->f, "  encryption:      none: PLAINTEXT on host "
			"storage (encryption_at_host=off)\n");
	}
	fprintf(c->f, "  size:            %llu\n", (unsigned long long)size);
	fprintf(c->f, "  allocated:       %llu\n", (unsigned long long)alloc);
	fprintf(c->f, "  open:            %s\n", refs ? "yes" : "no");
	status_attached(c, TEMPDISK_NAME);
	fprintf(c->f, "  bytes read:      %llu\n", (unsigned long long)rd);
	fprintf(c->f, "  bytes written:   %llu\n", (unsigned long long)wr);
}

void ctl_write_status(struct ssefs_fs *fs, FILE *f, int json)
{
	struct status_ctx c = { .f = f, .mnt = fs->mnt };
	struct json j;
	unsigned int nd, nb;
	char *opts = mount_opts_format(&fs->opts);
	const char *vname = fs->vault ? vault_name(fs->vault) : NULL;

	loopdev_each(collect_loop, &c);

	ssefs_fs_scan(fs, &nd, &nb);
	if (json) {
		json_init(&j, f, JSON_PRETTY);
		c.j = &j;
		json_obj_begin(&j, NULL);
		json_str(&j, "store", fs->store);
		json_str(&j, "mountpoint", fs->mnt);
		json_int(&j, "pid", fs->pid);
		json_str(&j, "vault", fs->vault_dir);
		json_str(&j, "vaultName", vname);
		json_str(&j, "options", opts);
		json_str(&j, "fuseTransport",
			 fuseuring_threads() ? "io_uring" : "/dev/fuse");
		json_str(&j, "defaultKey", fs->opts.des ? NULL :
			 (fs->opts.key ? fs->opts.key : "platform"));
		json_str(&j, "defaultDes", fs->opts.des);
		json_bool(&j, "encryptionAtHost",
			  fs->opts.encryption_at_host);
		json_str(&j, "caching", mount_caching_name(fs->opts.caching));
		json_str(&j, "hostCache", fs->opts.host_cache);
		if (fs->blob) {
			struct azb_stats bs;

			blob_store_stats(fs->blob, &bs);
			json_obj_begin(&j, "blobStore");
			json_uint(&j, "requests", bs.requests);
			json_uint(&j, "retries", bs.retries);
			json_uint(&j, "failures", bs.failures);
			json_uint(&j, "bytesIn", bs.bytes_in);
			json_uint(&j, "bytesOut", bs.bytes_out);
			json_uint(&j, "latencyUsAvg", bs.requests ?
				  bs.latency_us_total / bs.requests : 0);
			json_uint(&j, "latencyUsMax", bs.latency_us_max);
			json_obj_end(&j);
		}
		if (fs->hc) {
			struct hc_stats hs;

			hc_get_stats(fs->hc, &hs);
			json_obj_begin(&j, "hostCacheStats");
			json_str(&j, "file", HC_FILE);
			json_bool(&j, "plaintext", hs.file_plain);
			json_uint(&j, "sizeBytes", hs.slots * HC_SLOT_SIZE);
			json_uint(&j, "slots", hs.slots);
			json_uint(&j, "used", hs.used);
			json_uint(&j, "dirty", hs.dirty);
			json_uint(&j, "waitingForReplay", hs.pending);
			json_uint(&j, "hits", hs.hits);
			json_uint(&j, "misses", hs.misses);
			json_uint(&j, "writtenBack", hs.writebacks);
			json_uint(&j, "writtenThrough", hs.writethroughs);
			if (hs.last_err)
				json_str(&j, "lastWriteError",
					 strerror(hs.last_err));
			else
				json_null(&j, "lastWriteError");
			json_obj_end(&j);
		}
		pthread_mutex_lock(&fs->lock);	/* vs tempdisk_stop() */
		if (fs->temp)
			status_tempdisk(fs, &c);
		else
			json_null(&j, "tempDisk");
		pthread_mutex_unlock(&fs->lock);
		json_uint(&j, "keyCheckIntervalSeconds",
			  fs->opts.key_check_interval);
		json_uint(&j, "revokeGraceSeconds", fs->opts.revoke_grace);
		json_uint(&j, "rotateIntervalSeconds",
			  fs->opts.rotate_interval);
		json_arr_begin(&j, "disks");
		ssefs_fs_for_each_disk(fs, status_disk, &c);
		json_arr_end(&j);
		json_uint(&j, "diskCount", c.ndisks);
		json_uint(&j, "openCount", c.nopen);
		json_uint(&j, "badCount", c.nbad);
		json_obj_end(&j);
		json_end(&j);
		free(opts);
		free_loops(&c);
		return;
	}
	fprintf(f, "store:      %s\n", fs->store);
	fprintf(f, "mountpoint: %s\n", fs->mnt);
	fprintf(f, "daemon:     pid %d\n", (int)fs->pid);
	if (fs->blob) {
		struct azb_stats bs;
		char in[32], out[32];

		blob_store_stats(fs->blob, &bs);
		format_size(bs.bytes_in, in, sizeof(in));
		format_size(bs.bytes_out, out, sizeof(out));
		fprintf(f, "blob store: %llu requests, %llu retries, %llu "
			"failed; %s in, %s out; latency %.1f ms average, "
			"%.1f ms max\n", (unsigned long long)bs.requests,
			(unsigned long long)bs.retries,
			(unsigned long long)bs.failures, in, out,
			bs.requests ? bs.latency_us_total / 1000.0 /
			(double)bs.requests : 0.0, bs.latency_us_max / 1000.0);
	}
	fprintf(f, "vault:      %s (%s)\n", fs->vault_dir, vname ? vname : "?");
	fprintf(f, "options:    %s\n", opts ? opts : "?");
	if (fuseuring_threads())
		fprintf(f, "transport:  io_uring (%u threads, %lu requests)\n",
			fuseuring_threads(), fuseuring_served());
	else
		fprintf(f, "transport:  /dev/fuse\n");
	fprintf(f, "new disks:  %s%s\n",
		fs->opts.des ? "des " : fs->opts.key ? "key " : "",
		fs->opts.des ? fs->opts.des :
		fs->opts.key ? fs->opts.key : "platform key");
	pthread_mutex_lock(&fs->lock);	/* vs tempdisk_stop() */
	if (fs->opts.encryption_at_host)
		fprintf(f, "encryption at host: on (host cache: %s, "
			"temp disk: %s)\n",
			mount_caching_name(fs->opts.caching),
			fs->temp ? "encrypted under an ephemeral platform key" :
			"none");
	else
		fprintf(f, "encryption at host: off (the host cache and the "
			"temp disk hold plaintext on host storage; "
			"host cache: %s, temp disk: %s%s)\n",
			mount_caching_name(fs->opts.caching),
			fs->temp ? "plaintext in " : "none",
			fs->temp ? tempdisk_path(fs->temp) : "");
	if (fs->hc) {
		struct hc_stats hs;

		hc_get_stats(fs->hc, &hs);
		fprintf(f, "host cache: %s/%s, %s, %llu MiB, %llu of %llu "
			"slots used, %llu dirty, %llu waiting for replay; "
			"%llu hits, %llu misses, %llu written back, "
			"%llu written through%s%s%s\n",
			fs->host.path, HC_FILE,
			hs.file_plain ? "PLAINTEXT" : "ciphertext",
			(unsigned long long)(hs.slots * HC_SLOT_SIZE >> 20),
			(unsigned long long)hs.used,
			(unsigned long long)hs.slots,
			(unsigned long long)hs.dirty,
			(unsigned long long)hs.pending,
			(unsigned long long)hs.hits,
			(unsigned long long)hs.misses,
			(unsigned long long)hs.writebacks,
			(unsigned long long)hs.writethroughs,
			hs.last_err ? " (last cache write error: " : "",
			hs.last_err ? strerror(hs.last_err) : "",
			hs.last_err ? ")" : "");
	}
	fprintf(f, "\n");
	if (fs->temp)
		status_tempdisk(fs, &c);
	pthread_mutex_unlock(&fs->lock);
	ssefs_fs_for_each_disk(fs, status_disk, &c);
	fprintf(f, "\n%u disk%s, %u open, %u damaged\n", c.ndisks,
		c.ndisks == 1 ? "" : "s", c.nopen, c.nbad);
	free(opts);
	free_loops(&c);
}

/* ---- the daemon's side ---- */

static int ctl_listen_fd = -1;
static int ctl_wake[2] = { -1, -1 };
static char ctl_path[108];
static pthread_t ctl_thread;
static int ctl_running;

static void serve(struct ssefs_fs *fs, int cfd)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	char req[128];
	ssize_t n;
	size_t got = 0;
	FILE *f;
	struct pollfd p = { cfd, POLLIN, 0 };

	while (got < sizeof(req) - 1) {
		if (poll(&p, 1, 5000) <= 0)
			break;
		n = read(cfd, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(req, '\n', got))
			break;
	}
	req[got] = '\0';
	req[strcspn(req, "\n")] = '\0';
	/* read first, refuse after: a refused client still gets the line */
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    (cr.uid != 0 && cr.uid != fs->uid)) {
		const char *no = "error: permission denied\n";
		ssize_t w = write(cfd, no, strlen(no));

		(void)w;	/* nothing to do about a failure */
		close(cfd);
		return;
	}
	f = fdopen(cfd, "w");
	if (!f) {
		close(cfd);
		return;
	}
	if (!strcmp(req, "status json"))
		ctl_write_status(fs, f, 1);
	else if (!strcmp(req, "status"))
		ctl_write_status(fs, f, 0);
	else
		fprintf(f, "error: unknown request\n");
	fclose(f);
}

static void *ctl_main(void *arg)
{
	struct ssefs_fs *fs = arg;
	struct pollfd p[2];

	for (;;) {
		int cfd;

		p[0].fd = ctl_listen_fd;
		p[0].events = POLLIN;
		p[1].fd = ctl_wake[0];
		p[1].events = POLLIN;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		cfd = accept4(ctl_listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		serve(fs, cfd);
	}
	return NULL;
}

int ctl_start(struct ssefs_fs *fs)
{
	struct sockaddr_un sa;
	char why[1024];
	mode_t old;
	int r;

	r = ctl_socket_path(fs->mnt, geteuid(), ctl_path, sizeof(ctl_path));
	if (r < 0)
		return r;
	/* made 0700, then looked at: ours, a folder, no one else's to
	 * write (ssefs mount checked it before mounting, too) */
	r = ctl_prepare_dir(geteuid(), why, sizeof(why));
	if (r < 0) {
		if (*why)
			warning("%s", why);
		return r;
	}
	if (pipe2(ctl_wake, O_CLOEXEC) < 0)
		return -errno;
	ctl_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl_listen_fd < 0) {
		r = -errno;
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, ctl_path, strlen(ctl_path) + 1);
	unlink(ctl_path);		/* a stale socket of a dead daemon */
	old = umask(0177);
	r = bind(ctl_listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(ctl_path, 0600) < 0 ||
	    listen(ctl_listen_fd, 8) < 0) {
		r = -errno;
		goto fail;
	}
	r = pthread_create(&ctl_thread, NULL, ctl_main, fs);
	if (r) {
		r = -r;
		goto fail;
	}
	ctl_running = 1;
	return 0;
fail:
	ctl_stop(fs);
	return r;
}

void ctl_stop(struct ssefs_fs *fs)
{
	(void)fs;
	if (ctl_running) {
		ssize_t w = write(ctl_wake[1], "x", 1);

		(void)w;
		pthread_join(ctl_thread, NULL);
		ctl_running = 0;
	}
	if (ctl_listen_fd >= 0) {
		close(ctl_listen_fd);
		unlink(ctl_path);
	}
	ctl_listen_fd = -1;
	if (ctl_wake[0] >= 0)
		close(ctl_wake[0]);
	if (ctl_wake[1] >= 0)
		close(ctl_wake[1]);
	ctl_wake[0] = ctl_wake[1] = -1;
}

/* ---- the client's side ---- */

/*
 * Connect to @path, served by root or by @uid: no one else (SO_PEERCRED of
 * the listening socket).  Return: the fd, -EPERM (another user's server),
 * or -errno.
 */
static int try_connect(const char *path, uid_t uid)
{
	struct sockaddr_un sa;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    (cr.uid != uid && cr.uid != 0)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

int ctl_request(const char *mnt_real, const char *req, FILE *out,
		char *why, size_t whylen)
{
	char path[4096], buf[8192];
	uid_t me = geteuid();
	ssize_t n;
	int fd = -ENOTCONN, r;
	size_t total = 0;

	/* our own directory first, then root's (a root daemon); a folder
	 * someone else controls, or a server of someone else, is not
	 * trusted with the question, let alone the answer */
	*why = '\0';
	r = ctl_socket_path(mnt_real, me, path, sizeof(path));
	if (r == 0) {
		r = ctl_dir_check(me, 0, why, whylen);
		if (r == -EPERM || r == -ENOTDIR)
			return -EPERM;
		fd = r == 0 ? try_connect(path, me) : -ENOTCONN;
	}
	if (fd < 0 && me != 0 &&
	    ctl_socket_path(mnt_real, 0, path, sizeof(path)) == 0) {
		r = ctl_dir_check(0, 0, why, whylen);
		if (r == -EPERM || r == -ENOTDIR)
			return -EPERM;
		r = r == 0 ? try_connect(path, me) : -ENOTCONN;
		if (r >= 0 || r == -EACCES || r == -EPERM)
			fd = r;
	}
	if (fd == -EPERM)
		snprintf(why, whylen, "the control socket %s is served by "
			 "another user, not by you or root: refused", path);
	if (fd < 0)
		return fd == -EACCES || fd == -EPERM ? fd : -ENOTCONN;
	/* The daemon may refuse (and close) before it reads the request:
	 * no SIGPIPE, and its answer is still there to read. */
	{
		char line[256];
		int len = snprintf(line, sizeof(line), "%s\n", req);

		if (len > 0 && (size_t)len < sizeof(line) &&
		    send(fd, line, (size_t)len, MSG_NOSIGNAL) < 0 &&
		    errno != EPIPE && errno != ECONNRESET) {
			close(fd);
			return -ENOTCONN;
		}
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (total == 0 && !strncmp(buf, "error: permission denied",
					   24)) {
			close(fd);
			return -EACCES;
		}
		fwrite(buf, 1, (size_t)n, out);
		total += (size_t)n;
	}
	close(fd);
	if (n < 0)
		return -EIO;
	return total ? 0 : -ENOTCONN;
}
