/* Cluster follower: see follower.h. One poll per certificate at a time; each
 * answer is handled from the loop (acme/http.c), never inside curl. */
#include "follower.h"
#include "cluster.h"
#include "deploy.h"
#include "events.h"
#include "http.h"
#include "http01.h"
#include "thumbprints.h"
#include "status.h"
#include "../server/cert_state.h"
#include "../server/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LONG_POLL 25     /* seconds the controller may hold a poll open: the ?wait=25 below */
#define POLL_TIMEOUT 40.0

typedef enum link_state {
	LINK_UNKNOWN,
	LINK_OK,
	LINK_DOWN,    /* no answer */
	LINK_REFUSED, /* wrong secret */
	LINK_BAD,     /* an answer or a bundle that failed its checks */
	LINK_NONE,    /* a proved 404: the controller has no issued certificate of that name */
	LINK_MISDIRECTED, /* a node that says it is not a cluster controller (421) */
	LINK_UNTRUSTED,   /* our own cluster.controller_ca could not be used: no fault of the controller */
} link_state_t;

typedef struct slot {
	acme_follower_t *f;            /* borrowed: owner */
	const wf_cert_cfg_t *cert;     /* borrowed from f->cfg */
	ev_timer poll;
	unsigned long req;             /* request in flight, or 0 */
	char nonce[ACME_CLUSTER_NONCE_LEN + 1]; /* of the request in flight: its answer must be bound to it */
	char etag[128];                /* of the last bundle installed (or found current) */
	link_state_t state;            /* for one log line per change, not one per poll */
	bool unsaved;                  /* serving a bundle the state folder did not take: store it on the next poll */
	char unsaved_why[256];         /* why it was not stored: one log line per reason, not one per poll */
	acme_deploy_t *deploy;         /* owned: output files and deploy hook */
	time_t last_alarm;             /* when the expiry alarm was last given, or 0 */
	char thumb[ACME_CLUSTER_THUMBPRINT_LEN + 1]; /* the account its orders use, as last proved */
} slot_t;

struct acme_follower {
	struct ev_loop *loop;
	wf_config_t *cfg;              /* owned reference */
	wf_certstore_t *store;         /* borrowed: the server's */
	acme_http_t *http;             /* owned */
	acme_events_t *events;         /* owned: deploy hooks and event hooks */
	slot_t *slots;
	size_t nslots;
	bool thumb_unsaved;            /* STATE/acme/thumbprint did not take the last one (logged once) */
	bool thumb_kept;               /* one was kept since the start (thumbprint_keep) */
};

static void poll_soon(slot_t *s)
{
	ev_timer_stop(s->f->loop, &s->poll);
	ev_timer_set(&s->poll, 0.05, 0);
	ev_timer_start(s->f->loop, &s->poll);
}

static void poll_after(slot_t *s, double interval)
{
	/* +-20 %: followers that started together do not poll together. */
	unsigned r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned)rand();
	double t = interval * (0.8 + 0.4 * (r % 1000) / 1000.0);
	ev_timer_stop(s->f->loop, &s->poll);
	ev_timer_set(&s->poll, t, 0);
	ev_timer_start(s->f->loop, &s->poll);
}

static void poll_later(slot_t *s)
{
	poll_after(s, s->f->cfg->cluster.poll_interval);
}

static void set_state(slot_t *s, link_state_t st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_state(slot_t *s, link_state_t st, const char *fmt, ...)
{
	if (s->state == st)
		return;
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st == LINK_OK)
		wf_log_info("cluster: certificate %s: %s", s->cert->name, msg);
	else if (st == LINK_NONE)
		wf_log_warn("cluster: certificate %s: %s", s->cert->name, msg);
	else
		wf_log_error("cluster: certificate %s: %s", s->cert->name, msg);
	s->state = st;
}

/* The failed check a controller names in its 403 (unproved, so only printable
 * ASCII of it, on one line): true when the body is one. */
