/*
 * rotation.c - one pass of key policies, DES rotation and disk re-wraps
 *
 * Used by `ssefs rotate`, `ssefs des update --key` and the mount daemon's
 * rotation timer.  Every step re-reads what it acts on, so a pass that was
 * killed anywhere is finished by the next one: a DES that moved its active
 * key keeps the old one in previousKeys until all its disks are re-wrapped;
 * a disk whose header copies disagree is re-wrapped again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/rewrap.h"
#include "disk/volume.h"
#include "keyvault/des.h"
#include "keyvault/events.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "store/blobback.h"
#include "disk/backing.h"
#include "svc/errors.h"
#include "svc/registry.h"
#include "svc/rotation.h"
#include "util/beneath.h"
#include "util/log.h"
#include "util/name.h"
#include "util/parse.h"
#include "util/progress.h"

#define DEFAULT_THREADS	8

/* --- telling -------------------------------------------------------- */

static void say(const struct rotation_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const struct rotation_opts *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!o->say)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->say(o->say_arg, line);
}

/* Audit and send @ev.  Return: 0, or non-zero when the command failed. */
static int notify(struct vault *v, const struct rotation_opts *o,
		  struct rotation_result *res, struct event *ev)
{
	char op[64];
	int r;

	ev->vault = vault_name(v);
	snprintf(op, sizeof(op), "event.%s", event_name(ev->type));
	vault_audit(v, op, ev->kid, 0);
	r = event_notify(o->notify, ev);
	if (r != 0) {
		res->events_failed++;
		say(o, "notify command failed for %s (%s)",
		    event_name(ev->type),
		    r < 0 ? svc_strerror(r) : "non-zero exit");
	}
	return r;
}

/*
 * An expiry notice for the current version @cur of @k, once: a daemon and
 * `ssefs rotate` share the record in the vault, and one that could not be
 * delivered is tried again by the next pass.  Without a notify command
 * there is no one to tell, and nothing is recorded.
 */
static void notice(struct vault *v, const struct rotation_opts *o,
		   struct rotation_result *res, const struct vault_key *k,
		   const struct vault_version *cur, const char *kid,
		   enum vault_notice what)
{
	int r;

	if (!o->notify || !*o->notify)
		return;
	/* the cheap look first: sent already, as the list said */
	if (!strcmp(k->notice[what].version, cur->version) &&
	    k->notice[what].expires == cur->expires)
		return;
	r = vault_key_notice(v, k->name, what, cur->version, cur->expires, 1);
	if (r < 0)
		say(o, "key %s: cannot record the expiry notice: %s", k->name,
		    svc_strerror(r));
	if (r <= 0)
		return;
	if (notify(v, o, res, &(struct event){
			.type = what == VAULT_NOTICE_EXPIRED ? EV_KEY_EXPIRED :
				EV_KEY_NEAR_EXPIRY,
			.kid = kid, .key = k->name }))
		vault_key_notice(v, k->name, what, cur->version, cur->expires,
				 0);
}

/* --- 1. key policies ------------------------------------------------ */

static int apply_policies(struct vault *v, const struct rotation_opts *o,
			  struct rotation_result *res, time_t now)
{
	struct vault_key *keys;
	size_t n;
	int r, first = 0;

