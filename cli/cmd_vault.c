/*
 * cmd_vault.c - `ssefs vault`: init, backup, restore, audit, platform key,
 * settings; and cli_open_vault() for every command family
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_vault.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "svc/errors.h"
#include "util/json.h"
#include "util/log.h"
#include "util/parse.h"

static const char vault_usage[] =
"usage: ssefs vault init [--name NAME] [--passphrase-file F] [--keyfile F]\n"
"                        [--purge-protection on|off]\n"
"       ssefs vault show\n"
"       ssefs vault backup DEST\n"
"       ssefs vault restore SRC\n"
"       ssefs vault audit [--since T] [--verify]\n"
"       ssefs vault rotate-platform-key\n"
"       ssefs vault set [--purge-protection on|off] [--retention-days N]\n"
"                       [--hsm-module PATH|none] [--hsm-token LABEL]\n"
"                       [--hsm-pin-file F]\n"
"\n"
"  init                 create the vault (--vault DIR) named NAME (default\n"
"                       \"default\", [a-z0-9-]) with a master key in the key\n"
"                       file F (default DIR.key, mode 0600) or from the\n"
"                       passphrase in F (Argon2id), and platform key v1;\n"
"                       DIR may exist if it is empty; purge protection\n"
"                       is on unless --purge-protection off\n"
"  show                 name, settings and current platform key\n"
"  backup DEST          write every vault file except the master key into\n"
"                       the single file DEST (keep the key file or\n"
"                       passphrase apart)\n"
"  restore SRC          recreate the vault at --vault DIR (must not exist);\n"
"                       its key file DIR.key may be put in place after\n"
"  audit                print the audit log; --since T only records from T;\n"
"                       (JSON lines); --verify checks the chain (exit 1\n"
"                       naming the first bad line, or a cut-off tail;\n"
"                       --json: {\"intact\", \"records\"})\n"
"  rotate-platform-key  add a platform key version (old ones stay until\n"
"                       ssefs rotate moves the platform-key disks)\n"
"  set                  purge protection (default on; once on, it cannot\n"
"                       be switched off: exit 1) and the retention of\n"
"                       deleted keys in days (7-90, default 90; not\n"
"                       shorter while a deleted key waits under purge\n"
"                       protection); the\n"
"                       PKCS#11 token that holds \"--protection hsm\" keys:\n"
"                       its module, its label, and the file (mode 0600)\n"
"                       the user PIN is read from at each use; checked by\n"
"                       logging in before it is recorded; --hsm-module none\n"
"                       forgets it (refused while hsm keys exist)\n"
"SSEFS_HSM_PIN_FILE names another PIN file for one command or mount.\n"
"With --json, set and restore print the vault as show does, backup\n"
"{name, dir, backup, bytes}, audit the records as one array.\n"
"See ssefs-vault(1).\n";

static void unlock_of(const struct cli_ctx *ctx, struct vault_unlock *u)
{
	u->keyfile = ctx->keyfile;
	u->passphrase_file = ctx->passphrase_file;
}

/*
 * -EINVAL from unlocking names the file that could not serve: an empty
 * passphrase file, or a key file that is not 32 bytes.  Else 0.
 */
static int unlock_error(const struct vault_unlock *u,
			const struct vault_err *e, int err)
{
	const char *path = e->path;

	if (err != -EINVAL || !path || !*path)
		return 0;
	if (u->passphrase_file && !strcmp(path, u->passphrase_file))
		return error("%s: empty passphrase", path);
	return error("%s: not a vault key file (want 32 bytes, as vault "
		     "init writes)", path);
}

