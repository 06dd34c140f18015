/* Certificate life cycle: see manager.h. */
#include "manager.h"
#include "cluster.h"
#include "deploy.h"
#include "dns01.h"
#include "ari.h"
#include "client.h"
#include "events.h"
#include "http01.h"
#include "order.h"
#include "status.h"
#include "unsaved.h"
#include "../server/cert_state.h"
#include "../server/durable.h"
#include "../server/log.h"

#include <fcntl.h>
#include <gnutls/crypto.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FALLBACK_AFTER 3        /* failures in a row the CA caused before the next CA is tried */
#define RECHECK 43200.0         /* look again at least twice a day */
/* Said of a failure of our own, in the log line and in status.json. */
#define LOCAL_NOTE "a local failure, not the CA's: it does not count toward trying the next CA"

typedef struct slot {
	acme_manager_t *m;
	bool checking;             /* pre-flight self-checks running, or a failure before the order is due */
	ev_timer defer;            /* reports a pre-flight or an order that could not even start */
	int preflight_left;        /* self-check requests still out */
	bool preflight_failed;
	bool setup_failed;         /* the ACME client or the order could not be made */
	char unsent_error[600];    /* why no order was sent (preflight_failed, setup_failed) */
	const wf_cert_cfg_t *cert; /* borrowed from m->cfg */
	acme_job_t *job;           /* owned while an order runs */
	acme_deploy_t *deploy;     /* owned: output files and deploy hook */
	int failures;              /* in a row, whatever the cause: drives the backoff */
	int ca_failures;           /* in a row that the CA caused (its error, its silence): drives the fallback */
	size_t ca;                 /* index into cfg->acme.cas */
	double next_attempt;       /* ev_now() time; 0 = whenever due */
	time_t last_alarm;
	/* ARI: the id of the served certificate, the moment picked inside the
	 * CA's suggested window (0: none), and when to ask again. */
	char ari_id[256];
	time_t ari_at;
	double ari_poll_at;
	time_t ari_closed_for;  /* notBefore of the certificate a window that ended before it was taken for (renew now) */
	bool ari_closed_logged; /* one said again of a later certificate was ignored, and logged */
	bool ari_busy;
	char names_added_by_ca[64]; /* serial of the certificate an order for exactly the configured
				     * names brought with more names: not due for those (names_removed) */
	bool tried;                /* one-shot: ordered once already */
	char outcome[320];         /* one-shot: what happened, for the report */
} slot_t;

struct acme_manager {
	struct ev_loop *loop;
	wf_config_t *cfg;        /* owned reference */
	wf_certstore_t *store;   /* borrowed */
	acme_client_t **clients; /* owned, one per CA, made on first use */
	slot_t *slots;
	size_t nslots;
	acme_events_t *events; /* owned */
	acme_http_t *http;     /* owned: pre-flight self-checks */
	ev_timer wake;
	acme_settled_fn settled; /* one-shot mode when set */
	void *settled_arg;
	int issued, failed, put_off; /* one-shot: what the pass did */
	acme_unsaved_t *unsaved;   /* owned: issued certificates issued.pem could not take */
	acme_deploy_t **unrenewed; /* owned: of the certificates with acme = false, whose output
				    * files still catch up with their issued.pem at start-up */
	size_t nunrenewed;
};


/* An issued certificate of another key type than the config asks for (a
 * key_type changed since): it serves until one of the new type comes, which
 * nothing but an order brings. */
static bool other_key_type(const wf_certkey_t *ck, const wf_cert_cfg_t *c)
{
	return !ck->provisional && c->key_type && strcasecmp(ck->key_type, c->key_type) != 0;
}

/* An issued certificate that names a name the config no longer has (one
 * removed since): it serves until one for exactly the configured names
 * comes, which nothing but an order brings. Order and case are no change,
 * nor another spelling of an address (san.h). One that came so from an
 * order for exactly these names (a CA that adds a name of its own) is not
 * ordered again: the next would come back the same. */
static bool names_removed(const slot_t *s, const wf_certkey_t *ck)
{
	return !ck->provisional && strcmp(ck->serial, s->names_added_by_ca) != 0 &&
	       wf_certkey_names_beyond(ck, s->cert->domains, s->cert->ndomains) > 0;
}

static time_t renewal_time(const slot_t *s, const wf_certkey_t *ck)
{
	const wf_cert_cfg_t *c = s->cert;
	if (ck->short_of_config)
		return 0; /* due now: a name it lacks is served nothing valid */
	if (other_key_type(ck, c))
		return 0; /* due now: the lifetime rule would keep the old type for months */
	if (names_removed(s, ck))
		return 0; /* due now: the lifetime rule would keep a name the admin took away for months */
	return acme_renewal_time(ck->not_before, ck->not_after, ck->provisional);
}

/* The issued certificate served for c, if any: its lifetime and the time it
 * has left (negative once expired), in seconds. */
static bool served_life(acme_manager_t *m, const wf_cert_cfg_t *c, double *life, double *left)
{
	wf_certkey_t *cur = wf_certstore_get(m->store, c->name);
	bool have = cur && !cur->provisional;
	*life = have ? difftime(cur->not_after, cur->not_before) : 0;
	*left = have ? difftime(cur->not_after, time(NULL)) : 0;
	wf_certkey_unref(cur);
	return have;
}

static acme_client_t *client_for(acme_manager_t *m, size_t ca)
{
	if (!m->clients[ca])
		m->clients[ca] = acme_client_new(m->loop, m->cfg, &m->cfg->acme.cas[ca]);
	return m->clients[ca];
}

static void schedule(acme_manager_t *m);

static void fmt_time(time_t t, char *out, size_t cap)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The CA sends no expiry mail any more: wharf is the alarm, in the last
 * sixth of the lifetime, about daily (acme_alarm_due), once an attempt has
 * failed or been put off. why: what holds the renewal back; late: said when
 * the next attempt comes only after expiry. */
static void alarm_check(acme_manager_t *m, slot_t *s, const char *why, const char *late, const char *type)
{
	double life, left;
	if (!served_life(m, s->cert, &life, &left))
		return;
	double until_next = s->next_attempt - ev_now(m->loop);
	if (!acme_alarm_due(life, left, difftime(time(NULL), s->last_alarm), until_next))
		return;
	s->last_alarm = time(NULL);
	char span[32], detail[400];
	acme_span_text(left < 0 ? -left : left, span, sizeof(span));
	snprintf(detail, sizeof(detail), "%s %s%s and %s%s", left < 0 ? "expired" : "expires in", span,
		 left < 0 ? " ago" : "", why, left > 0 && until_next >= left ? late : "");
	wf_log_error("ALARM certificate %s: %s", s->cert->name, detail);
	acme_event_t ee = { ACME_EVENT_EXPIRING, s->cert, s->cert->domains[0], type, detail, false };
	acme_events_emit(m->events, &ee);
}

