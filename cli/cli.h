/*
 * cli.h - what every command family shares: global options, exit codes,
 * the vault it runs against
 */
#ifndef SSEFS_CLI_CLI_H
#define SSEFS_CLI_CLI_H

#include <stdio.h>

#include "keyvault/vault.h"

struct config;

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the operation failed */
	EXIT_USAGE = 2,		/* the command line was wrong */
	EXIT_ATTENTION = 3,	/* it worked, and something needs a person */
};

struct cli_ctx {
	char vault_dir[4096];		/* --vault, SSEFS_VAULT, config, default */
	const char *passphrase_file;	/* --passphrase-file, env, config */
	const char *keyfile;		/* config's vault key file, if any */
	const char *config_file;	/* --config, SSEFS_CONFIG, or NULL */
	int json;			/* --json */
	int progress;			/* --progress: 1; --quiet: -1; else 0 */
	struct config *cfg;		/* NULL when there is no config file */
	/* the vault's keyops for this command's disks (vault_keyops()),
	 * and what the vault said of their last failure */
	struct vault_keyctx keys;
	struct vault_err verr;
};

/* One command family: argv[0] is the family name ("key"). */
typedef int (*cmd_fn)(int argc, char **argv, struct cli_ctx *ctx);

int cmd_vault(int argc, char **argv, struct cli_ctx *ctx);
int cmd_key(int argc, char **argv, struct cli_ctx *ctx);
int cmd_des(int argc, char **argv, struct cli_ctx *ctx);
int cmd_disk(int argc, char **argv, struct cli_ctx *ctx);
int cmd_rotate(int argc, char **argv, struct cli_ctx *ctx);
int cmd_mount(int argc, char **argv, struct cli_ctx *ctx);
int cmd_status(int argc, char **argv, struct cli_ctx *ctx);

/*
 * Print the one line "ssefs: WHAT: WHY" for a usage mistake and return
 * EXIT_USAGE.  @usage is no longer printed (every error is one line; the
 * usage is for COMMAND --help) and may be NULL.
 */
int cli_usage(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * For getopt_long() run with opterr = 0 and an optstring starting with
 * ':': turn its '?' (unknown option) or ':' (missing value) into one line,
 * "ssefs: CMD: --foo: unknown option" or "ssefs: CMD: --size needs a
 * value", and return EXIT_USAGE.
 */
int cli_getopt_usage(const char *cmd, int c, char **argv);

struct option;

#define CLI_OPT_BAD	(-2)

/*
 * The one option parser of every command: getopt_long() (options among
 * the arguments, "--name VALUE" or "--name=VALUE", "--" ends them) with
 * whole names only.  getopt_long() alone takes "--si" for "--size",
 * which misleads (coreutils' --si means powers of 1000) and would break
 * scripts the day another option starts the same way.  Set optind = 1
 * and opterr = 0 before the first call, start @optstring with ':'.
 * Return: the option's value, -1 at the end, or CLI_OPT_BAD after one
 * line on stderr ("CMD: --si: unknown option (did you mean --size?)",
 * "CMD: --frob: unknown option", "CMD: --size needs a value").
 */
int cli_getopt(int argc, char **argv, const char *optstring,
	       const struct option *opts, const char *cmd);

/*
 * Open and unlock the vault of @ctx.  On failure prints one line naming
 * the vault dir or file at fault and returns EXIT_FAIL; 0 on success.
 * (Implemented in cli/cmd_vault.c.)
 */
int cli_open_vault(struct cli_ctx *ctx, struct vault **out);

/* Take "--name VALUE" or "--name=VALUE" at argv[*i] (advancing *i past a
 * separate value).  Return: 1 taken, 0 not this option, -1 value missing. */
int cli_take(int argc, char **argv, int *i, const char *name,
	     const char **val);

/*
 * Whether long work draws its progress line on stderr: with --progress
 * (unless --quiet, which wins), else when stderr is a terminal and the
 * output is not --json.
 */
int cli_progress_on(const struct cli_ctx *ctx);

struct blob_store_opts;

/*
 * cli_blob_opts() - the options a command opens the blob store of @url
 * with (a container URL, or with @disk a disk's CONTAINER-URL/NAME.vhd):
 * credentials=FILE, store_timeout and allow_http from the config file's
 * mount: defaults and its stores: entry for the container URL, as a mount
 * of it would take them (the environment's credentials still come first,
 * blob_store_open()).  Free with cli_blob_opts_free().
 * Return: 0, or -1 after one line (a bad option in the config file).
 */
int cli_blob_opts(struct cli_ctx *ctx, const char *url, int disk,
		  struct blob_store_opts *o);
void cli_blob_opts_free(struct blob_store_opts *o);

/* After cli_getopt(): more than @max arguments left is one line, "CMD:
 * unexpected 'X'".  Return: 0 or EXIT_USAGE. */
int cli_extra_args(int argc, char **argv, int max, const char *cmd);

/*
 * A subcommand without options of its own (disk export, des delete, key
 * show...) parsed as every other: --help prints @usage, "--" ends the
 * options, anything else that looks like one is "CMD: --x: unknown
 * option".  Leaves (*@argc, *@argv) as the subcommand's name and its
 * arguments.  Return: 0 to go on; -1 after --help (exit 0); EXIT_USAGE.
 */
int cli_plain_args(int *argc, char ***argv, const char *cmd,
		   const char *usage);

/*
 * --json for a command whose object is gone (des delete, key purge):
 * {"name": @name, @what: true}.  Return: an exit code.
 */
int cli_json_gone(const char *name, const char *what);

/* Re-wrap every disk of set @des to its active key now (des update --key),
 * with the progress and lines of `ssefs rotate`; errors printed.  Return:
 * an exit code.  (Implemented in cli/cmd_rotate.c.) */
int cli_rotate_des(struct cli_ctx *ctx, struct vault *v, const char *des);

#endif /* SSEFS_CLI_CLI_H */
