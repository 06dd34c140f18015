/* One certificate order (RFC 8555 7.4) as an explicit state machine:
 *
 *   WAIT_CLIENT -> NEW_ORDER -> AUTHZ -> POLL_READY -> FINALIZE -> POLL_VALID -> DOWNLOAD -> DONE
 *                                  (any step) -> FAILED
 *
 * Every challenge of the order is answered before any polling; then the order
 * (one request, not one per name) is polled at once and then at growing
 * short intervals, honouring Retry-After. An order born ready (authorizations
 * reused) goes straight to FINALIZE. Each reply is handled from the loop.
 * The order URL and the certificate key are kept in the certificate's state
 * folder while the order runs, so a restart resumes it. */
#ifndef ACME_ORDER_H
#define ACME_ORDER_H

#include "client.h"
#include "../server/cert_key.h"

/* The largest chain taken from a CA: a real one is a few KiB; the stored
 * pair (key and chain, server/cert_state.c) must read back whole. */
#define ACME_CHAIN_MAX (256 * 1024)
/* How far ahead of our clock an issued certificate's notBefore may be. */
#define ACME_CERT_SKEW 3600

typedef enum acme_job_state {
	ACME_JOB_WAIT_CLIENT,
	ACME_JOB_NEW_ORDER,
	ACME_JOB_AUTHZ,
	ACME_JOB_POLL_READY,
	ACME_JOB_FINALIZE,
	ACME_JOB_POLL_VALID,
	ACME_JOB_DOWNLOAD,
	ACME_JOB_DONE,
	ACME_JOB_FAILED,
} acme_job_state_t;

const char *acme_job_state_name(acme_job_state_t s);

typedef struct acme_result {
	bool ok;
	acme_job_state_t failed_in;
	char problem_type[128]; /* ACME problem type, or "" (network, timeout, local) */
	char detail[700];
	char domain[256];       /* the name the failure concerns, if known */
	long retry_after;       /* seconds the CA asked us to wait, or -1 */
	bool local;             /* our own failure (a hook, a key, a file), not the CA's: says nothing about it */
	bool waited;            /* with local: nothing was asked of the CA, which asked this account to wait
				 * (acme_client_not_before): no attempt at all */
	bool resumed;           /* the order was the unfinished one pending.order held (acme_job_tidy_pending) */
	wf_slice_t chain_pem;   /* on success: valid during the callback */
	wf_slice_t key_pem;
} acme_result_t;

typedef struct acme_job acme_job_t;
typedef void (*acme_job_done_cb)(void *arg, const acme_result_t *res);

/* Starts ordering a certificate for cert's domains. reuse_key_pem: the key to
 * certify again (reuse_key), or an empty slice for a fresh one. replaces: the
 * ARI identifier of the certificate this one replaces (sent when the CA has
 * ARI), or NULL. timeout: seconds the order may take (acme.order_timeout).
 * tell_followers: a cluster controller's order, whose account thumbprint
 * followers must have before an HTTP-01 validation can reach them
 * (acme/thumbprints.h). cb runs once, from the loop, never before this
 * returns. */
acme_job_t *acme_job_start(struct ev_loop *loop, acme_client_t *cl, const char *state_dir, const wf_cert_cfg_t *cert,
			   wf_slice_t reuse_key_pem, const char *replaces, double timeout, bool tell_followers,
			   acme_job_done_cb cb, void *arg);
/* NAME's issued certificate is stored for good: the files that let a
 * restart resume its order (its URL, and its key) may go. Until then they
 * stay, so a certificate the CA issued is never lost with its key. */
void acme_job_forget_pending(const char *state_dir, const char *name);
/* At start-up, with no order running for NAME: pending.key (with or without
 * pending.order) holding the key of the certificate issued.pem holds is
 * what a stop between storing that certificate and removing the pending
 * files leaves. Nothing is left of that order: both go, with one info line.
 * Not for reuse_key, whose every order certifies that same key. */
void acme_job_tidy_pending(const char *state_dir, const char *name);
/* Stops a job: no callback, published challenges withdrawn, memory freed. */
void acme_job_cancel(acme_job_t *j);
acme_job_state_t acme_job_state(const acme_job_t *j);

#endif
