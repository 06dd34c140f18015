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
	int failures;        /* failed attempts in a row */
	int ca_failures;     /* of those, in a row, the ones the CA caused (toward the fallback) */
	time_t last_error_at;
	char last_error[1200];
	bool last_error_local; /* the last failure was our own (a key, a folder, a hook), not the CA's */
	time_t next_attempt; /* 0: whenever due */
	time_t last_issued_at;
	int ca;              /* index of the CA in use (after fallbacks) */
	char issued_ca[1024]; /* directory URL of the CA that issued the last certificate; "" in older files */
	time_t ca_wait_until; /* the CA in use asked to wait until then (its Retry-After, for every
			       * certificate of the account); 0: no wait known */
	char failed_for[65];  /* the last failure was the request's own (ours, or a CA's refusal of
			       * what it asks): hex SHA-256 of the settings it was made with; else "" */
	time_t ari_at;        /* the moment the manager picked in the CA's renewalInfo window (ARI),
			       * before the last-sixth bound; 0: none (no ARI, or older files) */
	char ari_for[64];     /* the serial (hex) of the certificate ari_at is for: a pick is
			       * about that certificate only, never the one that replaces it */
} acme_status_rec_t;

/* Durable write of NAME's record. */
int acme_status_save(const char *state_dir, const char *name, const acme_status_rec_t *rec);
/* Reads NAME's record; an absent or unreadable record reads as all zero. */
void acme_status_load(const char *state_dir, const char *name, acme_status_rec_t *rec);

/* The CA to revoke NAME's certificate at (an index into cfg->acme.cas, or -1
 * when the issuing CA is no longer configured), and why, for the output: the
 * one status.json records as its issuer; in a file older than that record,
 * the CA in use if nothing failed since the last issuance, else the first. */
int acme_status_issuing_ca(const wf_config_t *cfg, const acme_status_rec_t *rec, char *why, size_t cap);

/* JSON: {"certificates":[{"name","domains","issuer","serial","not_before","not_after",
 * "provisional","next_renewal","failures","last_error","last_error_local","last_error_at",
 * "ca_wait_until"}]}
 * with RFC 3339 times (null when unknown). next_renewal is the moment the
 * daemon renews at: ARI's pick when status.json holds one for the serial
 * served, else the lifetime rule; a later next attempt (backoff, CA wait) wins. */
int acme_status_json(const wf_config_t *cfg, wf_buf_t *out);
/* The same as a table for a terminal. */
int acme_status_print(const wf_config_t *cfg, FILE *f);

/* When a certificate is due (wall clock): 0 for a provisional one; else a third
 * of the lifetime before expiry, half for lifetimes under 10 days. */
time_t acme_renewal_time(time_t not_before, time_t not_after, bool provisional);
/* When an issued certificate is due when the CA's renewalInfo (ARI) picked
 * ari_at (0: none): ari_at, but never later than the last sixth of the
 * lifetime, so that a window past expiry (a CA's bug) cannot let it lapse. */
time_t acme_renewal_time_ari(time_t not_before, time_t not_after, time_t ari_at);

#define ACME_BACKOFF_CAP 86400.0 /* the longest wait between two attempts */
#define ACME_BACKOFF_JITTER 0.1  /* each wait is drawn within ±10 % of acme_retry_delay's */

/* seconds, drawn within ±fraction of it: timers of many certificates (or
 * nodes) that failed together do not try again together. */
double acme_jitter(double seconds, double fraction);

/* Seconds to wait after the failures-th failed attempt in a row, before
 * jitter and the CA's Retry-After: retry_interval × 1, 10, 100, then
 * ACME_BACKOFF_CAP; the cap at once when asking again cannot help (stubborn:
 * the request itself is refused). life and left: the served certificate's
 * lifetime and the time it has still to live (negative once expired), in
 * seconds; life 0 when there is none to keep alive (provisional). With one,
 * no wait is longer than acme_retry_delay_max, so attempts come closer
 * together as expiry nears and there are always several before it, whatever
 * the lifetime, and an expired short-lived one is not left a day between two. */
double acme_retry_delay(int failures, double retry_interval, bool stubborn, double life, double left);
/* The longest wait acme_retry_delay gives, whatever the failures: the one
 * bound of the live backoff and of a wait read back (acme_retry_delay_stored).
 * ACME_BACKOFF_CAP, or, if shorter, a sixth of the time left (a sixth of the
 * lifetime once expired, or when more than a lifetime seems left), and never
 * less than retry_interval. */
double acme_retry_delay_max(double retry_interval, double life, double left);
/* A wait read back from status.json (seconds from now, as an earlier run
 * chose it), as the backoff allows it now: no longer than acme_retry_delay_max
 * plus its jitter, so neither a hand edit, a clock that jumped, nor the time
 * the certificate lost meanwhile holds its renewal back; never negative. */
double acme_retry_delay_stored(double stored, double retry_interval, double life, double left);
/* Whether a failed attempt raises the expiry alarm: only in the last sixth
 * of the lifetime (left < life / 6), and then about daily: when the last
 * alarm (since_last seconds ago) is 20 h old (an eighth of the lifetime, if
 * that is shorter), or half that and the next attempt (next_delay from now)
 * would come too late to alarm within 1.2 times that. So attempts a little
 * closer than 20 h, or a little further, never skip a day. And, if none came
 * in the last half of that, when the next attempt would come only after
 * expiry (a CA's long Retry-After), even before the last sixth. */
bool acme_alarm_due(double life, double left, double since_last, double next_delay);
/* "3.2 days", "5.0 h", "40 min", "12 s": a span of time (>= 0), in the unit that reads best. */
void acme_span_text(double seconds, char *out, size_t cap);

#endif
