/* Fuzz target: entity-tag lists (If-Match, If-None-Match) and the
 * evaluation of preconditions. The input is a flags byte (which target:
 * none, a file, a folder; a read or a change) and then up to five fields
 * cut at '\n': If-Match, If-None-Match, If-Unmodified-Since,
 * If-Modified-Since, and a tag to compare lists with. Beyond "no crash or
 * read past a field" (each is its own heap copy, so ASan sees any), it
 * checks: results are among the named ones; a strong match is a weak one;
 * a tag matches only when there is one; the owned copy agrees with the
 * evaluation of a change; a read never gets 412 from a field a change
 * would ignore, nor a change 304. */
#include "transfer/etag.h"
#include "transfer/precond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_precond: invariant broken: %s\n", what);
	abort();
}

/* The next field of [*p, end) up to '\n', as a heap copy of its own. */
static wf_slice_t next_field(const uint8_t **p, const uint8_t *end, char **owned)
{
	*owned = NULL;
	if (*p >= end)
		return (wf_slice_t){ NULL, 0 };
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p);
	*owned = malloc(n ? n : 1);
	memcpy(*owned, *p, n);
	*p += n + (nl ? 1 : 0);
	return (wf_slice_t){ *owned, n };
}

static void check_list(wf_slice_t f, const char *etag)
{
	if (!f.ptr)
		return;
	int s = xfer_etag_list_match(f, etag, true), w = xfer_etag_list_match(f, etag, false);
	if (s < XFER_ETAG_MALFORMED || s > XFER_ETAG_ANY || w < XFER_ETAG_MALFORMED || w > XFER_ETAG_ANY)
		fail("list result out of range");
	if ((s == XFER_ETAG_MALFORMED) != (w == XFER_ETAG_MALFORMED) || (s == XFER_ETAG_ANY) != (w == XFER_ETAG_ANY))
		fail("strong and weak disagree on the list's shape");
	if (s == XFER_ETAG_MATCH && w != XFER_ETAG_MATCH)
		fail("a strong match is not a weak one");
	if (xfer_etag_list_match(f, NULL, false) == XFER_ETAG_MATCH)
		fail("a match with no tag");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0];
	const uint8_t *p = data + 1, *end = data + size;
	char *owned[5];
	xfer_precond_in_t in;
	in.if_match = next_field(&p, end, &owned[0]);
	in.if_none_match = next_field(&p, end, &owned[1]);
	in.if_unmodified_since = next_field(&p, end, &owned[2]);
	in.if_modified_since = next_field(&p, end, &owned[3]);
	wf_slice_t tag = next_field(&p, end, &owned[4]);

	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_mode = (flags & 2) ? S_IFDIR | 0755 : S_IFREG | 0644;
	st.st_ino = flags >> 3;
	st.st_size = (off_t)size;
	st.st_mtim.tv_sec = 1600000000 + (time_t)(flags >> 4) * 100000000;
	const struct stat *target = (flags & 1) ? &st : NULL;
	bool read = flags & 4;

	char etag[XFER_ETAG_MAX];
	xfer_etag_make(&st, etag);
	if (etag[0] != '"' || etag[strlen(etag) - 1] != '"' || strlen(etag) >= XFER_ETAG_MAX)
		fail("xfer_etag_make's tag");
	char other[XFER_ETAG_MAX + 8];
	snprintf(other, sizeof(other), "%.*s", (int)(tag.len < XFER_ETAG_MAX ? tag.len : XFER_ETAG_MAX),
		 tag.ptr ? tag.ptr : "");
	check_list(in.if_match, etag);
	check_list(in.if_none_match, etag);
	check_list(in.if_match, other);
	check_list(in.if_none_match, other);

	xfer_precond_result_t r = xfer_precond_eval(&in, target, read);
	if (r != XFER_PRECOND_PASS && r != XFER_PRECOND_NOT_MODIFIED && r != XFER_PRECOND_FAILED)
		fail("result out of range");
	if (!read && r == XFER_PRECOND_NOT_MODIFIED)
		fail("304 to a change");
	if (!read) {
		xfer_precond_t *c = xfer_precond_new(&in);
		if (c && xfer_precond_holds(c, target) != (r == XFER_PRECOND_PASS))
			fail("the owned copy disagrees");
		xfer_precond_free(c);
		if (!xfer_precond_any(&in) && r != XFER_PRECOND_PASS)
			fail("a change refused with no field that can refuse it");
	}
	if (read && !in.if_match.ptr && !in.if_unmodified_since.ptr && r == XFER_PRECOND_FAILED)
		fail("412 to a read from If-None-Match or If-Modified-Since");
	for (int i = 0; i < 5; i++)
		free(owned[i]);
	return 0;
}
