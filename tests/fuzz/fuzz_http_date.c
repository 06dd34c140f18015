/* HTTP date parser: never reads outside its input, and whatever it accepts
 * formats back to a date that parses to the same time. */
#include "transfer/http_date.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	time_t t;
	if (xfer_http_date_parse((wf_slice_t){ copy, size }, &t) == WF_OK && t >= 0 && t < 253402300800) {
		char out[XFER_HTTP_DATE_LEN];
		xfer_http_date_format(t, out);
		time_t back;
		if (xfer_http_date_parse((wf_slice_t){ out, strlen(out) }, &back) != WF_OK || back != t)
			abort();
	}
	free(copy);
	return 0;
}
