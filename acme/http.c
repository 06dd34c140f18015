/* HTTP client for ACME over libcurl's multi-socket API and libev: see http.h.
 *
 * Flow: curl asks for socket interest (on_curl_socket) and for one timer
 * (on_curl_timer); we mirror both with watchers and, when they fire, hand
 * control back to curl with curl_multi_socket_action. Only then, outside any
 * curl callback, finished transfers are taken off the multi handle and queued;
 * a zero-delay ev_timer delivers them, so user code never runs inside curl or
 * inside acme_http_request, and may start, cancel or free from its callback. */
#include "http.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Link headers are few and short in ACME (index, up, alternate chains); a
 * server that sends more than this is broken or hostile. */
#define LINKS_MAX (16u * 1024)
/* Longer than any sane ACME exchange; keeps the seconds-to-ms conversion far
 * from overflowing a long. */
#define TIMEOUT_MAX_S (24.0 * 3600)
#define CONNECT_TIMEOUT_MAX_MS 10000L
/* Connections kept open to one host; ACME needs few, and a bound keeps a
 * burst of requests from opening a socket each. */
#define HOST_CONNECTIONS_MAX 8L

typedef struct req req_t;

/* One ev_io per socket curl wants watched; curl_multi_assign links it to the
 * socket so curl hands it back on every change. */
typedef struct sock {
	ev_io io;
	acme_http_t *h; /* borrowed: owner */
	struct sock *prev, *next;
} sock_t;

struct req {
	acme_http_t *h; /* borrowed: owner */
	unsigned long id;
	CURL *easy;
	struct curl_slist *headers;
	char *post; /* owned copy of the POST body (or the mail): curl reads it during the transfer */
	size_t post_len, post_off; /* a mail's size, and how much curl has read */
	struct curl_slist *rcpt;   /* a mail's recipients */
	acme_http_cb cb;
	void *arg;
	acme_http_resp_t resp;
	char errbuf[CURL_ERROR_SIZE];
	bool body_too_big;
	bool links_too_big;
	req_t *prev, *next;
};

typedef struct req_list {
	req_t *head, *tail;
} req_list_t;

