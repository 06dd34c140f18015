/* HTTP/2 over a TLS connection, through nghttp2's in-memory API: bytes from
 * TLS go to nghttp2_session_mem_recv; frames nghttp2 produces are staged in
 * our out buffer (file data read straight into it, NGHTTP2_DATA_FLAG_NO_COPY)
 * and handed to TLS. Each stream carries one xfer_exchange_t. */
#include "exchange.h"
#include "http_date.h"
#include "https.h"
#include "../server/log.h"

#include <gnutls/crypto.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H2_OUT_HIGH (4 * XFER_IO_CHUNK) /* stop producing frames past this much staged output */
#define H2_STREAM_WINDOW (4 << 20)
/* Frames made for the client's sake (an upload's WINDOW_UPDATE, a PING's
 * ACK, another stream's answer) queue behind every byte the kernel holds
 * unsent: with autotuned buffers up to 4 MiB, which a download read at
 * 70 KB/s takes a minute to pass, and an upload beside it would stall for
 * its window that long. The kernel keeps at most about this much unsent
 * for an HTTP/2 connection (the rest waits in nghttp2's queue, where such
 * frames go first), so they wait seconds at most. */
#define H2_NOTSENT_LOWAT (128 << 10)
#define H2_CONN_WINDOW (16 << 20)
/* Input is read while output waits for the client (h2_on_io), so what that
 * input makes nghttp2 queue must be bounded: PING and SETTINGS ACKs by
 * nghttp2 itself (NGHTTP2_ERR_FLOODED past this many: a quarter of its
 * default, still far more than a client that reads its ACKs ever has
 * waiting), every other frame (answers' HEADERS, RST_STREAMs,
 * WINDOW_UPDATEs, GOAWAYs) by H2_QUEUE_MAX. */
#define H2_ACK_MAX 256
/* A few frames per stream the client may open (HEADERS, WINDOW_UPDATE,
 * RST_STREAM and spare) besides the ACKs: a client never needs more unless
 * it makes frames it will not read, stream after stream (the HEADERS of an
 * answer to a stream the client resets stays queued until it is reached). */
#define H2_QUEUE_MAX(cfg) (H2_ACK_MAX + 4 * (size_t)(cfg)->limits.h2_max_streams)

enum { HV_METHOD, HV_PATH, HV_AUTHORITY, HV_AUTHZ, HV_RANGE, HV_IF_RANGE, HV_INM, HV_IMS, HV_ACCEPT, HV_CL,
       HV_CRANGE, HV_IM, HV_IUS, HV_N };
static const char *const hv_names[HV_N] = { ":method", ":path", ":authority", "authorization",
					    "range", "if-range", "if-none-match", "if-modified-since",
					    "accept", "content-length", "content-range", "if-match",
					    "if-unmodified-since" };

/* The list fields (the conditional ones, Accept): every line counts,
 * joined as RFC 9110 5.3 lets a recipient combine a field's lines (in
 * order, with ", " between), over HTTP/1.1 too (h1_conn.c). A list of
 * dates is no date, and is ignored (RFC 9110 13.1.3, 13.1.4). The others
 * take one value: a second line is answered 400, as over HTTP/1.1, but
 * for content-length, whose lines nghttp2 checks against each other. */
static bool hv_joined(int k)
{
	return k == HV_IM || k == HV_INM || k == HV_IUS || k == HV_IMS || k == HV_ACCEPT;
}

/* Header block bytes (counted as for the cap) past which a block already
 * refused with 414 or 431 resets its stream instead. */
#define H2_HEAD_PAST_MAX(max) (4 * (max))

typedef struct h2 h2_t;

typedef struct h2_stream {
	int32_t id;
	h2_t *h; /* borrowed: the connection this stream belongs to */
	wf_buf_t hdrs; /* copies of the values we use, until the exchange has begun */
	size_t off[HV_N], len[HV_N];
	bool have[HV_N];
	size_t head_bytes; /* of the header block so far, as RFC 9113 6.5.2 counts them */
	size_t trail_bytes; /* of the trailer block(s), counted alike */
	int head_refused;  /* 414 or 431: the block passed max_header_bytes; nothing more is kept */
	const char *repeated; /* static: a field of one value that came twice, or NULL */
	bool begun, responded;
	bool in_head; /* counted in h2_t.nheads */
	bool authing;  /* the exchange is AUTHENTICATING: its DATA waits */
	bool end_seen; /* END_STREAM came while authing */
	bool stalled;  /* reset by us (no progress, a block past its cap, an unwanted body): its RST_STREAM
			* may wait to go out */
	bool answer_pinged; /* its answer is wholly sent, its body unwanted: reset once the PING after it
			     * comes back (on_frame_recv) */
	uint64_t dropped; /* DATA bytes read only to be dropped (a refused body) */
	ev_tstamp last_progress; /* its body came in or its answer went out (see stream_deadline) */
	/* limits.min_rate: its body bytes in or DATA out since rate_from, and
	 * the connection's DATA out (h2_t.out_total) then (stream_rate_bytes). */
	ev_tstamp rate_from;
	uint64_t rate_bytes, rate_conn_mark;
	wf_buf_t held; /* the DATA chunk that arrived while authing */
	xfer_exchange_t ex;
	struct h2_stream *prev, *next;
} h2_stream_t;

typedef enum h2_timer { H2_TIMER_FIRST, H2_TIMER_IDLE, H2_TIMER_HEAD, H2_TIMER_XFER } h2_timer_t;

struct h2 {
	nghttp2_session *ng;
	wf_buf_t out;
	h2_stream_t *streams;
	int nstreams;
	int nheads; /* streams whose header block has begun but not ended */
	bool had_request; /* a header block has ended: the first-request deadline is met */
	h2_timer_t timer;
	ev_tstamp since; /* when the timer's mode began */
	ev_tstamp due;   /* when the timer is armed to fire */
	ev_tstamp data_out; /* when DATA of any stream last went out (stream_deadline) */
	uint64_t out_total; /* DATA payload of all streams sent so far (stream_rate_bytes) */
	unsigned failed_logins;
	unsigned requests; /* streams begun, against limits.max_requests_per_connection */
	bool head_reset_logged; /* a stream was reset for a header or trailer block past its cap */
	xfer_conn_quota_t quota; /* its streams' folder listings and upload stages */
	/* While a stream's password is checked, its DATA cannot go anywhere:
	 * nghttp2 is paused on it (NGHTTP2_ERR_PAUSE), and the input behind it
	 * waits in hold, at most one read's worth, with reads paused. Other
	 * streams wait too, for the few milliseconds of one crypt(3). */
	h2_stream_t *paused; /* borrowed */
	ev_tstamp paused_at; /* when the pause began: its streams' clocks leave it out (pause_over) */
	bool resume;         /* the pause is over: one empty mem_recv ends its frame */
	wf_buf_t hold;
	wf_conn_t *c; /* borrowed: back pointer for callbacks */
};

