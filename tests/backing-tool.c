/*
 * backing-tool.c - drive a struct backing (disk/backing.h) from the shell,
 * for tests only
 *
 *   backing-tool COMMAND TARGET [ARGS]
 *
 * TARGET is a blob, CONTAINER-URL/NAME (store/blobback.h), or a file path;
 * "holdmany SECONDS TARGET..." holds many at once (one renewer thread).
 * The file backing here is a minimal stand-in, temporary until the block
 * stack's disk/backing_file.c is on main: the tests compare the blob with
 * what a file holds after the same calls.  Credentials come from the
 * environment as for ssefs (AZB_CREDENTIALS names a credentials file);
 * BT_TIMEOUT_MS sets store_timeout, BT_LEASE_SECONDS the lease duration.
 * An error is the library's one line (or "backing-tool: COMMAND: TEXT")
 * and exit 1; usage is exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "disk/backing.h"
#include "disk/backing_file.h"
#include "disk/header.h"
#include "store/azblob.h"
#include "store/blobback.h"
#include "store/copy.h"

static const char *cmd;
static char msg[BLOB_MSG_MAX];

/* The file stand-in. */
struct file_backing {
	struct backing b;
	int fd;
};

static int fb_fd(struct backing *b)
{
	return ((struct file_backing *)b)->fd;
}

static int fb_pread(struct backing *b, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fb_fd(b), (char *)buf + done, len - done,
			  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += n;
	}
	memset((char *)buf + done, 0, len - done);
	return 0;
}

static int fb_pwrite(struct backing *b, const void *buf, size_t len,
		     uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fb_fd(b), (const char *)buf + done, len - done,
			   (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return 0;
}

static int fb_punch(struct backing *b, uint64_t off, uint64_t len)
{
	if (fallocate(fb_fd(b), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

static int fb_sync(struct backing *b)
{
	return fdatasync(fb_fd(b)) < 0 ? -errno : 0;
}

static int fb_get_size(struct backing *b, uint64_t *len)
{
	struct stat st;

	if (fstat(fb_fd(b), &st) < 0)
		return -errno;
	*len = (uint64_t)st.st_size;
	return 0;
}

static int fb_set_size(struct backing *b, uint64_t len)
{
	return ftruncate(fb_fd(b), (off_t)len) < 0 ? -errno : 0;
}

static int ofd(int fd, short type, off_t start, off_t len, int wait)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };

	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0)
		if (errno != EINTR)
			return errno == EAGAIN ? -EBUSY : -errno;
	return 0;
}

static int fb_hdr_lock(struct backing *b)
{
	return ofd(fb_fd(b), F_WRLCK, 0, HDR_INUSE_BYTE, 1);
}

static void fb_hdr_unlock(struct backing *b)
{
	ofd(fb_fd(b), F_UNLCK, 0, HDR_INUSE_BYTE, 0);
}

static int fb_hold_inuse(struct backing *b)
{
	return ofd(fb_fd(b), F_RDLCK, HDR_INUSE_BYTE, 1, 0);
}

static int fb_inuse(struct backing *b)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = HDR_INUSE_BYTE, .l_len = 1 };

	if (fcntl(fb_fd(b), F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static int fb_fingerprint(struct backing *b, struct backing_fp *fp)
{
	struct stat st;

	if (fstat(fb_fd(b), &st) < 0)
		return -errno;
	fp->a = st.st_dev;
	fp->b = st.st_ino;
	fp->size = st.st_size;
	fp->mtime_ns = st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
	fp->ctime_ns = st.st_ctim.tv_sec * 1000000000ull + st.st_ctim.tv_nsec;
	return 0;
}

static int fb_ranges(struct backing *b, uint64_t off, uint64_t len,
		     int (*fn)(void *arg, uint64_t off, uint64_t len),
		     void *arg)
{
	uint64_t end = off + len, size;
	off_t d, h;
	int r;

	r = fb_get_size(b, &size);
	if (r < 0)
		return r;
	if (end > size)
		end = size;
	while (off < end) {
		d = lseek(fb_fd(b), (off_t)off, SEEK_DATA);
		if (d < 0)
			return errno == ENXIO ? 0 : -errno;
		if ((uint64_t)d >= end)
			break;
		h = lseek(fb_fd(b), d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		if ((uint64_t)h > end)
			h = (off_t)end;
		r = fn(arg, (uint64_t)d, (uint64_t)(h - d));
		if (r)
			return r;
		off = (uint64_t)h;
	}
	return 0;
}

static void fb_close(struct backing *b)
{
	close(fb_fd(b));
	free(b->name);
	free(b);
}

static const struct backing_ops file_ops = {
	.kind = "file", .pread = fb_pread, .pwrite = fb_pwrite,
	.punch = fb_punch, .sync = fb_sync, .get_size = fb_get_size,
	.set_size = fb_set_size, .hdr_lock = fb_hdr_lock,
	.hdr_unlock = fb_hdr_unlock, .hold_inuse = fb_hold_inuse,
	.inuse = fb_inuse, .fingerprint = fb_fingerprint,
	.ranges = fb_ranges, .close = fb_close,
};

static int file_open(struct backing **out, const char *path, int create,
		     uint64_t size)
{
	struct file_backing *fb = calloc(1, sizeof(*fb));

	if (!fb)
		return -ENOMEM;
	fb->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL :
						   0), 0600);
	if (fb->fd < 0 || (create && ftruncate(fb->fd, (off_t)size) < 0)) {
		int r = -errno;

		if (fb->fd >= 0)
			close(fb->fd);
		free(fb);
		return r;
	}
	fb->b.ops = &file_ops;
	fb->b.name = strdup(path);
	*out = &fb->b;
	return 0;
}

static void notice(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 0);
}

