/* One ACME server as this process sees it: its directory, a pool of nonces,
 * our account there, and signed requests with the badNonce retry (RFC 8555
 * 6.5: take the fresh nonce from the error and send again, a few times, since
 * a CA may reject valid nonces on purpose). */
#ifndef ACME_CLIENT_H
#define ACME_CLIENT_H

#include "http.h"
#include "key.h"
#include "msg.h"
#include "../server/config.h"

typedef struct acme_client acme_client_t;

typedef struct acme_reply {
	int curl_code;          /* non-zero: no answer (error holds why) */
	bool local;             /* with curl_code: the request never left, for a fault of ours (it could
				 * not be signed): says nothing about the CA */
	const char *error;
	long status;
	wf_slice_t body;
	const char *location;
	const char *retry_after;
	wf_slice_t links;
	bool is_problem;        /* status >= 400 with a problem document (problem filled in) */
	acme_problem_t problem;
	bool waited;            /* with curl_code: never sent, as the CA asked this account to wait
				 * (acme_client_not_before): no attempt, no failure of anyone's */
	const struct acme_ready_why *account_lost; /* with curl_code: held for the account, which the
						     * CA forgot and which could not be had again: why
						     * (valid during the callback) */
} acme_reply_t;

typedef void (*acme_reply_cb)(void *arg, const acme_reply_t *r);
/* Seconds the CA asked us to wait (its Retry-After, RFC 8555 6.6), or -1 when
 * it said nothing readable. The one reading of it for every step. */
long acme_reply_retry_after(const acme_reply_t *r);
/* Why the client could not get ready (the directory, the account). */
typedef struct acme_ready_why {
	acme_problem_t problem; /* type "" without a problem document; detail says what failed */
	long retry_after;       /* seconds the CA asked us to wait, or -1: honoured as at any other step */
	bool local;             /* our own set-up failed (the account folder or key, the EAB settings):
				 * says nothing about the CA */
	bool waited;            /* the CA refused the attempt another waiter started and asked to wait
				 * (acme_client_not_before): nothing was asked for this waiter */
} acme_ready_why_t;

/* The CA's wait. When the CA answers any request 429 or 503 with a
 * Retry-After (RFC 8555 6.6: a rate limit, maintenance; for an unsigned GET,
 * ARI's, limited apart from the account, a 503 only), this account is not
 * to come back before then, whichever certificate asks: the time is kept here
 * (and in STATE/acme/NAME/not_before, for a restart or a reload), a newOrder
 * sent meanwhile ends at once unsent (reply.waited), and when a shared
 * attempt to get ready is refused so, only the waiter that started it hears
 * the refusal; the others hear why.waited. Requests of orders already under
 * way go on. Returns the wall-clock time the wait ends, or 0 when none is
 * running. */
time_t acme_client_not_before(const acme_client_t *cl);

/* ok == false: the client could not get ready; why says why. */
typedef void (*acme_ready_cb)(void *arg, bool ok, const acme_ready_why_t *why);

/* ca: borrowed from cfg, which the client references. The account key lives
 * in STATE/acme/NAME/account.key (0600), made on first use; NAME is the
 * directory URL's (account_dir.h). NULL: no memory, or no folder name fits. */
acme_client_t *acme_client_new(struct ev_loop *loop, wf_config_t *cfg, const wf_acme_ca_cfg_t *ca);
void acme_client_free(acme_client_t *cl);

/* Fetches the directory and finds or creates the account, once; later calls
 * answer at once (from the loop). A failed attempt is forgotten, so the next
 * call tries again. */
void acme_client_ready(acme_client_t *cl, acme_ready_cb cb, void *arg);
const acme_directory_t *acme_client_directory(const acme_client_t *cl);
const acme_key_t *acme_client_account_key(const acme_client_t *cl);
const char *acme_client_url(const acme_client_t *cl);

/* A signed POST (payload NULL: POST-as-GET) with the account's kid; jwk
 * instead when use_jwk (newAccount). Returns a handle for cancel, 0 if it
 * could not start. */
unsigned long acme_client_post(acme_client_t *cl, const char *url, const char *payload, acme_reply_cb cb, void *arg);
/* A POST signed with key (borrowed until the reply), which the CA learns from
 * the jwk header, not with the account: a revocation by the certificate's
 * own key (RFC 8555 7.6). Same reply and cancel rules. */
unsigned long acme_client_post_key(acme_client_t *cl, const acme_key_t *key, const char *url, const char *payload,
				   acme_reply_cb cb, void *arg);
/* Before the first acme_client_ready: this client is ready once it has the
 * directory, and never looks up or registers an account (for
 * acme_client_post_key alone). */
void acme_client_without_account(acme_client_t *cl);
/* Is there an account key for this CA in the state folder? */
bool acme_client_account_stored(const acme_client_t *cl);
/* An unsigned GET (ARI renewalInfo is public). Same reply and cancel rules. */
unsigned long acme_client_get(acme_client_t *cl, const char *url, acme_reply_cb cb, void *arg);
/* Cancels every request and readiness wait started for arg (a job going away). */
void acme_client_cancel_all(acme_client_t *cl, void *arg);

#endif
