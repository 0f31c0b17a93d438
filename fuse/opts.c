/*
 * opts.c - ssefs's mount options over fuse_opt
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fuse.h>
#include <fuse_opt.h>

#include "disk/offsets.h"
#include "fuse/opts.h"
#include "util/parse.h"

enum {
	KEY_DES,
	KEY_KEY,
	KEY_ALLOW_OTHER,
	KEY_ALLOW_ROOT,
	KEY_ALLOW_OTHER_BOOL,
	KEY_ALLOW_ROOT_BOOL,
	KEY_KEY_CHECK,
	KEY_REVOKE_GRACE,
	KEY_ROTATE_INTERVAL,
	KEY_NOTIFY,
	KEY_HOST_CACHE,
	KEY_CACHING,
	KEY_CACHE_SIZE,
	KEY_EAH,
	KEY_TEMP_DISK,
	KEY_WRITEBACK_DELAY,
	KEY_READAHEAD,
	KEY_DEBUG,
	KEY_DEFAULT_PERMISSIONS,
	KEY_NONEMPTY,
	KEY_NONEMPTY_BOOL,
	KEY_STORE_TIMEOUT,
	KEY_CREDENTIALS,
	KEY_ALLOW_HTTP,
	KEY_ALLOW_HTTP_BOOL,
	KEY_LEASE,
	KEY_IO_URING,
};

static const struct fuse_opt ssefs_opt_table[] = {
	FUSE_OPT_KEY("des=", KEY_DES),
	FUSE_OPT_KEY("key=", KEY_KEY),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("allow_root", KEY_ALLOW_ROOT),
	/* the config file's "allow_other: true" comes as allow_other=true */
	FUSE_OPT_KEY("allow_other=", KEY_ALLOW_OTHER_BOOL),
	FUSE_OPT_KEY("allow_root=", KEY_ALLOW_ROOT_BOOL),
	FUSE_OPT_KEY("key_check_interval=", KEY_KEY_CHECK),
	FUSE_OPT_KEY("revoke_grace=", KEY_REVOKE_GRACE),
	FUSE_OPT_KEY("rotate_interval=", KEY_ROTATE_INTERVAL),
	FUSE_OPT_KEY("notify=", KEY_NOTIFY),
	FUSE_OPT_KEY("host_cache=", KEY_HOST_CACHE),
	FUSE_OPT_KEY("caching=", KEY_CACHING),
	FUSE_OPT_KEY("cache_size=", KEY_CACHE_SIZE),
	FUSE_OPT_KEY("encryption_at_host=", KEY_EAH),
	FUSE_OPT_KEY("temp_disk=", KEY_TEMP_DISK),
	FUSE_OPT_KEY("writeback_delay=", KEY_WRITEBACK_DELAY),
	FUSE_OPT_KEY("readahead=", KEY_READAHEAD),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMISSIONS),
	FUSE_OPT_KEY("nonempty", KEY_NONEMPTY),
	FUSE_OPT_KEY("nonempty=", KEY_NONEMPTY_BOOL),
	FUSE_OPT_KEY("store_timeout=", KEY_STORE_TIMEOUT),
	FUSE_OPT_KEY("credentials=", KEY_CREDENTIALS),
	FUSE_OPT_KEY("allow_http", KEY_ALLOW_HTTP),
	FUSE_OPT_KEY("allow_http=", KEY_ALLOW_HTTP_BOOL),
	FUSE_OPT_KEY("x-ssefs-lease=", KEY_LEASE),
	FUSE_OPT_KEY("io_uring=", KEY_IO_URING),
	FUSE_OPT_END
};

struct parse_ctx {
	struct mount_opts *o;
	char *err;
	size_t errlen;
	int failed;
};

static int bad(struct parse_ctx *c, const char *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct parse_ctx *c, const char *arg, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!c->failed)
		snprintf(c->err, c->errlen, "-o %s: %s", arg, why);
	c->failed = 1;
	return -1;
}