static h2_t *H(wf_conn_t *c)
{
	return c->proto_data;
}

static void stream_free(h2_t *h, h2_stream_t *s, bool complete)
{
	if (s->begun) {
		if (s->ex.state == XFER_EX_READ_BODY)
			xfer_exchange_body_end(&s->ex, complete);
		xfer_exchange_finish(&s->ex, ev_now(wf_conn_loop(h->c)));
	}
	wf_buf_fini(&s->hdrs);
	wf_buf_fini(&s->held);
	if (h->paused == s) {
		h->paused = NULL;
		wf_conn_pause_read(h->c, false);
	}
	if (s->in_head)
		h->nheads--;
	if (s->prev)
		s->prev->next = s->next;
	else
		h->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nstreams--;
	free(s);
}

static ssize_t on_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *user)
{
	h2_t *h = user;
	if (wf_buf_size(&h->out) >= H2_OUT_HIGH)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (wf_buf_append(&h->out, data, len) != WF_OK)
		return NGHTTP2_ERR_WOULDBLOCK;
	return (ssize_t)len;
}

static ssize_t on_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			    nghttp2_data_source *src, void *user)
{
	h2_stream_t *s = src->ptr;
	uint64_t left = xfer_exchange_body_left(&s->ex);
	size_t n = left < len ? (size_t)left : len;
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (n == left)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* limits.min_rate's window for s begins again at now: at its start, and
 * after each wait of ours, which is not the client's to answer for. */
static void rate_restart(h2_t *h, h2_stream_t *s, double now)
{
	s->rate_from = now;
	s->rate_bytes = 0;
	s->rate_conn_mark = h->out_total;
}

/* An answer with bytes left to send. */
static bool rate_answering(const h2_stream_t *s)
{
	return s->begun && s->responded && !s->stalled && !s->ex.head_only && xfer_exchange_body_left(&s->ex) > 0;
}

/* The pause for a password check (h2_t.paused) ended at now. It was our
 * wait for every stream, not only the uploads whose DATA it held: no
 * WINDOW_UPDATE was read meanwhile either. Each stream's clock and min_rate
 * window leave out what of the pause fell in them (they move later by it,
 * the bytes counted stay), so a download is not dropped for it, nor is a
 * trickle excused for longer than the pause lasted. (A pause past a
 * window's end restarted the window: stream_deadline.) */
static void pause_over(h2_t *h, double now)
{
	for (h2_stream_t *s = h->streams; s; s = s->next) {
		if (!s->begun || s->stalled)
			continue;
		double from = h->paused_at > s->last_progress ? h->paused_at : s->last_progress;
		if (now > from)
			s->last_progress += now - from;
		from = h->paused_at > s->rate_from ? h->paused_at : s->rate_from;
		if (now > from)
			s->rate_from += now - from;
	}
}

/* The frame header goes in first, then the body bytes are read straight in. */
static int on_send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
			nghttp2_data_source *src, void *user)
{
	h2_t *h = user;
	h2_stream_t *s = src->ptr;
	if (wf_buf_size(&h->out) >= H2_OUT_HIGH)
		return NGHTTP2_ERR_WOULDBLOCK;
	char *dst = wf_buf_reserve(&h->out, 9 + length);
	if (!dst)
		return NGHTTP2_ERR_WOULDBLOCK;
	memcpy(dst, framehd, 9);
	size_t got = 0;
	while (got < length) {
		ssize_t r = xfer_exchange_read(&s->ex, dst + 9 + got, length - got);
		if (r <= 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets this stream only */
		got += (size_t)r;
	}
	wf_buf_commit(&h->out, 9 + length);
	s->last_progress = h->data_out = ev_now(wf_conn_loop(h->c));
	s->rate_bytes += length;
	h->out_total += length;
	return 0;
}

static void lower_copy(char *dst, const char *src, size_t cap)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (char)((src[i] >= 'A' && src[i] <= 'Z') ? src[i] + 32 : src[i]);
	dst[i] = '\0';
}

static int submit_response(h2_t *h, h2_stream_t *s)
{
	xfer_exchange_t *ex = &s->ex;
	nghttp2_nv nv[XFER_MAX_FIELDS + 5];
	char names[XFER_MAX_FIELDS][40];
	char status[4], date[XFER_HTTP_DATE_LEN], clen[24];
	size_t n = 0;
	snprintf(status, sizeof(status), "%03d", ex->status);
	xfer_http_date_format((time_t)ev_now(wf_conn_loop(h->c)), date);
#define NV(k, v) \
	nv[n++] = (nghttp2_nv){ (uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE }
	NV(":status", status);
	NV("date", date);
	NV("server", "wharf");
	NV("x-content-type-options", "nosniff");
	for (size_t i = 0; i < ex->nfields; i++) {
		lower_copy(names[i], ex->fields[i].name, sizeof(names[i]));
		NV(names[i], ex->fields[i].value);
	}
	if (ex->status != 204 && ex->status != 304) {
		snprintf(clen, sizeof(clen), "%" PRIu64, ex->content_length);
		NV("content-length", clen);
	}
#undef NV
	nghttp2_data_provider prov = { .source.ptr = s, .read_callback = on_data_read };
	bool body = !ex->head_only && ex->body_kind != XFER_BODY_NONE && ex->content_length > 0;
	s->responded = true;
	if (ex->login_failed && ++h->failed_logins >= XFER_MAX_FAILED_LOGINS)
		nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
				      NGHTTP2_NO_ERROR, NULL, 0);
	int rv = nghttp2_submit_response(h->ng, s->id, nv, n, body ? &prov : NULL);
	if (rv != 0) {
		wf_log_warn("conn %llu %s: stream %d: cannot answer: %s", (unsigned long long)h->c->id, h->c->peer,
			    s->id, nghttp2_strerror(rv));
		nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
	}
	return rv;
}