struct acme_http {
	struct ev_loop *loop; /* borrowed: from the caller */
	CURLM *multi;
	ev_timer curl_timer; /* the one timeout curl asks for */
	ev_timer deliver;    /* zero-delay: runs callbacks of finished requests */
	char *ca_file;
	char *user_agent;
	req_list_t running; /* on the multi handle */
	req_list_t done;    /* off the multi handle, callback not yet run */
	sock_t *socks;
	unsigned long next_id;
	bool delivering; /* inside on_deliver: a user callback may be on the stack */
	bool freed;      /* acme_http_free was called from a callback: finish later */
	bool fresh;      /* acme_http_fresh_connections */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	/* Never paired with curl_global_cleanup: the library lives as long as
	 * the process, and cleanup is not safe while another thread uses curl. */
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void list_push(req_list_t *l, req_t *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static void list_unlink(req_list_t *l, req_t *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
}

static req_t *list_find(const req_list_t *l, unsigned long id)
{
	for (req_t *r = l->head; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* The easy handle must already be off the multi handle. */
static void req_free(req_t *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->post);
	curl_slist_free_all(r->rcpt);
	wf_buf_fini(&r->resp.body);
	wf_buf_fini(&r->resp.links);
	free(r);
}

static void resp_clear_headers(acme_http_resp_t *resp)
{
	resp->content_type[0] = '\0';
	resp->replay_nonce[0] = '\0';
	resp->etag[0] = resp->cluster_answer[0] = resp->thumbprint[0] = '\0';
	resp->location[0] = '\0';
	resp->retry_after[0] = '\0';
	wf_buf_reset(&resp->links);
}

static bool has_ctl(wf_slice_t s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return true;
	}
	return false;
}

/* A value that does not fit is dropped, not cut: half a nonce or half a URL
 * would only fail later, further from its cause. */
static void set_field(char *dst, size_t size, wf_slice_t v)
{
	if (v.len >= size) {
		dst[0] = '\0';
		return;
	}
	memcpy(dst, v.ptr, v.len);
	dst[v.len] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	req_t *r = userp;
	size_t total = size * n;
	wf_slice_t line = { data, total };

	while (line.len && (line.ptr[line.len - 1] == '\n' || line.ptr[line.len - 1] == '\r'))
		line.len--;
	/* A new status line starts a new response (after a 1xx, or a proxy's
	 * CONNECT answer): headers seen so far were not the final ones. */
	if (line.len >= 5 && memcmp(line.ptr, "HTTP/", 5) == 0) {
		resp_clear_headers(&r->resp);
		return total;
	}
	const char *colon = memchr(line.ptr, ':', line.len);
	if (!colon)
		return total;
	wf_slice_t name = { line.ptr, (size_t)(colon - line.ptr) };
	wf_slice_t value = wf_slice_trim((wf_slice_t){ colon + 1, line.len - name.len - 1 });
	/* The fields end up in logs and in later requests: no control bytes. */
	if (has_ctl(value))
		return total;

	acme_http_resp_t *resp = &r->resp;
	if (wf_slice_eq_ci(name, "Replay-Nonce")) {
		set_field(resp->replay_nonce, sizeof(resp->replay_nonce), value);
	} else if (wf_slice_eq_ci(name, "Location")) {
		set_field(resp->location, sizeof(resp->location), value);
	} else if (wf_slice_eq_ci(name, "Retry-After")) {
		set_field(resp->retry_after, sizeof(resp->retry_after), value);
	} else if (wf_slice_eq_ci(name, "Content-Type")) {
		set_field(resp->content_type, sizeof(resp->content_type), value);
	} else if (wf_slice_eq_ci(name, "ETag")) {
		set_field(resp->etag, sizeof(resp->etag), value);
	} else if (wf_slice_eq_ci(name, "Wharf-Cluster-Answer")) {
		set_field(resp->cluster_answer, sizeof(resp->cluster_answer), value);
	} else if (wf_slice_eq_ci(name, "Wharf-Account-Thumbprint")) {
		set_field(resp->thumbprint, sizeof(resp->thumbprint), value);
	} else if (wf_slice_eq_ci(name, "Link") && value.len) {
		/* Dropping a Link silently could lose the chain the caller asked
		 * for, so too many of them fail the transfer instead. */
		if ((wf_buf_size(&resp->links) && wf_buf_append(&resp->links, ", ", 2) != WF_OK) ||
		    wf_buf_append(&resp->links, value.ptr, value.len) != WF_OK) {
			r->links_too_big = true;
			return 0;
		}
	}
	return total;
}

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
	req_t *r = userp;
	size_t total = size * n;

	if (wf_buf_append(&r->resp.body, data, total) != WF_OK) {
		/* wf_buf fails both past its cap and when out of memory; only the
		 * first is the peer's doing. */
		if (total > ACME_HTTP_BODY_MAX - wf_buf_size(&r->resp.body))
			r->body_too_big = true;
		return 0;
	}
	return total;
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents);

static void sock_free(acme_http_t *h, sock_t *s)
{
	ev_io_stop(h->loop, &s->io);
	if (s->prev)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

/* Runs inside curl: only adjusts watchers, never calls back into curl's
 * transfer functions. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	acme_http_t *h = userp;
	sock_t *s = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(h->multi, fd, NULL);
			sock_free(h, s);
		}
		return 0;
	}
	int events = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->h = h;
		s->next = h->socks;
		if (h->socks)
			h->socks->prev = s;
		h->socks = s;
		ev_io_init(&s->io, on_io, fd, events);
		curl_multi_assign(h->multi, fd, s);
	} else {
		ev_io_stop(h->loop, &s->io);
		ev_io_set(&s->io, fd, events);
	}
	ev_io_start(h->loop, &s->io);
	return 0;
}

/* Runs inside curl: a timeout of 0 means "act now", which we turn into a
 * zero-delay timer rather than recurse into curl from its own callback.
 * Milliseconds become fractional seconds: integer division would round
 * every sub-second timeout down to 0 and spin the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	acme_http_t *h = userp;

	ev_timer_stop(h->loop, &h->curl_timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&h->curl_timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(h->loop, &h->curl_timer);
	}
	return 0;
}

static void finish(acme_http_t *h, req_t *r, CURLcode rc)
{
	acme_http_resp_t *resp = &r->resp;

	resp->curl_code = (int)rc;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &resp->seconds);
	if (rc != CURLE_OK) {
		const char *msg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
		if (r->body_too_big || rc == CURLE_FILESIZE_EXCEEDED)
			msg = "response larger than 1 MiB";
		else if (r->links_too_big)
			msg = "Link headers larger than 16 KiB";
		/* libcurl's "Problem with the SSL CA cert (path? access rights?)"
		 * names no file, and the admin's fix is in that one. */
		if (rc == CURLE_SSL_CACERT_BADFILE && h->ca_file && !strstr(msg, h->ca_file))
			snprintf(resp->error, sizeof(resp->error), "%.80s: %.170s", msg, h->ca_file);
		else
			snprintf(resp->error, sizeof(resp->error), "%s", msg);
	}
	/* The connection stays in the multi handle's pool; the easy handle and
	 * what it read from are no longer needed. */
	curl_easy_cleanup(r->easy);
	r->easy = NULL;
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	free(r->post);
	r->post = NULL;
	curl_slist_free_all(r->rcpt);
	r->rcpt = NULL;
	list_push(&h->done, r);
	if (!ev_is_active(&h->deliver))
		ev_timer_start(h->loop, &h->deliver);
}

