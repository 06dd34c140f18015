/* Fuzz target: entity-tag lists (If-Match, If-None-Match) and the
 * evaluation of preconditions. The input is a flags byte (which target:
 * none, a file, a folder; a read or a change) and then up to five fields
 * cut at '\n': If-Match, If-None-Match, If-Unmodified-Since,
 * If-Modified-Since, and a tag to compare lists with. A field's '\r' cuts
 * it into field lines, joined as the HTTP drivers join a repeated field's
 * lines (RFC 9110 5.3: in order, with ", " between). Beyond "no crash or
 * read past a field" (each is its own heap copy, so ASan sees any), it
 * checks: results are among the named ones; a strong match is a weak one;
 * a tag matches only when there is one; joined lines read as one list
 * (a match when a line's list matches, malformed when a line is, or when
 * "*" is not alone); the owned copy agrees with the evaluation of a
 * change; a read never gets 412 from a field a change would ignore, nor a
 * change 304. */
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

/* The next field of [*p, end) up to '\n', as a heap copy of its own: its
 * lines (cut at '\r') joined with ", " between. */
static wf_slice_t next_field(const uint8_t **p, const uint8_t *end, char **owned)
{
	*owned = NULL;
	if (*p >= end)
		return (wf_slice_t){ NULL, 0 };
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p), len = 0;
	*owned = malloc(2 * n + 1); /* each '\r' becomes two bytes */
	for (size_t i = 0; i < n; i++) {
		if ((*p)[i] == '\r') {
			(*owned)[len++] = ',';
			(*owned)[len++] = ' ';
		} else {
			(*owned)[len++] = (char)(*p)[i];
		}
	}
	*p += n + (nl ? 1 : 0);
	return (wf_slice_t){ *owned, len };
}

/* raw[0..n), a field as the input gave it, cut at '\r' into lines: each
 * line read alone against joined, the lines read as one list. */
static void check_joined(const uint8_t *raw, size_t n, wf_slice_t joined, const char *etag)
{
	if (!memchr(raw, '\r', n))
		return;
	for (int strong = 0; strong < 2; strong++) {
		int any_match = 0, any_malformed = 0, any_star = 0, lines = 0;
		for (size_t from = 0;; lines++) {
			const uint8_t *cr = memchr(raw + from, '\r', n - from);
			size_t to = cr ? (size_t)(cr - raw) : n;
			char *line = malloc(to - from + 1);
			memcpy(line, raw + from, to - from);
			int m = xfer_etag_list_match((wf_slice_t){ line, to - from }, etag, strong);
			free(line);
			any_match |= m == XFER_ETAG_MATCH;
			any_malformed |= m == XFER_ETAG_MALFORMED;
			any_star |= m == XFER_ETAG_ANY;
			if (!cr)
				break;
			from = to + 1;
		}
		int j = xfer_etag_list_match(joined, etag, strong);
		if ((any_malformed || any_star) && j != XFER_ETAG_MALFORMED)
			fail("joined lines: a malformed line, or \"*\" not alone, is not malformed");
		if (!any_malformed && !any_star && j != (any_match ? XFER_ETAG_MATCH : XFER_ETAG_NO_MATCH))
			fail("joined lines do not read as one list");
	}
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
	const uint8_t *im_raw = p, *im_nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
	size_t im_n = p < end ? (size_t)((im_nl ? im_nl : end) - p) : 0;
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
	check_joined(im_raw, im_n, in.if_match, etag);
	check_joined(im_raw, im_n, in.if_match, other);
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
