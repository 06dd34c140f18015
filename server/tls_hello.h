/* What a ClientHello says that GnuTLS tells the server only after the
 * certificate hook has run: which key kinds the client's signature
 * algorithms can verify. The certificate store needs it to choose between an
 * RSA and an ECDSA certificate for the same names (cert_store.h). */
#ifndef WF_TLS_HELLO_H
#define WF_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The WF_KEY_*s (cert_key.h) of the keys a ClientHello (its body, without
 * the handshake header) lets the server use: RSA (PKCS#1 v1.5 or RSA-PSS
 * with an rsaEncryption key) and ECDSA that its signature_algorithms can
 * verify (any, when it has none: TLS 1.2 allows that), and, when it does
 * not offer TLS 1.3, that one of its cipher suites takes (ECDHE_ECDSA,
 * ECDHE_RSA). Offering TLS 1.3, its ECDSA schemes name their curves; else
 * any ECDSA pair takes any curve. 0 when the hello does not parse. Pure:
 * reads only its input. */
unsigned wf_tls_hello_keys(const uint8_t *hello, size_t len);

/* The same over the extension's own body (a 2-byte length, then 2-byte
 * SignatureScheme codes), read as TLS 1.3 reads them when tls13 (an ECDSA
 * code for one curve, no PKCS#1 v1.5 signatures), else as TLS 1.2 does. */
unsigned wf_tls_sigalgs_keys(const uint8_t *body, size_t len, bool tls13);

#endif
