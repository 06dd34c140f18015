/* ACME Renewal Information (RFC 9773): the CA suggests when to renew, and
 * a renewal that says which certificate it replaces is exempt from rate
 * limits. This is also how a CA announces a mass revocation. */
#ifndef ACME_ARI_H
#define ACME_ARI_H

#include "../server/buf.h"

/* The certificate identifier: base64url(keyIdentifier of the leaf's Authority
 * Key Identifier) "." base64url(the serial number's DER value octets).
 * chain_pem: the leaf first (other blocks, such as a key, may come before).
 * WF_OK, or WF_ERR when the leaf has no AKI key identifier. */
int acme_ari_cert_id(wf_slice_t chain_pem, char *out, size_t cap);

#endif
