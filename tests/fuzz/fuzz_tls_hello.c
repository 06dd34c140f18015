/* ClientHello signature algorithms: never reads outside its input, and
 * names no key kind but those certificates come in. */
#include "server/cert_key.h"
#include "server/tls_hello.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of its exact size, so a read past the end is caught. */
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	const unsigned known = WF_KEY_RSA | WF_KEY_EC;
	if (wf_tls_hello_keys(copy, size) & ~known)
		abort();
	if ((wf_tls_sigalgs_keys(copy, size, true) | wf_tls_sigalgs_keys(copy, size, false)) & ~known)
		abort();
	free(copy);
	return 0;
}
