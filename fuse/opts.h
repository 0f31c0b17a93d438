/*
 * opts.h - the mount options of `ssefs mount -o ...` (ssefs-mount(8))
 *
 * ssefs's own options are taken out and validated; everything else is
 * handed to libfuse untouched (ro, max_read=, fsname=...).  The config
 * file's defaults come first, the command line's -o after, and a later
 * value wins.  Functions return 0 or a negative errno and never print.
 */
#ifndef SSEFS_FUSE_OPTS_H
#define SSEFS_FUSE_OPTS_H

#include <stddef.h>
#include <stdint.h>

struct fuse_args;

enum mount_caching {
	CACHING_NONE = 0,
	CACHING_READONLY,
	CACHING_READWRITE,
};

struct mount_opts {
	char *des;			/* default DES for new disks, or NULL */
	char *key;			/* default customer key, or NULL */
	int allow_other, allow_root;
	uint64_t key_check_interval;	/* seconds, default 60 */
	uint64_t revoke_grace;		/* seconds, default 3600, 0 allowed */
	uint64_t rotate_interval;	/* seconds, default 3600 */
	char *notify;			/* notify command, or NULL */
	char *host_cache;		/* host cache directory, or NULL */
	int caching;			/* enum mount_caching */
	uint64_t cache_size;		/* bytes, 0: not set */
	int encryption_at_host;		/* 1 (default) or 0 */
	uint64_t temp_disk;		/* bytes, 0: no temp disk */
	uint64_t writeback_delay;	/* seconds a ReadWrite cache may hold
					 * dirty data, default 1 */
	uint64_t readahead;		/* bytes, 0: not given (the default
					 * when root, the kernel's if not) */
	int debug;			/* -o debug: libfuse's trace */
	int nonempty;			/* -o nonempty: mount over entries */
	/* a blob store's (SPEC "Stores beyond one host") */
	uint64_t store_timeout;		/* seconds per request, 0: 30 s */
	char *credentials;		/* credentials=FILE, or NULL */
	int allow_http;			/* plain http off loopback */
	unsigned int lease_seconds;	/* tests only (hidden): 15..60 */
	int io_uring;			/* enum mount_io_uring */
};

/* -o io_uring= */
enum mount_io_uring {
	IO_URING_AUTO = 0,	/* when the kernel offers it */
	IO_URING_ON,		/* the same; the mount refused if it does not */
	IO_URING_OFF,
};

/* The fuse module's switch for FUSE over io_uring (Linux 6.14+). */
#define MOUNT_ENABLE_URING "/sys/module/fuse/parameters/enable_uring"

/* 1 when the running kernel offers FUSE over io_uring, else 0. */
int mount_kernel_uring(void);

#define MOUNT_DEFAULT_KEY_CHECK		60
#define MOUNT_DEFAULT_REVOKE_GRACE	3600
#define MOUNT_DEFAULT_ROTATE_INTERVAL	3600
#define MOUNT_DEFAULT_CACHE_SIZE	(1ull << 30)	/* 1 GiB */
#define MOUNT_MIN_CACHE_SIZE		(64ull << 10)
#define MOUNT_DEFAULT_WRITEBACK_DELAY	1
#define MOUNT_DEFAULT_READAHEAD		(1ull << 20)	/* measured: BENCHMARKS.md */
#define MOUNT_MAX_READAHEAD		(64ull << 20)

/* Defaults; all strings NULL. */
void mount_opts_init(struct mount_opts *o);
/* Free the strings; the struct can be reused after mount_opts_init(). */
void mount_opts_release(struct mount_opts *o);

/*
 * mount_opts_parse() - take ssefs's options out of the comma-separated
 * @optstr (NULL or "" is fine) into @o, and append the rest as "-o REST"
 * to @fuse (which may already hold arguments).  On a bad value, writes
 * "-o NAME=VALUE: WHY" into @err and returns -EINVAL; -ENOMEM.
 * Call it once per source, config defaults first.
 */
int mount_opts_parse(struct mount_opts *o, const char *optstr,
		     struct fuse_args *fuse, char *err, size_t errlen);

/*
 * mount_opts_check() - refuse combinations that cannot work (caching or
 * a temp disk without host_cache, a tiny cache); same @err convention.
 */
int mount_opts_check(const struct mount_opts *o, char *err, size_t errlen);

/*
 * mount_opt_check() - one option as the config file gives it, @key: @val:
 * 0 when ssefs or libfuse takes key=val; -ENOENT when neither knows @key;
 * -EINVAL with "NAME=VALUE: WHY" in @why when the value is bad.
 * (A config_opt_check_fn, util/config.h.)
 */
int mount_opt_check(const char *key, const char *val, char *why,
		    size_t whylen);

/*
 * mount_readahead() - the read-ahead to set on the mount's bdi, in bytes:
 * readahead=, or the default when the daemon runs as root (only root may
 * write /sys/class/bdi/MAJ:MIN/read_ahead_kb), or 0: leave the kernel's.
 */
uint64_t mount_readahead(const struct mount_opts *o);

/* The host cache's size: cache_size, or the default. */
uint64_t mount_cache_size(const struct mount_opts *o);

/* "None", "ReadOnly", "ReadWrite" */
const char *mount_caching_name(int caching);

/* The effective ssefs options as "k=v,k=v" (for status), malloc'd. */
char *mount_opts_format(const struct mount_opts *o);

#endif /* SSEFS_FUSE_OPTS_H */
