/*
 * cmd_vault.h - helpers cli/cmd_vault.c shares with cli/cmd_key.c
 */
#ifndef SSEFS_CLI_CMD_VAULT_H
#define SSEFS_CLI_CMD_VAULT_H

/* Print why vault @dir failed (@path: the file at fault, @why: what
 * struct vault_err says of it; either may be NULL); returns -1. */
int cli_vault_error(const char *dir, const char *path, const char *why,
		    int err);

struct vault;

/*
 * Split a key reference as the command line takes it: NAME, NAME/VERSION,
 * or a key's full kid vault://VAULT/keys/NAME/VERSION, as create and
 * rotate print it.  Return: 0; -EINVAL (none of these, or a platform
 * kid); -EXDEV (a kid of another vault than @v).
 */
int cli_key_ref(struct vault *v, const char *ref, char *name, char *version);

/*
 * A reference cli_key_ref() refused: print "@what: @ref: WHY", naming the
 * part at fault (NAME, VERSION, VAULT...), and return EXIT_USAGE.
 */
int cli_key_ref_usage(const char *what, const char *ref);

#endif /* SSEFS_CLI_CMD_VAULT_H */