/* Called after curl_multi_socket_action returned, so removing handles from
 * the multi handle is allowed here. */
static void collect_done(acme_http_t *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		char *priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		req_t *r = (req_t *)priv;
		curl_multi_remove_handle(h->multi, easy);
		list_unlink(&h->running, r);
		finish(h, r, rc);
	}
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	sock_t *s = wf_container_of(w, sock_t, io);
	acme_http_t *h = s->h;
	int action = 0;
	int running;

	if (revents & EV_READ)
		action |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	if (revents & EV_ERROR)
		action |= CURL_CSELECT_ERR;
	/* s may be freed inside this call (CURL_POLL_REMOVE): read nothing
	 * from it afterwards. */
	curl_multi_socket_action(h->multi, w->fd, action, &running);
	collect_done(h);
}

static void on_curl_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	acme_http_t *h = wf_container_of(w, acme_http_t, curl_timer);
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_done(h);
}

static void destroy(acme_http_t *h)
{
	req_t *r;

	ev_timer_stop(h->loop, &h->curl_timer);
	ev_timer_stop(h->loop, &h->deliver);
	while ((r = h->running.head)) {
		list_unlink(&h->running, r);
		curl_multi_remove_handle(h->multi, r->easy);
		req_free(r);
	}
	while ((r = h->done.head)) {
		list_unlink(&h->done, r);
		req_free(r);
	}
	/* Closing pooled connections may still call on_curl_socket and
	 * on_curl_timer, which need h; watchers curl did not report are
	 * stopped below. */
	curl_multi_cleanup(h->multi);
	while (h->socks)
		sock_free(h, h->socks);
	ev_timer_stop(h->loop, &h->curl_timer);
	free(h->ca_file);
	free(h->user_agent);
	free(h);
}

static void on_deliver(struct ev_loop *loop, ev_timer *w, int revents)
{
	acme_http_t *h = wf_container_of(w, acme_http_t, deliver);
	req_t *r;

	h->delivering = true;
	/* Nothing is queued while this runs (only curl's watchers queue), but a
	 * callback may cancel a queued request, which unlinks it, or free h,
	 * which stops the round before the next call. */
	while (!h->freed && (r = h->done.head)) {
		list_unlink(&h->done, r);
		r->cb(r->arg, &r->resp);
		req_free(r);
	}
	h->delivering = false;
	if (h->freed)
		destroy(h);
}

acme_http_t *acme_http_new(struct ev_loop *loop, const char *ca_file, const char *user_agent)
{
	acme_http_t *h = NULL;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->loop = loop;
	h->next_id = 1;
	ev_timer_init(&h->curl_timer, on_curl_timeout, 0., 0.);
	ev_timer_init(&h->deliver, on_deliver, 0., 0.);
	if (ca_file && !(h->ca_file = strdup(ca_file)))
		goto fail;
	if (!(h->user_agent = strdup(user_agent ? user_agent : "wharf")))
		goto fail;
	if (!(h->multi = curl_multi_init()))
		goto fail;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, HOST_CONNECTIONS_MAX);
	return h;
fail:
	free(h->user_agent);
	free(h->ca_file);
	free(h);
	return NULL;
}

