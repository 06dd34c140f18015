/* Client connections: accept, TLS handshake with SNI selection, plaintext I/O
 * for the protocols, timers, teardown. See conn.h. */
#include "conn.h"
#include "tls_hello.h"
#include "ip_guard.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "worker.h"
#include "../acme/challenges.h"
#include "../acme/http01.h"
#include "../transfer/ftp_session.h"
#include "../transfer/https.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents);
static void on_conn_timer(struct ev_loop *loop, ev_timer *w, int revents);

struct ev_loop *wf_conn_loop(wf_conn_t *c)
{
	return c->worker->loop;
}

#define WIRE_HIGH (64 * 1024)    /* flush before encrypting more past this */
#define WIRE_MAX (1024 * 1024)    /* hard cap: a push past it is refused (EAGAIN) */
#define WIRE_IN_CHUNK (64 * 1024) /* several whole TLS records per recv(2) during uploads */
#define LINGER_SECONDS 10.0       /* how long a closing connection may take to deliver its last bytes */
#define DRAIN_LINGER_SECONDS 1.0  /* while shutting down, once those bytes are with the kernel */

static void update_events(wf_conn_t *c)
{
	int want;
	if (c->state != WF_CONN_CLOSING && c->read_paused && !c->want_write && !wf_buf_size(&c->wire_out)) {
		ev_io_stop(c->worker->loop, &c->io); /* nothing to watch until resumed */
		return;
	}
	size_t wire = wf_buf_size(&c->wire_out);
	if (c->state == WF_CONN_CLOSING)
		want = wire ? EV_WRITE : EV_READ; /* deliver, then read away until the client's FIN */
	else if (wire >= WIRE_HIGH) /* backed up: input waits, unless the protocol takes it all the same */
		want = EV_WRITE | (c->read_backed_up && !c->read_paused ? EV_READ : 0);
	else
		want = (c->read_paused ? 0 : EV_READ) | (c->want_write || wire ? EV_WRITE : 0);
	if (ev_is_active(&c->io) && (c->io.events & (EV_READ | EV_WRITE)) == want)
		return;
	ev_io_stop(c->worker->loop, &c->io);
	ev_io_set(&c->io, c->fd, want);
	ev_io_start(c->worker->loop, &c->io);
}

/* Only a flag: settle() turns it into watcher changes once per callback, so
 * a send that completes in the same callback costs no epoll_ctl. */
void wf_conn_want_write(wf_conn_t *c, bool on)
{
	c->want_write = on;
}

void wf_conn_set_timeout(wf_conn_t *c, double seconds)
{
	if (c->state == WF_CONN_CLOSING)
		return; /* the linger timer is not the protocol's to move */
	ev_timer_stop(c->worker->loop, &c->timer);
	if (seconds > 0) {
		ev_timer_set(&c->timer, seconds, 0);
		ev_timer_start(c->worker->loop, &c->timer);
	}
}

/* Errors a peer causes all the time (resets, truncation) are debug noise;
 * anything else is worth an info line with the connection tag. */
static void log_tls_error(wf_conn_t *c, const char *what, int rc)
{
	if (rc == GNUTLS_E_PREMATURE_TERMINATION || rc == GNUTLS_E_PUSH_ERROR || rc == GNUTLS_E_PULL_ERROR)
		wf_log_debug("conn %llu %s: %s: %s", (unsigned long long)c->id, c->peer, what, gnutls_strerror(rc));
	else
		wf_log_info("conn %llu %s: %s: %s", (unsigned long long)c->id, c->peer, what, gnutls_strerror(rc));
}

/* GnuTLS's push: records go to wire_out, never straight to the socket. */
static ssize_t wire_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	wf_conn_t *c = ptr;
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (wf_buf_size(&c->wire_out) + total > WIRE_MAX) {
		gnutls_transport_set_errno(c->tls, EAGAIN);
		return -1;
	}
	for (int i = 0; i < iovcnt; i++)
		if (wf_buf_append(&c->wire_out, iov[i].iov_base, iov[i].iov_len) != WF_OK) {
			gnutls_transport_set_errno(c->tls, ENOMEM);
			return -1;
		}
	return (ssize_t)total;
}

