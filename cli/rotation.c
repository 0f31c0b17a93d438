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
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/rotation.h"
#include "crypto/envelope.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/rewrap.h"
#include "disk/volume.h"
#include "keyvault/des.h"
#include "keyvault/events.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "util/log.h"
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

static void notify(struct vault *v, const struct rotation_opts *o,
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
		    r < 0 ? cli_strerror(r) : "non-zero exit");
	}
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

			r = vault_key_rotate(v, k->name, nkid, sizeof(nkid));
			if (r < 0) {
				say(o, "key %s: policy rotation failed: %s",
				    k->name, cli_strerror(r));
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
			continue;	/* the new version has no expiry yet */
		}
		if (!cur->expires)
			continue;
		if (cur->expires <= now) {
			notify(v, o, res, &(struct event){
				.type = EV_KEY_EXPIRED, .kid = kid,
				.key = k->name });
		} else if (k->notify_before &&
			   (uint64_t)(cur->expires - now) <= k->notify_before) {
			notify(v, o, res, &(struct event){
				.type = EV_KEY_NEAR_EXPIRY, .kid = kid,
				.key = k->name });
		}
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
			    sets[i].name, sets[i].key, cli_strerror(r));
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
	char target[VAULT_KID_MAX + 1];
	char old[VAULT_KID_MAX + 1];
	int result;		/* 0, or negative errno */
	int changed, missing;
};

struct pool {
	struct job *jobs;
	size_t njobs, next, ndone;
	struct progress *pg;	/* updated under the lock */
	pthread_mutex_t lock;
	struct keyops ops;	/* the locked vault */
};

static void *worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		const char *t[ENV_MAX_LAYERS] = { NULL, NULL };
		char old[ENV_MAX_LAYERS][ENV_KID_MAX + 1];
		struct job *j;

		pthread_mutex_lock(&p->lock);
		j = p->next < p->njobs ? &p->jobs[p->next++] : NULL;
		pthread_mutex_unlock(&p->lock);
		if (!j)
			return NULL;
		if (access(j->disk.path, F_OK) < 0) {
			j->missing = 1;
		} else {
			t[0] = j->target;
			j->result = disk_rewrap(j->disk.path, &p->ops, t,
						&j->changed, old);
			snprintf(j->old, sizeof(j->old), "%s", old[0]);
		}
		pthread_mutex_lock(&p->lock);
		progress_update(p->pg, ++p->ndone);
		pthread_mutex_unlock(&p->lock);
	}
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || !dir[n] ||
					  (n && dir[n - 1] == '/'));
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

static int rewrap_disks(struct vault *v, const struct rotation_opts *o,
			struct rotation_result *res, const char *only_des)
{
	struct pool p = { 0 };
	struct vault_disk *done = NULL;
	size_t ndone = 0;
	struct vault_disk *disks = NULL;
	struct des *sets = NULL;
	size_t ndisks = 0, nsets = 0;
	pthread_t th[64];
	int nth, r, first = 0;
	char store[PATH_MAX] = "";

