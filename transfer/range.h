/* Range header (RFC 9110 14.2): pure parser. */
#ifndef XFER_RANGE_H
#define XFER_RANGE_H

#include "../server/base.h"

enum {
	XFER_RANGE_OK = 0,              /* one satisfiable range: *start, *len set (206) */
	XFER_RANGE_IGNORE = 1,          /* not a bytes range we serve (bad syntax, other unit,
					   several ranges): serve the whole file (200) */
	XFER_RANGE_UNSATISFIABLE = 2,   /* syntactically fine, no byte of it exists: 416 */
};

/* Parses "bytes=a-b", "bytes=a-", "bytes=-n" against a representation of `size`
 * bytes. Several ranges ("bytes=0-1,5-6") give XFER_RANGE_IGNORE: serving the
 * full representation is always allowed, and multipart/byteranges is rarely
 * worth its cost. An end beyond size is clipped to size-1.
 * The unit is case-insensitive, OWS around the range is allowed, none inside.
 * "a-b" with b < a is invalid syntax (IGNORE); "-0", and any range of an
 * empty representation, are UNSATISFIABLE. Positions too big for 64 bits
 * saturate (so "0-99999999999999999999" is the whole file). *start and *len
 * are written only for XFER_RANGE_OK. */
int xfer_range_parse(wf_slice_t value, uint64_t size, uint64_t *start, uint64_t *len);

#endif
