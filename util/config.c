/*
 * config.c - the YAML configuration file (ssefs-config(5)) through libyaml
 *
 * The file is loaded as one libyaml document and walked against a fixed
 * schema.  libyaml neither rejects duplicate mapping keys nor knows our
 * schema, so both are checked here; every error names the node's position
 * (libyaml marks are 0-based, messages are 1-based).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "util/config.h"

struct kv {
	char *key;
	char *val;
	size_t key_line, key_col;	/* 1-based, for errors */
	size_t val_line, val_col;
};

struct kvlist {
	struct kv *v;
	size_t n;
};

struct store_ent {
	char *path;
	struct kvlist opts;
};

struct config {
	char *path;		/* the file, for config_check_mount_options() */
	char *vault_dir;
	char *vault_keyfile;
	char *passphrase_file;
	char *store;
	char *notify;
	struct kvlist mount;
	struct store_ent *stores;
	size_t nstores;
};

struct loader {
	const char *path;
	yaml_document_t *doc;
	struct config *cfg;
	char *err;
	size_t errlen;
};

static int fail_at(struct loader *l, const yaml_node_t *n, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static int fail_at(struct loader *l, const yaml_node_t *n, const char *fmt,
		   ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s:%zu:%zu: %s", l->path,
		 n->start_mark.line + 1, n->start_mark.column + 1, why);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* Keys of a mapping must be scalars and unique. */
static int check_keys(struct loader *l, yaml_node_t *map)
{
	yaml_node_pair_t *p, *q;

	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);

		if (!k || k->type != YAML_SCALAR_NODE)
			return fail_at(l, k ? k : map,
				       "a key must be a plain string");
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *o = yaml_document_get_node(l->doc,
								q->key);

			if (!strcmp(scalar(o), scalar(k)))
				return fail_at(l, k, "duplicate key '%s'",
					       scalar(k));
		}
	}
	return 0;
}

static int want_map(struct loader *l, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail_at(l, n, "'%s' must be a mapping", what);
	return check_keys(l, n);
}

static int take_string(struct loader *l, yaml_node_t *n, const char *what,
		       char **dst)
{
	if (n->type != YAML_SCALAR_NODE)
		return fail_at(l, n, "'%s' must be a string", what);
	if (!*scalar(n))
		return fail_at(l, n, "'%s' must not be empty", what);
	free(*dst);
	*dst = strdup(scalar(n));
	return *dst ? 0 : -ENOMEM;
}

static void kvlist_free(struct kvlist *kl)
{
	for (size_t i = 0; i < kl->n; i++) {
		free(kl->v[i].key);
		free(kl->v[i].val);
	}
	free(kl->v);
	kl->v = NULL;
	kl->n = 0;
}

/* A map of mount option -> scalar value, joined later as "k=v,k=v". */
static int load_options(struct loader *l, yaml_node_t *map, const char *what,
			struct kvlist *kl)
{
	yaml_node_pair_t *p;
	size_t n;
	int r;

	r = want_map(l, map, what);
	if (r)
		return r;
	n = (size_t)(map->data.mapping.pairs.top -
		     map->data.mapping.pairs.start);
	kl->v = calloc(n ? n : 1, sizeof(*kl->v));
	if (!kl->v)
		return -ENOMEM;
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
		struct kv *e = &kl->v[kl->n];

		if (!*scalar(k) || strpbrk(scalar(k), ",= \t"))
			return fail_at(l, k, "bad mount option name '%s'",
				       scalar(k));
		if (v->type != YAML_SCALAR_NODE)
			return fail_at(l, v, "mount option '%s' must be a "
				       "single value", scalar(k));
		if (strchr(scalar(v), ','))
			return fail_at(l, v, "mount option '%s' must not "
				       "contain ','", scalar(k));
		e->key = strdup(scalar(k));
		e->val = strdup(scalar(v));
		e->key_line = k->start_mark.line + 1;
		e->key_col = k->start_mark.column + 1;
		e->val_line = v->start_mark.line + 1;
		e->val_col = v->start_mark.column + 1;
		kl->n++;
		if (!e->key || !e->val)
			return -ENOMEM;
	}
	return 0;
}

static int load_vault(struct loader *l, yaml_node_t *map)
{
	yaml_node_pair_t *p;
	int r;

	r = want_map(l, map, "vault");
	if (r)
		return r;
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
		const char *key = scalar(k);

		if (!strcmp(key, "dir"))
			r = take_string(l, v, "vault.dir", &l->cfg->vault_dir);
		else if (!strcmp(key, "keyfile"))
			r = take_string(l, v, "vault.keyfile",
					&l->cfg->vault_keyfile);
		else if (!strcmp(key, "passphrase_file"))
			r = take_string(l, v, "vault.passphrase_file",
					&l->cfg->passphrase_file);
		else
			r = fail_at(l, k, "unknown key 'vault.%s'", key);
		if (r)
			return r;
	}
	return 0;
}

