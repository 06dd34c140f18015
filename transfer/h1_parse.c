/* HTTP/1.1 request head parser and chunked decoder: see h1_parse.h.
 * Strict on purpose: every leniency a front proxy does not share is a request
 * smuggling vector, so anything RFC 9112 lets us refuse, we refuse. */
#include "h1_parse.h"

#include <string.h>

/* Byte classes, one table lookup per byte on the hot path. */
#define C_TCHAR 1 /* token (RFC 9110 5.6.2): methods and field names */
#define C_VCHAR 2 /* visible ASCII */
#define C_FIELD 4 /* field-value byte: VCHAR, SP, HTAB, obs-text; no CR, LF, NUL, DEL */

static const unsigned char cls[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	4, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,
	6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* A request-target is visible ASCII, and raw UTF-8 too: RFC 9112 wants
 * non-ASCII percent-encoded, but a client that sends it raw means the same
 * path, HTTP/2 carries it so, and the path rules (transfer/url.c) judge
 * the decoded bytes alike either way. Framing never depends on it: the
 * target ends at its SP whatever it holds. */
static inline int is_target(unsigned char c)
{
	return (cls[c] & C_VCHAR) || c >= 0x80;
}

static inline int is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static inline wf_slice_t mkslice(const unsigned char *a, const unsigned char *b)
{
	return (wf_slice_t){ (const char *)a, (size_t)(b - a) };
}

/* Running out of bytes is "read more" until max_head bytes are in hand; from
 * then on the head can no longer fit. */
static ssize_t head_incomplete(size_t len, size_t max_head)
{
	return len >= max_head ? XFER_H1_TOO_LARGE : XFER_H1_AGAIN;
}

/* The same within the request line: what does not fit there is its target
 * (the method and version are a few bytes), so the answer is 414, as
 * nginx gives for a request line past its buffer; 431 is for the fields. */
static ssize_t line_incomplete(size_t len, size_t max_head)
{
	return len >= max_head ? XFER_H1_URI_TOO_LONG : XFER_H1_AGAIN;
}

/* The framing headers a smuggler plays with. They are checked here, not left
 * to the caller, because xfer_h1_header_find only sees the first of several. */
typedef struct framing {
	const xfer_h1_header_t *host, *te;
	int have_cl;
	uint64_t cl;
} framing_t;

static int framing_note(framing_t *f, const xfer_h1_header_t *h)
{
	switch (h->name.len) {
	case 4:
		if (!wf_slice_eq_ci(h->name, "host"))
			return WF_OK;
		/* RFC 9112 3.2: more than one Host is a 400. */
		if (f->host)
			return WF_ERR;
		f->host = h;
		return WF_OK;
	case 14: {
		if (!wf_slice_eq_ci(h->name, "content-length"))
			return WF_OK;
		uint64_t v;
		if (xfer_h1_parse_content_length(h->value, &v) != WF_OK)
			return WF_ERR;
		/* RFC 9110 8.6: repeats are fine only when they agree. */
		if (f->have_cl && v != f->cl)
			return WF_ERR;
		f->have_cl = 1;
		f->cl = v;
		return WF_OK;
	}
	case 17:
		if (!wf_slice_eq_ci(h->name, "transfer-encoding"))
			return WF_OK;
		/* Split lists would hide a coding from xfer_h1_header_find; we only
		 * ever decode "chunked", which needs a single line. */
		if (f->te)
			return WF_ERR;
		f->te = h;
		return WF_OK;
	default:
		return WF_OK;
	}
}

/* The whole head is re-parsed on each call (the API keeps no state between
 * calls), so the work per call is bounded by max_head, never by len. */
ssize_t xfer_h1_parse_request(const char *buf, size_t len, size_t max_head, xfer_h1_request_t *out)
{
	const unsigned char *start = (const unsigned char *)buf;
	const unsigned char *p = start;
	const unsigned char *end = p + (len < max_head ? len : max_head);
	framing_t fr = { 0 };

	/* RFC 9112 2.2: a client may send stray CRLFs after a body; ignore
	 * them before the request line. */
	for (;;) {
		if (p == end)
			return head_incomplete(len, max_head);
		if (*p == '\n') {
			p++;
		} else if (*p == '\r') {
			if (p + 1 == end)
				return head_incomplete(len, max_head);
			if (p[1] != '\n')
				return XFER_H1_MALFORMED;
			p += 2;
		} else {
			break;
		}
	}

	/* Request line, "method SP target SP version", exactly one SP each.
	 * Scanned byte by byte rather than with memchr so that garbage (a TLS
	 * hello on the plain port) is refused at its first byte, not after
	 * max_head bytes. */
	const unsigned char *m = p;
	while (p < end && (cls[*p] & C_TCHAR))
		p++;
	if (p == end)
		return line_incomplete(len, max_head);
	if (*p != ' ' || p == m)
		return XFER_H1_MALFORMED;
	out->method = mkslice(m, p);
	p++;

	const unsigned char *t = p;
	while (p < end && is_target(*p))
		p++;
	if (p == end)
		return line_incomplete(len, max_head);
	if (*p != ' ' || p == t)
		return XFER_H1_MALFORMED;
	out->target = mkslice(t, p);
	p++;

	/* "HTTP/x.y" is 8 bytes: look at no more than 9 before judging. */
	const unsigned char *v = p;
	size_t room = (size_t)(end - p) < 9 ? (size_t)(end - p) : 9;
	while (p < v + room && (cls[*p] & C_VCHAR))
		p++;
	if (p - v > 8)
		return XFER_H1_MALFORMED;
	const unsigned char *ve = p;
	if (p == end)
		return line_incomplete(len, max_head);
	if (*p == '\r') {
		if (p + 1 == end)
			return line_incomplete(len, max_head);
		if (p[1] != '\n')
			return XFER_H1_MALFORMED;
		p += 2;
	} else if (*p == '\n') {
		p++;
	} else {
		return XFER_H1_MALFORMED;
	}
	if (ve - v != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
	    v[7] < '0' || v[7] > '9')
		return XFER_H1_MALFORMED;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return XFER_H1_BAD_VERSION;
	out->minor = v[7] - '0';

	/* Field lines up to the empty line. */
	out->nheaders = 0;
	for (;;) {
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
		if (!lf)
			return head_incomplete(len, max_head);
		const unsigned char *eol = lf;
		if (eol > p && eol[-1] == '\r')
			eol--;
		if (eol == p) {
			p = lf + 1;
			break;
		}

		/* A leading SP/HTAB (obs-fold) or a space before the colon
		 * stops the name scan short of ':' and is refused. */
		const unsigned char *n = p;
		while (p < eol && (cls[*p] & C_TCHAR))
			p++;
		if (p == n || p == eol || *p != ':')
			return XFER_H1_MALFORMED;
		const unsigned char *ne = p++;
		while (p < eol && is_ows(*p))
			p++;
		const unsigned char *vs = p;
		/* A bare CR, NUL or other control byte anywhere in the value
		 * fails here: only the CR right before LF was cut off. */
		for (; p < eol; p++)
			if (!(cls[*p] & C_FIELD))
				return XFER_H1_MALFORMED;
		const unsigned char *vend = eol;
		while (vend > vs && is_ows(vend[-1]))
			vend--;

		if (out->nheaders == XFER_H1_MAX_HEADERS)
			return XFER_H1_TOO_LARGE;
		xfer_h1_header_t *h = &out->headers[out->nheaders++];
		h->name = mkslice(n, ne);
		h->value = mkslice(vs, vend);
		if (framing_note(&fr, h) != WF_OK)
			return XFER_H1_MALFORMED;
		p = lf + 1;
	}

	/* RFC 9112 6.1: Content-Length beside Transfer-Encoding, or any
	 * Transfer-Encoding from an HTTP/1.0 client, leaves the framing in doubt. */
	if (fr.te && (fr.have_cl || out->minor == 0))
		return XFER_H1_MALFORMED;
	return (ssize_t)(p - start);
}

const xfer_h1_header_t *xfer_h1_header_find(const xfer_h1_request_t *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (wf_slice_eq_ci(req->headers[i].name, name))
			return &req->headers[i];
	return NULL;
}

int xfer_h1_parse_content_length(wf_slice_t value, uint64_t *out)
{
	if (!value.len)
		return WF_ERR;
	const char *p = value.ptr, *end = value.ptr + value.len;
	uint64_t first = 0;
	int have = 0;
	for (;;) {
		while (p < end && is_ows((unsigned char)*p))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return WF_ERR;
		uint64_t v = 0;
		while (p < end && *p >= '0' && *p <= '9') {
			unsigned d = (unsigned)(*p++ - '0');
			if (v > (UINT64_C(0x7fffffffffffffff) - d) / 10)
				return WF_ERR;
			v = v * 10 + d;
		}
		while (p < end && is_ows((unsigned char)*p))
			p++;
		if (have && v != first)
			return WF_ERR;
		first = v;
		have = 1;
		if (p == end)
			break;
		if (*p++ != ',')
			return WF_ERR;
	}
	*out = first;
	return WF_OK;
}

int xfer_h1_split_absolute(wf_slice_t target, wf_slice_t *authority, wf_slice_t *path)
{
	size_t skip;
	if (target.len >= 7 && wf_slice_eq_ci((wf_slice_t){ target.ptr, 7 }, "http://"))
		skip = 7;
	else if (target.len >= 8 && wf_slice_eq_ci((wf_slice_t){ target.ptr, 8 }, "https://"))
		skip = 8;
	else
		return 0;
	const char *a = target.ptr + skip, *end = target.ptr + target.len, *p = a;
	while (p < end && *p != '/' && *p != '?' && *p != '#')
		p++;
	if (p == a || memchr(a, '@', (size_t)(p - a)) || (p < end && *p != '/'))
		return WF_ERR; /* no host, userinfo, or a query with no path */
	*authority = (wf_slice_t){ a, (size_t)(p - a) };
	*path = (wf_slice_t){ p, (size_t)(end - p) };
	return 1;
}

int xfer_h1_has_token(wf_slice_t value, const char *token)
{
	if (!value.len || !*token)
		return 0;
	const char *p = value.ptr, *end = value.ptr + value.len;
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		if (wf_slice_eq_ci(wf_slice_trim((wf_slice_t){ p, (size_t)(e - p) }), token))
			return 1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* Chunked decoder states. Line ends inside the body must be CRLF: unlike the
 * head, a bare LF here is refused, since chunk framing that two parsers read
 * differently is exactly how bodies get smuggled. */
enum {
	CH_SIZE_START,    /* first hex digit of chunk-size */
	CH_SIZE,          /* more hex digits, or what ends them */
	CH_SIZE_BWS,      /* whitespace after the size: only ';' may follow */
	CH_EXT,           /* chunk extensions, skipped up to CR */
	CH_SIZE_LF,       /* LF closing the size line */
	CH_DATA,          /* chunk bytes, handed out as they come */
	CH_DATA_CR,       /* CRLF after the chunk bytes */
	CH_DATA_LF,
	CH_TRAILER_START, /* start of a trailer line, or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF,        /* LF of the empty line ending the body */
	CH_DONE,
	CH_ERROR,
};

void xfer_chunked_init(xfer_chunked_t *c)
{
	c->state = CH_SIZE_START;
	c->remaining = 0;
	c->line_len = 0;
	c->trailer_len = 0;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int xfer_chunked_step(xfer_chunked_t *c, const char *in, size_t len, size_t *consumed,
		      const char **data, size_t *data_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;

	*data = NULL;
	*data_len = 0;
	*consumed = 0;
	if (c->state == CH_DONE)
		return XFER_CHUNK_DONE;
	if (c->state == CH_ERROR)
		return XFER_CHUNK_MALFORMED;

	while (i < len) {
		if (c->state == CH_DATA) {
			size_t n = len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			*data = in + i;
			*data_len = n;
			c->remaining -= n;
			if (!c->remaining)
				c->state = CH_DATA_CR;
			*consumed = i + n;
			return XFER_CHUNK_DATA;
		}

		unsigned char ch = s[i++];
		if (c->state >= CH_TRAILER_START) {
			if (++c->trailer_len > XFER_CHUNK_TRAILER_MAX)
				goto bad;
		}
		/* The line caps count the bytes before the CR. */
		if (ch != '\r' &&
		    (c->state <= CH_EXT || c->state == CH_TRAILER_NAME || c->state == CH_TRAILER_VALUE)) {
			if (++c->line_len > XFER_CHUNK_LINE_MAX)
				goto bad;
		}

		switch (c->state) {
		case CH_SIZE_START: {
			int d = hexval(ch);
			if (d < 0)
				goto bad;
			c->remaining = (uint64_t)d;
			c->state = CH_SIZE;
			break;
		}
		case CH_SIZE: {
			int d = hexval(ch);
			if (d >= 0) {
				/* line_len counts the digits so far, leading
				 * zeros included: 16 of them is the cap. */
				if (c->line_len > 16 || c->remaining > (UINT64_C(0x7fffffffffffffff) >> 4))
					goto bad;
				c->remaining = c->remaining << 4 | (uint64_t)d;
			} else if (ch == ';') {
				c->state = CH_EXT;
			} else if (is_ows(ch)) {
				c->state = CH_SIZE_BWS;
			} else if (ch == '\r') {
				c->state = CH_SIZE_LF;
			} else {
				goto bad;
			}
			break;
		}
		case CH_SIZE_BWS:
			if (ch == ';')
				c->state = CH_EXT;
			else if (!is_ows(ch))
				goto bad;
			break;
		case CH_EXT:
			/* A quoted-string cannot hold CR, so the first CR
			 * ends the line whatever the extension says. */
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (!(cls[ch] & C_FIELD))
				goto bad;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				goto bad;
			c->line_len = 0;
			c->state = c->remaining ? CH_DATA : CH_TRAILER_START;
			break;
		case CH_DATA_CR:
			if (ch != '\r')
				goto bad;
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				goto bad;
			c->state = CH_SIZE_START;
			break;
		case CH_TRAILER_START:
			if (ch == '\r') {
				c->state = CH_END_LF;
			} else if (cls[ch] & C_TCHAR) {
				c->line_len = 1;
				c->state = CH_TRAILER_NAME;
			} else {
				/* obs-fold, a bare LF, an empty name */
				goto bad;
			}
			break;
		case CH_TRAILER_NAME:
			if (ch == ':')
				c->state = CH_TRAILER_VALUE;
			else if (!(cls[ch] & C_TCHAR))
				goto bad;
			break;
		case CH_TRAILER_VALUE:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (!(cls[ch] & C_FIELD))
				goto bad;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				goto bad;
			c->line_len = 0;
			c->state = CH_TRAILER_START;
			break;
		case CH_END_LF:
			if (ch != '\n')
				goto bad;
			c->state = CH_DONE;
			*consumed = i;
			return XFER_CHUNK_DONE;
		default:
			goto bad;
		}
	}
	*consumed = i;
	return XFER_CHUNK_AGAIN;
bad:
	c->state = CH_ERROR;
	*consumed = 0;
	return XFER_CHUNK_MALFORMED;
}
