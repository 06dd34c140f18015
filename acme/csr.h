/* Certificate signing requests and TLS-ALPN-01 challenge certificates. */
#ifndef ACME_CSR_H
#define ACME_CSR_H

#include "key.h"

/* A PKCS#10 CSR for names (every one as a DNS SAN; CN = the first one if it
 * fits in 64 bytes, else an empty subject and a critical SAN), signed with key
 * (SHA-256), as base64url DER for finalize's "csr". Names must be 1..253
 * bytes of printable ASCII without spaces; IP addresses would become DNS
 * SANs, so they are not supported here. On WF_ERR nothing is appended. */
int acme_csr_make(const acme_key_t *key, char *const *names, size_t n, wf_buf_t *b64url_out);

/* The RFC 8737 challenge certificate for name: self-signed, valid from an
 * hour ago for 7 days, one DNS SAN, and the critical acmeIdentifier
 * extension (1.3.6.1.5.5.7.1.31) holding the SHA-256 of the key
 * authorization. Key is a fresh ECDSA P-256 key. Appends PEM certificate and
 * PKCS#8 PEM key; on WF_ERR neither buffer changes. */
int acme_tlsalpn_cert(const char *name, const char *key_authorization, wf_buf_t *cert_pem, wf_buf_t *key_pem);

#endif
