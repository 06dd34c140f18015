/* What the ACME life cycle says about each certificate, for people: kept in
 * STATE/certs/NAME/status.json by the manager (last error, next attempt) and
 * read together with the certificate files by `wharf cert list` and the
 * admin status endpoint, so both tell the same story from the same files. */
#ifndef ACME_STATUS_H
#define ACME_STATUS_H

#include "../server/buf.h"
#include "../server/config.h"

#include <stdio.h>
#include <time.h>

typedef struct acme_status_rec {
	int failures;
	time_t last_error_at;
	char last_error[1200];
	time_t next_attempt; /* 0: whenever due */
	time_t last_issued_at;
	int ca;              /* index of the CA in use (after fallbacks), and that issued the last one */
} acme_status_rec_t;

/* Durable write of NAME's record. */
int acme_status_save(const char *state_dir, const char *name, const acme_status_rec_t *rec);
/* Reads NAME's record; an absent or unreadable record reads as all zero. */
void acme_status_load(const char *state_dir, const char *name, acme_status_rec_t *rec);

/* JSON: {"certificates":[{"name","domains","issuer","serial","not_before","not_after",
 * "provisional","next_renewal","failures","last_error","last_error_at","next_attempt"}]}
 * with RFC 3339 times (null when unknown). */
int acme_status_json(const wf_config_t *cfg, wf_buf_t *out);
/* The same as a table for a terminal. */
int acme_status_print(const wf_config_t *cfg, FILE *f);

/* When a certificate is due (wall clock): 0 for a provisional one; else a third
 * of the lifetime before expiry, half for lifetimes under 10 days. */
time_t acme_renewal_time(time_t not_before, time_t not_after, bool provisional);

#endif
