/*
 * registry.c - a disk's record in the vault's registry
 */
#include <stdio.h>
#include <string.h>

#include "crypto/envelope.h"
#include "keyvault/vault.h"
#include "svc/registry.h"
#include "util/parse.h"

void registry_entry(struct vault_disk *d, const struct env_header *h,
		    const char *path)
{
	memset(d, 0, sizeof(*d));
	format_uuid(h->uuid, d->uuid);
	snprintf(d->path, sizeof(d->path), "%s", path ? path : "");
	snprintf(d->des, sizeof(d->des), "%s", h->des);
	snprintf(d->kid, sizeof(d->kid), "%s", h->layer[0].kid);
}