/* GnuTLS's pull: one large recv(2) fills wire_in, and records are served
 * from it, instead of GnuTLS's read of a header and then a body. A short
 * read means the socket is drained: the next pull answers EAGAIN without
 * asking the kernel, until epoll says the socket is readable again. */
static ssize_t wire_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	wf_conn_t *c = ptr;
	if (wf_buf_size(&c->wire_in) == 0) {
		if (c->in_drained) {
			gnutls_transport_set_errno(c->tls, EAGAIN);
			return -1;
		}
		char *dst = wf_buf_reserve(&c->wire_in, WIRE_IN_CHUNK);
		if (!dst) {
			gnutls_transport_set_errno(c->tls, ENOMEM);
			return -1;
		}
		ssize_t n;
		do
			n = recv(c->fd, dst, WIRE_IN_CHUNK, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				c->in_drained = true;
			gnutls_transport_set_errno(c->tls, errno);
			return -1;
		}
		if (n == 0)
			return 0;
		if ((size_t)n < WIRE_IN_CHUNK)
			c->in_drained = true;
		/* During the handshake, acknowledge at once: a client that writes
		 * its last flight in pieces without TCP_NODELAY (lftp's TLS 1.3
		 * Finished after its ChangeCipherSpec) otherwise waits for our
		 * delayed ACK, 40 ms per FTP data connection. The kernel clears
		 * the flag by itself, so it is set again on each read. */
		if (c->state == WF_CONN_HANDSHAKE) {
			int one = 1;
			setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		}
		wf_buf_commit(&c->wire_in, (size_t)n);
	}
	size_t n = wf_buf_size(&c->wire_in) < len ? wf_buf_size(&c->wire_in) : len;
	memcpy(buf, wf_buf_head(&c->wire_in), n);
	wf_buf_consume(&c->wire_in, n);
	return (ssize_t)n;
}