static int load_stores(struct loader *l, yaml_node_t *map)
{
	yaml_node_pair_t *p;
	size_t n;
	int r;

	r = want_map(l, map, "stores");
	if (r)
		return r;
	n = (size_t)(map->data.mapping.pairs.top -
		     map->data.mapping.pairs.start);
	l->cfg->stores = calloc(n ? n : 1, sizeof(*l->cfg->stores));
	if (!l->cfg->stores)
		return -ENOMEM;
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
		struct store_ent *e = &l->cfg->stores[l->cfg->nstores];

		if (!*scalar(k))
			return fail_at(l, k, "a store path must not be empty");
		e->path = strdup(scalar(k));
		l->cfg->nstores++;
		if (!e->path)
			return -ENOMEM;
		r = load_options(l, v, "stores.<path>", &e->opts);
		if (r)
			return r;
	}
	return 0;
}

static int load_root(struct loader *l, yaml_node_t *root)
{
	yaml_node_pair_t *p;
	int r;

	if (root->type != YAML_MAPPING_NODE)
		return fail_at(l, root, "the file must be a mapping");
	r = check_keys(l, root);
	if (r)
		return r;
	for (p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
		const char *key = scalar(k);

		if (!strcmp(key, "vault"))
			r = load_vault(l, v);
		else if (!strcmp(key, "store"))
			r = take_string(l, v, "store", &l->cfg->store);
		else if (!strcmp(key, "notify"))
			r = take_string(l, v, "notify", &l->cfg->notify);
		else if (!strcmp(key, "mount"))
			r = load_options(l, v, "mount", &l->cfg->mount);
		else if (!strcmp(key, "stores"))
			r = load_stores(l, v);
		else
			r = fail_at(l, k, "unknown key '%s'", key);
		if (r)
			return r;
	}
	return 0;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->vault_dir);
	free(cfg->vault_keyfile);
	free(cfg->passphrase_file);
	free(cfg->store);
	free(cfg->notify);
	kvlist_free(&cfg->mount);
	for (size_t i = 0; i < cfg->nstores; i++) {
		free(cfg->stores[i].path);
		kvlist_free(&cfg->stores[i].opts);
	}
	free(cfg->stores);
	free(cfg);
}

/*
 * What follows the first document ("---" and more keys) would be ignored
 * by libyaml's loader without a word: refuse it, at its position.
 */
static int no_second_document(yaml_parser_t *parser, const char *path,
			      char *err, size_t errlen)
{
	yaml_document_t next;
	yaml_node_t *root;
	int r = 0;

	if (!yaml_parser_load(parser, &next)) {
		const yaml_mark_t *m = parser->problem ? &parser->problem_mark :
							 &parser->mark;

		snprintf(err, errlen, "%s:%zu:%zu: %s", path, m->line + 1,
			 m->column + 1, parser->problem ? parser->problem :
			 "malformed YAML");
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&next);
	/* an empty one ("---" at the end) holds nothing to ignore */
	if (root && !(root->type == YAML_SCALAR_NODE &&
		      !root->data.scalar.length)) {
		snprintf(err, errlen, "%s:%zu:%zu: a second YAML document (the "
			 "file holds one)", path, root->start_mark.line + 1,
			 root->start_mark.column + 1);
		r = -EINVAL;
	}
	yaml_document_delete(&next);
	return r;
}

int config_load(struct config **out, const char *path, char *err,
		size_t errlen)
{
	struct loader l = { .path = path, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct config *cfg;
	struct stat st;
	int have_doc = 0;
	FILE *f;
	int r;

	if (errlen)
		err[0] = '\0';
	f = fopen(path, "re");
	if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		f = NULL;
		errno = EISDIR;
	}
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg)
		cfg->path = strdup(path);
	if (!cfg || !cfg->path || !yaml_parser_initialize(&parser)) {
		config_free(cfg);
		fclose(f);
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		const yaml_mark_t *m = parser.problem ? &parser.problem_mark :
							&parser.mark;

		snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", path,
			 m->line + 1, m->column + 1,
			 parser.problem ? parser.problem : "malformed YAML",
			 parser.context ? " " : "",
			 parser.context ? parser.context : "");
		r = -EINVAL;
		goto fail;
	}
	have_doc = 1;
	l.doc = &doc;
	l.cfg = cfg;
	root = yaml_document_get_root_node(&doc);
	r = root ? load_root(&l, root) : 0;	/* an empty file is fine */
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
	if (r)
		goto fail;
	r = no_second_document(&parser, path, err, errlen);
	if (r)
		goto fail;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	*out = cfg;
	return 0;
