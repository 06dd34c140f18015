/* The request fields the unit tests of guarded changes (fs jobs, upload
 * commits) ask with: If-Match: if_match, or If-None-Match: "*" (create
 * only) when if_match is NULL. */
#ifndef TEST_PRECOND_FIELDS_H
#define TEST_PRECOND_FIELDS_H

#include "transfer/precond.h"

#include <string.h>

static inline xfer_precond_in_t precond_fields(const char *if_match)
{
	xfer_precond_in_t in;
	memset(&in, 0, sizeof(in));
	if (if_match)
		in.if_match = (wf_slice_t){ if_match, strlen(if_match) };
	else
		in.if_none_match = WF_SLICE("*");
	return in;
}

#endif
