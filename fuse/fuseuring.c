/*
 * fuseuring.c - FUSE requests over io_uring beside libfuse (see fuseuring.h)
 *
 * Each thread owns one ring and one ring entry: a 288-byte header area (the
 * request's fuse_in_header, its first argument, the entry's own in/out
 * block) laid out just below a payload buffer (the rest of the request, or
 * the reply's arguments).  Because the header area ends where the payload
 * begins, the request is made contiguous for libfuse by moving its first
 * argument (at most 128 bytes) and header down against the payload: a 1 MiB
 * write's data is never copied on the way in.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <liburing.h>
#include <linux/fuse.h>

#include <fuse_lowlevel.h>

#include "fuse/fuseio.h"
#include "fuse/fuseuring.h"
#include "util/log.h"

/*
 * The kernel's ABI for FUSE over io_uring (linux/fuse.h, protocol 7.42);
 * Debian 12's kernel headers are older than it.
 */
#define URING_IN_OUT_SZ		128
#define URING_OP_IN_SZ		128
#define URING_CMD_REGISTER	1
#define URING_CMD_COMMIT_FETCH	2

struct uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;	/* the request's unique id */
	uint32_t payload_sz;	/* bytes in the payload, both ways */
	uint32_t padding;
	uint64_t reserved;
};

struct uring_req_header {
	unsigned char in_out[URING_IN_OUT_SZ];	/* fuse_in/out_header */
	unsigned char op_in[URING_OP_IN_SZ];	/* the first argument */
	struct uring_ent_in_out ent;
};

struct uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct uring_req_header) == 288, "kernel ABI");
_Static_assert(sizeof(struct uring_cmd_req) == 24, "kernel ABI");

/*
 * Threads per queue (per possible CPU).  They are not pinned to their
 * queue's CPU: pinned, a stream of 1 MiB reads made on one CPU was
 * decrypted on that CPU alone (ext4 on an attached disk, sequential read
 * 30% slower), and 4 KiB random reads gained no more than unpinned
 * (BENCHMARKS.md, thirteenth session).
 */
#define FUSEURING_THREADS	2
#define STOP_TAG		1	/* user_data of the stop eventfd's poll */

enum { PHASE_PREPARE, PHASE_GO, PHASE_NOGO };

struct uthread {
	struct io_uring ring;
	pthread_t tid;
	unsigned int qid;
	int made;		/* 1 ring made, -errno failed, 0 not yet */
	unsigned char *mem;	/* one page of header area + the payload */
	size_t mem_len;
	struct uring_req_header *hdr;
	unsigned char *payload;
	struct iovec iov[2];
	/* the request being served, for fuseuring_reply() */
	uint64_t unique;
	int replied;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int phase;
	struct fuse_session *se;
	int fd;
	size_t payload;
	int stop_fd;
	unsigned int n;
	struct uthread *t;
	unsigned long served;	/* requests that came through a ring */
	int refused;		/* the kernel refused an entry */
} U = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.stop_fd = -1,
	.fd = -1,
};

static __thread struct uthread *self;

/* Queue command @op of @t's entry; 0, or -EBUSY with the ring full. */
static int prep_cmd(struct uthread *t, unsigned int op, uint64_t commit_id)
{
	struct uring_cmd_req req = { .commit_id = commit_id, .qid = t->qid };
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	if (!sqe)
		return -EBUSY;
	memset((void *)sqe, 0, 2 * sizeof(*sqe));	/* an SQE128 slot */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = U.fd;
	sqe->cmd_op = op;
	if (op == URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)t->iov;
		sqe->len = 2;
	}
	sqe->user_data = (uintptr_t)t;
	memcpy(sqe->cmd, &req, sizeof(req));
	return 0;
}

/*
 * The entry's own block for the reply: serve() moved the request's first
 * argument over it, so all of it is written afresh (the kernel reads
 * payload_sz).
 */
static void set_payload(struct uthread *t, uint64_t unique, size_t len)
{
	struct uring_ent_in_out e = {
		.commit_id = unique, .payload_sz = (uint32_t)len,
	};

	memcpy(&t->hdr->ent, &e, sizeof(e));
}

/* The error reply, for a request libfuse could not be given. */
static void reply_err(struct uthread *t, uint64_t unique, int err)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh), .error = -err, .unique = unique,
	};

	memcpy(t->hdr->in_out, &oh, sizeof(oh));
	set_payload(t, unique, 0);
}

/*
 * Serve the request in @t's entry: make it contiguous in front of the
 * payload, as read(2) on /dev/fuse would have, and let libfuse run it.
 */
