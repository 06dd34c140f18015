/* HTTP/1 request head parser and chunked decoder. */
#include "transfer/h1_parse.h"

#include "check.h"

#include <stdlib.h>

#define MAXH 16384

static ssize_t parse(const char *s, xfer_h1_request_t *r)
{
	return xfer_h1_parse_request(s, strlen(s), MAXH, r);
}

static ssize_t parse_str(const char *s)
{
	xfer_h1_request_t r;
	return parse(s, &r);
}

static void test_simple(void)
{
	xfer_h1_request_t r;
	const char *s = "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	CHECK_EQ_SLICE(r.method, "GET");
	CHECK_EQ_SLICE(r.target, "/index.html?x=1");
	CHECK_EQ_INT(r.minor, 1);
	CHECK_EQ_INT(r.nheaders, 2);
	CHECK_EQ_SLICE(r.headers[0].name, "Host");
	CHECK_EQ_SLICE(r.headers[0].value, "example.com");
	CHECK_EQ_SLICE(r.headers[1].name, "User-Agent");
	CHECK_EQ_SLICE(r.headers[1].value, "t/1");

	s = "HEAD / HTTP/1.0\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	CHECK_EQ_SLICE(r.method, "HEAD");
	CHECK_EQ_INT(r.minor, 0);
	CHECK_EQ_INT(r.nheaders, 0);

	/* Extension methods and odd but valid tokens. */
	s = "M-SEARCH! * HTTP/1.1\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	CHECK_EQ_SLICE(r.method, "M-SEARCH!");
	CHECK_EQ_SLICE(r.target, "*");

	/* A raw UTF-8 target is the path its percent-encoding would name. */
	s = "GET /caf\xc3\xa9/\xe2\x82\xac.txt HTTP/1.1\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	CHECK_EQ_SLICE(r.target, "/caf\xc3\xa9/\xe2\x82\xac.txt");
}

static void test_values(void)
{
	xfer_h1_request_t r;
	const char *s = "GET / HTTP/1.1\r\nA:   spaced out \t \r\nB:\r\nC: \t\r\nD:x\r\n"
			"E: tab\tinside\r\nF: caf\xc3\xa9\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	CHECK_EQ_INT(r.nheaders, 6);
	CHECK_EQ_SLICE(r.headers[0].value, "spaced out");
	CHECK_EQ_SLICE(r.headers[1].value, "");
	CHECK_EQ_SLICE(r.headers[2].value, "");
	CHECK_EQ_SLICE(r.headers[3].value, "x");
	CHECK_EQ_SLICE(r.headers[4].value, "tab\tinside");
	CHECK_EQ_SLICE(r.headers[5].value, "caf\xc3\xa9");
}

static void test_line_ends(void)
{
	xfer_h1_request_t r;
	const char *s = "GET / HTTP/1.1\nHost: a\n\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	CHECK_EQ_SLICE(r.headers[0].value, "a");
	s = "GET / HTTP/1.1\r\nHost: a\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));

	/* Stray empty lines before the request line are skipped and counted. */
	s = "\r\n\n\r\nGET / HTTP/1.1\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	CHECK_EQ_SLICE(r.method, "GET");

	/* Bare CR anywhere. */
	CHECK_EQ_INT(parse_str("\rGET / HTTP/1.1\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\rHost: a\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET /\r HTTP/1.1\r\n\r\n"), XFER_H1_MALFORMED);
}