static bool refusal_reason(const acme_http_resp_t *resp, char *out, size_t outlen)
{
	static const char head[] = "403 Forbidden: " ACME_CLUSTER_REFUSED;
	size_t len = wf_buf_size(&resp->body);
	const char *body = wf_buf_head(&resp->body);
	if (len <= sizeof(head) - 1 || memcmp(body, head, sizeof(head) - 1) != 0)
		return false;
	size_t n = 0;
	for (size_t i = sizeof(head) - 1; i < len && body[i] != '\n' && n + 1 < outlen; i++)
		out[n++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : '?';
	out[n] = '\0';
	return n > 0;
}

/* A node that is no cluster controller (a plain wharf, another follower)
 * answers bundle requests so; unproved, so only telling what to log. */
static bool not_a_controller(const acme_http_resp_t *resp)
{
	static const char head[] = "421 Misdirected Request: " ACME_CLUSTER_NOT_CONTROLLER;
	return resp->status == 421 && wf_buf_size(&resp->body) >= sizeof(head) - 1 &&
	       memcmp(wf_buf_head(&resp->body), head, sizeof(head) - 1) == 0;
}

/* What the answer to the request in flight must be bound to. */
static acme_cluster_bind_t bind_of(const slot_t *s, const acme_http_resp_t *resp)
{
	return (acme_cluster_bind_t){ s->cert->name, resp->etag, resp->thumbprint, s->nonce };
}

/* Checks a bundle and installs it; false (logged) when it fails a check. */
static bool take_bundle(slot_t *s, const acme_http_resp_t *resp, const acme_cluster_keys_t *keys)
{
	acme_follower_t *f = s->f;
	const wf_cert_cfg_t *c = s->cert;
	bool ok = false;
	wf_buf_t pem;
	wf_certkey_t *ck = NULL;
	wf_buf_init(&pem, ACME_HTTP_BODY_MAX);
	acme_cluster_bind_t b = bind_of(s, resp);
	if (acme_cluster_open(keys, &b, wf_buf_slice(&resp->body), &pem) != WF_OK) {
		set_state(s, LINK_BAD, "bundle refused: it does not open (altered on the way, or sealed for "
				       "another name or request)");
		goto out;
	}
	wf_slice_t key, chain;
	if (wf_certstate_split_issued(wf_buf_slice(&pem), &key, &chain) != WF_OK) {
		set_state(s, LINK_BAD, "bundle refused: no key followed by a chain");
		goto out;
	}
	if (!wf_certkey_pem_covers(chain, c->domains, c->ndomains)) {
		set_state(s, LINK_BAD, "bundle refused: it does not cover the configured names");
		goto out;
	}
	char err[256];
	ck = wf_certkey_new(c->name, c->domains, c->ndomains, chain, key, false, err, sizeof(err));
	if (!ck) {
		set_state(s, LINK_BAD, "bundle refused: %s", err);
		goto out;
	}
	if (ck->not_after <= time(NULL)) {
		set_state(s, LINK_BAD, "bundle refused: the certificate has expired");
		goto out;
	}
	ok = true;
	wf_certkey_t *cur = wf_certstore_get(f->store, c->name);
	bool same = cur && !cur->provisional && strcmp(cur->serial, ck->serial) == 0;
	/* Kept across a reload unstored (server.c): this link has no s->unsaved
	 * of it, and the save is still to do. */
	bool unstored = same && cur->unstored;
	if (cur)
		wf_certkey_unref(cur);
	snprintf(s->etag, sizeof(s->etag), "%s", resp->etag);
	if (same && !s->unsaved && !unstored) {
		set_state(s, LINK_OK, "in step with the controller");
		goto out;
	}
	/* Stored before it counts as done: until then every poll fetches the
	 * bundle whole (no ETag sent) and tries again. */
	if (!same)
		acme_deploy_prepare(s->deploy, chain);
	s->unsaved = wf_certstate_save_issued(f->cfg->state_dir, c->name, chain, key, err, sizeof(err)) != WF_OK;
	if (s->unsaved) {
		if (!same || strcmp(err, s->unsaved_why) != 0)
			wf_log_error("cluster: certificate %s: not stored: %s; serving it anyway", c->name, err);
		snprintf(s->unsaved_why, sizeof(s->unsaved_why), "%s", err);
		s->etag[0] = '\0';
	} else {
		s->unsaved_why[0] = '\0';
		if (same) {
			wf_log_info("cluster: certificate %s: stored at last", c->name);
			acme_deploy_stored(s->deploy, chain);
		}
	}
	if (same) {
		/* Installed already, its deploy hook and event given: only the
		 * save was pending. */
		set_state(s, LINK_OK, "in step with the controller");
		goto out;
	}
	char until[64];
	struct tm tm;
	gmtime_r(&ck->not_after, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	wf_log_info("cluster: certificate %s: installed the controller's certificate (serial %s, valid until %s)",
		    c->name, ck->serial, until);
	ck->unstored = s->unsaved;
	wf_certstore_install(f->store, ck);
	ck = NULL; /* the store's now */
	s->state = LINK_OK;
	/* From the bundle in hand: issued.pem may not have taken it. */
	acme_deploy_issued(s->deploy, chain, key, !s->unsaved);
out:
	if (ck)
		wf_certkey_unref(ck);
	acme_cluster_wipe(&pem);
	return ok;
}

/* Kept in memory for the acme-http service, and stored for a restart; a
 * failure to store is logged once, until it is stored. */
static void thumbprint_keep(acme_follower_t *f, const char *thumbprint)
{
	acme_http01_thumbprint_set(thumbprint);
	f->thumb_kept = true;
	errno = 0;
	if (acme_cluster_thumbprint_save(f->cfg->state_dir, thumbprint) == WF_OK) {
		if (f->thumb_unsaved)
			wf_log_info("cluster: the controller's account thumbprint stored at last in %s/acme/thumbprint",
				    f->cfg->state_dir);
		f->thumb_unsaved = false;
		return;
	}
	if (!f->thumb_unsaved)
		wf_log_error("cluster: cannot store the controller's account thumbprint in %s/acme/thumbprint: %s; "
			     "HTTP-01 answers use the one held in memory, which a restart loses",
			     f->cfg->state_dir, errno ? strerror(errno) : "unknown error");
	f->thumb_unsaved = true;
}

static void alarm_check(slot_t *s, const char *why);

/* An answer of the controller's bundle endpoint that the follower acts on
 * (200, 304, 404): proved by the controller for our request, or ignored. */
static void on_proved_answer(slot_t *s, const acme_http_resp_t *resp, const acme_cluster_keys_t *keys)
{
	acme_follower_t *f = s->f;
	/* Only a proved thumbprint: followers answer HTTP-01 with it, for the
	 * certificate's names. Set when it changes, so of two certificates
	 * that share a name the one whose orders moved to an account last
	 * has it (each answer setting it would flip it at every poll). The
	 * first certificate's, or any while none is kept, stands for names
	 * no certificate here has, and after a restart until the first
	 * answers. */
	bool new_thumb = false;
	if (acme_cluster_thumbprint_valid(resp->thumbprint)) {
		new_thumb = strcmp(s->thumb, resp->thumbprint) != 0;
		if (new_thumb) {
			memcpy(s->thumb, resp->thumbprint, sizeof(s->thumb)); /* valid: exactly that long */
			for (size_t i = 0; i < s->cert->ndomains; i++)
				acme_thumbs_set(&acme_thumbs_by_domain, s->cert->domains[i], resp->thumbprint);
		}
		if (s == &f->slots[0] || !f->thumb_kept)
			thumbprint_keep(f, resp->thumbprint);
	}
	if (resp->status == 304) {
		set_state(s, LINK_OK, "in step with the controller");
		/* A long poll that ran its course: ask again at once, so a
		 * renewal reaches us within a second. So does one the
		 * controller ended early to give a new thumbprint. One that came
		 * back quickly otherwise (a controller that does not wait) waits
		 * the interval. */
		if (resp->seconds >= LONG_POLL - 2 || new_thumb) {
			poll_soon(s);
			return;
		}
	} else if (resp->status == 200) {
		/* The next request is a long poll, which only an ETag allows:
		 * without one (or with the one we sent, which the controller
		 * should have waited on) asking at once would ask in a loop. */
		bool new_etag = resp->etag[0] && strcmp(resp->etag, s->etag) != 0;
		bool taken = take_bundle(s, resp, keys);
		if (taken && new_etag && !s->unsaved) {
			poll_soon(s);
			return;
		}
		if (!taken) /* what we serve may run out while the controller's bundles fail */
			alarm_check(s, "the controller's bundles fail their checks");
	} else {
		/* 404: nothing to wait on yet. Ask often (cheap), so the first
		 * certificate arrives within seconds too. Said once: a name the
		 * controller's config lacks (a typo) looks the same from here. */
		set_state(s, LINK_NONE,
			  "the controller has no issued certificate of that name (none yet, or none configured "
			  "there); serving ours");
		alarm_check(s, "the controller has no certificate of that name to give");
		double t = f->cfg->cluster.poll_interval;
		poll_after(s, t < 2 ? t : 2);
		return;
	}
	poll_later(s);
}

/* The controller gives the expiry alarm when renewals fail; but when it is
 * down, or its answers do not reach us, this node's certificate runs out
 * unseen. So a follower that cannot get answers gives the same alarm (the
 * last sixth of the lifetime, about daily: acme_alarm_due) for the
 * certificate it serves. */
static void alarm_check(slot_t *s, const char *why)
{
	wf_certkey_t *cur = wf_certstore_get(s->f->store, s->cert->name);
	bool issued = cur && !cur->provisional;
	double life = issued ? difftime(cur->not_after, cur->not_before) : 0;
	double left = issued ? difftime(cur->not_after, time(NULL)) : 0;
	wf_certkey_unref(cur);
	if (!issued || !acme_alarm_due(life, left, difftime(time(NULL), s->last_alarm), s->f->cfg->cluster.poll_interval))
		return;
	s->last_alarm = time(NULL);
	char span[32], detail[400];
	acme_span_text(left < 0 ? -left : left, span, sizeof(span));
	snprintf(detail, sizeof(detail), "%s %s%s and %s", left < 0 ? "expired" : "expires in", span,
		 left < 0 ? " ago" : "", why);
	wf_log_error("ALARM certificate %s: %s", s->cert->name, detail);
	acme_event_t ee = { ACME_EVENT_EXPIRING, s->cert, s->cert->domains[0], "", detail, false };
	acme_events_emit(s->f->events, &ee);
}

static void on_answer(void *arg, const acme_http_resp_t *resp)
{
	slot_t *s = arg;
	acme_follower_t *f = s->f;
	s->req = 0;
	acme_cluster_keys_t keys;
	if (resp->curl_code == CURLE_SSL_CACERT_BADFILE && f->cfg->cluster.controller_ca[0]) {
		/* Checked at start, but the file may have changed since. */
		set_state(s, LINK_UNTRUSTED,
			  "cluster.controller_ca %s cannot be used (%s), so the controller cannot be verified; make it "
			  "a PEM file the run user can read; serving the certificate we have",
			  f->cfg->cluster.controller_ca, resp->error);
	} else if (resp->curl_code) {
		set_state(s, LINK_DOWN, "controller %s unreachable (%s); serving the certificate we have",
			  f->cfg->cluster.controller, resp->error);
	} else if (resp->status == 200 || resp->status == 304 || resp->status == 404) {
		acme_cluster_bind_t b = bind_of(s, resp);
		if (acme_cluster_keys_init(&keys, f->cfg->cluster.secret) == WF_OK &&
		    acme_cluster_answer_ok(&keys, (int)resp->status, &b, resp->cluster_answer)) {
			on_proved_answer(s, resp, &keys);
			acme_cluster_keys_fini(&keys);
			return;
		}
		acme_cluster_keys_fini(&keys);
		set_state(s, LINK_BAD,
			  "answer (HTTP %ld) refused: its Wharf-Cluster-Answer proof does not check (not our "
			  "controller, another secret, or another wharf version)",
			  resp->status);
	} else if (resp->status == 403) {
		char told[200];
		if (refusal_reason(resp, told, sizeof(told)))
			set_state(s, LINK_REFUSED, "the controller refused our request: %s", told);
		else
			set_state(s, LINK_REFUSED, "HTTP 403 with no controller's reason (something else in the way?); "
						   "the cluster secret must be the same on every node, and the clocks "
						   "within %d s",
				  ACME_CLUSTER_SKEW);
	} else if (not_a_controller(resp)) {
		set_state(s, LINK_MISDIRECTED,
			  "the node at %s is not a cluster controller (its cluster.role); serving the certificate "
			  "we have",
			  f->cfg->cluster.controller);
	} else {
		set_state(s, LINK_DOWN, "the controller answered HTTP %ld; serving the certificate we have",
			  resp->status);
	}
	alarm_check(s, s->state == LINK_REFUSED	 ? "the controller refuses this follower's requests" :
		       s->state == LINK_BAD	 ? "the controller's answers fail their checks" :
		       s->state == LINK_MISDIRECTED ? "the node named as controller is not one" :
		       s->state == LINK_UNTRUSTED   ? "cluster.controller_ca cannot be used" :
						   "the controller cannot be reached");
	poll_later(s);
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	slot_t *s = wf_container_of(w, slot_t, poll);
	acme_follower_t *f = s->f;
	if (s->req)
		return;
	char target[1024], url[2048], auth[300], inm[200];
	acme_cluster_keys_t keys;
	/* With a bundle in hand, a long poll: the controller answers when it
	 * changes (or after LONG_POLL seconds with 304). */
	int n1 = snprintf(target, sizeof(target), "%s%s%s", ACME_CLUSTER_BUNDLE_PATH, s->cert->name,
			  s->etag[0] ? "?wait=25" : "");
	int n2 = snprintf(url, sizeof(url), "%s%s", f->cfg->cluster.controller, target);
	/* Signed, never the secret itself: whoever answers in the controller's
	 * name learns nothing it could fetch or forge bundles with. */
	int rc = (size_t)n1 < sizeof(target) && (size_t)n2 < sizeof(url) ? acme_cluster_nonce(s->nonce) : WF_ERR;
	if (rc == WF_OK && (rc = acme_cluster_keys_init(&keys, f->cfg->cluster.secret)) == WF_OK) {
		memcpy(auth, "Authorization: ", 15);
		rc = acme_cluster_auth_make(&keys, "GET", target, (int64_t)time(NULL), s->nonce, auth + 15,
					    sizeof(auth) - 15);
		acme_cluster_keys_fini(&keys);
	}
	if (rc != WF_OK) {
		set_state(s, LINK_DOWN, "cannot sign a request for %s", target);
		poll_later(s);
		return;
	}
	snprintf(inm, sizeof(inm), "If-None-Match: %s", s->etag);
	const char *headers[3] = { auth, s->etag[0] ? inm : NULL, NULL };
	s->req = acme_http_request_with(f->http, "GET", url, NULL, headers, (wf_slice_t){ NULL, 0 }, POLL_TIMEOUT,
					on_answer, s);
	if (!s->req) {
		set_state(s, LINK_DOWN, "cannot start a request to %s", url);
		poll_later(s);
	}
}

acme_follower_t *acme_follower_new(struct ev_loop *loop, wf_config_t *cfg, wf_certstore_t *store)
{
	if (!acme_cluster_is_follower(cfg))
		return NULL;
	acme_follower_t *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->loop = loop;
	f->cfg = wf_config_ref(cfg);
	f->store = store;
	const char *ca = cfg->cluster.controller_ca[0] ? cfg->cluster.controller_ca : NULL;
	f->http = acme_http_new(loop, ca, "wharf-follower/" WHARF_VERSION);
	f->events = acme_events_new(loop, cfg);
	f->slots = calloc(cfg->ncertificates ? cfg->ncertificates : 1, sizeof(slot_t));
	if (!f->http || !f->events || !f->slots) {
		acme_follower_free(f);
		return NULL;
	}
	/* Every poll goes out once, with its own nonce: libcurl's resend of a
	 * poll cut on a reused connection would carry the nonce the controller
	 * may have taken already, and be refused as a replay. (A poll the
	 * follower makes again is signed anew: on_poll.) A TLS handshake per
	 * poll is the price, one per long poll. */
	acme_http_fresh_connections(f->http);
	/* Each certificate's long poll holds a connection for up to LONG_POLL
	 * seconds: with fewer allowed, the rest queue in libcurl, time out,
	 * and their renewals wait. (A couple spare for polls that overlap
	 * the end of the last.) */
	acme_http_host_connections(f->http, (long)cfg->ncertificates + 2);
	f->nslots = cfg->ncertificates;
	for (size_t i = 0; i < f->nslots; i++) {
		slot_t *s = &f->slots[i];
		s->f = f;
		s->cert = &cfg->certificates[i];
		ev_timer_init(&s->poll, on_poll, 0.01 * (double)(i + 1), 0);
		ev_timer_start(loop, &s->poll);
		s->deploy = acme_deploy_new(loop, s->cert, f->events);
		if (!s->deploy) {
			acme_follower_free(f);
			return NULL;
		}
		acme_deploy_startup(s->deploy, cfg->state_dir);
	}
	wf_log_info("cluster: follower of %s, polling every %d s", cfg->cluster.controller, cfg->cluster.poll_interval);
	return f;
}

void acme_follower_free(acme_follower_t *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nslots; i++) {
		ev_timer_stop(f->loop, &f->slots[i].poll);
		acme_deploy_free(f->slots[i].deploy);
	}
	acme_http_free(f->http); /* requests in flight end here, without callbacks */
	acme_events_free(f->events);
	free(f->slots);
	wf_config_unref(f->cfg);
	free(f);
}