/* The CA in use asks this account to wait (client.h) past the moment the
 * served certificate expires: with another CA configured that is not
 * waiting too, the certificate goes there at once, as the fallback would
 * after failures (better a certificate from the next CA than none). The
 * only way a wait moves a certificate on; a provisional one waits. */
static bool leave_waiting_ca(acme_manager_t *m, slot_t *s, double wait)
{
	double life, left;
	if (m->cfg->acme.ncas < 2 || !served_life(m, s->cert, &life, &left) || left > wait)
		return false;
	size_t next = (s->ca + 1) % m->cfg->acme.ncas;
	acme_client_t *ncl = client_for(m, next);
	if (!ncl || acme_client_not_before(ncl))
		return false;
	char at[32];
	fmt_time(acme_client_not_before(m->clients[s->ca]), at, sizeof(at));
	wf_log_warn("certificate %s: %s asks to wait until %s, %s the certificate expires; trying %s next",
		    s->cert->name, m->cfg->acme.cas[s->ca].url, at, left > 0 ? "after" : "and", m->cfg->acme.cas[next].url);
	s->ca = next;
	s->ca_failures = 0;
	s->next_attempt = ev_now(m->loop);
	s->ari_id[0] = '\0';
	s->ari_at = 0;
	return true;
}

/* Seconds past the CA's time before asking again: Retry-After counts whole
 * seconds, and the CA's moment must be past, not nearly. */
#define WAIT_SLACK 1.0

/* The wall-clock second an attempt due in secs is kept at in status.json,
 * which a reload or restart schedules from: rounded up (by less than a
 * second), never down; truncated, a reload could ask a CA up to two
 * seconds before its Retry-After is over. */
static time_t kept_at(double secs)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double at = (double)now.tv_sec + now.tv_nsec / 1e9 + secs;
	time_t whole = (time_t)at;
	return whole + (at > (double)whole);
}

/* s falls due (or its order was put off unsent) while its CA's wait runs:
 * nothing is asked of the CA, and the next attempt comes when the wait ends.
 * No attempt was made, so neither the backoff nor the fallback moves. */
static void ca_wait(slot_t *s)
{
	acme_manager_t *m = s->m;
	acme_client_t *cl = m->clients[s->ca];
	time_t until = cl ? acme_client_not_before(cl) : 0;
	if (!until) { /* over already (an order put off just as it ended): ask now */
		s->next_attempt = ev_now(m->loop);
		if (m->settled)
			s->tried = false;
		return;
	}
	double wait = difftime(until, time(NULL)) + WAIT_SLACK;
	acme_status_rec_t rec;
	acme_status_load(m->cfg->state_dir, s->cert->name, &rec);
	if (leave_waiting_ca(m, s, wait)) {
		if (m->settled) /* one pass: ordered from the next CA in this one */
			s->tried = false;
		rec.ca = (int)s->ca;
		rec.ca_failures = 0;
		rec.next_attempt = 0;
		rec.ca_wait_until = 0;
		rec.ari_at = 0; /* leave_waiting_ca dropped it: a pick of the old CA's */
		rec.ari_for[0] = '\0';
		acme_status_save(m->cfg->state_dir, s->cert->name, &rec);
		return;
	}
	char at[32];
	fmt_time(until, at, sizeof(at));
	s->next_attempt = ev_now(m->loop) + wait;
	wf_log_warn("certificate %s: not ordered: %s asked to wait until %s (its Retry-After, for every certificate "
		    "of the account); next attempt then, and this wait counts as no failure",
		    s->cert->name, m->cfg->acme.cas[s->ca].url, at);
	if (m->settled) { /* one pass: no waiting; the run says it was put off */
		s->tried = true;
		m->put_off++;
		snprintf(s->outcome, sizeof(s->outcome), "deferred   %s asked to wait until %.32s",
			 m->cfg->acme.cas[s->ca].url, at);
	}
	rec.next_attempt = kept_at(wait);
	rec.ca_wait_until = until;
	rec.ca = (int)s->ca;
	acme_status_save(m->cfg->state_dir, s->cert->name, &rec);
	char why[200];
	snprintf(why, sizeof(why), "the CA asks to wait until %s before renewal", at);
	alarm_check(m, s, why, "; the next attempt comes only after that (the CA's Retry-After)", "");
}

/* What an order of c at CA ca is made with, as far as the config says:
 * hex SHA-256 of each setting, so a change to any of them tells a failure
 * the request caused from one it may cause again. */
static void order_settings(const wf_config_t *cfg, const wf_cert_cfg_t *c, size_t ca, char out[65])
{
	gnutls_hash_hd_t h;
	unsigned char d[32];
	out[0] = '\0';
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return;
	const char *one[] = { c->key_type, c->challenge, c->profile, c->reuse_key ? "reuse" : "new", c->output_dir,
			      cfg->acme.contact, cfg->acme.cas[ca].url, cfg->acme.cas[ca].eab_kid,
			      cfg->acme.cas[ca].eab_hmac, cfg->acme.cas[ca].ca_bundle };
	struct {
		char *const *v;
		size_t n;
	} lists[] = { { c->domains, c->ndomains },	     { c->dns_hook, c->ndns_hook },
		      { c->deploy_hook, c->ndeploy_hook }, { cfg->acme.dns_hook, cfg->acme.ndns_hook } };
	/* Each string with its NUL, each list with its length: no two
	 * different settings hash alike by running into each other. */
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		gnutls_hash(h, one[i] ? one[i] : "", one[i] ? strlen(one[i]) + 1 : 1);
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		uint64_t n = lists[i].n;
		gnutls_hash(h, &n, sizeof(n));
		for (size_t k = 0; k < lists[i].n; k++)
			gnutls_hash(h, lists[i].v[k], strlen(lists[i].v[k]) + 1);
	}
	gnutls_hash_deinit(h, d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The CA entry an order of s goes to, as far as the config says (its URL,
 * trust, EAB and the account key type): hex SHA-256, marked "ca-" and cut
 * to fit status.json's failed_for beside order_settings'. A failure the CA
 * caused (its error, its silence) holds the backoff only while the entry
 * it was against is the same: a URL mistyped and fixed is another CA. */
static void ca_settings(const wf_config_t *cfg, size_t ca, char out[65])
{
	gnutls_hash_hd_t h;
	unsigned char d[32];
	out[0] = '\0';
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return;
	const wf_acme_ca_cfg_t *e = &cfg->acme.cas[ca];
	const char *one[] = { "ca", e->url, e->ca_bundle, e->eab_kid, e->eab_hmac, cfg->acme.account_key_type };
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		gnutls_hash(h, one[i] ? one[i] : "", one[i] ? strlen(one[i]) + 1 : 1);
	gnutls_hash_deinit(h, d);
	memcpy(out, "ca-", 3);
	for (size_t i = 0; 3 + 2 * i + 2 < 65; i++)
		snprintf(out + 3 + 2 * i, 3, "%02x", d[i]);
}

static bool self_inflicted(const char *type)
{
	static const char *const types[] = { "badCSR", "rejectedIdentifier", "caa", "unsupportedIdentifier",
					     "badPublicKey", "unsupportedContact", "invalidContact" };
	const char *p = strrchr(type, ':');
	p = p ? p + 1 : type;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(p, types[i]) == 0)
			return true;
	return false;
}

