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
/* Applies a reloaded config (ticket switch, minimum version). */
int wf_tls_reconfigure(const wf_config_t *cfg, char *err, size_t errlen);
void wf_tls_fini(void);

/* A server session for fd, non-blocking, with priorities, ALPN (h2, http/1.1)
 * and tickets set; the caller sets the post-client-hello hook. */
int wf_tls_session_new(gnutls_session_t *out, int fd);

#endif