	r = vault_key_list(v, &keys, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct vault_key *k = &keys[i];
		struct vault_version *cur;
		char kid[VAULT_KID_MAX + 1];
		struct kid id = { 0 };

		if (k->deleted || !k->nversions)
			continue;
		cur = &k->versions[k->nversions - 1];
		snprintf(id.vault, sizeof(id.vault), "%s", vault_name(v));
		snprintf(id.name, sizeof(id.name), "%s", k->name);
		snprintf(id.version, sizeof(id.version), "%s", cur->version);
		kid_format(&id, kid, sizeof(kid));

		if (k->rotate_after && k->enabled &&
		    (uint64_t)(now - cur->created) >= k->rotate_after) {
			char nkid[VAULT_KID_MAX + 1];
			struct vault_err e;

			r = vault_key_rotate(v, k->name, nkid, sizeof(nkid),
					     &e);
			if (r < 0) {
				say(o, "key %s: policy rotation failed: %s",
				    k->name, svc_vault_strerror(&e, r));
				if (!first)
					first = r;
				continue;
			}
			res->keys_rotated++;
			say(o, "key %s: rotated by its policy: %s", k->name,
			    nkid);
			notify(v, o, res, &(struct event){
				.type = EV_KEY_ROTATED, .kid = nkid,
				.key = k->name, .detail = "rotation policy" });
			continue;	/* the next pass looks at the new one */
		}
		if (!cur->expires)
			continue;
		if (cur->expires <= now)
			notice(v, o, res, k, cur, kid, VAULT_NOTICE_EXPIRED);
		else if (k->notify_before &&
			 (uint64_t)(cur->expires - now) <= k->notify_before)
			notice(v, o, res, k, cur, kid,
			       VAULT_NOTICE_NEAR_EXPIRY);
	}
	vault_keys_free(keys, n);
	return first;
}

/* --- 2. sets follow their key --------------------------------------- */

struct move_arg {
	const char *kid;
	int moved;
};

static int move_active(struct des *d, void *arg)
{
	struct move_arg *m = arg;

	m->moved = 0;
	if (!strcmp(d->active_kid, m->kid))
		return 0;
	des_set_active(d, m->kid);
	d->last_rotation = time(NULL);
	m->moved = 1;
	return 0;
}

static int follow_keys(struct vault *v, const struct rotation_opts *o,
		       struct rotation_result *res)
{
	struct des *sets;
	size_t n;
	int r, first = 0;

	r = des_list(vault_dir(v), &sets, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char kid[VAULT_KID_MAX + 1];
		struct move_arg m = { kid, 0 };

		if (!sets[i].auto_rotate || *sets[i].version)
			continue;
		r = vault_resolve(v, sets[i].key, kid, sizeof(kid));
		if (r == 0 && vault_key_state(v, kid, 0) != KEY_USABLE)
			r = -EKEYREVOKED;	/* the newest is not usable */
		if (r == 0)
			r = des_modify(vault_dir(v), sets[i].name,
				       move_active, &m);
		if (r < 0) {
			if (!first)
				first = r;
			say(o, "des %s: cannot follow key %s: %s",
			    sets[i].name, sets[i].key, svc_strerror(r));
			continue;
		}
		if (m.moved) {
			res->des_moved++;
			say(o, "des %s: active key is now %s", sets[i].name,
			    kid);
		}
	}
	free(sets);
	return first;
}

/* --- 3. disks follow their set -------------------------------------- */

struct job {
	struct vault_disk disk;
	/* what layer 0 ends on: the set's active key, or for a platform-key
	 * disk the platform key; the platform layer of any disk goes to
	 * struct pool's platform */
	char target[VAULT_KID_MAX + 1];
	const char *customer;	/* the set's active key, or NULL: keep */
	char old[VAULT_KID_MAX + 1];
	char old_inner[VAULT_KID_MAX + 1];	/* "" with one layer */
	int result;		/* 0, or negative errno */
	struct vault_err *err;	/* what the vault said of it, or NULL */
	int changed, missing;
	int unreg;		/* found in the store, but the registry
				 * cannot hold its path: a failure */
};

struct pool {
	struct job *jobs;
	size_t njobs, next, ndone;
	struct progress *pg;	/* updated under the lock */
	pthread_mutex_t lock;
	struct vault *v;	/* serialises its own state */
	const struct store_root *sr;	/* or NULL */
	char platform[VAULT_KID_MAX + 1];	/* the newest platform kid */
};

/* The store a pass is limited to: disks in it are reached from its fd. */
struct store_root {
	char path[PATH_MAX];	/* its realpath */
	int fd;
};

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || !dir[n] ||
					  (n && dir[n - 1] == '/'));
}

