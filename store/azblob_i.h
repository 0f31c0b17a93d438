/*
 * azblob_i.h - private to store/: helpers the client and the XML share
 */
#ifndef SSEFS_STORE_AZBLOB_I_H
#define SSEFS_STORE_AZBLOB_I_H

#include <stddef.h>

#include "store/azblob.h"

/* "leased", "broken", ... of @len bytes; unknown is AVAILABLE. */
enum azb_lease_state azb_lease_state_parse(const char *s, size_t len);

#endif /* SSEFS_STORE_AZBLOB_I_H */