static void after_begin(h2_t *h, h2_stream_t *s);

/* An upload is durable (or failed), or a folder is listed: answer, and get
 * the frames out. Or a password check is over: go on as if begin had just
 * returned, then with the DATA that waited. If the stream closed meanwhile,
 * the exchange was finished and this never runs. */
static void on_ready(xfer_exchange_t *ex, void *arg)
{
	h2_stream_t *s = arg;
	h2_t *h = s->h;
	s->last_progress = ev_now(wf_conn_loop(h->c)); /* the wait was ours: the client's clock starts now */
	rate_restart(h, s, s->last_progress);
	if (!s->authing) {
		submit_response(h, s);
		wf_conn_kick(h->c);
		return;
	}
	s->authing = false;
	after_begin(h, s);
	if (wf_buf_size(&s->held) && s->ex.state == XFER_EX_READ_BODY) {
		xfer_exchange_body(&s->ex, wf_buf_head(&s->held), wf_buf_size(&s->held));
		if (s->ex.state != XFER_EX_READ_BODY && !s->responded)
			submit_response(h, s);
	}
	wf_buf_fini(&s->held);
	if (s->end_seen && s->ex.state == XFER_EX_READ_BODY) {
		xfer_exchange_body_end(&s->ex, true);
		if (s->ex.state != XFER_EX_FINISHING)
			submit_response(h, s);
	}
	if (h->paused == s) {
		h->paused = NULL;
		h->resume = true;
		wf_conn_pause_read(h->c, false);
		pause_over(h, ev_now(wf_conn_loop(h->c)));
	}
	wf_conn_kick(h->c); /* on_io feeds the held input */
}

static wf_slice_t hv(h2_stream_t *s, int k)
{
	if (!s->have[k])
		return (wf_slice_t){ NULL, 0 };
	return (wf_slice_t){ s->hdrs.data + s->off[k], s->len[k] };
}

/* The request as the exchange takes it, from what the block kept. */
static void req_in_of(h2_stream_t *s, bool end_stream, xfer_req_in_t *out)
{
	xfer_req_in_t in;
	memset(&in, 0, sizeof(in));
	in.method = hv(s, HV_METHOD);
	in.target = hv(s, HV_PATH);
	in.host = hv(s, HV_AUTHORITY);
	in.authorization = hv(s, HV_AUTHZ);
	in.range = hv(s, HV_RANGE);
	in.if_range = hv(s, HV_IF_RANGE);
	in.if_none_match = hv(s, HV_INM);
	in.if_modified_since = hv(s, HV_IMS);
	in.accept = hv(s, HV_ACCEPT);
	in.content_range = hv(s, HV_CRANGE);
	in.if_match = hv(s, HV_IM);
	in.if_unmodified_since = hv(s, HV_IUS);
	in.proto = "HTTP/2";
	in.has_body = !end_stream;
	in.head_refused = s->head_refused;
	in.repeated = s->repeated;
	if (s->head_refused) {
		/* For the log: the field that passed the cap was not kept. */
		if (!in.method.ptr)
			in.method = WF_SLICE("-");
		if (!in.target.ptr)
			in.target = WF_SLICE("-");
	}
	/* nghttp2 checks that DATA adds up to content-length, so it can be trusted. */
	if (s->have[HV_CL]) {
		char tmp[24];
		wf_slice_t v = hv(s, HV_CL);
		if (v.len < sizeof(tmp)) {
			memcpy(tmp, v.ptr, v.len);
			tmp[v.len] = '\0';
			in.content_length = strtoull(tmp, NULL, 10);
			in.length_known = true;
		}
	}
	*out = in;
}

/* The stream's exchange, begun (its access-log line is written when the
 * stream closes). */
static void exchange_start(h2_t *h, h2_stream_t *s, double now)
{
	wf_conn_t *c = h->c;
	xfer_exchange_init(&s->ex, c->cfg, c->peer, c->peer_addr, now, c->worker, on_ready, s);
	s->ex.quota = &h->quota;
	s->begun = true;
	s->last_progress = now;
	rate_restart(h, s, now);
}

static void begin_exchange(h2_t *h, h2_stream_t *s, bool end_stream)
{
	wf_conn_t *c = h->c;
	xfer_req_in_t in;
	req_in_of(s, end_stream, &in);
	double now = ev_now(wf_conn_loop(c));
	exchange_start(h, s, now);
	/* The connection's timer may be armed for a later header_timeout
	 * (another head began in the same read): it must fire by this
	 * stream's deadline too. */
	if (ev_is_active(&c->timer) && h->due > now + c->cfg->limits.send_timeout) {
		h->due = now + c->cfg->limits.send_timeout;
		wf_conn_set_timeout(c, c->cfg->limits.send_timeout);
	}
	xfer_exchange_begin(&s->ex, &in);
	if (c->draining) /* a stream the GOAWAY still let in */
		xfer_exchange_drain(&s->ex);
	/* The password has served: it does not stay in memory for the stream's
	 * life (a check off the loop has its own copy). */
	if (s->have[HV_AUTHZ])
		gnutls_memset(s->hdrs.data + s->off[HV_AUTHZ], 0, s->len[HV_AUTHZ]);
	/* The exchange copied what it keeps; up to max_header_bytes per stream
	 * need not stay for the stream's life. */
	wf_buf_fini(&s->hdrs);
	after_begin(h, s);
}

