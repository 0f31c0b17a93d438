/*
 * cmd_key.c - `ssefs key`: customer-managed RSA keys and their versions
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "keyvault/vault.h"
#include "util/io.h"
#include "util/json.h"
#include "util/log.h"

int cli_take(int argc, char **argv, int *i, const char *name,
	     const char **val);

static const char key_usage[] =
"usage: ssefs key create NAME [--size 2048|3072|4096] [--expires T]\n"
"                 [--not-before T]\n"
"       ssefs key import NAME --pem FILE\n"
"       ssefs key list | show NAME[/VERSION] | rotate NAME\n"
"       ssefs key set NAME[/VERSION] [--enabled true|false]\n"
"                 [--expires T|never] [--not-before T|never]\n"
"       ssefs key delete NAME | recover NAME | purge NAME\n"
"       ssefs key policy NAME [--rotate-after DUR] [--notify-before DUR]\n"
"       ssefs key expiring [--within DUR]\n"
"  create    a new RSA key (default 3072 bits) with one version\n"
"  import    an RSA 2048/3072/4096 private key, PKCS#1 or PKCS#8 PEM\n"
"  rotate    add a version; the newest version is the current one\n"
"  set       without VERSION: the key as a whole (all versions)\n"
"  delete    soft delete; the name stays reserved until purged\n"
"  recover   undo a delete within the retention period\n"
"  purge     remove a deleted key for good (refused under purge\n"
"            protection until its retention is over)\n"
"  policy    store a rotation policy\n"
"  expiring  list versions expiring within DUR (default 30d); exit 3\n"
"            if any\n"
"Global --json prints JSON.  See ssefs-key(1).\n";

static int fail(const char *what, int r)
{
	if (r == -EEXIST)
		error("key %s: already exists (a deleted key keeps its name "
		      "until purged)", what);
	else if (r == -ENOKEY)
		error("key %s: no such key", what);
	else if (r == -EPERM)
		error("key %s: purge protection is on and the retention "
		      "period is not over", what);
	else if (r == -EPROTONOSUPPORT)
		error("key %s: only RSA 2048, 3072 or 4096 keys", what);
	else if (r == -EBADMSG)
		error("key %s: not a readable PEM private key", what);
	else if (r == -EINVAL)
		error("key %s: invalid name or state for this operation",
		      what);
	else
		error("key %s: %s", what, cli_strerror(r));
	return EXIT_FAIL;
}

static void put_time(struct json *j, const char *k, time_t t)
{
	if (t)
		json_time(j, k, (int64_t)t);
	else
		json_null(j, k);
}

static void put_key(struct json *j, const char *key,
		    const struct vault_key_info *k)
{
	size_t i;

	json_obj_begin(j, key);
	json_str(j, "name", k->name);
	json_str(j, "kid", k->nversions ?
		 k->versions[k->nversions - 1].kid : NULL);
	json_bool(j, "enabled", k->enabled);
	json_bool(j, "deleted", k->deleted);
	put_time(j, "deletedDate", k->deleted_date);
	put_time(j, "scheduledPurgeDate", k->purge_date);
	json_uint(j, "size", k->size);
	put_time(j, "created", k->created);
	json_obj_begin(j, "policy");
	if (k->rotate_after)
		json_uint(j, "rotateAfter", k->rotate_after);
	else
		json_null(j, "rotateAfter");
	if (k->notify_before)
		json_uint(j, "notifyBefore", k->notify_before);
	else
		json_null(j, "notifyBefore");
	json_obj_end(j);
	json_arr_begin(j, "versions");
	for (i = 0; i < k->nversions; i++) {
		const struct vault_key_version *x = &k->versions[i];

		json_obj_begin(j, NULL);
		json_str(j, "version", x->version);
		json_str(j, "kid", x->kid);
		json_bool(j, "enabled", x->enabled);
		put_time(j, "notBefore", x->not_before);
		put_time(j, "expires", x->expires);
		put_time(j, "created", x->created);
		put_time(j, "updated", x->updated);
		json_str(j, "state", key_state_name(x->state));
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void text_time(const char *label, time_t t)
{
	char buf[64];

	if (!t) {
		printf("  %-12s -\n", label);
		return;
	}
	format_time(t, buf, sizeof(buf));
	printf("  %-12s %s\n", label, buf);
}

static void show_text(const struct vault_key_info *k, const char *only)
{
	char d[64];
	size_t i;

	printf("%s  %u bits  %s%s\n", k->name, k->size,
	       k->enabled ? "enabled" : "disabled",
	       k->deleted ? "  deleted" : "");
	if (k->deleted) {
		text_time("deleted", k->deleted_date);
		text_time("purge after", k->purge_date);
	}
	format_duration(k->rotate_after, d, sizeof(d));
	printf("  rotate-after %s\n", k->rotate_after ? d : "-");
	format_duration(k->notify_before, d, sizeof(d));
	printf("  notify-before %s\n", k->notify_before ? d : "-");
	for (i = 0; i < k->nversions; i++) {
		const struct vault_key_version *x = &k->versions[i];

		if (only && *only && strcmp(only, x->version))
			continue;
		printf("%s  %s%s\n", x->kid, key_state_name(x->state),
		       i + 1 == k->nversions ? "  (current)" : "");
		text_time("not-before", x->not_before);
		text_time("expires", x->expires);
		text_time("created", x->created);
	}
}

static int print_key(struct vault *v, const char *name, struct cli_ctx *ctx,
		     const char *only)
{
	struct vault_key_info k;
	struct json j;
	int r = vault_key_get(v, name, &k);

	if (r)
		return fail(name, r);
	if (ctx->json) {
		json_init(&j, stdout, JSON_PRETTY);
		put_key(&j, NULL, &k);
		json_end(&j);
	} else {
		show_text(&k, only);
	}
	vault_key_info_free(&k);
	return EXIT_OK;
}

static int opt_time(const char *opt, const char *v, time_t *t)
{
	if (!strcmp(v, "never")) {
		*t = 0;
		return 0;
	}
	if (parse_time(v, t))
		return cli_usage(NULL, "%s %s: not a time", opt, v);
	return 0;
}

static int k_create(int argc, char **argv, struct vault *v,
		    struct cli_ctx *ctx)
{
	const char *name = NULL, *val;
	char kid[VAULT_KID_MAX + 1];
	unsigned int bits = 3072;
	time_t nbf = 0, exp = 0;
	int i, t, r;

	for (i = 1; i < argc; i++) {
		if ((t = cli_take(argc, argv, &i, "--size", &val)) > 0) {
			bits = (unsigned)atoi(val);
			if (bits != 2048 && bits != 3072 && bits != 4096)
				return cli_usage(NULL, "--size %s: want 2048, "
						 "3072 or 4096", val);
		} else if (t == 0 && (t = cli_take(argc, argv, &i,
						   "--expires", &val)) > 0) {
			if (opt_time("--expires", val, &exp))
				return EXIT_USAGE;
		} else if (t == 0 && (t = cli_take(argc, argv, &i,
						   "--not-before", &val)) > 0) {
			if (opt_time("--not-before", val, &nbf))
				return EXIT_USAGE;
		} else if (t < 0) {
			return cli_usage(key_usage, "%s: needs a value",
					 argv[i]);
		} else if (argv[i][0] == '-' || name) {
			return cli_usage(key_usage, "%s: unknown argument",
					 argv[i]);
		} else {
			name = argv[i];
		}
	}
	if (!name)
		return cli_usage(key_usage, "create: needs NAME");
	r = vault_key_create(v, name, bits, nbf, exp, kid, sizeof(kid));
	if (r)
		return fail(name, r);
	if (ctx->json)
		return print_key(v, name, ctx, NULL);
	printf("%s\n", kid);
	return EXIT_OK;
}

static int k_import(int argc, char **argv, struct vault *v,
		    struct cli_ctx *ctx)
{
	const char *name = NULL, *pem = NULL;
	char kid[VAULT_KID_MAX + 1], *text = NULL;
	size_t len;
	int i, t, r;

	for (i = 1; i < argc; i++) {
		if ((t = cli_take(argc, argv, &i, "--pem", &pem)) > 0)
			continue;
		if (t < 0 || argv[i][0] == '-' || name)
			return cli_usage(key_usage, "%s: unknown argument",
					 argv[i]);
		name = argv[i];
	}
	if (!name || !pem)
		return cli_usage(key_usage, "import: needs NAME --pem FILE");
	r = io_read_file(pem, 1u << 20, &text, &len);
	if (r)
		return error("%s: %s", pem, cli_strerror(r)), EXIT_FAIL;
	r = vault_key_import(v, name, text, len, kid, sizeof(kid));
	free(text);
	if (r == -EBADMSG || r == -EPROTONOSUPPORT)
		return error("%s: %s", pem, r == -EBADMSG ?
			     "not a readable (unencrypted) PEM private key" :
			     "only RSA 2048, 3072 or 4096 keys are supported"),
		       EXIT_FAIL;
	if (r)
		return fail(name, r);
	if (ctx->json)
		return print_key(v, name, ctx, NULL);
	printf("%s\n", kid);
	return EXIT_OK;
}

static int k_list(struct vault *v, struct cli_ctx *ctx)
{
	struct vault_key_info *k = NULL;
	struct json j;
	size_t n = 0, i;
	int r = vault_key_list(v, &k, &n);

	if (r)
		return error("vault %s: %s", vault_dir(v), cli_strerror(r)),
		       EXIT_FAIL;
	if (ctx->json) {
		json_init(&j, stdout, JSON_PRETTY);
		json_arr_begin(&j, NULL);
		for (i = 0; i < n; i++)
			put_key(&j, NULL, &k[i]);
		json_arr_end(&j);
		json_end(&j);
	} else {
		for (i = 0; i < n; i++)
			printf("%-24s %u  %s%s  %zu version%s\n", k[i].name,
			       k[i].size, k[i].enabled ? "enabled" :
			       "disabled", k[i].deleted ? " deleted" : "",
			       k[i].nversions, k[i].nversions == 1 ? "" : "s");
	}
	vault_key_list_free(k, n);
	return EXIT_OK;
}

static int k_set(int argc, char **argv, struct vault *v)
{
	struct vault_key_update u;
	const char *ref = NULL, *val;
	int i, t, r;

	memset(&u, 0, sizeof(u));
	for (i = 1; i < argc; i++) {
		if ((t = cli_take(argc, argv, &i, "--enabled", &val)) > 0) {
			if (parse_bool(val, &u.enabled))
				return cli_usage(NULL, "--enabled %s: want "
						 "true or false", val);
			u.set_enabled = 1;
		} else if (t == 0 && (t = cli_take(argc, argv, &i,
						   "--expires", &val)) > 0) {
			if (opt_time("--expires", val, &u.expires))
				return EXIT_USAGE;
			u.set_expires = 1;
		} else if (t == 0 && (t = cli_take(argc, argv, &i,
						   "--not-before", &val)) > 0) {
			if (opt_time("--not-before", val, &u.not_before))
				return EXIT_USAGE;
			u.set_not_before = 1;
		} else if (t < 0 || argv[i][0] == '-' || ref) {
			return cli_usage(key_usage, "%s: unknown argument",
					 argv[i]);
		} else {
			ref = argv[i];
		}
	}
	if (!ref)
		return cli_usage(key_usage, "set: needs NAME[/VERSION]");
	r = vault_key_set(v, ref, &u);
	return r ? fail(ref, r) : EXIT_OK;
}

static int k_policy(int argc, char **argv, struct vault *v)
{
	unsigned long long ra = (unsigned long long)-1, nb = ra;
	const char *name = NULL, *val;
	uint64_t s;
	int i, t, r;

	for (i = 1; i < argc; i++) {
		if ((t = cli_take(argc, argv, &i, "--rotate-after", &val)) > 0
		    || (t == 0 && (t = cli_take(argc, argv, &i,
					      "--notify-before", &val)) > 0)) {
			if (parse_duration(val, &s))
				return cli_usage(NULL, "%s: not a duration",
						 val);
			if (strstr(argv[i], "--rotate-after") ||
			    (i > 0 && !strcmp(argv[i - 1], "--rotate-after")))
				ra = s;
			else
				nb = s;
		} else if (t < 0 || argv[i][0] == '-' || name) {
			return cli_usage(key_usage, "%s: unknown argument",
					 argv[i]);
		} else {
			name = argv[i];
		}
	}
	if (!name)
		return cli_usage(key_usage, "policy: needs NAME");
	r = vault_key_policy(v, name, ra, nb);
	return r ? fail(name, r) : EXIT_OK;
}

static int k_expiring(int argc, char **argv, struct vault *v,
		      struct cli_ctx *ctx)
{
	struct vault_key_info *k = NULL;
	uint64_t within = 30 * 86400;
	const char *val;
	size_t n = 0, i, x;
	time_t now = time(NULL);
	struct json j;
	char buf[64];
	int t, r, found = 0;

	for (t = 1; t < argc; t++) {
		int a = t;

		r = cli_take(argc, argv, &a, "--within", &val);
		if (r <= 0)
			return cli_usage(key_usage, "%s: unknown argument",
					 argv[t]);
		if (parse_duration(val, &within))
			return cli_usage(NULL, "--within %s: not a duration",
					 val);
		t = a;
	}
	if ((r = vault_key_list(v, &k, &n)))
		return error("vault %s: %s", vault_dir(v), cli_strerror(r)),
		       EXIT_FAIL;
	if (ctx->json) {
		json_init(&j, stdout, JSON_PRETTY);
		json_arr_begin(&j, NULL);
	}
	for (i = 0; i < n; i++) {
		if (k[i].deleted)
			continue;
		for (x = 0; x < k[i].nversions; x++) {
			struct vault_key_version *vv = &k[i].versions[x];

			if (!vv->expires ||
			    vv->expires > now + (time_t)within)
				continue;
			found = 1;
			if (ctx->json) {
				json_obj_begin(&j, NULL);
				json_str(&j, "kid", vv->kid);
				json_time(&j, "expires", vv->expires);
				json_str(&j, "state",
					 key_state_name(vv->state));
				json_obj_end(&j);
			} else {
				format_time(vv->expires, buf, sizeof(buf));
				printf("%s  expires %s  %s\n", vv->kid, buf,
				       key_state_name(vv->state));
			}
		}
	}
	if (ctx->json) {
		json_arr_end(&j);
		json_end(&j);
	}
	vault_key_list_free(k, n);
	return found ? EXIT_ATTENTION : EXIT_OK;
}

int cmd_key(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	char kid[VAULT_KID_MAX + 1], name[128], ver[40];
	struct vault *v = NULL;
	int rc, r;

	if (!sub)
		return cli_usage(key_usage, "key: needs a subcommand");
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(key_usage, stdout);
		return EXIT_OK;
	}
	if (strcmp(sub, "create") && strcmp(sub, "import") &&
	    strcmp(sub, "list") && strcmp(sub, "show") &&
	    strcmp(sub, "rotate") && strcmp(sub, "set") &&
	    strcmp(sub, "delete") && strcmp(sub, "recover") &&
	    strcmp(sub, "purge") && strcmp(sub, "policy") &&
	    strcmp(sub, "expiring"))
		return cli_usage(key_usage, "key %s: unknown subcommand", sub);
	if (strcmp(sub, "list") && strcmp(sub, "expiring") && argc < 3)
		return cli_usage(key_usage, "key %s: needs NAME", sub);
	if ((rc = cli_open_vault(ctx, &v)))
		return rc;
	argc--;
	argv++;
	if (!strcmp(sub, "create")) {
		rc = k_create(argc, argv, v, ctx);
	} else if (!strcmp(sub, "import")) {
		rc = k_import(argc, argv, v, ctx);
	} else if (!strcmp(sub, "list")) {
		rc = k_list(v, ctx);
	} else if (!strcmp(sub, "show")) {
		snprintf(name, sizeof(name), "%s", argv[1]);
		ver[0] = '\0';
		if (strchr(name, '/')) {
			snprintf(ver, sizeof(ver), "%s",
				 strchr(name, '/') + 1);
			*strchr(name, '/') = '\0';
		}
		rc = print_key(v, name, ctx, ver);
	} else if (!strcmp(sub, "rotate")) {
		r = vault_key_rotate(v, argv[1], kid, sizeof(kid));
		if (r)
			rc = fail(argv[1], r);
		else if (ctx->json)
			rc = print_key(v, argv[1], ctx, NULL);
		else
			rc = printf("%s\n", kid) < 0;
	} else if (!strcmp(sub, "set")) {
		rc = k_set(argc, argv, v);
	} else if (!strcmp(sub, "delete")) {
		r = vault_key_delete(v, argv[1]);
		rc = r ? fail(argv[1], r) : EXIT_OK;
	} else if (!strcmp(sub, "recover")) {
		r = vault_key_recover(v, argv[1]);
		rc = r ? fail(argv[1], r) : EXIT_OK;
	} else if (!strcmp(sub, "purge")) {
		r = vault_key_purge(v, argv[1]);
		rc = r ? fail(argv[1], r) : EXIT_OK;
	} else if (!strcmp(sub, "policy")) {
		rc = k_policy(argc, argv, v);
	} else {
		rc = k_expiring(argc, argv, v, ctx);
	}
	vault_close(v);
	return rc;
}