/* Is this chain's leaf the certificate served already? An order resumed
 * after its certificate was issued (and served, but not stored) hands that
 * same certificate back: no renewal, and taking it for one would order again
 * at once, for ever. */
static bool served_already(acme_manager_t *m, const wf_cert_cfg_t *c, const acme_result_t *res)
{
	char err[256];
	wf_certkey_t *got = wf_certkey_new(c->name, c->domains, c->ndomains, res->chain_pem, res->key_pem, false, err,
					   sizeof(err));
	wf_certkey_t *cur = wf_certstore_get(m->store, c->name);
	bool same = got && cur && !cur->provisional && strcmp(got->serial, cur->serial) == 0;
	if (got)
		wf_certkey_unref(got);
	if (cur)
		wf_certkey_unref(cur);
	return same;
}

static void on_job_done(void *arg, const acme_result_t *res)
{
	slot_t *s = arg;
	acme_manager_t *m = s->m;
	s->job = NULL;
	const wf_cert_cfg_t *c = s->cert;
	if (res->waited) { /* the CA's wait began while this order was getting ready: not an attempt */
		ca_wait(s);
		schedule(m);
		return;
	}
	if (res->ok && res->resumed && served_already(m, c, res)) {
		/* The order pending.order kept was the one the served certificate
		 * came from (a stop, or a store that failed, before its files were
		 * removed): nothing is left of it. No attempt was made at a
		 * renewal, so none failed: a new order follows at once. */
		acme_job_forget_pending(m->cfg->state_dir, c->name);
		wf_log_info("certificate %s: the unfinished order resumed was done already: the CA handed back the "
			    "certificate already served; ordering anew",
			    c->name);
		s->next_attempt = 0;
		s->tried = false;
		schedule(m);
		return;
	}
	if (res->ok && served_already(m, c, res)) {
		acme_job_forget_pending(m->cfg->state_dir, c->name);
		acme_result_t again = *res;
		again.ok = false;
		snprintf(again.detail, sizeof(again.detail),
			 "the CA handed back the certificate already served (an order finished before); the next "
			 "attempt orders afresh");
		on_job_done(arg, &again);
		return;
	}
	if (res->ok)
		m->issued++;
	else
		m->failed++;
	if (!res->ok)
		snprintf(s->outcome, sizeof(s->outcome), "failed     %.100s: %.200s",
			 res->domain[0] ? res->domain : c->domains[0], res->problem_type[0] ? res->problem_type : res->detail);
	if (res->ok) {
		char err[512];
		wf_certkey_t *ck = NULL;
		double issued_life = 0;
		acme_deploy_prepare(s->deploy, res->chain_pem);
		bool stored = wf_certstate_save_issued(m->cfg->state_dir, c->name, res->chain_pem, res->key_pem, err,
						       sizeof(err)) == WF_OK;
		if (stored)
			acme_job_forget_pending(m->cfg->state_dir, c->name);
		else /* the pending order and key stay: a restart fetches it again */
			wf_log_error("certificate %s: issued, but not stored: %s; serving it anyway", c->name, err);
		ck = wf_certkey_new(c->name, c->domains, c->ndomains, res->chain_pem, res->key_pem, false, err, sizeof(err));
		if (!ck) {
			wf_log_error("certificate %s: issued certificate unusable: %s", c->name, err);
		} else {
			char until[64];
			struct tm tm;
			gmtime_r(&ck->not_after, &tm);
			strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
			wf_log_info("certificate %s: issued by \"%s\" for %s%s, valid until %s; installed", c->name,
				    ck->issuer, c->domains[0], c->ndomains > 1 ? " and more" : "", until);
			snprintf(s->outcome, sizeof(s->outcome), "issued     valid until %s", until);
			issued_life = difftime(ck->not_after, ck->not_before);
			size_t added = wf_certkey_names_beyond(ck, c->domains, c->ndomains);
			if (added)
				wf_log_warn(
				    "certificate %s: the CA added %zu name%s the order did not ask for; it is not "
				    "ordered again for that",
				    c->name, added, added == 1 ? "" : "s");
			snprintf(s->names_added_by_ca, sizeof(s->names_added_by_ca), "%s", added ? ck->serial : "");
			/* Unstored, a reload keeps it (server.c), and acme/unsaved.c
			 * stores it once the disk takes it. */
			if (!stored && wf_certkey_keep_unsaved(ck, res->chain_pem, res->key_pem) != WF_OK)
				wf_log_error("certificate %s: out of memory: it is stored only by a restart", c->name);
			wf_certstore_install(m->store, ck);
			if (!stored)
				acme_unsaved_check(m->unsaved);
			/* From memory: issued.pem may not have taken it. */
			acme_deploy_issued(s->deploy, res->chain_pem, res->key_pem, stored); /* a lag is counted at the end */
		}
		s->failures = 0;
		s->ca_failures = 0;
		/* However soon the new certificate says it is due (a CA's short
		 * lifetime, an ARI window already open), the next order waits a
		 * retry_interval, or a third of the lifetime when that is
		 * shorter: a CA whose certificates are due at once gets one order
		 * per interval, not one per second. */
		double gap = m->cfg->acme.retry_interval;
		if (issued_life > 0 && issued_life / 3 < gap)
			gap = issued_life / 3;
		s->next_attempt = ev_now(m->loop) + (gap > 0 ? gap : 0);
		s->ari_id[0] = '\0';
		s->ari_at = 0;
		s->ari_poll_at = 0; /* ask about the new certificate soon */
		acme_status_rec_t rec = { 0 };
		rec.last_issued_at = time(NULL);
		rec.ca = (int)s->ca;
		/* Revocation goes there, wherever later failures take s->ca. */
		snprintf(rec.issued_ca, sizeof(rec.issued_ca), "%s", m->cfg->acme.cas[s->ca].url);
		acme_status_save(m->cfg->state_dir, c->name, &rec);
		schedule(m);
		return;
	}
	s->failures++;
	/* The served certificate's time left (its lifetime, once expired) bounds
	 * the wait: a short-lived one gets attempts close together before it
	 * expires, and after, not a day apart. */
	double life, left;
	served_life(m, c, &life, &left);
	double base = m->cfg->acme.retry_interval;
	/* A problem the request itself causes: asking again will not help until the config changes. */
	double delay = acme_retry_delay(s->failures, base, self_inflicted(res->problem_type), life, left);
	delay = acme_jitter(delay, ACME_BACKOFF_JITTER);
	if (res->retry_after >= 0 && delay < res->retry_after)
		delay = (double)res->retry_after;
	s->next_attempt = ev_now(m->loop) + delay;
	/* Ours (a key, a folder, a hook, the config) or the CA's: the admin
	 * knows where to look, and why the CA is not left over it. */
	wf_log_error("certificate %s: order failed for %s: %s%s%s (%s%s%s); next attempt in %.0f s", c->name,
		     res->domain[0] ? res->domain : c->domains[0], res->problem_type[0] ? res->problem_type : "",
		     res->problem_type[0] ? ": " : "", res->detail, acme_job_state_name(res->failed_in),
		     res->local ? "; " : "", res->local ? LOCAL_NOTE : "", delay);
	acme_event_t fe = { ACME_EVENT_FAILED, c, res->domain[0] ? res->domain : c->domains[0], res->problem_type,
			    res->detail, false };
	acme_events_emit(m->events, &fe);
	/* Only what the CA did counts toward leaving it. A pre-flight that kept
	 * the order from being sent, a dns_hook that failed, an account folder
	 * or key that could not be made, EAB settings that do not decode, a
	 * request refused for what it asks (another CA would refuse it too) say
	 * nothing about this CA: they drive the backoff, not the fallback. */
	if (!res->local && !self_inflicted(res->problem_type))
		s->ca_failures++;
	if (s->ca_failures >= FALLBACK_AFTER && m->cfg->acme.ncas > 1) {
		size_t next = (s->ca + 1) % m->cfg->acme.ncas;
		wf_log_warn("certificate %s: %d failures in a row with %s; trying %s next", c->name, s->ca_failures,
			    m->cfg->acme.cas[s->ca].url, m->cfg->acme.cas[next].url);
		s->ca = next;
		s->ca_failures = 0;
		/* A fresh CA gets a fresh start, not the backoff earned at the last one;
		 * and an ARI id names a certificate of the old CA. */
		s->next_attempt = ev_now(m->loop) + acme_jitter(base, 0.1);
		s->ari_id[0] = '\0';
		s->ari_at = 0;
	} else if (res->retry_after > 0 && m->clients[s->ca] && acme_client_not_before(m->clients[s->ca])) {
		leave_waiting_ca(m, s, delay);
	}
	/* Kept across restarts and reloads, so that neither resets the backoff
	 * (and spends the CA's failed-validation limit) nor the fallback. */
	acme_status_rec_t rec;
	acme_status_load(m->cfg->state_dir, c->name, &rec);
	rec.failures = s->failures;
	rec.ca_failures = s->ca_failures;
	rec.ca = (int)s->ca;
	rec.last_error_at = time(NULL);
	rec.next_attempt = kept_at(s->next_attempt - ev_now(m->loop));
	snprintf(rec.last_error, sizeof(rec.last_error), "%s: %s%s%s%s%s%s",
		 res->domain[0] ? res->domain : c->domains[0], res->problem_type, res->problem_type[0] ? ": " : "",
		 res->detail, res->local ? " (" : "", res->local ? LOCAL_NOTE : "", res->local ? ")" : "");
	rec.last_error_local = res->local;
	if (res->local || self_inflicted(res->problem_type))
		order_settings(m->cfg, c, s->ca, rec.failed_for);
	else
		ca_settings(m->cfg, s->ca, rec.failed_for);
	rec.ca_wait_until = m->clients[s->ca] ? acme_client_not_before(m->clients[s->ca]) : 0;
	if (!s->ari_at) { /* dropped by a move to another CA: cert list no longer shows it */
		rec.ari_at = 0;
		rec.ari_for[0] = '\0';
	}
	acme_status_save(m->cfg->state_dir, c->name, &rec);
	alarm_check(m, s, "renewal keeps failing", "; the next attempt comes only after that (the CA's Retry-After)",
		    res->problem_type);
	schedule(m);
}

