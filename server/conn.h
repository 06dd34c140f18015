/* A client connection: socket, TLS session and timers, under a protocol.
 * TLS is a filter: protocol code reads and writes plaintext through
 * wf_conn_recv/wf_conn_send and never touches the socket. The connection owns
 * its watchers; callbacks find it with container_of. Teardown order is fixed:
 * stop watchers, protocol close, TLS deinit, close fd, drop snapshot and config. */
#ifndef WF_CONN_H
#define WF_CONN_H

#include "base.h"
#include "cert_store.h"
#include "config.h"

#include <ev.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdbool.h>

typedef struct wf_worker wf_worker_t;
typedef struct wf_listener wf_listener_t;
typedef struct wf_conn wf_conn_t;
struct wf_tls_opts;

#define WF_CONN_ADDR_MAX 48 /* an IPv6 address's text */
#define WF_CONN_PEER_MAX 64 /* and "[...]:port" */

/* What a protocol (HTTP/1.1, HTTP/2) supplies once the handshake is done. */
typedef struct wf_proto {
	const char *name;
	/* Socket readable or writable (or both); the protocol loops until AGAIN. */
	void (*on_io)(wf_conn_t *c);
	/* The connection's timer fired. */
	void (*on_timeout)(wf_conn_t *c);
	/* Graceful shutdown: finish what is in flight, accept no new request. */
	void (*on_drain)(wf_conn_t *c);
	/* A reload removed or changed an account of the config the connection
	 * was accepted under (optional): true when the connection may go on
	 * under that config (it serves no such account), else it is drained.
	 * NULL: drained. */
	bool (*keeps_on_reload)(wf_conn_t *c, const wf_config_t *newest);
	/* Free the protocol's state; the connection is going away. */
	void (*on_close)(wf_conn_t *c);
	/* A handshake started by wf_conn_start_tls completed (optional): WF_OK
	 * goes on to on_io, anything else closes the connection. */
	int (*on_secure)(wf_conn_t *c);
} wf_proto_t;

typedef enum wf_conn_state {
	WF_CONN_HANDSHAKE,
	WF_CONN_OPEN,
	WF_CONN_CLOSING, /* protocol gone; flushing the last bytes and close_notify */
} wf_conn_state_t;

struct wf_conn {
	ev_io io;
	ev_timer timer;
	int fd;
	wf_conn_state_t state;
	bool want_write; /* the protocol wants a callback when it may send more */
	bool draining;
	bool shut_wr; /* closing: our side is half-closed, draining the client's last bytes */
	bool read_paused;
	bool read_backed_up; /* the protocol takes input while its output waits for the socket */
	bool eof_unclean; /* the peer's stream ended without a TLS close_notify (possibly truncated) */
	bool handshake_late; /* closed as its TLS handshake did not finish in time (on_close tells the peer why) */
	bool guarded;     /* an HTTPS connection counted in server/ip_guard.c: given back in destroy */
	gnutls_session_t tls;
	/* Encrypted bytes not yet taken by the socket. GnuTLS pushes records here
	 * and we write them in large batches: fewer syscalls and fuller segments
	 * than one send(2) per record, and GnuTLS never sees EAGAIN on writes. */
	wf_buf_t wire_out;
	wf_buf_t wire_in; /* bytes read from the socket that GnuTLS has not taken yet */
	bool in_drained;  /* the last read found the socket empty */
	wf_worker_t *worker;     /* borrowed: the worker that owns this connection */
	const wf_service_cfg_t *svc; /* borrowed from cfg: the service this connection came in on */
	wf_config_t *cfg;        /* owned reference: the config at accept time */
	wf_certsnap_t *snap;     /* owned reference: the snapshot this connection handshook with */
	wf_certkey_t *cert;      /* borrowed from snap: the certificate chosen by SNI */
	unsigned verifiable;     /* WF_KEY_*s of the keys the client hello can verify (tls_hello.h) */
	bool own_ticket_key;     /* the session's tickets are under the caller's key (FTPS), not per cert */
	bool tickets_bound;      /* wf_tls_tickets_for_cert done (a second ClientHello must not redo it) */
	struct acme_chal_snap *chal; /* owned reference, for a TLS-ALPN-01 validation only */
	bool alpn_challenge;     /* the client offered only acme-tls/1: answer with the handshake, then close */
	const wf_proto_t *proto; /* after the handshake */
	void *proto_data;        /* owned by proto */
	char peer[WF_CONN_PEER_MAX];      /* "addr:port" for logs */
	char peer_addr[WF_CONN_ADDR_MAX]; /* address only, for per-IP limits */
	char sni[256];
	uint64_t id;
	ev_tstamp accepted;
	wf_conn_t *prev, *next; /* the worker's list */
};

