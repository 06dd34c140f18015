/* Certificate events leave the process three ways besides the log: the
 * certificate's deploy hook (after an issuance), the event hook command, and
 * the webhook. Commands are argv arrays run with posix_spawn (never a shell),
 * killed after a timeout, their exit status logged. */
#ifndef ACME_EVENTS_H
#define ACME_EVENTS_H

#include "http.h"
#include "../server/config.h"

typedef enum acme_event_kind {
	ACME_EVENT_ISSUED,
	ACME_EVENT_FAILED,
	ACME_EVENT_EXPIRING,
} acme_event_kind_t;

typedef struct acme_event {
	acme_event_kind_t kind;
	const wf_cert_cfg_t *cert;
	const char *domain;  /* may be "" */
	const char *problem; /* may be "" */
	const char *detail;  /* may be "" */
	bool no_deploy;      /* issued, but its output files are not up to date: the
			      * deploy hook would reload a service onto old or
			      * mismatched files, so it is not run */
	bool deploy_later;   /* with no_deploy: a retry of the files is set, the hook runs after it */
	bool deploy_failed;  /* failed: not an order, the deploy hook of an issued certificate */
} acme_event_t;

typedef struct acme_events acme_events_t;

/* loop must be the default loop (child watchers). cfg is referenced. */
acme_events_t *acme_events_new(struct ev_loop *loop, wf_config_t *cfg);
/* Hooks still running run on to their end, reporting to nobody. */
void acme_events_free(acme_events_t *ev);
/* The event hook, the webhook and the mail. Not the deploy hook of an
 * issued event: its certificate's deployment runs that (acme_events_deploy),
 * as it must know how the hook ended; no_deploy only says here why not. */
void acme_events_emit(acme_events_t *ev, const acme_event_t *e);

/* How a deploy hook run ended: ok when it exited 0 within its time; gen is
 * the caller's, as given to acme_events_deploy. */
typedef void (*acme_deploy_done_cb)(void *arg, unsigned gen, bool ok);

/* The deploy hook alone, with an issued event's variables (WHARF_EVENT=
 * issued): after an issuance, when the output files caught up, or again
 * after a run that did not end well. cb (may be NULL) runs once from the
 * loop, never inside this call. Returns false when it could not start
 * (logged, counted as failed; cb will not run). */
bool acme_events_deploy(acme_events_t *ev, const wf_cert_cfg_t *cert, acme_deploy_done_cb cb, void *arg,
			unsigned gen);
/* arg is going away: its deploy hooks run on (still counted as busy), but
 * report to nobody. */
void acme_events_deploy_forget(acme_events_t *ev, void *arg);
/* The state folder of the config ev was made with (borrowed: ev's). */
const char *acme_events_state_dir(const acme_events_t *ev);
/* Deploy hooks that exited non-zero, were killed or could not start. */
size_t acme_events_deploy_failures(const acme_events_t *ev);
/* Hooks still running or webhooks in flight (each is bounded by its timeout). */
bool acme_events_busy(const acme_events_t *ev);

#endif