static void test_request_line_errors(void)
{
	static const char *bad[] = {
		"GET  / HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET /  HTTP/1.1\r\n\r\n",
		"GET\t/ HTTP/1.1\r\n\r\n",
		"GET /\r\n\r\n",
		"GET / \r\n\r\n",
		"GET\r\n\r\n",
		" / HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GE:T / HTTP/1.1\r\n\r\n",
		"GET /a b HTTP/1.1\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\n\r\n",
		"GET /\x80\x01 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.\xc3\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET / HTTP/1.1x\r\n\r\n",
		"GET / HTTP/11\r\n\r\n",
		"GET / HTTP/1.10\r\n\r\n",
		"GET / HTTP/1.\r\n\r\n",
		"GET / HTTP/1\r\n\r\n",
		"GET / HTTP/a.b\r\n\r\n",
		"GET / HTTP-1.1\r\n\r\n",
		"GET / HTTP/1,1\r\n\r\n",
		"GET / xHTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\x01\r\n\r\n",
	};
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++) {
		ssize_t n = parse_str(bad[i]);
		if (n != XFER_H1_MALFORMED)
			fprintf(stderr, "case %zu: %s\n", i, bad[i]);
		CHECK_EQ_INT(n, XFER_H1_MALFORMED);
	}
	/* NUL inside the request line (strlen would stop at it). */
	xfer_h1_request_t r;
	static const char nul[] = "GET /\0 HTTP/1.1\r\n\r\n";
	CHECK_EQ_INT(xfer_h1_parse_request(nul, sizeof(nul) - 1, MAXH, &r), XFER_H1_MALFORMED);
}

static void test_versions(void)
{
	CHECK_EQ_INT(parse_str("GET / HTTP/2.0\r\n\r\n"), XFER_H1_BAD_VERSION);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.2\r\n\r\n"), XFER_H1_BAD_VERSION);
	CHECK_EQ_INT(parse_str("GET / HTTP/0.9\r\n\r\n"), XFER_H1_BAD_VERSION);
	CHECK_EQ_INT(parse_str("GET / HTTP/3.0\r\n\r\n"), XFER_H1_BAD_VERSION);
	CHECK_EQ_INT(parse_str("GET / HTTP/9.9\n\n"), XFER_H1_BAD_VERSION);
	/* The HTTP/2 preface as seen by an HTTP/1 parser. */
	CHECK_EQ_INT(parse_str("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), XFER_H1_BAD_VERSION);
	/* Reported as soon as the request line is complete. */
	CHECK_EQ_INT(parse_str("GET / HTTP/2.0\r\n"), XFER_H1_BAD_VERSION);
}

static void test_field_errors(void)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost\r\n\r\n",
		"GET / HTTP/1.1\r\n: a\r\n\r\n",
		"GET / HTTP/1.1\r\n:\r\n\r\n",
		"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX@Y: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX\"Y: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX(Y): a\r\n\r\n",
		"GET / HTTP/1.1\r\nX/Y: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX\x80: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n",
		"GET / HTTP/1.1\r\nX: \x0b\r\n\r\n",
		"GET / HTTP/1.1\r\nX: \x0c\r\n\r\n",
	};
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++) {
		ssize_t n = parse_str(bad[i]);
		if (n != XFER_H1_MALFORMED)
			fprintf(stderr, "case %zu: %s\n", i, bad[i]);
		CHECK_EQ_INT(n, XFER_H1_MALFORMED);
	}
	xfer_h1_request_t r;
	static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	CHECK_EQ_INT(xfer_h1_parse_request(nul, sizeof(nul) - 1, MAXH, &r), XFER_H1_MALFORMED);
	static const char nul2[] = "GET / HTTP/1.1\r\nX\0: a\r\n\r\n";
	CHECK_EQ_INT(xfer_h1_parse_request(nul2, sizeof(nul2) - 1, MAXH, &r), XFER_H1_MALFORMED);
}

static void test_framing(void)
{
	xfer_h1_request_t r;
	const char *s = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
	CHECK_EQ_INT(parse(s, &r), strlen(s) - 5);
	s = "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	s = "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	s = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));

	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
		     XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
		     XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
		     XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
		     XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
		     XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), XFER_H1_MALFORMED);
}

