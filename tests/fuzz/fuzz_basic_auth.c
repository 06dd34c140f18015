/* The HTTP Basic credentials splitter: never writes past either buffer, and
 * what it accepts is exactly "user:pass" of the decoded value, both
 * NUL-terminated, with no NUL inside. */
#include "transfer/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* The first two bytes pick the buffer sizes, so short buffers get tried. */
	size_t ucap = (size_t)data[0] % 80 + 1, pcap = (size_t)data[1] % 80 + 1;
	char *in = malloc(size - 2 ? size - 2 : 1);
	memcpy(in, data + 2, size - 2);
	char *user = malloc(ucap), *pass = malloc(pcap);
	if (xfer_auth_parse_basic((wf_slice_t){ in, size - 2 }, user, ucap, pass, pcap) == WF_OK) {
		size_t ul = strnlen(user, ucap), pl = strnlen(pass, pcap);
		if (ul == ucap || pl == pcap || strchr(user, ':'))
			abort();
	}
	free(user);
	free(pass);
	free(in);
	return 0;
}
