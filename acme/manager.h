/* The ACME life cycle of every configured certificate: order one when the
 * served certificate is provisional, does not cover the names, or is due
 * (a third of its lifetime left, half for certificates shorter than 10 days);
 * install the new one live and persist it; back off after failures (about
 * 1 min, 10 min, 100 min, then daily, with jitter; Retry-After honoured; the
 * cap at once for problems the request itself causes), hold every
 * certificate of a CA back while that CA asks to wait (client.h), fall back
 * to the next CA after repeated failures, and raise a daily alarm when less than a sixth
 * of the lifetime is left. Runs on the main thread's loop. */
#ifndef ACME_MANAGER_H
#define ACME_MANAGER_H

#include "../server/cert_store.h"
#include "../server/config.h"

#include <ev.h>
#include <stdio.h>

typedef struct acme_manager acme_manager_t;

/* NULL when cfg has no acme block. store is borrowed. */
acme_manager_t *acme_manager_new(struct ev_loop *loop, wf_config_t *cfg, wf_certstore_t *store);
/* Cancels orders in flight (they are started again by the next manager). */
void acme_manager_free(acme_manager_t *m);

/* One pass (wharf cert obtain): each certificate that is due is ordered
 * once, with no retry and no ARI poll; once none is running, settled(arg,
 * issued, failed, put_off) runs from the loop. put_off: due, but not ordered
 * in this pass (the CA's wait, or the backoff of an earlier failure). Call
 * right after acme_manager_new. */
typedef void (*acme_settled_fn)(void *arg, int issued, int failed, int put_off);
void acme_manager_oneshot(acme_manager_t *m, acme_settled_fn settled, void *arg);
/* Deploy hooks, event hooks or webhooks still running: a one-shot run waits
 * for them before it exits, so their exit status is logged. */
bool acme_manager_hooks_busy(const acme_manager_t *m);
/* Output files that could not be written and deploy hooks that failed
 * (events.h): a one-shot run exits 1 on any. */
size_t acme_manager_deploy_failures(const acme_manager_t *m);
/* One-shot: a table of what happened to each certificate, deploy hooks
 * included (call it once they have ended). */
void acme_manager_report(const acme_manager_t *m, FILE *out);

#endif
