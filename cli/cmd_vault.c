/*
 * cmd_vault.c - `ssefs vault`: init, backup, restore, audit,
 * rotate-platform-key, set; and cli_open_vault() for every command
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "keyvault/vault.h"
#include "util/json.h"
#include "util/log.h"

static const char vault_usage[] =
"usage: ssefs vault init [--name NAME] [--passphrase-file F] [--keyfile F]\n"
"       ssefs vault backup DEST\n"
"       ssefs vault restore SRC\n"
"       ssefs vault audit [--since T] [--verify]\n"
"       ssefs vault rotate-platform-key\n"
"       ssefs vault set [--purge-protection on|off] [--retention-days N]\n"
"  init                 create the vault (name default \"default\"); the\n"
"                       master key goes to DIR.key unless a passphrase\n"
"  backup DEST          copy the vault (not its key file) to directory DEST\n"
"  restore SRC          copy backup SRC into the --vault directory (new)\n"
"  audit                print the audit log; --since T filters, --verify\n"
"                       checks the chain (exit 1 naming the first bad line)\n"
"  rotate-platform-key  add a platform key version (old ones stay)\n"
"  set                  purge protection on|off; retention 7-90 days\n"
"See ssefs-vault(1).\n";

/* Take "--name VALUE" or "--name=VALUE" at argv[*i]: 1 taken, -1 missing. */
int cli_take(int argc, char **argv, int *i, const char *name,
	     const char **val);
int cli_take(int argc, char **argv, int *i, const char *name,
	     const char **val)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n))
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n])
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static struct vault_unlock unlock_of(struct cli_ctx *ctx)
{
	struct vault_unlock u = { ctx->keyfile, ctx->passphrase_file };

	return u;
}

int cli_open_vault(struct cli_ctx *ctx, struct vault **out)
{
	struct vault_unlock u = unlock_of(ctx);
	const char *p;
	int r = vault_open(out, ctx->vault_dir, &u);

	if (!r)
		return EXIT_OK;
	p = vault_open_path();
	if (r == -EPERM)
		error("%s: permissions are too open (want 0600, or 0700 for "
		      "the directory)", p);
	else if (r == -EACCES)
		error("vault %s: wrong passphrase or key file",
		      ctx->vault_dir);
	else if (r == -ENOENT)
		error("vault %s: %s: no such file (run 'ssefs vault init')",
		      ctx->vault_dir, *p ? p : ctx->vault_dir);
	else
		error("vault %s: %s: %s", ctx->vault_dir, p, cli_strerror(r));
	return EXIT_FAIL;
}

static int v_init(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *name = NULL, *v;
	struct vault_unlock u = unlock_of(ctx);
	int i, t, r;

	for (i = 1; i < argc; i++) {
		if ((t = cli_take(argc, argv, &i, "--name", &v)) > 0)
			name = v;
		else if ((t = cli_take(argc, argv, &i, "--passphrase-file",
				       &v)) > 0)
			u.passphrase_file = v;
		else if ((t = cli_take(argc, argv, &i, "--keyfile", &v)) > 0)
			u.keyfile = v;
		else if (t < 0)
			return cli_usage(vault_usage, "%s: needs a value",
					 argv[i]);
		else
			return cli_usage(vault_usage, "%s: unknown option",
					 argv[i]);
	}
	r = vault_init(ctx->vault_dir, name, &u);
	if (r == -EEXIST)
		return error("vault %s: already exists", ctx->vault_dir),
		       EXIT_FAIL;
	if (r == -EINVAL)
		return cli_usage(NULL, "--name %s: want 1-24 of [a-z0-9-]",
				 name);
	if (r == -EPERM)
		return error("%s: permissions are too open (want 0700)",
			     ctx->vault_dir), EXIT_FAIL;
	if (r)
		return error("vault %s: %s", ctx->vault_dir, cli_strerror(r)),
		       EXIT_FAIL;
	if (!ctx->json)
		printf("%s\n", ctx->vault_dir);
	else
		printf("{\"vault\":\"%s\",\"name\":\"%s\"}\n", ctx->vault_dir,
		       name ? name : "default");
	return EXIT_OK;
}