static void after_begin(h2_t *h, h2_stream_t *s)
{
	if (s->ex.state == XFER_EX_AUTHENTICATING) {
		s->authing = true;
		wf_buf_init(&s->held, 64 * 1024); /* one DATA chunk: frames are 16 KiB (our SETTINGS) */
		return;
	}
	if (s->ex.state == XFER_EX_FINISHING || s->ex.state == XFER_EX_WORKING)
		return; /* an empty upload on its way to disk, a folder being listed, a DELETE or MKCOL
			 * making its change: on_ready answers */
	/* An answer before the body ended (a refusal): the rest of the body
	 * is read and dropped until the client has the whole answer, then the
	 * stream is reset (on_frame_send). Not now: nghttp2 would send the
	 * RST_STREAM ahead of the answer's DATA, and curl 7.88 drops the
	 * answer. */
	if (s->ex.state != XFER_EX_READ_BODY)
		submit_response(h, s);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	h2_t *h = user;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (h->requests >= (unsigned)h->c->cfg->limits.max_requests_per_connection) {
		/* Past the GOAWAY (below), which nghttp2 heeds only once it is
		 * sent, not for the rest of the read that brought it: refused
		 * unprocessed, no user data, so nothing is served or logged. */
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	h2_stream_t *s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	s->id = frame->hd.stream_id;
	s->h = h;
	wf_buf_init(&s->hdrs, (size_t)h->c->cfg->limits.max_header_bytes);
	s->next = h->streams;
	if (h->streams)
		h->streams->prev = s;
	h->streams = s;
	h->nstreams++;
	h->nheads++;
	s->in_head = true;
	nghttp2_session_set_stream_user_data(ng, s->id, s);
	/* The last request this connection takes, as HTTP/1.1's: HPACK lets
	 * a client repeat a long request in a dozen bytes, each one a full
	 * access-log line (and a file opened), so an endless connection
	 * writes hundreds of times what it is sent. A GOAWAY naming this
	 * stream lets the client go on, on a new connection (a new TLS
	 * handshake and an empty HPACK table); streams after it are refused. */
	if (++h->requests == (unsigned)h->c->cfg->limits.max_requests_per_connection)
		nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR, NULL, 0);
	return 0;
}

static void reverse(char *p, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		char t = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

/* Moves field k's value to the end of hdrs, the values after it down
 * (a rotation: three reversals, in place), so a further line of it can
 * be joined on and what is kept stays what the fields hold. */
static void move_to_tail(h2_stream_t *s, int k)
{
	size_t size = wf_buf_size(&s->hdrs), a = s->len[k];
	if (s->off[k] + a == size)
		return;
	if (a == 0) {
		s->off[k] = size;
		return;
	}
	char *p = wf_buf_head(&s->hdrs) + s->off[k];
	size_t n = size - s->off[k];
	reverse(p, a);
	reverse(p + a, n - a);
	reverse(p, n);
	for (int j = 0; j < HV_N; j++)
		if (j != k && s->have[j] && s->off[j] > s->off[k])
			s->off[j] -= a;
	s->off[k] = size - a;
}

/* A header or trailer block far past the cap (on_header): the stream is
 * reset with ENHANCE_YOUR_CALM, the client's excess (RFC 9113 7), not the
 * INTERNAL_ERROR nghttp2 sends for a failed callback unless a reset is
 * submitted first. A request not yet begun begins here, judged as its
 * head's refusal (414 or 431) though that answer never goes out, so that
 * the stream's close writes its access-log line as every request's. */
static int reset_past_cap(h2_t *h, h2_stream_t *s)
{
	double now = ev_now(wf_conn_loop(h->c));
	if (!s->begun) {
		xfer_req_in_t in;
		req_in_of(s, true, &in);
		exchange_start(h, s, now);
		xfer_exchange_begin(&s->ex, &in); /* no login, no path: the head was refused */
		if (s->have[HV_AUTHZ])
			gnutls_memset(s->hdrs.data + s->off[HV_AUTHZ], 0, s->len[HV_AUTHZ]);
		wf_buf_fini(&s->hdrs);
	}
	nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_ENHANCE_YOUR_CALM);
	s->stalled = true; /* a reset of ours that may wait to go out (h2_on_timeout) */
	s->last_progress = now;
	return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	h2_t *h = user;
	h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	if (!s || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (s->begun) {
		/* Trailer fields are not used, but nghttp2 checks every byte of
		 * each one it hands here: past the cap, the stream is reset (see
		 * below for why), which a trailer that large can only mean. */
		size_t max = (size_t)h->c->cfg->limits.max_header_bytes, field = namelen + valuelen + 32;
		if (field <= max - s->trail_bytes) {
			s->trail_bytes += field;
			return 0;
		}
		if (!h->head_reset_logged)
			wf_log_info("conn %llu %s: HTTP/2 stream %d: trailer block past %zu bytes (max_header_bytes), "
				    "resetting it (logged once per connection)",
				    (unsigned long long)h->c->id, h->c->peer, s->id, max);
		h->head_reset_logged = true;
		return reset_past_cap(h, s);
	}
	/* The header block is capped as SETTINGS_MAX_HEADER_LIST_SIZE told
	 * the client (RFC 9113 6.5.2: name, value and 32 bytes a field), the
	 * fields we ignore included, as HTTP/1.1 caps the whole head. Past
	 * it the request is answered when its block ends, as HTTP/1.1
	 * answers it: 414 when a pseudo-header field passes it (they come
	 * first, and stand for the request line), 431 when a regular one
	 * does. Nothing more is kept meanwhile, so what a stream holds stays
	 * within the cap; nghttp2 decodes the rest of the block (its HPACK
	 * state needs it) and hands each field here, where it is dropped. */
	size_t max = (size_t)h->c->cfg->limits.max_header_bytes;
	size_t field = namelen + valuelen + 32;
	if (s->head_refused) {
		/* HPACK lets a few bytes name a field of kilobytes already in
		 * the table, and nghttp2 checks every byte of each one it hands
		 * here: a block far past the cap is made to cost, not a client's
		 * mistake. Failing the callback resets the stream, and nghttp2
		 * then decodes the rest of the block without checking or handing
		 * on its fields (a few ms of our CPU per 16 KiB block before). */
		s->head_bytes += field < H2_HEAD_PAST_MAX(max) ? field : H2_HEAD_PAST_MAX(max);
		if (s->head_bytes <= H2_HEAD_PAST_MAX(max))
			return 0;
		if (!h->head_reset_logged)
			wf_log_info("conn %llu %s: HTTP/2 stream %d: header block past %zu bytes (4 x max_header_bytes), "
				    "resetting it (logged once per connection)",
				    (unsigned long long)h->c->id, h->c->peer, s->id, H2_HEAD_PAST_MAX(max));
		h->head_reset_logged = true;
		return reset_past_cap(h, s);
	}
	if (field > max - s->head_bytes) {
		s->head_refused = namelen && name[0] == ':' ? 414 : 431;
		wf_log_debug("conn %llu %s: HTTP/2 stream %d: header block past max_header_bytes (%zu), answering %d",
			    (unsigned long long)h->c->id, h->c->peer, s->id, max, s->head_refused);
	}
	s->head_bytes += field < max ? field : max;
	if (s->head_refused)
		return 0;
	for (int k = 0; k < HV_N; k++) {
		if (strlen(hv_names[k]) != namelen || memcmp(hv_names[k], name, namelen) != 0)
			continue;
		if (s->have[k] && !hv_joined(k)) {
			if (k != HV_CL) /* pseudo-headers twice nghttp2 refuses itself */
				s->repeated = hv_names[k];
			return 0;
		}
		/* What is kept (values, and ", " between joined lines) is less
		 * than the block counted above, so only short memory fails it. */
		if (s->have[k]) {
			move_to_tail(s, k);
			if (wf_buf_append(&s->hdrs, ", ", 2) != WF_OK ||
			    wf_buf_append(&s->hdrs, value, valuelen) != WF_OK)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
			s->len[k] += 2 + valuelen;
			return 0;
		}
		size_t off = wf_buf_size(&s->hdrs);
		if (wf_buf_append(&s->hdrs, value, valuelen) != WF_OK)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		s->off[k] = off;
		s->len[k] = valuelen;
		s->have[k] = true;
		return 0;
	}
	return 0;
}

/* The stream whose answer a PING of ours followed (on_frame_send), from
 * its opaque data. */
static int32_t ping_stream(const uint8_t *opaque)
{
	return (int32_t)(((uint32_t)opaque[4] << 24 | (uint32_t)opaque[5] << 16 | (uint32_t)opaque[6] << 8 |
			  (uint32_t)opaque[7]) & 0x7fffffff);
}

/* The PING that followed an answer came back: the client has the whole
 * answer, and the body it is still sending is not wanted. */
static void ping_acked(h2_t *h, const nghttp2_frame *frame)
{
	if (memcmp(frame->ping.opaque_data, "wfA\0", 4) != 0)
		return;
	h2_stream_t *s = nghttp2_session_get_stream_user_data(h->ng, ping_stream(frame->ping.opaque_data));
	if (!s || !s->answer_pinged || s->stalled || nghttp2_session_get_stream_remote_close(h->ng, s->id) != 0)
		return;
	nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
	s->stalled = true; /* a reset of ours that may wait to go out (h2_on_timeout) */
	s->last_progress = ev_now(wf_conn_loop(h->c));
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	h2_t *h = user;
	if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
		ping_acked(h, frame);
		return 0;
	}
	h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	if (!s)
		return 0;
	bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
	if (frame->hd.type == NGHTTP2_HEADERS && s->in_head) {
		s->in_head = false;
		h->nheads--;
		h->had_request = true;
	}
	if (frame->hd.type == NGHTTP2_HEADERS && !s->begun) {
		begin_exchange(h, s, end);
		return 0;
	}
	if (end && s->authing)
		s->end_seen = true; /* trailers: the body ends once the password is checked */
	if (end && s->begun && s->ex.state == XFER_EX_READ_BODY) {
		xfer_exchange_body_end(&s->ex, true);
		if (s->ex.state != XFER_EX_FINISHING)
			submit_response(h, s);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
			 void *user)
{
	h2_t *h = user;
	h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
	if (!s || !s->begun)
		return 0;
	if (s->authing) {
		/* Kept until the check is over; nghttp2 stops right here, so
		 * this is the only chunk of this stream, or any, to keep. */
		if (wf_buf_append(&s->held, data, len) != WF_OK)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		wf_log_debug("conn %llu %s: stream %d: DATA waits for the password check",
			     (unsigned long long)h->c->id, h->c->peer, s->id);
		h->paused = s;
		h->paused_at = ev_now(wf_conn_loop(h->c));
		wf_conn_pause_read(h->c, true);
		return NGHTTP2_ERR_PAUSE;
	}
	if (s->ex.state == XFER_EX_READ_BODY) {
		xfer_exchange_body(&s->ex, (const char *)data, len);
		/* Refused midway (too large, disk full): answer now, drop the rest. */
		if (s->ex.state != XFER_EX_READ_BODY && !s->responded)
			submit_response(h, s);
		s->last_progress = ev_now(wf_conn_loop(h->c));
		s->rate_bytes += len;
		return 0;
	}
	/* A refused body is read and dropped until the client has the whole
	 * answer (on_frame_send), or, past as much as HTTP/1.1 would drop, once
	 * the answer is out: RST_STREAM(NO_ERROR) asks the client to stop (RFC
	 * 9113 8.1). Dropped bytes are no progress: they keep no stream open. */
	s->dropped += len;
	if (s->dropped > XFER_DISCARD_MAX && s->responded && nghttp2_session_get_stream_local_close(ng, id) == 1)
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
	return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *user)
{
	h2_t *h = user;
	h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, id);
	if (s)
		stream_free(h, s, false);
	return 0;
}

