/*
 * blobopts.c - a blob store's options for commands other than mount:
 * credentials=FILE, store_timeout and allow_http from the config file's
 * mount: defaults and the stores: entry of the container URL, as the
 * mount takes them
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fuse.h>

#include "cli/cli.h"
#include "fuse/opts.h"
#include "store/blobback.h"
#include "util/config.h"
#include "util/log.h"

#define URL_MAX		2048
#define NAME_MAX_B	1024

int cli_blob_opts(struct cli_ctx *ctx, const char *url, int disk,
		  struct blob_store_opts *o)
{
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	char store[URL_MAX], name[NAME_MAX_B], opts[4096], err[512];
	struct mount_opts mo;
	int r;

	memset(o, 0, sizeof(*o));
	if (!ctx->cfg)
		return 0;
	if (disk) {
		/* a malformed disk URL: the open says what is wrong */
		if (blob_url_split(url, store, sizeof(store), name,
				   sizeof(name)) < 0)
			return 0;
	} else {
		size_t l = strlen(url);

		while (l > 1 && url[l - 1] == '/')
			l--;
		if (l >= sizeof(store))
			return 0;
		memcpy(store, url, l);
		store[l] = '\0';
	}
	if (config_mount_options(ctx->cfg, store, opts, sizeof(opts)) < 0) {
		error("config %s: mount options too long", ctx->config_file);
		return -1;
	}
	mount_opts_init(&mo);
	r = mount_opts_parse(&mo, opts, &fargs, err, sizeof(err));
	fuse_opt_free_args(&fargs);
	if (r < 0) {
		mount_opts_release(&mo);
		error("config %s: %s", ctx->config_file, err);
		return -1;
	}
	o->timeout_ms = (unsigned int)mo.store_timeout * 1000;
	o->allow_http = mo.allow_http;
	o->credentials_file = mo.credentials;	/* taken over */
	mo.credentials = NULL;
	mount_opts_release(&mo);
	return 0;
}

void cli_blob_opts_free(struct blob_store_opts *o)
{
	free((char *)o->credentials_file);
	o->credentials_file = NULL;
}
