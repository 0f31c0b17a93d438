/*
 * cmd_des.c - `ssefs des`
 */
#include "cli/cli.h"

int cmd_des(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	return cli_usage(NULL, "des: this command is not built yet");
}