/* Writes wire_out to the socket. WF_OK (empty), WF_AGAIN, or WF_ERR. */
static int wire_flush(wf_conn_t *c)
{
	while (wf_buf_size(&c->wire_out)) {
		ssize_t n = send(c->fd, wf_buf_head(&c->wire_out), wf_buf_size(&c->wire_out), MSG_NOSIGNAL);
		if (n > 0) {
			wf_buf_consume(&c->wire_out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return WF_AGAIN;
		wf_log_debug("conn %llu %s: send: %m", (unsigned long long)c->id, c->peer);
		return WF_ERR;
	}
	return WF_OK;
}

ssize_t wf_conn_recv(wf_conn_t *c, void *buf, size_t len)
{
	if (!c->tls) { /* a plain service (acme-http) */
		for (;;) {
			ssize_t n = recv(c->fd, buf, len, 0);
			if (n >= 0)
				return n;
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? WF_AGAIN : WF_ERR;
		}
	}
	for (;;) {
		ssize_t n = gnutls_record_recv(c->tls, buf, len);
		if (n >= 0)
			return n;
		if (n == GNUTLS_E_AGAIN)
			return WF_AGAIN;
		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		/* A client that just closes TCP without close_notify is common and
		 * harmless for requests with a length; an FTP upload, which ends at
		 * the end of the stream, must know. */
		if (n == GNUTLS_E_PREMATURE_TERMINATION) {
			c->eof_unclean = true;
			return 0;
		}
		if (n == GNUTLS_E_REHANDSHAKE || n == GNUTLS_E_GOT_APPLICATION_DATA)
			continue;
		log_tls_error(c, "TLS receive", (int)n);
		return WF_ERR;
	}
}

ssize_t wf_conn_send(wf_conn_t *c, const void *buf, size_t len)
{
	if (wf_buf_size(&c->wire_out) >= WIRE_HIGH) {
		int f = wire_flush(c);
		if (f == WF_ERR)
			return WF_ERR;
		if (wf_buf_size(&c->wire_out) >= WIRE_HIGH) {
			c->want_write = true;
			return WF_AGAIN;
		}
	}
	if (!c->tls) {
		if (wf_buf_append(&c->wire_out, buf, len) != WF_OK)
			return WF_ERR;
		return (ssize_t)len;
	}
	for (;;) {
		ssize_t n = gnutls_record_send(c->tls, buf, len);
		if (n > 0)
			return n;
		if (n == GNUTLS_E_AGAIN) {
			c->want_write = true;
			return WF_AGAIN;
		}
		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		log_tls_error(c, "TLS send", (int)n);
		return WF_ERR;
	}
}

size_t wf_conn_pending(wf_conn_t *c)
{
	return c->tls ? gnutls_record_check_pending(c->tls) : 0;
}

void wf_conn_destroy(wf_conn_t *c)
{
	wf_worker_t *w = c->worker;
	ev_io_stop(w->loop, &c->io);
	ev_timer_stop(w->loop, &c->timer);
	if (c->proto && c->proto->on_close)
		c->proto->on_close(c);
	c->proto = NULL;
	if (c->tls)
		gnutls_deinit(c->tls);
	close(c->fd);
	wf_buf_fini(&c->wire_out);
	wf_buf_fini(&c->wire_in);
	if (c->snap)
		wf_certsnap_unref(c->snap);
	acme_chal_snap_unref(c->chal);
	/* Here, where every connection ends once, whichever way it closed: a
	 * failed or timed-out handshake, a protocol's close, a drain, a worker
	 * that stops. The count holds while the socket does, lingering too. */
	if (c->guarded)
		wf_ipguard_leave(c->peer_addr, WF_GUARD_HTTP);
	wf_config_unref(c->cfg);
	wf_worker_conn_removed(w, c);
	atomic_fetch_sub(&w->server->nconns, 1);
	free(c);
}

void wf_conn_close(wf_conn_t *c)
{
	if (c->state == WF_CONN_CLOSING)
		return;
	if (c->proto && c->proto->on_close)
		c->proto->on_close(c);
	c->proto = NULL;
	if (c->state == WF_CONN_OPEN && c->tls && !c->alpn_challenge)
		gnutls_bye(c->tls, GNUTLS_SHUT_WR); /* the alert goes to wire_out */
	c->state = WF_CONN_CLOSING;
	/* Freed from the loop (settle, on_conn_timer), never under a caller. */
	ev_timer_stop(c->worker->loop, &c->timer);
	ev_timer_set(&c->timer, LINGER_SECONDS, 0);
	ev_timer_start(c->worker->loop, &c->timer);
	update_events(c);
}

/* A shutdown waits for every connection, and an idle client told 421 may
 * never send its FIN (it reads nothing until its user types). Once our last
 * bytes are with the kernel, which delivers them after close(2) too, only a
 * client still sending could be hurt by an early close: a second is its grace. */
static void shorten_linger(wf_conn_t *c)
{
	if (!c->draining || !c->shut_wr)
		return;
	struct ev_loop *loop = c->worker->loop;
	if (ev_timer_remaining(loop, &c->timer) <= DRAIN_LINGER_SECONDS)
		return;
	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, DRAIN_LINGER_SECONDS, 0);
	ev_timer_start(loop, &c->timer);
}

/* A closing connection whose last bytes are out: half-close, then read and
 * drop what the client still sends until its FIN, so that close(2) does not
 * answer unread data with a reset that could destroy the response in flight. */
static bool linger(wf_conn_t *c)
{
	if (!c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
		shorten_linger(c);
	}
	char sink[4096];
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		wf_conn_destroy(c); /* EOF or error: the client has read all it will */
		return false;
	}
	/* Drained for now, or this turn's share spent: more on the next turn. */
	update_events(c);
	return true;
}

/* After every callback: deliver what the protocol produced, and finish a
 * closing connection once its last bytes are out. Returns false if c is gone. */
