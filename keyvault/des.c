/*
 * des.c - disk encryption sets, kept in DIR/des.yaml
 *
 * The file is a YAML mapping {version: 1, sets: [ {name: ..., ...}, ... ]}
 * written by us with every string double-quoted, read back with libyaml's
 * document API.  Writers take DIR/des.lock (flock) and replace the file
 * atomically; readers need no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <yaml.h>

#include "crypto/envelope.h"
#include "keyvault/des.h"
#include "util/io.h"
#include "util/json.h"
#include "util/parse.h"

#define DES_FILE	"des.yaml"
#define DES_LOCK	"des.lock"
#define DES_FILE_MAX	(16u << 20)

int des_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DES_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

void des_push_previous(struct des *d, const char *kid)
{
	if (!*kid || !strcmp(kid, d->active_kid))
		return;
	for (unsigned int i = 0; i < d->nprevious; i++)
		if (!strcmp(d->previous[i], kid))
			return;
	if (d->nprevious == DES_MAX_PREVIOUS) {
		memmove(d->previous[0], d->previous[1],
			sizeof(d->previous[0]) * (DES_MAX_PREVIOUS - 1));
		d->nprevious--;
	}
	snprintf(d->previous[d->nprevious++], sizeof(d->previous[0]), "%s",
		 kid);
}

void des_drop_previous(struct des *d, const char *kid)
{
	for (unsigned int i = 0; i < d->nprevious; i++) {
		if (strcmp(d->previous[i], kid))
			continue;
		memmove(d->previous[i], d->previous[i + 1],
			sizeof(d->previous[0]) * (d->nprevious - i - 1));
		d->nprevious--;
		return;
	}
}

void des_set_active(struct des *d, const char *kid)
{
	char old[sizeof(d->active_kid)];

	snprintf(old, sizeof(old), "%s", d->active_kid);
	snprintf(d->active_kid, sizeof(d->active_kid), "%s", kid);
	des_drop_previous(d, d->active_kid);	/* back to an older one */
	des_push_previous(d, old);
}

static int path_in(const char *dir, const char *file, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* --- reading ----------------------------------------------------------- */

static const char *scalar(yaml_document_t *doc, yaml_node_t *n)
{
	(void)doc;
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static int copy_str(char *dst, size_t len, const char *s)
{
	if (!s || strlen(s) >= len)
		return -EBADMSG;
	strcpy(dst, s);
	return 0;
}

static int copy_time(time_t *t, const char *s)
{
	if (!s)
		return -EBADMSG;
	if (!*s) {
		*t = 0;
		return 0;
	}
	return parse_time(s, t) < 0 ? -EBADMSG : 0;
}

static int read_set(yaml_document_t *doc, yaml_node_t *map, struct des *d)
{
	yaml_node_pair_t *p;
	int r = 0;

	if (map->type != YAML_MAPPING_NODE)
		return -EBADMSG;
	memset(d, 0, sizeof(*d));
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && r == 0; p++) {
		const char *k = scalar(doc, yaml_document_get_node(doc, p->key));
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		const char *v = scalar(doc, vn);

		if (!k)
			return -EBADMSG;
		if (!strcmp(k, "name"))
			r = copy_str(d->name, sizeof(d->name), v);
		else if (!strcmp(k, "key"))
			r = copy_str(d->key, sizeof(d->key), v);
		else if (!strcmp(k, "version"))
			r = copy_str(d->version, sizeof(d->version), v);
		else if (!strcmp(k, "activeKey"))
			r = copy_str(d->active_kid, sizeof(d->active_kid), v);
		else if (!strcmp(k, "encryptionType"))
			r = v && env_type_parse(v, &d->type) == 0 ? 0 : -EBADMSG;
		else if (!strcmp(k, "autoRotate"))
			r = v && parse_bool(v, &d->auto_rotate) == 0 ? 0 : -EBADMSG;
		else if (!strcmp(k, "created"))
			r = copy_time(&d->created, v);
		else if (!strcmp(k, "lastKeyRotation"))
			r = copy_time(&d->last_rotation, v);
		else if (!strcmp(k, "autoKeyRotationError"))
			r = copy_str(d->rotation_error,
				     sizeof(d->rotation_error), v);
		else if (!strcmp(k, "previousKeys")) {
			yaml_node_item_t *it;

			if (!vn || vn->type != YAML_SEQUENCE_NODE)
				return -EBADMSG;
			for (it = vn->data.sequence.items.start;
			     it < vn->data.sequence.items.top && r == 0; it++) {
				const char *kid = scalar(doc,
					yaml_document_get_node(doc, *it));

				if (d->nprevious == DES_MAX_PREVIOUS)
					return -EBADMSG;
				r = copy_str(d->previous[d->nprevious++],
					     sizeof(d->previous[0]), kid);
			}
		}
		/* unknown keys are kept out, not fatal: a newer ssefs may
		 * have added one */
	}
	if (r == 0 && (!des_valid_name(d->name) || !*d->key))
		r = -EBADMSG;
	return r;
}

static int cmp_des(const void *a, const void *b)
{
	return strcmp(((const struct des *)a)->name,
		      ((const struct des *)b)->name);
}

int des_list(const char *dir, struct des **out, size_t *n)
{
	char path[PATH_MAX], *text = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *sets = NULL;
	struct des *v = NULL;
	size_t len, count = 0;
	int r, have_doc = 0;

	*out = NULL;
	*n = 0;
	r = path_in(dir, DES_FILE, path, sizeof(path));
	if (r < 0)
		return r;
	r = io_read_file(path, DES_FILE_MAX, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = -EBADMSG;
		goto out;
	}
	have_doc = 1;
	root = yaml_document_get_root_node(&doc);
	if (!root) {		/* empty file: no sets */
		r = 0;
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		r = -EBADMSG;
		goto out;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		const char *k = scalar(&doc, yaml_document_get_node(&doc, p->key));

		if (k && !strcmp(k, "sets"))
			sets = yaml_document_get_node(&doc, p->value);
	}
	/* none, or "sets:" with nothing after it (as earlier builds wrote
	 * the file once its last set was deleted) */
	if (!sets || (sets->type == YAML_SCALAR_NODE &&
		      (!sets->data.scalar.length ||
		       !strcmp((const char *)sets->data.scalar.value, "~") ||
		       !strcmp((const char *)sets->data.scalar.value,
			       "null")))) {
		r = 0;
		goto out;
	}
	if (sets->type != YAML_SEQUENCE_NODE) {
		r = -EBADMSG;
		goto out;
	}
	len = (size_t)(sets->data.sequence.items.top -
		       sets->data.sequence.items.start);
	v = calloc(len ? len : 1, sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	for (yaml_node_item_t *it = sets->data.sequence.items.start;
	     it < sets->data.sequence.items.top; it++) {
		r = read_set(&doc, yaml_document_get_node(&doc, *it),
			     &v[count]);
		if (r < 0)
			goto out;
		count++;
	}
	qsort(v, count, sizeof(*v), cmp_des);
	*out = v;
	*n = count;
	v = NULL;
	r = 0;
out:
	free(v);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(text);
	return r;
}

int des_get(const char *dir, const char *name, struct des *out)
{
	struct des *v;
	size_t n;
	int r;

	r = des_list(dir, &v, &n);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v[i].name, name)) {
			*out = v[i];
			r = 0;
			break;
		}
	}
	free(v);
	return r;
}

