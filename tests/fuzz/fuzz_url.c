/* Fuzz target: request-target to confined path. Whatever goes in, what comes
 * out must be a plain relative path: no leading '/', no empty, "." or ".."
 * segment, no control byte; and encoding it for an href must lead back to it,
 * within XFER_URL_HREF_MAX bytes. A target too long for the path buffer is
 * well formed: with room enough (a path is never longer than its target) it
 * is taken. */
#include "transfer/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_CAP XFER_URL_PATH_MAX

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_url: invariant broken: %s: \"%s\"\n", what, path);
	abort();
}

static void check_path(const char *out)
{
	size_t len = strlen(out);
	if (len >= OUT_CAP)
		fail("longer than the buffer", out);
	if (out[0] == '/' || (len && out[len - 1] == '/'))
		fail("leading or trailing '/'", out);
	if (strstr(out, "//"))
		fail("empty segment", out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c < 0x20 || c == 0x7f)
			fail("control byte", out);
	}
	const char *s = out;
	while (len && *s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			fail("dot segment", out);
		if (!e)
			break;
		s = e + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[OUT_CAP], back[OUT_CAP], href[XFER_URL_HREF_MAX + 1];
	int dir = -1;
	/* Fill with a marker so a missing NUL shows up as a long string. */
	memset(out, 'X', sizeof(out));
	int rc = xfer_url_to_path((wf_slice_t){ (const char *)data, size }, out, sizeof(out), &dir);
	/* The same bytes as a Host value: read within their length, whatever they hold. */
	if (xfer_url_host_valid((wf_slice_t){ (const char *)data, size }) > 1)
		fail("host check out of range", "");
	if (rc == XFER_URL_TOO_LONG) {
		char *big = malloc(size + 1);
		if (!big)
			abort();
		if (xfer_url_to_path((wf_slice_t){ (const char *)data, size }, big, size + 1, &dir) != WF_OK)
			fail("too long, yet not taken with room", "");
		if (strlen(big) < OUT_CAP)
			fail("too long, yet it fits", big);
		free(big);
		return 0;
	}
	if (rc != WF_OK) {
		if (rc != WF_ERR)
			fail("unknown answer", "");
		return 0;
	}
	if (memchr(out, '\0', sizeof(out)) == NULL)
		fail("not NUL-terminated", "");
	if (dir != 0 && dir != 1)
		fail("is_dir not set", out);
	if (!out[0] && !dir)
		fail("home not a directory", out);
	check_path(out);

	/* The href we would print for this path leads back to it. */
	href[0] = '/';
	ssize_t n = xfer_url_encode_path(out, href + 1, sizeof(href) - 1);
	if (n < 0)
		fail("encoding did not fit", out);
	if ((size_t)n != strlen(href + 1))
		fail("encoded length", href);
	for (ssize_t i = 1; i <= n; i++) {
		unsigned char c = (unsigned char)href[i];
		if (c <= 0x20 || c >= 0x7f)
			fail("unsafe byte in href", href);
	}
	int dir2;
	if (xfer_url_to_path((wf_slice_t){ href, (size_t)n + 1 }, back, sizeof(back), &dir2) != WF_OK ||
	    strcmp(back, out) != 0)
		fail("href does not lead back", out);
	return 0;
}
