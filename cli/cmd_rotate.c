/*
 * cmd_rotate.c - `ssefs rotate [STORE]`: automatic rotation and key
 * policies, now
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "keyvault/vault.h"
#include "store/blobback.h"
#include "svc/errors.h"
#include "svc/rotation.h"
#include "util/config.h"
#include "util/json.h"
#include "util/log.h"
#include "util/progress.h"

static const char rotate_usage[] =
"usage: ssefs rotate [STORE] [--threads N]\n"
"\n"
"Apply key rotation policies, move each auto-rotating disk encryption set\n"
"to its key's newest version, and re-wrap every disk (and snapshot) of\n"
"each set that is not on its set's active key, and every platform-key\n"
"disk and inner layer of a double-encrypted disk not on the newest\n"
"platform key version (ssefs vault rotate-platform-key); only the disks\n"
"below STORE when given; disks moved within STORE behind the vault's back\n"
"(mv, a renamed store) are found there and entered in the registry.\n"
"A registered disk below STORE whose file is gone and is not found\n"
"elsewhere in STORE is dropped from the registry.  Without STORE, a\n"
"registered disk whose file is gone is skipped, and its set keeps the old\n"
"key in previousKeys.  A disk that fails, or whose name (a newline in\n"
"it) the registry cannot hold, is named and counted as failed; the others\n"
"go on.  Disks below STORE are reached beneath it, following no symlink.\n"
"Idempotent; safe beside a mount doing the same.\n"
"STORE may be a container URL (a blob store): its disks are listed, and\n"
"those a mount holds (their lease) are named and left to that mount;\n"
"its credentials come from the environment, or the config file's stores:\n"
"entry for it (credentials: FILE).\n"
"On a terminal (or with --progress) a line on stderr counts the disks.\n"
"Exit 0 when all went well, 1 when something failed, 3 when a registered\n"
"disk was missing.  See ssefs-des(1).\n";

static void say_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

int cli_rotate_des(struct cli_ctx *ctx, struct vault *v, const char *des)
{
	struct progress pg = { .on = cli_progress_on(ctx) };
	struct rotation_opts o = { .say = ctx->json ? NULL : say_line,
				   .progress = &pg };
	struct rotation_result res;
	int r;

	r = rotation_rewrap_des(v, &o, des, &res);
	if (r < 0) {
		error("des %s: %u disk%s not re-wrapped: %s", des,
		      res.disks_failed, res.disks_failed == 1 ? "" : "s",
		      svc_strerror(r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cmd_rotate(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rotation_opts o = { 0 };
	struct progress pg = { .on = cli_progress_on(ctx) };
	struct rotation_result res;
	struct vault *v = NULL;
	struct blob_store *bs = NULL;
	struct stat st;
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, "rotate")) != -1) {
		switch (c) {
		case 't':
			o.threads = atoi(optarg);
			if (o.threads < 1 || o.threads > 64)
				return cli_usage(rotate_usage, "--threads %s: "
						 "from 1 to 64", optarg);
			break;
		case 'h':
			fputs(rotate_usage, stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		return cli_usage(rotate_usage, "rotate: at most one STORE");
	o.store = optind < argc ? argv[optind] :
		  ctx->cfg ? config_default_store(ctx->cfg) : NULL;
	if (o.store && blob_is_url(o.store)) {
		/* a container: checked when it is listed */
	} else if (o.store && stat(o.store, &st) < 0) {
		error("store %s: %s", o.store, strerror(errno));
		return EXIT_FAIL;
	}
	if (o.store && !blob_is_url(o.store) && !S_ISDIR(st.st_mode)) {
		error("store %s: not a directory", o.store);
		return EXIT_FAIL;
	}
	o.notify = ctx->cfg ? config_notify(ctx->cfg) : NULL;
	o.say = ctx->json ? NULL : say_line;
	o.progress = &pg;
	if (o.store && blob_is_url(o.store)) {
		/* the config file's stores: entry (credentials=FILE) */
		struct blob_store_opts bo;
		char msg[BLOB_MSG_MAX];

		if (cli_blob_opts(ctx, o.store, 0, &bo) < 0)
			return EXIT_FAIL;
		r = blob_store_open(&bs, o.store, &bo, msg, sizeof(msg));
		cli_blob_opts_free(&bo);
		if (r < 0) {
			error("%s", strncmp(msg, "ssefs: ", 7) ? msg : msg + 7);
			return EXIT_FAIL;
		}
		o.blob = bs;
	}
	if (cli_open_vault(ctx, &v)) {
		if (bs)
			blob_store_close(bs);
		return EXIT_FAIL;
	}
	r = rotation_run(v, &o, &res);
	vault_close(v);
	if (bs)
		blob_store_close(bs);
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_uint(&j, "keysRotated", res.keys_rotated);
		json_uint(&j, "desMoved", res.des_moved);
		json_uint(&j, "disksRewrapped", res.disks_rewrapped);
		json_uint(&j, "disksCurrent", res.disks_current);
		json_uint(&j, "disksFailed", res.disks_failed);
		json_uint(&j, "disksSkipped", res.disks_skipped);
		json_uint(&j, "eventsFailed", res.events_failed);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("rotate: %u key%s rotated, %u set%s moved, %u disk%s "
		       "re-wrapped, %u current, %u failed",
		       res.keys_rotated, res.keys_rotated == 1 ? "" : "s",
		       res.des_moved, res.des_moved == 1 ? "" : "s",
		       res.disks_rewrapped, res.disks_rewrapped == 1 ? "" : "s",
		       res.disks_current, res.disks_failed);
		if (res.disks_skipped)
			printf(", %u missing", res.disks_skipped);
		putchar('\n');
	}
	if (res.store_error[0])
		error("%s", res.store_error);
	else if (r < 0 && !res.disks_failed)
		error("rotate: %s", svc_strerror(r));
	if (r < 0)
		return EXIT_FAIL;
	return res.disks_skipped ? EXIT_ATTENTION : EXIT_OK;
}
