/* HTTP Basic authentication against the configured users. */
#ifndef XFER_AUTH_H
#define XFER_AUTH_H

#include "../server/config.h"

/* Checks an Authorization header value ("Basic base64(user:pass)") against
 * cfg's users. Returns the user (borrowed from cfg) or NULL. Verified
 * credentials are remembered per thread as a SHA-256 digest (with the stored
 * hash mixed in, so a changed password invalidates them), because crypt(3)
 * with yescrypt costs milliseconds: paying that on every request would stall
 * the event loop. A failed attempt always pays the full crypt cost. */
const wf_user_cfg_t *xfer_auth_basic(const wf_config_t *cfg, wf_slice_t authorization, char *user_out,
				     size_t user_cap);

/* The same check for a name and password given apart (FTP USER/PASS), with
 * the same caches (per thread: FTP calls it on the offload pool). */
const wf_user_cfg_t *xfer_auth_check(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass);

#endif
