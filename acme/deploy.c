/* A certificate's deployment to other services: see deploy.h. */
#include "deploy.h"
#include "output.h"
#include "../server/buf.h"
#include "../server/cert_state.h"
#include "../server/config.h"
#include "../server/log.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_FIRST 10.0 /* seconds before the first retry; doubles after each */
#define RETRY_CAP 600.0
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
};

static double jitter(double seconds)
{
	uint32_t r = 0;
	gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof(r));
	return seconds * (0.9 + 0.2 * ((double)r / 4294967295.0));
}

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
	double wait = jitter(d->delay);
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
	acme_events_deploy(d->events, d->cert);
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
	wf_buf_init(&d->pair, PAIR_MAX);
	ev_timer_init(&d->retry, on_retry, 0, 0);
	return d;
}

void acme_deploy_free(acme_deploy_t *d)
{
	if (!d)
		return;
	forget_pair(d);
	wf_buf_fini(&d->pair);
	free(d);
}

bool acme_deploy_lagging(const acme_deploy_t *d)
{
	return d && (ev_is_active(&d->retry) || d->stuck);
}

int acme_deploy_issued(acme_deploy_t *d, wf_slice_t chain_pem, wf_slice_t key_pem)
{
	const wf_cert_cfg_t *c = d->cert;
	int rc = WF_OK;
	forget_pair(d); /* a retry of an older pair is moot */
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
	/* The hooks may read the files: after them. */
	acme_event_t e = { ACME_EVENT_ISSUED, c, c->domains[0], "", "", rc != WF_OK, ev_is_active(&d->retry) };
	acme_events_emit(d->events, &e);
	return rc;
}

int acme_deploy_startup(acme_deploy_t *d, const char *state_dir)
{
	const wf_cert_cfg_t *c = d->cert;
	if (!has_output(c))
		return WF_OK;
	int swept = acme_output_sweep(c->output_dir);
	if (swept)
		wf_log_info("certificate %s: removed %d temp file%s an interrupted write left in %s", c->name, swept,
			    swept == 1 ? "" : "s", c->output_dir);
	forget_pair(d);
	int rc = wf_certstate_read_issued(state_dir, c->name, &d->pair);
	if (rc != WF_OK) {
		if (rc == WF_ERR) /* WF_DECLINED: nothing issued yet, nothing to write */
			wf_log_warn("certificate %s: cannot read the issued certificate: %m; output files in %s not "
				    "updated",
				    c->name, c->output_dir);
		/* Behind it as much as when it does not split: no retry
		 * comes, and a `cert obtain` run must not end in success. */
		d->stuck = rc == WF_ERR;
		forget_pair(d);
		return rc == WF_ERR ? WF_ERR : WF_OK;
	}
	bool changed;
	if (write_pair(d, &changed) != WF_OK) {
		d->stuck = !ev_is_active(&d->retry);
		return WF_ERR; /* a retry follows (or nothing can be written), and the hook after it */
	}
	d->stuck = false;
	forget_pair(d);
	/* The files lagged behind the certificate held (a crash between storing
	 * it and writing them, a file removed, an output_dir just added): the
	 * service reading them learns of the change as after an issuance. */
	if (changed)
		acme_events_deploy(d->events, c);
	return WF_OK;
}
