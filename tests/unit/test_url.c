/* Request-target to confined path, and href encoding. */
#include "transfer/url.h"

#include "check.h"

#include <stdlib.h>

static char g_out[XFER_URL_PATH_MAX];
static int g_dir;

static int to_path(const char *t)
{
	g_dir = -1;
	return xfer_url_to_path((wf_slice_t){ t, strlen(t) }, g_out, sizeof(g_out), &g_dir);
}

static void check_path(const char *t, const char *want, int want_dir)
{
	int rc = to_path(t);
	if (rc != WF_OK || strcmp(g_out, want) != 0 || g_dir != want_dir)
		fprintf(stderr, "\"%s\": rc %d \"%s\" dir %d\n", t, rc, rc == WF_OK ? g_out : "", g_dir);
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_STR(g_out, want);
	CHECK_EQ_INT(g_dir, want_dir);
}

static void check_err(const char *t)
{
	int rc = to_path(t);
	if (rc != WF_ERR)
		fprintf(stderr, "\"%s\" accepted as \"%s\"\n", t, g_out);
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK_EQ_INT(g_dir, -1);
}

static void test_normal(void)
{
	check_path("/", "", 1);
	check_path("/a", "a", 0);
	check_path("/a/b", "a/b", 0);
	check_path("/a/b/", "a/b", 1);
	check_path("/a%20b", "a b", 0);
	check_path("/%41%62c", "Abc", 0);
	check_path("/caf%C3%A9/%c3%a9", "caf\xc3\xa9/\xc3\xa9", 0);
	check_path("/a/?q=1", "a", 1);
	check_path("/a?q=/../..", "a", 0);
	check_path("/a#frag/..", "a", 0);
	check_path("/?x", "", 1);
	check_path("/a%3fb", "a?b", 0);
	check_path("/a%23b", "a#b", 0);
	check_path("/a%25b", "a%b", 0);
	check_path("/a+b", "a+b", 0);
	check_path("/a\\b", "a\\b", 0);
	check_path("/a\\..\\b", "a\\..\\b", 0);
}

static void test_dots(void)
{
	check_path("//", "", 1);
	check_path("//a//b//", "a/b", 1);
	check_path("/./a/", "a", 1);
	check_path("/a/./b", "a/b", 0);
	check_path("/a/.", "a", 1);
	check_path("/.", "", 1);
	check_path("/a/b/../c", "a/c", 0);
	check_path("/a/b/..", "a", 1);
	check_path("/a/..", "", 1);
	check_path("/a/../", "", 1);
	check_path("/a/b/c/../../d", "a/d", 0);
	check_path("/a/%2e%2e", "", 1);
	check_path("/a/b/.%2E/c", "a/c", 0);
	check_path("/a/%2e/b", "a/b", 0);
	check_path("/a/%2E", "a", 1);
	/* Not dot segments: ordinary names. */
	check_path("/...", "...", 0);
	check_path("/..a", "..a", 0);
	check_path("/a..", "a..", 0);
	check_path("/.a", ".a", 0);
	check_path("/.hidden/..x", ".hidden/..x", 0);
	check_path("/%2e%2e%2e", "...", 0);
	check_path("/. ", ". ", 0);
	check_path("/%c0%ae%c0%ae", "\xc0\xae\xc0\xae", 0);
}

static void test_hostile(void)
{
	static const char *bad[] = {
		"/..", "/../", "/../a", "/../../etc/passwd", "/a/../../etc/passwd", "/a/b/../../..",
		"/./..", "//..", "/%2e%2e", "/%2E%2E/etc/passwd", "/%2e%2E/", "/.%2e", "/%2e.", "/a/%2e%2e/%2e%2e",
		"/a%2fb", "/a%2Fb", "/%2f", "/..%2f..%2fetc", "/%2F%2e%2e",
		"/a%00b", "/%00", "/a%00", "/a%01", "/a%1f", "/a%1F", "/a%7f", "/a%0a", "/a%0d%0a",
		"/a%", "/a%2", "/a%zz", "/a%g1", "/a%1g", "/a%%31", "/%", "/a%-1", "/a% 1",
		"*", "", "a/b", ".", "..", "../etc", "http://host/a", "HTTP://host/", "host/a",
		"%2fa", "\\a", "?/a",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_err(bad[i]);
	/* Raw control bytes and a raw NUL (not via strlen). */
	check_err("/a\x01");
	check_err("/a\x7f");
	check_err("/a\tb");
	char nul[] = "/a\0b";
	g_dir = -1;
	CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ nul, 4 }, g_out, sizeof(g_out), &g_dir), WF_ERR);
	CHECK_EQ_INT(g_dir, -1);
	/* The query never hides an error in the path, nor makes one. */
	check_err("/../?a");
	check_path("/a?%00", "a", 0);
	check_path("/a?%zz", "a", 0);
}