/* Reports what kept the order from being sent, from the loop: never under
 * the caller (schedule), and the slot stays busy until then. */
static void defer_failure(slot_t *s)
{
	s->checking = true;
	ev_timer_set(&s->defer, 0, 0);
	ev_timer_start(s->m->loop, &s->defer);
}

/* s->unsent_error says why. */
static void setup_failed(slot_t *s)
{
	s->setup_failed = true;
	defer_failure(s);
}

static void order_now(slot_t *s)
{
	acme_manager_t *m = s->m;
	acme_client_t *cl = client_for(m, s->ca);
	if (!cl) {
		snprintf(s->unsent_error, sizeof(s->unsent_error),
			 "cannot set up the ACME client for %s (out of memory, or libcurl could not start)",
			 m->cfg->acme.cas[s->ca].url);
		setup_failed(s);
		return;
	}
	wf_log_info("certificate %s: ordering from %s for %s%s", s->cert->name, acme_client_url(cl),
		    s->cert->domains[0], s->cert->ndomains > 1 ? " and more" : "");
	/* reuse_key: certify the key of the issued certificate again (issued.pem
	 * holds the key first, then the chain). */
	wf_buf_t key;
	wf_buf_init(&key, 1 << 20);
	if (s->cert->reuse_key) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/certs/%s", m->cfg->state_dir, s->cert->name);
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd >= 0 && wf_durable_read(dfd, "issued.pem", 1 << 20, &key) != WF_OK)
			wf_buf_reset(&key);
		if (dfd >= 0)
			close(dfd);
	}
	s->job = acme_job_start(m->loop, cl, m->cfg->state_dir, s->cert, wf_buf_slice(&key), s->ari_id[0] ? s->ari_id : NULL,
				m->cfg->acme.order_timeout, acme_cluster_is_controller(m->cfg), on_job_done, s);
	if (key.data)
		gnutls_memset(key.data, 0, key.cap);
	wf_buf_fini(&key);
	if (!s->job) {
		snprintf(s->unsent_error, sizeof(s->unsent_error), "cannot start the order (out of memory)");
		setup_failed(s);
	}
}

