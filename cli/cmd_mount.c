/*
 * cmd_mount.c - `ssefs mount`
 */
#include "cli/cli.h"

int cmd_mount(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	return cli_usage(NULL, "mount: this command is not built yet");
}
