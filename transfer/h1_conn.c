/* HTTP/1.1 over a TLS connection: a resumable state machine
 *   READ_HEAD -> (AUTHENTICATING) -> (READ_BODY) -> (FINISHING) -> WRITE -> READ_HEAD ... -> close
 * where AUTHENTICATING and FINISHING wait for work on the offload pool (a
 * password check; an upload's fsync and rename; a folder's listing; a
 * DELETE's or MKCOL's change and folder fsync). While
 * they wait, what the client sends is only buffered, so that its leaving is
 * seen at once (watch_departure). Keep-alive, pipelining (requests are
 * answered in order, one at a time), chunked and sized request bodies,
 * 100-continue, and the slowloris guards. */
#include "exchange.h"
#include "h1_parse.h"
#include "http_date.h"
#include "https.h"
#include "url.h"
#include "../server/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum h1_state {
	H1_READ_HEAD,
	H1_READ_BODY,
	H1_FINISHING,      /* the upload is being made durable, or the folder listed, off the loop */
	H1_AUTHENTICATING, /* the password is being checked off the loop */
	H1_WRITE,
} h1_state_t;

typedef enum h1_timer {
	H1_TIMER_NONE,
	H1_TIMER_IDLE, /* between requests */
	H1_TIMER_HEAD, /* a head has begun arriving: it must be complete in time */
	H1_TIMER_XFER, /* a body is moving: it must keep moving */
} h1_timer_t;

typedef struct h1 {
	h1_state_t state;
	h1_timer_t timer;
	wf_buf_t in;  /* received plaintext not yet used */
	wf_buf_t out; /* response bytes not yet handed to TLS */
	xfer_exchange_t ex;
	bool ex_active;
	bool keep_alive;
	bool http10;  /* the request being answered is HTTP/1.0: keep-alive is said, not assumed */
	bool chunked;
	bool discarding; /* reading a body only to drop it */
	bool body_started;
	bool req_has_body, req_expect_continue; /* of the request being answered */
	xfer_chunked_t chunk;
	uint64_t body_left; /* sized body bytes still to come */
	bool body_from_wire; /* the response body still has bytes to produce */
	unsigned nrequests;
	unsigned failed_logins;
	ev_tstamp last_progress;
	/* limits.min_rate: the body bytes moved since rate_from, judged once
	 * send_timeout has passed since then (h1_on_timeout). The window
	 * starts again with each stall timer (set_timer), so a wait of ours
	 * in between (a password check, an fsync) never counts. */
	ev_tstamp rate_from;
	uint64_t rate_bytes;
	size_t head_seen;  /* bytes of in already looked at for the head in progress */
	bool line_seen;    /* its request line is complete (and was parsed) */
	ev_tstamp head_from; /* when the head in progress began (its first byte was there), 0: none */
} h1_t;

/* The parser reads the head from its start on every call, so a head sent in
 * many small records must not be parsed per record (quadratic in its size):
 * only once something can be decided. That is its request line (a bad one
 * is refused at once), its end (a blank line), or max_head bytes. */