/* No order was sent, by our doing: recorded, logged and backed off as any
 * failure, and local (the CA never heard of it). */
static void unsent_failed(slot_t *s, const char *type, const char *detail)
{
	acme_result_t res;
	memset(&res, 0, sizeof(res));
	res.failed_in = ACME_JOB_WAIT_CLIENT;
	res.retry_after = -1;
	res.local = true;
	snprintf(res.problem_type, sizeof(res.problem_type), "%s", type);
	snprintf(res.detail, sizeof(res.detail), "%s", detail);
	on_job_done(s, &res);
}

static void preflight_failed(slot_t *s)
{
	char detail[700];
	snprintf(detail, sizeof(detail), "%.600s; the order was not sent, so the CA's failed-validation limit is not "
		 "spent", s->unsent_error);
	unsent_failed(s, "preflight", detail);
}

static void on_preflight(void *arg, const acme_http_resp_t *resp)
{
	slot_t *s = arg;
	wf_slice_t body = wf_buf_slice(&resp->body);
	bool ok = resp->curl_code == 0 && resp->status == 200 && body.len == strlen(ACME_HTTP01_READY_TEXT) &&
		  memcmp(body.ptr, ACME_HTTP01_READY_TEXT, body.len) == 0;
	if (!ok && !s->preflight_failed) {
		s->preflight_failed = true;
		/* The URL is in the error: the admin sees exactly what did not answer. */
		if (resp->curl_code)
			snprintf(s->unsent_error, sizeof(s->unsent_error),
				 "pre-flight self-check failed: %s (is the public port forwarded to the acme-http service?)",
				 resp->error);
		else
			snprintf(s->unsent_error, sizeof(s->unsent_error),
				 "pre-flight self-check failed: HTTP %ld, not wharf's readiness text (is the public port "
				 "forwarded to the acme-http service?)",
				 resp->status);
	}
	if (--s->preflight_left > 0)
		return;
	s->checking = false;
	if (s->preflight_failed)
		preflight_failed(s);
	else
		order_now(s);
}

static void on_defer(struct ev_loop *loop, ev_timer *t, int revents)
{
	slot_t *s = wf_container_of(t, slot_t, defer);
	s->checking = false;
	if (s->setup_failed) {
		s->setup_failed = false;
		unsent_failed(s, "", s->unsent_error);
		return;
	}
	preflight_failed(s);
}

/* For http-01, first check that each name reaches our own acme-http service. */
static void start_job(slot_t *s)
{
	acme_manager_t *m = s->m;
	int port = m->cfg->acme.preflight_port;
	if (!port || strcmp(s->cert->challenge, "http-01") != 0) {
		order_now(s);
		return;
	}
	if (!m->http)
		m->http = acme_http_new(m->loop, NULL, "wharf-preflight/" WHARF_VERSION);
	s->checking = true;
	s->preflight_left = (int)s->cert->ndomains;
	s->preflight_failed = false;
	s->unsent_error[0] = '\0';
	/* Callbacks never run before acme_http_request returns, so counting down here is safe. */
	for (size_t i = 0; i < s->cert->ndomains; i++) {
		char url[600];
		const char *name = s->cert->domains[i];
		bool v6 = strchr(name, ':') != NULL; /* an IPv6 address: bracketed in a URL */
		snprintf(url, sizeof(url), "http://%s%s%s:%d/.well-known/acme-challenge/test.txt", v6 ? "[" : "", name,
			 v6 ? "]" : "", port);
		if (!m->http || !acme_http_request(m->http, "GET", url, NULL, (wf_slice_t){ NULL, 0 }, 10, on_preflight, s)) {
			s->preflight_failed = true;
			snprintf(s->unsent_error, sizeof(s->unsent_error), "pre-flight self-check could not start");
			s->preflight_left--;
		}
	}
	if (s->preflight_left == 0)
		defer_failure(s);
}

/* ---------------------------------------------------------------- ARI */

/* The moment picked (or none), kept in status.json for serial: cert list
 * and the status endpoint show when the daemon renews, not what the
 * lifetime alone would say (acme/status.c). */
static void ari_keep(slot_t *s, const char *serial)
{
	acme_status_rec_t rec;
	acme_status_load(s->m->cfg->state_dir, s->cert->name, &rec);
	rec.ari_at = s->ari_at;
	snprintf(rec.ari_for, sizeof(rec.ari_for), "%s", s->ari_at ? serial : "");
	acme_status_save(s->m->cfg->state_dir, s->cert->name, &rec);
}

static void ari_done(slot_t *s, double next_poll)
{
	s->ari_busy = false;
	s->ari_poll_at = ev_now(s->m->loop) + next_poll;
	schedule(s->m);
}

/* When to ask again: as the CA's Retry-After says, but at least twice a
 * day (RFC 9773 4.3) and at most once a minute. */
static double ari_next_poll(const acme_reply_t *r)
{
	long ra = acme_reply_retry_after(r);
	return ra < 0 ? RECHECK : ra < 60 ? 60 : ra > RECHECK ? RECHECK : (double)ra;
}