/* Print why a vault could not be opened or used, naming what is at fault. */
int cli_vault_error(const char *dir, const char *path, const char *why,
		    int err)
{
	struct stat st;

	if ((err == -EPERM || err == -ENOTDIR) && why && *why)
		return error("vault %s: %s", dir, why);
	if (err == -EPERM && path && *path && stat(path, &st) == 0)
		return error("%s: permissions %04o are too open (want %s)",
			     path, (unsigned int)(st.st_mode & 07777),
			     S_ISDIR(st.st_mode) ? "0700" : "0600");
	if (err == -EACCES)
		return error("vault %s: wrong passphrase or key file", dir);
	if (err == -ENOENT && path && !strcmp(path, dir))
		return error("vault %s: no vault here (run ssefs vault init)",
			     dir);
	if (path && *path && strcmp(path, dir))
		return error("vault %s: %s: %s", dir, path, svc_strerror(err));
	return error("vault %s: %s", dir, svc_strerror(err));
}

int cli_key_ref(struct vault *v, const char *ref, char *name, char *version)
{
	struct kid k;

	if (strncmp(ref, "vault://", 8))
		return kid_split_ref(ref, name, version);
	if (kid_parse(ref, &k) < 0 || k.platform)
		return -EINVAL;
	if (strcmp(k.vault, vault_name(v)))
		return -EXDEV;
	memcpy(name, k.name, sizeof(k.name));
	memcpy(version, k.version, sizeof(k.version));
	return 0;
}

int cli_key_ref_usage(const char *what, const char *ref)
{
	char why[256];

	if (kid_ref_why(ref, why, sizeof(why)) == 0)	/* well-formed */
		snprintf(why, sizeof(why), "a platform key's kid names no "
			 "customer key");
	return cli_usage(NULL, "%s: %s: %s", what, ref, why);
}

int cli_open_vault(struct cli_ctx *ctx, struct vault **out)
{
	struct vault_unlock u;
	struct vault_err e;
	int err;

	const char *pin = getenv("SSEFS_HSM_PIN_FILE");
	char abs[PATH_MAX];

	unlock_of(ctx, &u);
	err = vault_open(out, ctx->vault_dir, &u, &e);
	if (err == -EACCES && !u.passphrase_file && !u.keyfile &&
	    snprintf(abs, sizeof(abs), "%s.key", ctx->vault_dir) <
		    (int)sizeof(abs) && access(abs, F_OK) < 0) {
		/* no key file at all: a passphrase vault, asked without */
		error("vault %s: needs its passphrase (--passphrase-file F or "
		      "SSEFS_PASSPHRASE_FILE)", ctx->vault_dir);
		return EXIT_FAIL;
	}
	if (err) {
		if (!unlock_error(&u, &e, err))
			cli_vault_error(ctx->vault_dir, e.path, e.why, err);
		return EXIT_FAIL;
	}
	/* Absolute: the daemon may change directory before it reads it. */
	if (pin && *pin)
		vault_hsm_pin_file(*out, realpath(pin, abs) ? abs : pin);
	return EXIT_OK;
}

static int do_init(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "keyfile", required_argument, NULL, 'k' },
		{ "purge-protection", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *pp = NULL;
	struct vault_unlock u;
	struct vault_err e;
	struct vault *v;
	char kid[VAULT_KID_MAX + 1];
	int c, err, on = 1;

	/* --passphrase-file is a global option: unlock_of() has it */
	unlock_of(ctx, &u);
	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, "vault init")) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'k')
			u.keyfile = optarg;
		else if (c == 'p')
			pp = optarg;
		else if (c == 'h')
			return fputs(vault_usage, stdout), EXIT_OK;
		else
			return EXIT_USAGE;
	}
	if (cli_extra_args(argc, argv, 0, "vault init"))
		return EXIT_USAGE;
	if (pp && parse_bool(pp, &on))
		return cli_usage(vault_usage, "--purge-protection: want on or "
				 "off, not '%s'", pp);
	if (name && !kid_valid_vault_name(name))
		return cli_usage(vault_usage, "--name %s: a vault name is 1-%d "
				 "of a-z 0-9 - (not starting with -)", name,
				 KID_VAULT_MAX);
	err = vault_init_ex(ctx->vault_dir, name, &u,
			    on ? 0 : VAULT_INIT_NO_PURGE_PROTECTION, &e);
	if (err == -EEXIST)
		return error("vault %s: already exists", ctx->vault_dir), 1;
	if (err == -EINVAL && name && !*name)
		return cli_usage(vault_usage, "--name: empty");
	if (unlock_error(&u, &e, err))
		return EXIT_FAIL;
	if (err == -EINVAL)
		return error("vault %s: bad name '%s' (want [a-z0-9-], at most "
			     "24) or unusable key file", ctx->vault_dir,
			     name ? name : "default"), EXIT_FAIL;
	if (err) {
		cli_vault_error(ctx->vault_dir, NULL, e.why, err);
		return EXIT_FAIL;
	}
	ctx->keyfile = u.keyfile;
	ctx->passphrase_file = u.passphrase_file;
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	err = vault_resolve(v, "platform", kid, sizeof(kid));
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_str(&j, "name", vault_name(v));
		json_str(&j, "dir", vault_dir(v));
		json_str(&j, "platformKid", err ? NULL : kid);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("initialised vault %s at %s\n", vault_name(v),
		       vault_dir(v));
	}
	vault_close(v);
	return EXIT_OK;
}

