/*
 * fuseio.c - read/writev on /dev/fuse that add FUSE_HANDLE_KILLPRIV_V2 to
 * the INIT reply and FOPEN_PARALLEL_DIRECT_WRITES to the open replies of
 * O_DIRECT opens (see fuseio.h for why)
 *
 * The read wrapper notes the INIT request (its unique id and whether the
 * kernel offers the flag) and the unique ids of OPEN and CREATE requests
 * with O_DIRECT; the writev wrapper, for those replies only, copies the
 * reply and sets the flag.  Every other request and reply passes through
 * untouched: two compares per request, one atomic load per reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/fuse.h>

#include <fuse_lowlevel.h>

#include "fuse/fuseio.h"
#include "fuse/fuseuring.h"

/* INIT: 0 not seen, 1 seen (reply pending), 2 answered */
static int init_state;
static uint64_t init_unique;
static int init_offered;
static int init_mmap_offered;
static int init_uring_offered;
static int killpriv_v2;
static int uring_allowed;	/* the mount's -o io_uring */
static struct fuse_session *fuseio_se;

/* linux/fuse.h 7.39; the system's header may be older */
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP	(1ULL << 36)
#endif
/* linux/fuse.h 7.42 */
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING		(1ULL << 41)
#endif

/*
 * The O_DIRECT OPEN and CREATE requests waiting for their reply: a slot
 * holds a unique id (never 0 for a request), 0 when free.  Full (DIO_SLOTS opens in flight at once) means the open
 * goes without the flag: slower, still correct.
 */
#define DIO_SLOTS 32
static uint64_t dio_unique[DIO_SLOTS];
static int dio_pending;
static int parallel_dio;

