/* Password checks against the configured users, for HTTP Basic and FTP
 * USER/PASS alike. crypt(3) with yescrypt costs milliseconds, so a full check
 * runs on the offload pool (xfer_auth_start) and never on an event loop; what
 * a loop may do inline is ask the process's caches (xfer_auth_cached). */
#ifndef XFER_AUTH_H
#define XFER_AUTH_H

#include "../server/config.h"

#include <stdbool.h>
#include <time.h>

struct wf_worker;

#define XFER_AUTH_USER_MAX 256 /* longest user name checked, NUL included */
#define XFER_AUTH_PASS_MAX 1024 /* longest password checked, NUL included; longer ones never match */

typedef enum xfer_auth_verdict {
	XFER_AUTH_OK,      /* verified before: *user set */
	XFER_AUTH_REFUSED, /* refused before (or cannot match): no crypt needed */
	XFER_AUTH_UNKNOWN, /* not seen: a full check must run */
} xfer_auth_verdict_t;

/* Makes what the checks need once per process: call before the loops run. */
void xfer_auth_prepare(void);

/* The hash a name that does not exist is checked against under cfg (into
 * out, CRYPT_OUTPUT_SIZE bytes): the setting (method and cost) of the
 * configured users' most common one with a fresh salt, so that an unknown
 * name costs what a wrong password costs. The same for one cfg while it
 * lives; a new config (reload) gets its own. */
void xfer_auth_dummy(const wf_config_t *cfg, char *out);

/* Splits an Authorization value ("Basic base64(user:pass)") into user and
 * password, each NUL-terminated. A pure function over bytes. WF_OK, or WF_ERR
 * when it is not Basic, not base64, has no colon, holds a NUL or does not fit. */
int xfer_auth_parse_basic(wf_slice_t authorization, char *user, size_t user_cap, char *pass, size_t pass_cap);

/* What the process already knows about user/pass, without crypt. Verified
 * credentials are remembered (by every worker alike) as a SHA-256 digest
 * (with the stored hash mixed in, so a changed password invalidates them),
 * and so are recent refusals: a client repeating the same wrong password
 * costs one crypt. */
xfer_auth_verdict_t xfer_auth_cached(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass,
				     const wf_user_cfg_t **user_out);

/* The full check, crypt included: for a pool thread, or where blocking is
 * fine (no pool); the caches learn its verdict. Returns the user (borrowed
 * from cfg) or NULL. A name that does not exist costs the same crypt as a
 * wrong password. */
const wf_user_cfg_t *xfer_auth_check(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass);

/* Counts a refused login of addr (NULL or "": nothing) toward its ban
 * (limits.max_login_failures within login_ban_seconds), and logs the ban
 * when this one starts it (returns true). For verdicts reached inline; a
 * job counts its own. */
bool xfer_auth_failed(const wf_config_t *cfg, const char *addr, time_t now);

typedef enum xfer_auth_result {
	XFER_AUTH_ACCEPTED, /* user set */
	XFER_AUTH_WRONG,    /* refused, and counted toward the address's ban */
	XFER_AUTH_BANNED,   /* the address was banned while the check ran: say nothing of the password */
} xfer_auth_result_t;

/* A full check on the offload pool, for a client at addr (textual, or NULL).
 * done(arg, result, user) runs later on w's loop (user borrowed from cfg,
 * which the job keeps referenced until then); done never runs inside this
 * call. Askers on one loop with the same credentials share one check. The
 * job itself counts a wrong password toward addr's ban and teaches the
 * caches the verdict (unless addr was banned meanwhile), even when cancelled. Returns WF_OK with *job set;
 * WF_AGAIN when limits.max_pending_logins checks are already under way, or
 * an eighth of them (at least 2) for addr: refuse the login for now,
 * unchecked, the server is busy; WF_ERR when it could not be queued (no
 * pool, no memory): the caller then checks inline with xfer_auth_check. */
typedef void (*xfer_auth_done_fn)(void *arg, xfer_auth_result_t result, const wf_user_cfg_t *user);
typedef struct xfer_auth_job xfer_auth_job_t;
int xfer_auth_start(struct wf_worker *w, const wf_config_t *cfg, const char *addr, wf_slice_t user,
		    wf_slice_t pass, xfer_auth_done_fn done, void *arg, xfer_auth_job_t **job);
/* The owner of arg is going away: done will not be called (the job itself
 * finishes on the pool and frees itself). */
void xfer_auth_cancel(xfer_auth_job_t *job);

#endif
