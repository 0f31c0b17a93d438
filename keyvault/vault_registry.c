/*
 * vault_registry.c - the registry of disks: UUID -> path, DES, kid
 *
 * Kept in the metadata ("disk" lines) and changed under the exclusive
 * lock like any other record; each change is audited.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "keyvault/vault_priv.h"

int vault_disk_valid(const struct vault_disk *d)
{
	return !strchr(d->path, '\n') && !strchr(d->des, ' ') &&
	       !strchr(d->kid, ' ') && *d->uuid && !strchr(d->uuid, ' ');
}

int vault_disk_put_many(struct vault *v, const struct vault_disk *d,
			size_t n)
{
	struct vault_disk *g;
	size_t i, k;
	int err;

	for (k = 0; k < n; k++)
		if (!vault_disk_valid(&d[k]))
			return -EINVAL;
	if (!n)
		return 0;
	err = vault_begin(v, LOCK_EX);
	if (err)
		return err;
	for (k = 0; k < n; k++) {
		for (i = 0; i < v->ndisks; i++)
			if (!strcmp(v->disks[i].uuid, d[k].uuid))
				break;
		if (i == v->ndisks) {
			g = vault_grow(v->disks, v->ndisks, sizeof(*g));
			if (!g)
				return vault_refuse(v, "disk-put", d[k].kid,
						    -ENOMEM);
			v->disks = g;
			v->ndisks++;
		}
		v->disks[i] = d[k];
	}
	/* One record per disk, one flush for them all. */
	for (k = 0; !err && k + 1 < n; k++)
		err = vault_audit_write(v, "disk-put",
					*d[k].kid ? d[k].kid : NULL, 0, NULL);
	if (err) {
		vault_end(v);
		return err;
	}
	return vault_commit(v, "disk-put", *d[n - 1].kid ? d[n - 1].kid : NULL);
}

int vault_disk_put(struct vault *v, const struct vault_disk *d)
{
	return vault_disk_put_many(v, d, 1);
}

int vault_disk_del(struct vault *v, const char *uuid)
{
	size_t i;
	int err = vault_begin(v, LOCK_EX);

	if (err)
		return err;
	for (i = 0; i < v->ndisks; i++)
		if (!strcmp(v->disks[i].uuid, uuid))
			break;
	if (i == v->ndisks)
		return vault_refuse(v, "disk-del", NULL, -ENOENT);
	v->disks[i] = v->disks[--v->ndisks];
	return vault_commit(v, "disk-del", NULL);
}

int vault_disk_list(struct vault *v, struct vault_disk **out, size_t *n)
{
	struct vault_disk *d;
	int err = vault_begin(v, LOCK_SH);

	if (err)
		return err;
	d = calloc(v->ndisks ? v->ndisks : 1, sizeof(*d));
	if (d && v->ndisks)
		memcpy(d, v->disks, v->ndisks * sizeof(*d));
	*n = v->ndisks;
	vault_end(v);
	if (!d)
		return -ENOMEM;
	*out = d;
	return 0;
}