static void serve(struct uthread *t)
{
	struct fuse_in_header ih;
	struct uring_ent_in_out e;
	struct fuse_buf buf = { 0 };
	size_t arg;
	unsigned char *at;

	memcpy(&ih, t->hdr->in_out, sizeof(ih));
	memcpy(&e, &t->hdr->ent, sizeof(e));
	t->unique = e.commit_id;
	t->replied = 0;
	if (ih.len < sizeof(ih) + (size_t)e.payload_sz ||
	    ih.len - sizeof(ih) - e.payload_sz > URING_OP_IN_SZ ||
	    e.payload_sz > U.payload || ih.unique != e.commit_id) {
		reply_err(t, e.commit_id, EIO);
		return;
	}
	arg = ih.len - sizeof(ih) - e.payload_sz;
	at = t->payload - arg - sizeof(ih);
	memmove(t->payload - arg, t->hdr->op_in, arg);
	memcpy(at, &ih, sizeof(ih));
	fuseio_note_request(at, ih.len);
	buf.mem = at;
	buf.size = ih.len;
	self = t;
	fuse_session_process_buf(U.se, &buf);
	self = NULL;
	if (!t->replied)	/* the high-level API always answers */
		reply_err(t, e.commit_id, EIO);
	__atomic_add_fetch(&U.served, 1, __ATOMIC_RELAXED);
}

ssize_t fuseuring_reply(const struct iovec *iov, int count)
{
	struct uthread *t = self;
	struct fuse_out_header oh;
	size_t len = 0, off = 0;

	if (!t || t->replied || count < 1 || iov[0].iov_len < sizeof(oh))
		return -2;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.unique != t->unique)
		return -2;
	for (int i = 0; i < count; i++)
		len += iov[i].iov_len;
	if (len - sizeof(oh) > U.payload)
		return -EINVAL;
	memcpy(t->hdr->in_out, &oh, sizeof(oh));
	for (int i = 0; i < count; i++) {
		const unsigned char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		if (i == 0) {
			p += sizeof(oh);
			n -= sizeof(oh);
		}
		if (n && p != t->payload + off)
			memmove(t->payload + off, p, n);
		off += n;
	}
	set_payload(t, t->unique, off);
	t->replied = 1;
	return len;
}

static int make_ring(struct uthread *t)
{
	struct io_uring_params p;
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	r = io_uring_queue_init_params(4, &t->ring, &p);
	if (r == -EINVAL) {	/* a kernel before 6.1: no deferred work */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128;
		r = io_uring_queue_init_params(4, &t->ring, &p);
	}
	return r;
}

static void *ring_thread(void *arg)
{
	struct uthread *t = arg;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int r, phase;

	r = make_ring(t);
	pthread_mutex_lock(&U.lock);
	t->made = r < 0 ? r : 1;
	pthread_cond_broadcast(&U.cond);
	while (U.phase == PHASE_PREPARE)
		pthread_cond_wait(&U.cond, &U.lock);
	phase = U.phase;
	pthread_mutex_unlock(&U.lock);
	if (r < 0)
		return NULL;
	if (phase != PHASE_GO)
		goto out;

	/* a fresh ring of 4 has room for both */
	sqe = io_uring_get_sqe(&t->ring);
	if (!sqe || prep_cmd(t, URING_CMD_REGISTER, 0) < 0)
		goto out;
	io_uring_prep_poll_add(sqe, U.stop_fd, POLLIN);
	sqe->user_data = STOP_TAG;
	for (;;) {
		r = io_uring_submit_and_wait(&t->ring, 1);
		if (r < 0 && r != -EINTR) {
			warning("fuse io_uring: %s", strerror(-r));
			break;
		}
		while (io_uring_peek_cqe(&t->ring, &cqe) == 0) {
			uint64_t tag = cqe->user_data;
			int res = cqe->res;

			io_uring_cqe_seen(&t->ring, cqe);
			if (tag == STOP_TAG)
				goto out;
			if (res < 0) {
				/* ENOTCONN, ECANCELED: the mount went away */
				if (res != -ENOTCONN && res != -ECANCELED &&
				    res != -ECONNABORTED) {
					/* a refused entry: the kernel stays
					 * on /dev/fuse */
					__atomic_store_n(&U.refused, 1,
							 __ATOMIC_RELAXED);
					warning("fuse io_uring: queue %u: %s",
						t->qid, strerror(-res));
				}
				goto out;
			}
			serve(t);
			/* one command in flight: the ring has room */
			if (prep_cmd(t, URING_CMD_COMMIT_FETCH,
				     t->unique) < 0)
				goto out;
		}
	}
out:
	io_uring_queue_exit(&t->ring);
	return NULL;
}