/* @path (under @sr->path) relative to the store root. */
static const char *store_rel(const struct store_root *sr, const char *path)
{
	path += strlen(sr->path);
	while (*path == '/')
		path++;
	return path;
}

/*
 * Open the registered disk @path read-write: beneath the store root when
 * the pass has one, following no symlink, else as an admin's path
 * (util/beneath.h), so a folder swapped for a symlink leads nowhere.
 */
static int open_disk_rw(const struct store_root *sr, const char *path)
{
	if (sr && under(path, sr->path))
		return beneath_open(sr->fd, store_rel(sr, path),
				    O_RDWR | O_NONBLOCK, 0);
	return trusted_open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK, 0);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct vault_err e;	/* this thread's own, as its keyops are */
	struct vault_keyctx kc = { p->v, &e };
	struct keyops ops;

	vault_keyops(&kc, &ops);

	for (;;) {
		char old[ENV_MAX_LAYERS][ENV_KID_MAX + 1] = { "", "" };
		struct rewrap_src src;
		struct job *j;
		int fd;

		pthread_mutex_lock(&p->lock);
		j = p->next < p->njobs ? &p->jobs[p->next++] : NULL;
		pthread_mutex_unlock(&p->lock);
		if (!j)
			return NULL;
		fd = open_disk_rw(p->sr, j->disk.path);
		if (fd == -ENOENT) {
			j->missing = 1;
		} else if (fd < 0) {
			j->result = fd;
		} else {
			src.customer = j->customer;
			src.platform = p->platform[0] ? p->platform : NULL;
			*e.why = '\0';
			j->result = disk_rewrap_fd(fd, &ops, NULL, &src,
						   NULL, &j->changed, old);
			if (j->result < 0 && *e.why) {
				j->err = malloc(sizeof(*j->err));
				if (j->err)
					*j->err = e;
			}
			close(fd);
			snprintf(j->old, sizeof(j->old), "%s", old[0]);
			snprintf(j->old_inner, sizeof(j->old_inner), "%s",
				 old[1]);
		}
		pthread_mutex_lock(&p->lock);
		progress_update(p->pg, ++p->ndone);
		pthread_mutex_unlock(&p->lock);
	}
}

/* Is @kid one of the platform key's versions? */
static int is_platform_kid(const char *kid)
{
	struct kid k;

	return kid_parse(kid, &k) == 0 && k.platform;
}

struct clear_arg {
	const char *error;
};

static int settle_des(struct des *d, void *arg)
{
	struct clear_arg *c = arg;

	if (c->error) {
		snprintf(d->rotation_error, sizeof(d->rotation_error), "%s",
			 c->error);
	} else {
		d->nprevious = 0;	/* the rotation is complete */
		d->rotation_error[0] = '\0';
	}
	return 0;
}

static int has_uuid(const struct vault_disk *d, size_t n, const char *uuid)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].uuid, uuid))
			return 1;
	return 0;
}

/* The set named @name in @sets, or NULL. */
static const struct des *find_set(const struct des *sets, size_t n,
				  const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(sets[k].name, name))
			return &sets[k];
	return NULL;
}

/*
 * Re-wrap the registered disks (of set @only_des, or all), and the disks
 * @bad that the scan found but the registry cannot hold (a newline in the
 * name): those are re-wrapped too, so they stay readable, but counted and
 * named as failed, since no later pass without a STORE would find them.
 */