static int set_str(struct parse_ctx *c, char **slot, const char *arg,
		   const char *val)
{
	char *s;

	if (!*val)
		return bad(c, arg, "needs a value");
	s = strdup(val);
	if (!s)
		return bad(c, arg, "out of memory");
	free(*slot);
	*slot = s;
	return 0;
}

static int set_dur(struct parse_ctx *c, uint64_t *slot, const char *arg,
		   const char *val, int zero_ok)
{
	uint64_t v;

	if (parse_duration(val, &v) < 0)
		return bad(c, arg, "not a duration (30s, 1h, 90d, PT1H)");
	if (!v && !zero_ok)
		return bad(c, arg, "must be more than zero");
	*slot = v;
	return 0;
}

static int set_size(struct parse_ctx *c, uint64_t *slot, const char *arg,
		    const char *val)
{
	uint64_t v;

	if (parse_size(val, &v) < 0 || !v)
		return bad(c, arg, "not a size (512, 64M, 10G, 1T)");
	*slot = v;
	return 0;
}

/* Names of DES and keys: the vault's own charset; refuse what can't be. */
static int valid_name(const char *s)
{
	if (!*s || strlen(s) > 127)
		return 0;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '-' && *s != '_' &&
		    *s != '/')
			return 0;
	return 1;
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct parse_ctx *c = data;
	struct mount_opts *o = c->o;
	const char *val = strchr(arg, '=');

	val = val ? val + 1 : "";
	switch (key) {
	case KEY_DES:
	case KEY_KEY:
		if (!valid_name(val))
			return bad(c, arg, "not a valid %s name",
				   key == KEY_DES ? "disk encryption set" :
				   "key");
		if (key == KEY_DES) {
			free(o->key);
			o->key = NULL;
			return set_str(c, &o->des, arg, val);
		}
		free(o->des);
		o->des = NULL;
		return set_str(c, &o->key, arg, val);
	case KEY_ALLOW_OTHER:
		o->allow_other = 1;
		return 1;		/* libfuse needs it too */
	case KEY_ALLOW_ROOT:
		o->allow_root = 1;
		return 1;
	case KEY_ALLOW_OTHER_BOOL:
	case KEY_ALLOW_ROOT_BOOL: {
		int on;

		if (parse_bool(val, &on) < 0)
			return bad(c, arg, "must be true or false");
		if (!on)
			return 0;	/* as if not given */
		if (key == KEY_ALLOW_OTHER_BOOL)
			o->allow_other = 1;
		else
			o->allow_root = 1;
		/* libfuse knows the bare flag only */
		if (fuse_opt_add_arg(outargs, key == KEY_ALLOW_OTHER_BOOL ?
				     "-oallow_other" : "-oallow_root"))
			return bad(c, arg, "out of memory");
		return 0;
	}
	case KEY_DEBUG:
		o->debug = 1;
		return 1;
	case KEY_DEFAULT_PERMISSIONS:
		return 0;		/* always on; added by the mount */
	case KEY_NONEMPTY:
		/* ssefs's own: libfuse 3 dropped it and refuses it */
		o->nonempty = 1;
		return 0;
	case KEY_NONEMPTY_BOOL:
		if (parse_bool(val, &o->nonempty) < 0)
			return bad(c, arg, "must be true or false");
		return 0;
	case KEY_STORE_TIMEOUT:
		if (set_dur(c, &o->store_timeout, arg, val, 0) < 0)
			return -1;
		if (o->store_timeout > 3600)
			return bad(c, arg, "at most 1h");
		return 0;
	case KEY_CREDENTIALS:
		if (*val != '/')
			return bad(c, arg, "must be an absolute path");
		return set_str(c, &o->credentials, arg, val);
	case KEY_ALLOW_HTTP:
		o->allow_http = 1;
		return 0;
	case KEY_ALLOW_HTTP_BOOL:
		if (parse_bool(val, &o->allow_http) < 0)
			return bad(c, arg, "must be true or false");
		return 0;
	case KEY_LEASE: {
		uint64_t v;

		/* the lease a killed host leaves, for tests: not documented */
		if (parse_duration(val, &v) < 0 || v < 15 || v > 60)
			return bad(c, arg, "from 15s to 60s");
		o->lease_seconds = (unsigned int)v;
		return 0;
	}
	case KEY_KEY_CHECK:
		return set_dur(c, &o->key_check_interval, arg, val, 0);
	case KEY_REVOKE_GRACE:
		return set_dur(c, &o->revoke_grace, arg, val, 1);
	case KEY_ROTATE_INTERVAL:
		return set_dur(c, &o->rotate_interval, arg, val, 0);
	case KEY_NOTIFY:
		return set_str(c, &o->notify, arg, val);
	case KEY_HOST_CACHE:
		if (*val != '/')
			return bad(c, arg, "must be an absolute path");
		return set_str(c, &o->host_cache, arg, val);
	case KEY_CACHING:
		if (!strcmp(val, "None"))
			o->caching = CACHING_NONE;
		else if (!strcmp(val, "ReadOnly"))
			o->caching = CACHING_READONLY;
		else if (!strcmp(val, "ReadWrite"))
			o->caching = CACHING_READWRITE;
		else
			return bad(c, arg,
				   "must be None, ReadOnly or ReadWrite");
		return 0;
	case KEY_CACHE_SIZE:
		return set_size(c, &o->cache_size, arg, val);
	case KEY_EAH:
		if (!strcmp(val, "on"))
			o->encryption_at_host = 1;
		else if (!strcmp(val, "off"))
			o->encryption_at_host = 0;
		else
			return bad(c, arg, "must be on or off");
		return 0;
	case KEY_TEMP_DISK: {
		const uint64_t MiB = UINT64_C(1) << 20;

		/* the rules of `ssefs disk create --size`: whole MiB */
		if (parse_size(val, &o->temp_disk) < 0 || !o->temp_disk ||
		    o->temp_disk > VOL_MAX_SIZE - MiB)
			return bad(c, arg, "not a size from 1 byte to 1 EiB "
				   "(e.g. 64M, 10G, 1T)");
		o->temp_disk = (o->temp_disk + MiB - 1) / MiB * MiB;
		return 0;
	}
	case KEY_WRITEBACK_DELAY:
		return set_dur(c, &o->writeback_delay, arg, val, 0);
	case KEY_IO_URING:
		if (!strcmp(val, "auto"))
			o->io_uring = IO_URING_AUTO;
		else if (!strcmp(val, "on"))
			o->io_uring = IO_URING_ON;
		else if (!strcmp(val, "off"))
			o->io_uring = IO_URING_OFF;
		else
			return bad(c, arg, "must be auto, on or off");
		return 0;
	case KEY_READAHEAD:
		if (parse_size(val, &o->readahead) < 0 || !o->readahead ||
		    o->readahead > MOUNT_MAX_READAHEAD)
			return bad(c, arg, "not a size from 4K to 64M");
		/* whole pages, as the kernel keeps it */
		o->readahead = (o->readahead + 4095) / 4096 * 4096;
		return 0;
	}
	return 1;			/* FUSE_OPT_KEY_OPT etc.: pass on */
}

