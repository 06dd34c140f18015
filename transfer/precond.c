/* Conditional requests: see precond.h. */
#include "precond.h"
#include "etag.h"
#include "http_date.h"

#include <stdlib.h>
#include <string.h>

xfer_precond_result_t xfer_precond_eval(const xfer_precond_in_t *in, const struct stat *st, bool read)
{
	bool file = st && S_ISREG(st->st_mode);
	char etag[XFER_ETAG_MAX];
	if (file)
		xfer_etag_make(st, etag);
	time_t t;
	/* 1. If-Match: "*" wants the target to exist, a list its very tag. */
	if (in->if_match.ptr) {
		int m = xfer_etag_list_match(in->if_match, file ? etag : NULL, true);
		bool holds = m == XFER_ETAG_ANY ? st != NULL : m == XFER_ETAG_MATCH;
		if (!holds && !(read && m == XFER_ETAG_MALFORMED))
			return XFER_PRECOND_FAILED;
	} else if (in->if_unmodified_since.ptr && file &&
		   xfer_http_date_parse(in->if_unmodified_since, &t) == WF_OK) {
		/* 2. If-Unmodified-Since, without If-Match. */
		if (st->st_mtime > t)
			return XFER_PRECOND_FAILED;
	}
	/* 3. If-None-Match: "*" wants nothing there, a list another tag. */
	if (in->if_none_match.ptr) {
		int m = xfer_etag_list_match(in->if_none_match, file ? etag : NULL, false);
		if (m == XFER_ETAG_MALFORMED)
			return read ? XFER_PRECOND_PASS : XFER_PRECOND_FAILED;
		bool holds = m == XFER_ETAG_ANY ? st == NULL : m == XFER_ETAG_NO_MATCH;
		if (!holds)
			return read ? XFER_PRECOND_NOT_MODIFIED : XFER_PRECOND_FAILED;
	} else if (read && in->if_modified_since.ptr && file &&
		   xfer_http_date_parse(in->if_modified_since, &t) == WF_OK) {
		/* 4. If-Modified-Since, for a read without If-None-Match. */
		if (st->st_mtime <= t)
			return XFER_PRECOND_NOT_MODIFIED;
	}
	return XFER_PRECOND_PASS;
}

bool xfer_precond_any(const xfer_precond_in_t *in)
{
	return in->if_match.ptr || in->if_none_match.ptr || in->if_unmodified_since.ptr;
}

bool xfer_precond_create_only(const xfer_precond_in_t *in)
{
	return in->if_none_match.ptr && xfer_etag_list_match(in->if_none_match, NULL, false) == XFER_ETAG_ANY;
}

struct xfer_precond {
	xfer_precond_in_t in; /* slices into bytes */
	char bytes[];
};

/* Copies one field into the block at *off (absent stays absent). */
static wf_slice_t copy_field(wf_slice_t f, char *bytes, size_t *off)
{
	if (!f.ptr)
		return f;
	memcpy(bytes + *off, f.ptr, f.len);
	wf_slice_t s = { bytes + *off, f.len };
	*off += f.len;
	return s;
}

xfer_precond_t *xfer_precond_new(const xfer_precond_in_t *in)
{
	size_t total = in->if_match.len + in->if_none_match.len + in->if_unmodified_since.len;
	xfer_precond_t *c = malloc(sizeof(*c) + total + 1);
	if (!c)
		return NULL;
	size_t off = 0;
	c->in.if_match = copy_field(in->if_match, c->bytes, &off);
	c->in.if_none_match = copy_field(in->if_none_match, c->bytes, &off);
	c->in.if_unmodified_since = copy_field(in->if_unmodified_since, c->bytes, &off);
	c->in.if_modified_since = (wf_slice_t){ NULL, 0 }; /* never a change's */
	return c;
}

bool xfer_precond_holds(const xfer_precond_t *c, const struct stat *st)
{
	return xfer_precond_eval(&c->in, st, false) == XFER_PRECOND_PASS;
}

void xfer_precond_free(xfer_precond_t *c)
{
	free(c);
}
