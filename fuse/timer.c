/*
 * timer.c - periodic background work for the mount
 */
#include <errno.h>
#include <time.h>

#include "fuse/timer.h"

static void *timer_main(void *arg)
{
	struct timer *t = arg;
	struct timespec due;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &due);
		due.tv_sec += (time_t)t->interval;
		while (!t->stop &&
		       pthread_cond_timedwait(&t->cond, &t->lock, &due) !=
			       ETIMEDOUT)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		t->tick(t->fs);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int timer_start(struct timer *t, struct ssefs_fs *fs, uint64_t interval,
		void (*tick)(struct ssefs_fs *fs))
{
	pthread_condattr_t ca;
	int r;

	t->fs = fs;
	t->tick = tick;
	t->interval = interval ? interval : 1;
	t->stop = 0;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&t->thread, NULL, timer_main, t);
	if (r)
		return -r;
	t->running = 1;
	return 0;
}

void timer_stop(struct timer *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = 0;
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}