void mount_opts_init(struct mount_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->key_check_interval = MOUNT_DEFAULT_KEY_CHECK;
	o->revoke_grace = MOUNT_DEFAULT_REVOKE_GRACE;
	o->rotate_interval = MOUNT_DEFAULT_ROTATE_INTERVAL;
	o->caching = CACHING_NONE;
	o->encryption_at_host = 1;
	o->writeback_delay = MOUNT_DEFAULT_WRITEBACK_DELAY;
}

void mount_opts_release(struct mount_opts *o)
{
	free(o->des);
	free(o->key);
	free(o->notify);
	free(o->host_cache);
	free(o->credentials);
	o->des = o->key = o->notify = o->host_cache = NULL;
	o->credentials = NULL;
}

int mount_opts_parse(struct mount_opts *o, const char *optstr,
		     struct fuse_args *fuse, char *err, size_t errlen)
{
	struct fuse_args tmp = FUSE_ARGS_INIT(0, NULL);
	struct parse_ctx c = { o, err, errlen, 0 };
	int i, r = 0;

	if (!optstr || !*optstr)
		return 0;
	if (fuse_opt_add_arg(&tmp, "ssefs") || fuse_opt_add_arg(&tmp, "-o") ||
	    fuse_opt_add_arg(&tmp, optstr)) {
		r = -ENOMEM;
		goto out;
	}
	if (fuse_opt_parse(&tmp, &c, ssefs_opt_table, opt_proc) != 0) {
		if (!c.failed)
			snprintf(err, errlen, "-o %s: cannot parse", optstr);
		r = -EINVAL;
		goto out;
	}
	/* What is left ("ssefs", "-oREST") goes to libfuse. */
	for (i = 1; i < tmp.argc; i++) {
		if (fuse_opt_add_arg(fuse, tmp.argv[i])) {
			r = -ENOMEM;
			goto out;
		}
	}
out:
	fuse_opt_free_args(&tmp);
	return r;
}