void acme_http_fresh_connections(acme_http_t *h)
{
	h->fresh = true;
}

void acme_http_host_connections(acme_http_t *h, long n)
{
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n > 0 ? n : 1L);
}

void acme_http_free(acme_http_t *h)
{
	if (!h)
		return;
	if (h->delivering) {
		/* A callback of ours is on the stack and on_deliver still holds
		 * the request it is running: on_deliver finishes the job. */
		h->freed = true;
		return;
	}
	destroy(h);
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Every option that matters is set here, explicitly, even where it is curl's
 * default: what the ACME client trusts should not depend on libcurl's build. */
static size_t on_read(char *buf, size_t size, size_t n, void *userp)
{
	req_t *r = userp;
	size_t room = size * n, left = r->post_len - r->post_off;
	size_t k = left < room ? left : room;
	memcpy(buf, r->post + r->post_off, k);
	r->post_off += k;
	return k;
}

/* A mail through an SMTP relay (alerts): body is the whole message,
 * headers and all; curl adds the dot-stuffing. */
static int mail_setup(req_t *r, const char *from, const char *const *rcpt, wf_slice_t body)
{
	CURL *e = r->easy;
	CURLcode rc = CURLE_OK;
	for (size_t i = 0; rcpt && rcpt[i]; i++) {
		struct curl_slist *l = has_crlf(rcpt[i]) ? NULL : curl_slist_append(r->rcpt, rcpt[i]);
		if (!l)
			return WF_ERR;
		r->rcpt = l;
	}
	if (!r->rcpt || !from || has_crlf(from))
		return WF_ERR;
	r->post = malloc(body.len ? body.len : 1);
	if (!r->post)
		return WF_ERR;
	memcpy(r->post, body.ptr, body.len);
	r->post_len = body.len;
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	rc |= curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	rc |= curl_easy_setopt(e, CURLOPT_MAIL_RCPT, r->rcpt);
	rc |= curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	rc |= curl_easy_setopt(e, CURLOPT_READDATA, r);
	rc |= curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body.len);
	/* smtp:// upgrades with STARTTLS when the relay offers it; smtps:// is TLS throughout. */
	rc |= curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	return rc == CURLE_OK ? WF_OK : WF_ERR;
}

static int req_setup(acme_http_t *h, req_t *r, const char *method, const char *url, const char *content_type,
		     const char *const *headers, wf_slice_t body, long timeout_ms)
{
	CURL *e = r->easy;
	CURLcode rc = CURLE_OK;
	struct curl_slist *l;

	for (size_t i = 0; headers && headers[i]; i++) {
		if (has_crlf(headers[i]) || !(l = curl_slist_append(r->headers, headers[i])))
			return WF_ERR;
		r->headers = l;
	}

	if (content_type) {
		char line[256];
		if ((size_t)snprintf(line, sizeof(line), "Content-Type: %s", content_type) >= sizeof(line))
			return WF_ERR;
		if (!(l = curl_slist_append(r->headers, line)))
			return WF_ERR;
		r->headers = l;
	}
	/* No "Expect: 100-continue" round trip for a POST: JWS bodies are small. */
	if (!(l = curl_slist_append(r->headers, "Expect:")))
		return WF_ERR;
	r->headers = l;

	rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	rc |= curl_easy_setopt(e, CURLOPT_URL, url);
	/* RFC 8555 requires https; http stays allowed for a local test CA. */
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https,http");
	/* ACME never redirects a client; a Location header is data for the caller. */
	rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			       timeout_ms < CONNECT_TIMEOUT_MAX_MS ? timeout_ms : CONNECT_TIMEOUT_MAX_MS);
	rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file) {
		rc |= curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
		/* "Instead of the system's": the built-in CA folder would
		 * otherwise still be consulted alongside the file. */
		rc |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
	/* CURLOPT_ACCEPT_ENCODING stays unset: no compression, so the body cap
	 * counts bytes on the wire and nothing inflates behind it. */
	rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	if (h->fresh) {
		rc |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		rc |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	}

	if (strcmp(method, "POST") == 0) {
		/* A copy the request owns: the caller's bytes may be gone before
		 * curl sends them. */
		r->post = malloc(body.len ? body.len : 1);
		if (!r->post)
			return WF_ERR;
		if (body.len)
			memcpy(r->post, body.ptr, body.len);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->post);
	} else if (strcmp(method, "HEAD") == 0) {
		rc |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") == 0) {
		rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "MAIL") == 0) {
		return rc == CURLE_OK ? WF_OK : WF_ERR; /* mail_setup does the rest */
	} else {
		return WF_ERR;
	}
	if (strcmp(method, "HEAD") != 0) {
		/* Fails early on a declared Content-Length past the cap; on_write
		 * still enforces it for bodies of unknown length. */
		rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ACME_HTTP_BODY_MAX);
	}
	return rc == CURLE_OK ? WF_OK : WF_ERR;
}

