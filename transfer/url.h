/* Request-target to confined relative path: pure functions. */
#ifndef XFER_URL_H
#define XFER_URL_H

#include "../server/base.h"

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
 * Writes a NUL-terminated path to out (outcap bytes). Returns WF_OK or WF_ERR;
 * WF_ERR too when out is too small, counting any segment a later ".." removes.
 * On WF_ERR, out and *is_dir hold nothing meaningful. */
int xfer_url_to_path(wf_slice_t target, char *out, size_t outcap, int *is_dir);

/* Percent-encodes a path for use in a URL (href): keeps unreserved and '/'.
 * Returns the length written (NUL-terminated), or -1 if outcap is too small. */
ssize_t xfer_url_encode_path(const char *path, char *out, size_t outcap);

#endif