static void test_incremental(void)
{
	const char *s = "\r\nPUT /up/file.bin HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
	size_t len = strlen(s);
	xfer_h1_request_t r;
	for (size_t i = 0; i < len; i++) {
		ssize_t n = xfer_h1_parse_request(s, i, MAXH, &r);
		if (n != XFER_H1_AGAIN)
			fprintf(stderr, "prefix %zu gave %zd\n", i, n);
		CHECK_EQ_INT(n, XFER_H1_AGAIN);
	}
	CHECK_EQ_INT(xfer_h1_parse_request(s, len, MAXH, &r), len);
	CHECK_EQ_SLICE(r.target, "/up/file.bin");
	CHECK_EQ_INT(r.nheaders, 2);

	/* Same with bare LFs, and a copy in a heap buffer of exactly each
	 * prefix's size, so ASan sees any read past the end. */
	s = "GET /a HTTP/1.0\nX: y\n\n";
	len = strlen(s);
	for (size_t i = 0; i <= len; i++) {
		char *b = malloc(i ? i : 1);
		memcpy(b, s, i);
		ssize_t n = xfer_h1_parse_request(b, i, MAXH, &r);
		CHECK_EQ_INT(n, i == len ? (ssize_t)len : XFER_H1_AGAIN);
		free(b);
	}

	/* Garbage is refused at once, not after max_head bytes. */
	CHECK_EQ_INT(parse_str("\x16\x03\x01\x02"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET /a\x01"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1 x"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\r\nBad Header: x\r\n"), XFER_H1_MALFORMED);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\r\nGood: x\r\n"), XFER_H1_AGAIN);
	CHECK_EQ_INT(parse_str("GET / HTTP/1.1\r"), XFER_H1_AGAIN);
}

static void test_pipelined(void)
{
	const char *s = "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: b\r\n\r\n";
	xfer_h1_request_t r;
	ssize_t n = parse(s, &r);
	CHECK_EQ_INT(n, strlen("GET /one HTTP/1.1\r\nHost: a\r\n\r\n"));
	CHECK_EQ_SLICE(r.target, "/one");
	ssize_t m = parse(s + n, &r);
	CHECK_EQ_INT(n + m, strlen(s));
	CHECK_EQ_SLICE(r.target, "/two");
	CHECK_EQ_SLICE(r.headers[0].value, "b");

	/* The second head may be partial, even broken: not our business yet. */
	s = "GET /one HTTP/1.1\r\n\r\nGARBAGE\x01";
	CHECK_EQ_INT(parse(s, &r), strlen("GET /one HTTP/1.1\r\n\r\n"));
}

