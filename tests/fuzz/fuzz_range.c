/* Range header parser: never reads outside its input; an OK result always
 * describes bytes that exist. */
#include "transfer/range.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	uint64_t file_size;
	memcpy(&file_size, data, 8);
	file_size %= (uint64_t)1 << 50;
	char *copy = malloc(size - 8 + 1);
	memcpy(copy, data + 8, size - 8);
	uint64_t start = 0, len = 0;
	int r = xfer_range_parse((wf_slice_t){ copy, size - 8 }, file_size, &start, &len);
	if (r == XFER_RANGE_OK && (len == 0 || start >= file_size || len > file_size - start))
		abort();
	if (r != XFER_RANGE_OK && r != XFER_RANGE_IGNORE && r != XFER_RANGE_UNSATISFIABLE)
		abort();
	free(copy);
	return 0;
}
