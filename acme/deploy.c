/* A certificate's deployment to other services: see deploy.h. */
#include "deploy.h"
#include "status.h"
#include "output.h"
#include "../server/buf.h"
#include "../server/cert_key.h"
#include "../server/cert_state.h"
#include "../server/config.h"
#include "../server/log.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_FIRST 10.0 /* seconds before the first retry; doubles after each */
#define RETRY_CAP 600.0
#define HOOK_RETRY_FIRST 60.0 /* seconds before a failed deploy hook runs again; doubles after each */
#define HOOK_RETRY_CAP 3600.0
#define PAIR_MAX (2 << 20) /* a key and a chain, each capped at 1 MiB where they are read */

struct acme_deploy {
	struct ev_loop *loop;
	const wf_cert_cfg_t *cert; /* borrowed: from the owner's config */
	acme_events_t *events;     /* borrowed: the owner's */
	ev_timer retry;
	wf_buf_t pair;             /* key, then chain, while the files lag behind it; wiped after */
	double delay;              /* before the next retry */
	int tries;                 /* failed writes of this pair */
	bool stuck;                /* the last pair's files could not be written, and no retry can */
	/* The deploy hook of the certificate held, until it exits 0: a mark
	 * in the state folder for the next start, and here a timer. */
	ev_timer hook_retry;
	double hook_delay;         /* before the next run after a failed one */
	int hook_tries;            /* failed runs for this certificate */
	bool mark_unwritten;       /* the last run's deploy-pending mark could not be written, nor is an older one there */
	unsigned gen;              /* the latest certificate's: runs of older ones change nothing */
	char serial[64];           /* of the certificate held, hex; "unknown" when it does not parse */
};


static void forget_pair(acme_deploy_t *d)
{
	ev_timer_stop(d->loop, &d->retry);
	if (d->pair.data)
		gnutls_memset(d->pair.data, 0, d->pair.cap);
	wf_buf_reset(&d->pair);
	d->tries = 0;
	d->delay = RETRY_FIRST;
}

static bool has_output(const wf_cert_cfg_t *c)
{
	return c->output_dir && c->output_dir[0];
}

/* A write of the pair failed with err: one line says so, and when the next
 * try comes. */
static void retry_later(acme_deploy_t *d, const char *err)
{
	double wait = acme_jitter(d->delay, 0.1);
	d->delay = d->delay * 2 < RETRY_CAP ? d->delay * 2 : RETRY_CAP;
	d->tries++;
	wf_log_error("certificate %s: output files in %s not updated (try %d): %s; services that read them are still "
		     "on the old certificate; next try in %.0f s",
		     d->cert->name, d->cert->output_dir, d->tries, err, wait);
	ev_timer_stop(d->loop, &d->retry);
	ev_timer_set(&d->retry, wait, 0);
	ev_timer_start(d->loop, &d->retry);
}

/* Writes the pair held; WF_OK, or WF_ERR with a retry set (logged). */
static int write_pair(acme_deploy_t *d, bool *changed)
{
	wf_slice_t key, chain;
	char err[512];
	*changed = false;
	if (wf_certstate_split_issued(wf_buf_slice(&d->pair), &key, &chain) != WF_OK) {
		wf_log_error("certificate %s: output files in %s not updated: no certificate after the key", d->cert->name,
			     d->cert->output_dir);
		forget_pair(d); /* the same bytes would fail the same way */
		return WF_ERR;
	}
	if (acme_output_write(d->cert->output_dir, chain, key, changed, err, sizeof(err)) != WF_OK) {
		retry_later(d, err);
		return WF_ERR;
	}
	if (*changed)
		wf_log_info("certificate %s: wrote cert.pem, chain.pem, fullchain.pem, privkey.pem and combined.pem in %s",
			    d->cert->name, d->cert->output_dir);
	return WF_OK;
}

/* The serial of the first certificate in chain_pem, in hex, or "unknown". */
static void serial_of(wf_slice_t chain_pem, char *out, size_t cap)
{
	time_t nb;
	if (!wf_certkey_pem_leaf(chain_pem, &nb, out, cap) || !out[0])
		snprintf(out, cap, "unknown");
}

/* The serial of the issued pair (key, then chain) in pair. */
static void serial_of_pair(wf_slice_t pair, char *out, size_t cap)
{
	wf_slice_t key, chain;
	if (wf_certstate_split_issued(pair, &key, &chain) == WF_OK)
		serial_of(chain, out, cap);
	else
		snprintf(out, cap, "unknown");
}

/* A certificate other than the one whose hook was last run (or failed):
 * a retry of that hook is moot, and its runs still going change nothing. */
