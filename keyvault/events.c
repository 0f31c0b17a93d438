/*
 * events.c - run the notify command with a JSON event on its stdin
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keyvault/events.h"
#include "util/io.h"
#include "util/json.h"

static const char *const names[] = {
	[EV_KEY_NEAR_EXPIRY] = "KeyNearExpiry",
	[EV_KEY_EXPIRED] = "KeyExpired",
	[EV_KEY_ROTATED] = "KeyRotated",
	[EV_DISK_REWRAPPED] = "DiskRewrapped",
	[EV_DISK_KEY_REVOKED] = "DiskKeyRevoked",
	[EV_DISK_KEY_RESTORED] = "DiskKeyRestored",
	[EV_AUTO_ROTATION_FAILED] = "AutoRotationFailed",
};

const char *event_name(enum event_type t)
{
	if ((unsigned int)t >= sizeof(names) / sizeof(names[0]))
		return "Unknown";
	return names[t];
}

void event_write_json(FILE *f, const struct event *ev)
{
	struct json j;

	json_init(&j, f, 0);
	json_obj_begin(&j, NULL);
	json_str(&j, "event", event_name(ev->type));
	json_time(&j, "time", ev->time ? ev->time : time(NULL));
	if (ev->vault)
		json_str(&j, "vault", ev->vault);
	if (ev->kid)
		json_str(&j, "kid", ev->kid);
	if (ev->key)
		json_str(&j, "key", ev->key);
	if (ev->disk)
		json_str(&j, "disk", ev->disk);
	if (ev->des)
		json_str(&j, "des", ev->des);
	if (ev->detail)
		json_str(&j, "detail", ev->detail);
	json_obj_end(&j);
	json_end(&j);
}

static char workdir[4096];

void event_set_workdir(const char *dir)
{
	snprintf(workdir, sizeof(workdir), "%s", dir ? dir : "");
}

/* The child: stdin from the pipe, a minimal environment, sh -c CMD. */
static void run_child(int rfd, const char *cmd, const char *type)
{
	char env_type[64];
	char *const envp[] = {
		(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		(char *)"HOME=/",
		env_type,
		NULL,
	};

	snprintf(env_type, sizeof(env_type), "SSEFS_EVENT=%s", type);
	if (dup2(rfd, STDIN_FILENO) < 0)
		_exit(127);
	if (rfd != STDIN_FILENO)
		close(rfd);
	/* gone since: an absolute command still runs, from / */
	if (*workdir && chdir(workdir) < 0 && chdir("/") < 0)
		_exit(126);
	execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, envp);
	_exit(127);
}

int event_notify(const char *cmd, const struct event *ev)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int p[2], status, r;
	pid_t pid;
	time_t deadline;

	if (!cmd || !*cmd)
		return 0;
	mem = open_memstream(&buf, &len);
	if (!mem)
		return -ENOMEM;
	event_write_json(mem, ev);
	fclose(mem);

	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		free(buf);
		return r;
	}
	if (pid == 0) {
		close(p[1]);
		run_child(p[0], cmd, event_name(ev->type));
	}
	close(p[0]);
	/* A command that ignores its input must not kill us with SIGPIPE. */
	{
		struct sigaction sa = { .sa_handler = SIG_IGN }, old;

		sigaction(SIGPIPE, &sa, &old);
		/* a reader that went away early is the command's business */
		(void)io_write_all(p[1], buf, len);
		sigaction(SIGPIPE, &old, NULL);
	}
	close(p[1]);
	free(buf);

	deadline = time(NULL) + EVENT_TIMEOUT_SECONDS;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (time(NULL) >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		usleep(20 * 1000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -ECHILD;
}