static void h2_close(wf_conn_t *c)
{
	wf_conn_close(c);
}

/* How many bytes count as s's progress in its min_rate window: its own,
 * or, if more, while its answer waits with its stream window open, its
 * share of the DATA the connection sent meanwhile: that, divided among
 * the streams answering now. Such a stream waits on our scheduling (see
 * stream_deadline; nghttp2 picks which stream sends by the client's
 * priorities), not on the client; but a client moving little in all,
 * however it does so (a connection window fed in small steps, a socket
 * read slowly, priorities serving one stream at a time), is judged by what
 * it moves per stream: N streams need N times min_rate. One that holds the
 * stream's own window shut is judged on the stream's own bytes. Counting
 * the streams costs a walk of them, once per window's end, never per
 * frame. */
static uint64_t stream_rate_bytes(h2_t *h, h2_stream_t *s)
{
	uint64_t own = s->rate_bytes;
	if (!rate_answering(s) || nghttp2_session_get_stream_remote_window_size(h->ng, s->id) <= 0)
		return own;
	uint64_t n = 0;
	for (h2_stream_t *o = h->streams; o; o = o->next)
		n += rate_answering(o);
	uint64_t share = (h->out_total - s->rate_conn_mark) / n; /* n >= 1: s answers */
	return share > own ? share : own;
}

/* When s's min_rate window ends; HUGE_VAL with no min_rate, or once s was
 * reset. A window that ended with enough bytes begins again here, so a
 * due time at or before now means the stream was too slow: h2_on_timeout
 * resets it as a stalled one. */
static double stream_rate_due(h2_t *h, h2_stream_t *s, double now)
{
	const wf_config_t *cfg = h->c->cfg;
	if (cfg->limits.min_rate <= 0 || s->stalled)
		return HUGE_VAL;
	double due = s->rate_from + cfg->limits.send_timeout;
	if (due - now > 0.01)
		return due;
	if (stream_rate_bytes(h, s) < (uint64_t)cfg->limits.min_rate * (uint64_t)cfg->limits.send_timeout)
		return due;
	rate_restart(h, s, now);
	return now + cfg->limits.send_timeout;
}