static void free_all(void)
{
	for (unsigned int i = 0; i < U.n; i++)
		if (U.t[i].mem)
			munmap(U.t[i].mem, U.t[i].mem_len);
	free(U.t);
	U.t = NULL;
	U.n = 0;
	if (U.stop_fd >= 0)
		close(U.stop_fd);
	U.stop_fd = -1;
	if (U.fd >= 0)
		close(U.fd);
	U.fd = -1;
}

/* Tell the threads @phase and join them all. */
static void end_all(int phase)
{
	pthread_mutex_lock(&U.lock);
	U.phase = phase;
	pthread_cond_broadcast(&U.cond);
	pthread_mutex_unlock(&U.lock);
	for (unsigned int i = 0; i < U.n; i++)
		if (U.t[i].tid)
			pthread_join(U.t[i].tid, NULL);
}

/*
 * The kernel's queue count, num_possible_cpus(): the CPUs in
 * /sys/devices/system/cpu/possible ("0-1", "0-3,8-11"), which may be more
 * than are present (a VM that can hot-add CPUs).  A queue left without an
 * entry would hold every request back, so this must not undercount.
 */
static int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned int a, b;
	int n = 0, c = ',';

	if (!f)
		return get_nprocs_conf();
	while (c == ',' && fscanf(f, "%u", &a) == 1) {
		b = a;
		c = fgetc(f);
		if (c == '-') {
			if (fscanf(f, "%u", &b) != 1 || b < a)
				break;
			c = fgetc(f);
		}
		n += (int)(b - a + 1);
	}
	fclose(f);
	return c == '\n' || c == EOF ? n : get_nprocs_conf();
}

int fuseuring_prepare(struct fuse_session *se, int fd, size_t payload)
{
	long pg = sysconf(_SC_PAGESIZE);
	int cpus = possible_cpus();
	sigset_t all, old;
	int r = 0;

	if (U.t || cpus < 1 || pg < (long)sizeof(struct uring_req_header))
		return -EINVAL;
	U.se = se;
	/* our own descriptor: libfuse closes the session's at unmount, while
	 * the rings may still answer a last request or two */
	U.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (U.fd < 0)
		return -errno;
	U.payload = payload;
	U.phase = PHASE_PREPARE;
	U.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (U.stop_fd < 0) {
		r = -errno;
		free_all();
		return r;
	}
	U.n = (unsigned int)cpus * FUSEURING_THREADS;
	U.t = calloc(U.n, sizeof(*U.t));
	if (!U.t) {
		free_all();
		return -ENOMEM;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);	/* libfuse's signals */
	for (unsigned int i = 0; i < U.n && !r; i++) {
		struct uthread *t = &U.t[i];

		t->qid = i / FUSEURING_THREADS;
		t->mem_len = pg + payload;
		t->mem = mmap(NULL, t->mem_len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t->mem == MAP_FAILED) {
			t->mem = NULL;
			r = -errno;
			break;
		}
		t->payload = t->mem + pg;
		t->hdr = (void *)(t->payload - sizeof(*t->hdr));
		t->iov[0].iov_base = t->hdr;
		t->iov[0].iov_len = sizeof(*t->hdr);
		t->iov[1].iov_base = t->payload;
		t->iov[1].iov_len = payload;
		r = -pthread_create(&t->tid, NULL, ring_thread, t);
		if (r)
			t->tid = 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* every thread made its ring, or none is used */
	pthread_mutex_lock(&U.lock);
	for (unsigned int i = 0; i < U.n && !r; i++) {
		while (U.t[i].tid && !U.t[i].made)
			pthread_cond_wait(&U.cond, &U.lock);
		if (U.t[i].made < 0)
			r = U.t[i].made;
	}
	pthread_mutex_unlock(&U.lock);
	if (r) {
		end_all(PHASE_NOGO);
		free_all();
	}
	return r;
}

void fuseuring_start(int asked)
{
	if (!U.t)
		return;
	if (asked) {
		pthread_mutex_lock(&U.lock);
		U.phase = PHASE_GO;
		pthread_cond_broadcast(&U.cond);
		pthread_mutex_unlock(&U.lock);
		return;
	}
	end_all(PHASE_NOGO);
	free_all();
}

void fuseuring_stop(void)
{
	uint64_t one = 1;

	if (!U.t)
		return;
	if (write(U.stop_fd, &one, sizeof(one)) != sizeof(one))
		warning("fuse io_uring: cannot stop the threads: %s",
			strerror(errno));
	end_all(PHASE_NOGO);
	free_all();
}

unsigned int fuseuring_threads(void)
{
	return __atomic_load_n(&U.phase, __ATOMIC_RELAXED) == PHASE_GO &&
	       !__atomic_load_n(&U.refused, __ATOMIC_RELAXED) ? U.n : 0;
}

unsigned long fuseuring_served(void)
{
	return __atomic_load_n(&U.served, __ATOMIC_RELAXED);
}