static bool settle(wf_conn_t *c)
{
	int f = c->shut_wr ? WF_OK : wire_flush(c);
	if (c->state == WF_CONN_CLOSING) {
		if (f == WF_AGAIN) {
			update_events(c);
			return true;
		}
		if (f == WF_ERR) {
			wf_conn_destroy(c);
			return false;
		}
		return linger(c);
	}
	if (f == WF_ERR) {
		wf_conn_close(c);
		wf_conn_destroy(c);
		return false;
	}
	/* Between transfers an idle connection keeps no wire buffers. */
	if (f == WF_OK && !c->want_write)
		wf_buf_release(&c->wire_out);
	if (wf_buf_size(&c->wire_in) == 0)
		wf_buf_release(&c->wire_in);
	update_events(c);
	return true;
}

/* Runs before GnuTLS reads a ClientHello (twice after a HelloRetryRequest);
 * GnuTLS parses the signature algorithms only after on_client_hello. */
static int on_hello_bytes(gnutls_session_t sess, unsigned htype, unsigned when, unsigned incoming,
			  const gnutls_datum_t *msg)
{
	(void)htype;
	(void)when;
	(void)incoming;
	wf_conn_t *c = gnutls_session_get_ptr(sess);
	c->verifiable = wf_tls_hello_keys(msg->data, msg->size);
	return 0;
}

/* SNI decides the certificate, among those the service lists and the client
 * can use. The snapshot was taken when TLS started; it stays with the
 * connection until it closes. */
static int on_client_hello(gnutls_session_t sess)
{
	wf_conn_t *c = gnutls_session_get_ptr(sess);
	size_t len = sizeof(c->sni) - 1;
	unsigned type;
	if (gnutls_server_name_get(sess, c->sni, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS) {
		/* "example.com." is example.com, fully qualified: some clients
		 * send the name as the user wrote it (openssl s_client does). */
		if (len > 1 && c->sni[len - 1] == '.')
			len--;
		c->sni[len] = '\0';
	} else {
		c->sni[0] = '\0';
	}
	/* RFC 8737: a client that offers only acme-tls/1 is a CA validating a
	 * TLS-ALPN-01 challenge; it gets the challenge certificate for its SNI. */
	gnutls_datum_t alpn = { 0 };
	if (c->svc->type == WF_SERVICE_HTTPS && gnutls_alpn_get_selected_protocol(sess, &alpn) == 0 && alpn.size == 10 &&
	    memcmp(alpn.data, "acme-tls/1", 10) == 0) {
		c->alpn_challenge = true;
		/* GnuTLS calls this hook once per ClientHello: twice after a
		 * HelloRetryRequest. The snapshot taken at the first stays (one
		 * reference, one unref in teardown). */
		if (!c->chal)
			c->chal = acme_challenges_acquire();
		wf_certkey_t *ck = acme_chal_alpn(c->chal, c->sni);
		if (!ck) {
			wf_log_info("conn %llu %s: acme-tls/1 handshake for \"%s\", which has no pending challenge",
				    (unsigned long long)c->id, c->peer, c->sni);
			return GNUTLS_E_NO_CERTIFICATE_FOUND;
		}
		return gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, ck->cred);
	}
	const wf_service_cfg_t *svc = c->svc;
	/* c->cfg, which c holds, holds retired_certs: c->cert stays valid. */
	c->cert = wf_certsnap_select(c->snap, atomic_load(&c->cfg->retired_certs), svc->certificates,
				     svc->ncertificates, c->sni, c->verifiable);
	if (!c->cert) {
		wf_log_error("conn %llu %s: no certificate loaded for this service", (unsigned long long)c->id,
			     c->peer);
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	/* Once: after a HelloRetryRequest the same name chooses the same one. */
	if (!c->own_ticket_key && !c->tickets_bound) {
		if (wf_tls_tickets_for_cert(sess, c->cert->name) != WF_OK)
			return GNUTLS_E_INTERNAL_ERROR;
		c->tickets_bound = true;
	}
	return gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, c->cert->cred);
}