static void new_certificate(acme_deploy_t *d, const char *serial)
{
	ev_timer_stop(d->loop, &d->hook_retry);
	d->hook_delay = HOOK_RETRY_FIRST;
	d->hook_tries = 0;
	d->gen++;
	snprintf(d->serial, sizeof(d->serial), "%s", serial);
}

static void hook_failed(acme_deploy_t *d);

static void on_hook_done(void *arg, unsigned gen, bool ok)
{
	acme_deploy_t *d = arg;
	if (gen != d->gen)
		return; /* a newer certificate's run owns the mark */
	if (!ok) {
		hook_failed(d); /* how it ended is logged already (acme/command.c) */
		return;
	}
	if (d->hook_tries)
		wf_log_info("certificate %s: deploy hook of serial %s done, after %d failed tr%s", d->cert->name,
			    d->serial, d->hook_tries, d->hook_tries == 1 ? "y" : "ies");
	d->hook_tries = 0;
	d->hook_delay = HOOK_RETRY_FIRST;
	if (wf_certstate_clear_deploy_pending(acme_events_state_dir(d->events), d->cert->name) != WF_OK)
		wf_log_warn("certificate %s: cannot remove %s/certs/%s/deploy-pending: %m; the next start runs the "
			    "deploy hook again",
			    d->cert->name, acme_events_state_dir(d->events), d->cert->name);
}

static void set_mark(acme_deploy_t *d)
{
	const char *state_dir = acme_events_state_dir(d->events);
	d->mark_unwritten = false;
	if (wf_certstate_set_deploy_pending(state_dir, d->cert->name, d->serial) == WF_OK)
		return;
	int err = errno;
	/* An earlier mark still there (any serial) makes the next start run
	 * the hook all the same, for the certificate held then. */
	char older[64];
	d->mark_unwritten = wf_certstate_read_deploy_pending(state_dir, d->cert->name, older, sizeof(older)) ==
			    WF_DECLINED;
	wf_log_error("certificate %s: cannot write %s/certs/%s/deploy-pending: %s; %s", d->cert->name, state_dir,
		     d->cert->name, strerror(err),
		     d->mark_unwritten ? "if the deploy hook does not finish, the next start will not run it again"
				       : "the older mark there still makes the next start run the deploy hook");
}

/* Runs the deploy hook for the certificate held, its mark set first: a
 * kill while it runs leaves the mark for the next start. */
static void run_hook(acme_deploy_t *d)
{
	if (!d->cert->ndeploy_hook)
		return;
	set_mark(d);
	if (!acme_events_deploy(d->events, d->cert, on_hook_done, d, d->gen))
		hook_failed(d); /* from here, not a callback: acme_events_deploy never calls one */
}

static void on_hook_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	acme_deploy_t *d = wf_container_of(t, acme_deploy_t, hook_retry);
	run_hook(d);
}

/* The latest run of the deploy hook exited non-zero, was killed or could
 * not start: the mark stays, and a timer runs it again. */
static void hook_failed(acme_deploy_t *d)
{
	double wait = acme_jitter(d->hook_delay, 0.1);
	d->hook_delay = d->hook_delay * 2 < HOOK_RETRY_CAP ? d->hook_delay * 2 : HOOK_RETRY_CAP;
	d->hook_tries++;
	wf_log_error("certificate %s: deploy hook of serial %s failed (try %d); the services it tells may still be on "
		     "the old certificate; next try in %.0f s%s",
		     d->cert->name, d->serial, d->hook_tries, wait, d->mark_unwritten ? "" : ", or at the next start");
	/* The services may stay on a certificate that will expire, and the
	 * expiry alarm watches only the one served here: the event hook, the
	 * webhook and the mail hear of it, once per certificate (the retries
	 * are in the log). */
	if (d->hook_tries == 1) {
		char detail[300];
		snprintf(detail, sizeof(detail),
			 "deploy hook of serial %s failed; the services it tells may still be on the old certificate; "
			 "retried in %.0f s",
			 d->serial, wait);
		acme_event_t e = { ACME_EVENT_FAILED, d->cert, d->cert->domains[0], "", detail, false, false, true };
		acme_events_emit(d->events, &e);
	}
	ev_timer_stop(d->loop, &d->hook_retry);
	ev_timer_set(&d->hook_retry, wait, 0);
	ev_timer_start(d->loop, &d->hook_retry);
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	acme_deploy_t *d = wf_container_of(t, acme_deploy_t, retry);
	bool changed;
	if (write_pair(d, &changed) != WF_OK)
		return;
	wf_log_info("certificate %s: output files in %s up to date at last, after %d failed tr%s%s", d->cert->name,
		    d->cert->output_dir, d->tries, d->tries == 1 ? "y" : "ies",
		    d->cert->ndeploy_hook ? "; running the deploy hook held back" : "");
	forget_pair(d);
	run_hook(d);
}

