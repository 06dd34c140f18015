/* HTTP/1.1 request parsing: pure functions over bytes (RFC 9112).
 * No allocation, no I/O, no side effect on failure; every slice in a result
 * points into the caller's input buffer. */
#ifndef XFER_H1_PARSE_H
#define XFER_H1_PARSE_H

#include "../server/base.h"

#define XFER_H1_MAX_HEADERS 64

/* Results of xfer_h1_parse_request (negative) */
enum {
	XFER_H1_AGAIN = 0,         /* head incomplete: read more */
	XFER_H1_MALFORMED = -1,    /* 400 and close */
	XFER_H1_TOO_LARGE = -2,    /* header fields past max_head, or too many of them: 431 */
	XFER_H1_BAD_VERSION = -3,  /* not HTTP/1.0 or HTTP/1.1: 505 */
	XFER_H1_URI_TOO_LONG = -4, /* the request line does not end within max_head: 414 */
};

typedef struct xfer_h1_header {
	wf_slice_t name;  /* token, as received (compare case-insensitively) */
	wf_slice_t value; /* leading/trailing whitespace removed */
} xfer_h1_header_t;

typedef struct xfer_h1_request {
	wf_slice_t method; /* token */
	wf_slice_t target; /* request-target, raw (origin-form usually) */
	int minor;         /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
	size_t nheaders;
	xfer_h1_header_t headers[XFER_H1_MAX_HEADERS];
} xfer_h1_request_t;

/* Parses one request head (request line + header fields + empty line).
 * Returns the number of bytes the head used (> 0), XFER_H1_AGAIN if the head
 * is not complete yet and still within max_head, or a negative error.
 * Strict: CRLF line endings (a bare LF is tolerated as a line end, a bare CR is
 * not), no whitespace before a header's colon, no obs-fold, no control bytes
 * in values, tokens per RFC 9110. Leading empty lines before the request line
 * are skipped (RFC 9112 2.2).
 * Framing is checked here too, because xfer_h1_header_find sees only the first
 * of repeated fields: MALFORMED for an invalid Content-Length, several
 * Content-Length fields that disagree, more than one Transfer-Encoding field,
 * Transfer-Encoding with Content-Length, Transfer-Encoding in HTTP/1.0, or more
 * than one Host. Left to the caller: a missing Host in HTTP/1.1 (400) and a
 * Transfer-Encoding other than "chunked" (501, or 400 if chunked is not last).
 * Errors in a complete request line are reported before the head is complete;
 * errors in field lines once their line is complete.
 * On a return <= 0, *out may have been written and means nothing; the input is
 * never modified. The parser keeps no state, so each call re-reads the head
 * from the start: the work per call is bounded by max_head, and a caller fed
 * one byte at a time may skip calls until a '\n' or the max_head-th byte arrives. */
ssize_t xfer_h1_parse_request(const char *buf, size_t len, size_t max_head, xfer_h1_request_t *out);

/* The first header with this name (case-insensitive), or NULL. */
const xfer_h1_header_t *xfer_h1_header_find(const xfer_h1_request_t *req, const char *name);

/* Content-Length value: digits only, no sign, no overflow past 2^63-1.
 * A list of identical values ("5, 5") is accepted as RFC 9110 allows.
 * Returns WF_OK and sets *out, or WF_ERR. */
int xfer_h1_parse_content_length(wf_slice_t value, uint64_t *out);

/* True if the comma-separated header value contains this token (case-insensitive),
 * e.g. Connection: keep-alive, close. */
int xfer_h1_has_token(wf_slice_t value, const char *token);

/* A request target in absolute form (RFC 9112 3.2.2: "https://host:port/p?q",
 * the scheme http or https in any case): 1 with *authority ("host:port",
 * never empty, no '@') and *path (from its '/' on, or "" when it has none:
 * the caller takes "/") as slices of target; 0 when target is not in that
 * form (the origin form "/p" among them), with nothing written; WF_ERR for
 * one that is but is malformed (no authority, userinfo in it, or a query
 * with no path). */
int xfer_h1_split_absolute(wf_slice_t target, wf_slice_t *authority, wf_slice_t *path);

/* Chunked transfer coding decoder (RFC 9112 7.1), a resumable state machine.
 * Chunk extensions are skipped; trailer fields are skipped.
 * The size line and trailers are capped (XFER_CHUNK_LINE_MAX bytes per line,
 * XFER_CHUNK_TRAILER_MAX bytes of trailers in all). */
#define XFER_CHUNK_LINE_MAX 4096
#define XFER_CHUNK_TRAILER_MAX 8192

enum {
	XFER_CHUNK_DATA = 1,       /* *data, *data_len: body bytes (inside the input) */
	XFER_CHUNK_AGAIN = 0,      /* all input consumed, need more */
	XFER_CHUNK_DONE = 2,       /* last chunk and trailers consumed: body complete */
	XFER_CHUNK_MALFORMED = -1, /* 400 and close */
};

typedef struct xfer_chunked {
	int state;          /* private */
	uint64_t remaining; /* private: bytes left in the current chunk */
	size_t line_len;    /* private: bytes of the current size/trailer line seen */
	size_t trailer_len; /* private */
} xfer_chunked_t;

void xfer_chunked_init(xfer_chunked_t *c);
/* Consumes a prefix of in[0..len): sets *consumed. Returns XFER_CHUNK_DATA with
 * (*data, *data_len) a sub-slice of the consumed input carrying body bytes,
 * XFER_CHUNK_AGAIN when the input is used up without data, XFER_CHUNK_DONE at the
 * end of the body (bytes after it are not consumed: they belong to the next
 * request), or XFER_CHUNK_MALFORMED. Call repeatedly until AGAIN or DONE.
 * Body line ends must be CRLF (a bare LF is MALFORMED, unlike in the head).
 * chunk-size is 1-16 hex digits, at most 2^63-1; whitespace after it is allowed
 * only before a ';' extension. Trailer lines must look like "name:value".
 * After DONE or MALFORMED, further calls return the same and consume nothing. */
int xfer_chunked_step(xfer_chunked_t *c, const char *in, size_t len, size_t *consumed,
		      const char **data, size_t *data_len);

#endif
