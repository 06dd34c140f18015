/* Certificate signing requests and TLS-ALPN-01 challenge certificates. */
#ifndef ACME_CSR_H
#define ACME_CSR_H

#include "key.h"

/* A PKCS#10 CSR for names (each a DNS name or an IP address SAN; CN = the
 * first one if it is a DNS name of at most 64 bytes, else an empty subject
 * and a critical SAN), signed with key (SHA-256), as base64url DER for
 * finalize's "csr". Names must be 1..253 bytes of printable ASCII without
 * spaces. On WF_ERR nothing is appended. */
int acme_csr_make(const acme_key_t *key, char *const *names, size_t n, wf_buf_t *b64url_out);

/* The RFC 8737 challenge certificate for name: self-signed, valid from an
 * hour ago for 7 days, one SAN (an IP address's for an address, RFC 8738 6),
 * and the critical acmeIdentifier
 * extension (1.3.6.1.5.5.7.1.31) holding the SHA-256 of the key
 * authorization. Key is a fresh ECDSA P-256 key. Appends PEM certificate and
 * PKCS#8 PEM key; on WF_ERR neither buffer changes. */
int acme_tlsalpn_cert(const char *name, const char *key_authorization, wf_buf_t *cert_pem, wf_buf_t *key_pem);

/* The SNI a TLS-ALPN-01 validator sends for an identifier: a DNS name as it
 * is; an IP address as its reverse name (RFC 8738 6: "1.0.0.127.in-addr.arpa",
 * or the 32 nibbles under "ip6.arpa"). WF_OK, or WF_ERR when cap is short. Pure. */
int acme_alpn_sni(const char *identifier, char *out, size_t cap);

#endif
