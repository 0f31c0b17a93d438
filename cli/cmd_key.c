/*
 * cmd_key.c - `ssefs key`: customer-managed RSA keys and their versions
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cmd_vault.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "svc/errors.h"
#include "util/json.h"
#include "util/log.h"
#include "util/parse.h"

static const char key_usage[] =
"usage: ssefs key create NAME [--size 2048|3072|4096] [--expires T]\n"
"                            [--not-before T] [--protection software|hsm]\n"
"       ssefs key import NAME --pem FILE\n"
"       ssefs key list\n"
"       ssefs key show NAME[/VERSION]\n"
"       ssefs key rotate NAME\n"
"       ssefs key set NAME[/VERSION] [--enabled true|false]\n"
"                     [--expires T|never] [--not-before T|never]\n"
"       ssefs key delete NAME | recover NAME | purge NAME\n"
"       ssefs key policy NAME [--rotate-after DUR] [--notify-before DUR]\n"
"                             [--expire-after DUR]\n"
"       ssefs key expiring [--within DUR]\n"
"\n"
"  create    a new RSA key (default 3072 bits) with one version; prints its\n"
"            kid; --protection hsm generates it in the vault's PKCS#11\n"
"            token (ssefs vault set --hsm-module), which its private key\n"
"            never leaves; its versions are made there too\n"
"  import    a PEM RSA private key (PKCS#1 or PKCS#8, 2048/3072/4096 bits);\n"
"            always software protection\n"
"  list      every key, deleted ones too\n"
"  show      a key and its versions with their state\n"
"  rotate    add a version; the newest version is the current one; it\n"
"            expires after the policy's --expire-after, if set\n"
"  set       change a version, or without /VERSION the whole key (all\n"
"            versions, and the key's own enabled flag)\n"
"  delete    soft delete: kept for the vault's retention (default 90 days),\n"
"            the name stays reserved; recover undoes it; purge removes it\n"
"            for good (refused before retention ends while purge protection\n"
"            is on)\n"
"  policy    store rotate-after, notify-before and expire-after (0\n"
"            clears); ssefs rotate and the mount act on them; without\n"
"            any, print them.  Expiry events go to the notify command\n"
"            once per version and expiry (see ssefs-key(1))\n"
"  expiring  versions expiring within DUR (default: the key's\n"
"            --notify-before, else 30d); exit 3 if any\n"
"NAME/VERSION may also be the kid create prints (vault://VAULT/keys/...).\n"
"--expires must be after --not-before when both are given.  With --json,\n"
"set, delete and recover print the key object, policy the policy, purge\n"
"{name, purged}.\n"
"T: 2027-01-31T00:00:00Z or 2027-01-31; DUR: 90d, 12h, P90D.\n"
"See ssefs-key(1).\n";

static int key_error(const struct vault_err *e, const char *name, int err)
{
	/* The token said why: "key NAME: token LABEL: WHY" */
	if (err && e && *e->why)
		return error("key %s: %s", name, e->why);
	switch (err) {
	case -ENOKEY:
		return error("key %s: no such key", name);
	case -EEXIST:
		return error("key %s: already exists", name);
	case -EADDRINUSE:
		return error("key %s: name is held by a deleted key (recover "
			     "or purge it first)", name);
	case -EKEYREVOKED:
		return error("key %s: key is deleted (recover it first)", name);
	case -EPERM:
		return error("key %s: purge protection is on and the "
			     "retention period is not over", name);
	default:
		return error("key %s: %s", name, svc_strerror(err));
	}
}

/* The policy's members, seconds or null: "rotateAfter", "notifyBefore",
 * "expireAfter". */
static void json_policy(struct json *j, const struct vault_key *k)
{
	const struct {
		const char *name;
		uint64_t val;
	} m[] = {
		{ "rotateAfter", k->rotate_after },
		{ "notifyBefore", k->notify_before },
		{ "expireAfter", k->expire_after },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (m[i].val)
			json_uint(j, m[i].name, m[i].val);
		else
			json_null(j, m[i].name);
	}
}

