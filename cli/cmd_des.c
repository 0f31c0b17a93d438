/*
 * cmd_des.c - `ssefs des`: disk encryption sets
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cmd_vault.h"
#include "crypto/envelope.h"
#include "keyvault/des.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "svc/errors.h"
#include "util/json.h"
#include "util/log.h"
#include "util/parse.h"

static const char des_usage[] =
"usage: ssefs des create NAME --key NAME[/VERSION] [--type TYPE]\n"
"                        [--auto-rotate [true|false]]\n"
"       ssefs des update NAME [--key NAME[/VERSION]] [--auto-rotate true|false]\n"
"       ssefs des list\n"
"       ssefs des show NAME\n"
"       ssefs des delete NAME\n"
"\n"
"TYPE: EncryptionAtRestWithCustomerKey (default) or\n"
"      EncryptionAtRestWithPlatformAndCustomerKeys (double encryption).\n"
"--key NAME follows the key's newest version; NAME/VERSION (or that\n"
"version's kid, as key create prints it) pins one.\n"
"--auto-rotate moves every disk of the set to the newest key version\n"
"within the rotation interval (ssefs rotate, or a mount's daemon).\n"
"delete is refused while disks of the set exist (those whose file is gone\n"
"are dropped from the vault's registry); with --json it prints\n"
"{name, deleted}.\n"
"See ssefs-des(1).\n";

static int des_error(const char *name, int r)
{
	if (r == -ENOENT)
		error("des %s: no such disk encryption set", name);
	else if (r == -EEXIST)
		error("des %s: already exists", name);
	else
		error("des %s: %s", name, svc_strerror(r));
	return EXIT_FAIL;
}

/* Count the registered disks (and snapshots) of @name. */
static int count_disks(struct vault *v, const char *name, size_t *count)
{
	struct vault_disk *d;
	size_t n;
	int r;

	r = vault_disk_list(v, &d, &n);
	if (r < 0)
		return r;
	*count = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].des, name))
			(*count)++;
	free(d);
	return 0;
}

static void show_json(struct json *j, const struct des *d, long disks)
{
	json_obj_begin(j, NULL);
	json_str(j, "name", d->name);
	json_obj_begin(j, "activeKey");
	json_str(j, "keyUrl", d->active_kid);
	json_str(j, "key", d->key);
	json_str(j, "pinnedVersion", *d->version ? d->version : NULL);
	json_obj_end(j);
	json_arr_begin(j, "previousKeys");
	for (unsigned int i = 0; i < d->nprevious; i++) {
		json_obj_begin(j, NULL);
		json_str(j, "keyUrl", d->previous[i]);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_str(j, "encryptionType", env_type_name(d->type));
	json_bool(j, "rotationToLatestKeyVersionEnabled", d->auto_rotate);
	json_time(j, "created", d->created);
	json_time(j, "lastKeyRotationTimestamp", d->last_rotation);
	json_str(j, "autoKeyRotationError",
		 *d->rotation_error ? d->rotation_error : NULL);
	if (disks >= 0)
		json_int(j, "disks", disks);
	json_obj_end(j);
}

static void show_text(const struct des *d, long disks)
{
	char t[32];

	printf("name:             %s\n", d->name);
	printf("encryption type:  %s\n", env_type_name(d->type));
	printf("key:              %s%s%s\n", d->key, *d->version ? "/" : "",
	       d->version);
	printf("active key:       %s\n", d->active_kid);
	for (unsigned int i = 0; i < d->nprevious; i++)
		printf("previous key:     %s\n", d->previous[i]);
	printf("auto-rotate:      %s\n", d->auto_rotate ? "on" : "off");
	format_time(d->created, t, sizeof(t));
	printf("created:          %s\n", t);
	if (d->last_rotation)
		format_time(d->last_rotation, t, sizeof(t));
	printf("last rotation:    %s\n", d->last_rotation ? t : "never");
	if (*d->rotation_error)
		printf("rotation error:   %s\n", d->rotation_error);
	if (disks >= 0)
		printf("disks:            %ld\n", disks);
}

/* Resolve --key NAME[/VERSION] to a kid; the key must be usable now. */
static int resolve_key(struct vault *v, const char *ref, struct des *d)
{
	char name[KID_NAME_MAX + 1], ver[KID_VERSION_LEN + 1];
	enum key_state st;
	int r;

	r = cli_key_ref(v, ref, name, ver);
	if (r == -EXDEV)
		return error("key %s: %s", ref, svc_strerror(r)), EXIT_FAIL;
	if (r < 0)
		return cli_key_ref_usage("--key", ref);
	r = vault_resolve(v, ref, d->active_kid, sizeof(d->active_kid));
	if (r < 0) {
		error("key %s: %s", ref, svc_strerror(r));
		return EXIT_FAIL;
	}
	st = vault_key_state(v, d->active_kid, 0);
	if (st != KEY_USABLE) {
		error("key %s: %s is %s", ref, d->active_kid,
		      key_state_name(st));
		return EXIT_FAIL;
	}
	snprintf(d->key, sizeof(d->key), "%s", name);
	snprintf(d->version, sizeof(d->version), "%s", ver);
	return EXIT_OK;
}

static const struct option create_opts[] = {
	{ "key", required_argument, NULL, 'k' },
	{ "type", required_argument, NULL, 't' },
	{ "auto-rotate", optional_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int des_create_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *key = NULL;
	struct vault *v = NULL;
	struct des d;
	int c, r;

	memset(&d, 0, sizeof(d));
	d.type = ENV_TYPE_CUSTOMER;
	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", create_opts,
			       "des create")) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 't':
			if (env_type_parse(optarg, &d.type) < 0 ||
			    d.type == ENV_TYPE_PLATFORM)
				return cli_usage(des_usage, "--type %s: must be "
					"EncryptionAtRestWithCustomerKey or "
					"EncryptionAtRestWithPlatformAndCustomerKeys",
					optarg);
			break;
		case 'a':
			/* "--auto-rotate true|false", as des update takes it */
			if (!optarg && optind < argc &&
			    (!strcmp(argv[optind], "true") ||
			     !strcmp(argv[optind], "false")))
				optarg = argv[optind++];
			if (!optarg)
				d.auto_rotate = 1;
			else if (parse_bool(optarg, &d.auto_rotate) < 0)
				return cli_usage(des_usage, "--auto-rotate=%s: "
						 "must be true or false", optarg);
			break;
		case 'h':
			fputs(des_usage, stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return cli_usage(des_usage, "des create: needs one NAME");
	if (!des_valid_name(argv[optind]))
		return cli_usage(des_usage, "des %s: a name is 1-80 of "
				 "A-Z a-z 0-9 _ -", argv[optind]);
	if (!key)
		return cli_usage(des_usage, "des create: --key is required");
	snprintf(d.name, sizeof(d.name), "%s", argv[optind]);

	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	r = resolve_key(v, key, &d);
	if (r != EXIT_OK)
		goto out;
	if (d.auto_rotate && *d.version) {
		r = cli_usage(des_usage, "des %s: --auto-rotate follows the "
			      "newest key version; give --key %s without a "
			      "version", d.name, d.key);
		goto out;
	}
	d.created = time(NULL);
	r = des_create(vault_dir(v), &d);
	vault_audit(v, "des.create", d.active_kid, r);
	if (r < 0) {
		r = des_error(d.name, r);
		goto out;
	}
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		show_json(&j, &d, 0);
		json_end(&j);
	} else {
		printf("%s\n", d.name);
	}
	r = EXIT_OK;
out:
	vault_close(v);
	return r;
}

