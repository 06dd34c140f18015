/* base64url without padding (RFC 4648 5), as JOSE and ACME use it. Pure. */
#ifndef ACME_B64URL_H
#define ACME_B64URL_H

#include "../server/buf.h"

/* Encodes len bytes; writes a NUL-terminated string. Returns its length, or
 * -1 if cap is too small (needs (len * 4 + 2) / 3 + 1). */
ssize_t acme_b64url_encode(const void *in, size_t len, char *out, size_t cap);
/* Appends the encoding to a buffer (WF_OK or WF_ERR at its cap). */
int acme_b64url_append(wf_buf_t *out, const void *in, size_t len);
/* Decodes (padding optional, no whitespace). Returns bytes written, or -1 on
 * a bad character, a bad length, a non-canonical last character (stray low
 * bits), or a too-small out; after -1 the content of out is unspecified. */
ssize_t acme_b64url_decode(wf_slice_t in, void *out, size_t cap);

/* The External Account Binding MAC key as configured (acme.cas[].eab_hmac):
 * base64url of 1 to ACME_EAB_KEY_MAX bytes. Returns its length, or -1. The
 * one reading of it: the config load (wharf check) and the client agree. */
#define ACME_EAB_KEY_MAX 256
ssize_t acme_eab_key_decode(const char *b64, unsigned char out[ACME_EAB_KEY_MAX]);

#endif