/* The policy as text, "-" for a value not set: one line for key show
 * ("policy:   rotate-after 90d notify-before -", then " expire-after 180d"
 * when set), or one line each for key policy. */
static void text_policy(const struct vault_key *k, int oneline)
{
	char a[32], b[32], c[32];

	format_duration(k->rotate_after, a, sizeof(a));
	format_duration(k->notify_before, b, sizeof(b));
	format_duration(k->expire_after, c, sizeof(c));
	if (!oneline) {
		printf("rotate-after:  %s\nnotify-before: %s\n"
		       "expire-after:  %s\n", k->rotate_after ? a : "-",
		       k->notify_before ? b : "-", k->expire_after ? c : "-");
		return;
	}
	printf("policy:   rotate-after %s notify-before %s",
	       k->rotate_after ? a : "-", k->notify_before ? b : "-");
	if (k->expire_after)
		printf(" expire-after %s", c);
	putchar('\n');
}

static void json_key(struct json *j, struct vault *v, const struct vault_key *k,
		     time_t now)
{
	char kid[VAULT_KID_MAX + 1];
	struct kid pk;
	size_t i;

	memset(&pk, 0, sizeof(pk));
	snprintf(pk.vault, sizeof(pk.vault), "%s", vault_name(v));
	snprintf(pk.name, sizeof(pk.name), "%s", k->name);
	json_obj_begin(j, NULL);
	json_str(j, "name", k->name);
	if (k->nversions) {
		snprintf(pk.version, sizeof(pk.version), "%s",
			 k->versions[k->nversions - 1].version);
		kid_format(&pk, kid, sizeof(kid));
		json_str(j, "kid", kid);
	} else {
		json_null(j, "kid");
	}
	json_bool(j, "enabled", k->enabled);
	json_bool(j, "deleted", k->deleted);
	json_time(j, "deletedDate", k->deleted ? k->deleted_at : 0);
	json_time(j, "scheduledPurgeDate", k->deleted ? k->purge_at : 0);
	json_int(j, "size", k->bits);
	json_str(j, "protection", k->hsm ? "hsm" : "software");
	json_time(j, "created", k->created);
	json_obj_begin(j, "policy");
	json_policy(j, k);
	json_obj_end(j);
	json_arr_begin(j, "versions");
	for (i = 0; i < k->nversions; i++) {
		const struct vault_version *p = &k->versions[i];

		snprintf(pk.version, sizeof(pk.version), "%s", p->version);
		kid_format(&pk, kid, sizeof(kid));
		json_obj_begin(j, NULL);
		json_str(j, "version", p->version);
		json_str(j, "kid", kid);
		json_bool(j, "enabled", p->enabled);
		json_time(j, "notBefore", p->not_before);
		json_time(j, "expires", p->expires);
		json_time(j, "created", p->created);
		json_time(j, "updated", p->updated);
		json_str(j, "state",
			 key_state_name(vault_version_state(k, p, now)));
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static void tstr(time_t t, char *buf, size_t len)
{
	if (t)
		format_time(t, buf, len);
	else
		snprintf(buf, len, "-");
}

static void text_key(struct vault *v, const struct vault_key *k,
		     const char *only, time_t now)
{
	char a[32], b[32], c[32], d1[32];
	size_t i;

	printf("name:     %s\n", k->name);
	printf("vault:    %s\n", vault_name(v));
	printf("size:     %d\n", k->bits);
	printf("protection: %s\n", k->hsm ? "hsm" : "software");
	printf("enabled:  %s\n", k->enabled ? "true" : "false");
	if (k->deleted) {
		tstr(k->deleted_at, a, sizeof(a));
		tstr(k->purge_at, b, sizeof(b));
		printf("deleted:  %s (purge after %s)\n", a, b);
	}
	if (k->rotate_after || k->notify_before || k->expire_after)
		text_policy(k, 1);
	printf("versions (oldest first; the last is current):\n");
	for (i = 0; i < k->nversions; i++) {
		const struct vault_version *p = &k->versions[i];

		if (only && *only && strcmp(only, p->version))
			continue;
		tstr(p->created, a, sizeof(a));
		tstr(p->not_before, b, sizeof(b));
		tstr(p->expires, c, sizeof(c));
		snprintf(d1, sizeof(d1), "%s", p->enabled ? "enabled" :
			 "disabled");
		printf("  %s  %-13s created %s not-before %s expires %s\n",
		       p->version,
		       key_state_name(vault_version_state(k, p, now)), a, b,
		       c);
	}
}

static int opt_time(const char *opt, const char *val, int never_ok,
		    time_t *t)
{
	if (never_ok && !strcmp(val, "never")) {
		*t = 0;
		return 0;
	}
	if (parse_time(val, t))
		return cli_usage(key_usage, "%s: bad time '%s'", opt, val);
	return 0;
}

/* A key whose expiry is not after its not-before would never be usable. */
static int never_valid(void)
{
	return cli_usage(key_usage, "--expires: must be after --not-before "
			 "(the key would never be usable)");
}

static const struct option create_opts[] = {
	{ "size", required_argument, NULL, 's' },
	{ "expires", required_argument, NULL, 'e' },
	{ "not-before", required_argument, NULL, 'n' },
	{ "protection", required_argument, NULL, 'P' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option import_opts[] = {
	{ "pem", required_argument, NULL, 'p' },
	{ "protection", required_argument, NULL, 'P' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int do_create(int argc, char **argv, struct cli_ctx *ctx,
		     struct vault *v, int import)
{
	const char *val, *name = NULL, *pem = NULL;
	char kid[VAULT_KID_MAX + 1], what[32];
	time_t nbf = 0, exp = 0;
	struct vault_key *k;
	struct vault_err e = { .code = 0 };
	int c, bits = 0, hsm = 0, err;

	optind = 1;
	opterr = 0;
	snprintf(what, sizeof(what), "key %s", argv[0]);
	while ((c = cli_getopt(argc, argv, ":h", import ? import_opts :
			       create_opts, what)) != -1) {
		val = optarg;
		switch (c) {
		case 'P':
			if (strcmp(val, "software") && strcmp(val, "hsm"))
				return cli_usage(key_usage, "--protection: "
						 "want software or hsm, not "
						 "'%s'", val);
			if (import && !strcmp(val, "hsm"))
				return cli_usage(key_usage, "key import: "
						 "--protection hsm: a private "
						 "key that existed outside the "
						 "token cannot become an hsm "
						 "key (create one in the token "
						 "instead)");
			hsm = !strcmp(val, "hsm");
			break;
		case 's':
			if (strcmp(val, "2048") && strcmp(val, "3072") &&
			    strcmp(val, "4096"))
				return cli_usage(key_usage, "--size: want "
						 "2048, 3072 or 4096, not '%s'",
						 val);
			bits = atoi(val);
			break;
		case 'e':
			if (opt_time("--expires", val, 1, &exp))
				return EXIT_USAGE;
			break;
		case 'n':
			if (opt_time("--not-before", val, 1, &nbf))
				return EXIT_USAGE;
			break;
		case 'p':
			pem = val;
			break;
		case 'h':
			fputs(key_usage, stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (cli_extra_args(argc, argv, 1, what))
		return EXIT_USAGE;
	name = optind < argc ? argv[optind] : NULL;
	if (!name)
		return cli_usage(key_usage, "key %s: which NAME?", argv[0]);
	if (nbf && exp && exp <= nbf)
		return never_valid();
	if (!kid_valid_key_name(name) || !strcmp(name, "platform"))
		return cli_usage(key_usage, "key %s: bad name (want "
				 "[A-Za-z0-9-], at most 127, not \"platform\")",
				 name);
	if (import && !pem)
		return cli_usage(key_usage, "key import: --pem FILE is needed");
	if (import)
		err = vault_key_import(v, name, pem, kid, sizeof(kid));
	else
		err = vault_key_create_ex(v, name, bits,
					  hsm ? VAULT_KEY_HSM : 0, nbf, exp,
					  kid, sizeof(kid), &e);
	if (import && err == -ENOTSUP)
		return error("%s: not an RSA 2048, 3072 or 4096 private key",
			     pem), EXIT_FAIL;
	if (import && (err == -EBADMSG || err == -ENOENT || err == -EACCES))
		return error("%s: %s", pem, err == -EBADMSG ?
			     "not a PEM private key (or encrypted)" :
			     strerror(-err)), EXIT_FAIL;
	if (err)
		return key_error(&e, name, err), EXIT_FAIL;
	if (ctx->json && !vault_key_get(v, name, &k)) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_key(&j, v, k, time(NULL));
		json_end(&j);
		vault_keys_free(k, 1);
	} else {
		printf("%s\n", kid);
	}
	return EXIT_OK;
}

/* --json after a change (set, policy, delete, recover): the key object
 * as it now is, as show prints it. */
static int print_changed(struct cli_ctx *ctx, struct vault *v,
			 const char *name)
{
	struct vault_key *k;
	struct json j;

	if (!ctx->json || vault_key_get(v, name, &k))
		return EXIT_OK;
	json_init(&j, stdout, JSON_PRETTY);
	json_key(&j, v, k, time(NULL));
	json_end(&j);
	vault_keys_free(k, 1);
	return EXIT_OK;
}

static int do_show(int argc, char **argv, struct cli_ctx *ctx,
		   struct vault *v)
{
	char name[KID_NAME_MAX + 1], ver[KID_VERSION_LEN + 1];
	struct vault_key *k;
	struct json j;
	size_t i;
	int err;

	if (argc != 2)
		return cli_usage(key_usage, "key show: want NAME[/VERSION]");
	err = cli_key_ref(v, argv[1], name, ver);
	if (err == -EXDEV)
		return error("key %s: %s", argv[1], svc_strerror(err)),
		       EXIT_FAIL;
	if (err)
		return cli_key_ref_usage("key show", argv[1]);
	err = vault_key_get(v, name, &k);
	if (err)
		return key_error(NULL, name, err), EXIT_FAIL;
	if (*ver) {
		for (i = 0; i < k->nversions; i++)
			if (!strcmp(k->versions[i].version, ver))
				break;
		if (i == k->nversions) {
			vault_keys_free(k, 1);
			return error("key %s: no such version", argv[1]),
			       EXIT_FAIL;
		}
		if (ctx->json) {
			/* Only that version in "versions". */
			k->versions[0] = k->versions[i];
			k->nversions = 1;
		}
	}
	if (ctx->json) {
		json_init(&j, stdout, JSON_PRETTY);
		json_key(&j, v, k, time(NULL));
		json_end(&j);
	} else {
		text_key(v, k, ver, time(NULL));
	}
	vault_keys_free(k, 1);
	return EXIT_OK;
}

static int do_list(struct cli_ctx *ctx, struct vault *v)
{
	struct vault_key *ks;
	struct json j;
	time_t now = time(NULL);
	size_t n, i;
	int err = vault_key_list(v, &ks, &n);

	if (err)
		return error("vault %s: %s", vault_dir(v), svc_strerror(err)),
		       EXIT_FAIL;
	if (ctx->json) {
		json_init(&j, stdout, JSON_PRETTY);
		json_arr_begin(&j, NULL);
		for (i = 0; i < n; i++)
			json_key(&j, v, &ks[i], now);
		json_arr_end(&j);
		json_end(&j);
	} else {
		for (i = 0; i < n; i++) {
			const struct vault_key *k = &ks[i];
			const char *st = k->deleted ? "deleted" :
				!k->nversions ? "missing" :
				key_state_name(vault_version_state(k,
					&k->versions[k->nversions - 1], now));

			printf("%-24s %4d  %-8s  %-13s %zu version%s\n",
			       k->name, k->bits, k->hsm ? "hsm" : "software",
			       st, k->nversions,
			       k->nversions == 1 ? "" : "s");
		}
	}
	vault_keys_free(ks, n);
	return EXIT_OK;
}

static const struct option set_opts[] = {
	{ "enabled", required_argument, NULL, 'E' },
	{ "expires", required_argument, NULL, 'e' },
	{ "not-before", required_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int do_set(int argc, char **argv, struct cli_ctx *ctx,
		  struct vault *v)
{
	char name[KID_NAME_MAX + 1], ver[KID_VERSION_LEN + 1];
	struct vault_key_attrs a = { .enabled = -1 };
	const char *val, *ref = NULL;
	int c, any = 0, err;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", set_opts, "key set")) != -1) {
		val = optarg;
		switch (c) {
		case 'E':
			if (parse_bool(val, &a.enabled))
				return cli_usage(key_usage, "--enabled: want "
						 "true or false, not '%s'",
						 val);
			break;
		case 'e':
			if (opt_time("--expires", val, 1, &a.expires))
				return EXIT_USAGE;
			a.set_expires = 1;
			break;
		case 'n':
			if (opt_time("--not-before", val, 1, &a.not_before))
				return EXIT_USAGE;
			a.set_not_before = 1;
			break;
		case 'h':
			fputs(key_usage, stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
		any = 1;
	}
	if (cli_extra_args(argc, argv, 1, "key set"))
		return EXIT_USAGE;
	ref = optind < argc ? argv[optind] : NULL;
	if (!ref)
		return cli_usage(key_usage, "key set: want NAME[/VERSION]");
	err = cli_key_ref(v, ref, name, ver);
	if (err == -EXDEV)
		return error("key %s: %s", ref, svc_strerror(err)), EXIT_FAIL;
	if (err)
		return cli_key_ref_usage("key set", ref);
	if (!any)
		return cli_usage(key_usage, "key set: nothing to set");
	if (a.set_expires && a.set_not_before && a.expires && a.not_before &&
	    a.expires <= a.not_before)
		return never_valid();
	err = vault_key_set(v, name, ver, &a);
	if (err == -ENOKEY && *ver)
		return error("key %s: no such key or version", ref), EXIT_FAIL;
	if (err)
		return key_error(NULL, ref, err), EXIT_FAIL;
	return print_changed(ctx, v, name);
}

/* "key policy NAME" alone: show the policy rather than change nothing. */
static int show_policy(struct cli_ctx *ctx, struct vault *v, const char *name)
{
	struct vault_key *k;
	int err = vault_key_get(v, name, &k);

	if (err)
		return key_error(NULL, name, err), EXIT_FAIL;
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_str(&j, "name", k->name);
		json_policy(&j, k);
		json_obj_end(&j);
		json_end(&j);
	} else {
		text_policy(k, 0);
	}
	vault_keys_free(k, 1);
	return EXIT_OK;
}

static const struct option policy_opts[] = {
	{ "rotate-after", required_argument, NULL, 'r' },
	{ "notify-before", required_argument, NULL, 'n' },
	{ "expire-after", required_argument, NULL, 'e' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int do_policy(int argc, char **argv, struct cli_ctx *ctx,
		     struct vault *v)
{
	uint64_t d[3] = { UINT64_MAX, UINT64_MAX, UINT64_MAX };
	const char *name = NULL;
	int c, err;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", policy_opts,
			       "key policy")) != -1) {
		switch (c) {
		case 'r':
		case 'n':
		case 'e': {
			/* a duration, or 0: clear it */
			int o = c == 'r' ? 0 : c == 'n' ? 1 : 2;

			if (!strcmp(optarg, "0"))
				d[o] = 0;
			else if (parse_duration(optarg, &d[o]))
				return cli_usage(key_usage, "--%s: bad duration "
						 "'%s'", policy_opts[o].name,
						 optarg);
			break;
		}
		case 'h':
			fputs(key_usage, stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (cli_extra_args(argc, argv, 1, "key policy"))
		return EXIT_USAGE;
	name = optind < argc ? argv[optind] : NULL;
	if (!name)
		return cli_usage(key_usage, "key policy: which NAME?");
	if (d[0] == UINT64_MAX && d[1] == UINT64_MAX && d[2] == UINT64_MAX)
		return show_policy(ctx, v, name);
	err = vault_key_policy(v, name, d[0], d[1], d[2]);
	if (err)
		return key_error(NULL, name, err), EXIT_FAIL;
	return ctx->json ? show_policy(ctx, v, name) : EXIT_OK;
}

static int do_expiring(int argc, char **argv, struct cli_ctx *ctx,
		       struct vault *v)
{
	uint64_t within = 30 * 86400, window;
	struct vault_key *ks;
	static const struct option opts[] = {
		{ "within", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json j;
	time_t now = time(NULL);
	char kid[VAULT_KID_MAX + 1], t[32];
	size_t n, i, m;
	int c, found = 0, err, given = 0;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts,
			       "key expiring")) != -1) {
		if (c == 'h') {
			fputs(key_usage, stdout);
			return EXIT_OK;
		}
		if (c != 'w')
			return EXIT_USAGE;
		if (parse_duration(optarg, &within))
			return cli_usage(key_usage, "--within: bad duration "
					 "'%s'", optarg);
		given = 1;
	}
	if (cli_extra_args(argc, argv, 0, "key expiring"))
		return EXIT_USAGE;
	err = vault_key_list(v, &ks, &n);
	if (err)
		return error("vault %s: %s", vault_dir(v), svc_strerror(err)),
		       EXIT_FAIL;
	if (ctx->json) {
		json_init(&j, stdout, JSON_PRETTY);
		json_arr_begin(&j, NULL);
	}
	for (i = 0; i < n; i++) {
		if (ks[i].deleted || !ks[i].enabled)
			continue;
		/* --within for every key; else the key's own notify-before
		 * policy, and 30 days for a key without one */
		window = !given && ks[i].notify_before ? ks[i].notify_before :
			 within;
		for (m = 0; m < ks[i].nversions; m++) {
			const struct vault_version *p = &ks[i].versions[m];
			struct kid pk;

			if (!p->enabled || !p->expires ||
			    p->expires > now + (time_t)window)
				continue;
			found = 1;
			memset(&pk, 0, sizeof(pk));
			snprintf(pk.vault, sizeof(pk.vault), "%s",
				 vault_name(v));
			snprintf(pk.name, sizeof(pk.name), "%s", ks[i].name);
			snprintf(pk.version, sizeof(pk.version), "%s",
				 p->version);
			kid_format(&pk, kid, sizeof(kid));
			if (ctx->json) {
				json_obj_begin(&j, NULL);
				json_str(&j, "name", ks[i].name);
				json_str(&j, "version", p->version);
				json_str(&j, "kid", kid);
				json_time(&j, "expires", p->expires);
				json_str(&j, "state", key_state_name(
					vault_version_state(&ks[i], p, now)));
				json_obj_end(&j);
			} else {
				format_time(p->expires, t, sizeof(t));
				printf("%s  expires %s%s\n", kid, t,
				       p->expires <= now ? " (expired)" : "");
			}
		}
	}
	if (ctx->json) {
		json_arr_end(&j);
		json_end(&j);
	}
	vault_keys_free(ks, n);
	return found ? EXIT_ATTENTION : EXIT_OK;
}

int cmd_key(int argc, char **argv, struct cli_ctx *ctx)
{
	struct vault *v = NULL;
	struct vault_err e = { .code = 0 };
	const char *sub;
	int r, err;

	if (argc < 2)
		return cli_usage(key_usage, "key: which subcommand?");
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") ||
	    (argc > 2 && (!strcmp(argv[2], "-h") ||
			  !strcmp(argv[2], "--help")))) {
		fputs(key_usage, stdout);
		return EXIT_OK;
	}
	argc--;
	argv++;
	if (strcmp(sub, "create") && strcmp(sub, "import") &&
	    strcmp(sub, "list") && strcmp(sub, "show") &&
	    strcmp(sub, "rotate") && strcmp(sub, "set") &&
	    strcmp(sub, "delete") && strcmp(sub, "recover") &&
	    strcmp(sub, "purge") && strcmp(sub, "policy") &&
	    strcmp(sub, "expiring"))
		return cli_usage(key_usage, "key: unknown subcommand '%s'",
				 sub);
	if (strcmp(sub, "create") && strcmp(sub, "import") &&
	    strcmp(sub, "set") && strcmp(sub, "policy") &&
	    strcmp(sub, "expiring")) {
		char what[32];

		snprintf(what, sizeof(what), "key %s", sub);
		r = cli_plain_args(&argc, &argv, what, key_usage);
		if (r)
			return r < 0 ? EXIT_OK : r;
	}
	if ((!strcmp(sub, "rotate") || !strcmp(sub, "delete") ||
	     !strcmp(sub, "recover") || !strcmp(sub, "purge")) && argc != 2)
		return cli_usage(key_usage, "key %s: want NAME", sub);
	if (!strcmp(sub, "list") && argc != 1)
		return cli_usage(key_usage, "key list: unexpected '%s'",
				 argv[1]);
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	r = EXIT_OK;
	if (!strcmp(sub, "create") || !strcmp(sub, "import")) {
		r = do_create(argc, argv, ctx, v, !strcmp(sub, "import"));
	} else if (!strcmp(sub, "list")) {
		r = do_list(ctx, v);
	} else if (!strcmp(sub, "show")) {
		r = do_show(argc, argv, ctx, v);
	} else if (!strcmp(sub, "set")) {
		r = do_set(argc, argv, ctx, v);
	} else if (!strcmp(sub, "policy")) {
		r = do_policy(argc, argv, ctx, v);
	} else if (!strcmp(sub, "expiring")) {
		r = do_expiring(argc, argv, ctx, v);
	} else if (!strcmp(sub, "rotate")) {
		char kid[VAULT_KID_MAX + 1];
		struct vault_key *k;

		err = vault_key_rotate(v, argv[1], kid, sizeof(kid), &e);
		if (err) {
			key_error(&e, argv[1], err);
			r = EXIT_FAIL;
		} else if (ctx->json && !vault_key_get(v, argv[1], &k)) {
			struct json j;

			json_init(&j, stdout, JSON_PRETTY);
			json_key(&j, v, k, time(NULL));
			json_end(&j);
			vault_keys_free(k, 1);
		} else {
			printf("%s\n", kid);
		}
	} else {
		if (!strcmp(sub, "delete"))
			err = vault_key_delete(v, argv[1]);
		else if (!strcmp(sub, "recover"))
			err = vault_key_recover(v, argv[1]);
		else
			err = vault_key_purge(v, argv[1], &e);
		if (err == -EINVAL)
			error("key %s: not deleted", argv[1]);
		else if (err == -EKEYREVOKED)
			error("key %s: already deleted", argv[1]);
		else if (err)
			key_error(&e, argv[1], err);
		if (err)
			r = EXIT_FAIL;
		else if (strcmp(sub, "purge"))
			r = print_changed(ctx, v, argv[1]);
		else if (ctx->json)
			r = cli_json_gone(argv[1], "purged");
	}
	vault_close(v);
	return r;
}
