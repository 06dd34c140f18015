/* Provisional self-signed certificates: what serves until a CA issues one. */
#ifndef WF_CERT_SELFSIGNED_H
#define WF_CERT_SELFSIGNED_H

#include "buf.h"

/* Makes a fresh ECDSA P-256 key and a self-signed certificate for the domains
 * (first one as CN, all as DNS SANs), valid from an hour ago for 90 days.
 * Appends the PEM certificate and PEM key to the buffers. */
int wf_selfsigned_make(char *const *domains, size_t ndomains, wf_buf_t *cert_pem, wf_buf_t *key_pem);

#endif