/* Open TARGET: create (@create, of @size) or open it. */
static int target(struct backing **out, const char *t, int create,
		  uint64_t size, int flags)
{
	struct blob_store_opts o = { 0 };
	struct blob_store *s = NULL;
	char url[2048], name[1024];
	int r;

	if (!blob_is_url(t))
		return file_open(out, t, create, size);
	r = blob_url_split(t, url, sizeof(url), name, sizeof(name));
	if (r < 0)
		return r;
	o.credentials_file = getenv("AZB_CREDENTIALS");
	o.timeout_ms = getenv("BT_TIMEOUT_MS") ?
		(unsigned int)num(getenv("BT_TIMEOUT_MS")) : 0;
	o.lease_seconds = getenv("BT_LEASE_SECONDS") ?
		(int)num(getenv("BT_LEASE_SECONDS")) : 0;
	o.allow_http = getenv("BT_ALLOW_HTTP") != NULL;
	o.notice = notice;
	r = blob_store_open(&s, url, &o, msg, sizeof(msg));
	if (r < 0)
		return r;
	if (create)
		r = blob_backing_create(out, s, name, size, msg, sizeof(msg));
	else
		r = blob_backing_open(out, s, name, flags, msg, sizeof(msg));
	blob_store_close(s);		/* the backing keeps it */
	return r;
}

/* A whole file into memory, padded with zeros to 512. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	if (buf && n % 512) {
		memset(buf + n, 0, 512 - n % 512);
		n += 512 - n % 512;
	}
	*len = n;
	return buf;
}

static int print_range(void *arg, uint64_t off, uint64_t len)
{
	(void)arg;
	printf("%" PRIu64 " %" PRIu64 "\n", off, len);
	return 0;
}

static int print_entry(void *arg, const struct blob_entry *e)
{
	(void)arg;
	printf("%s %" PRIu64 "%s\n", e->name, e->size,
	       e->leased ? " leased" : "");
	return 0;
}

static void progress(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	fprintf(stderr, "copied %" PRIu64 " of %" PRIu64 "\n", done, total);
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * "hold TARGET SECONDS [MS]": hold_inuse, print "held", then every MS (0:
 * none) write one page with its index until SECONDS pass or SIGTERM.
 */
static int hold(struct backing *b, unsigned int seconds, unsigned int ms)
{
	time_t end = time(NULL) + seconds;
	char page[512];
	uint64_t k = 0;
	int r;

	r = b->ops->hold_inuse(b);
	if (r < 0)
		return r;
	printf("held\n");
	fflush(stdout);
	signal(SIGTERM, on_term);
	while (!stop && time(NULL) < end) {
		if (!ms) {
			sleep(1);
			continue;
		}
		memset(page, 0, sizeof(page));
		snprintf(page, sizeof(page), "page %" PRIu64, k);
		r = b->ops->pwrite(b, page, sizeof(page), 8192 + k % 64 * 512);
		if (r < 0)
			break;
		k++;
		usleep(ms * 1000);
	}
	printf("wrote %" PRIu64 "\n", k);
	return r;
}

