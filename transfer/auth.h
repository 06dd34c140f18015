/* Password checks against the configured users, for HTTP Basic and FTP
 * USER/PASS alike. crypt(3) with yescrypt costs milliseconds, so a full check
 * runs on the offload pool (xfer_auth_start) and never on an event loop; what
 * a loop may do inline is ask this thread's caches (xfer_auth_cached). */
#ifndef XFER_AUTH_H
#define XFER_AUTH_H

#include "../server/config.h"

struct wf_worker;

#define XFER_AUTH_USER_MAX 256 /* longest user name checked, NUL included */
#define XFER_AUTH_PASS_MAX 1024 /* longest password checked, NUL included; longer ones never match */

typedef enum xfer_auth_verdict {
	XFER_AUTH_OK,      /* verified before: *user set */
	XFER_AUTH_REFUSED, /* refused before (or cannot match): no crypt needed */
	XFER_AUTH_UNKNOWN, /* not seen: a full check must run */
} xfer_auth_verdict_t;

/* Splits an Authorization value ("Basic base64(user:pass)") into user and
 * password, each NUL-terminated. A pure function over bytes. WF_OK, or WF_ERR
 * when it is not Basic, not base64, has no colon, holds a NUL or does not fit. */
int xfer_auth_parse_basic(wf_slice_t authorization, char *user, size_t user_cap, char *pass, size_t pass_cap);

/* What this thread already knows about user/pass, without crypt. Verified
 * credentials are remembered per thread as a SHA-256 digest (with the stored
 * hash mixed in, so a changed password invalidates them), and so are recent
 * refusals: a client repeating the same wrong password costs one crypt. */
xfer_auth_verdict_t xfer_auth_cached(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass,
				     const wf_user_cfg_t **user_out);

/* The full check, crypt included: for a pool thread, or where blocking is
 * fine (no pool). Returns the user (borrowed from cfg) or NULL. A name that
 * does not exist costs the same crypt as a wrong password. */
const wf_user_cfg_t *xfer_auth_check(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass);

/* A full check on the offload pool. done(arg, user or NULL) runs later on w's
 * loop (user borrowed from cfg, which the job keeps referenced until then),
 * and the verdict is remembered in that thread's caches; done never runs
 * inside this call. Returns WF_OK with *job set; WF_AGAIN when
 * limits.max_pending_logins checks are already queued or running (refuse the
 * login for now, unchecked: the server is busy); WF_ERR when it could not be
 * queued (no pool, no memory): the caller then checks inline with
 * xfer_auth_check. */
typedef void (*xfer_auth_done_fn)(void *arg, const wf_user_cfg_t *user);
typedef struct xfer_auth_job xfer_auth_job_t;
int xfer_auth_start(struct wf_worker *w, const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass,
		    xfer_auth_done_fn done, void *arg, xfer_auth_job_t **job);
/* The owner of arg is going away: done will not be called (the job itself
 * finishes on the pool and frees itself). */
void xfer_auth_cancel(xfer_auth_job_t *job);

#endif