static int rewrap_disks(struct vault *v, const struct rotation_opts *o,
			struct rotation_result *res, const char *only_des,
			const struct store_root *sr,
			const struct vault_disk *bad, size_t nbad)
{
	char esc[PATH_MAX];
	struct pool p = { 0 };
	struct vault_disk *done = NULL;
	size_t ndone = 0;
	struct vault_disk *disks = NULL;
	struct des *sets = NULL;
	size_t ndisks = 0, nsets = 0;
	pthread_t th[64];
	int nth, r, first = 0;

	p.sr = sr;
	r = des_list(vault_dir(v), &sets, &nsets);
	if (r == 0)
		r = vault_disk_list(v, &disks, &ndisks);
	/* platform layers (platform-key disks, the inner layer of double
	 * encryption) follow the newest platform key version */
	if (r < 0)
		goto out;
	first = vault_resolve(v, "platform", p.platform, sizeof(p.platform));
	if (first < 0) {
		say(o, "vault %s: platform key: %s; platform-key layers keep "
		    "their version", vault_dir(v), svc_strerror(first));
		p.platform[0] = '\0';
	}
	p.jobs = calloc(ndisks + nbad ? ndisks + nbad : 1, sizeof(*p.jobs));
	if (!p.jobs) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ndisks + nbad; i++) {
		const struct vault_disk *dk = i < ndisks ? &disks[i] :
					      &bad[i - ndisks];
		const struct des *d;
		struct job *j = &p.jobs[p.njobs];

		if (sr && !under(dk->path, sr->path))
			continue;
		if (only_des && strcmp(dk->des, only_des))
			continue;
		/* a registered disk found again under a bad name: once */
		if (i < ndisks && has_uuid(bad, nbad, dk->uuid))
			continue;
		if (!dk->des[0] && is_platform_kid(dk->kid) &&
		    p.platform[0]) {
			j->disk = *dk;
			j->unreg = i >= ndisks;
			snprintf(j->target, sizeof(j->target), "%s",
				 p.platform);
			p.njobs++;
			continue;
		}
		if (!dk->des[0])
			continue;
		d = find_set(sets, nsets, dk->des);
		if (!d)
			continue;
		j->disk = *dk;
		j->unreg = i >= ndisks;
		snprintf(j->target, sizeof(j->target), "%s", d->active_kid);
		j->customer = d->active_kid;
		p.njobs++;
	}

	/* The vault serialises its own state; the RSA work runs in
	 * parallel. */
	p.v = v;
	pthread_mutex_init(&p.lock, NULL);
	p.pg = p.njobs ? o->progress : NULL;
	progress_start(p.pg, "rotate", "disks", p.njobs);
	nth = o->threads > 0 ? o->threads : DEFAULT_THREADS;
	if (nth > 64)
		nth = 64;
	if ((size_t)nth > p.njobs)
		nth = (int)p.njobs;
	for (int i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, worker, &p)) {
			nth = i;
			break;
		}
	if (nth == 0)
		worker(&p);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	progress_finish(p.pg);

	/* register the new kids at once, then report each disk */
	done = calloc(p.njobs ? p.njobs : 1, sizeof(*done));
	if (!done) {
		r = -ENOMEM;
		goto join;
	}
	for (size_t i = 0; i < p.njobs; i++) {
		struct job *j = &p.jobs[i];

		/* a disk the last pass re-wrapped but could not record is
		 * recorded now */
		if (j->missing || j->result < 0 || j->unreg ||
		    (!j->changed && !strcmp(j->disk.kid, j->target)))
			continue;
		done[ndone] = j->disk;
		snprintf(done[ndone].kid, sizeof(done[0].kid), "%s",
			 j->target);
		ndone++;
	}
	r = vault_disk_put_many(v, done, ndone);
	if (r < 0) {
		say(o, "registry: cannot record %zu re-wrapped disk%s: %s",
		    ndone, ndone == 1 ? "" : "s", svc_strerror(r));
		first = r;
		r = 0;		/* the headers are right; the next pass
				 * records them (see above) */
	}
	for (size_t i = 0; i < p.njobs; i++) {
		struct job *j = &p.jobs[i];
		int inner;

		name_escape(j->disk.path, esc, sizeof(esc));
		if (j->unreg && !j->missing) {
			res->disks_failed++;
			if (!first)
				first = -EINVAL;
			if (j->result < 0)
				say(o, "disk %s: failed: a control character "
				    "in its name keeps it out of the registry "
				    "(rename it), and its rewrap to %s failed: "
				    "%s", esc, j->target,
				    svc_vault_strerror(j->err, j->result));
			else
				say(o, "disk %s: failed: a control character "
				    "in its name keeps it out of the registry "
				    "(rename it); its key is %s", esc,
				    j->target);
			continue;
		}
		if (j->missing) {
			res->disks_skipped++;
			say(o, "disk %s: registered but missing; skipped: still "
			    "wrapped under %s (if it was moved, `ssefs rotate "
			    "STORE` on the store that holds it now re-wraps "
			    "it)", esc, j->disk.kid);
			continue;
		}
		if (j->result < 0) {
			res->disks_failed++;
			if (!first)
				first = j->result;
			say(o, "disk %s: rewrap to %s failed: %s",
			    esc, j->target,
			    svc_vault_strerror(j->err, j->result));
			continue;
		}
		if (!j->changed) {
			res->disks_current++;
			continue;
		}
		res->disks_rewrapped++;
		snprintf(j->disk.kid, sizeof(j->disk.kid), "%s", j->target);
		inner = *j->old_inner && p.platform[0] &&
			strcmp(j->old_inner, p.platform);
		if (strcmp(j->old, j->target) || !inner)
			say(o, "disk %s: %s -> %s", esc, j->old, j->target);
		if (inner)
			say(o, "disk %s: inner layer: %s -> %s", esc,
			    j->old_inner, p.platform);
		notify(v, o, res, &(struct event){
			.type = EV_DISK_REWRAPPED, .kid = j->target,
			.disk = j->disk.path, .des = j->disk.des,
			.detail = j->old });
	}
	for (size_t k = 0; k < nsets; k++) {
		char err[256] = "";
		struct clear_arg c = { NULL };
		unsigned int failed = 0, total = 0, registered = 0;
		unsigned int missing = 0;

		if (only_des && strcmp(sets[k].name, only_des))
			continue;
		for (size_t i = 0; i < p.njobs; i++) {
			if (strcmp(p.jobs[i].disk.des, sets[k].name))
				continue;
			total++;
			missing += p.jobs[i].missing;
			if (p.jobs[i].result < 0 || p.jobs[i].unreg) {
				if (!failed++)
					snprintf(err, sizeof(err), "%.160s: %.80s",
						 name_escape(p.jobs[i].disk.path,
							     esc, sizeof(esc)),
						 p.jobs[i].result < 0 ?
						 svc_vault_strerror(
							p.jobs[i].err,
							p.jobs[i].result) :
						 "a control character in its "
						 "name keeps it out of the "
						 "registry");
			}
		}
		/* a pass that saw only part of the set cannot call its
		 * rotation complete; nor can one that could not find a disk
		 * (still under an old key: it stays in previousKeys) */
		for (size_t i = 0; i < ndisks; i++)
			registered += !strcmp(disks[i].des, sets[k].name);
		if (!failed && (total < registered || missing))
			continue;
		if (failed)
			c.error = err;
		des_modify(vault_dir(v), sets[k].name, settle_des, &c);
		if (failed)
			notify(v, o, res, &(struct event){
				.type = EV_AUTO_ROTATION_FAILED,
				.kid = sets[k].active_kid, .des = sets[k].name,
				.detail = err });
	}