static void test_limits(void)
{
	char buf[MAXH * 2];
	xfer_h1_request_t r;
	size_t o = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < XFER_H1_MAX_HEADERS; i++)
		o += (size_t)sprintf(buf + o, "X-%d: %d\r\n", i, i);
	memcpy(buf + o, "\r\n", 3);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, o + 2, MAXH, &r), o + 2);
	CHECK_EQ_INT(r.nheaders, XFER_H1_MAX_HEADERS);
	CHECK_EQ_SLICE(r.headers[XFER_H1_MAX_HEADERS - 1].name, "X-63");
	o += (size_t)sprintf(buf + o, "X-last: 1\r\n");
	CHECK_EQ_INT(xfer_h1_parse_request(buf, o, MAXH, &r), XFER_H1_TOO_LARGE);
	memcpy(buf + o, "\r\n", 3);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, o + 2, MAXH, &r), XFER_H1_TOO_LARGE);

	/* Head ending exactly at max_head fits; one byte more does not. */
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t len = strlen(s);
	CHECK_EQ_INT(xfer_h1_parse_request(s, len, len, &r), len);
	CHECK_EQ_INT(xfer_h1_parse_request(s, len, len - 1, &r), XFER_H1_TOO_LARGE);
	CHECK_EQ_INT(xfer_h1_parse_request(s, len - 1, len, &r), XFER_H1_AGAIN);
	CHECK_EQ_INT(xfer_h1_parse_request(s, len - 1, len - 1, &r), XFER_H1_TOO_LARGE);
	CHECK_EQ_INT(xfer_h1_parse_request(s, len, 0, &r), XFER_H1_TOO_LARGE);
	CHECK_EQ_INT(xfer_h1_parse_request(s, 0, len, &r), XFER_H1_AGAIN);
	/* Bytes past max_head are never looked at. */
	CHECK_EQ_INT(xfer_h1_parse_request("GET / HTTP/1.1\r\n\x01", 17, 16, &r), XFER_H1_TOO_LARGE);

	/* A long target without an end is 414, not 431; so is one that
	 * leaves the version no room, or a request line cut at its CR. */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', sizeof(buf) - 5);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, sizeof(buf), MAXH, &r), XFER_H1_URI_TOO_LONG);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, MAXH - 1, MAXH, &r), XFER_H1_AGAIN);
	memcpy(buf + MAXH - 6, " HTTP/1.1\r\n\r\n", 14);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, sizeof(buf), MAXH, &r), XFER_H1_URI_TOO_LONG);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, sizeof(buf), MAXH + 7, &r), MAXH + 7);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, sizeof(buf), MAXH + 6, &r), XFER_H1_TOO_LARGE);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, sizeof(buf), MAXH + 3, &r), XFER_H1_URI_TOO_LONG);
	CHECK_EQ_INT(xfer_h1_parse_request(s, len, 15, &r), XFER_H1_URI_TOO_LONG);
	CHECK_EQ_INT(xfer_h1_parse_request(s, len, 16, &r), XFER_H1_TOO_LARGE);
	/* A header value without an end is 431. */
	o = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nX: ");
	memset(buf + o, 'a', sizeof(buf) - o);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, sizeof(buf), MAXH, &r), XFER_H1_TOO_LARGE);
	/* Endless empty lines before a request line. */
	for (size_t i = 0; i < sizeof(buf); i += 2)
		memcpy(buf + i, "\r\n", 2);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, sizeof(buf), MAXH, &r), XFER_H1_TOO_LARGE);
	CHECK_EQ_INT(xfer_h1_parse_request(buf, 100, MAXH, &r), XFER_H1_AGAIN);
	/* A long version is refused without waiting. */
	o = (size_t)sprintf(buf, "GET / HTTP/1.1111");
	CHECK_EQ_INT(xfer_h1_parse_request(buf, o, MAXH, &r), XFER_H1_MALFORMED);
}

static void test_find(void)
{
	xfer_h1_request_t r;
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\nConnection: close\r\n\r\n";
	CHECK_EQ_INT(parse(s, &r), strlen(s));
	const xfer_h1_header_t *h = xfer_h1_header_find(&r, "x-DUP");
	CHECK(h != NULL);
	if (h)
		CHECK_EQ_SLICE(h->value, "1");
	h = xfer_h1_header_find(&r, "connection");
	CHECK(h && wf_slice_eq(h->value, "close"));
	CHECK(xfer_h1_header_find(&r, "Hos") == NULL);
	CHECK(xfer_h1_header_find(&r, "Hostt") == NULL);
	CHECK(xfer_h1_header_find(&r, "") == NULL);
}

static void test_content_length(void)
{
	uint64_t v = 42;
	CHECK_EQ_INT(xfer_h1_parse_content_length(WF_SLICE("0"), &v), WF_OK);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(xfer_h1_parse_content_length(WF_SLICE("123"), &v), WF_OK);
	CHECK_EQ_INT(v, 123);
	CHECK_EQ_INT(xfer_h1_parse_content_length(WF_SLICE("00012"), &v), WF_OK);
	CHECK_EQ_INT(v, 12);
	CHECK_EQ_INT(xfer_h1_parse_content_length(WF_SLICE(" 7\t"), &v), WF_OK);
	CHECK_EQ_INT(v, 7);
	CHECK_EQ_INT(xfer_h1_parse_content_length(WF_SLICE("9223372036854775807"), &v), WF_OK);
	CHECK(v == UINT64_C(9223372036854775807));
	CHECK_EQ_INT(xfer_h1_parse_content_length(WF_SLICE("5, 5"), &v), WF_OK);
	CHECK_EQ_INT(v, 5);
	CHECK_EQ_INT(xfer_h1_parse_content_length(WF_SLICE("5,5 ,  5"), &v), WF_OK);
	CHECK_EQ_INT(v, 5);

	v = 42;
	static const char *bad[] = {
		"", " ", "-1", "+1", "1e3", "0x10", "1 2", "5,6", "5,", ",5", "5,,5", "abc", "1.0",
		"9223372036854775808", "18446744073709551615", "18446744073709551616",
		"99999999999999999999999999", "5\r", "\x35\x00",
	};
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++) {
		wf_slice_t s = { bad[i], strlen(bad[i]) };
		if (i == WF_ARRAY_LEN(bad) - 1)
			s.len = 2;
		CHECK_EQ_INT(xfer_h1_parse_content_length(s, &v), WF_ERR);
	}
	CHECK_EQ_INT(v, 42);
	CHECK_EQ_INT(xfer_h1_parse_content_length((wf_slice_t){ NULL, 0 }, &v), WF_ERR);
}

