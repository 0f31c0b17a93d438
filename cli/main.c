/*
 * main.c - ssefs: git-style subcommands over one binary
 *
 * Global options (--vault, --passphrase-file, --config, --json, --debug,
 * --progress, --quiet) may stand anywhere before a "--"; they are taken
 * out of argv before the command family sees it.  Each family parses its
 * own options with cli_getopt(), whole names only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/secmem.h"
#include "fuse/opts.h"
#include "keyvault/vault.h"
#include "util/config.h"
#include "util/json.h"
#include "util/log.h"

static const struct command {
	const char *name;
	cmd_fn fn;
	const char *synopsis;
} commands[] = {
	{ "vault", cmd_vault, "create, back up, restore and audit the key vault" },
	{ "key", cmd_key, "customer-managed keys: versions, state, soft delete" },
	{ "des", cmd_des, "disk encryption sets: a key and an encryption type" },
	{ "disk", cmd_disk, "create, import, export, snapshot and check disks" },
	{ "rotate", cmd_rotate, "apply automatic rotation and key policies now" },
	{ "mount", cmd_mount, "mount a store: plaintext .vhd disks over FUSE" },
	{ "status", cmd_status, "what a mount's daemon is doing, disk by disk" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
"usage: ssefs [--vault DIR] [--passphrase-file F] [--config FILE] [--json]\n"
"             [--progress | --quiet] COMMAND [ARGS]\n"
"\n"
"Encrypted fixed-format .vhd disks over FUSE, with keys in a key vault.\n"
"\n"
"Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name,
			commands[i].synopsis);
	fprintf(f,
"\n"
"Global options (anywhere on the line):\n"
"  --vault DIR            the vault directory (or SSEFS_VAULT)\n"
"  --passphrase-file F    unlock the vault with a passphrase read from F\n"
"                         (or SSEFS_PASSPHRASE_FILE)\n"
"  --config FILE          configuration file (or SSEFS_CONFIG); ssefs-config(5)\n"
"  --json                 machine-readable output\n"
"  --debug                verbose diagnostics on stderr\n"
"  --progress             draw the progress line of long work (disk import,\n"
"                         export, snapshot; rotate) on stderr even when it\n"
"                         is not a terminal, or with --json\n"
"  --quiet                never draw it (wins over --progress)\n"
"  -h, --help             this text; 'ssefs COMMAND --help' for a command\n"
"Every option takes its whole name (--size, not --si), as --name VALUE or\n"
"--name=VALUE, anywhere among the arguments; -- ends the options.\n"
"  --version              the version\n"
"\n"
"Exit codes: 0 success, 1 failure, 2 usage, 3 attention needed; an error\n"
"is one line on stderr, 'ssefs: WHAT: WHY'.\n"
"See ssefs(1), and ssefs-COMMAND(1) for each command.\n");
}

int cli_usage(const char *usage_text, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	(void)usage_text;	/* one line; COMMAND --help has the rest */
	error("%s", line);
	return EXIT_USAGE;
}

int cli_getopt_usage(const char *cmd, int c, char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return cli_usage(NULL, "%s: %s needs a value", cmd, opt);
	if (optopt && optopt != '?')
		return cli_usage(NULL, "%s: -%c: unknown option", cmd, optopt);
	return cli_usage(NULL, "%s: %s: unknown option", cmd, opt);
}

int cli_getopt(int argc, char **argv, const char *optstring,
	       const struct option *opts, const char *cmd)
{
	const char *arg;
	int idx = -1, at, c;
	size_t n;

	c = getopt_long(argc, argv, optstring, opts, &idx);
	if (c == -1)
		return -1;
	if (c == '?' || c == ':') {
		cli_getopt_usage(cmd, c, argv);
		return CLI_OPT_BAD;
	}
	if (idx < 0)
		return c;		/* a short option */
	/* the option as written: a separate value follows it */
	at = optind - 1;
	if (opts[idx].has_arg == required_argument && at > 0 &&
	    optarg == argv[at])
		at--;
	arg = argv[at];
	n = strlen(opts[idx].name);
	if (!strncmp(arg, "--", 2) && !strncmp(arg + 2, opts[idx].name, n) &&
	    (!arg[2 + n] || arg[2 + n] == '='))
		return c;
	n = strcspn(arg, "=");
	cli_usage(NULL, "%s: %.*s: unknown option (did you mean --%s?)", cmd,
		  (int)n, arg, opts[idx].name);
	return CLI_OPT_BAD;
}

int cli_progress_on(const struct cli_ctx *ctx)
{
	if (ctx->progress)
		return ctx->progress > 0;
	return !ctx->json && isatty(STDERR_FILENO);
}

int cli_extra_args(int argc, char **argv, int max, const char *cmd)
{
	if (argc - optind <= max)
		return 0;
	return cli_usage(NULL, "%s: unexpected '%s'", cmd,
			 argv[optind + max]);
}