static int v_audit(int argc, char **argv, struct vault *vt)
{
	const char *since_s = NULL;
	char since[32] = "", bad[4096] = "", **files = NULL, line[4096];
	unsigned long badline = 0;
	int i, t, verify = 0, r;
	size_t n = 0, k;
	time_t ts;

	for (i = 1; i < argc; i++) {
		if ((t = cli_take(argc, argv, &i, "--since", &since_s)) > 0)
			continue;
		if (t < 0)
			return cli_usage(vault_usage, "--since: needs a value");
		if (!strcmp(argv[i], "--verify"))
			verify = 1;
		else
			return cli_usage(vault_usage, "%s: unknown option",
					 argv[i]);
	}
	if (since_s) {
		struct tm tm;

		if (parse_time(since_s, &ts))
			return cli_usage(NULL, "--since %s: not a time",
					 since_s);
		gmtime_r(&ts, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if (verify) {
		r = vault_audit_verify(vt, bad, sizeof(bad), &badline);
		if (r == -EBADMSG && badline)
			return error("%s: line %lu: audit chain broken "
				     "(edited, removed or reordered)", bad,
				     badline), EXIT_FAIL;
		if (r == -EBADMSG)
			return error("%s: audit log cut off or lines missing "
				     "(count or last hash differs from the "
				     "vault metadata)", bad), EXIT_FAIL;
		if (r)
			return error("vault audit: %s", cli_strerror(r)),
			       EXIT_FAIL;
		if (!since_s) {
			printf("audit log ok\n");
			return EXIT_OK;
		}
	}
	if ((r = vault_audit_files(vt, &files, &n)))
		return error("vault audit: %s", cli_strerror(r)), EXIT_FAIL;
	for (k = 0; k < n; k++) {
		FILE *f = fopen(files[k], "re");

		while (f && fgets(line, sizeof(line), f)) {
			/* "time" is the first field, RFC 3339 UTC */
			if (*since && strncmp(line + 9, since, 20) < 0)
				continue;
			fputs(line, stdout);
		}
		if (f)
			fclose(f);
		free(files[k]);
	}
	free(files);
	return EXIT_OK;
}

int cmd_vault(int argc, char **argv, struct cli_ctx *ctx)
{
	struct vault *vt = NULL;
	const char *sub = argc > 1 ? argv[1] : NULL;
	char kid[VAULT_KID_MAX + 1];
	int r, rc = EXIT_FAIL;

	if (!sub)
		return cli_usage(vault_usage, "vault: needs a subcommand");
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(vault_usage, stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "init"))
		return v_init(argc - 1, argv + 1, ctx);
	if (!strcmp(sub, "restore")) {
		if (argc != 3)
			return cli_usage(vault_usage, "restore: needs SRC");
		r = vault_restore(argv[2], ctx->vault_dir);
		if (r == -EEXIST)
			return error("vault %s: already exists (restore needs "
				     "a new directory)", ctx->vault_dir),
			       EXIT_FAIL;
		if (r)
			return error("%s: %s", argv[2], cli_strerror(r)),
			       EXIT_FAIL;
		if ((rc = cli_open_vault(ctx, &vt)))
			return rc;
		r = vault_audit(vt, "restore", NULL, 0);
		vault_close(vt);
		return r ? EXIT_FAIL : EXIT_OK;
	}
	if (strcmp(sub, "backup") && strcmp(sub, "audit") &&
	    strcmp(sub, "rotate-platform-key") && strcmp(sub, "set"))
		return cli_usage(vault_usage, "vault %s: unknown subcommand",
				 sub);
	if ((rc = cli_open_vault(ctx, &vt)))
		return rc;
	rc = EXIT_FAIL;
	if (!strcmp(sub, "backup")) {
		if (argc != 3) {
			rc = cli_usage(vault_usage, "backup: needs DEST");
			goto out;
		}
		r = vault_backup(vt, argv[2]);
		if (r)
			error("%s: %s", argv[2], cli_strerror(r));
		else
			rc = EXIT_OK;
	} else if (!strcmp(sub, "audit")) {
		rc = v_audit(argc - 1, argv + 1, vt);
	} else if (!strcmp(sub, "rotate-platform-key")) {
		r = vault_rotate_platform(vt, kid, sizeof(kid));
		if (r) {
			error("platform key: %s", cli_strerror(r));
		} else {
			if (ctx->json)
				printf("{\"kid\":\"%s\"}\n", kid);
			else
				printf("%s\n", kid);
			rc = EXIT_OK;
		}
	} else {
		int pp = -1, days = -1, i, t;
		const char *v;

		for (i = 2; i < argc; i++) {
			if ((t = cli_take(argc, argv, &i, "--purge-protection",
					  &v)) > 0) {
				if (parse_bool(v, &pp)) {
					rc = cli_usage(NULL, "--purge-protection"
						       " %s: want on or off", v);
					goto out;
				}
			} else if ((t = cli_take(argc, argv, &i,
						 "--retention-days", &v)) > 0) {
				days = atoi(v);
				if (days < 7 || days > 90) {
					rc = cli_usage(NULL, "--retention-days"
						       " %s: want 7-90", v);
					goto out;
				}
			} else {
				rc = cli_usage(vault_usage, "%s: %s", argv[i],
					       t < 0 ? "needs a value" :
					       "unknown option");
				goto out;
			}
		}
		r = vault_set_settings(vt, pp, days);
		if (r)
			error("vault %s: %s", ctx->vault_dir, cli_strerror(r));
		else
			rc = EXIT_OK;
	}
out:
	vault_close(vt);
	return rc;
}
