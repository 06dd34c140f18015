/* Process-wide TLS settings: priorities, session-ticket key, ALPN. */
#ifndef WF_TLS_H
#define WF_TLS_H

#include "config.h"

#include <gnutls/gnutls.h>

/* TLS 1.2+ only, AEAD ciphers only with AES-GCM first (ChaCha20 is far slower
 * in this GnuTLS build), ECDHE only, server precedence. */
#define WF_TLS_PRIORITY_12                                                                            \
	"NONE:+VERS-TLS1.3:+VERS-TLS1.2:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AEAD:+ECDHE-ECDSA:" \
	"+ECDHE-RSA:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+SIGN-ALL:-SIGN-RSA-SHA1:"           \
	"-SIGN-ECDSA-SHA1:-SIGN-DSA-SHA1:+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE"

int wf_tls_init(const wf_config_t *cfg, char *err, size_t errlen);
/* A reload's settings (ticket switch, minimum version) in two steps, so a
 * reload refused later changes nothing: prepare (NULL with err on failure),
 * then install (the main thread only: the one it replaces is retired through
 * server/rcu.h), or discard one never installed. */
typedef struct wf_tls_settings wf_tls_settings_t;
wf_tls_settings_t *wf_tls_prepare(const wf_config_t *cfg, char *err, size_t errlen);
void wf_tls_install(wf_tls_settings_t *s);
void wf_tls_discard(wf_tls_settings_t *s);
void wf_tls_fini(void);

/* How a session differs from an HTTPS one (all zero: HTTPS). */
typedef struct wf_tls_opts {
	/* borrowed: a ticket key of the caller's own instead of the process-wide
	 * one. FTPS gives each control connection its own, shared only with its
	 * data connections, so only they can resume its session. Always enabled,
	 * whatever tls.session_tickets says: it is scoped to one connection. */
	const gnutls_datum_t *ticket_key;
	bool no_ticket_sending; /* GNUTLS_NO_AUTO_SEND_TICKET: never hand out TLS 1.3 tickets */
	bool ftp;               /* ALPN "ftp" (RFC 7301 registry) instead of h2/http/1.1/acme-tls/1 */
} wf_tls_opts_t;

/* A server session for fd, non-blocking, with priorities, ALPN and tickets
 * set (but the process-wide key's: see wf_tls_tickets_for_cert); the caller
 * sets the post-client-hello hook. opts may be NULL. */
int wf_tls_session_new(gnutls_session_t *out, int fd, const wf_tls_opts_t *opts);

/* For a session made without opts->ticket_key, from the post-client-hello
 * hook, once the certificate is chosen (GnuTLS reads the ticket after the
 * hook): enables tickets, when tls.session_tickets is on, under a key of
 * that certificate's own, derived from the process-wide one. A ticket then
 * resumes only where its certificate would be chosen again: a session made
 * for a.example does not resume for an SNI another certificate serves. */
int wf_tls_tickets_for_cert(gnutls_session_t sess, const char *cert_name);

#endif