/* When a stream must next have moved: its answer out or its body in within
 * send_timeout of the last time either did, as an HTTP/1.1 request must; 0
 * while its head is still arriving (header_timeout guards that). A stream
 * that waits on us (a password check, an upload being made durable, a
 * folder being listed, a DELETE or MKCOL making its change, a long poll,
 * or any stream while the connection's reads pause for a password check:
 * an upload's DATA, a download's WINDOW_UPDATEs wait unread) is not
 * stalled: its clock restarts (and at the pause's end: pause_over).
 * Input is read even while our output waits for the client (h2_on_io), so
 * an upload's DATA is never left unread behind another stream's download.
 * An answer whose own window is open waits only on our scheduling: nghttp2
 * serves streams by the client's priorities, and a browser makes a download
 * depend on the one before it, so it may get no DATA while that one runs.
 * Such a stream moves whenever any DATA goes out; only a stream window the
 * client keeps shut, or a connection that sends nothing, is its stall.
 * A stream already reset for stalling has had send_timeout more to get its
 * RST_STREAM out. Moving is not enough either: the deadline is also the end
 * of its min_rate window (stream_rate_due), and the same waits of ours
 * start that window again. */
static double stream_deadline(h2_t *h, h2_stream_t *s, double now)
{
	if (!s->begun)
		return 0;
	xfer_ex_state_t st = s->ex.state;
	if (!s->stalled && (s->authing || st == XFER_EX_FINISHING || st == XFER_EX_AUTHENTICATING ||
			    st == XFER_EX_WORKING || h->paused)) {
		s->last_progress = now;
		rate_restart(h, s, now);
	} else if (!s->stalled && s->responded && h->data_out > s->last_progress &&
		   !nghttp2_session_get_stream_local_close(h->ng, s->id) &&
		   nghttp2_session_get_stream_remote_window_size(h->ng, s->id) > 0)
		s->last_progress = h->data_out;
	double due = s->last_progress + h->c->cfg->limits.send_timeout;
	double rate_due = stream_rate_due(h, s, now);
	return rate_due < due ? rate_due : due;
}

/* One timer for the connection and its streams. Its mode says what the
 * connection as a whole waits for: no request head has completed yet, and
 * the handshake's header_timeout runs on (the first head shares it, as in
 * HTTP/1.1); a request head has begun and must be complete within
 * header_timeout (slowloris); streams are open; or nothing is open
 * (idle_timeout). Each runs from when its mode began: control frames (PING,
 * SETTINGS, WINDOW_UPDATE) never extend one, so a client sending only those
 * is closed like any idle one. Besides, each begun stream has a deadline of
 * its own (stream_deadline), so that a stream the client stalls cannot live
 * on while other streams keep the connection busy; the timer fires at the
 * earliest of all these. Progress only moves a stream's deadline later, so
 * the timer is set again only when the mode changes or it fired (or a
 * stream begins earlier than it would fire): not per frame. */
static void arm_timer(wf_conn_t *c)
{
	h2_t *h = H(c);
	const wf_config_t *cfg = c->cfg;
	h2_timer_t mode = h->nheads ? H2_TIMER_HEAD : h->nstreams ? H2_TIMER_XFER : H2_TIMER_IDLE;
	if (h->timer == H2_TIMER_FIRST && mode != H2_TIMER_XFER && !h->had_request)
		return;
	if (mode == h->timer && ev_is_active(&c->timer))
		return;
	double now = ev_now(wf_conn_loop(c));
	if (mode != h->timer) {
		h->timer = mode;
		h->since = now;
	}
	double due = mode == H2_TIMER_HEAD ? h->since + cfg->limits.header_timeout :
		     mode == H2_TIMER_IDLE ? h->since + cfg->limits.idle_timeout : HUGE_VAL;
	for (h2_stream_t *s = h->streams; s; s = s->next) {
		double d = stream_deadline(h, s, now);
		if (d > 0 && d < due)
			due = d;
	}
	if (due == HUGE_VAL) /* cannot happen: streams open and no head arriving means a stream has begun */
		due = now + cfg->limits.send_timeout;
	h->due = due;
	wf_conn_set_timeout(c, due - now > 0.01 ? due - now : 0.01);
}

/* Our own GOAWAYs say NO_ERROR (a drain, too many failed logins); one with
 * an error is nghttp2 ending the session for something the client did
 * (a protocol error, a flood of resets): the admin hears what.
 * An answer wholly sent (its END_STREAM) while the client's side is still
 * open means its body is not wanted (a refusal, a GET with a body), and
 * RFC 9113 8.1 lets the stream be reset with NO_ERROR, which frees its
 * place and writes its access-log line, rather than wait for the rest of
 * the body (dropped), or for send_timeout if none comes. Not in the same
 * write as the answer, though: curl 7.88, still uploading, then fails
 * with a stream error and shows no answer. A PING goes out behind the
 * answer, and its ACK, which the client sends once it has read all before
 * it, resets the stream (on_frame_recv). */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	h2_t *h = user;
	if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		h2_stream_t *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
		if (s && s->begun && !s->stalled && !s->answer_pinged &&
		    nghttp2_session_get_stream_remote_close(ng, s->id) == 0) {
			uint32_t id = (uint32_t)s->id;
			uint8_t opaque[8] = { 'w', 'f', 'A', 0, (uint8_t)(id >> 24), (uint8_t)(id >> 16),
					      (uint8_t)(id >> 8), (uint8_t)id };
			if (nghttp2_submit_ping(ng, NGHTTP2_FLAG_NONE, opaque) == 0)
				s->answer_pinged = true;
		}
	}
	if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR) {
		int n = frame->goaway.opaque_data_len < 120 ? (int)frame->goaway.opaque_data_len : 120;
		wf_log_info("conn %llu %s: HTTP/2 session ended by the server: %s%s%.*s",
			    (unsigned long long)h->c->id, h->c->peer, nghttp2_http2_strerror(frame->goaway.error_code),
			    n ? ": " : "", n, n ? (const char *)frame->goaway.opaque_data : "");
	}
	return 0;
}

