/*
 * attach.h - `ssefs disk attach` and `detach` (cli/cmd_attach.c), called
 * from `ssefs disk`
 */
#ifndef SSEFS_CLI_ATTACH_H
#define SSEFS_CLI_ATTACH_H

struct cli_ctx;

extern const char attach_usage[];

int disk_attach(int argc, char **argv, struct cli_ctx *ctx);
int disk_detach(int argc, char **argv, struct cli_ctx *ctx);

#endif /* SSEFS_CLI_ATTACH_H */
