/* Range header parser: see range.h. When in doubt it answers IGNORE, since a
 * full 200 response is always correct and a wrong 206 or 416 is not. */
#include "range.h"

#include <strings.h>

/* Decimal digits, saturating at UINT64_MAX: a position too large to hold is
 * still a well-formed position, just one beyond any file. Returns the number
 * of digits read. */
static size_t parse_pos(const char **pp, const char *end, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		p++;
	}
	size_t n = (size_t)(p - *pp);
	*pp = p;
	*out = v;
	return n;
}

int xfer_range_parse(wf_slice_t value, uint64_t size, uint64_t *start, uint64_t *len)
{
	wf_slice_t v = wf_slice_trim(value);
	/* Range units compare case-insensitively (RFC 9110 14.1). */
	if (v.len < 6 || strncasecmp(v.ptr, "bytes=", 6) != 0)
		return XFER_RANGE_IGNORE;
	const char *p = v.ptr + 6, *end = v.ptr + v.len;
	/* A comma means several ranges, or an empty list element: either way
	 * not the single range we serve. */
	for (const char *q = p; q < end; q++)
		if (*q == ',')
			return XFER_RANGE_IGNORE;
	/* OWS may surround a list element (RFC 9110 5.6.1); inside one, none. */
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;

	uint64_t first, last;
	if (p < end && *p == '-') {
		p++;
		if (!parse_pos(&p, end, &last) || p != end)
			return XFER_RANGE_IGNORE;
		/* suffix-length 0 selects no byte; neither does anything of an
		 * empty file. */
		if (last == 0 || size == 0)
			return XFER_RANGE_UNSATISFIABLE;
		if (last > size)
			last = size;
		*start = size - last;
		*len = last;
		return XFER_RANGE_OK;
	}

	if (!parse_pos(&p, end, &first) || p == end || *p != '-')
		return XFER_RANGE_IGNORE;
	p++;
	int have_last = p < end;
	if (have_last && (!parse_pos(&p, end, &last) || p != end))
		return XFER_RANGE_IGNORE;
	/* RFC 9110 14.1.1: last < first makes the range invalid, so the whole
	 * header is ignored rather than answered with 416. */
	if (have_last && last < first)
		return XFER_RANGE_IGNORE;
	if (first >= size)
		return XFER_RANGE_UNSATISFIABLE;
	if (!have_last || last > size - 1)
		last = size - 1;
	*start = first;
	*len = last - first + 1;
	return XFER_RANGE_OK;
}