static void test_has_token(void)
{
	CHECK(xfer_h1_has_token(WF_SLICE("close"), "close"));
	CHECK(xfer_h1_has_token(WF_SLICE("keep-alive, Close"), "close"));
	CHECK(xfer_h1_has_token(WF_SLICE("Keep-Alive ,close"), "keep-alive"));
	CHECK(xfer_h1_has_token(WF_SLICE(",, close ,"), "close"));
	CHECK(xfer_h1_has_token(WF_SLICE("a,\tchunked\t"), "CHUNKED"));
	CHECK(!xfer_h1_has_token(WF_SLICE("closed"), "close"));
	CHECK(!xfer_h1_has_token(WF_SLICE("clos"), "close"));
	CHECK(!xfer_h1_has_token(WF_SLICE("keep-alive"), "close"));
	CHECK(!xfer_h1_has_token(WF_SLICE(""), "close"));
	CHECK(!xfer_h1_has_token(WF_SLICE(",,"), "close"));
	CHECK(!xfer_h1_has_token(WF_SLICE("close"), ""));
	CHECK(!xfer_h1_has_token(WF_SLICE("cl ose"), "close"));
	CHECK(!xfer_h1_has_token((wf_slice_t){ NULL, 0 }, "close"));
}

/* Decodes in[0..len) fed in pieces cut at cuts[] (ascending offsets). Returns
 * the last result; body and *used get the body bytes and the input offset
 * where decoding stopped (after DONE, the next request's first byte). */
static int decode(const char *in, size_t len, const size_t *cuts, size_t ncuts, char *body, size_t *body_len,
		  size_t *used)
{
	xfer_chunked_t c;
	xfer_chunked_init(&c);
	size_t off = 0, bl = 0;
	int rc = XFER_CHUNK_AGAIN;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t stop = k < ncuts ? cuts[k] : len;
		while (off < stop || (off == stop && rc != XFER_CHUNK_AGAIN)) {
			size_t consumed;
			const char *d;
			size_t dl;
			rc = xfer_chunked_step(&c, in + off, stop - off, &consumed, &d, &dl);
			if (consumed > stop - off) {
				CHECK(!"consumed past the input");
				rc = XFER_CHUNK_MALFORMED;
			}
			if (rc == XFER_CHUNK_DATA) {
				CHECK(d >= in + off && d + dl <= in + off + consumed && dl > 0);
				memcpy(body + bl, d, dl);
				bl += dl;
			}
			off += consumed;
			if (rc == XFER_CHUNK_DONE || rc == XFER_CHUNK_MALFORMED)
				goto out;
			if (rc == XFER_CHUNK_AGAIN) {
				CHECK_EQ_INT(off, stop);
				break;
			}
		}
	}
out:
	*body_len = bl;
	*used = off;
	return rc;
}

static int decode_whole(const char *in, char *body, size_t *body_len, size_t *used)
{
	return decode(in, strlen(in), NULL, 0, body, body_len, used);
}