int cli_plain_args(int *argc, char ***argv, const char *cmd,
		   const char *usage)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char **av = *argv;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(*argc, av, ":h", opts, cmd)) != -1) {
		if (c != 'h')
			return EXIT_USAGE;
		fputs(usage, stdout);
		return -1;
	}
	/* getopt_long() moved the arguments to the end: argv[optind..] */
	av[optind - 1] = av[0];
	*argv = av + optind - 1;
	*argc -= optind - 1;
	return 0;
}

int cli_json_gone(const char *name, const char *what)
{
	struct json j;

	json_init(&j, stdout, JSON_PRETTY);
	json_obj_begin(&j, NULL);
	json_str(&j, "name", name);
	json_bool(&j, what, 1);
	json_obj_end(&j);
	return json_end(&j) < 0 ? EXIT_FAIL : EXIT_OK;
}

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

/* A global option at argv[*i]; a missing value is a usage error. */
static int take_opt(int argc, char **argv, int *i, const char *name,
		    const char **val)
{
	int r = cli_take(argc, argv, i, name, val);

	if (r < 0)
		exit(cli_usage(NULL, "%s: needs a value", name));
	return r;
}

/* Pull the global options out of argv (up to "--"); return the new argc. */
static int take_globals(int argc, char **argv, struct cli_ctx *ctx,
			const char **vault)
{
	int i, out = 1;

	for (i = 1; i < argc; i++) {
		const char *v;

		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (take_opt(argc, argv, &i, "--vault", &v))
			*vault = v;
		else if (take_opt(argc, argv, &i, "--passphrase-file", &v))
			ctx->passphrase_file = v;
		else if (take_opt(argc, argv, &i, "--config", &v))
			ctx->config_file = v;
		else if (!strcmp(argv[i], "--json"))
			ctx->json = 1;
		else if (!strcmp(argv[i], "--debug"))
			log_set_debug(1);
		else if (!strcmp(argv[i], "--progress"))
			ctx->progress = ctx->progress < 0 ? -1 : 1;
		else if (!strcmp(argv[i], "--quiet"))
			ctx->progress = -1;	/* wins over --progress */
		else
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	return out;
}

static int setup_ctx(struct cli_ctx *ctx, const char *vault)
{
	char err[1024];
	const char *v;
	int r;

	if (!ctx->config_file)
		ctx->config_file = getenv("SSEFS_CONFIG");
	if (ctx->config_file && *ctx->config_file) {
		r = config_load(&ctx->cfg, ctx->config_file, err, sizeof(err));
		if (!r)
			r = config_check_mount_options(ctx->cfg,
						       mount_opt_check, err,
						       sizeof(err));
		if (r < 0) {
			error("%s", err);
			return EXIT_FAIL;
		}
	}
	if (!vault)
		vault = getenv("SSEFS_VAULT");
	if ((!vault || !*vault) && ctx->cfg)
		vault = config_vault_dir(ctx->cfg);
	if (vault && *vault) {
		char cwd[4096];
		int n;

		/* Absolute: a mount's daemon works from "/" (fuse_daemonize
		 * changes directory) and still reads the vault. */
		if (*vault == '/' || !getcwd(cwd, sizeof(cwd)))
			n = snprintf(ctx->vault_dir, sizeof(ctx->vault_dir),
				     "%s", vault);
		else
			n = snprintf(ctx->vault_dir, sizeof(ctx->vault_dir),
				     "%s/%s", cwd, vault);
		if (n < 0 || (size_t)n >= sizeof(ctx->vault_dir))
			return cli_usage(NULL, "--vault: path too long");
	} else if (vault_default_dir(ctx->vault_dir,
				     sizeof(ctx->vault_dir)) < 0) {
		error("vault: cannot find a default vault directory: "
		      "set --vault or SSEFS_VAULT");
		return EXIT_FAIL;
	}
	if (!ctx->passphrase_file) {
		v = getenv("SSEFS_PASSPHRASE_FILE");
		if (v && *v)
			ctx->passphrase_file = v;
	}
	if (!ctx->passphrase_file && ctx->cfg)
		ctx->passphrase_file = config_passphrase_file(ctx->cfg);
	if (ctx->cfg)
		ctx->keyfile = config_vault_keyfile(ctx->cfg);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx;
	const char *vault = NULL;
	size_t i;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	if (secmem_init() < 0)
		die("cannot initialise secure memory (libsodium, OpenSSL)");

	argc = take_globals(argc, argv, &ctx, &vault);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			/* "ssefs help key" = "ssefs key --help" */
			argv[1] = argv[2];
			argv[2] = (char *)"--help";
			argc = 3;
		} else {
			usage(stdout);
			return EXIT_OK;
		}
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("ssefs %s\n", SSEFS_VERSION);
		return EXIT_OK;
	}

	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		r = setup_ctx(&ctx, vault);
		if (r == EXIT_OK)
			r = commands[i].fn(argc - 1, argv + 1, &ctx);
		config_free(ctx.cfg);
		return r;
	}
	/* one line, as every error (ssefs --help lists the commands) */
	if (argv[1][0] == '-')
		r = cli_usage(NULL, "%s: unknown option", argv[1]);
	else
		r = cli_usage(NULL, "%s: unknown command", argv[1]);
	return r;
}