unsigned long acme_http_request(acme_http_t *h, const char *method, const char *url, const char *content_type,
				wf_slice_t body, double timeout, acme_http_cb cb, void *arg)
{
	return acme_http_request_with(h, method, url, content_type, NULL, body, timeout, cb, arg);
}

static unsigned long start(acme_http_t *h, const char *method, const char *url, const char *content_type,
			   const char *const *headers, wf_slice_t body, double timeout, acme_http_cb cb, void *arg,
			   const char *mail_from, const char *const *rcpt);

unsigned long acme_http_request_with(acme_http_t *h, const char *method, const char *url, const char *content_type,
				     const char *const *headers, wf_slice_t body, double timeout, acme_http_cb cb,
				     void *arg)
{
	if (method && strcmp(method, "MAIL") == 0)
		return 0;
	return start(h, method, url, content_type, headers, body, timeout, cb, arg, NULL, NULL);
}

unsigned long acme_http_mail(acme_http_t *h, const char *url, const char *from, const char *const *rcpt,
			     wf_slice_t message, double timeout, acme_http_cb cb, void *arg)
{
	return start(h, "MAIL", url, NULL, NULL, message, timeout, cb, arg, from, rcpt);
}

static unsigned long start(acme_http_t *h, const char *method, const char *url, const char *content_type,
			   const char *const *headers, wf_slice_t body, double timeout, acme_http_cb cb, void *arg,
			   const char *mail_from, const char *const *rcpt)
{
	req_t *r = NULL;

	if (h->freed || !method || !url || !cb || has_crlf(url) || (content_type && has_crlf(content_type)))
		return 0;
	if (!(timeout > 0) || !isfinite(timeout))
		return 0;
	if (timeout > TIMEOUT_MAX_S)
		timeout = TIMEOUT_MAX_S;
	/* Rounded up, so a tiny timeout never becomes curl's 0 ("none"). */
	long timeout_ms = (long)(timeout * 1000.0);
	if ((double)timeout_ms < timeout * 1000.0)
		timeout_ms++;

	r = calloc(1, sizeof(*r));
	if (!r)
		return 0;
	r->h = h;
	r->cb = cb;
	r->arg = arg;
	wf_buf_init(&r->resp.body, ACME_HTTP_BODY_MAX);
	wf_buf_init(&r->resp.links, LINKS_MAX);
	if (!(r->easy = curl_easy_init()))
		goto fail;
	if (req_setup(h, r, method, url, content_type, headers, body, timeout_ms) != WF_OK)
		goto fail;
	if (strcmp(method, "MAIL") == 0 && mail_setup(r, mail_from, rcpt, body) != WF_OK)
		goto fail;
	/* Only arms curl's timer (a zero-delay ev_timer): nothing completes and
	 * no callback runs before we return. */
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK)
		goto fail;
	r->id = h->next_id++;
	if (h->next_id == 0)
		h->next_id = 1;
	list_push(&h->running, r);
	return r->id;
fail:
	req_free(r);
	return 0;
}

void acme_http_cancel(acme_http_t *h, unsigned long handle)
{
	req_t *r;

	if (!handle)
		return;
	if ((r = list_find(&h->running, handle))) {
		list_unlink(&h->running, r);
		curl_multi_remove_handle(h->multi, r->easy);
		req_free(r);
	} else if ((r = list_find(&h->done, handle))) {
		list_unlink(&h->done, r);
		req_free(r);
	}
}

int acme_http_active(const acme_http_t *h)
{
	int n = 0;

	for (const req_t *r = h->running.head; r; r = r->next)
		n++;
	for (const req_t *r = h->done.head; r; r = r->next)
		n++;
	return n;
}
