/*
 * cmd_status.c - `ssefs status`
 */
#include "cli/cli.h"

int cmd_status(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	return cli_usage(NULL, "status: this command is not built yet");
}