static void handshake(wf_conn_t *c)
{
	int rc = gnutls_handshake(c->tls);
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
		return; /* waiting for the client; our flight is in wire_out */
	if (rc < 0) {
		if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
			wf_log_info("conn %llu %s: TLS handshake failed: client sent alert \"%s\"",
				    (unsigned long long)c->id, c->peer,
				    gnutls_alert_get_name(gnutls_alert_get(c->tls)));
		else
			log_tls_error(c, "TLS handshake failed", rc);
		/* The alert for why (protocol_version, handshake_failure, ...),
		 * so the client can say more than "unexpected EOF"; it goes out
		 * with wire_out as the connection closes. */
		if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED && rc != GNUTLS_E_PREMATURE_TERMINATION)
			gnutls_alert_send_appropriate(c->tls, rc);
		wf_conn_close(c);
		return;
	}
	c->state = WF_CONN_OPEN;
	if (c->alpn_challenge) {
		/* The handshake was the whole answer (RFC 8737 3). */
		wf_log_info("tls-alpn-01: answered the challenge for %s to %s", c->sni, c->peer);
		wf_conn_close(c);
		return;
	}
	if (c->proto) { /* started by the protocol: AUTH TLS, FTP data */
		if (c->proto->on_secure && c->proto->on_secure(c) != WF_OK) {
			wf_conn_close(c);
			return;
		}
		if (c->proto)
			c->proto->on_io(c);
		return;
	}
	gnutls_datum_t proto = { 0 };
	bool h2 = gnutls_alpn_get_selected_protocol(c->tls, &proto) == 0 && proto.size == 2 &&
		  memcmp(proto.data, "h2", 2) == 0;
	if (xfer_https_start(c, h2) != WF_OK) {
		wf_conn_close(c);
		return;
	}
	c->proto->on_io(c);
}

static void on_conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	wf_conn_t *c = wf_container_of(w, wf_conn_t, io);
	if (c->state == WF_CONN_CLOSING) {
		settle(c);
		return;
	}
	if (revents & EV_READ)
		c->in_drained = false;
	if (revents & EV_WRITE) {
		int f = wire_flush(c);
		if (f == WF_ERR) {
			wf_conn_close(c);
			settle(c);
			return;
		}
		if (f == WF_AGAIN && !(revents & EV_READ)) {
			update_events(c);
			return;
		}
	}
	if (c->state == WF_CONN_HANDSHAKE)
		handshake(c);
	else
		c->proto->on_io(c);
	settle(c);
}

void wf_conn_wake(wf_conn_t *c)
{
	/* The fed event alone is not enough: a later ev_io_stop (update_events
	 * changing interest) drops it; the write interest then brings it back. */
	c->want_write = true;
	ev_feed_event(c->worker->loop, &c->io, EV_WRITE);
}

void wf_conn_pause_read(wf_conn_t *c, bool paused)
{
	c->read_paused = paused;
}

void wf_conn_read_backed_up(wf_conn_t *c, bool on)
{
	c->read_backed_up = on;
}

void wf_conn_kick(wf_conn_t *c)
{
	if (c->state == WF_CONN_OPEN && c->proto)
		c->proto->on_io(c);
	settle(c);
}

static void on_conn_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	wf_conn_t *c = wf_container_of(w, wf_conn_t, timer);
	if (c->state == WF_CONN_CLOSING) {
		wf_conn_destroy(c); /* linger over: the client stopped reading */
		return;
	}
	if (c->state == WF_CONN_HANDSHAKE || !c->proto->on_timeout) {
		wf_log_info("conn %llu %s: TLS handshake timed out", (unsigned long long)c->id, c->peer);
		c->handshake_late = c->state == WF_CONN_HANDSHAKE;
		wf_conn_close(c);
	} else {
		c->proto->on_timeout(c);
	}
	settle(c);
}

static int tls_setup(wf_conn_t *c, const wf_tls_opts_t *opts)
{
	if (wf_tls_session_new(&c->tls, c->fd, opts) != WF_OK) {
		wf_log_error("conn %llu %s: cannot create a TLS session", (unsigned long long)c->id, c->peer);
		return WF_ERR;
	}
	gnutls_session_set_ptr(c->tls, c);
	gnutls_transport_set_vec_push_function(c->tls, wire_push);
	gnutls_transport_set_pull_function(c->tls, wire_pull);
	gnutls_transport_set_ptr(c->tls, c);
	c->own_ticket_key = opts && opts->ticket_key;
	gnutls_handshake_set_post_client_hello_function(c->tls, on_client_hello);
	gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE, on_hello_bytes);
	if (!c->snap)
		c->snap = wf_certstore_acquire(&c->worker->server->certs);
	return WF_OK;
}

