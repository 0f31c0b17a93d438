/*
 * cmd_disk.c - `ssefs disk`
 */
#include "cli/cli.h"

int cmd_disk(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	return cli_usage(NULL, "disk: this command is not built yet");
}
