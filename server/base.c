/* Slice helpers: the few comparisons every parser needs. */
#include "base.h"

#include <string.h>
#include <strings.h>

/* n == 0 never reaches the compare: an empty slice may have a NULL ptr. */
int wf_slice_eq_ci(wf_slice_t s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && (n == 0 || strncasecmp(s.ptr, lit, n) == 0);
}

int wf_slice_eq(wf_slice_t s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

wf_slice_t wf_slice_trim(wf_slice_t s)
{
	while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
		s.ptr++;
		s.len--;
	}
	while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
		s.len--;
	return s;
}