int wf_conn_start_tls(wf_conn_t *c, const wf_tls_opts_t *opts)
{
	if (c->tls || c->state != WF_CONN_OPEN)
		abort(); /* a bug: TLS twice, or on a closing connection */
	if (tls_setup(c, opts) != WF_OK)
		return WF_ERR;
	c->state = WF_CONN_HANDSHAKE;
	/* Plaintext the client sent before the handshake (after AUTH TLS) is
	 * the protocol's to drop; nothing of it may be read as TLS. */
	wf_buf_reset(&c->wire_in);
	wf_conn_set_timeout(c, c->cfg->limits.header_timeout);
	return WF_OK;
}

/* The peer's address alone (addr, for per-client limits) and with its port
 * (peer, for logs). */
static void peer_text(const struct sockaddr *sa, char addr[WF_CONN_ADDR_MAX], char peer[WF_CONN_PEER_MAX])
{
	char text[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa;
		inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
		port = ntohs(a->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof(text));
		else
			inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
		port = ntohs(a->sin6_port);
	}
	snprintf(addr, WF_CONN_ADDR_MAX, "%s", text);
	if (strchr(text, ':'))
		snprintf(peer, WF_CONN_PEER_MAX, "[%s]:%d", text, port);
	else
		snprintf(peer, WF_CONN_PEER_MAX, "%s:%d", text, port);
}

static void format_peer(wf_conn_t *c, const struct sockaddr *sa)
{
	peer_text(sa, c->peer_addr, c->peer);
}

/* An HTTPS or acme-http connection counts against
 * limits.max_connections_per_ip (a plain port 80 left open to one client
 * would let it hold all of max_connections, and so shut HTTPS out too).
 * One past it is closed here, right after accept: before a TLS session
 * exists or its handshake costs anything, as nginx's limit_conn does in
 * its stream module. (FTPS counts in ftp_session.c, where the refusal can be
 * a 421.) A ban does not refuse a connection here: HTTP refuses the
 * logins instead, with a 429 a browser shows, and a TLS-ALPN-01 validation
 * or a request without a password still goes through. Returns false when
 * fd was closed; *counted says whether a count must be given back. */
static bool http_admit(wf_worker_t *w, const wf_service_cfg_t *svc, int fd, const char *addr, const char *peer,
		       bool *counted)
{
	int max = w->cfg->limits.max_connections_per_ip;
	wf_guard_refusal_t why = { 0 };
	wf_guard_verdict_t v = wf_ipguard_enter(addr, WF_GUARD_HTTP, max, (time_t)ev_now(w->loop), &why);
	*counted = v == WF_GUARD_OK && !why.uncounted;
	if (v == WF_GUARD_OK)
		return true;
	if (why.log) {
		char text[256];
		wf_ipguard_refusal_text(v, WF_GUARD_HTTP, max, &why, text, sizeof(text));
		wf_log_warn("%s %s: connection refused%s: %s", svc->type_name ? svc->type_name : "http", peer,
			    svc->type == WF_SERVICE_HTTPS ? " before the TLS handshake" : "", text);
	}
	close(fd);
	return false;
}