int mount_opts_check(const struct mount_opts *o, char *err, size_t errlen)
{
	if (o->allow_other && o->allow_root) {
		snprintf(err, errlen, "-o allow_other,allow_root: "
			 "give one or the other");
		return -EINVAL;
	}
	if (o->caching != CACHING_NONE && !o->host_cache) {
		snprintf(err, errlen, "-o caching=%s: needs host_cache=DIR, "
			 "the directory that holds the cache",
			 mount_caching_name(o->caching));
		return -EINVAL;
	}
	if (o->temp_disk && !o->host_cache) {
		snprintf(err, errlen, "-o temp_disk: needs host_cache=DIR, "
			 "the directory that holds the temp disk");
		return -EINVAL;
	}
	if (o->readahead && geteuid() != 0) {
		snprintf(err, errlen, "-o readahead: needs root (it is set "
			 "in /sys/class/bdi/MAJ:MIN/read_ahead_kb)");
		return -EPERM;
	}
	if (o->io_uring == IO_URING_ON && !mount_kernel_uring()) {
		snprintf(err, errlen, "-o io_uring=on: the kernel does not "
			 "offer FUSE over io_uring (Linux 6.14 or later, with "
			 "Y in %s)", MOUNT_ENABLE_URING);
		return -EOPNOTSUPP;
	}
	if (o->cache_size && o->cache_size < MOUNT_MIN_CACHE_SIZE) {
		snprintf(err, errlen, "-o cache_size: at least 64K");
		return -EINVAL;
	}
	return 0;
}

static void quiet_fuse_log(enum fuse_log_level level, const char *fmt,
			   va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
}

int mount_opt_check(const char *key, const char *val, char *why,
		    size_t whylen)
{
	static const struct fuse_operations none;
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct mount_opts o;
	struct fuse *f;
	char *opt = NULL;
	int r;

	mount_opts_init(&o);
	if (asprintf(&opt, "%s=%s", key, val) < 0)
		return -ENOMEM;
	r = fuse_opt_add_arg(&fargs, "ssefs") ? -ENOMEM :
	    mount_opts_parse(&o, opt, &fargs, why, whylen);
	if (r == -EINVAL && !strncmp(why, "-o ", 3))
		memmove(why, why + 3, strlen(why + 3) + 1);
	/* what ssefs left to libfuse: would fuse_new() take it?  (It
	 * neither opens /dev/fuse nor mounts.) */
	if (!r && fargs.argc > 1) {
		fuse_set_log_func(quiet_fuse_log);
		f = fuse_new(&fargs, &none, sizeof(none), NULL);
		fuse_set_log_func(NULL);
		if (f)
			fuse_destroy(f);
		else
			r = -ENOENT;
	}
	fuse_opt_free_args(&fargs);
	mount_opts_release(&o);
	free(opt);
	return r;
}

