/*
 * cmd_status.c - `ssefs status MNT`: ask the mount's daemon
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "svc/mountinfo.h"
#include "fuse/ctl.h"
#include "util/log.h"

#define STATUS_TRIES	100	/* of 50 ms: 5 s for a daemon starting */

/*
 * A FUSE mount whose daemon died (kill -9, OOM) stays in the mount table
 * and answers every stat(2) with ENOTCONN until it is unmounted.
 */
static int daemon_gone(const char *mnt)
{
	struct stat st;

	return stat(mnt, &st) < 0 && errno == ENOTCONN;
}

static int say_gone(const char *arg, const char *mnt)
{
	return error("%s: its daemon is gone (Transport endpoint is not "
		     "connected); unmount it with: fusermount3 -u %s", arg,
		     mnt), EXIT_FAIL;
}

static const char status_usage[] = "usage: ssefs [--json] status MNT\n";

int cmd_status(int argc, char **argv, struct cli_ctx *ctx)
{
	char mnt[PATH_MAX], why[1024];
	int r;

	if (argc == 2 && (!strcmp(argv[1], "-h") ||
			  !strcmp(argv[1], "--help"))) {
		printf("%s", status_usage);
		printf(
"\n"
"Show what the daemon of the mount MNT is doing: the store, the vault, the\n"
"options, and for each disk its encryption type, key id, key state, whether\n"
"it is open, bytes read and written, and revocation state; damaged disks\n"
"with their error; the temp disk (-o temp_disk) with its backing file and\n"
"whether it is encrypted or plaintext on host storage.  --json gives the\n"
"same as one JSON object (ssefs-mount(8)).  Only root and the user who\n"
"mounted may ask; the answer is trusted only from a daemon of the caller or\n"
"root, through a socket folder no one else can write to (else exit 1).\n"
"Right after a mount it waits up to 5 s for the daemon;\n"
"a mount whose daemon has died is named as such at once.\n"
"Exit status: 0, or 1 when MNT is not an ssefs mount.\n");
		return EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(status_usage, argc < 2 ?
				 "status: needs MNT" :
				 argc > 2 ? "status: too many arguments" :
				 "status: %s: unknown option", argv[1]);
	if (!realpath(argv[1], mnt)) {
		if (errno == ENOTCONN)
			return say_gone(argv[1], argv[1]);
		return error("%s: not an ssefs mount", argv[1]), EXIT_FAIL;
	}
	fflush(stdout);
	/* Right after `ssefs mount` (no -f) returns, the daemon may not
	 * have opened its control socket yet: while MNT is an ssefs mount,
	 * ask again for a few seconds. */
	for (int tries = 0;; tries++) {
		r = ctl_request(mnt, ctx->json ? "status json" : "status",
				stdout, why, sizeof(why));
		if (r != -ENOTCONN || tries >= STATUS_TRIES ||
		    !mi_ssefs_at(mnt) || daemon_gone(mnt))
			break;
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	}
	if (r == -EPERM)
		return error("%s: %s", argv[1], why), EXIT_FAIL;
	if (r == -EACCES)
		return error("%s: permission denied (only root and the user "
			     "who mounted it may ask)", argv[1]), EXIT_FAIL;
	if (r < 0 && mi_ssefs_at(mnt) && daemon_gone(mnt))
		return say_gone(argv[1], mnt);
	if (r < 0 && mi_ssefs_at(mnt))
		return error("%s: the daemon does not answer on its control "
			     "socket", argv[1]), EXIT_FAIL;
	if (r < 0)
		return error("%s: not an ssefs mount", argv[1]), EXIT_FAIL;
	return fflush(stdout) ? EXIT_FAIL : EXIT_OK;
}
