/* A certificate's deployment to other services: its output files
 * (acme/output.c), then its deploy hook, for the certificate the server
 * holds. One per certificate, owned by the manager or the follower.
 *
 * When the files cannot be written (a folder not writable, a full disk),
 * the pair is kept and written again on a timer, 10 s doubling to 10 min,
 * one error line per failed try saying that the services reading the files
 * are still on the old certificate; once written, the deploy hook runs.
 * At start-up the files catch up with the state folder's issued.pem (after
 * a crash between storing a certificate and writing its files, or an
 * output_dir just added), and the hook runs when that changed any.
 *
 * A deploy hook that does not exit 0 (it fails, is killed at its timeout,
 * cannot start, or the server is killed while it runs) is not forgotten:
 * STATE/certs/NAME/deploy-pending is written before each run and removed
 * only when the run of the latest certificate exits 0. A failed run is
 * tried again on a timer, 60 s doubling to 1 h, one error line per failure;
 * a new certificate cancels that retry and runs its own hook. At start-up
 * the mark runs the hook again, after the files are up to date. */
#ifndef ACME_DEPLOY_H
#define ACME_DEPLOY_H

#include "events.h"
#include "../server/base.h"

#include <ev.h>
#include <stdbool.h>

typedef struct acme_deploy acme_deploy_t;

/* cert and events are borrowed and must outlive it. NULL when out of memory. */
acme_deploy_t *acme_deploy_new(struct ev_loop *loop, const wf_cert_cfg_t *cert, acme_events_t *events);
void acme_deploy_free(acme_deploy_t *d);

/* A pair about to be stored: its deploy hook is marked due (durably)
 * first, so a crash from the store on runs it at the next start. */
void acme_deploy_prepare(acme_deploy_t *d, wf_slice_t chain_pem);

/* A pair just issued or received, and served: its files now (before the
 * hooks, which may read them), then the issued event (deploy hook, event
 * hook, webhook). When the files could not be written, the event goes out
 * without the deploy hook, and the files and then the hook follow when a
 * retry writes them. stored: issued.pem took it; when not, and there is no
 * output_dir, the deploy hook (given issued.pem) waits for
 * acme_deploy_stored. WF_OK, or WF_ERR when the files lag (logged). */
int acme_deploy_issued(acme_deploy_t *d, wf_slice_t chain_pem, wf_slice_t key_pem, bool stored);

/* The pair issued before but not stored is in issued.pem now (a retry, or
 * a follower's poll): without an output_dir, its deploy hook runs. */
void acme_deploy_stored(acme_deploy_t *d, wf_slice_t chain_pem);

/* Start-up: sweeps temp files a killed write left in the output folder,
 * brings the files up to date with STATE/certs/NAME/issued.pem, and runs
 * the deploy hook when any file changed or a deploy-pending mark is there
 * (once for both; when the files lag, after the retry writes them).
 * Nothing without an issued certificate, nor without an output_dir and a
 * mark. WF_OK, or WF_ERR when the files lag (logged). */
int acme_deploy_startup(acme_deploy_t *d, const char *state_dir);

/* Output files behind the certificate held: being retried, or not to be
 * written at all (too large a pair; at start-up, an issued.pem that cannot
 * be read or holds no certificate after its key). */
bool acme_deploy_lagging(const acme_deploy_t *d);
/* The deploy hook's last run for the certificate held did not exit 0 (a
 * retry may be set): the service it reloads may not have that certificate. */
bool acme_deploy_hook_failing(const acme_deploy_t *d);

#endif