acme_deploy_t *acme_deploy_new(struct ev_loop *loop, const wf_cert_cfg_t *cert, acme_events_t *events)
{
	acme_deploy_t *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->loop = loop;
	d->cert = cert;
	d->events = events;
	d->delay = RETRY_FIRST;
	d->hook_delay = HOOK_RETRY_FIRST;
	snprintf(d->serial, sizeof(d->serial), "unknown");
	wf_buf_init(&d->pair, PAIR_MAX);
	ev_timer_init(&d->retry, on_retry, 0, 0);
	ev_timer_init(&d->hook_retry, on_hook_retry, 0, 0);
	return d;
}

void acme_deploy_free(acme_deploy_t *d)
{
	if (!d)
		return;
	/* A hook still running runs on; its mark stays until the next start
	 * runs it again (a reload's new deployment does so at once). */
	ev_timer_stop(d->loop, &d->hook_retry);
	acme_events_deploy_forget(d->events, d);
	forget_pair(d);
	wf_buf_fini(&d->pair);
	free(d);
}

bool acme_deploy_lagging(const acme_deploy_t *d)
{
	return d && (ev_is_active(&d->retry) || d->stuck);
}

bool acme_deploy_hook_failing(const acme_deploy_t *d)
{
	return d && d->hook_tries > 0;
}

void acme_deploy_prepare(acme_deploy_t *d, wf_slice_t chain_pem)
{
	char serial[64];
	serial_of(chain_pem, serial, sizeof(serial));
	new_certificate(d, serial);
	if (d->cert->ndeploy_hook)
		set_mark(d);
}

void acme_deploy_stored(acme_deploy_t *d, wf_slice_t chain_pem)
{
	const wf_cert_cfg_t *c = d->cert;
	if (has_output(c) || !c->ndeploy_hook)
		return; /* its files were written from memory, and the hook ran on them */
	char serial[64];
	serial_of(chain_pem, serial, sizeof(serial));
	new_certificate(d, serial);
	wf_log_info("certificate %s: running the deploy hook held back until issued.pem took serial %s", c->name,
		    serial);
	run_hook(d);
}

int acme_deploy_issued(acme_deploy_t *d, wf_slice_t chain_pem, wf_slice_t key_pem, bool stored)
{
	const wf_cert_cfg_t *c = d->cert;
	int rc = WF_OK;
	char serial[64];
	forget_pair(d); /* a retry of an older pair is moot */
	serial_of(chain_pem, serial, sizeof(serial));
	new_certificate(d, serial);
	if (has_output(c)) {
		bool changed;
		if (!wf_buf_reserve(&d->pair, key_pem.len + 1 + chain_pem.len) || /* at once: no freed copies */
		    wf_buf_append(&d->pair, key_pem.ptr, key_pem.len) != WF_OK ||
		    (key_pem.len && key_pem.ptr[key_pem.len - 1] != '\n' && wf_buf_append(&d->pair, "\n", 1) != WF_OK) ||
		    wf_buf_append(&d->pair, chain_pem.ptr, chain_pem.len) != WF_OK) {
			wf_log_error("certificate %s: output files in %s not updated: certificate too large", c->name,
				     c->output_dir);
			rc = WF_ERR;
		} else {
			rc = write_pair(d, &changed);
		}
		if (rc == WF_OK || !ev_is_active(&d->retry))
			forget_pair(d);
	}
	d->stuck = rc != WF_OK && !ev_is_active(&d->retry);
	/* The hooks may read the files: after them. The deploy hook first,
	 * then the others, as they always ran. Without an output_dir the
	 * deploy hook is given issued.pem, which does not hold a certificate
	 * not stored: it runs once that is (acme_deploy_stored); its mark,
	 * set by acme_deploy_prepare, stays meanwhile. */
	if (rc == WF_OK && !stored && !has_output(c) && c->ndeploy_hook)
		wf_log_warn("certificate %s: deploy hook held back: issued.pem, which it is given, does not hold serial "
			    "%s yet; it runs once that is stored",
			    c->name, d->serial);
	else if (rc == WF_OK)
		run_hook(d);
	acme_event_t e = { ACME_EVENT_ISSUED, c, c->domains[0], "", "", rc != WF_OK, ev_is_active(&d->retry) };
	acme_events_emit(d->events, &e);
	return rc;
}

/* The mark a deploy hook left that did not exit 0 (a failure, a kill, a
 * restart while it ran): true, with its serial in serial. A mark without
 * a hook to run any more is dropped. */
