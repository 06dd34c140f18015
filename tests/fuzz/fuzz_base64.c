/* The base64 decoder (Basic auth and JOSE): never writes past its output,
 * and whatever it accepts, re-encoding gives back the same text; the
 * encoder (CSP hashes) writes exactly its length, and its text decodes to
 * the same bytes. */
#include "server/base64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool url = data[0] & 1;
	size_t cap = data[0] >> 1;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	char *copy = malloc(len ? len : 1);
	memcpy(copy, in, len);
	unsigned char *out = malloc(cap ? cap : 1);
	ssize_t n = wf_base64_decode((wf_slice_t){ copy, len }, out, cap, url);
	if (n > (ssize_t)cap)
		abort();
	if (n >= 0) {
		/* Canonical: encoding the bytes again spells the input (without padding). */
		const char *a = url ? url_alpha : std_alpha;
		size_t plen = len;
		while (plen && copy[plen - 1] == '=')
			plen--;
		char *enc = malloc((size_t)n / 3 * 4 + 8);
		size_t k = 0;
		for (ssize_t i = 0; i < n; i += 3) {
			uint32_t v = (uint32_t)out[i] << 16 | (i + 1 < n ? (uint32_t)out[i + 1] << 8 : 0) |
				     (i + 2 < n ? out[i + 2] : 0);
			enc[k++] = a[v >> 18];
			enc[k++] = a[(v >> 12) & 63];
			if (i + 1 < n)
				enc[k++] = a[(v >> 6) & 63];
			if (i + 2 < n)
				enc[k++] = a[v & 63];
		}
		if (k != plen || memcmp(enc, copy, k) != 0)
			abort();
		free(enc);
		size_t elen = ((size_t)n + 2) / 3 * 4;
		char *e = malloc(elen + 1);
		unsigned char *back = malloc((size_t)n + 1);
		if (wf_base64_encode(out, (size_t)n, e, elen) != -1 ||
		    wf_base64_encode(out, (size_t)n, e, elen + 1) != (ssize_t)elen || e[elen] != '\0' ||
		    wf_base64_decode((wf_slice_t){ e, elen }, back, (size_t)n, false) != n ||
		    memcmp(back, out, (size_t)n) != 0)
			abort();
		free(back);
		free(e);
	}
	free(out);
	free(copy);
	return 0;
}