static bool head_decidable(h1_t *h, size_t max_head)
{
	const char *p = wf_buf_head(&h->in);
	size_t n = wf_buf_size(&h->in), from = h->head_seen;
	if (n <= from)
		return false;
	h->head_seen = n;
	if (n >= max_head)
		return true;
	if (!h->line_seen && memchr(p + from, '\n', n - from)) {
		h->line_seen = true;
		return true;
	}
	/* A blank line, found from two bytes back: "\n\r\n" may span records. */
	for (size_t i = from > 2 ? from - 2 : 0; i + 1 < n; i++)
		if (p[i] == '\n' && (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')))
			return true;
	return false;
}

static void h1_close(wf_conn_t *c);
static int fill_in(wf_conn_t *c);

static h1_t *H(wf_conn_t *c)
{
	return c->proto_data;
}

static void set_timer(wf_conn_t *c, h1_timer_t mode)
{
	h1_t *h = H(c);
	h->last_progress = h->rate_from = ev_now(wf_conn_loop(c));
	h->rate_bytes = 0;
	if (h->timer == mode)
		return;
	h->timer = mode;
	const wf_config_t *cfg = c->cfg;
	double t = mode == H1_TIMER_IDLE ? cfg->limits.idle_timeout :
		   mode == H1_TIMER_HEAD ? cfg->limits.header_timeout :
		   mode == H1_TIMER_XFER ? cfg->limits.send_timeout : 0;
	wf_conn_set_timeout(c, t);
}

static void append_head(wf_conn_t *c, xfer_exchange_t *ex)
{
	h1_t *h = H(c);
	char date[XFER_HTTP_DATE_LEN];
	xfer_http_date_format((time_t)ev_now(wf_conn_loop(c)), date);
	wf_buf_printf(&h->out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: wharf\r\nX-Content-Type-Options: nosniff\r\n", ex->status,
		      xfer_status_reason(ex->status), date);
	for (size_t i = 0; i < ex->nfields; i++)
		wf_buf_printf(&h->out, "%s: %s\r\n", ex->fields[i].name, ex->fields[i].value);
	if (ex->status != 204 && ex->status != 304 && ex->status >= 200)
		wf_buf_printf(&h->out, "Content-Length: %" PRIu64 "\r\n", ex->content_length);
	if (ex->login_failed && ++h->failed_logins >= XFER_MAX_FAILED_LOGINS)
		ex->close_after = true; /* a password guesser gets a new handshake per few tries */
	if (ex->close_after)
		h->keep_alive = false;
	if (!h->keep_alive)
		wf_buf_append_str(&h->out, "Connection: close\r\n");
	else if (h->http10)
		wf_buf_append_str(&h->out, "Connection: keep-alive\r\n"); /* else a 1.0 client waits for our close */
	wf_buf_append_str(&h->out, "\r\n");
}

/* A response the exchange does not make: the request could not even be
 * parsed, or its body's framing broke. Its access-log line is the
 * exchange's when one is under way (it knows the user, method and path),
 * written once the answer is out; else it is written here, with the time
 * from the request's first byte. Either way it says what was sent. */
static void respond_raw(wf_conn_t *c, int status)
{
	h1_t *h = H(c);
	double now = ev_now(wf_conn_loop(c));
	char date[XFER_HTTP_DATE_LEN];
	xfer_http_date_format((time_t)now, date);
	char body[64];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status, xfer_status_reason(status));
	wf_buf_reset(&h->out);
	wf_buf_printf(&h->out,
		      "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: wharf\r\nX-Content-Type-Options: nosniff\r\n"
		      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		      status, xfer_status_reason(status), date, blen, body);
	h->keep_alive = false;
	h->body_from_wire = false;
	h->state = H1_WRITE;
	if (h->ex_active) {
		h->ex.status = status;
		h->ex.bytes_sent = (uint64_t)blen;
	} else {
		wf_log_access(c->peer, NULL, WF_SLICE("-"), WF_SLICE("-"), "HTTP/1.1", status, (uint64_t)blen,
			      h->head_from ? now - h->head_from : 0);
	}
	h->head_from = 0;
}

/* Off the loop: the password check, the upload's fsync and rename, the
 * folder's listing, a DELETE's or MKCOL's change. A queue of fsyncs is our delay, not the client's: no
 * stall timer. Reads go on only into h->in (watch_departure). */
static void wait_pool(wf_conn_t *c, h1_state_t state)
{
	h1_t *h = H(c);
	h->state = state;
	h->timer = H1_TIMER_NONE;
	wf_conn_set_timeout(c, 0);
}

/* The upload is complete and its fsync and rename run off the loop, or a
 * folder is being listed there, or a DELETE or MKCOL makes its change. */
static void finishing(wf_conn_t *c)
{
	wait_pool(c, H1_FINISHING);
}

/* While the request waits for the pool, the client's bytes are read into
 * h->in and left there: a pipelined request is parsed only after this
 * answer, as always. Reading is what shows a client that leaves (its end of
 * stream, close_notify or reset): the connection closes now, which cancels
 * the work (a listing stops at its next step) and logs 499, rather than
 * once the answer meets a closed socket. A client that only half-closes is
 * taken as gone too, as nginx does. Once h->in holds a head's worth, reads
 * pause until the answer: the leaving is then seen when it is written. */
static void watch_departure(wf_conn_t *c)
{
	h1_t *h = H(c);
	size_t max = (size_t)c->cfg->limits.max_header_bytes;
	while (wf_buf_size(&h->in) < max) {
		int f = fill_in(c);
		if (f == WF_AGAIN)
			return;
		if (f != WF_OK) {
			wf_log_debug("conn %llu %s: the client left while its request waited", (unsigned long long)c->id,
				     c->peer);
			h1_close(c);
			return;
		}
	}
	wf_conn_pause_read(c, true);
}

static void after_begin(wf_conn_t *c);

static void on_ready(xfer_exchange_t *ex, void *arg)
{
	wf_conn_t *c = arg;
	h1_t *h = H(c);
	if (h->state == H1_READ_BODY) {
		/* A listing (or a DELETE's change) came while its request's
		 * body is still being dropped: the answer goes out once the
		 * body is in. */
		return;
	}
	if (h->state == H1_AUTHENTICATING) {
		/* The exchange now knows what the request means: go on as if
		 * begin had just returned. */
		wf_conn_pause_read(c, false);
		after_begin(c);
		if (h->state != H1_FINISHING)
			set_timer(c, H1_TIMER_XFER);
		wf_conn_kick(c);
		return;
	}
	h->state = H1_WRITE;
	append_head(c, &h->ex);
	h->body_from_wire = !h->ex.head_only && h->ex.body_kind != XFER_BODY_NONE;
	wf_conn_pause_read(c, false);
	set_timer(c, H1_TIMER_XFER);
	wf_conn_kick(c);
}

/* The list fields, whose repeated lines are joined. */
enum { COND_IM, COND_INM, COND_IUS, COND_IMS, COND_ACCEPT, COND_N };

/* Another line of a field whose lines a recipient may combine (RFC 9110
 * 5.3: in order, with ", " between): *v is the value so far, a slice of
 * the head while there is one line, then of b. b holds less than the head
 * did (each line brought its name and line end too), so it stays within
 * max_header_bytes; WF_ERR only when memory is short. */
static int join_line(wf_buf_t *b, wf_slice_t *v, wf_slice_t line)
{
	if (!v->ptr) {
		*v = line;
		return WF_OK;
	}
	if (wf_buf_size(b) == 0 && wf_buf_append(b, v->ptr, v->len) != WF_OK) /* the first line's */
		return WF_ERR;
	if (wf_buf_append(b, ", ", 2) != WF_OK || wf_buf_append(b, line.ptr, line.len) != WF_OK)
		return WF_ERR;
	*v = wf_buf_slice(b);
	return WF_OK;
}

/* Turns a parsed head into an exchange; sets up body framing. */
static void start_request(wf_conn_t *c, const xfer_h1_request_t *req)
{
	h1_t *h = H(c);
	xfer_req_in_t in;
	memset(&in, 0, sizeof(in));
	in.method = req->method;
	in.target = req->target;
	in.proto = req->minor ? "HTTP/1.1" : "HTTP/1.0";
	h->keep_alive = req->minor == 1;
	h->http10 = req->minor == 0;
	bool have_cl = false, have_host = false, said_close = false;
	const xfer_h1_header_t *te = NULL;
	/* If-Match, If-None-Match, If-Unmodified-Since, If-Modified-Since,
	 * Accept: every line counts, joined (a list of dates is no date, and
	 * is ignored: RFC 9110 13.1.3, 13.1.4), as over HTTP/2 (h2_conn.c). */
	wf_slice_t *cond[COND_N] = { &in.if_match, &in.if_none_match, &in.if_unmodified_since,
				     &in.if_modified_since, &in.accept };
	static const char *const cond_names[COND_N] = { "if-match", "if-none-match", "if-unmodified-since",
							"if-modified-since", "accept" };
	/* Fields of one value: a second line is answered 400 (in.repeated). */
	wf_slice_t *single[] = { &in.authorization, &in.range, &in.if_range, &in.content_range };
	static const char *const single_names[] = { "authorization", "range", "if-range", "content-range" };
	wf_buf_t joined[COND_N];
	for (int k = 0; k < COND_N; k++)
		wf_buf_init(&joined[k], (size_t)c->cfg->limits.max_header_bytes);
	for (size_t i = 0; i < req->nheaders; i++) {
		const xfer_h1_header_t *f = &req->headers[i];
		wf_slice_t n = f->name;
		if (wf_slice_eq_ci(n, "content-length")) {
			uint64_t v;
			if (xfer_h1_parse_content_length(f->value, &v) != WF_OK || (have_cl && v != in.content_length)) {
				respond_raw(c, 400);
				goto out;
			}
			have_cl = true;
			in.content_length = v;
		} else if (wf_slice_eq_ci(n, "transfer-encoding")) {
			if (te) {
				respond_raw(c, 400);
				goto out;
			}
			te = f;
		} else if (wf_slice_eq_ci(n, "host")) {
			if (have_host) {
				respond_raw(c, 400);
				goto out;
			}
			have_host = true;
			in.host = f->value;
			/* RFC 9112 3.2: an invalid Host is a 400, even beside an
			 * absolute-form target, whose authority then stands for it. */
			if (!xfer_url_host_valid(f->value)) {
				respond_raw(c, 400);
				goto out;
			}
		} else if (wf_slice_eq_ci(n, "connection")) {
			/* close on any Connection line wins, whatever comes after */
			if (xfer_h1_has_token(f->value, "close"))
				said_close = true;
			else if (xfer_h1_has_token(f->value, "keep-alive"))
				h->keep_alive = true;
		} else if (wf_slice_eq_ci(n, "expect")) {
			if (!wf_slice_eq_ci(f->value, "100-continue")) {
				respond_raw(c, 417);
				goto out;
			}
			in.expect_continue = req->minor == 1;
		} else {
			for (size_t k = 0; k < sizeof(single) / sizeof(single[0]); k++) {
				if (!wf_slice_eq_ci(n, single_names[k]))
					continue;
				if (single[k]->ptr)
					in.repeated = single_names[k];
				*single[k] = f->value;
				break;
			}
			for (int k = 0; k < COND_N; k++) {
				if (!wf_slice_eq_ci(n, cond_names[k]))
					continue;
				if (join_line(&joined[k], cond[k], f->value) != WF_OK) {
					respond_raw(c, 500);
					goto out;
				}
				break;
			}
		}
	}
	if (said_close)
		h->keep_alive = false;
	/* The absolute form (a proxy's, or a client's that speaks it to
	 * origins): its authority is the host, whatever Host says (RFC 9112
	 * 3.2.2). */
	wf_slice_t authority, path;
	int form = xfer_h1_split_absolute(req->target, &authority, &path);
	if (form == WF_ERR || (form == 1 && !xfer_url_host_valid(authority))) {
		respond_raw(c, 400);
		goto out;
	}
	if (form == 1) {
		in.target = path.len ? path : WF_SLICE("/");
		in.host = authority;
		have_host = true;
	}
	if (req->minor == 1 && !have_host) {
		respond_raw(c, 400);
		goto out;
	}
	/* Both framings at once is the classic request-smuggling vector: refuse. */
	if (te && (have_cl || !wf_slice_eq_ci(te->value, "chunked") || req->minor == 0)) {
		respond_raw(c, te && !have_cl && req->minor == 1 ? 501 : 400);
		goto out;
	}
	/* Without either field a request has no body (RFC 9112 6.3), so a PUT
	 * from a client that means to send until it closes would replace the
	 * file with an empty one, and its bytes would read as the next request.
	 * A PUT must say its length, as nginx requires (411); an empty file is
	 * `Content-Length: 0`. What follows cannot be framed: the answer
	 * closes the connection. */
	if (!te && !have_cl && wf_slice_eq(req->method, "PUT")) {
		wf_log_info("conn %llu %s: PUT %.*s without Content-Length or chunked framing: 411",
			    (unsigned long long)c->id, c->peer, (int)(in.target.len < 200 ? in.target.len : 200),
			    in.target.ptr);
		respond_raw(c, 411);
		goto out;
	}
	h->chunked = te != NULL;
	h->body_left = in.content_length;
	in.has_body = h->chunked || in.content_length > 0;
	in.length_known = !h->chunked;
	if (h->chunked)
		xfer_chunked_init(&h->chunk);

	if (c->draining)
		h->keep_alive = false;
	if (++h->nrequests >= (unsigned)c->cfg->limits.max_requests_per_connection)
		h->keep_alive = false;

	xfer_exchange_init(&h->ex, c->cfg, c->peer, c->peer_addr, ev_now(wf_conn_loop(c)), c->worker, on_ready, c);
	h->ex_active = true;
	h->req_has_body = in.has_body;
	h->req_expect_continue = in.expect_continue;
	xfer_exchange_begin(&h->ex, &in); /* copies what it keeps */
	if (c->draining)
		xfer_exchange_drain(&h->ex);
	after_begin(c);
out:
	for (int k = COND_N - 1; k >= 0; k--)
		wf_buf_fini(&joined[k]);
}

/* Follows what the exchange decided: read the body, discard it, answer, or
 * wait off the loop. */
static void after_begin(wf_conn_t *c)
{
	h1_t *h = H(c);
	h->body_started = false;
	/* Whatever the exchange decided, an unread body must never be parsed as
	 * the next request. */
	if (h->req_has_body && h->ex.state == XFER_EX_RESPOND)
		h->ex.close_after = true;
	switch (h->ex.state) {
	case XFER_EX_AUTHENTICATING:
		/* Pipelined bytes wait in h->in; the check is our delay. */
		wait_pool(c, H1_AUTHENTICATING);
		return;
	case XFER_EX_READ_BODY:
		if (h->req_expect_continue)
			wf_buf_append_str(&h->out, "HTTP/1.1 100 Continue\r\n\r\n");
		h->discarding = false;
		h->state = H1_READ_BODY;
		break;
	case XFER_EX_DISCARD:
		h->discarding = true;
		h->state = H1_READ_BODY;
		break;
	case XFER_EX_RESPOND:
		h->discarding = false;
		h->state = H1_WRITE;
		break;
	case XFER_EX_WORKING:
		/* A small body is read and dropped while the folder is listed
		 * (or a DELETE makes its change), as a file's would be; the
		 * connection goes on after. */
		if (h->req_has_body && h->ex.drop_body) {
			h->discarding = true;
			h->state = H1_READ_BODY;
			return;
		}
		if (h->req_has_body)
			h->ex.close_after = true;
		finishing(c);
		return;
	case XFER_EX_FINISHING: /* an empty upload, already on its way to disk */
		finishing(c);
		return;
	}
	if (h->state == H1_READ_BODY && !h->req_has_body) {
		/* Nothing will come: the body ends now. */
		if (!h->discarding)
			xfer_exchange_body_end(&h->ex, true);
		if (h->ex.state == XFER_EX_FINISHING) {
			finishing(c);
			return;
		}
		h->state = H1_WRITE;
	}
	if (h->state == H1_WRITE) {
		append_head(c, &h->ex);
		h->body_from_wire = !h->ex.head_only && h->ex.body_kind != XFER_BODY_NONE;
	}
}

/* Consumes body bytes from h->in. Returns WF_DONE when the body ended,
 * WF_AGAIN when more is needed, WF_ERR on bad framing. */
static int take_body(wf_conn_t *c)
{
	h1_t *h = H(c);
	while (wf_buf_size(&h->in)) {
		const char *p = wf_buf_head(&h->in);
		size_t n = wf_buf_size(&h->in);
		if (h->chunked) {
			size_t used;
			const char *data;
			size_t dlen;
			int r = xfer_chunked_step(&h->chunk, p, n, &used, &data, &dlen);
			if (r == XFER_CHUNK_DATA && !h->discarding)
				xfer_exchange_body(&h->ex, data, dlen);
			if (!h->discarding)
				h->rate_bytes += used;
			wf_buf_consume(&h->in, used);
			if (r == XFER_CHUNK_DONE)
				return WF_DONE;
			if (r == XFER_CHUNK_MALFORMED)
				return WF_ERR;
			if (r == XFER_CHUNK_AGAIN)
				return WF_AGAIN;
		} else {
			size_t take = n < h->body_left ? n : (size_t)h->body_left;
			if (!h->discarding) {
				xfer_exchange_body(&h->ex, p, take);
				h->rate_bytes += take;
			}
			wf_buf_consume(&h->in, take);
			h->body_left -= take;
			if (h->body_left == 0)
				return WF_DONE;
		}
		/* A refused upload turns into discarding midway. */
		if (!h->discarding && h->ex.state == XFER_EX_DISCARD)
			h->discarding = true;
		/* Refused for good (too large, disk full): answer now and close,
		 * rather than read a body of any size for nothing. */
		if (h->discarding && h->ex.close_after)
			return WF_DONE;
	}
	if (!h->chunked && h->body_left == 0)
		return WF_DONE;
	return WF_AGAIN;
}

/* Reads one TLS record's worth into h->in. WF_OK, WF_AGAIN, WF_DONE (EOF), WF_ERR. */
static int fill_in(wf_conn_t *c)
{
	h1_t *h = H(c);
	char *dst = wf_buf_reserve(&h->in, XFER_IO_CHUNK);
	if (!dst)
		return WF_ERR; /* cannot happen: the parser caps heads below in.max */
	ssize_t n = wf_conn_recv(c, dst, XFER_IO_CHUNK);
	if (n == WF_AGAIN)
		return WF_AGAIN;
	if (n == 0)
		return WF_DONE;
	if (n < 0)
		return WF_ERR;
	wf_buf_commit(&h->in, (size_t)n);
	return WF_OK;
}

/* Sends staged output; refills it from the body. WF_DONE when the response is out. */
static int flush_out(wf_conn_t *c)
{
	h1_t *h = H(c);
	for (;;) {
		/* Top up below one record, so a head and a small body share a record. */
		size_t staged = wf_buf_size(&h->out);
		if (staged < XFER_IO_CHUNK && h->body_from_wire && h->state == H1_WRITE) {
			size_t want = XFER_OUT_STAGE - staged;
			char *dst = wf_buf_reserve(&h->out, want);
			ssize_t r = dst ? xfer_exchange_read(&h->ex, dst, want) : -1;
			if (r < 0)
				return WF_ERR;
			if (r == 0)
				h->body_from_wire = false;
			wf_buf_commit(&h->out, (size_t)r);
		}
		size_t n = wf_buf_size(&h->out);
		if (n == 0)
			return WF_DONE;
		ssize_t w = wf_conn_send(c, wf_buf_head(&h->out), n < XFER_IO_CHUNK ? n : XFER_IO_CHUNK);
		if (w == WF_AGAIN)
			return WF_AGAIN;
		if (w < 0)
			return WF_ERR;
		wf_buf_consume(&h->out, (size_t)w);
		h->rate_bytes += (size_t)w;
		h->last_progress = ev_now(wf_conn_loop(c));
	}
}

static void finish_exchange(wf_conn_t *c)
{
	h1_t *h = H(c);
	if (h->ex_active) {
		xfer_exchange_finish(&h->ex, ev_now(wf_conn_loop(c)));
		h->ex_active = false;
	}
}

static void h1_on_io(wf_conn_t *c)
{
	h1_t *h = H(c);
	/* Asked again below only if a send is blocked or turns run out. */
	c->want_write = false;
	/* Bounded work per wake-up, so one fast client cannot starve the others. */
	for (int turn = 0; turn < 256; turn++) {
		switch (h->state) {
		case H1_READ_HEAD: {
			if (wf_buf_size(&h->in)) {
				if (!h->head_from) /* its first byte is here (or waited behind the last answer) */
					h->head_from = ev_now(wf_conn_loop(c));
				xfer_h1_request_t req;
				size_t max = (size_t)c->cfg->limits.max_header_bytes;
				ssize_t r = head_decidable(h, max) ?
						    xfer_h1_parse_request(wf_buf_head(&h->in), wf_buf_size(&h->in), max, &req) :
						    0;
				if (r > 0) {
					h->head_seen = 0;
					h->line_seen = false;
					start_request(c, &req);
					h->head_from = 0;
					wf_buf_consume(&h->in, (size_t)r);
					/* Work off the loop (a password check, an fsync) is
					 * our delay, not the client's: no stall timer then. */
					if (h->state != H1_FINISHING && h->state != H1_AUTHENTICATING)
						set_timer(c, H1_TIMER_XFER);
					continue;
				}
				if (r < 0) {
					respond_raw(c, r == XFER_H1_TOO_LARGE	   ? 431 :
						       r == XFER_H1_URI_TOO_LONG ? 414 :
						       r == XFER_H1_BAD_VERSION  ? 505 :
										   400);
					continue;
				}
				set_timer(c, H1_TIMER_HEAD);
			} else if (wf_buf_size(&h->out) == 0) {
				if (c->draining) {
					h1_close(c);
					return;
				}
				set_timer(c, h->nrequests ? H1_TIMER_IDLE : H1_TIMER_HEAD);
			}
			int f = fill_in(c);
			if (f == WF_AGAIN) {
				/* Idle: hold no buffers while waiting for the next request. */
				if (wf_buf_size(&h->in) == 0)
					wf_buf_release(&h->in);
				if (wf_buf_size(&h->out) == 0)
					wf_buf_release(&h->out);
				return;
			}
			if (f != WF_OK) {
				h1_close(c);
				return;
			}
			continue;
		}
		case H1_READ_BODY: {
			if (wf_buf_size(&h->out)) { /* 100 Continue */
				int w = flush_out(c);
				if (w == WF_AGAIN)
					return;
				if (w == WF_ERR) {
					h1_close(c);
					return;
				}
				wf_conn_want_write(c, false);
			}
			int r = take_body(c);
			if (r == WF_ERR) {
				/* The upload is dropped; the 400 is the request's
				 * answer, logged by its exchange now: finishing it
				 * also cancels its job (a listing, a DELETE), whose
				 * answer must not follow the 400 nor its change be
				 * made. */
				xfer_exchange_body_end(&h->ex, false);
				respond_raw(c, 400);
				finish_exchange(c);
				continue;
			}
			if (r == WF_DONE) {
				if (!h->discarding)
					xfer_exchange_body_end(&h->ex, true);
				if (h->ex.state == XFER_EX_FINISHING || h->ex.state == XFER_EX_WORKING) {
					finishing(c);
					continue;
				}
				h->state = H1_WRITE;
				append_head(c, &h->ex);
				h->body_from_wire = !h->ex.head_only && h->ex.body_kind != XFER_BODY_NONE;
				continue;
			}
			int f = fill_in(c);
			if (f == WF_AGAIN)
				return;
			if (f != WF_OK) {
				/* The client went away mid-body: nothing is kept. */
				xfer_exchange_body_end(&h->ex, false);
				h1_close(c);
				return;
			}
			/* Bytes read only to be dropped are no progress: a client
			 * trickling a refused body must not hold the connection
			 * past the stall limit, a byte at a time. */
			if (!h->discarding)
				h->last_progress = ev_now(wf_conn_loop(c));
			continue;
		}
		case H1_FINISHING:
		case H1_AUTHENTICATING:
			watch_departure(c); /* on_ready resumes us */
			return;
		case H1_WRITE: {
			int w = flush_out(c);
			if (w == WF_AGAIN)
				return;
			if (w == WF_ERR) {
				h1_close(c);
				return;
			}
			wf_conn_want_write(c, false);
			finish_exchange(c);
			if (!h->keep_alive) {
				h1_close(c);
				return;
			}
			h->state = H1_READ_HEAD;
			continue;
		}
		}
	}
	/* Out of turns with work left: come back on the next loop turn. */
	wf_conn_want_write(c, true);
}

static void h1_on_timeout(wf_conn_t *c)
{
	h1_t *h = H(c);
	double now = ev_now(wf_conn_loop(c));
	if (h->timer == H1_TIMER_XFER) {
		int window = c->cfg->limits.send_timeout, rate = c->cfg->limits.min_rate;
		double left = h->last_progress + window - now;
		if (left > 0.01 && rate > 0 && h->rate_from + window - now <= 0.01) {
			if (h->rate_bytes < (uint64_t)rate * (uint64_t)window) {
				wf_log_info("conn %llu %s: transfer made %llu bytes of progress in %d s, below "
					    "limits.min_rate %d, closing",
					    (unsigned long long)c->id, c->peer, (unsigned long long)h->rate_bytes, window,
					    rate);
				goto drop;
			}
			h->rate_from = now;
			h->rate_bytes = 0;
		}
		if (left > 0.01) {
			double next = rate > 0 && h->rate_from + window - now < left ? h->rate_from + window - now : left;
			wf_conn_set_timeout(c, next);
			return;
		}
		wf_log_info("conn %llu %s: transfer stalled for %d s, closing", (unsigned long long)c->id, c->peer,
			    window);
	} else if (h->timer == H1_TIMER_HEAD) {
		wf_log_info("conn %llu %s: request head not complete within %d s, closing", (unsigned long long)c->id,
			    c->peer, c->cfg->limits.header_timeout);
	}
drop:
	if (h->ex_active && h->state == H1_READ_BODY)
		xfer_exchange_body_end(&h->ex, false);
	h1_close(c);
}

static void h1_on_drain(wf_conn_t *c)
{
	h1_t *h = H(c);
	h->keep_alive = false;
	if (h->ex_active)
		xfer_exchange_drain(&h->ex); /* a long poll answers soon, not at its wait's end */
	if (h->state == H1_READ_HEAD && wf_buf_size(&h->in) == 0 && wf_buf_size(&h->out) == 0)
		h1_close(c);
}

static void h1_on_close(wf_conn_t *c)
{
	h1_t *h = H(c);
	if (!h)
		return;
	if (h->ex_active) {
		if (h->state == H1_READ_BODY)
			xfer_exchange_body_end(&h->ex, false);
		xfer_exchange_finish(&h->ex, ev_now(wf_conn_loop(c)));
	}
	wf_buf_fini(&h->in);
	wf_buf_fini(&h->out);
	free(h);
	c->proto_data = NULL;
}

static void h1_close(wf_conn_t *c)
{
	wf_conn_close(c);
}

static const wf_proto_t h1_proto = {
	.name = "http/1.1",
	.on_io = h1_on_io,
	.on_timeout = h1_on_timeout,
	.on_drain = h1_on_drain,
	.on_close = h1_on_close,
};

int xfer_h1_start(wf_conn_t *c)
{
	h1_t *h = calloc(1, sizeof(*h));
	if (!h)
		return WF_ERR;
	/* Room for a maximal head plus one record of body behind it. */
	wf_buf_init(&h->in, (size_t)c->cfg->limits.max_header_bytes + 2 * XFER_IO_CHUNK);
	wf_buf_init(&h->out, XFER_OUT_STAGE + 64 * 1024);
	h->state = H1_READ_HEAD;
	/* The handshake's header_timeout is still running: the first head shares it. */
	h->timer = H1_TIMER_HEAD;
	c->proto = &h1_proto;
	c->proto_data = h;
	return WF_OK;
}
