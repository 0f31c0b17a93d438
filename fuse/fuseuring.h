/*
 * fuseuring.h - FUSE requests over io_uring (Linux 6.14+), beside libfuse
 *
 * Why: on /dev/fuse a daemon thread takes a request with read(2) and
 * answers it with writev(2), two system calls (each a page-table switch
 * on this VM's kernel, PTI on) and a wake-up of whichever thread is
 * blocked in read(2).  Over io_uring one io_uring_enter(2) commits the
 * answer and waits for the next request, which the kernel copies in from
 * the thread's own context.  Measured on the attached disk (ext4, 4 KiB
 * random reads at queue depth 1): +35% (BENCHMARKS.md, thirteenth
 * session); sequential reads and writes unchanged.
 *
 * How: libfuse 3.14 knows nothing of it, so fuse/fuseio.c adds
 * FUSE_OVER_IO_URING to the INIT reply when the kernel offers it (the fuse
 * module's enable_uring parameter) and the mount allows it, and this file
 * starts, per possible CPU (the kernel keeps a queue per CPU, and takes
 * none until every queue has an entry), FUSEURING_THREADS threads, each
 * with its own ring and one ring entry (so a request never waits behind a
 * busy thread's second entry).  A request that arrives on an entry is laid
 * out as read(2) on /dev/fuse would have given it and handed to libfuse's
 * fuse_session_process_buf(); its reply comes back through fuseio's writev
 * wrapper, which calls fuseuring_reply() to put it into the entry, and the
 * thread commits it and fetches the next request in one io_uring_enter(2).
 * Forgets, interrupts and notifications stay on /dev/fuse and libfuse's
 * own threads.  The high-level API answers every request in the thread
 * that runs it, which is what lets the reply find its entry.
 */
#ifndef SSEFS_FUSE_FUSEURING_H
#define SSEFS_FUSE_FUSEURING_H

#include <stddef.h>
#include <sys/uio.h>

struct fuse_session;

/*
 * fuseuring_prepare() - before the INIT reply: create the threads and
 * their rings, each with a @payload byte buffer (the kernel's
 * max(8 KiB, max_write, max_pages * page)).  Return: 0 when every thread
 * is ready (the reply may then ask for FUSE_OVER_IO_URING), or -errno
 * with nothing left behind.
 */
int fuseuring_prepare(struct fuse_session *se, int fd, size_t payload);

/*
 * fuseuring_start() - after the INIT reply was written: @asked 1 when it
 * asked for FUSE_OVER_IO_URING (the threads register their entries), 0
 * when it did not (the threads end).
 */
void fuseuring_start(int asked);

/*
 * fuseuring_reply() - in fuseio's writev: when @iov is the reply to the
 * request this thread took from its ring, copy it into the entry.
 * Return: the bytes taken, or -2 when @iov is not such a reply.
 */
ssize_t fuseuring_reply(const struct iovec *iov, int count);

/* fuseuring_stop() - after fuse_unmount(): end and join the threads. */
void fuseuring_stop(void);

/* The threads serving rings (0: none), and the requests they served. */
unsigned int fuseuring_threads(void);
unsigned long fuseuring_served(void);

#endif /* SSEFS_FUSE_FUSEURING_H */