static void test_caps(void)
{
	char out[8];
	int dir;
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefg"), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "abcdefg");
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefgh"), out, 8, &dir), XFER_URL_TOO_LONG);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abc/defg"), out, 8, &dir), XFER_URL_TOO_LONG);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abc/def"), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "abc/def");
	/* Dropped segments need no room. */
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefg/"), out, 8, &dir), WF_OK);
	CHECK_EQ_INT(dir, 1);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefg/./"), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "abcdefg");
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefg/%2e%2e"), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/%61%62%63%64%65%66%67"), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "abcdefg");
	/* Only the result must fit: a ".." may remove a segment that did not. */
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/a/bbbbbbbbbbbb/../c"), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "a/c");
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/a/bbbbbbbbbbbb/x/../../cdefg"), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "a/cdefg");
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/a/bbbbbbbbbbbb/x/../c"), out, 8, &dir), XFER_URL_TOO_LONG);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefgh/.."), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(dir, 1);
	/* Too long, and malformed further on: malformed wins (400, not 414). */
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefgh/%zz"), out, 8, &dir), WF_ERR);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefgh/a%2fb"), out, 8, &dir), WF_ERR);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abcdefgh/x%01"), out, 8, &dir), WF_ERR);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/a/abcdefgh/../../.."), out, 8, &dir), WF_ERR);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/a/abcdefgh/../.."), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "");
	/* Only the path counts: a long query is dropped unread. */
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/abc?defghijklmnop"), out, 8, &dir), WF_OK);
	CHECK_EQ_STR(out, "abc");
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/"), out, 1, &dir), WF_OK);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/a"), out, 1, &dir), XFER_URL_TOO_LONG);
	CHECK_EQ_INT(xfer_url_to_path(WF_SLICE("/"), out, 0, &dir), WF_ERR);

	/* An overlong target. */
	size_t n = 100000;
	char *t = malloc(n);
	t[0] = '/';
	memset(t + 1, 'a', n - 1);
	CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ t, n }, g_out, sizeof(g_out), &dir), XFER_URL_TOO_LONG);
	/* Many "a/.." pairs: long input, short result, linear work. */
	for (size_t i = 0; i + 5 <= n; i += 5)
		memcpy(t + i, "/a/..", 5);
	CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ t, n }, g_out, sizeof(g_out), &dir), WF_OK);
	CHECK_EQ_STR(g_out, "");
	/* And "/.." only after climbing: refused. */
	memcpy(t + n - 6, "/../..", 6);
	CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ t, n }, g_out, sizeof(g_out), &dir), WF_ERR);
	free(t);
}

/* The longest path the file system takes (PATH_MAX - 1 bytes, in names of
 * at most 255) fits; one byte more is too long, not malformed; and the href
 * of the longest path, every byte encoded, is XFER_URL_HREF_MAX and leads
 * back to it. */
static void test_path_max(void)
{
	static char path[XFER_URL_PATH_MAX + 1], target[XFER_URL_PATH_MAX + 2], href[XFER_URL_HREF_MAX + 1];
	size_t len = XFER_URL_PATH_MAX - 1;
	for (size_t i = 0; i < len; i++)
		path[i] = i % 256 == 255 ? '/' : (char)('a' + i % 26);
	path[len] = '\0';
	int dir = -1;
	target[0] = '/';
	memcpy(target + 1, path, len + 1);
	CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ target, len + 1 }, g_out, sizeof(g_out), &dir), WF_OK);
	CHECK_EQ_STR(g_out, path);
	CHECK_EQ_INT(dir, 0);
	/* And as a folder: the trailing '/' needs no room. */
	target[len + 1] = '/';
	CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ target, len + 2 }, g_out, sizeof(g_out), &dir), WF_OK);
	CHECK_EQ_INT(dir, 1);
	target[len + 1] = 'z';
	CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ target, len + 2 }, g_out, sizeof(g_out), &dir), XFER_URL_TOO_LONG);

	/* Spaces take three bytes each, '/' one: the longest href is of a
	 * path without any '/' (a pure function: no name limit here). */
	for (size_t i = 0; i < len; i++)
		path[i] = i % 256 == 255 ? '/' : ' ';
	static char flat[XFER_URL_PATH_MAX];
	memset(flat, ' ', XFER_URL_PATH_MAX - 1);
	flat[XFER_URL_PATH_MAX - 1] = '\0';
	href[0] = '/';
	ssize_t n = xfer_url_encode_path(flat, href + 1, sizeof(href) - 1);
	CHECK_EQ_INT(n + 1, XFER_URL_HREF_MAX);
	n = xfer_url_encode_path(path, href + 1, sizeof(href) - 1);
	CHECK(n > 0);
	CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ href, (size_t)n + 1 }, g_out, sizeof(g_out), &dir), WF_OK);
	CHECK_EQ_STR(g_out, path);
}