static void dio_note(uint64_t unique)
{
	for (int i = 0; i < DIO_SLOTS; i++) {
		uint64_t free_slot = 0;

		if (__atomic_compare_exchange_n(&dio_unique[i], &free_slot,
						unique, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			__atomic_add_fetch(&dio_pending, 1, __ATOMIC_RELEASE);
			return;
		}
	}
}

/* 1 when @unique was noted by dio_note() (and is now forgotten) */
static int dio_take(uint64_t unique)
{
	for (int i = 0; i < DIO_SLOTS; i++) {
		uint64_t u = unique;

		if (__atomic_compare_exchange_n(&dio_unique[i], &u, 0, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			__atomic_sub_fetch(&dio_pending, 1, __ATOMIC_RELEASE);
			return 1;
		}
	}
	return 0;
}

void fuseio_note_request(const void *buf, size_t n)
{
	const struct fuse_in_header *h = buf;

	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 0 &&
	    n >= sizeof(*h) + offsetof(struct fuse_init_in, flags) +
		 sizeof(uint32_t) &&
	    h->opcode == FUSE_INIT) {
		const struct fuse_init_in *in = (const void *)(h + 1);
		int ext = (in->flags & FUSE_INIT_EXT) &&
			n >= sizeof(*h) + offsetof(struct fuse_init_in,
						   flags2) + sizeof(uint32_t);

		init_unique = h->unique;
		init_offered = (in->flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
		/* a shared mmap of an O_DIRECT open (direct_io) works only
		 * with this flag, as it did before such opens were direct */
		init_mmap_offered = ext &&
			(in->flags2 & (FUSE_DIRECT_IO_ALLOW_MMAP >> 32));
		/* the fuse module's enable_uring is Y */
		init_uring_offered = ext &&
			(in->flags2 & (FUSE_OVER_IO_URING >> 32));
		__atomic_store_n(&init_state, 1, __ATOMIC_RELEASE);
	} else if (n >= sizeof(*h) + sizeof(uint32_t) &&
		   (h->opcode == FUSE_OPEN || h->opcode == FUSE_CREATE)) {
		/* fuse_open_in and fuse_create_in both start with flags */
		uint32_t flags;

		memcpy(&flags, h + 1, sizeof(flags));
		if (flags & O_DIRECT)
			dio_note(h->unique);
	}
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n;

	(void)userdata;
	n = read(fd, buf, len);
	if (n > 0)
		fuseio_note_request(buf, n);
	return n;
}

/*
 * The payload buffer a ring entry needs for the connection @init sets up:
 * the kernel's max(8 KiB, max_write, max_pages pages).
 */
static size_t uring_payload(const struct fuse_init_out *init)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t pages = (init->flags & FUSE_MAX_PAGES) && init->max_pages ?
		       init->max_pages : 32;	/* the kernel's default */
	size_t len = 8192;

	if (pg <= 0)
		pg = 4096;
	if (init->max_write > len)
		len = init->max_write;
	if (pages * pg > len)
		len = pages * pg;
	return len;
}

/* The INIT reply with the flags added; -2 when @iov is not one we know. */
static ssize_t init_reply(int fd, const struct iovec *iov, int count)
{
	unsigned char msg[sizeof(struct fuse_out_header) +
			  sizeof(struct fuse_init_out)];
	struct fuse_out_header oh;
	struct fuse_init_out init;
	size_t len = 0;
	uint64_t add2 = 0;
	ssize_t n;

	for (int i = 0; i < count; i++) {
		if (iov[i].iov_len > sizeof(msg) - len)
			return -2;
		memcpy(msg + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (len < sizeof(oh) + offsetof(struct fuse_init_out, flags) +
		  sizeof(init.flags))
		return -2;
	memcpy(&oh, msg, sizeof(oh));
	if (oh.error != 0 || oh.len != len)
		return -2;
	memset(&init, 0, sizeof(init));
	memcpy(&init, msg + sizeof(oh), len - sizeof(oh));
	if (init_offered)
		init.flags |= FUSE_HANDLE_KILLPRIV_V2;
	if (init_mmap_offered)
		add2 |= FUSE_DIRECT_IO_ALLOW_MMAP;
	/* the ring threads first: asked for, they must be there */
	if (init_uring_offered && uring_allowed &&
	    fuseuring_prepare(fuseio_se, fd, uring_payload(&init)) == 0)
		add2 |= FUSE_OVER_IO_URING;
	if (add2 && len >= sizeof(oh) + offsetof(struct fuse_init_out,
						   flags2) +
			   sizeof(init.flags2)) {
		if (!(init.flags & FUSE_INIT_EXT))
			init.flags2 = 0;	/* libfuse did not fill it in */
		init.flags |= FUSE_INIT_EXT;
		init.flags2 |= (uint32_t)(add2 >> 32);
	} else {
		add2 = 0;
	}
	memcpy(msg + sizeof(oh), &init, len - sizeof(oh));
	n = write(fd, msg, len);
	if (n >= 0)
		killpriv_v2 = init_offered;
	fuseuring_start(n >= 0 && (add2 & FUSE_OVER_IO_URING));
	return n;
}

/* A reply: into the ring entry of the request it answers, or /dev/fuse. */
static ssize_t send_reply(int fd, const struct iovec *iov, int count)
{
	ssize_t n = fuseuring_reply(iov, count);

	return n != -2 ? n : writev(fd, iov, count);
}

/*
 * The reply to an O_DIRECT OPEN or CREATE: its fuse_open_out is last
 * (CREATE puts fuse_entry_out before it).  When ops.c asked for direct
 * I/O (FOPEN_DIRECT_IO), add FOPEN_PARALLEL_DIRECT_WRITES, which libfuse
 * 3.14's fuse_file_info cannot carry.  -2 when @iov is not one we change.
 */
static ssize_t dio_reply(int fd, const struct iovec *iov, int count)
{
	unsigned char msg[sizeof(struct fuse_out_header) +
			  sizeof(struct fuse_entry_out) +
			  sizeof(struct fuse_open_out)];
	struct fuse_out_header oh;
	struct fuse_open_out oo;
	size_t len = 0;

	for (int i = 0; i < count; i++) {
		if (iov[i].iov_len > sizeof(msg) - len)
			return -2;
		memcpy(msg + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (len < sizeof(oh) + sizeof(oo))
		return -2;
	memcpy(&oh, msg, sizeof(oh));
	if (oh.error != 0 || oh.len != len)
		return -2;
	memcpy(&oo, msg + len - sizeof(oo), sizeof(oo));
	if (!(oo.open_flags & FOPEN_DIRECT_IO))
		return -2;
	oo.open_flags |= FOPEN_PARALLEL_DIRECT_WRITES;
	memcpy(msg + len - sizeof(oo), &oo, sizeof(oo));
	__atomic_store_n(&parallel_dio, 1, __ATOMIC_RELAXED);
	return send_reply(fd, &(struct iovec){ msg, len }, 1);
}

static ssize_t io_writev(int fd, struct iovec *iov, int count,
			 void *userdata)
{
	ssize_t n;

	(void)userdata;
	if (__atomic_load_n(&dio_pending, __ATOMIC_ACQUIRE) > 0 && count > 0 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    dio_take(((const struct fuse_out_header *)
		      iov[0].iov_base)->unique)) {
		n = dio_reply(fd, iov, count);
		if (n != -2)
			return n;
	}
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 1 && count > 0 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    ((const struct fuse_out_header *)iov[0].iov_base)->unique ==
	    init_unique) {
		__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
		if (init_offered || init_mmap_offered ||
		    init_uring_offered) {
			n = init_reply(fd, iov, count);
			if (n != -2)
				return n;
		}
	}
	return send_reply(fd, iov, count);
}

int fuseio_install(struct fuse_session *se, int io_uring)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
	};
	int fd = fuse_session_fd(se);

	if (fd < 0)
		return -EBADF;
	fuseio_se = se;
	uring_allowed = io_uring;
	return fuse_session_custom_io(se, &io, fd);
}

int fuseio_killpriv_v2(void)
{
	return killpriv_v2;
}

int fuseio_parallel_dio(void)
{
	return __atomic_load_n(&parallel_dio, __ATOMIC_RELAXED);
}