static const struct option update_opts[] = {
	{ "key", required_argument, NULL, 'k' },
	{ "auto-rotate", required_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct update_args {
	const struct des *want;
	int set_key, set_auto;
	char old_kid[DES_KID_MAX + 1];
};

static int apply_update(struct des *d, void *arg)
{
	struct update_args *u = arg;

	snprintf(u->old_kid, sizeof(u->old_kid), "%s", d->active_kid);
	if (u->set_key) {
		snprintf(d->key, sizeof(d->key), "%s", u->want->key);
		snprintf(d->version, sizeof(d->version), "%s",
			 u->want->version);
		if (strcmp(d->active_kid, u->want->active_kid)) {
			des_set_active(d, u->want->active_kid);
			d->last_rotation = time(NULL);
		}
	}
	if (u->set_auto)
		d->auto_rotate = u->want->auto_rotate;
	if (d->auto_rotate && *d->version)
		return -EINVAL;
	return 0;
}

static int des_update_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	struct update_args u = { 0 };
	const char *key = NULL;
	struct vault *v = NULL;
	struct des want, d;
	int c, r;

	memset(&want, 0, sizeof(want));
	u.want = &want;
	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", update_opts,
			       "des update")) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			u.set_key = 1;
			break;
		case 'a':
			if (parse_bool(optarg, &want.auto_rotate) < 0)
				return cli_usage(des_usage, "--auto-rotate %s: "
						 "must be true or false", optarg);
			u.set_auto = 1;
			break;
		case 'h':
			fputs(des_usage, stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return cli_usage(des_usage, "des update: needs one NAME");
	if (!u.set_key && !u.set_auto)
		return cli_usage(des_usage, "des update: nothing to change "
				 "(--key or --auto-rotate)");

	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	if (key) {
		r = resolve_key(v, key, &want);
		if (r != EXIT_OK)
			goto out;
	}
	r = des_modify(vault_dir(v), argv[optind], apply_update, &u);
	vault_audit(v, "des.update", u.set_key ? want.active_kid : NULL, r);
	if (r == -EINVAL) {
		r = cli_usage(des_usage, "des %s: --auto-rotate follows the "
			      "newest key version; the key is pinned to a "
			      "version", argv[optind]);
		goto out;
	}
	if (r < 0) {
		r = des_error(argv[optind], r);
		goto out;
	}
	r = des_get(vault_dir(v), argv[optind], &d);
	if (r < 0) {
		r = des_error(argv[optind], r);
		goto out;
	}
	/* A new key: move every disk of the set to it now. */
	r = EXIT_OK;
	if (u.set_key)
		r = cli_rotate_des(ctx, v, d.name);
	if (ctx->json) {
		struct json j;

		des_get(vault_dir(v), argv[optind], &d);
		json_init(&j, stdout, JSON_PRETTY);
		show_json(&j, &d, -1);
		json_end(&j);
	}
out:
	vault_close(v);
	return r;
}

