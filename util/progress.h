/*
 * progress.h - one updating line on stderr for long work, as pv and
 * rsync --info=progress2 draw it
 *
 *	struct progress p = { .on = 1 };
 *	progress_start(&p, "export d.vhd", NULL, total_bytes);
 *	... progress_update(&p, done); ...
 *	progress_finish(&p);
 *
 * The line is "LABEL: DONE / TOTAL  PCT%  RATE  ETA M:SS", redrawn at most
 * every 200 ms with a carriage return, blanked with spaces where the last
 * one was longer (no terminal escapes: the line reads well in a file too).
 * progress_finish() draws the last state with the time taken instead of
 * the ETA and ends the line, so an error that follows starts a line of
 * its own.  With @on 0, or a NULL @p, every call does nothing.  Not thread-safe: callers
 * that update from several threads serialise the calls.
 */
#ifndef SSEFS_UTIL_PROGRESS_H
#define SSEFS_UTIL_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#define PROGRESS_REDRAW_MS	200

struct progress {
	int on;			/* set by the caller before progress_start() */
	FILE *f;		/* NULL: stderr */
	char label[160];
	const char *unit;	/* NULL: bytes; else what is counted ("disks") */
	uint64_t total, done;
	double start, last;	/* CLOCK_MONOTONIC seconds */
	size_t width;		/* of the line last drawn */
	int drawn;
};

/* Begin: @total units of work (0: unknown); draws the first line. */
void progress_start(struct progress *p, const char *label, const char *unit,
		    uint64_t total);
/* @done units are done (absolute, not a step); redraws when due. */
void progress_update(struct progress *p, uint64_t done);
/* Draw the final state and end the line; also on an error path. */
void progress_finish(struct progress *p);

/* "1.5 GiB", "512 B" */
void progress_format_bytes(uint64_t b, char *buf, size_t len);

#endif /* SSEFS_UTIL_PROGRESS_H */
