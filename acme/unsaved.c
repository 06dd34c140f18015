/* Certificates served but not stored: see unsaved.h. */
#include "unsaved.h"
#include "status.h"
#include "order.h"
#include "../server/cert_state.h"
#include "../server/log.h"

#include <stdlib.h>

#define RETRY_FIRST 10.0 /* seconds; doubles after each failed try */
#define RETRY_CAP 600.0

struct acme_unsaved {
	struct ev_loop *loop;
	const wf_config_t *cfg; /* borrowed: the manager's */
	wf_certstore_t *store;  /* borrowed */
	acme_unsaved_stored_fn stored;
	void *arg;
	ev_timer retry;
	double delay; /* before the next try after this one */
	int tries;    /* failed, since the last success */
};

/* The served certificate of c when it waits to be stored (a reference), or NULL. */
static wf_certkey_t *waiting(acme_unsaved_t *u, const wf_cert_cfg_t *c)
{
	wf_certkey_t *ck = wf_certstore_get(u->store, c->name);
	if (ck && ck->unstored && ck->unsaved_chain)
		return ck;
	wf_certkey_unref(ck);
	return NULL;
}

/* Stores ck; once it is, serves the same certificate marked stored, so no
 * later try or reload takes it for one that is not. */
static bool store(acme_unsaved_t *u, const wf_cert_cfg_t *c, wf_certkey_t *ck, char *err, size_t errlen)
{
	wf_slice_t chain = { ck->unsaved_chain, ck->unsaved_chain_len };
	wf_slice_t key = { ck->unsaved_key, ck->unsaved_key_len };
	if (wf_certstate_save_issued(u->cfg->state_dir, c->name, chain, key, err, errlen) != WF_OK)
		return false;
	acme_job_forget_pending(u->cfg->state_dir, c->name); /* no restart needs the order now */
	wf_certkey_t *stored = wf_certkey_new(c->name, c->domains, c->ndomains, chain, key, false, err, errlen);
	if (stored) {
		stored->short_of_config = ck->short_of_config;
		wf_certstore_install(u->store, stored);
	}
	return true;
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	acme_unsaved_t *u = wf_container_of(t, acme_unsaved_t, retry);
	double wait = acme_jitter(u->delay, 0.1);
	bool left = false;
	for (size_t i = 0; i < u->cfg->ncertificates; i++) {
		const wf_cert_cfg_t *c = &u->cfg->certificates[i];
		wf_certkey_t *ck = waiting(u, c);
		if (!ck)
			continue;
		char err[512];
		if (store(u, c, ck, err, sizeof(err))) {
			wf_log_info("certificate %s: stored at last (serial %s) in %s/certs/%s/issued.pem", c->name,
				    ck->serial, u->cfg->state_dir, c->name);
			u->stored(u->arg, c, (wf_slice_t){ ck->unsaved_chain, ck->unsaved_chain_len });
		} else {
			left = true;
			wf_log_error("certificate %s: still not stored (try %d): %s; served from memory (a restart would "
				     "fetch it from the CA again); next try in %.0f s",
				     c->name, u->tries + 2, err, wait);
		}
		wf_certkey_unref(ck);
	}
	if (!left) {
		u->tries = 0;
		u->delay = RETRY_FIRST;
		return;
	}
	u->tries++;
	u->delay = u->delay * 2 < RETRY_CAP ? u->delay * 2 : RETRY_CAP;
	ev_timer_set(&u->retry, wait, 0);
	ev_timer_start(u->loop, &u->retry);
}

acme_unsaved_t *acme_unsaved_new(struct ev_loop *loop, const wf_config_t *cfg, wf_certstore_t *store,
				 acme_unsaved_stored_fn stored, void *arg)
{
	acme_unsaved_t *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->loop = loop;
	u->cfg = cfg;
	u->store = store;
	u->stored = stored;
	u->arg = arg;
	u->delay = RETRY_FIRST;
	ev_timer_init(&u->retry, on_retry, 0, 0);
	return u;
}

void acme_unsaved_free(acme_unsaved_t *u)
{
	if (!u)
		return;
	ev_timer_stop(u->loop, &u->retry);
	free(u);
}

void acme_unsaved_check(acme_unsaved_t *u)
{
	if (!u || ev_is_active(&u->retry))
		return;
	for (size_t i = 0; i < u->cfg->ncertificates; i++) {
		wf_certkey_t *ck = waiting(u, &u->cfg->certificates[i]);
		if (!ck)
			continue;
		wf_certkey_unref(ck);
		u->delay = RETRY_FIRST * 2;
		ev_timer_set(&u->retry, acme_jitter(RETRY_FIRST, 0.1), 0);
		ev_timer_start(u->loop, &u->retry);
		return;
	}
}
