/* Entity tags: see etag.h. */
#include "etag.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void xfer_etag_make(const struct stat *st, char out[XFER_ETAG_MAX])
{
	snprintf(out, XFER_ETAG_MAX, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st->st_ino,
		 (uint64_t)st->st_size, (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* etagc: %x21 / %x23-7E / obs-text */
static bool is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

int xfer_etag_list_match(wf_slice_t field, const char *etag, bool strong)
{
	const char *p = field.ptr, *end = field.ptr + field.len;
	wf_slice_t trimmed = wf_slice_trim(field);
	if (trimmed.len == 1 && trimmed.ptr[0] == '*')
		return XFER_ETAG_ANY;
	size_t elen = etag ? strlen(etag) : 0;
	bool matched = false;
	while (p < end) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++; /* empty elements and the whitespace around commas */
		if (p == end)
			break;
		bool weak = false;
		if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
			weak = true;
			p += 2;
		}
		if (p == end || *p != '"')
			return XFER_ETAG_MALFORMED;
		const char *tag = p++;
		while (p < end && is_etagc((unsigned char)*p))
			p++;
		if (p == end || *p != '"')
			return XFER_ETAG_MALFORMED;
		p++;
		size_t tlen = (size_t)(p - tag);
		if (etag && !(strong && weak) && tlen == elen && memcmp(tag, etag, elen) == 0)
			matched = true;
		while (p < end && is_ows(*p))
			p++;
		if (p < end && *p != ',')
			return XFER_ETAG_MALFORMED;
	}
	return matched ? XFER_ETAG_MATCH : XFER_ETAG_NO_MATCH;
}
