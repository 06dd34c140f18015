/* Process-wide TLS settings: see tls.h. */
#include "tls.h"
#include "log.h"
#include "rcu.h"

#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wf_tls_settings {
	gnutls_priority_t priority;
	bool tickets;
};
typedef wf_tls_settings_t tls_settings_t;

/* Reloads swap the whole settings object. A worker may have loaded the old
 * one just before, so it is freed once every worker has passed a quiescent
 * point (server/rcu.h); a session it was set on holds its own reference to
 * the priority cache (gnutls_priority_set counts them), so it outlives that.
 * (GnuTLS 3.7 tests the count and then decrements it in two steps: should the
 * last old session end at the very moment of that free, the cache leaks, 8
 * KiB; it is never freed twice.) */
static _Atomic(tls_settings_t *) settings;
static gnutls_datum_t ticket_key;

static tls_settings_t *settings_new(const wf_config_t *cfg, char *err, size_t errlen)
{
	tls_settings_t *s = calloc(1, sizeof(*s));
	char prio[1024];
	snprintf(prio, sizeof(prio), "%s%s", WF_TLS_PRIORITY_12,
		 strcmp(cfg->tls.min_version, "1.3") == 0 ? ":-VERS-TLS1.2" : "");
	const char *where = NULL;
	int rc = gnutls_priority_init2(&s->priority, prio, &where, 0);
	if (rc < 0) {
		snprintf(err, errlen, "TLS priority string rejected at \"%s\": %s", where ? where : "?",
			 gnutls_strerror(rc));
		free(s);
		return NULL;
	}
	s->tickets = cfg->tls.session_tickets;
	return s;
}

int wf_tls_init(const wf_config_t *cfg, char *err, size_t errlen)
{
	int rc = gnutls_global_init();
	if (rc < 0) {
		snprintf(err, errlen, "gnutls: %s", gnutls_strerror(rc));
		return WF_ERR;
	}
	/* One ticket key for every worker, so a ticket from one is good at another;
	 * random per process start, so a restart invalidates old tickets. */
	rc = gnutls_session_ticket_key_generate(&ticket_key);
	if (rc < 0) {
		snprintf(err, errlen, "ticket key: %s", gnutls_strerror(rc));
		return WF_ERR;
	}
	tls_settings_t *s = settings_new(cfg, err, errlen);
	if (!s)
		return WF_ERR;
	atomic_store(&settings, s);
	return WF_OK;
}

wf_tls_settings_t *wf_tls_prepare(const wf_config_t *cfg, char *err, size_t errlen)
{
	return settings_new(cfg, err, errlen);
}

void wf_tls_discard(wf_tls_settings_t *s)
{
	if (!s)
		return;
	gnutls_priority_deinit(s->priority);
	free(s);
}

int wf_tls_tickets_for_cert(gnutls_session_t sess, const char *cert_name)
{
	tls_settings_t *s = atomic_load(&settings);
	if (!s->tickets)
		return WF_OK;
	/* HMAC-SHA512 gives the 64 bytes of a GnuTLS ticket key at once. */
	unsigned char key[64];
	char label[300];
	int n = snprintf(label, sizeof(label), "wharf ticket key for certificate %s", cert_name);
	if (n < 0 || (size_t)n >= sizeof(label) ||
	    gnutls_hmac_fast(GNUTLS_MAC_SHA512, ticket_key.data, ticket_key.size, label, (size_t)n, key) < 0)
		return WF_ERR;
	gnutls_datum_t d = { key, sizeof(key) };
	int rc = gnutls_session_ticket_enable_server(sess, &d); /* copies it */
	gnutls_memset(key, 0, sizeof(key));
	return rc < 0 ? WF_ERR : WF_OK;
}

static void discard_void(void *s)
{
	wf_tls_discard(s);
}

void wf_tls_install(wf_tls_settings_t *s)
{
	tls_settings_t *old = atomic_exchange(&settings, s);
	if (old)
		wf_rcu_retire(old, discard_void);
}

void wf_tls_fini(void)
{
	wf_tls_discard(atomic_exchange(&settings, NULL));
	if (ticket_key.data) {
		gnutls_memset(ticket_key.data, 0, ticket_key.size);
		gnutls_free(ticket_key.data);
		ticket_key.data = NULL;
	}
	gnutls_global_deinit();
}

int wf_tls_session_new(gnutls_session_t *out, int fd, const wf_tls_opts_t *opts)
{
	static const wf_tls_opts_t https_opts = { 0 };
	if (!opts)
		opts = &https_opts;
	tls_settings_t *s = atomic_load(&settings);
	gnutls_session_t sess;
	unsigned flags = GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL;
	if (opts->no_ticket_sending)
		flags |= GNUTLS_NO_AUTO_SEND_TICKET;
	int rc = gnutls_init(&sess, flags);
	if (rc < 0)
		return WF_ERR;
	rc = gnutls_priority_set(sess, s->priority);
	if (rc >= 0 && opts->ticket_key)
		rc = gnutls_session_ticket_enable_server(sess, opts->ticket_key);
	/* acme-tls/1 last: only a client that offers nothing else gets it. */
	static const gnutls_datum_t alpn[] = {
		{ (unsigned char *)"h2", 2 },
		{ (unsigned char *)"http/1.1", 8 },
		{ (unsigned char *)"acme-tls/1", 10 },
	};
	static const gnutls_datum_t alpn_ftp[] = { { (unsigned char *)"ftp", 3 } };
	if (rc >= 0)
		rc = opts->ftp ? gnutls_alpn_set_protocols(sess, alpn_ftp, 1, 0) :
				 gnutls_alpn_set_protocols(sess, alpn, 3, GNUTLS_ALPN_SERVER_PRECEDENCE);
	if (rc < 0) {
		gnutls_deinit(sess);
		return WF_ERR;
	}
	gnutls_transport_set_int(sess, fd);
	*out = sess;
	return WF_OK;
}
