/*
 * cmd_key.c - `ssefs key`
 */
#include "cli/cli.h"

int cmd_key(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	return cli_usage(NULL, "key: this command is not built yet");
}