static void check_chunked_ok(const char *in, const char *want_body, size_t want_used)
{
	char body[256];
	size_t bl, used;
	size_t len = strlen(in);
	int rc = decode_whole(in, body, &bl, &used);
	CHECK_EQ_INT(rc, XFER_CHUNK_DONE);
	CHECK_EQ_INT(used, want_used);
	CHECK(bl == strlen(want_body) && memcmp(body, want_body, bl) == 0);

	/* One cut at every offset, then every byte on its own. */
	for (size_t cut = 0; cut <= len; cut++) {
		rc = decode(in, len, &cut, 1, body, &bl, &used);
		CHECK_EQ_INT(rc, XFER_CHUNK_DONE);
		CHECK_EQ_INT(used, want_used);
		CHECK(bl == strlen(want_body) && memcmp(body, want_body, bl) == 0);
	}
	size_t cuts[256];
	for (size_t i = 0; i < len && i < WF_ARRAY_LEN(cuts); i++)
		cuts[i] = i + 1;
	rc = decode(in, len, cuts, len < 256 ? len : 256, body, &bl, &used);
	CHECK_EQ_INT(rc, XFER_CHUNK_DONE);
	CHECK_EQ_INT(used, want_used);
	CHECK(bl == strlen(want_body) && memcmp(body, want_body, bl) == 0);
}

static void check_chunked_bad(const char *in)
{
	char body[8192];
	size_t bl, used;
	size_t len = strlen(in);
	int rc = decode(in, len, NULL, 0, body, &bl, &used);
	if (rc != XFER_CHUNK_MALFORMED)
		fprintf(stderr, "chunked not refused: %.60s\n", in);
	CHECK_EQ_INT(rc, XFER_CHUNK_MALFORMED);
	size_t cuts[1];
	for (size_t cut = 0; cut <= len && cut < 64; cut++) {
		cuts[0] = cut;
		CHECK_EQ_INT(decode(in, len, cuts, 1, body, &bl, &used), XFER_CHUNK_MALFORMED);
	}
}

static int split(const char *t, wf_slice_t *auth, wf_slice_t *path)
{
	*auth = *path = (wf_slice_t){ NULL, 0 };
	return xfer_h1_split_absolute((wf_slice_t){ t, strlen(t) }, auth, path);
}

static void test_split_absolute(void)
{
	wf_slice_t a, p;
	CHECK_EQ_INT(split("https://example.org:8443/a/b?c=d", &a, &p), 1);
	CHECK_EQ_SLICE(a, "example.org:8443");
	CHECK_EQ_SLICE(p, "/a/b?c=d");
	CHECK_EQ_INT(split("HTTP://[::1]/x", &a, &p), 1);
	CHECK_EQ_SLICE(a, "[::1]");
	CHECK_EQ_SLICE(p, "/x");
	CHECK_EQ_INT(split("http://host", &a, &p), 1);
	CHECK_EQ_SLICE(a, "host");
	CHECK(p.len == 0);
	/* Not the absolute form: nothing written. */
	const char *origin[] = { "/a.txt", "*", "", "https:/x", "ftp://host/x", "httpx://host/" };
	for (size_t i = 0; i < WF_ARRAY_LEN(origin); i++) {
		CHECK_EQ_INT(split(origin[i], &a, &p), 0);
		CHECK(a.ptr == NULL && p.ptr == NULL);
	}
	const char *bad[] = { "https://", "https:///x", "https://u@host/x", "https://u:pw@host", "http://host?q",
			      "http://host#f" };
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++)
		CHECK_EQ_INT(split(bad[i], &a, &p), WF_ERR);
}

