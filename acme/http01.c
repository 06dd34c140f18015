/* The acme-http responder: see http01.h. */
#include "http01.h"
#include "cluster.h"
#include "challenges.h"
#include "thumbprints.h"
#include "../server/buf.h"
#include "../server/log.h"
#include "../transfer/h1_parse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_MAX 8192
#define PREFIX "/.well-known/acme-challenge/"

typedef struct http01 {
	wf_buf_t in;
	bool answered;
} http01_t;

/* Set by the follower on the main thread, read by the workers. */
static pthread_mutex_t proved_lock = PTHREAD_MUTEX_INITIALIZER;
static char proved[ACME_CLUSTER_THUMBPRINT_LEN + 1];

void acme_http01_thumbprint_set(const char *thumbprint)
{
	if (!acme_cluster_thumbprint_valid(thumbprint))
		return;
	pthread_mutex_lock(&proved_lock);
	memcpy(proved, thumbprint, sizeof(proved));
	pthread_mutex_unlock(&proved_lock);
}

/* The name a Host header asks for: no port, no brackets round an IPv6
 * address, no trailing dot. */
static wf_slice_t host_name(wf_slice_t h)
{
	if (h.len && h.ptr[0] == '[') {
		const char *end = memchr(h.ptr, ']', h.len);
		return end ? (wf_slice_t){ h.ptr + 1, (size_t)(end - h.ptr - 1) } : (wf_slice_t){ NULL, 0 };
	}
	const char *colon = memchr(h.ptr, ':', h.len);
	if (colon)
		h.len = (size_t)(colon - h.ptr);
	if (h.len && h.ptr[h.len - 1] == '.')
		h.len--;
	return h;
}

/* The controller's word for the certificate with the name the validation
 * is for (its Host), else the one held in memory, else the stored one
 * (after a restart), or "". */
static void thumbprint_of(const char *state_dir, const xfer_h1_request_t *req, char *out, size_t cap)
{
	const xfer_h1_header_t *host = xfer_h1_header_find(req, "host");
	wf_slice_t name = host ? host_name(host->value) : (wf_slice_t){ NULL, 0 };
	char by_name[ACME_CLUSTER_THUMBPRINT_LEN + 1];
	if (name.len && acme_thumbs_get(&acme_thumbs_by_domain, name.ptr, name.len, by_name)) {
		snprintf(out, cap, "%s", by_name);
		return;
	}
	pthread_mutex_lock(&proved_lock);
	snprintf(out, cap, "%s", proved);
	pthread_mutex_unlock(&proved_lock);
	if (!out[0])
		acme_cluster_thumbprint(state_dir, out, cap);
}

static bool is_b64url(wf_slice_t s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		char ch = s.ptr[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return true;
}

/* A Host we may echo into Location: a name or an address, optional port. */
static bool safe_host(wf_slice_t h)
{
	if (h.len == 0 || h.len > 255)
		return false;
	for (size_t i = 0; i < h.len; i++) {
		char ch = h.ptr[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '.' || ch == ':' || ch == '[' || ch == ']'))
			return false;
	}
	return true;
}

static void respond(wf_conn_t *c, int status, const char *reason, const char *extra, const char *body, bool head,
		    wf_slice_t method, wf_slice_t target)
{
	char buf[4096];
	size_t blen = strlen(body);
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d %s\r\nServer: wharf\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n%s\r\n%s",
			 status, reason, blen, extra, head ? "" : body);
	if (n > 0)
		wf_conn_send(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	wf_log_access(c->peer, NULL, method, target, "HTTP/1.1", status, head ? 0 : blen,
		      ev_now(wf_conn_loop(c)) - c->accepted);
}

