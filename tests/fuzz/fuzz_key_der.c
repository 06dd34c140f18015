/* The EC private key rewriter (pem_export.h): never reads or writes out of
 * bounds, and what it returns is already right: a second pass copies it as
 * it is. The first input octet picks the curve size. */
#include "server/pem_export.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t fields[] = { 32, 48, 66, 1 };
	if (size < 1)
		return 0;
	size_t field_len = fields[data[0] & 3];
	char *copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	wf_buf_t once, twice;
	wf_buf_init(&once, 1 << 20);
	wf_buf_init(&twice, 1 << 20);
	if (wf_key_der_fix_ec((wf_slice_t){ copy, size - 1 }, field_len, &once) == WF_OK) {
		if (wf_key_der_fix_ec(wf_buf_slice(&once), field_len, &twice) != WF_OK ||
		    wf_buf_size(&once) != wf_buf_size(&twice) ||
		    memcmp(wf_buf_head(&once), wf_buf_head(&twice), wf_buf_size(&once)) != 0)
			abort();
	} else if (wf_buf_size(&once) != 0) {
		abort();
	}
	wf_buf_fini(&once);
	wf_buf_fini(&twice);
	free(copy);
	return 0;
}
