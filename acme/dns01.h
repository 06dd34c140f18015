/* dns-01 TXT records through a certificate's dns_hook. Every add and remove
 * of the process goes through one queue and runs one at a time, in order:
 * a remove never overtakes the add of its record (nor the next order's add
 * of the same record, after a reload), and a hook that reads, changes and
 * writes back a whole TXT set (as many DNS APIs make it) never races itself,
 * as with certbot's and uacme's hooks. Main thread only. */
#ifndef ACME_DNS01_H
#define ACME_DNS01_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#define ACME_DNS_ADD_TIMEOUT 300.0 /* a DNS API and its propagation wait, together */

typedef enum acme_dns_result {
	ACME_DNS_OK,      /* the hook exited 0 within its time */
	ACME_DNS_FAILED,  /* it ran and failed: a record may exist all the same */
	ACME_DNS_NOT_RUN, /* it could not be started (logged): no record exists */
} acme_dns_result_t;

typedef void (*acme_dns_done_cb)(void *owner, acme_dns_result_t result);

/* What one call needs; every string is copied. */
typedef struct acme_dns_call {
	char *const *hook; /* the certificate's dns_hook argv */
	size_t nhook;
	const char *cert;   /* certificate name, for WHARF_CERT_NAME and the log */
	const char *domain; /* as configured ("*.example.com"), for WHARF_DOMAIN */
	const char *name;   /* "_acme-challenge.example.com" */
	const char *value;  /* the TXT text */
} acme_dns_call_t;

/* Queues "HOOK... add NAME VALUE" (ACME_DNS_ADD_TIMEOUT at most). cb(owner, result) runs once
 * from the loop when it ended, never inside this call. false: out of memory
 * (nothing queued, cb will not run). */
bool acme_dns_add(struct ev_loop *loop, const acme_dns_call_t *call, acme_dns_done_cb cb, void *owner);
/* Queues "HOOK... remove NAME VALUE" (60 s at most), behind everything queued. */
void acme_dns_remove(struct ev_loop *loop, const acme_dns_call_t *call);
/* owner is going away: its adds not started are dropped; one running ends
 * reporting to nobody. Queue removes for its records after this, but for
 * one whose add was dropped (true) and so never ran. */
bool acme_dns_forget(void *owner);
/* Calls queued or running. */
size_t acme_dns_pending(void);
/* The process is stopping with calls still queued: one error line for each,
 * naming the record an admin must now remove by hand. */
void acme_dns_abandon(void);

#endif