static void test_chunked(void)
{
	const char *s = "5\r\nhello\r\n0\r\n\r\n";
	check_chunked_ok(s, "hello", strlen(s));
	s = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
	check_chunked_ok(s, "hello, world", strlen(s) - strlen("GET / HTTP/1.1\r\n\r\n"));
	s = "0\r\n\r\n";
	check_chunked_ok(s, "", strlen(s));
	s = "000\r\n\r\n";
	check_chunked_ok(s, "", strlen(s));
	s = "A\r\n0123456789\r\na\r\nabcdefghij\r\n00000001\r\nZ\r\n0\r\n\r\n";
	check_chunked_ok(s, "0123456789abcdefghijZ", strlen(s));
	/* Body bytes that look like framing are just bytes. */
	s = "5\r\n0\r\n\r\n\r\n0\r\n\r\n";
	check_chunked_ok(s, "0\r\n\r\n", strlen(s));
	/* Extensions, with and without BWS and quoted strings. */
	s = "5;name=val\r\nhello\r\n3 ; a = \"q;\\\"x\" ;b\r\nabc\r\n0;last\r\n\r\n";
	check_chunked_ok(s, "helloabc", strlen(s));
	s = "5\t;x\r\nhello\r\n0\r\n\r\n";
	check_chunked_ok(s, "hello", strlen(s));
	/* Trailers. */
	s = "5\r\nhello\r\n0\r\nX-Sum: abc\r\nExpires:\r\nY: a b\tc\r\n\r\nNEXT";
	check_chunked_ok(s, "hello", strlen(s) - 4);

	/* Sticky states. */
	xfer_chunked_t c;
	size_t consumed;
	const char *d;
	size_t dl;
	xfer_chunked_init(&c);
	CHECK_EQ_INT(xfer_chunked_step(&c, "0\r\n\r\nX", 6, &consumed, &d, &dl), XFER_CHUNK_DONE);
	CHECK_EQ_INT(consumed, 5);
	CHECK_EQ_INT(xfer_chunked_step(&c, "X", 1, &consumed, &d, &dl), XFER_CHUNK_DONE);
	CHECK_EQ_INT(consumed, 0);
	xfer_chunked_init(&c);
	CHECK_EQ_INT(xfer_chunked_step(&c, "x", 1, &consumed, &d, &dl), XFER_CHUNK_MALFORMED);
	CHECK_EQ_INT(xfer_chunked_step(&c, "0\r\n\r\n", 5, &consumed, &d, &dl), XFER_CHUNK_MALFORMED);
	CHECK_EQ_INT(consumed, 0);
	xfer_chunked_init(&c);
	CHECK_EQ_INT(xfer_chunked_step(&c, "", 0, &consumed, &d, &dl), XFER_CHUNK_AGAIN);
	CHECK_EQ_INT(consumed, 0);
	CHECK(d == NULL && dl == 0);

	/* Data is handed out as far as it goes, framing bytes consumed with it. */
	xfer_chunked_init(&c);
	CHECK_EQ_INT(xfer_chunked_step(&c, "a\r\n01234", 8, &consumed, &d, &dl), XFER_CHUNK_DATA);
	CHECK_EQ_INT(consumed, 8);
	CHECK(dl == 5 && memcmp(d, "01234", 5) == 0);
	CHECK_EQ_INT(xfer_chunked_step(&c, "56789\r", 6, &consumed, &d, &dl), XFER_CHUNK_DATA);
	CHECK_EQ_INT(consumed, 5);
	CHECK_EQ_INT(xfer_chunked_step(&c, "\r", 1, &consumed, &d, &dl), XFER_CHUNK_AGAIN);
	CHECK_EQ_INT(consumed, 1);

	/* The largest chunk size is accepted (the body just goes on). */
	xfer_chunked_init(&c);
	CHECK_EQ_INT(xfer_chunked_step(&c, "7fffffffffffffff\r\nab", 20, &consumed, &d, &dl), XFER_CHUNK_DATA);
	CHECK(c.remaining == UINT64_C(0x7fffffffffffffff) - 2);
	xfer_chunked_init(&c);
	CHECK_EQ_INT(xfer_chunked_step(&c, "000000000000000F\r\n", 18, &consumed, &d, &dl), XFER_CHUNK_AGAIN);
	CHECK_EQ_INT(c.remaining, 15);
}

