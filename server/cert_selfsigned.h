/* Provisional self-signed certificates: what serves until a CA issues one. */
#ifndef WF_CERT_SELFSIGNED_H
#define WF_CERT_SELFSIGNED_H

#include "buf.h"

/* Makes a fresh key of key_type (the config's "ec256", "ec384", "rsa2048",
 * "rsa3072" or "rsa4096"; NULL: ec256) and a self-signed certificate for the
 * domains (first one as CN, all as DNS SANs), valid from an hour ago for 90
 * days. The key type is the configured one, so a client that can verify only
 * that kind (one of an RSA and ECDSA pair) is served before the CA answers.
 * Appends the PEM certificate and PEM key to the buffers. */
int wf_selfsigned_make(char *const *domains, size_t ndomains, const char *key_type, wf_buf_t *cert_pem,
		       wf_buf_t *key_pem);

#endif
