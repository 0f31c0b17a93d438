/*
 * cmd_vault.h - helpers cli/cmd_vault.c shares with cli/cmd_key.c
 */
#ifndef SSEFS_CLI_CMD_VAULT_H
#define SSEFS_CLI_CMD_VAULT_H

/* Take "--name VALUE" or "--name=VALUE" at argv[*i]: 1 when taken (*i moves
 * past the value), 0 when argv[*i] is something else, -1 when the value is
 * missing. */
int cli_take(int argc, char **argv, int *i, const char *name,
	     const char **val);

/* Print why vault @dir failed (@path: the file at fault, may be NULL);
 * returns -1. */
int cli_vault_error(const char *dir, const char *path, int err);

#endif /* SSEFS_CLI_CMD_VAULT_H */