fail:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	config_free(cfg);
	return r;
}

/* One section's options through @check; the first bad one in @err. */
static int check_options(const struct config *cfg, const struct kvlist *kl,
			 const char *section, config_opt_check_fn check,
			 char *err, size_t errlen)
{
	char why[512];

	for (size_t i = 0; i < kl->n; i++) {
		const struct kv *e = &kl->v[i];
		int r = check(e->key, e->val, why, sizeof(why));

		if (r == -ENOENT) {
			snprintf(err, errlen, "%s:%zu:%zu: unknown key '%s%s' "
				 "(not a mount option)", cfg->path, e->key_line,
				 e->key_col, section, e->key);
			return r;
		}
		if (r < 0) {
			snprintf(err, errlen, "%s:%zu:%zu: %s", cfg->path,
				 e->val_line, e->val_col, why);
			return r;
		}
	}
	return 0;
}

int config_check_mount_options(const struct config *cfg,
			       config_opt_check_fn check, char *err,
			       size_t errlen)
{
	int r;

	if (!cfg)
		return 0;
	r = check_options(cfg, &cfg->mount, "mount.", check, err, errlen);
	for (size_t i = 0; !r && i < cfg->nstores; i++)
		r = check_options(cfg, &cfg->stores[i].opts, "", check, err,
				  errlen);
	return r;
}

const char *config_vault_dir(const struct config *cfg)
{
	return cfg ? cfg->vault_dir : NULL;
}

const char *config_vault_keyfile(const struct config *cfg)
{
	return cfg ? cfg->vault_keyfile : NULL;
}

const char *config_passphrase_file(const struct config *cfg)
{
	return cfg ? cfg->passphrase_file : NULL;
}

const char *config_default_store(const struct config *cfg)
{
	return cfg ? cfg->store : NULL;
}

const char *config_notify(const struct config *cfg)
{
	return cfg ? cfg->notify : NULL;
}

static int is_url(const char *s)
{
	return !strncasecmp(s, "https://", 8) || !strncasecmp(s, "http://", 7);
}

/* Two container URLs name the same store: scheme and host in any case,
 * the path exactly, trailing slashes aside. */
static int same_url(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), host;
	const char *pa;

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	if (la != lb)
		return 0;
	pa = strstr(a, "://");
	pa = pa ? strchr(pa + 3, '/') : NULL;
	host = pa ? (size_t)(pa - a) : la;
	return !strncasecmp(a, b, host) && !strncmp(a + host, b + host,
						      la - host);
}

/* Same store: URLs as same_url() says; both realpaths when both
 * resolve, else the strings. */
static int same_store(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (is_url(a) || is_url(b))
		return is_url(a) && is_url(b) && same_url(a, b);
	if (realpath(a, ra) && realpath(b, rb))
		return !strcmp(ra, rb);
	return !strcmp(a, b);
}

/* Set @e's key in @m (@n entries so far), replacing an earlier value. */
static void merge(const struct kv **m, size_t *n, const struct kv *e)
{
	for (size_t i = 0; i < *n; i++) {
		if (!strcmp(m[i]->key, e->key)) {
			m[i] = e;
			return;
		}
	}
	m[(*n)++] = e;
}

int config_mount_options(const struct config *cfg, const char *store,
			 char *buf, size_t len)
{
	const struct store_ent *se = NULL;
	const struct kv **m;
	size_t n = 0, cap, used = 0;
	int r = 0;

	if (len)
		buf[0] = '\0';
	if (!cfg)
		return 0;
	for (size_t i = 0; store && i < cfg->nstores; i++)
		if (same_store(cfg->stores[i].path, store))
			se = &cfg->stores[i];
	cap = cfg->mount.n + (se ? se->opts.n : 0);
	m = calloc(cap ? cap : 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->mount.n; i++)
		merge(m, &n, &cfg->mount.v[i]);
	for (size_t i = 0; se && i < se->opts.n; i++)
		merge(m, &n, &se->opts.v[i]);
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + used, len - used, "%s%s=%s",
				 i ? "," : "", m[i]->key, m[i]->val);

		if (w < 0 || (size_t)w >= len - used) {
			r = -ENAMETOOLONG;
			break;
		}
		used += (size_t)w;
	}
	free(m);
	if (r && len)
		buf[0] = '\0';
	return r;
}
