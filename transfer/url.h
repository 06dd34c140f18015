/* Request-target to confined relative path: pure functions. */
#ifndef XFER_URL_H
#define XFER_URL_H

#include "../server/base.h"

#include <limits.h>

/* Room for the longest relative path the file system takes, with its NUL
 * (PATH_MAX: 4096 on Linux; FTP's virtual paths hold one byte more, their
 * leading '/'). */
#define XFER_URL_PATH_MAX PATH_MAX
/* The longest href xfer_url_encode_path makes, with its leading '/', for a
 * path that fits XFER_URL_PATH_MAX: every byte may take three. */
#define XFER_URL_HREF_MAX (1 + 3 * (XFER_URL_PATH_MAX - 1))
/* xfer_url_to_path's answer for a well-formed target whose path does not fit
 * (414); apart from the WF_ codes. */
#define XFER_URL_TOO_LONG (-10)

/* Turns an origin-form request-target ("/a/b%20c/?q=1") into a normalized path
 * relative to the user's home ("a/b c", or "" for the home itself):
 * - the query ("?...") and fragment are dropped;
 * - percent-escapes are decoded; %00, a bad escape, or a decoded control byte
 *   (0x00-0x1f, 0x7f) is an error; a decoded '/' (%2f) is an error too, so one
 *   URL segment can never become two;
 * - empty segments and "." are dropped; ".." removes the previous segment,
 *   and a ".." that would climb above the home is an error (never clamped);
 * - the target must start with '/' (origin form); "*" and absolute-form are errors.
 * *is_dir is set when the target ended in '/' (or is the home), or in a "." or
 * ".." segment ("/a/b/.." is the folder "a").
 * Raw control bytes are refused like decoded ones; a backslash or a byte >= 0x80
 * is an ordinary name byte.
 * Writes a NUL-terminated path to out (outcap bytes). Returns WF_OK; WF_ERR
 * for a malformed target; XFER_URL_TOO_LONG for a well-formed one whose path
 * does not fit out (only the result counts: a segment a later ".." removes
 * needs no room; a target both malformed and too long is WF_ERR). The
 * target's own length is not limited: "/a/.." a thousand times is the home.
 * outcap 0 is WF_ERR.
 * On any error, out and *is_dir hold nothing meaningful. */
int xfer_url_to_path(wf_slice_t target, char *out, size_t outcap, int *is_dir);

/* May a path hold the byte c, raw or percent-decoded? 1, or 0 for a control
 * byte (0x00-0x1f, 0x7f): xfer_url_to_path refuses those, so no URL reaches
 * a name that holds one. The one statement of that rule: FTP creates no name
 * it refuses (xfer_ftp_name_creatable). Pure. */
int xfer_url_byte_ok(unsigned char c);

/* Is v a valid Host field value, or authority of an absolute-form target
 * or :authority (RFC 9112 3.2, RFC 3986 3.2.2-3.2.3): host [":" port],
 * host being a reg-name (unreserved, pct-encoded and sub-delims bytes:
 * an IPv4 address is one), an IPv6 address in brackets or an IPvFuture
 * literal; port digits. Empty is valid (RFC 9112 3.2: a target without
 * an authority). 1 or 0. Pure. */
int xfer_url_host_valid(wf_slice_t v);

/* Percent-encodes a path for use in a URL (href): keeps unreserved and '/'.
 * Returns the length written (NUL-terminated), or -1 if outcap is too small. */
ssize_t xfer_url_encode_path(const char *path, char *out, size_t outcap);

#endif
