/* Base64 (RFC 4648), standard or URL alphabet: one strict decoder for Basic
 * auth and for JOSE, and a standard encoder (CSP hash sources). Pure. */
#ifndef WF_BASE64_H
#define WF_BASE64_H

#include "base.h"

#include <stdbool.h>

/* Decodes in (padding optional but, when present, exact; no whitespace; no
 * stray bits in the last character) with the URL alphabet ("-_") or the
 * standard one ("+/"). Returns bytes written, or -1 on a bad character or
 * length, or when out (cap bytes) is too small. */
ssize_t wf_base64_decode(wf_slice_t in, void *out, size_t cap, bool url);

/* Encodes len bytes with the standard alphabet and '=' padding, as a
 * NUL-terminated string. Returns its length, or -1 when out (cap bytes) is
 * too small: it needs (len + 2) / 3 * 4 + 1. */
ssize_t wf_base64_encode(const void *in, size_t len, char *out, size_t cap);

#endif