join:
	pthread_mutex_destroy(&p.lock);
out:
	free(done);
	for (size_t i = 0; p.jobs && i < p.njobs; i++)
		free(p.jobs[i].err);
	free(p.jobs);
	free(disks);
	free(sets);
	return r < 0 ? r : first;
}

/* --- finding disks moved within the store -------------------------- */

struct found {
	struct vault_disk *reg;		/* the registry */
	size_t nreg;
	struct vault_disk *put;		/* entries to write back */
	size_t nput, cap;
	struct vault_disk *bad;		/* found, but the registry cannot
					 * hold them (vault_disk_valid()) */
	size_t nbad, badcap;
};

static int append(struct vault_disk **a, size_t *n, size_t *cap,
		  const struct vault_disk *d)
{
	struct vault_disk *g;

	if (*n == *cap) {
		g = realloc(*a, (*cap * 2 + 8) * sizeof(*g));
		if (!g)
			return -ENOMEM;
		*a = g;
		*cap = *cap * 2 + 8;
	}
	(*a)[(*n)++] = *d;
	return 0;
}

/* The disk at @path: registered elsewhere whose file is gone (moved with
 * mv, the store renamed), or not at all (copied in): record it here. */
static int note_disk(struct found *f, const char *path, int fd)
{
	struct vault_disk *d = NULL, g;
	struct env_header h;
	struct stat st;
	char uuid[37];

	if (vol_probe_fd(fd, &h) < 0 ||
	    (!*h.des && h.layer[0].key_source != ENV_KEY_PLATFORM))
		return 0;	/* not a disk, or no rotation moves it */
	format_uuid(h.uuid, uuid);
	for (size_t i = 0; i < f->nreg; i++)
		if (!strcmp(f->reg[i].uuid, uuid))
			d = &f->reg[i];
	if (d && (!strcmp(d->path, path) || lstat(d->path, &st) == 0 ||
		  errno != ENOENT))
		return 0;	/* where it is recorded (or a stray copy) */
	registry_entry(&g, &h, path);
	if (!vault_disk_valid(&g))
		return append(&f->bad, &f->nbad, &f->badcap, &g);
	return append(&f->put, &f->nput, &f->cap, &g);
}