	if (o->store && !realpath(o->store, store))
		return -errno;
	r = des_list(vault_dir(v), &sets, &nsets);
	if (r == 0)
		r = vault_disk_list(v, &disks, &ndisks);
	if (r < 0)
		goto out;
	p.jobs = calloc(ndisks ? ndisks : 1, sizeof(*p.jobs));
	if (!p.jobs) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ndisks; i++) {
		const struct des *d = NULL;

		if (!disks[i].des[0] || (*store && !under(disks[i].path, store)))
			continue;
		if (only_des && strcmp(disks[i].des, only_des))
			continue;
		for (size_t k = 0; k < nsets; k++)
			if (!strcmp(sets[k].name, disks[i].des))
				d = &sets[k];
		if (!d)
			continue;
		p.jobs[p.njobs].disk = disks[i];
		snprintf(p.jobs[p.njobs].target, sizeof(p.jobs[0].target),
			 "%s", d->active_kid);
		p.njobs++;
	}

	/* The vault serialises its own state; the RSA work runs in
	 * parallel. */
	vault_keyops(v, &p.ops);
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
		if (j->missing || j->result < 0 ||
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
		    ndone, ndone == 1 ? "" : "s", cli_strerror(r));
		first = r;
		r = 0;		/* the headers are right; the next pass
				 * records them (see above) */
	}
	for (size_t i = 0; i < p.njobs; i++) {
		struct job *j = &p.jobs[i];

		if (j->missing) {
			res->disks_skipped++;
			say(o, "disk %s: registered but missing; skipped: still "
			    "wrapped under %s (if it was moved, `ssefs rotate "
			    "STORE` on the store that holds it now re-wraps "
			    "it)", j->disk.path, j->disk.kid);
			continue;
		}
		if (j->result < 0) {
			res->disks_failed++;
			if (!first)
				first = j->result;
			say(o, "disk %s: rewrap to %s failed: %s",
			    j->disk.path, j->target, cli_strerror(j->result));
			continue;
		}
		if (!j->changed) {
			res->disks_current++;
			continue;
		}
		res->disks_rewrapped++;
		snprintf(j->disk.kid, sizeof(j->disk.kid), "%s", j->target);
		say(o, "disk %s: %s -> %s", j->disk.path, j->old, j->target);
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
			if (p.jobs[i].result < 0) {
				if (!failed++)
					snprintf(err, sizeof(err), "%.160s: %.80s",
						 p.jobs[i].disk.path,
						 cli_strerror(p.jobs[i].result));
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
};

static void uuid_text(const uint8_t u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
}

/* The disk at @path: registered elsewhere whose file is gone (moved with
 * mv, the store renamed), or not at all (copied in): record it here. */
static int note_disk(struct found *f, const char *path)
{
	struct vault_disk *d = NULL, *g;
	struct env_header h;
	struct stat st;
	char uuid[37];

	if (vol_probe(path, &h) < 0 || !*h.des)
		return 0;	/* not a disk, or no set rotates it */
	uuid_text(h.uuid, uuid);
	for (size_t i = 0; i < f->nreg; i++)
		if (!strcmp(f->reg[i].uuid, uuid))
			d = &f->reg[i];
	if (d && (!strcmp(d->path, path) || lstat(d->path, &st) == 0 ||
		  errno != ENOENT))
		return 0;	/* where it is recorded (or a stray copy) */
	if (f->nput == f->cap) {
		g = realloc(f->put, (f->cap * 2 + 8) * sizeof(*g));
		if (!g)
			return -ENOMEM;
		f->put = g;
		f->cap = f->cap * 2 + 8;
	}
	g = &f->put[f->nput++];
	memset(g, 0, sizeof(*g));
	snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
	snprintf(g->path, sizeof(g->path), "%s", path);
	snprintf(g->des, sizeof(g->des), "%s", h.des);
	snprintf(g->kid, sizeof(g->kid), "%s", h.layer[0].kid);
	return 0;
}

static int scan_dir(struct found *f, const char *dir, int depth)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int r = 0;

	if (depth > 32)
		return 0;
	d = opendir(dir);
	if (!d)
		return -errno;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] ||
		    (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(path) || lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			r = scan_dir(f, path, depth + 1);
		else if (S_ISREG(st.st_mode))
			r = note_disk(f, path);
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
		     const struct found *f, const char *store)
{
	struct stat st;
	int r = 0, seen;

	for (size_t i = 0; r == 0 && i < f->nreg; i++) {
		const struct vault_disk *d = &f->reg[i];

		if (!d->des[0] || !under(d->path, store) ||
		    lstat(d->path, &st) == 0 || errno != ENOENT)
			continue;
		seen = 0;
		for (size_t k = 0; k < f->nput; k++)
			seen |= !strcmp(f->put[k].uuid, d->uuid);
		if (seen)
			continue;
		r = vault_disk_del(v, d->uuid);
		if (r == -ENOENT)
			r = 0;
		else if (r == 0)
			say(o, "disk %s: gone from the store; dropped from the "
			    "registry", d->path);
	}
	return r;
}

/*
 * Disks of a set that were moved inside @store behind the vault's back
 * (mv in the store, a renamed store, a copy restored into it) are entered
 * in the registry at their new path, so that rotation reaches them.
 */
static int adopt_moved(struct vault *v, const struct rotation_opts *o)
{
	struct found f = { NULL, 0, NULL, 0, 0 };
	char store[PATH_MAX];
	int r;

	if (!realpath(o->store, store))
		return -errno;
	r = vault_disk_list(v, &f.reg, &f.nreg);
	if (r < 0)
		return r;
	r = scan_dir(&f, store, 0);
	if (r == 0 && f.nput)
		r = vault_disk_put_many(v, f.put, f.nput);
	for (size_t i = 0; r == 0 && i < f.nput; i++)
		say(o, "disk %s: found in the store; entered in the registry",
		    f.put[i].path);
	if (r == 0)
		r = drop_gone(v, o, &f, store);
	free(f.reg);
	free(f.put);
	return r;
}

int rotation_run(struct vault *v, const struct rotation_opts *o,
		 struct rotation_result *res)
{
	int r, first;

	memset(res, 0, sizeof(*res));
	first = o->store ? adopt_moved(v, o) : 0;
	if (first < 0)
		say(o, "store %s: cannot look for moved disks: %s", o->store,
		    cli_strerror(first));
	r = apply_policies(v, o, res, time(NULL));
	if (r < 0 && !first)
		first = r;
	r = follow_keys(v, o, res);
	if (r < 0 && !first)
		first = r;
	r = rewrap_disks(v, o, res, NULL);
	if (r < 0 && !first)
		first = r;
	return first;
}

static void say_stdout(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

int rotation_apply_des(struct cli_ctx *ctx, struct vault *v,
		       const struct des *d)
{
	struct progress pg = { .on = cli_progress_on(ctx) };
	struct rotation_opts o = { .say = ctx->json ? NULL : say_stdout,
				   .progress = &pg };
	struct rotation_result res;
	int r;

	memset(&res, 0, sizeof(res));
	r = rewrap_disks(v, &o, &res, d->name);
	if (r < 0) {
		error("des %s: %u disk%s not re-wrapped: %s", d->name,
		      res.disks_failed, res.disks_failed == 1 ? "" : "s",
		      cli_strerror(r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