static int do_show(struct cli_ctx *ctx, struct vault *v)
{
	char kid[VAULT_KID_MAX + 1];
	int err = vault_resolve(v, "platform", kid, sizeof(kid));

	if (err)
		return error("vault %s: platform key: %s", vault_dir(v),
			     svc_strerror(err)), EXIT_FAIL;
	struct vault_hsm *hsm = calloc(1, sizeof(*hsm));

	if (!hsm || vault_hsm_get(v, hsm)) {
		free(hsm);
		return error("vault %s: %s", vault_dir(v),
			     svc_strerror(-ENOMEM)), EXIT_FAIL;
	}
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_str(&j, "name", vault_name(v));
		json_str(&j, "dir", vault_dir(v));
		json_bool(&j, "purgeProtection", vault_purge_protection(v));
		json_int(&j, "retentionDays", vault_retention_days(v));
		json_str(&j, "platformKid", kid);
		if (*hsm->module) {
			json_obj_begin(&j, "hsm");
			json_str(&j, "module", hsm->module);
			json_str(&j, "token", hsm->token);
			json_str(&j, "pinFile", hsm->pin_file);
			json_obj_end(&j);
		} else {
			json_null(&j, "hsm");
		}
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("name:             %s\n", vault_name(v));
		printf("dir:              %s\n", vault_dir(v));
		printf("purge protection: %s\n",
		       vault_purge_protection(v) ? "on" : "off");
		printf("retention:        %d days\n", vault_retention_days(v));
		printf("platform key:     %s\n", kid);
		if (*hsm->module) {
			printf("hsm module:       %s\n", hsm->module);
			printf("hsm token:        %s\n", hsm->token);
			printf("hsm pin file:     %s\n", hsm->pin_file);
		} else {
			printf("hsm:              none\n");
		}
	}
	free(hsm);
	return EXIT_OK;
}