void wf_conn_start(wf_worker_t *w, wf_listener_t *l, int fd, const struct sockaddr *sa, socklen_t salen)
{
	wf_server_t *srv = w->server;
	if (atomic_fetch_add(&srv->nconns, 1) >= w->cfg->limits.max_connections) {
		atomic_fetch_sub(&srv->nconns, 1);
		wf_log_warn("max_connections (%d) reached: closing a new connection", w->cfg->limits.max_connections);
		close(fd);
		return;
	}
	char addr[WF_CONN_ADDR_MAX], peer[WF_CONN_PEER_MAX];
	peer_text(sa, addr, peer);
	bool http = l->svc->type == WF_SERVICE_HTTPS || l->svc->type == WF_SERVICE_ACME_HTTP;
	bool counted = false;
	if (http && !http_admit(w, l->svc, fd, addr, peer, &counted)) {
		atomic_fetch_sub(&srv->nconns, 1);
		return;
	}
	wf_conn_t *c = calloc(1, sizeof(*c));
	if (!c) {
		if (counted)
			wf_ipguard_leave(addr, WF_GUARD_HTTP);
		atomic_fetch_sub(&srv->nconns, 1);
		close(fd);
		return;
	}
	c->guarded = counted; /* from here on, wf_conn_destroy gives the count back */
	c->fd = fd;
	c->worker = w;
	c->svc = l->svc; /* l->svc belongs to w->cfg, which c references below */
	c->cfg = wf_config_ref(w->cfg);
	c->id = atomic_fetch_add(&srv->next_conn_id, 1) + 1;
	c->accepted = ev_now(w->loop);
	memcpy(c->peer_addr, addr, sizeof(c->peer_addr));
	memcpy(c->peer, peer, sizeof(c->peer));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	wf_worker_conn_added(w, c);
	ev_io_init(&c->io, on_conn_io, fd, EV_READ);
	ev_timer_init(&c->timer, on_conn_timer, 0, 0);
	wf_buf_init(&c->wire_out, WIRE_MAX);
	wf_buf_init(&c->wire_in, WIRE_IN_CHUNK);
	if (c->svc->type == WF_SERVICE_ACME_HTTP || wf_service_is_ftp(c->svc->type)) {
		c->state = WF_CONN_OPEN;
		ev_io_start(w->loop, &c->io);
		wf_conn_set_timeout(c, c->cfg->limits.header_timeout);
		int rc = c->svc->type == WF_SERVICE_ACME_HTTP ? acme_http01_start(c) : xfer_ftp_start(c);
		if (rc != WF_OK) {
			wf_conn_destroy(c);
			return;
		}
		if (c->state == WF_CONN_OPEN && c->proto)
			c->proto->on_io(c);
		settle(c);
		return;
	}
	if (tls_setup(c, NULL) != WF_OK) {
		wf_conn_destroy(c);
		return;
	}
	ev_io_start(w->loop, &c->io);
	wf_conn_set_timeout(c, c->cfg->limits.header_timeout);
	/* The hello is usually there already (TCP_DEFER_ACCEPT). */
	handshake(c);
	settle(c);
}

wf_conn_t *wf_conn_adopt(wf_worker_t *w, wf_config_t *cfg, const wf_service_cfg_t *svc, int fd,
			 const struct sockaddr *sa, const wf_proto_t *proto, void *proto_data)
{
	wf_conn_t *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	atomic_fetch_add(&w->server->nconns, 1);
	c->fd = fd;
	c->worker = w;
	c->svc = svc;
	c->cfg = wf_config_ref(cfg);
	c->id = atomic_fetch_add(&w->server->next_conn_id, 1) + 1;
	c->accepted = ev_now(w->loop);
	format_peer(c, sa);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	wf_worker_conn_added(w, c);
	ev_io_init(&c->io, on_conn_io, fd, EV_READ);
	ev_timer_init(&c->timer, on_conn_timer, 0, 0);
	wf_buf_init(&c->wire_out, WIRE_MAX);
	wf_buf_init(&c->wire_in, WIRE_IN_CHUNK);
	c->state = WF_CONN_OPEN;
	c->proto = proto;
	c->proto_data = proto_data;
	ev_io_start(w->loop, &c->io);
	return c;
}

void wf_conn_drain(wf_conn_t *c)
{
	if (c->draining)
		return;
	c->draining = true;
	if (c->state == WF_CONN_CLOSING) {
		shorten_linger(c);
		return;
	}
	if (c->state == WF_CONN_HANDSHAKE)
		wf_conn_close(c);
	else if (c->proto->on_drain)
		c->proto->on_drain(c);
	settle(c);
}
