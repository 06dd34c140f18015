/* FTP wildcard patterns (transfer/ftp_glob.h): the input is a pattern and a
 * name, split at the first NUL (both are anyone's: a LIST argument, an
 * uploaded file's name). The matcher must agree with a slow table-driven
 * reading of the same rules (glob_ref.h), a pattern without wildcards must
 * match only the name it spells, and a pattern past the cap nothing. The
 * fuzzer's own timeout catches a match that takes too long. */
#include "glob_ref.h"
#include "transfer/ftp_glob.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "invariant broken: %s\n", what);
	abort();
}

/* The name a pattern without wildcards spells: its backslashes unquoting. */
static size_t unquote(const char *p, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		out[k++] = p[i];
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t pn = nul ? (size_t)(nul - data) : size;
	const char *pat = (const char *)data, *name = nul ? (const char *)nul + 1 : "";
	size_t sn = nul ? size - pn - 1 : 0;
	if (sn > 1024)
		sn = 1024; /* names are at most NAME_MAX; a bit beyond tests more */
	wf_slice_t ps = {pat, pn}, ns = {name, sn};

	bool got = xfer_ftp_glob_match(ps, ns);
	if (pn > XFER_FTP_GLOB_MAX) {
		if (got)
			fail("a pattern past the cap matched");
		return 0;
	}
	if (got != ref_match(pat, pn, name, sn))
		fail("the matcher and the reference disagree");
	if (!xfer_ftp_glob_magic(ps)) {
		char lit[XFER_FTP_GLOB_MAX];
		size_t ln = unquote(pat, pn, lit);
		if (got != (ln == sn && memcmp(lit, name, sn) == 0))
			fail("a pattern without wildcards matched another name");
	}
	return 0;
}