static int do_audit(int argc, char **argv, struct vault *v, int json)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "verify", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *since = NULL;
	char where[512], tbuf[32] = "";
	char **files = NULL;
	unsigned long n, records = 0;
	size_t nf = 0, i;
	int verify = 0, c, err;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, "vault audit")) != -1) {
		if (c == 'v')
			verify = 1;
		else if (c == 's')
			since = optarg;
		else if (c == 'h')
			return fputs(vault_usage, stdout), EXIT_OK;
		else
			return EXIT_USAGE;
	}
	if (cli_extra_args(argc, argv, 0, "vault audit"))
		return EXIT_USAGE;
	if (since) {
		time_t t;

		if (parse_time(since, &t))
			return cli_usage(vault_usage, "--since: bad time '%s'",
					 since);
		format_time(t, tbuf, sizeof(tbuf));
	}
	if (verify) {
		err = vault_audit_verify(v, where, sizeof(where), &n);
		if (err == -EBADMSG)
			return error("vault %s: audit log: %s", vault_dir(v),
				     where), EXIT_FAIL;
		if (err)
			return error("vault %s: audit log: %s", vault_dir(v),
				     svc_strerror(err)), EXIT_FAIL;
		if (json) {
			struct json j;

			json_init(&j, stdout, JSON_PRETTY);
			json_obj_begin(&j, NULL);
			json_bool(&j, "intact", 1);
			json_uint(&j, "records", n);
			json_obj_end(&j);
			return json_end(&j) < 0 ? EXIT_FAIL : EXIT_OK;
		}
		printf("audit log intact: %lu records\n", n);
		return EXIT_OK;
	}
	err = vault_audit_files(v, &files, &nf);
	if (err)
		return error("vault %s: audit log: %s", vault_dir(v),
			     svc_strerror(err)), EXIT_FAIL;
	/* --json: the records (each a JSON object on a line of the log)
	 * as one array, so the output is one document */
	if (json)
		fputs("[", stdout);
	for (i = 0; i < nf; i++) {
		FILE *f = fopen(files[i], "r");
		char *line = NULL;
		size_t cap = 0;

		while (f && getline(&line, &cap, f) > 0) {
			/* {"time":"2027-01-31T00:00:00Z", fixed width */
			if (*tbuf && strncmp(line + 9, tbuf, 20) < 0)
				continue;
			if (json && *line != '{')
				continue;	/* not a record */
			if (json)
				fputs(records++ ? ",\n  " : "\n  ", stdout);
			if (json)
				line[strcspn(line, "\n")] = '\0';
			fputs(line, stdout);
		}
		free(line);
		if (f)
			fclose(f);
		free(files[i]);
	}
	free(files);
	if (json)
		fputs(records ? "\n]\n" : "]\n", stdout);
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}

/* The token settings: what is given over what is recorded. */
static int set_hsm(struct vault *v, const char *module, const char *token,
		   const char *pin)
{
	struct vault_hsm *c = calloc(1, sizeof(*c));
	struct vault_err e;
	int err;

	if (!c || vault_hsm_get(v, c)) {
		free(c);
		return error("vault %s: %s", vault_dir(v),
			     svc_strerror(-ENOMEM)), EXIT_FAIL;
	}
	if (module && !strcmp(module, "none")) {
		if (token || pin) {
			free(c);
			return cli_usage(vault_usage, "--hsm-module none: "
					 "takes no --hsm-token or "
					 "--hsm-pin-file");
		}
		*c->module = 0;
	} else {
		/* As given when absolute (a symlink may be the stable
		 * name), else made absolute. */
		if (module && *module == '/')
			snprintf(c->module, sizeof(c->module), "%s", module);
		else if (module && !realpath(module, c->module)) {
			err = errno;
			free(c);
			return error("--hsm-module %s: %s", module,
				     strerror(err)), EXIT_FAIL;
		}
		if (pin && *pin == '/')
			snprintf(c->pin_file, sizeof(c->pin_file), "%s", pin);
		else if (pin && !realpath(pin, c->pin_file)) {
			err = errno;
			free(c);
			return error("--hsm-pin-file %s: %s", pin,
				     strerror(err)), EXIT_FAIL;
		}
		if (token && strlen(token) > 32) {
			free(c);
			return cli_usage(vault_usage, "--hsm-token: a token "
					 "label is at most 32 bytes");
		}
		if (token)
			snprintf(c->token, sizeof(c->token), "%s", token);
		if (!*c->module || !*c->token || !*c->pin_file) {
			free(c);
			return cli_usage(vault_usage, "vault set: a token "
					 "needs --hsm-module, --hsm-token and "
					 "--hsm-pin-file");
		}
	}
	err = vault_hsm_set(v, c, &e);
	free(c);
	if (!err)
		return EXIT_OK;
	if (err == -EINVAL)
		return cli_usage(vault_usage, "vault set: bad token settings "
				 "(an absolute module path, a label of 1-32 "
				 "bytes)");
	if (err == -EBUSY)
		error("vault %s: hsm keys exist (purge them before "
		      "--hsm-module none)", vault_dir(v));
	else if (*e.why)
		error("vault %s: %s", vault_dir(v), e.why);
	else
		error("vault %s: %s", vault_dir(v), svc_strerror(err));
	return EXIT_FAIL;
}