/* Plaintext I/O. recv returns bytes (> 0), 0 at the peer's end of stream
 * (eof_unclean says whether TLS saw no close_notify before it),
 * WF_AGAIN, or WF_ERR (logged; the caller closes). send returns bytes taken
 * (> 0), WF_AGAIN (the socket is backed up: the connection will call on_io
 * when it drains; call again then with the same bytes first), or WF_ERR.
 * Bytes taken are on their way: a close that follows still delivers them. */
ssize_t wf_conn_recv(wf_conn_t *c, void *buf, size_t len);
ssize_t wf_conn_send(wf_conn_t *c, const void *buf, size_t len);
/* Bytes already decrypted and waiting inside TLS. */
size_t wf_conn_pending(wf_conn_t *c);
/* Ask (or stop asking) for writability callbacks. */
void wf_conn_want_write(wf_conn_t *c, bool on);
/* (Re)arms the connection timer; 0 stops it. */
void wf_conn_set_timeout(wf_conn_t *c, double seconds);
/* Ends the connection: the protocol's state is freed at once; bytes already
 * taken and a close_notify are still delivered (for at most a few seconds)
 * before the socket closes. The connection object itself is freed from the
 * loop, never inside this call, so a caller may still read c afterwards but
 * must not use the protocol state. */
void wf_conn_close(wf_conn_t *c);
/* Runs the protocol now, from outside an I/O callback (an offloaded job is
 * done), and delivers what it produced. */
void wf_conn_kick(wf_conn_t *c);
/* Makes the connection run its protocol soon, from its own callback (as if
 * the socket were writable): safe from anywhere on its worker's loop, since
 * nothing runs re-entrantly. */
void wf_conn_wake(wf_conn_t *c);
/* Stops (or resumes) read interest, while the protocol cannot take input. */
void wf_conn_pause_read(wf_conn_t *c, bool paused);
/* Keeps read interest (unless paused) while the output is backed up. By
 * default a connection whose output waits for the socket reads nothing
 * more: HTTP/1.1 and FTP input asks for output, and pipelined requests must
 * not pile up. A protocol that sets this (HTTP/2, whose PINGs, WINDOW_UPDATEs,
 * resets and uploads must not wait behind a slow download) reads everything
 * that comes while backed up, so it must bound what that input makes it
 * queue, and turn this off when it stops reading (the loop would spin on
 * input nobody takes). */
void wf_conn_read_backed_up(wf_conn_t *c, bool on);
/* Frees everything now, delivering nothing more (worker shutdown). */
void wf_conn_destroy(wf_conn_t *c);

/* The loop this connection lives in. */
struct ev_loop *wf_conn_loop(wf_conn_t *c);

/* Starts TLS on an open connection that has a protocol (FTP's AUTH TLS, an
 * implicit-TLS FTP control connection, an FTP data connection): the session is
 * created now, so the caller may adjust c->tls before returning to the loop;
 * the handshake runs as the client's bytes arrive, then proto->on_secure. */
int wf_conn_start_tls(wf_conn_t *c, const struct wf_tls_opts *opts);

/* A connection the server accepted or made for a protocol outside a
 * listener (an FTP data connection) on svc of cfg: plain and open, with
 * proto and its state installed (proto_data owned by proto). NULL on
 * failure (fd closed). Counts against nothing but is counted. */
wf_conn_t *wf_conn_adopt(wf_worker_t *w, wf_config_t *cfg, const wf_service_cfg_t *svc, int fd,
			 const struct sockaddr *sa, const wf_proto_t *proto, void *proto_data);

/* Called by the worker for an accepted socket. */
void wf_conn_start(wf_worker_t *w, wf_listener_t *l, int fd, const struct sockaddr *sa, socklen_t salen);
/* Asks the connection to finish gracefully (SIGTERM). */
void wf_conn_drain(wf_conn_t *c);

#endif
