/*
 * progress.c - the updating progress line on stderr
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/progress.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_format_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
					      "PiB", "EiB" };
	double d = (double)b;
	int i = -1;

	if (b < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)b);
		return;
	}
	while (d >= 1024 && i < 5) {
		d /= 1024;
		i++;
	}
	snprintf(buf, len, "%.1f %s", d, units[i]);
}

static void format_clock(double s, char *buf, size_t len)
{
	unsigned long long t = s < 0 ? 0 : (unsigned long long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, len, "%llu:%02llu:%02llu", t / 3600,
			 t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%llu:%02llu", t / 60, t % 60);
}

static void draw(struct progress *p, double now, int final)
{
	char line[512], done[32], total[32], rate[32], when[32];
	double elapsed = now - p->start, r;
	size_t n;
	int k;

	r = elapsed > 0 ? (double)p->done / elapsed : 0;
	if (p->unit) {
		snprintf(done, sizeof(done), "%llu", (unsigned long long)p->done);
		snprintf(total, sizeof(total), "%llu %s",
			 (unsigned long long)p->total, p->unit);
		snprintf(rate, sizeof(rate), "%.1f/s", r);
	} else {
		progress_format_bytes(p->done, done, sizeof(done));
		progress_format_bytes(p->total, total, sizeof(total));
		progress_format_bytes((uint64_t)r, rate, sizeof(rate));
		strcat(rate, "/s");
	}
	if (final) {
		snprintf(when, sizeof(when), "in ");
		format_clock(elapsed, when + 3, sizeof(when) - 3);
	} else if (r > 0 && p->total >= p->done) {
		snprintf(when, sizeof(when), "ETA ");
		format_clock((double)(p->total - p->done) / r, when + 4,
			     sizeof(when) - 4);
	} else {
		snprintf(when, sizeof(when), "ETA --:--");
	}
	k = snprintf(line, sizeof(line), "%s: %s / %s  %3u%%  %s  %s",
		     p->label, done, total,
		     p->total ? (unsigned int)(p->done * 100 / p->total) : 0,
		     rate, when);
	n = k < 0 ? 0 : (size_t)k < sizeof(line) ? (size_t)k :
		    sizeof(line) - 1;
	/* blank what is left of a longer line drawn before */
	fprintf(p->f, "\r%s%*s", line,
		p->width > n ? (int)(p->width - n) : 0, "");
	if (final)
		fputc('\n', p->f);
	fflush(p->f);
	p->width = n;
	p->last = now;
	p->drawn = 1;
}

void progress_start(struct progress *p, const char *label, const char *unit,
		    uint64_t total)
{
	if (!p || !p->on)
		return;
	if (!p->f)
		p->f = stderr;
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->unit = unit;
	p->total = total;
	p->done = 0;
	p->width = 0;
	p->start = now_s();
	draw(p, p->start, 0);
}

void progress_update(struct progress *p, uint64_t done)
{
	double now;

	if (!p || !p->on || !p->drawn)
		return;
	p->done = done;
	now = now_s();
	if ((now - p->last) * 1000 >= PROGRESS_REDRAW_MS)
		draw(p, now, 0);
}

void progress_finish(struct progress *p)
{
	if (!p || !p->on || !p->drawn)
		return;
	draw(p, now_s(), 1);
	p->drawn = 0;
}
