/*
 * loopdev.c - loop devices over a file, through the kernel's loop ioctls
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/loopdev.h"

#define GET_FREE_TRIES	16	/* devices taken under us before giving up */

static int open_dev(int nr, int flags)
{
	char dev[32];
	int fd;

	snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
	fd = open(dev, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int loopdev_attach(int fd, const char *name, uint64_t sizelimit,
		   unsigned int sector_size, unsigned int flags, int *nr)
{
	struct loop_config cfg;
	int ctl, dev = -1, n = -1, r = -EBUSY;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (uint32_t)fd;
	cfg.block_size = sector_size;
	cfg.info.lo_sizelimit = sizelimit;
	cfg.info.lo_flags = LO_FLAGS_DIRECT_IO;
	if (flags & LOOPDEV_RDONLY)
		cfg.info.lo_flags |= LO_FLAGS_READ_ONLY;
	if (flags & LOOPDEV_PARTSCAN)
		cfg.info.lo_flags |= LO_FLAGS_PARTSCAN;
	/* for display only (LOOP_GET_STATUS64); sysfs has the whole path */
	snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name),
		 "%s", name);

	/* Another program may take the free device first: try the next. */
	for (int tries = 0; r == -EBUSY && tries < GET_FREE_TRIES; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			r = -errno;
			break;
		}
		dev = open_dev(n, (flags & LOOPDEV_RDONLY) ? O_RDONLY : O_RDWR);
		if (dev < 0) {
			r = dev;
			dev = -1;
			if (r == -ENOENT || r == -ENXIO)
				r = -EBUSY;	/* removed meanwhile */
			continue;
		}
		r = ioctl(dev, LOOP_CONFIGURE, &cfg) < 0 ? -errno : 0;
		close(dev);
		dev = -1;
	}
	close(ctl);
	if (r == 0)
		*nr = n;
	return r;
}

int loopdev_get(int nr, struct loopdev_info *info)
{
	struct loop_info64 li;
	uint64_t size = 0;
	int fd, r = 0, ss = 0;

	fd = open_dev(nr, O_RDONLY);
	if (fd < 0)
		return fd;
	if (ioctl(fd, LOOP_GET_STATUS64, &li) < 0 ||
	    ioctl(fd, BLKSSZGET, &ss) < 0 ||
	    ioctl(fd, BLKGETSIZE64, &size) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	memset(info, 0, sizeof(*info));
	info->nr = nr;
	info->rdonly = !!(li.lo_flags & LO_FLAGS_READ_ONLY);
	info->direct_io = !!(li.lo_flags & LO_FLAGS_DIRECT_IO);
	info->sector_size = (unsigned int)ss;
	info->size = size;
	return 0;
}

int loopdev_detach(int nr)
{
	int fd, r = 0;

	/* O_EXCL on a block device: EBUSY while mounted or claimed */
	fd = open_dev(nr, O_RDONLY | O_EXCL);
	if (fd < 0)
		return fd == -ENOENT ? -ENXIO : fd;
	if (ioctl(fd, LOOP_CLR_FD, 0) < 0)
		r = -errno;
	close(fd);
	return r;
}

int loopdev_drop_cache(int nr)
{
	int fd, r = 0;

	fd = open_dev(nr, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (ioctl(fd, BLKFLSBUF, 0) < 0)
		r = -errno;
	close(fd);
	return r;
}

int loopdev_backing(int nr, char *path, size_t len)
{
	char attr[80];
	ssize_t n;
	int fd;

	snprintf(attr, sizeof(attr), "/sys/block/loop%d/loop/backing_file",
		 nr);
	fd = open(attr, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENXIO;
	n = read(fd, path, len);
	close(fd);
	if (n <= 0)
		return -ENXIO;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	path[n] = '\0';
	path[strcspn(path, "\n")] = '\0';
	return 0;
}

int loopdev_parse(const char *s, int *nr)
{
	char *end;
	long n;

	if (!strncmp(s, "/dev/", 5))
		s += 5;
	if (strncmp(s, "loop", 4) || s[4] < '0' || s[4] > '9')
		return -EINVAL;
	errno = 0;
	n = strtol(s + 4, &end, 10);
	if (errno || *end || n < 0 || n > 1 << 20)
		return -EINVAL;
	*nr = (int)n;
	return 0;
}

int loopdev_each(int (*fn)(int nr, const char *backing, void *arg),
		 void *arg)
{
	char path[4096];
	struct dirent *e;
	DIR *d;
	int nr, r = 0;

	d = opendir("/sys/block");
	if (!d)
		return -errno;
	while (!r && (e = readdir(d))) {
		if (loopdev_parse(e->d_name, &nr) < 0 ||
		    loopdev_backing(nr, path, sizeof(path)) < 0)
			continue;
		r = fn(nr, path, arg);
	}
	closedir(d);
	return r;
}