/* --- writing ----------------------------------------------------------- */

static void put_str(FILE *f, const char *key, const char *val)
{
	fprintf(f, "    %s: ", key);
	json_write_string(f, val);	/* a JSON string is a YAML scalar */
	fputc('\n', f);
}

static void put_time(FILE *f, const char *key, time_t t)
{
	char buf[32] = "";

	if (t)
		format_time(t, buf, sizeof(buf));
	put_str(f, key, buf);
}

static int write_all_sets(const char *dir, const struct des *v, size_t n)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	r = path_in(dir, DES_FILE, path, sizeof(path));
	if (r < 0)
		return r;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	/* "sets:" alone would be a null, not an empty list */
	fprintf(f, "# ssefs disk encryption sets; written by ssefs, "
		   "see ssefs-des(1)\nversion: 1\nsets:%s\n", n ? "" : " []");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  -\n");
		put_str(f, "name", v[i].name);
		put_str(f, "key", v[i].key);
		put_str(f, "version", v[i].version);
		put_str(f, "activeKey", v[i].active_kid);
		fprintf(f, "    previousKeys: [");
		for (unsigned int j = 0; j < v[i].nprevious; j++) {
			if (j)
				fputs(", ", f);
			json_write_string(f, v[i].previous[j]);
		}
		fprintf(f, "]\n");
		put_str(f, "encryptionType", env_type_name(v[i].type));
		put_str(f, "autoRotate", v[i].auto_rotate ? "true" : "false");
		put_time(f, "created", v[i].created);
		put_time(f, "lastKeyRotation", v[i].last_rotation);
		put_str(f, "autoKeyRotationError", v[i].rotation_error);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	r = io_write_atomic(path, buf, len, 0600);
	free(buf);
	return r;
}

static int lock_sets(const char *dir)
{
	char path[PATH_MAX];
	int fd, r;

	r = path_in(dir, DES_LOCK, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			close(fd);
			return r;
		}
	}
	return fd;
}

enum change { CHANGE_CREATE, CHANGE_REPLACE, CHANGE_DELETE, CHANGE_MODIFY };

static int change_sets(const char *dir, enum change what, const char *name,
		       const struct des *d,
		       int (*fn)(struct des *, void *), void *arg)
{
	struct des *v = NULL, *nv;
	size_t n = 0, i;
	int lock, r;

	lock = lock_sets(dir);
	if (lock < 0)
		return lock;
	r = des_list(dir, &v, &n);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			break;
	if (what == CHANGE_CREATE) {
		if (i < n) {
			r = -EEXIST;
			goto out;
		}
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			r = -ENOMEM;
			goto out;
		}
		v = nv;
		v[n++] = *d;
	} else if (i == n) {
		r = -ENOENT;
		goto out;
	} else if (what == CHANGE_REPLACE) {
		v[i] = *d;
	} else if (what == CHANGE_DELETE) {
		memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
		n--;
	} else {
		r = fn(&v[i], arg);
		if (r < 0)
			goto out;
		if (strcmp(v[i].name, name)) {	/* no renames this way */
			r = -EINVAL;
			goto out;
		}
	}
	qsort(v, n, sizeof(*v), cmp_des);
	r = write_all_sets(dir, v, n);
out:
	free(v);
	close(lock);
	return r;
}

int des_create(const char *dir, const struct des *d)
{
	if (!des_valid_name(d->name) || !*d->key)
		return -EINVAL;
	return change_sets(dir, CHANGE_CREATE, d->name, d, NULL, NULL);
}

int des_replace(const char *dir, const struct des *d)
{
	return change_sets(dir, CHANGE_REPLACE, d->name, d, NULL, NULL);
}

int des_delete(const char *dir, const char *name)
{
	return change_sets(dir, CHANGE_DELETE, name, NULL, NULL, NULL);
}

int des_modify(const char *dir, const char *name,
	       int (*fn)(struct des *d, void *arg), void *arg)
{
	return change_sets(dir, CHANGE_MODIFY, name, NULL, fn, arg);
}