/* Walk the folder @dfd (@dir); each entry is opened from it, following
 * no symlink, so the walk stays in the store whatever is swapped. */
static int scan_dir(struct found *f, int dfd, const char *dir, int depth)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd, r = 0;

	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		close(dfd);
		return r;
	}
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] ||
		    (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(path) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 32) {
			fd = openat(dirfd(d), e->d_name, O_RDONLY |
				    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				r = scan_dir(f, fd, path, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW |
				    O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0) {
				r = note_disk(f, path, fd);
				close(fd);
			}
		}
	}
	closedir(d);
	return r;
}

/*
 * A registered disk recorded below @store whose file is gone, and that the
 * scan did not find elsewhere in the store, was removed (rm) behind the
 * vault's back: drop it from the registry, so that its set can complete
 * its rotation.  Should it turn up in some store later, `ssefs rotate`
 * there enters it again (note_disk()).
 */
static int drop_gone(struct vault *v, const struct rotation_opts *o,
		     const struct found *f, const struct store_root *sr)
{
	char esc[PATH_MAX];
	struct stat st;
	int r = 0, seen;

	for (size_t i = 0; r == 0 && i < f->nreg; i++) {
		const struct vault_disk *d = &f->reg[i];

		if ((!d->des[0] && !is_platform_kid(d->kid)) ||
		    !under(d->path, sr->path) ||
		    beneath_stat(sr->fd, store_rel(sr, d->path), &st) !=
			    -ENOENT)
			continue;
		/* found elsewhere, maybe under a name the registry cannot
		 * hold: its entry stays, so its set knows of it */
		seen = has_uuid(f->put, f->nput, d->uuid) ||
		       has_uuid(f->bad, f->nbad, d->uuid);
		if (seen)
			continue;
		r = vault_disk_del(v, d->uuid);
		if (r == -ENOENT)
			r = 0;
		else if (r == 0)
			say(o, "disk %s: gone from the store; dropped from the "
			    "registry", name_escape(d->path, esc, sizeof(esc)));
	}
	return r;
}

/*
 * Disks of a set that were moved inside @store behind the vault's back
 * (mv in the store, a renamed store, a copy restored into it) are entered
 * in the registry at their new path, so that rotation reaches them.
 */
static int adopt_moved(struct vault *v, const struct rotation_opts *o,
		       const struct store_root *sr,
		       struct vault_disk **bad, size_t *nbad)
{
	struct found f = { 0 };
	char esc[PATH_MAX];
	int fd, r;

