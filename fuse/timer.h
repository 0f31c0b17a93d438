/*
 * timer.h - a background thread that runs a function every N seconds and
 * stops promptly when asked (the mount's rotation and revocation tasks)
 */
#ifndef SSEFS_FUSE_TIMER_H
#define SSEFS_FUSE_TIMER_H

#include <pthread.h>
#include <stdint.h>

struct ssefs_fs;

struct timer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int running, stop;
	uint64_t interval;			/* seconds, >= 1 */
	void (*tick)(struct ssefs_fs *fs);
	struct ssefs_fs *fs;
};

/* Start calling @tick every @interval seconds (the first call after one
 * interval).  Return: 0 or -errno. */
int timer_start(struct timer *t, struct ssefs_fs *fs, uint64_t interval,
		void (*tick)(struct ssefs_fs *fs));
/* Ask the thread to stop and wait for it; a no-op if not running. */
void timer_stop(struct timer *t);

#endif /* SSEFS_FUSE_TIMER_H */