static void on_renewal_info(void *arg, const acme_reply_t *r)
{
	slot_t *s = arg;
	acme_renewal_info_t ri;
	char err[256];
	if (r->curl_code || r->status != 200 || acme_msg_renewal_info(r->body, &ri, err, sizeof(err)) != WF_OK) {
		wf_log_warn("certificate %s: renewal info unavailable (%s); using the lifetime rule", s->cert->name,
			    r->curl_code ? (r->error ? r->error : "no answer") : r->status != 200 ? "HTTP error" : err);
		ari_done(s, RECHECK);
		return;
	}
	/* A window that closed before the served certificate began says "now"
	 * (a CA about to revoke, RFC 9773 4.2): taken once. Said again of the
	 * certificate that renewal brought, it is a CA's bug that would renew
	 * every new certificate at once: ignored, the lifetime rule decides,
	 * until the CA gives a window of the usual kind. */
	wf_certkey_t *served = wf_certstore_get(s->m->store, s->cert->name);
	time_t began = served && !served->provisional ? served->not_before : 0;
	char serial[64];
	snprintf(serial, sizeof(serial), "%s", served ? served->serial : "");
	if (served)
		wf_certkey_unref(served);
	bool closed_before = began && ri.end <= began;
	if (closed_before && s->ari_closed_for && began > s->ari_closed_for) {
		if (!s->ari_closed_logged)
			wf_log_warn("certificate %s: the CA's renewal window ended before the served certificate was issued, "
				    "as for the one it replaced; ignored, the lifetime rule decides",
				    s->cert->name);
		s->ari_closed_logged = true;
		s->ari_at = 0;
		ari_keep(s, serial);
		ari_done(s, ari_next_poll(r));
		return;
	}
	if (closed_before && !s->ari_closed_for)
		s->ari_closed_for = began;
	if (!closed_before) {
		s->ari_closed_for = 0;
		s->ari_closed_logged = false;
	}
	/* A random moment inside the window spreads a CA's renewals out. */
	double span = difftime(ri.end, ri.start);
	s->ari_at = ri.start + (time_t)(span > 0 ? acme_jitter(span / 2, 1.0) : 0);
	char at[32];
	struct tm tm;
	gmtime_r(&s->ari_at, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	wf_log_info("certificate %s: the CA suggests renewing by %s; picked %s", s->cert->name,
		    ri.end < time(NULL) ? "now (window already open)" : "its window", at);
	ari_keep(s, serial);
	ari_done(s, ari_next_poll(r));
}

static void on_ari_client(void *arg, bool ok, const acme_ready_why_t *why)
{
	slot_t *s = arg;
	acme_manager_t *m = s->m;
	acme_client_t *cl = m->clients[s->ca];
	const acme_directory_t *d = ok ? acme_client_directory(cl) : NULL;
	if (!d || !d->renewal_info[0]) {
		ari_done(s, RECHECK); /* no ARI at this CA (or unreachable): the lifetime rule serves */
		return;
	}
	/* The certificate served, not issued.pem: a state folder that did not
	 * take the last one still holds its predecessor, whose window is open. */
	bool have = false;
	wf_certkey_t *ck = wf_certstore_get(m->store, s->cert->name);
	gnutls_datum_t der = { NULL, 0 }, pem = { NULL, 0 };
	if (ck && !ck->provisional && gnutls_certificate_get_crt_raw(ck->cred, 0, 0, &der) == 0 &&
	    gnutls_pem_base64_encode2("CERTIFICATE", &der, &pem) == 0)
		have = acme_ari_cert_id((wf_slice_t){ (const char *)pem.data, pem.size }, s->ari_id, sizeof(s->ari_id)) ==
		       WF_OK;
	gnutls_free(pem.data);
	if (ck)
		wf_certkey_unref(ck);
	if (!have) {
		s->ari_id[0] = '\0';
		ari_done(s, RECHECK);
		return;
	}
	char url[ACME_URL_MAX + 300];
	snprintf(url, sizeof(url), "%s%s%s", d->renewal_info,
		 d->renewal_info[strlen(d->renewal_info) - 1] == '/' ? "" : "/", s->ari_id);
	if (!acme_client_get(cl, url, on_renewal_info, s))
		ari_done(s, RECHECK);
}

/* Asks the CA (if it has ARI) when the served certificate should be renewed. */
static void ari_poll(slot_t *s)
{
	acme_client_t *cl = client_for(s->m, s->ca);
	if (!cl) {
		s->ari_poll_at = ev_now(s->m->loop) + RECHECK;
		return;
	}
	s->ari_busy = true;
	acme_client_ready(cl, on_ari_client, s);
}

/* One pass (cert obtain, cert batch) finds s due while the backoff of an
 * earlier failure runs: it is not ordered (the backoff spares the CA's
 * failed-validation limits, which a cron job running every few minutes
 * would spend), but said, so the run does not pass for one with nothing
 * due. */
static void held_back(slot_t *s)
{
	acme_manager_t *m = s->m;
	acme_status_rec_t rec;
	acme_status_load(m->cfg->state_dir, s->cert->name, &rec);
	char at[32];
	/* status.json's, as cert list shows it (resume_backoff kept it there). */
	time_t until = rec.next_attempt ? rec.next_attempt : kept_at(s->next_attempt - ev_now(m->loop));
	fmt_time(until, at, sizeof(at));
	wf_log_warn("certificate %s: due but held back until %s by the backoff after %d failure%s: %s", s->cert->name,
		    at, s->failures, s->failures == 1 ? "" : "s", rec.last_error[0] ? rec.last_error : "(no error kept)");
	snprintf(s->outcome, sizeof(s->outcome), "held back  until %.32s by the backoff after %d failure%s: %.200s", at,
		 s->failures, s->failures == 1 ? "" : "s", rec.last_error[0] ? rec.last_error : "(no error kept)");
	s->tried = true;
	m->put_off++;
}

static bool busy_overlap(const acme_manager_t *m, const slot_t *s)
{
	for (size_t i = 0; i < m->nslots; i++) {
		const slot_t *o = &m->slots[i];
		if (o == s || (!o->job && !o->checking))
			continue;
		for (size_t a = 0; a < s->cert->ndomains; a++)
			for (size_t b = 0; b < o->cert->ndomains; b++)
				if (strcmp(s->cert->domains[a], o->cert->domains[b]) == 0)
					return true;
	}
	return false;
}

/* Starts what is due; sets the wake-up for what comes next. */
static void schedule(acme_manager_t *m)
{
	double now = ev_now(m->loop);
	time_t wall = time(NULL);
	double next = RECHECK;
	bool running = false;
	for (size_t i = 0; i < m->nslots; i++) {
		slot_t *s = &m->slots[i];
		if (s->job || s->checking || s->ari_busy) {
			running = true;
			continue;
		}
		if (m->settled && s->tried)
			continue;
		wf_certkey_t *ck = wf_certstore_get(m->store, s->cert->name);
		time_t due = ck ? renewal_time(s, ck) : 0;
		bool issued = ck && !ck->provisional && !ck->short_of_config && !other_key_type(ck, s->cert) &&
			      !names_removed(s, ck);
		time_t ari_due = ck && s->ari_at ? acme_renewal_time_ari(ck->not_before, ck->not_after, s->ari_at) : 0;
		wf_certkey_unref(ck);
		/* The CA's wait (client.h) holds back everything that would ask it. */
		acme_client_t *cl = client_for(m, s->ca);
		time_t ca_until = cl ? acme_client_not_before(cl) : 0;
		if (issued && now >= s->ari_poll_at && !m->settled) {
			if (!ca_until) {
				ari_poll(s);
				continue;
			}
			s->ari_poll_at = now + difftime(ca_until, wall) + WAIT_SLACK;
		}
		/* The CA's suggestion decides, within the last-sixth bound. */
		if (issued && s->ari_at)
			due = ari_due;
		if (issued && s->ari_poll_at - now < next)
			next = s->ari_poll_at - now;
		double until_due = difftime(due, wall);
		/* One pass does not wait: what is due but held back is said. */
		bool held = m->settled && until_due <= 0 && now < s->next_attempt;
		if (until_due <= 0 && (now >= s->next_attempt || held) && ca_until) {
			ca_wait(s); /* or on to the next CA, which is due at once */
			if (m->settled && s->tried)
				continue;
		} else if (held) {
			held_back(s);
			continue;
		} else if (until_due <= 0 && now >= s->next_attempt) {
			/* Two certificates with a name in common wait for each other: both
			 * would publish a TLS-ALPN-01 answer for the same name. */
			if (busy_overlap(m, s)) {
				if (1.0 < next)
					next = 1.0;
				running = true;
				continue;
			}
			s->tried = true;
			running = true;
			start_job(s);
			continue;
		}
		double wait = until_due > 0 ? until_due : s->next_attempt - now;
		if (s->next_attempt > now && s->next_attempt - now > wait)
			wait = s->next_attempt - now;
		if (wait < next)
			next = wait;
	}
	if (m->settled && !running) {
		acme_settled_fn done = m->settled;
		m->settled = NULL; /* once */
		ev_timer_stop(m->loop, &m->wake);
		done(m->settled_arg, m->issued, m->failed, m->put_off);
		return;
	}
	/* The periodic look is jittered, so a fleet does not ask the CA in step. */
	if (next == RECHECK)
		next = acme_jitter(RECHECK, 0.1);
	ev_timer_stop(m->loop, &m->wake);
	ev_timer_set(&m->wake, next < 0.01 ? 0.01 : next, 0);
	ev_timer_start(m->loop, &m->wake);
}

static void on_wake(struct ev_loop *loop, ev_timer *t, int revents)
{
	schedule(wf_container_of(t, acme_manager_t, wake));
}

/* The next attempt an earlier run chose, as the backoff allows it now: its
 * wait was bounded by the time the certificate had left then, and less is
 * left now (or the file was edited, or the clock jumped). The same bound as
 * a live failure's (acme_retry_delay_max), so no restart lets the
 * certificate expire between two attempts a day apart. */
static void resume_backoff(acme_manager_t *m, slot_t *s, acme_status_rec_t *rec)
{
	double life, left;
	served_life(m, s->cert, &life, &left);
	double stored = difftime(rec->next_attempt, time(NULL));
	double wait = acme_retry_delay_stored(stored, m->cfg->acme.retry_interval, life, left);
	if (wait < stored) {
		char was[32], now[32], span[32], with[64] = "";
		acme_span_text(stored, was, sizeof(was));
		acme_span_text(wait, now, sizeof(now));
		if (left > 0) {
			acme_span_text(left, span, sizeof(span));
			snprintf(with, sizeof(with), " with %s left on the certificate", span);
		} else if (life > 0) {
			acme_span_text(-left, span, sizeof(span));
			snprintf(with, sizeof(with), " for a certificate expired %s ago", span);
		}
		wf_log_info("certificate %s: the next attempt status.json holds (in %s) is later than the backoff "
			    "allows%s; next attempt in %s",
			    s->cert->name, was, with, now);
		rec->next_attempt = kept_at(wait);
		acme_status_save(m->cfg->state_dir, s->cert->name, rec); /* cert list tells the same */
	}
	if (wait > 0)
		s->next_attempt = ev_now(m->loop) + wait;
}

static void on_stored_late(void *arg, const wf_cert_cfg_t *c, wf_slice_t chain_pem)
{
	acme_manager_t *m = arg;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].cert == c && m->slots[i].deploy)
			acme_deploy_stored(m->slots[i].deploy, chain_pem);
}