/* A GOAWAY with code and the last stream processed, so the client knows
 * which requests it may send again (RFC 9113 6.8), then the close. It goes
 * as far as TLS takes it now, never waiting: a client that reads nothing
 * holds the connection no longer than the close's own linger. */
static void send_goaway_close(wf_conn_t *c, uint32_t code)
{
	h2_t *h = H(c);
	if (nghttp2_session_terminate_session(h->ng, code) == 0 && nghttp2_session_send(h->ng) == 0) {
		while (wf_buf_size(&h->out)) {
			size_t n = wf_buf_size(&h->out);
			ssize_t w = wf_conn_send(c, wf_buf_head(&h->out), n < XFER_IO_CHUNK ? n : XFER_IO_CHUNK);
			if (w <= 0)
				break;
			wf_buf_consume(&h->out, (size_t)w);
		}
	}
	h2_close(c);
}

/* A fatal error of the client's (a flood, too many CONTINUATIONs): a
 * GOAWAY says so before the close (RFC 9113 5.4.1); nghttp2 leaves that to
 * us for its fatal errors. A client that did not speak HTTP/2 at all
 * (a bad preface) gets none. */
static void goaway_then_close(wf_conn_t *c, int err)
{
	if (err == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
		h2_close(c);
		return;
	}
	send_goaway_close(c, err == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM :
			     err == NGHTTP2_ERR_NOMEM || err == NGHTTP2_ERR_CALLBACK_FAILURE ? NGHTTP2_INTERNAL_ERROR :
												 NGHTTP2_PROTOCOL_ERROR);
}

/* Hands input to nghttp2; *took says how much it used (less than len when
 * it paused on a stream's DATA). False if the connection is closed: the input
 * was bad, or it made nghttp2 queue more frames than a client that reads them
 * could need (input is read while output waits, so this is what bounds it). */
static bool feed(wf_conn_t *c, const char *in, size_t len, size_t *took)
{
	h2_t *h = H(c);
	ssize_t r = nghttp2_session_mem_recv(h->ng, (const uint8_t *)in, len);
	if (r < 0) {
		wf_log_info("conn %llu %s: HTTP/2 error: %s", (unsigned long long)c->id, c->peer,
			    nghttp2_strerror((int)r));
		goaway_then_close(c, (int)r);
		return false;
	}
	size_t queued = nghttp2_session_get_outbound_queue_size(h->ng);
	if (queued > H2_QUEUE_MAX(c->cfg)) {
		wf_log_info("conn %llu %s: HTTP/2 flood: %zu frames wait for the client, closing",
			    (unsigned long long)c->id, c->peer, queued);
		h2_close(c);
		return false;
	}
	*took = (size_t)r;
	return true;
}

/* Before returning to the loop: while nghttp2 takes input, the connection
 * is read even when its output is backed up (a read pause for a password
 * check still stops it); once nghttp2 wants none (the session ends), input
 * waits, as the loop would otherwise wake for it in vain. */
static void wait_for_events(wf_conn_t *c)
{
	wf_conn_read_backed_up(c, nghttp2_session_want_read(H(c)->ng));
	arm_timer(c);
}

/* Reads per wake-up (of XFER_IO_CHUNK bytes at most): a client that sends
 * as fast as we decode, or faster, must not keep the worker from every
 * other connection on it. Past them, the connection comes back on the
 * loop's next turn (want_write), as TLS may hold input the socket no
 * longer shows. */
#define H2_READS_PER_WAKE 64

static void h2_on_io(wf_conn_t *c)
{
	h2_t *h = H(c);
	char buf[XFER_IO_CHUNK];
	int reads = 0;
	c->want_write = false; /* asked again only if a send is blocked, or reads run out */
	for (int turn = 0; turn < 64; turn++) {
		bool progress = false;
		/* Read all that came while nghttp2 wants input, even while our
		 * output waits for the client (a download it reads slowly): its
		 * PINGs, WINDOW_UPDATEs, resets, requests and uploads must not
		 * wait behind that output. The frames they call for wait below
		 * with the rest, in nghttp2's queue, which feed() bounds. */
		while (!h->paused && reads < H2_READS_PER_WAKE && nghttp2_session_want_read(h->ng)) {
			size_t took;
			/* Input left behind by a pause, first. The paused DATA frame
			 * may have been the last bytes received: nghttp2 ends it
			 * (on_frame_recv, END_STREAM) only when called again, so it
			 * is called once even with nothing held. */
			if (h->resume || wf_buf_size(&h->hold)) {
				h->resume = false;
				if (!feed(c, wf_buf_head(&h->hold), wf_buf_size(&h->hold), &took))
					return;
				wf_buf_consume(&h->hold, took);
				progress = true;
				continue;
			}
			ssize_t n = wf_conn_recv(c, buf, sizeof(buf));
			if (n == WF_AGAIN)
				break;
			if (n <= 0) {
				h2_close(c);
				return;
			}
			reads++;
			if (!feed(c, buf, (size_t)n, &took))
				return;
			if (took < (size_t)n && wf_buf_append(&h->hold, buf + took, (size_t)n - took) != WF_OK) {
				h2_close(c); /* cannot happen: hold is empty before each read */
				return;
			}
			progress = true;
		}
		/* Produce frames and hand them to TLS while it takes them: past
		 * H2_OUT_HIGH staged here, or TLS output past its own mark
		 * (wf_conn_send's AGAIN), nothing more is made or encrypted until
		 * the client reads. */
		for (;;) {
			if (wf_buf_size(&h->out) < H2_OUT_HIGH && nghttp2_session_want_write(h->ng)) {
				int rv = nghttp2_session_send(h->ng);
				if (rv != 0) {
					wf_log_info("conn %llu %s: HTTP/2 send error: %s", (unsigned long long)c->id,
						    c->peer, nghttp2_strerror(rv));
					h2_close(c);
					return;
				}
			}
			size_t n = wf_buf_size(&h->out);
			if (n == 0)
				break;
			ssize_t w = wf_conn_send(c, wf_buf_head(&h->out), n < XFER_IO_CHUNK ? n : XFER_IO_CHUNK);
			if (w == WF_AGAIN) {
				wait_for_events(c);
				return;
			}
			if (w < 0) {
				h2_close(c);
				return;
			}
			wf_buf_consume(&h->out, (size_t)w);
			progress = true;
		}
		wf_conn_want_write(c, false);
		if (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng)) {
			h2_close(c);
			return;
		}
		if (!progress || reads >= H2_READS_PER_WAKE ||
		    (wf_conn_pending(c) == 0 && wf_buf_size(&h->out) == 0 && (h->paused || wf_buf_size(&h->hold) == 0)))
			break;
	}
	if (wf_buf_size(&h->out) == 0)
		wf_buf_release(&h->out);
	wait_for_events(c);
	if (reads >= H2_READS_PER_WAKE)
		wf_conn_want_write(c, true);
}

