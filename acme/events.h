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
} acme_event_t;

typedef struct acme_events acme_events_t;

/* loop must be the default loop (child watchers). cfg is referenced. */
acme_events_t *acme_events_new(struct ev_loop *loop, wf_config_t *cfg);
void acme_events_free(acme_events_t *ev);
void acme_events_emit(acme_events_t *ev, const acme_event_t *e);
/* The deploy hook alone, as after an issuance (WHARF_EVENT=issued): the
 * output files caught up with a certificate issued before (a retry, a
 * restart after a crash). */
void acme_events_deploy(acme_events_t *ev, const wf_cert_cfg_t *cert);
/* Deploy hooks that exited non-zero, were killed or could not start. */
size_t acme_events_deploy_failures(const acme_events_t *ev);
/* Hooks still running or webhooks in flight (each is bounded by its timeout). */
bool acme_events_busy(const acme_events_t *ev);

#endif