static int do_set(int argc, char **argv, struct vault *v)
{
	static const struct option opts[] = {
		{ "purge-protection", required_argument, NULL, 'p' },
		{ "retention-days", required_argument, NULL, 'r' },
		{ "hsm-module", required_argument, NULL, 'm' },
		{ "hsm-token", required_argument, NULL, 't' },
		{ "hsm-pin-file", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pp = NULL, *rd = NULL;
	const char *hmod = NULL, *htok = NULL, *hpin = NULL;
	int c, r, on = 0, err = 0;
	long days = 0;
	char *end;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, "vault set")) != -1) {
		switch (c) {
		case 'p': pp = optarg; break;
		case 'r': rd = optarg; break;
		case 'm': hmod = optarg; break;
		case 't': htok = optarg; break;
		case 'P': hpin = optarg; break;
		case 'h': return fputs(vault_usage, stdout), EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (cli_extra_args(argc, argv, 0, "vault set"))
		return EXIT_USAGE;
	if (!pp && !rd && !hmod && !htok && !hpin)
		return cli_usage(vault_usage, "vault set: nothing to set");
	if (pp && parse_bool(pp, &on))
		return cli_usage(vault_usage, "--purge-protection: want on or "
				 "off, not '%s'", pp);
	if (rd) {
		days = strtol(rd, &end, 10);
		if (*end || end == rd || days < 7 || days > 90)
			return cli_usage(vault_usage, "--retention-days: "
					 "want 7 to 90, not '%s'", rd);
	}
	/* first: a refused switch-off changes nothing else */
	if (pp) {
		err = vault_set_purge_protection(v, on);
		if (err == -EPERM)
			return error("vault %s: purge protection is on and "
				     "cannot be switched off (once on, it "
				     "stays on, as in Azure Key Vault)",
				     vault_dir(v)), EXIT_FAIL;
	}
	if (!err && (hmod || htok || hpin)) {
		r = set_hsm(v, hmod, htok, hpin);
		if (r != EXIT_OK)
			return r;
	}
	if (!err && rd) {
		err = vault_set_retention_days(v, (int)days);
		if (err == -EBUSY)
			return error("vault %s: --retention-days %ld: a "
				     "deleted key waits under purge protection "
				     "and its purge date cannot come nearer "
				     "(recover or wait for it first)",
				     vault_dir(v), days), EXIT_FAIL;
	}
	if (err)
		return error("vault %s: %s", vault_dir(v), svc_strerror(err)),
		       EXIT_FAIL;
	return EXIT_OK;
}

int cmd_vault(int argc, char **argv, struct cli_ctx *ctx)
{
	struct vault_unlock u;
	struct vault *v = NULL;
	const char *sub;
	char kid[VAULT_KID_MAX + 1];
	int r, err;

	if (argc < 2)
		return cli_usage(vault_usage, "vault: which subcommand?");
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(vault_usage, stdout);
		return EXIT_OK;
	}
	argc--;
	argv++;
	if (argc > 1 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(vault_usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "init"))
		return do_init(argc, argv, ctx);
	if (strcmp(sub, "audit") && strcmp(sub, "set")) {
		char what[40];

		snprintf(what, sizeof(what), "vault %.20s", sub);
		r = cli_plain_args(&argc, &argv, what, vault_usage);
		if (r)
			return r < 0 ? EXIT_OK : r;
	}
	if (!strcmp(sub, "restore")) {
		if (argc != 2)
			return cli_usage(vault_usage,
					 "vault restore: want SRC");
		err = vault_restore(argv[1], ctx->vault_dir);
		if (err == -EEXIST)
			return error("vault %s: already exists (restore wants "
				     "a new directory)", ctx->vault_dir), 1;
		if (err == -EBADMSG)
			return error("%s: not an ssefs vault backup, or cut "
				     "off", argv[1]), EXIT_FAIL;
		if (err)
			return error("%s: %s", argv[1], svc_strerror(err)),
			       EXIT_FAIL;
		/* Restored.  Its master key (DIR.key, or the passphrase) may
		 * be put in place only now, as ssefs-vault(1) allows: then
		 * the restore is not recorded in its audit log yet. */
		unlock_of(ctx, &u);
		err = vault_open(&v, ctx->vault_dir, &u, NULL);
		if (err) {
			warning("vault %s: restored, but its master key is "
				"not at hand (%s): put the key file at %s.key "
				"or give the passphrase", ctx->vault_dir,
				svc_strerror(err), ctx->vault_dir);
			if (ctx->json) {
				struct json j;

				json_init(&j, stdout, JSON_PRETTY);
				json_obj_begin(&j, NULL);
				json_str(&j, "dir", ctx->vault_dir);
				json_bool(&j, "unlocked", 0);
				json_obj_end(&j);
				json_end(&j);
			}
			return EXIT_OK;
		}
		vault_audit(v, "restore", NULL, 0);
		r = EXIT_OK;
		if (ctx->json)
			r = do_show(ctx, v);	/* the vault restored */
		else
			printf("restored vault %s at %s\n", vault_name(v),
			       vault_dir(v));
		vault_close(v);
		return r;
	}
	if (strcmp(sub, "show") && strcmp(sub, "backup") &&
	    strcmp(sub, "audit") && strcmp(sub, "rotate-platform-key") &&
	    strcmp(sub, "set"))
		return cli_usage(vault_usage, "vault: unknown subcommand '%s'",
				 sub);
	if ((!strcmp(sub, "show") || !strcmp(sub, "rotate-platform-key")) &&
	    argc != 1)
		return cli_usage(vault_usage, "vault %s: unexpected '%s'", sub,
				 argv[1]);
	if (!strcmp(sub, "backup") && argc != 2)
		return cli_usage(vault_usage, "vault backup: want DEST");
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	r = EXIT_OK;
	if (!strcmp(sub, "show")) {
		r = do_show(ctx, v);
	} else if (!strcmp(sub, "backup")) {
		err = vault_backup(v, argv[1]);
		if (err) {
			error("%s: %s", argv[1], err == -EEXIST ?
			      "already exists" : svc_strerror(err));
			r = EXIT_FAIL;
		} else if (ctx->json) {
			char abs[PATH_MAX];
			struct stat st;
			struct json j;

			json_init(&j, stdout, JSON_PRETTY);
			json_obj_begin(&j, NULL);
			json_str(&j, "name", vault_name(v));
			json_str(&j, "dir", vault_dir(v));
			json_str(&j, "backup", realpath(argv[1], abs) ? abs :
				 argv[1]);
			json_uint(&j, "bytes", stat(argv[1], &st) ? 0 :
				  (uint64_t)st.st_size);
			json_obj_end(&j);
			json_end(&j);
		}
	} else if (!strcmp(sub, "audit")) {
		r = do_audit(argc, argv, v, ctx->json);
	} else if (!strcmp(sub, "rotate-platform-key")) {
		err = vault_rotate_platform(v, kid, sizeof(kid));
		if (err) {
			error("vault %s: platform key: %s", vault_dir(v),
			      svc_strerror(err));
			r = EXIT_FAIL;
		} else if (ctx->json) {
			struct json j;

			json_init(&j, stdout, JSON_PRETTY);
			json_obj_begin(&j, NULL);
			json_str(&j, "kid", kid);
			json_obj_end(&j);
			json_end(&j);
		} else {
			printf("%s\n", kid);
		}
	} else {
		r = do_set(argc, argv, v);
		if (r == EXIT_OK && ctx->json)
			r = do_show(ctx, v);	/* the settings now */
	}
	vault_close(v);
	return r;
}
