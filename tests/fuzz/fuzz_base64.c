/* Base64 decoder used for Basic auth: never writes past its output, and
 * decoding is deterministic in length. */
#include "transfer/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	size_t cap = size % 64;
	char *out = malloc(cap ? cap : 1);
	ssize_t n = xfer_base64_decode((wf_slice_t){ copy, size }, out, cap);
	if (n > (ssize_t)cap || (n >= 0 && size % 4 != 0))
		abort();
	if (n >= 0 && (size_t)n > size / 4 * 3)
		abort();
	free(out);
	free(copy);
	return 0;
}