static void test_chunked_errors(void)
{
	static const char *bad[] = {
		"\r\nhello\r\n0\r\n\r\n",                /* empty size */
		"5\nhello\r\n0\r\n\r\n",                 /* bare LF after size */
		"5\r\nhello\n0\r\n\r\n",                 /* bare LF after data */
		"5\r\nhelloX\r\n0\r\n\r\n",              /* data longer than size */
		"5\r\nhello\rX0\r\n\r\n",                /* CR not followed by LF */
		"5\rhello\r\n0\r\n\r\n",
		"g\r\n",
		"-1\r\n",
		"+1\r\n",
		"0x5\r\nhello\r\n0\r\n\r\n",
		" 5\r\nhello\r\n0\r\n\r\n",
		"5 \r\nhello\r\n0\r\n\r\n",              /* BWS not before ';' */
		"5 x\r\nhello\r\n0\r\n\r\n",
		"5;a\x01\r\nhello\r\n0\r\n\r\n",         /* control byte in extension */
		"5;a\nhello\r\n0\r\n\r\n",               /* bare LF in extension */
		"5;a\rb\r\nhello\r\n0\r\n\r\n",          /* bare CR in extension */
		"00000000000000005\r\nhello\r\n0\r\n\r\n", /* 17 hex digits */
		"8000000000000000\r\n",                  /* 2^63 */
		"ffffffffffffffff\r\n",
		"10000000000000000\r\n",
		"0\r\n\n",                               /* bare LF ending the body */
		"0\n\r\n",
		"0\r\nX: a\nY: b\r\n\r\n",               /* bare LF in trailer */
		"0\r\nX: a\r\n b\r\n\r\n",               /* obs-fold in trailer */
		"0\r\nX a\r\n\r\n",                      /* trailer without colon */
		"0\r\n: a\r\n\r\n",
		"0\r\nX: a\x01\r\n\r\n",
		"0\r\nX: a\rb\r\n\r\n",
		"0\r\n\rX",
	};
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++)
		check_chunked_bad(bad[i]);
	/* NUL in the data-free parts. */
	char body[16];
	size_t bl, used;
	static const char nul[] = "5;\0\r\nhello\r\n0\r\n\r\n";
	CHECK_EQ_INT(decode(nul, sizeof(nul) - 1, NULL, 0, body, &bl, &used), XFER_CHUNK_MALFORMED);

	/* Caps on one line and on all trailers. */
	static char big[XFER_CHUNK_TRAILER_MAX * 2];
	size_t o = (size_t)sprintf(big, "1;");
	memset(big + o, 'x', XFER_CHUNK_LINE_MAX - o);
	o = XFER_CHUNK_LINE_MAX;
	o += (size_t)sprintf(big + o, "\r\na\r\n0\r\n\r\n");
	char out[16];
	CHECK_EQ_INT(decode(big, o, NULL, 0, out, &bl, &used), XFER_CHUNK_DONE);
	o = (size_t)sprintf(big, "1;");
	memset(big + o, 'x', XFER_CHUNK_LINE_MAX + 1 - o);
	o = XFER_CHUNK_LINE_MAX + 1;
	o += (size_t)sprintf(big + o, "\r\na\r\n0\r\n\r\n");
	CHECK_EQ_INT(decode(big, o, NULL, 0, out, &bl, &used), XFER_CHUNK_MALFORMED);

	o = (size_t)sprintf(big, "0\r\n");
	while (o < XFER_CHUNK_TRAILER_MAX + 100)
		o += (size_t)sprintf(big + o, "X-Filler: 0123456789012345678901234567890123456789\r\n");
	o += (size_t)sprintf(big + o, "\r\n");
	CHECK_EQ_INT(decode(big, o, NULL, 0, out, &bl, &used), XFER_CHUNK_MALFORMED);
	o = (size_t)sprintf(big, "0\r\nX: ");
	memset(big + o, 'v', XFER_CHUNK_LINE_MAX + 10);
	o += XFER_CHUNK_LINE_MAX + 10;
	o += (size_t)sprintf(big + o, "\r\n\r\n");
	CHECK_EQ_INT(decode(big, o, NULL, 0, out, &bl, &used), XFER_CHUNK_MALFORMED);
}

int main(void)
{
	test_simple();
	test_values();
	test_line_ends();
	test_request_line_errors();
	test_versions();
	test_field_errors();
	test_framing();
	test_incremental();
	test_pipelined();
	test_limits();
	test_find();
	test_content_length();
	test_has_token();
	test_split_absolute();
	test_chunked();
	test_chunked_errors();
	return check_report();
}