acme_manager_t *acme_manager_new(struct ev_loop *loop, wf_config_t *cfg, wf_certstore_t *store)
{
	if (!cfg->acme.ncas)
		return NULL;
	acme_manager_t *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->loop = loop;
	m->cfg = wf_config_ref(cfg);
	m->store = store;
	m->clients = calloc(cfg->acme.ncas, sizeof(*m->clients));
	m->slots = calloc(cfg->ncertificates + 1, sizeof(*m->slots));
	for (size_t i = 0; i < cfg->ncertificates; i++) {
		if (!cfg->certificates[i].acme)
			continue;
		slot_t *s = &m->slots[m->nslots++];
		s->m = m;
		s->cert = &cfg->certificates[i];
		ev_timer_init(&s->defer, on_defer, 0, 0);
		if (!s->cert->reuse_key)
			acme_job_tidy_pending(cfg->state_dir, s->cert->name);
		acme_status_rec_t rec;
		acme_status_load(cfg->state_dir, s->cert->name, &rec);
		/* Hand edits and a clock that jumped must not hold renewals back:
		 * no negative count, no wait past the longest backoff. */
		s->failures = rec.failures > 0 ? rec.failures : 0;
		s->ca_failures = rec.ca_failures > 0 ? rec.ca_failures : 0;
		s->ca = rec.ca >= 0 && (size_t)rec.ca < cfg->acme.ncas ? (size_t)rec.ca : 0;
		char now[65] = "";
		bool of_ca = strncmp(rec.failed_for, "ca-", 3) == 0;
		if (of_ca)
			ca_settings(cfg, s->ca, now);
		else if (rec.failed_for[0])
			order_settings(cfg, s->cert, s->ca, now);
		if (rec.failed_for[0] && strcmp(now, rec.failed_for) != 0) {
			/* The request caused its failure, and the admin has changed
			 * what it asks since (a contact, a domain, a hook), or the CA
			 * did, and the admin has changed the CA entry (a URL that
			 * did not answer, its trust, EAB): the backoff meant for
			 * asking the same again does not hold, nor, for another CA
			 * entry, the count toward the next CA. The CA's own
			 * Retry-After still does (the client's wait). */
			wf_log_info("certificate %s: the %s its last order failed for (%s) %s changed; "
				    "trying again now rather than after the backoff",
				    s->cert->name, of_ca ? "CA entry" : "settings", rec.last_error, of_ca ? "has" : "have");
			s->failures = 0;
			if (of_ca)
				s->ca_failures = 0;
		} else if (rec.next_attempt) {
			resume_backoff(m, s, &rec);
			if (s->failures > 0 && s->next_attempt > ev_now(loop)) {
				/* Said at every start and reload: the admin who just
				 * fixed something learns that this waits still. */
				char at[32];
				fmt_time(rec.next_attempt, at, sizeof(at));
				wf_log_info("certificate %s: held back until %s by the backoff after %d failure%s (%s)",
					    s->cert->name, at, s->failures, s->failures == 1 ? "" : "s",
					    rec.last_error[0] ? rec.last_error : "no error kept");
			}
		}
	}
	m->events = acme_events_new(loop, cfg);
	m->unsaved = acme_unsaved_new(loop, cfg, store, on_stored_late, m);
	acme_unsaved_check(m->unsaved); /* kept unstored across a reload */
	/* Files for other servers catch up with what is issued (a restart after
	 * a crash, or an output_dir just added to the config). */
	for (size_t i = 0; i < m->nslots; i++) {
		slot_t *s = &m->slots[i];
		s->deploy = acme_deploy_new(loop, s->cert, m->events);
		if (!m->events || !s->deploy) {
			wf_log_error("acme: out of memory at start-up");
			abort();
		}
		acme_deploy_startup(s->deploy, cfg->state_dir);
		wf_certkey_t *ck = wf_certstore_get(store, s->cert->name);
		size_t removed =
		    ck && !ck->provisional ? wf_certkey_names_beyond(ck, s->cert->domains, s->cert->ndomains) : 0;
		if (removed)
			wf_log_info(
			    "certificate %s: the certificate served names %zu name%s the config no longer has; it "
			    "serves until one for the configured names is issued, due now",
			    s->cert->name, removed, removed == 1 ? "" : "s");
		wf_certkey_unref(ck);
	}
	m->unrenewed = calloc(cfg->ncertificates + 1, sizeof(*m->unrenewed));
	for (size_t i = 0; m->unrenewed && i < cfg->ncertificates; i++) {
		const wf_cert_cfg_t *c = &cfg->certificates[i];
		if (c->acme || !c->output_dir[0])
			continue;
		acme_deploy_t *d = acme_deploy_new(loop, c, m->events);
		if (!d) {
			wf_log_error("acme: out of memory at start-up");
			abort();
		}
		m->unrenewed[m->nunrenewed++] = d;
		acme_deploy_startup(d, cfg->state_dir);
	}
	ev_timer_init(&m->wake, on_wake, 0, 0);
	/* First look right after start-up, from the loop. */
	ev_timer_set(&m->wake, 0.01, 0);
	ev_timer_start(loop, &m->wake);
	return m;
}

