/*
 * errors.c - ssefs's words for the errnos it gives meaning to
 */
#include <errno.h>
#include <string.h>

#include "keyvault/vault.h"
#include "svc/errors.h"

const char *svc_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case EKEYREVOKED:
		return "key has been revoked (disabled or deleted)";
	case EKEYEXPIRED:
		return "key has expired or is not yet valid";
	case ENOKEY:
		return "no such key or key version";
	case EBADMSG:
		return "no valid header (corrupt, or wrong key)";
	case EPROTONOSUPPORT:
		return "made by a newer ssefs (unknown format version or feature)";
	case EXDEV:
		return "belongs to another vault";
	case EUCLEAN:		/* VOL_EFOREIGN */
		return "header does not belong to this disk's data (its "
		       "footer does not carry the header's disk id: a header "
		       "copied from another disk?)";
	}
	return strerror(err);
}

const char *svc_vault_strerror(const struct vault_err *e, int err)
{
	if (err < 0)
		err = -err;
	/* An hsm key's token failed: say what it said ("token tk1: wrong
	 * pin (from F)") rather than a bare errno. */
	if (e && *e->why &&
	    (err == EACCES || err == EPERM || err == ENODEV || err == EIO ||
	     err == ENOKEY || err == ELIBBAD || err == ENOENT ||
	     err == EBADMSG))
		return e->why;
	return svc_strerror(err);
}