static void answer(wf_conn_t *c, const xfer_h1_request_t *req)
{
	bool head = wf_slice_eq(req->method, "HEAD");
	wf_slice_t t = req->target;
	if (!head && !wf_slice_eq(req->method, "GET")) {
		respond(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "405 Method Not Allowed\n", false,
			req->method, t);
		return;
	}
	size_t plen = strlen(PREFIX);
	if (t.len > plen && memcmp(t.ptr, PREFIX, plen) == 0) {
		wf_slice_t token = { t.ptr + plen, t.len - plen };
		const char *q = memchr(token.ptr, '?', token.len);
		if (q)
			token.len = (size_t)(q - token.ptr);
		if (wf_slice_eq(token, "test.txt")) {
			respond(c, 200, "OK", "", ACME_HTTP01_READY_TEXT, head, req->method, t);
			return;
		}
		acme_chal_snap_t *s = is_b64url(token) ? acme_challenges_acquire() : NULL;
		const char *ka = acme_chal_http(s, token);
		char stateless[400];
		if (!ka && is_b64url(token) && acme_cluster_is_follower(c->cfg) && token.len >= 16 && token.len <= 128) {
			/* A follower behind the same load balancer as the controller:
			 * the key authorization is the token and the account's
			 * thumbprint, nothing secret, so any node can answer it
			 * (docs/cluster.md). */
			char thumb[128];
			thumbprint_of(c->cfg->state_dir, req, thumb, sizeof(thumb));
			if (thumb[0]) {
				snprintf(stateless, sizeof(stateless), "%.*s.%s", (int)token.len, token.ptr, thumb);
				ka = stateless;
			}
		}
		if (ka) {
			respond(c, 200, "OK", "", ka, head, req->method, t);
			wf_log_info("acme-http: answered the challenge for token %.*s to %s", (int)token.len, token.ptr,
				    c->peer);
		} else {
			respond(c, 404, "Not Found", "", "404 Not Found: no pending challenge with this token\n", head,
				req->method, t);
		}
		acme_chal_snap_unref(s);
		return;
	}
	const xfer_h1_header_t *host = xfer_h1_header_find(req, "host");
	if (!host || !safe_host(host->value) || t.len == 0 || t.ptr[0] != '/') {
		respond(c, 400, "Bad Request", "", "400 Bad Request\n", head, req->method, t);
		return;
	}
	/* The Host's own port is the plain one; the redirect names the HTTPS port. */
	wf_slice_t name = host->value;
	const char *colon = name.ptr[0] == '[' ? memchr(name.ptr, ']', name.len) : memchr(name.ptr, ':', name.len);
	if (colon && name.ptr[0] == '[')
		colon++;
	if (colon && (size_t)(colon - name.ptr) <= name.len)
		name.len = (size_t)(colon - name.ptr);
	char loc[2048];
	int port = c->svc->https_port;
	if (port == 443)
		snprintf(loc, sizeof(loc), "Location: https://%.*s%.*s\r\n", (int)name.len, name.ptr, (int)t.len, t.ptr);
	else
		snprintf(loc, sizeof(loc), "Location: https://%.*s:%d%.*s\r\n", (int)name.len, name.ptr, port,
			 (int)t.len, t.ptr);
	respond(c, 301, "Moved Permanently", loc, "301 Moved Permanently\n", head, req->method, t);
}

static void on_io(wf_conn_t *c)
{
	http01_t *h = c->proto_data;
	for (;;) {
		if (h->answered) {
			wf_conn_close(c);
			return;
		}
		char *dst = wf_buf_reserve(&h->in, 2048);
		if (!dst) {
			wf_conn_close(c);
			return;
		}
		ssize_t n = wf_conn_recv(c, dst, 2048);
		if (n == WF_AGAIN)
			return;
		if (n <= 0) {
			wf_conn_close(c);
			return;
		}
		wf_buf_commit(&h->in, (size_t)n);
		xfer_h1_request_t req;
		ssize_t r = xfer_h1_parse_request(wf_buf_head(&h->in), wf_buf_size(&h->in), HEAD_MAX, &req);
		if (r == XFER_H1_AGAIN)
			continue;
		h->answered = true;
		if (r < 0)
			respond(c, r == XFER_H1_TOO_LARGE ? 431 : 400, r == XFER_H1_TOO_LARGE ? "Request Header Fields Too Large" : "Bad Request", "",
				"bad request\n", false, WF_SLICE("-"), WF_SLICE("-"));
		else
			answer(c, &req);
	}
}

static void on_timeout(wf_conn_t *c)
{
	wf_conn_close(c);
}

static void on_close(wf_conn_t *c)
{
	http01_t *h = c->proto_data;
	if (!h)
		return;
	wf_buf_fini(&h->in);
	free(h);
	c->proto_data = NULL;
}

static const wf_proto_t http01_proto = {
	.name = "acme-http",
	.on_io = on_io,
	.on_timeout = on_timeout,
	.on_drain = on_timeout,
	.on_close = on_close,
};

int acme_http01_start(wf_conn_t *c)
{
	http01_t *h = calloc(1, sizeof(*h));
	if (!h)
		return WF_ERR;
	wf_buf_init(&h->in, HEAD_MAX + 2048);
	c->proto = &http01_proto;
	c->proto_data = h;
	return WF_OK;
}
