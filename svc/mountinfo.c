/*
 * mountinfo.c - fuse.ssefs mounts as /proc/self/mountinfo lists them
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "svc/mountinfo.h"

#define SSEFS_FSTYPE	"fuse.ssefs"

/* Undo the kernel's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

int mi_each(int (*fn)(const struct mi_entry *e, void *arg), void *arg)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *save, *tok;
	struct mi_entry e;
	size_t cap = 0;
	int r = 0, i;

	if (!f)
		return 0;
	while (!r && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		memset(&e, 0, sizeof(e));
		/* ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE SRC */
		tok = strtok_r(line, " ", &save);
		for (i = 0; tok; i++, tok = strtok_r(NULL, " ", &save)) {
			if (i == 2 && sscanf(tok, "%u:%u", &e.major,
					     &e.minor) != 2)
				break;
			if (i == 4)
				e.point = tok;
			if (i > 5 && !strcmp(tok, "-")) {
				e.type = strtok_r(NULL, " ", &save);
				e.source = e.type ? strtok_r(NULL, " ", &save) :
					   NULL;
				break;
			}
		}
		if (!e.point || !e.type || !e.source)
			continue;
		unescape((char *)e.point);
		unescape((char *)e.source);
		r = fn(&e, arg);
	}
	free(line);
	fclose(f);
	return r;
}

struct find_arg {
	const char *mnt, *src;
	unsigned int major, minor;
	int by_dev;
	char *out;
	size_t outlen;
	unsigned int *maj, *min;	/* the device number found */
};

static int find_one(const struct mi_entry *e, void *arg)
{
	struct find_arg *a = arg;

	if (strcmp(e->type, SSEFS_FSTYPE) ||
	    (a->mnt && strcmp(e->point, a->mnt)) ||
	    (a->src && strcmp(e->source, a->src)) ||
	    (a->by_dev && (e->major != a->major || e->minor != a->minor)))
		return 0;
	if (a->out)
		snprintf(a->out, a->outlen, "%s", e->point);
	if (a->maj) {
		*a->maj = e->major;
		*a->min = e->minor;
	}
	return 1;
}

int mi_ssefs_at(const char *mnt_real)
{
	struct find_arg a = { .mnt = mnt_real };

	return mi_each(find_one, &a);
}

int mi_store_mounted(const char *store_real)
{
	struct find_arg a = { .src = store_real };

	return mi_each(find_one, &a);
}

int mi_ssefs_dev(dev_t dev, char *mnt, size_t len)
{
	struct find_arg a = {
		.major = major(dev), .minor = minor(dev), .by_dev = 1,
		.out = mnt, .outlen = len,
	};

	return mi_each(find_one, &a);
}

int mi_ssefs_devnum(const char *mnt_real, unsigned int *maj,
		    unsigned int *min)
{
	struct find_arg a = { .mnt = mnt_real, .maj = maj, .min = min };

	return mi_each(find_one, &a);
}