static void check_enc(const char *path, const char *want)
{
	char out[256];
	ssize_t n = xfer_url_encode_path(path, out, sizeof(out));
	CHECK_EQ_INT(n, strlen(want));
	if (n >= 0)
		CHECK_EQ_STR(out, want);
}

static void test_encode(void)
{
	check_enc("", "");
	check_enc("a/b", "a/b");
	check_enc("/a b/c", "/a%20b/c");
	check_enc("AZaz09-._~", "AZaz09-._~");
	check_enc("caf\xc3\xa9", "caf%C3%A9");
	check_enc("%?#&=+;:@!$'()*,\"<>\\ ", "%25%3F%23%26%3D%2B%3B%3A%40%21%24%27%28%29%2A%2C%22%3C%3E%5C%20");
	check_enc("\x01\x7f\xff", "%01%7F%FF");

	char out[8];
	CHECK_EQ_INT(xfer_url_encode_path("abcdefg", out, 8), 7);
	CHECK_EQ_INT(xfer_url_encode_path("abcdefgh", out, 8), -1);
	CHECK_EQ_INT(xfer_url_encode_path("abcd ", out, 8), 7);
	CHECK_EQ_STR(out, "abcd%20");
	CHECK_EQ_INT(xfer_url_encode_path("abcde ", out, 8), -1);
	CHECK_EQ_INT(xfer_url_encode_path("abc ", out, 7), 6);
	CHECK_EQ_INT(xfer_url_encode_path("abc ", out, 6), -1);
	CHECK_EQ_INT(xfer_url_encode_path("", out, 1), 0);
	CHECK_EQ_INT(xfer_url_encode_path("", out, 0), -1);
	CHECK_EQ_INT(xfer_url_encode_path("a", out, 1), -1);

	/* Round trip: what we link to is what we serve. */
	static const char *names[] = { "a b", "x/y%z", "caf\xc3\xa9/\xe2\x82\xac.txt", "q?#", "...", ".a/b.c" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char href[256] = "/";
		ssize_t n = xfer_url_encode_path(names[i], href + 1, sizeof(href) - 1);
		CHECK(n > 0);
		int dir;
		CHECK_EQ_INT(xfer_url_to_path((wf_slice_t){ href, (size_t)n + 1 }, g_out, sizeof(g_out), &dir), WF_OK);
		CHECK_EQ_STR(g_out, names[i]);
	}
}

static void test_host(void)
{
	static const char *const good[] = { "", "localhost", "localhost:8443", "127.0.0.1", "127.0.0.1:443",
					     "[::1]", "[::1]:443", "[2001:db8::7]", "[v1.fe80::a+en1]", "a-b.example",
					     "xn--bcher-kva.example", "%41b", "a!$&'()*+,;=", "x:", "under_score~" };
	static const char *const bad[] = { "a b", "x/y", "x@y", "[::1", "::1", "[::1]x", "[::1]:x", "[]",
					   "[zz]", "[v.x]", "[v1.]", "x:y", "x:1:2", "%4", "%zz", "a\"b", "a\tb",
					   "a?b", "a#b", "\xc3\xa9.example", "a\x7f", "x:80 " };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_EQ_INT(xfer_url_host_valid((wf_slice_t){ good[i], strlen(good[i]) }), 1);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(xfer_url_host_valid((wf_slice_t){ bad[i], strlen(bad[i]) }), 0);
	}
	/* A NUL in the value is no host byte. */
	CHECK_EQ_INT(xfer_url_host_valid((wf_slice_t){ "a\0b", 3 }), 0);
}

int main(void)
{
	test_host();
	test_normal();
	test_dots();
	test_hostile();
	test_caps();
	test_encode();
	test_path_max();
	return check_report();
}
