/*
 * cmd_vault.h - helpers cli/cmd_vault.c shares with cli/cmd_key.c
 */
#ifndef SSEFS_CLI_CMD_VAULT_H
#define SSEFS_CLI_CMD_VAULT_H

/* Print why vault @dir failed (@path: the file at fault, may be NULL);
 * returns -1. */
int cli_vault_error(const char *dir, const char *path, int err);

#endif /* SSEFS_CLI_CMD_VAULT_H */