	r = vault_disk_list(v, &f.reg, &f.nreg);
	if (r < 0)
		return r;
	fd = openat(sr->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = fd < 0 ? -errno : scan_dir(&f, fd, sr->path, 0);
	if (r == 0 && f.nput)
		r = vault_disk_put_many(v, f.put, f.nput);
	for (size_t i = 0; r == 0 && i < f.nput; i++)
		say(o, "disk %s: found in the store; entered in the registry",
		    name_escape(f.put[i].path, esc, sizeof(esc)));
	if (r == 0)
		r = drop_gone(v, o, &f, sr);
	free(f.reg);
	free(f.put);
	*bad = f.bad;		/* rewrap_disks() names them as failed */
	*nbad = f.nbad;
	return r;
}

/* Open the store a pass is limited to (its path is the admin's). */
static int store_root_open(struct store_root *sr, const char *store)
{
	if (!realpath(store, sr->path))
		return -errno;
	sr->fd = trusted_open(sr->path, O_RDONLY | O_DIRECTORY, 0);
	return sr->fd < 0 ? sr->fd : 0;
}

/* --- a blob store: its disks, by listing the container ------------- */

struct blob_pass {
	struct vault *v;
	const struct rotation_opts *o;
	struct rotation_result *res;
	struct blob_store *s;
	struct des *sets;
	size_t nsets;
	char platform[ENV_KID_MAX + 1];
	struct keyops ops;
	struct vault_err e;
	const char *name;		/* the disk at hand */
	int first;
};

/* Re-wrap the disk @bp->name through @b, and tell how it went. */
static int blob_rewrap(void *arg, struct backing *b)
{
	char old[ENV_MAX_LAYERS][ENV_KID_MAX + 1] = { "", "" };
	char msg[BLOB_MSG_MAX] = "";
	struct blob_pass *bp = arg;
	const struct rotation_opts *o = bp->o;
	const char *url = blob_store_url(bp->s);
	struct rewrap_src src = { NULL, NULL };
	struct env_header h;
	const struct des *d;
	int r, changed = 0;

	r = hdr_get(b, &h, NULL);
	if (r == -ENOTSUP)		/* a page blob that is no disk */
		return 0;
	if (r == 0) {
		d = *h.des ? find_set(bp->sets, bp->nsets, h.des) : NULL;
		src.customer = d ? d->active_kid : NULL;
		src.platform = bp->platform[0] ? bp->platform : NULL;
		*bp->e.why = '\0';
		r = disk_rewrap_backing(b, &bp->ops, NULL, &src, NULL,
					&changed, old);
	}
	if (r == -EBUSY) {
		/* not counted: the mount's rotation re-wraps it */
		say(o, "disk %s/%s: in use by a mount (it holds the blob's "
		    "lease); that mount re-wraps it", url, bp->name);
		return 0;
	}
	if (r < 0) {
		blob_backing_why(b, r, msg, sizeof(msg));
		bp->res->disks_failed++;
		if (!bp->first)
			bp->first = r;
		if (*bp->e.why)
			say(o, "disk %s/%s: rewrap failed: %s", url, bp->name,
			    svc_vault_strerror(&bp->e, r));
		else
			say(o, "%s", strncmp(msg, "ssefs: ", 7) ? msg :
			    msg + 7);
		return 0;
	}
	if (!changed) {
		bp->res->disks_current++;
		return 0;
	}
	bp->res->disks_rewrapped++;
	if (hdr_get(b, &h, NULL) < 0)
		h.nlayers = 0;		/* re-wrapped; just not told how */
	for (unsigned int i = 0; i < h.nlayers; i++)
		if (strcmp(old[i], h.layer[i].kid))
			say(o, "disk %s/%s: %s -> %s", url, bp->name, old[i],
			    h.layer[i].kid);
	return 0;
}

/* One disk of the container: through the mount that holds it, if one
 * does (o->with_held), else unless someone else leases it. */
static int blob_one(void *arg, const struct blob_entry *be)
{
	char msg[BLOB_MSG_MAX];
	struct blob_pass *bp = arg;
	const struct rotation_opts *o = bp->o;
	struct backing *b;
	int r;

	bp->name = be->name;
	if (o->with_held) {
		r = o->with_held(o->held_arg, be->name, blob_rewrap, bp);
		if (r <= 0)
			return 0;
	}
	if (be->leased) {
		say(o, "disk %s/%s: in use by a mount (it holds the blob's "
		    "lease); that mount re-wraps it", blob_store_url(bp->s),
		    be->name);
		return 0;
	}
	r = blob_backing_open(&b, bp->s, be->name, 0, msg, sizeof(msg));
	if (r < 0) {
		bp->res->disks_failed++;
		if (!bp->first)
			bp->first = r;
		say(o, "%s", strncmp(msg, "ssefs: ", 7) ? msg : msg + 7);
		return 0;
	}
	blob_rewrap(bp, b);
	b->ops->close(b);
	return 0;
}

/* Every disk of the container @o->store that no one leases. */
static int rotate_blob_store(struct vault *v, const struct rotation_opts *o,
			     struct rotation_result *res)
{
	struct blob_pass bp = { .v = v, .o = o, .res = res };
	struct vault_keyctx kc = { v, &bp.e };
	char msg[BLOB_MSG_MAX] = "";
	int r;

