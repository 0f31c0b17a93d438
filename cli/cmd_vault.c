/*
 * cmd_vault.c - `ssefs vault`
 */
#include "cli/cli.h"

struct vault;

int cli_open_vault(struct cli_ctx *ctx, struct vault **out)
{
	(void)ctx;
	(void)out;
	return EXIT_FAIL;
}

int cmd_vault(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	return cli_usage(NULL, "vault: this command is not built yet");
}