static int des_show_cmd(int argc, char **argv, struct cli_ctx *ctx,
			int list)
{
	struct vault *v = NULL;
	struct des *all = NULL;
	size_t n = 0, disks;
	struct json j;
	int r, found = 0;

	if (list ? argc != 1 : argc != 2)
		return cli_usage(des_usage, list ? "des list: takes no "
				 "arguments" : "des show: needs one NAME");
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	r = des_list(vault_dir(v), &all, &n);
	if (r < 0) {
		error("vault %s: cannot read disk encryption sets: %s",
		      vault_dir(v), svc_strerror(r));
		r = EXIT_FAIL;
		goto out;
	}
	if (ctx->json) {
		json_init(&j, stdout, JSON_PRETTY);
		if (list)
			json_arr_begin(&j, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (!list && strcmp(all[i].name, argv[1]))
			continue;
		found = 1;
		if (count_disks(v, all[i].name, &disks) < 0)
			disks = 0;
		if (ctx->json)
			show_json(&j, &all[i], (long)disks);
		else if (list)
			printf("%-20s %-45s %s%s\n", all[i].name,
			       env_type_name(all[i].type), all[i].key,
			       all[i].auto_rotate ? " (auto-rotate)" : "");
		else
			show_text(&all[i], (long)disks);
	}
	if (ctx->json) {
		if (list)
			json_arr_end(&j);
		if (list || found)
			json_end(&j);
	}
	r = EXIT_OK;
	if (!list && !found)
		r = des_error(argv[1], -ENOENT);
out:
	free(all);
	vault_close(v);
	return r;
}

/*
 * Drop from the registry the disks of set @name whose file is gone (removed
 * with rm rather than through a mount); count the others in *@live.
 */
static int prune_gone_disks(struct vault *v, const char *name, size_t *live)
{
	struct vault_disk *d;
	struct stat st;
	size_t n;
	int r;

	r = vault_disk_list(v, &d, &n);
	if (r < 0)
		return r;
	*live = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (strcmp(d[i].des, name))
			continue;
		if (lstat(d[i].path, &st) == 0 || errno != ENOENT)
			(*live)++;
		else
			r = vault_disk_del(v, d[i].uuid);
	}
	free(d);
	return r == -ENOENT ? 0 : r;
}

static int des_delete_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	struct vault *v = NULL;
	struct des d;
	size_t disks;
	int r;

	if (argc != 2)
		return cli_usage(des_usage, "des delete: needs one NAME");
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	r = des_get(vault_dir(v), argv[1], &d);
	if (r == 0)
		r = prune_gone_disks(v, argv[1], &disks);
	if (r == 0 && disks > 0) {
		error("des %s: %zu disk%s still use%s it (snapshots "
		      "included); delete %s first", argv[1], disks,
		      disks == 1 ? "" : "s", disks == 1 ? "s" : "",
		      disks == 1 ? "it" : "them");
		r = EXIT_FAIL;
		goto out;
	}
	if (r == 0)
		r = des_delete(vault_dir(v), argv[1]);
	vault_audit(v, "des.delete", NULL, r);
	if (r < 0) {
		r = des_error(argv[1], r);
		goto out;
	}
	r = ctx->json ? cli_json_gone(argv[1], "deleted") : EXIT_OK;
out:
	vault_close(v);
	return r;
}

int cmd_des(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	char what[32];
	int r;

	if (!sub)
		return cli_usage(des_usage, "des: needs a subcommand");
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(des_usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "create"))
		return des_create_cmd(argc - 1, argv + 1, ctx);
	if (!strcmp(sub, "update"))
		return des_update_cmd(argc - 1, argv + 1, ctx);
	if (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "delete"))
		return cli_usage(des_usage, "des %s: unknown subcommand", sub);
	argc--;
	argv++;
	snprintf(what, sizeof(what), "des %s", sub);
	r = cli_plain_args(&argc, &argv, what, des_usage);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (!strcmp(sub, "list"))
		return des_show_cmd(argc, argv, ctx, 1);
	if (!strcmp(sub, "show"))
		return des_show_cmd(argc, argv, ctx, 0);
	return des_delete_cmd(argc, argv, ctx);
}
