/*
 * mountinfo.c - fuse.ssefs mounts as /proc/self/mountinfo lists them
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mountinfo.h"

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

/*
 * Walk the fuse.ssefs lines; return 1 as soon as one has @mnt as its mount
 * point (when @mnt) and @src as its source (when @src).
 */
static int find(const char *mnt, const char *src)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *save, *tok, *point, *type, *source;
	size_t cap = 0;
	int found = 0, i;

	if (!f)
		return 0;
	while (!found && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		point = type = source = NULL;
		/* ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE SRC */
		tok = strtok_r(line, " ", &save);
		for (i = 0; tok; i++, tok = strtok_r(NULL, " ", &save)) {
			if (i == 4)
				point = tok;
			if (i > 5 && !strcmp(tok, "-")) {
				type = strtok_r(NULL, " ", &save);
				source = type ? strtok_r(NULL, " ", &save) :
					 NULL;
				break;
			}
		}
		if (!point || !type || !source || strcmp(type, SSEFS_FSTYPE))
			continue;
		unescape(point);
		unescape(source);
		found = (!mnt || !strcmp(point, mnt)) &&
			(!src || !strcmp(source, src));
	}
	free(line);
	fclose(f);
	return found;
}

int mi_ssefs_at(const char *mnt_real)
{
	return find(mnt_real, NULL);
}

int mi_store_mounted(const char *store_real)
{
	return find(NULL, store_real);
}
