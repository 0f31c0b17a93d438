/*
 * events.h - key and disk events handed to the admin's notify command
 *
 * An event is one JSON object on the notify command's standard input:
 *   {"event":"KeyRotated","time":"2027-01-31T00:00:00Z","vault":"prod",
 *    "kid":"vault://prod/keys/k1/...","key":"k1","disk":"/srv/s/d.vhd",
 *    "des":"des1","detail":"..."}
 * Fields that do not apply are left out.  The command runs through
 * /bin/sh -c with a clean environment (PATH, HOME, SSEFS_EVENT=TYPE); it
 * gets EVENT_TIMEOUT_SECONDS to finish before it is killed.
 */
#ifndef SSEFS_KEYVAULT_EVENTS_H
#define SSEFS_KEYVAULT_EVENTS_H

#include <stdio.h>
#include <time.h>

#define EVENT_TIMEOUT_SECONDS	30

enum event_type {
	EV_KEY_NEAR_EXPIRY,
	EV_KEY_EXPIRED,
	EV_KEY_ROTATED,
	EV_DISK_REWRAPPED,
	EV_DISK_KEY_REVOKED,
	EV_DISK_KEY_RESTORED,
	EV_AUTO_ROTATION_FAILED,
};

struct event {
	enum event_type type;
	time_t time;			/* 0: now */
	const char *vault;		/* each may be NULL */
	const char *kid;
	const char *key;
	const char *disk;
	const char *des;
	const char *detail;
};

/* "KeyNearExpiry", "KeyExpired", "KeyRotated", "DiskRewrapped",
 * "DiskKeyRevoked", "DiskKeyRestored", "AutoRotationFailed" */
const char *event_name(enum event_type t);

/* Write @ev as one line of JSON to @f. */
void event_write_json(FILE *f, const struct event *ev);

/*
 * event_notify() - run @cmd with @ev as JSON on its stdin and wait for it.
 * @cmd NULL or "" does nothing and returns 0.  Return: 0 when the command
 * exited 0; its exit status (> 0); -ETIMEDOUT (killed); -errno.
 */
int event_notify(const char *cmd, const struct event *ev);

/*
 * event_set_workdir() - the directory notify commands run in (a mount's
 * daemon works from "/", but its notify=./hook was written relative to
 * where ssefs mount was started).  Call before any thread starts; a copy
 * is kept.  Default: the process's own working directory.
 */
void event_set_workdir(const char *dir);

#endif /* SSEFS_KEYVAULT_EVENTS_H */