	bp.s = o->blob;
	r = bp.s ? 0 : blob_store_open(&bp.s, o->store, NULL, msg,
					sizeof(msg));
	if (r < 0) {
		snprintf(res->store_error, sizeof(res->store_error), "%s",
			 strncmp(msg, "ssefs: ", 7) ? msg : msg + 7);
		return r;
	}
	r = des_list(vault_dir(v), &bp.sets, &bp.nsets);
	if (r == 0 && vault_resolve(v, "platform", bp.platform,
				    sizeof(bp.platform)) < 0)
		bp.platform[0] = '\0';
	vault_keyops(&kc, &bp.ops);
	if (r == 0)
		r = blob_store_list(bp.s, blob_one, &bp, msg, sizeof(msg));
	if (r < 0 && *msg)
		snprintf(res->store_error, sizeof(res->store_error), "%s",
			 strncmp(msg, "ssefs: ", 7) ? msg : msg + 7);
	free(bp.sets);
	if (!o->blob)
		blob_store_close(bp.s);
	return r < 0 ? r : bp.first;
}

int rotation_run(struct vault *v, const struct rotation_opts *o,
		 struct rotation_result *res)
{
	struct store_root sr = { "", -1 };
	struct vault_disk *bad = NULL;
	size_t nbad = 0;
	int r, first = 0;

	memset(res, 0, sizeof(*res));
	if (o->store && blob_is_url(o->store)) {
		/* keys and sets first, as for a directory; then the disks
		 * the container holds (no registry: they are listed) */
		first = apply_policies(v, o, res, time(NULL));
		r = follow_keys(v, o, res);
		if (r < 0 && !first)
			first = r;
		r = rotate_blob_store(v, o, res);
		return first ? first : r;
	}
	if (o->store)
		first = store_root_open(&sr, o->store);
	if (o->store && first == 0)
		first = adopt_moved(v, o, &sr, &bad, &nbad);
	if (first < 0)
		say(o, "store %s: cannot look for moved disks: %s", o->store,
		    svc_strerror(first));
	r = apply_policies(v, o, res, time(NULL));
	if (r < 0 && !first)
		first = r;
	r = follow_keys(v, o, res);
	if (r < 0 && !first)
		first = r;
	if (o->store && sr.fd < 0)
		r = sr.fd;	/* no store to be limited to: no disk either */
	else
		r = rewrap_disks(v, o, res, NULL, o->store ? &sr : NULL,
				 bad, nbad);
	if (r < 0 && !first)
		first = r;
	if (sr.fd >= 0)
		close(sr.fd);
	free(bad);
	return first;
}

int rotation_rewrap_des(struct vault *v, const struct rotation_opts *o,
			const char *des, struct rotation_result *res)
{
	memset(res, 0, sizeof(*res));
	return rewrap_disks(v, o, res, des, NULL, NULL, 0);
}