static bool pending_mark(acme_deploy_t *d, const char *state_dir, char *serial, size_t cap)
{
	const wf_cert_cfg_t *c = d->cert;
	int rc = wf_certstate_read_deploy_pending(state_dir, c->name, serial, cap);
	if (rc == WF_DECLINED)
		return false;
	if (rc == WF_ERR) {
		wf_log_warn("certificate %s: cannot read %s/certs/%s/deploy-pending: %m; taking the deploy hook as not "
			    "done",
			    c->name, state_dir, c->name);
		snprintf(serial, cap, "unknown");
	}
	if (c->ndeploy_hook)
		return true;
	wf_log_info("certificate %s: no deploy hook any more; dropping the mark of the one of serial %s that did not "
		    "finish",
		    c->name, serial);
	wf_certstate_clear_deploy_pending(state_dir, c->name);
	return false;
}

/* Start-up with an output_dir: the files catch up with issued.pem (held in
 * d->pair). *changed when any file was rewritten. WF_OK, or WF_ERR when
 * they lag (a retry follows, and the hook after it, or nothing can write
 * them: logged). */
static int startup_files(acme_deploy_t *d, bool *changed)
{
	if (write_pair(d, changed) != WF_OK) {
		d->stuck = !ev_is_active(&d->retry);
		return WF_ERR;
	}
	d->stuck = false;
	forget_pair(d);
	return WF_OK;
}

int acme_deploy_startup(acme_deploy_t *d, const char *state_dir)
{
	const wf_cert_cfg_t *c = d->cert;
	char marked[64] = "";
	bool pending = pending_mark(d, state_dir, marked, sizeof(marked));
	if (!has_output(c) && !pending)
		return WF_OK;
	if (has_output(c)) {
		int swept = acme_output_sweep(c->output_dir);
		if (swept)
			wf_log_info("certificate %s: removed %d temp file%s an interrupted write left in %s", c->name,
				    swept, swept == 1 ? "" : "s", c->output_dir);
	}
	forget_pair(d);
	int rc = wf_certstate_read_issued(state_dir, c->name, &d->pair);
	if (rc != WF_OK) {
		if (rc == WF_ERR && has_output(c)) /* WF_DECLINED: nothing issued yet, nothing to write */
			wf_log_warn("certificate %s: cannot read the issued certificate: %m; output files in %s not "
				    "updated",
				    c->name, c->output_dir);
		else if (rc == WF_ERR)
			wf_log_warn("certificate %s: cannot read the issued certificate: %m; deploy hook not run again",
				    c->name);
		else if (pending) /* set aside by `cert revoke`: the next issuance runs the hook */
			wf_log_info("certificate %s: the deploy hook of serial %s did not finish, but no certificate is "
				    "issued now; it runs after the next issuance",
				    c->name, marked);
		/* Behind it as much as when it does not split: no retry
		 * comes, and a `cert obtain` run must not end in success. */
		d->stuck = rc == WF_ERR && has_output(c);
		forget_pair(d);
		return rc == WF_ERR ? WF_ERR : WF_OK;
	}
	serial_of_pair(wf_buf_slice(&d->pair), d->serial, sizeof(d->serial));
	bool changed = false;
	wf_slice_t key, chain;
	char newer[64];
	if (has_output(c) && wf_certstate_split_issued(wf_buf_slice(&d->pair), &key, &chain) == WF_OK &&
	    acme_output_ahead(c->output_dir, chain, newer, sizeof(newer))) {
		/* Issued, written there, but not stored before the stop: the
		 * manager fetches it again from its order; meanwhile the
		 * services keep the newer one. */
		wf_log_info("certificate %s: the output files in %s hold a newer certificate (serial %s) than the "
			    "stored one (serial %s), one that was issued but not stored; they are left as they are",
			    c->name, c->output_dir, newer, d->serial);
		snprintf(d->serial, sizeof(d->serial), "%s", newer);
	} else if (has_output(c) && startup_files(d, &changed) != WF_OK) {
		if (pending)
			wf_log_info("certificate %s: the deploy hook of serial %s did not finish; %s", c->name, marked,
				    d->stuck ? "the output files cannot be written, so it is not run"
					     : "it runs once the output files are written");
		return WF_ERR; /* a retry follows (or nothing can be written), and the hook after it */
	}
	forget_pair(d);
	/* The files lagged behind the certificate held (a crash between storing
	 * it and writing them, a file removed, an output_dir just added): the
	 * service reading them learns of the change as after an issuance. Or
	 * the last run of the hook never said it was done: once more. */
	if (pending)
		wf_log_info("certificate %s: the deploy hook of serial %s did not finish (failed, killed or interrupted "
			    "by a restart): running it again%s%s",
			    c->name, marked, strcmp(marked, d->serial) ? ", for serial " : "",
			    strcmp(marked, d->serial) ? d->serial : "");
	if (changed || pending)
		run_hook(d);
	return WF_OK;
}