int mount_kernel_uring(void)
{
	char c = 0;
	FILE *f = fopen(MOUNT_ENABLE_URING, "re");

	if (!f)
		return 0;
	if (fread(&c, 1, 1, f) != 1)
		c = 0;
	fclose(f);
	return c == 'Y' || c == '1';
}

uint64_t mount_readahead(const struct mount_opts *o)
{
	if (o->readahead)
		return o->readahead;
	return geteuid() == 0 ? MOUNT_DEFAULT_READAHEAD : 0;
}

uint64_t mount_cache_size(const struct mount_opts *o)
{
	return o->cache_size ? o->cache_size : MOUNT_DEFAULT_CACHE_SIZE;
}

const char *mount_caching_name(int caching)
{
	switch (caching) {
	case CACHING_READONLY:
		return "ReadOnly";
	case CACHING_READWRITE:
		return "ReadWrite";
	}
	return "None";
}

/* A size as SIZE is written (64M, 10G) when that is exact, else bytes. */
static void exact_size(uint64_t b, char *buf, size_t len)
{
	format_size(b, buf, len);
	if (strchr(buf, '.'))
		snprintf(buf, len, "%llu", (unsigned long long)b);
}

char *mount_opts_format(const struct mount_opts *o)
{
	char kc[32], rg[32], ri[32], sz[32], *s = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	format_duration(o->key_check_interval, kc, sizeof(kc));
	format_duration(o->revoke_grace, rg, sizeof(rg));
	format_duration(o->rotate_interval, ri, sizeof(ri));
	if (o->des)
		fprintf(f, "des=%s,", o->des);
	if (o->key)
		fprintf(f, "key=%s,", o->key);
	if (o->allow_other)
		fprintf(f, "allow_other,");
	if (o->allow_root)
		fprintf(f, "allow_root,");
	if (o->nonempty)
		fprintf(f, "nonempty,");
	fprintf(f, "key_check_interval=%s,revoke_grace=%s,rotate_interval=%s,",
		kc, rg, ri);
	if (o->notify)
		fprintf(f, "notify=%s,", o->notify);
	if (o->host_cache)
		fprintf(f, "host_cache=%s,", o->host_cache);
	fprintf(f, "caching=%s,", mount_caching_name(o->caching));
	if (o->caching != CACHING_NONE) {
		exact_size(mount_cache_size(o), sz, sizeof(sz));
		fprintf(f, "cache_size=%s,", sz);
	}
	if (o->caching == CACHING_READWRITE) {
		char wd[32];

		format_duration(o->writeback_delay, wd, sizeof(wd));
		fprintf(f, "writeback_delay=%s,", wd);
	}
	if (o->temp_disk) {
		exact_size(o->temp_disk, sz, sizeof(sz));
		fprintf(f, "temp_disk=%s,", sz);
	}
	if (mount_readahead(o)) {
		exact_size(mount_readahead(o), sz, sizeof(sz));
		fprintf(f, "readahead=%s,", sz);
	}
	if (o->store_timeout) {
		format_duration(o->store_timeout, sz, sizeof(sz));
		fprintf(f, "store_timeout=%s,", sz);
	}
	if (o->credentials)
		fprintf(f, "credentials=%s,", o->credentials);
	if (o->allow_http)
		fprintf(f, "allow_http,");
	if (o->io_uring != IO_URING_AUTO)
		fprintf(f, "io_uring=%s,",
			o->io_uring == IO_URING_ON ? "on" : "off");
	fprintf(f, "encryption_at_host=%s",
		o->encryption_at_host ? "on" : "off");
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}