/*
 * "writelog TARGET FILE CHUNK LOG [MS]": FILE in pwrites of CHUNK bytes
 * from offset 0, each followed by sync and a pause of MS; "OFF LEN" goes
 * to LOG after each success.
 */
static int writelog(struct backing *b, const char *file, size_t chunk,
		    const char *log, unsigned int ms)
{
	FILE *lf = fopen(log, "w");
	size_t len, off, n;
	char *buf = slurp(file, &len);
	int r = 0;

	if (!buf || !lf || !chunk || chunk % 512) {
		r = -EINVAL;
		goto out;
	}
	for (off = 0; off < len && r == 0; off += n) {
		n = len - off < chunk ? len - off : chunk;
		r = b->ops->pwrite(b, buf + off, n, off);
		if (r == 0)
			r = b->ops->sync(b);
		if (r == 0) {
			fprintf(lf, "%zu %zu\n", off, n);
			fflush(lf);
			usleep(ms * 1000);
		}
	}
out:
	if (lf)
		fclose(lf);
	free(buf);
	return r;
}

int main(int argc, char **argv)
{
	struct backing *b = NULL, *d = NULL;
	const char *t;
	int r = -EINVAL;

	if (argc < 3) {
		fprintf(stderr, "usage: backing-tool COMMAND TARGET [ARGS]\n");
		return 2;
	}
	if (secmem_init() < 0)
		return 1;
	cmd = argv[1];
	t = argv[2];
#define ARGS(n) if (argc != (n)) goto usage
	if (!strcmp(cmd, "list")) {
		struct blob_store *s = NULL;

		ARGS(3);
		r = blob_store_open(&s, t, NULL, msg, sizeof(msg));
		if (r == 0)
			r = blob_store_list(s, print_entry, NULL, msg,
					    sizeof(msg));
		blob_store_close(s);
		goto done;
	}
	if (!strcmp(cmd, "holdmany")) {		/* SECONDS TARGET... */
		struct backing *h[16] = { NULL };
		int i, n = argc - 3;

		if (n < 1 || n > 16)
			goto usage;
		for (i = 0, r = 0; i < n && r == 0; i++) {
			r = target(&h[i], argv[3 + i], 0, 0, 0);
			if (r == 0)
				r = h[i]->ops->hold_inuse(h[i]);
			if (r < 0 && h[i] && !msg[0])
				blob_backing_why(h[i], r, msg, sizeof(msg));
		}
		if (r == 0) {
			printf("held\n");
			fflush(stdout);
			sleep((unsigned int)num(t));
		}
		for (i = 0; i < n; i++)
			if (h[i])
				h[i]->ops->close(h[i]);
		goto done;
	}
	if (!strcmp(cmd, "create")) {
		ARGS(4);
		r = target(&b, t, 1, num(argv[3]), 0);
		goto done;
	}
	if (!strcmp(cmd, "delete")) {
		struct blob_store *s = NULL;
		char url[2048], name[1024];

		ARGS(3);
		r = blob_url_split(t, url, sizeof(url), name, sizeof(name));
		if (r == 0)
			r = blob_store_open(&s, url, NULL, msg, sizeof(msg));
		if (r == 0)
			r = blob_delete(s, name, msg, sizeof(msg));
		blob_store_close(s);
		goto done;
	}
	r = target(&b, t, 0, 0, getenv("BT_RDONLY") ? BLOB_RDONLY : 0);
	if (r < 0)
		goto done;
	if (!strcmp(cmd, "write")) {		/* TARGET OFF FILE */
		size_t len;
		char *buf;

		ARGS(5);
		buf = slurp(argv[4], &len);
		r = buf ? b->ops->pwrite(b, buf, len, num(argv[3])) : -errno;
		if (r == 0)
			r = b->ops->sync(b);
		free(buf);
	} else if (!strcmp(cmd, "read")) {	/* TARGET OFF LEN */
		size_t len;
		char *buf;

		ARGS(5);
		len = num(argv[4]);
		buf = malloc(len ? len : 1);
		r = buf ? b->ops->pread(b, buf, len, num(argv[3])) : -ENOMEM;
		if (r == 0)
			fwrite(buf, 1, len, stdout);
		free(buf);
	} else if (!strcmp(cmd, "punch")) {
		ARGS(5);
		r = b->ops->punch(b, num(argv[3]), num(argv[4]));
		if (r == 0)
			r = b->ops->sync(b);
	} else if (!strcmp(cmd, "ranges")) {
		uint64_t size = 0;

		ARGS(3);
		r = b->ops->get_size(b, &size);
		if (r == 0)
			r = b->ops->ranges(b, 0, size, print_range, NULL);
	} else if (!strcmp(cmd, "size")) {
		uint64_t size = 0;

		ARGS(3);
		r = b->ops->get_size(b, &size);
		if (r == 0)
			printf("%" PRIu64 "\n", size);
	} else if (!strcmp(cmd, "resize")) {
		ARGS(4);
		r = b->ops->set_size(b, num(argv[3]));
	} else if (!strcmp(cmd, "inuse")) {
		ARGS(3);
		r = b->ops->inuse(b);
		if (r >= 0)
			printf("%d\n", r);
	} else if (!strcmp(cmd, "fp")) {
		struct backing_fp fp;

		ARGS(3);
		r = b->ops->fingerprint(b, &fp);
		if (r == 0)
			printf("%016" PRIx64 " %016" PRIx64 " %" PRIu64
			       " %" PRIu64 "\n", fp.a, fp.b, fp.size,
			       fp.mtime_ns);
	} else if (!strcmp(cmd, "hold")) {	/* TARGET SECONDS [MS] */
		if (argc != 4 && argc != 5)
			goto usage;
		r = hold(b, (unsigned int)num(argv[3]),
			 argc == 5 ? (unsigned int)num(argv[4]) : 0);
	} else if (!strcmp(cmd, "hdr")) {	/* TARGET FILE: two copies */
		size_t len;
		char *buf;

		ARGS(4);
		buf = slurp(argv[3], &len);
		r = buf && len == 8192 ? 0 : -EINVAL;
		if (r == 0)
			r = b->ops->hdr_lock(b);
		if (r == 0) {
			r = b->ops->pwrite(b, buf, 4096, 0);
			if (r == 0)
				r = b->ops->sync(b);
			if (r == 0)
				r = b->ops->pwrite(b, buf + 4096, 4096, 4096);
			if (r == 0)
				r = b->ops->sync(b);
			b->ops->hdr_unlock(b);
		}
		free(buf);
	} else if (!strcmp(cmd, "writelog")) {	/* TARGET FILE CHUNK LOG [MS] */
		if (argc != 6 && argc != 7)
			goto usage;
		r = writelog(b, argv[3], (size_t)num(argv[4]), argv[5],
			     argc == 7 ? (unsigned int)num(argv[6]) : 0);
	} else if (!strcmp(cmd, "stats")) {	/* two reads, the counters */
		char page[512];
		struct azb_stats st;

		ARGS(3);
		r = b->ops->pread(b, page, sizeof(page), 0);
		if (r == 0)
			r = b->ops->pread(b, page, sizeof(page), 0);
		if (r == 0 && !strcmp(b->ops->kind, "blob")) {
			blob_store_stats(blob_backing_store(b), &st);
			printf("requests %llu\nretries %llu\nbytes_in %llu\n",
			       (unsigned long long)st.requests,
			       (unsigned long long)st.retries,
			       (unsigned long long)st.bytes_in);
		}
	} else if (!strcmp(cmd, "copy")) {	/* SRC DEST */
		uint64_t size = 0;

		ARGS(4);
		r = b->ops->get_size(b, &size);
		if (r == 0)
			r = target(&d, argv[3], 1, size, 0);
		if (r == 0)
			r = store_copy(b, d, progress, NULL);
	} else {
		goto usage;
	}
#undef ARGS
done:
	if (r < 0 && !msg[0] && b)
		blob_backing_why(b, r, msg, sizeof(msg));
	if (r < 0) {
		if (msg[0])
			fprintf(stderr, "%s\n", msg);
		else
			fprintf(stderr, "backing-tool: %s: %s\n", cmd,
				strerror(-r));
	}
	if (d)
		d->ops->close(d);
	if (b)
		b->ops->close(b);
	return r < 0 ? 1 : 0;
usage:
	fprintf(stderr, "backing-tool: %s: bad arguments\n", cmd);
	if (b)
		b->ops->close(b);
	return 2;
}
