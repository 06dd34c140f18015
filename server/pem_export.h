/* Certificates and private keys as PEM for files and peers. Keys go out as
 * PKCS#8 ("PRIVATE KEY") with an EC key's scalar at the curve's size. RFC 5915 wants the ECPrivateKey's
 * privateKey octets at exactly the curve's length; GnuTLS 3.7 writes them as
 * an INTEGER's (a 0x00 before a high bit, leading zero octets dropped), which
 * strict readers (Python's cryptography, say) refuse for about half of all
 * keys. */
#ifndef WF_PEM_EXPORT_H
#define WF_PEM_EXPORT_H

#include "buf.h"

#include <gnutls/x509.h>

/* Pure: rewrites a DER PKCS#8 PrivateKeyInfo whose ECPrivateKey scalar is not
 * field_len octets so that it is (adding or dropping leading zero octets); any
 * other key, and a scalar already right, is copied as it is. Appends to out;
 * WF_ERR if the DER is malformed or the scalar cannot fit field_len octets
 * (out then holds what it held before). */
int wf_key_der_fix_ec(wf_slice_t der, size_t field_len, wf_buf_t *out);

/* Appends key as PEM PKCS#8 (unencrypted) to out; its copies are wiped. */
int wf_pem_export_key(gnutls_x509_privkey_t key, wf_buf_t *out);
/* Appends crt as PEM to out. */
int wf_pem_export_crt(gnutls_x509_crt_t crt, wf_buf_t *out);

#endif
