/*
 * fuzz_envelope.c - libFuzzer target for the header decoder
 *
 * Feeds the input to env_decode() as copy 0 and as copy 1 (and, when at
 * least two copies long, its second half as copy 1), re-encodes whatever
 * decodes and checks that the round trip is exact.  `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *p, size_t n, unsigned int copy)
{
	struct env_header h;
	uint8_t out[ENV_COPY_BYTES];

	if (env_decode(&h, copy, p, n))
		return;
	/* a decoded header must encode back to the very same bytes */
	if (env_encode(&h, copy, out, sizeof(out)))
		abort();
	if (memcmp(out, p, ENV_COPY_BYTES))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, 0);
	one(data, size, 1);
	if (size >= 2 * ENV_COPY_BYTES)
		one(data + ENV_COPY_BYTES, size - ENV_COPY_BYTES, 1);
	return 0;
}