/* A stream that made no progress for send_timeout is reset; the connection
 * and its other streams go on. The error code is nginx's for a request that
 * timed out: PROTOCOL_ERROR while our answer is unfinished (the client broke
 * the exchange by letting nothing move: not our INTERNAL_ERROR, and not
 * CANCEL, which says we no longer want the response), NO_ERROR once the answer
 * was wholly sent and only the client's body is missing (RFC 9113 8.1). */
static void stream_stall(h2_t *h, h2_stream_t *s, double now)
{
	wf_conn_t *c = h->c;
	const wf_config_t *cfg = c->cfg;
	bool answered = nghttp2_session_get_stream_local_close(h->ng, s->id) == 1;
	if (s->last_progress + cfg->limits.send_timeout - now > 0.01) /* moved, but below min_rate */
		wf_log_info("conn %llu %s: HTTP/2 stream %d made %llu bytes of progress in %d s, below "
			    "limits.min_rate %d, resetting it",
			    (unsigned long long)c->id, c->peer, s->id, (unsigned long long)stream_rate_bytes(h, s),
			    cfg->limits.send_timeout, cfg->limits.min_rate);
	else
		wf_log_info("conn %llu %s: HTTP/2 stream %d made no progress for %d s, resetting it",
			    (unsigned long long)c->id, c->peer, s->id, cfg->limits.send_timeout);
	/* The upload's temp file goes now, not when the frame is out; the rest
	 * (an open file, the access-log line) goes when nghttp2 closes the
	 * stream, since a DATA frame of it may already be on its way. */
	if (s->ex.state == XFER_EX_READ_BODY)
		xfer_exchange_body_end(&s->ex, false);
	nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
				  answered ? NGHTTP2_NO_ERROR : NGHTTP2_PROTOCOL_ERROR);
	s->stalled = true;
	s->last_progress = now;
}

/* The connection's own timeouts (no first request, a head not complete,
 * idle) end it gracefully, as nginx does: GOAWAY(NO_ERROR) first, so a
 * client that sent a request meanwhile knows it was not processed. */
static void h2_on_timeout(wf_conn_t *c)
{
	h2_t *h = H(c);
	double now = ev_now(wf_conn_loop(c));
	const wf_config_t *cfg = c->cfg;
	if (h->timer == H2_TIMER_FIRST) {
		wf_log_info("conn %llu %s: no HTTP/2 request within %d s of connecting, closing",
			    (unsigned long long)c->id, c->peer, cfg->limits.header_timeout);
		send_goaway_close(c, NGHTTP2_NO_ERROR);
		return;
	}
	if (h->timer == H2_TIMER_HEAD && h->since + cfg->limits.header_timeout - now <= 0.01) {
		wf_log_info("conn %llu %s: HTTP/2 request head not complete within %d s, closing",
			    (unsigned long long)c->id, c->peer, cfg->limits.header_timeout);
		send_goaway_close(c, NGHTTP2_NO_ERROR);
		return;
	}
	if (h->timer == H2_TIMER_IDLE && h->since + cfg->limits.idle_timeout - now <= 0.01) {
		send_goaway_close(c, NGHTTP2_NO_ERROR);
		return;
	}
	for (h2_stream_t *s = h->streams; s; s = s->next) {
		double d = stream_deadline(h, s, now);
		if (d == 0 || d - now > 0.01)
			continue;
		if (s->stalled) {
			/* The client reads nothing at all: not even the reset goes out. */
			wf_log_info("conn %llu %s: HTTP/2 stream %d stalled, and its reset not sent within %d s: "
				    "closing", (unsigned long long)c->id, c->peer, s->id, cfg->limits.send_timeout);
			h2_close(c);
			return;
		}
		stream_stall(h, s, now); /* the stream stays listed until nghttp2 closes it */
	}
	h2_on_io(c); /* sends the resets; sets the timer again */
}

static void h2_on_drain(wf_conn_t *c)
{
	h2_t *h = H(c);
	nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
			      NGHTTP2_NO_ERROR, NULL, 0);
	for (h2_stream_t *s = h->streams; s; s = s->next)
		if (s->begun)
			xfer_exchange_drain(&s->ex); /* a long poll answers soon, not at its wait's end */
	h2_on_io(c);
}

static void h2_on_close(wf_conn_t *c)
{
	h2_t *h = H(c);
	if (!h)
		return;
	while (h->streams)
		stream_free(h, h->streams, false);
	nghttp2_session_del(h->ng);
	wf_buf_fini(&h->out);
	wf_buf_fini(&h->hold);
	free(h);
	c->proto_data = NULL;
}

static const wf_proto_t h2_proto = {
	.name = "h2",
	.on_io = h2_on_io,
	.on_timeout = h2_on_timeout,
	.on_drain = h2_on_drain,
	.on_close = h2_on_close,
};

int xfer_h2_start(wf_conn_t *c)
{
	h2_t *h = calloc(1, sizeof(*h));
	if (!h)
		return WF_ERR;
	h->c = c;
	wf_buf_init(&h->out, H2_OUT_HIGH + 2 * XFER_IO_CHUNK + 64 * 1024);
	wf_buf_init(&h->hold, XFER_IO_CHUNK);
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0) {
		free(h);
		return WF_ERR;
	}
	nghttp2_session_callbacks_set_send_callback(cb, on_send);
	nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
	nghttp2_option_set_max_outbound_ack(opt, H2_ACK_MAX);
	int rv = nghttp2_session_server_new2(&h->ng, cb, h, opt);
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	if (rv != 0) {
		free(h);
		return WF_ERR;
	}
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)c->cfg->limits.h2_max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)c->cfg->limits.max_header_bytes },
	};
	nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, WF_ARRAY_LEN(iv));
	nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
	int lowat = H2_NOTSENT_LOWAT;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)); /* a latency aid: best effort */
	c->proto = &h2_proto;
	c->proto_data = h;
	return WF_OK;
}
