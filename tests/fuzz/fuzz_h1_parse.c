/* Fuzz target: HTTP/1 request head parser, Content-Length parser, and the
 * chunked decoder. Beyond "no crash", it checks properties a caller relies on:
 * slices stay inside the head, a complete head is AGAIN at every shorter
 * length, and the chunked decoder's result does not depend on how the input
 * was split. */
#include "transfer/h1_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_h1_parse: invariant broken: %s\n", what);
	abort();
}

static void check_slice(wf_slice_t s, const char *buf, ssize_t n)
{
	if (s.len && (s.ptr < buf || s.ptr + s.len > buf + n))
		fail("slice outside the head");
}

static void fuzz_head(const char *buf, size_t size)
{
	xfer_h1_request_t req;
	ssize_t n = xfer_h1_parse_request(buf, size, MAX_HEAD, &req);
	if (n == XFER_H1_AGAIN && size >= MAX_HEAD)
		fail("AGAIN with max_head bytes in hand");
	if ((n == XFER_H1_URI_TOO_LONG || n == XFER_H1_TOO_LARGE) && size < MAX_HEAD &&
	    (n == XFER_H1_URI_TOO_LONG || !memchr(buf, ':', size)))
		fail("too long before max_head bytes");
	if (n <= 0)
		return;
	if ((size_t)n > size || n > MAX_HEAD)
		fail("head longer than the input");
	if (!req.method.len || !req.target.len || (req.minor != 0 && req.minor != 1) ||
	    req.nheaders > XFER_H1_MAX_HEADERS)
		fail("bad request fields");
	check_slice(req.method, buf, n);
	check_slice(req.target, buf, n);
	wf_slice_t authority, path;
	int form = xfer_h1_split_absolute(req.target, &authority, &path);
	if (form == 1) {
		/* Both inside the target, the authority never empty nor holding
		 * userinfo, the path empty or from its '/' to the target's end. */
		check_slice(authority, req.target.ptr, (ssize_t)req.target.len);
		check_slice(path, req.target.ptr, (ssize_t)req.target.len);
		if (!authority.len || memchr(authority.ptr, '@', authority.len) ||
		    path.ptr + path.len != req.target.ptr + req.target.len || (path.len && path.ptr[0] != '/'))
			fail("absolute-form split");
	} else if (form != 0 && form != WF_ERR) {
		fail("absolute-form result");
	}
	for (size_t i = 0; i < req.nheaders; i++) {
		const xfer_h1_header_t *h = &req.headers[i];
		check_slice(h->name, buf, n);
		check_slice(h->value, buf, n);
		if (!h->name.len)
			fail("empty header name");
		for (size_t k = 0; k < h->value.len; k++) {
			unsigned char c = (unsigned char)h->value.ptr[k];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				fail("control byte in a value");
		}
		uint64_t cl;
		int rc = xfer_h1_parse_content_length(h->value, &cl);
		if (rc == WF_OK && cl > INT64_MAX)
			fail("Content-Length above 2^63-1");
		/* Framing is checked by the head parser: every Content-Length
		 * it lets through is valid. */
		if (rc != WF_OK && wf_slice_eq_ci(h->name, "content-length"))
			fail("accepted a head with a bad Content-Length");
		(void)xfer_h1_has_token(h->value, "close");
		if (!xfer_h1_header_find(&req, "x") && wf_slice_eq_ci(h->name, "X"))
			fail("header_find missed a header");
	}

	/* A head that parses at n is incomplete at any shorter length. */
	xfer_h1_request_t again;
	if (xfer_h1_parse_request(buf, (size_t)n - 1, MAX_HEAD, &again) != XFER_H1_AGAIN ||
	    xfer_h1_parse_request(buf, (size_t)n / 2, MAX_HEAD, &again) != XFER_H1_AGAIN)
		fail("prefix of a complete head is not AGAIN");
	/* Bytes after the head do not change the head. */
	if (xfer_h1_parse_request(buf, (size_t)n, MAX_HEAD, &again) != n)
		fail("head length depends on what follows");
}

typedef struct decoded {
	int rc;
	size_t used, body_len;
} decoded_t;

/* Runs the decoder over in[0..len), pieces at most `piece` long when piece > 0,
 * else cut where the xorshift sequence from `seed` says. */
static decoded_t run_chunked(const char *in, size_t len, size_t piece, uint32_t seed, char *body)
{
	xfer_chunked_t c;
	decoded_t r = { XFER_CHUNK_AGAIN, 0, 0 };
	size_t off = 0;
	xfer_chunked_init(&c);
	while (off < len) {
		size_t n;
		if (piece) {
			n = piece;
		} else {
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			n = seed % 17;
		}
		size_t stop = len - off < n ? len : off + n;
		for (;;) {
			size_t consumed, dl;
			const char *d;
			r.rc = xfer_chunked_step(&c, in + off, stop - off, &consumed, &d, &dl);
			if (consumed > stop - off)
				fail("chunked consumed past its input");
			if (r.rc == XFER_CHUNK_DATA) {
				if (!dl || d < in + off || d + dl > in + off + consumed)
					fail("chunk data outside the consumed input");
				memcpy(body + r.body_len, d, dl);
				r.body_len += dl;
			} else if (dl || d) {
				fail("data without XFER_CHUNK_DATA");
			}
			off += consumed;
			if (r.rc == XFER_CHUNK_DONE || r.rc == XFER_CHUNK_MALFORMED) {
				r.used = off;
				return r;
			}
			if (r.rc == XFER_CHUNK_AGAIN) {
				if (off != stop)
					fail("AGAIN without consuming everything");
				break;
			}
		}
	}
	r.used = off;
	return r;
}

static void fuzz_chunked(const uint8_t *data, size_t size)
{
	if (!size)
		return;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	char *b1 = malloc(len + 1), *b2 = malloc(len + 1), *b3 = malloc(len + 1);
	decoded_t whole = run_chunked(in, len, len ? len : 1, 0, b1);
	decoded_t split = run_chunked(in, len, 0, data[0] | 0x100u, b2);
	decoded_t bytes = run_chunked(in, len, 1, 0, b3);
	if (whole.rc != split.rc || whole.rc != bytes.rc)
		fail("chunked result depends on the split");
	/* Body bytes are handed out before any later byte is looked at, so even
	 * a failed body yields the same bytes first; only where decoding stopped
	 * differs after MALFORMED (the start of the failing piece). */
	if (whole.body_len != split.body_len || whole.body_len != bytes.body_len ||
	    memcmp(b1, b2, whole.body_len) != 0 || memcmp(b1, b3, whole.body_len) != 0)
		fail("chunked body depends on the split");
	if (whole.rc != XFER_CHUNK_MALFORMED && (whole.used != split.used || whole.used != bytes.used))
		fail("chunked length depends on the split");
	free(b3);
	free(b2);
	free(b1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_head((const char *)data, size);
	fuzz_chunked(data, size);
	return 0;
}
