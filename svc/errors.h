/*
 * errors.h - what an errno means in ssefs, for the CLI's and the daemon's
 * messages
 */
#ifndef SSEFS_SVC_ERRORS_H
#define SSEFS_SVC_ERRORS_H

/*
 * svc_strerror() - strerror() with ssefs's own words for the errnos it
 * gives meaning to (EKEYREVOKED: "key has been revoked", EBADMSG: "no
 * valid header"...); for an hsm key's token error, what the token said.
 * @err may be negative.  Return: a string that needs no freeing.
 */
const char *svc_strerror(int err);

#endif /* SSEFS_SVC_ERRORS_H */
