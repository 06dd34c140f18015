/* Certificates served but not stored: issued (or fetched again) while
 * STATE/certs/NAME/issued.pem could not be written (a full disk, a folder
 * the run user cannot write), they serve from memory (wf_certkey_t
 * unstored, with their PEM). Until they are stored a restart would fetch
 * them from the CA again, so they are written again on a timer, 10 s doubling to
 * 10 min, one line per failed try, until one succeeds. One per manager: a
 * reload's new manager finds those the store still serves unstored. */
#ifndef ACME_UNSAVED_H
#define ACME_UNSAVED_H

#include "../server/cert_store.h"
#include "../server/config.h"

#include <ev.h>

typedef struct acme_unsaved acme_unsaved_t;

/* Called once a certificate of c is stored at last, with its chain. */
typedef void (*acme_unsaved_stored_fn)(void *arg, const wf_cert_cfg_t *c, wf_slice_t chain_pem);

/* cfg and store are borrowed and must outlive it. NULL when out of memory. */
acme_unsaved_t *acme_unsaved_new(struct ev_loop *loop, const wf_config_t *cfg, wf_certstore_t *store,
				 acme_unsaved_stored_fn stored, void *arg);
void acme_unsaved_free(acme_unsaved_t *u);

/* Looks at the store (after installing an unstored certificate, at start):
 * sets the timer, at its first delay, when one of cfg's certificates is
 * served unstored and none is set. */
void acme_unsaved_check(acme_unsaved_t *u);

#endif
