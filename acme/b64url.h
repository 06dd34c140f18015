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

#endif
