/*
 * errors.h - what an errno means in ssefs, for the CLI's and the daemon's
 * messages
 */
#ifndef SSEFS_SVC_ERRORS_H
#define SSEFS_SVC_ERRORS_H

/*
 * svc_strerror() - strerror() with ssefs's own words for the errnos it
 * gives meaning to (EKEYREVOKED: "key has been revoked", EBADMSG: "no
 * valid header"...).  @err may be negative.  Return: a string that needs
 * no freeing.
 */
const char *svc_strerror(int err);

/* The same, but what @e says when it has more to say about @err (an hsm
 * key's token: "token tk1: wrong pin (from F)"); @e may be NULL.  The
 * string lives as long as @e. */
struct vault_err;
const char *svc_vault_strerror(const struct vault_err *e, int err);

#endif /* SSEFS_SVC_ERRORS_H */
