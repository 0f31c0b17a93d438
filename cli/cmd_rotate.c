/*
 * cmd_rotate.c - `ssefs rotate`
 */
#include "cli/cli.h"

int cmd_rotate(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	return cli_usage(NULL, "rotate: this command is not built yet");
}