void acme_manager_oneshot(acme_manager_t *m, acme_settled_fn settled, void *arg)
{
	m->settled = settled;
	m->settled_arg = arg;
}

void acme_manager_report(const acme_manager_t *m, FILE *out)
{
	fprintf(out, "%-24s %-10s %s\n", "CERTIFICATE", "RESULT", "DETAIL");
	for (size_t i = 0; i < m->nslots; i++) {
		const slot_t *s = &m->slots[i];
		if (!s->cert->acme)
			continue;
		char name[25];
		snprintf(name, sizeof(name), "%.24s", s->cert->name);
		/* An issuance whose service did not take it is not done: the exit
		 * status says so, and the row must too. */
		const char *undone = acme_deploy_hook_failing(s->deploy) ? "the deploy hook failed"
				     : acme_deploy_lagging(s->deploy)   ? "the output files were not written"
									 : NULL;
		const char *text = s->outcome[0] ? s->outcome : "current    not due for renewal";
		if (undone && strncmp(text, "issued ", 7) == 0)
			fprintf(out, "%-24s issued     but %s; %s\n", name, undone, text + 11);
		else if (undone)
			fprintf(out, "%-24s %s, but %s\n", name, text, undone);
		else
			fprintf(out, "%-24s %s\n", name, text);
	}
	fflush(out);
}

size_t acme_manager_deploy_failures(const acme_manager_t *m)
{
	if (!m)
		return 0;
	/* Files still behind when the run ends (a retry that has since written
	 * them is no failure), and hooks that failed. */
	size_t n = acme_events_deploy_failures(m->events);
	for (size_t i = 0; i < m->nslots; i++)
		n += acme_deploy_lagging(m->slots[i].deploy);
	for (size_t i = 0; i < m->nunrenewed; i++)
		n += acme_deploy_lagging(m->unrenewed[i]);
	return n;
}

bool acme_manager_hooks_busy(const acme_manager_t *m)
{
	/* dns-01 removes outlive their orders: a record left behind would
	 * stay in the zone. */
	return m && (acme_events_busy(m->events) || acme_dns_pending() > 0);
}

void acme_manager_free(acme_manager_t *m)
{
	if (!m)
		return;
	ev_timer_stop(m->loop, &m->wake);
	acme_http_free(m->http); /* pre-flight checks in flight end here, without callbacks */
	for (size_t i = 0; i < m->nslots; i++) {
		ev_timer_stop(m->loop, &m->slots[i].defer);
		acme_deploy_free(m->slots[i].deploy);
		acme_job_cancel(m->slots[i].job);
		for (size_t c = 0; c < m->cfg->acme.ncas; c++)
			if (m->clients[c])
				acme_client_cancel_all(m->clients[c], &m->slots[i]);
	}
	for (size_t i = 0; i < m->nunrenewed; i++)
		acme_deploy_free(m->unrenewed[i]);
	free(m->unrenewed);
	for (size_t i = 0; i < m->cfg->acme.ncas; i++)
		acme_client_free(m->clients[i]);
	free(m->clients);
	free(m->slots);
	acme_events_free(m->events);
	acme_unsaved_free(m->unsaved);
	wf_config_unref(m->cfg);
	free(m);
}
