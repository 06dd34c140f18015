/* One ACME server: directory, nonces, account, signed requests. See client.h. */
#include "client.h"
#include "account_dir.h"
#include "cluster.h"
#include "b64url.h"
#include "jws.h"
#include "../server/durable.h"
#include "../server/log.h"
#include "../transfer/path.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NONCE_POOL 16
#define BAD_NONCE_TRIES 10 /* a CA may reject valid nonces on purpose: Pebble does 5 %, tests 50 % */
#define KEY_MAX (64 * 1024)
#define GATE_MAX 16

typedef enum client_state {
	CL_IDLE,  /* not ready; the next acme_client_ready starts over */
	CL_BUSY,  /* fetching the directory or the account */
	CL_READY,
} client_state_t;

typedef struct req {
	acme_client_t *cl;
	unsigned long id;
	char *url;
	char *payload; /* NULL: POST-as-GET */
	bool use_jwk;
	const acme_key_t *key; /* borrowed: signs instead of the account key (with its jwk), or NULL */
	bool plain_get; /* unsigned GET */
	bool exclusive; /* newOrder: runs alone (see the gate below) */
	bool active;    /* counted in the gate */
	bool queued;    /* waiting at the gate */
	bool account_again; /* sent again once after the CA forgot the account */
	char kid[ACME_URL_MAX]; /* the account it was last signed for */
	int tries;
	unsigned long http_handle;
	ev_timer start; /* defers the first send to the loop */
	acme_reply_cb cb;
	void *arg;
	struct req *next;
} req_t;

typedef struct waiter {
	acme_ready_cb cb;
	void *arg;
	bool ok;            /* the result it is due, fixed when it was settled */
	acme_ready_why_t why;
	struct waiter *next;
} waiter_t;

struct acme_client {
	struct ev_loop *loop;
	wf_config_t *cfg;             /* owned reference */
	const wf_acme_ca_cfg_t *ca;   /* borrowed from cfg */
	acme_http_t *http;            /* owned */
	client_state_t state;
	acme_directory_t dir;
	acme_key_t *key;              /* owned */
	acme_key_t *retired;          /* owned: the old key while its replacement registers, else NULL */
	char retired_status[16];      /* why: "deactivated", "revoked" */
	bool key_is_new;
	bool no_account;              /* ready once the directory is in: no account is looked up or made */
	char kid[ACME_URL_MAX];
	char dir_path[1024];          /* STATE/acme/NAME (account_dir.h) */
	char nonces[NONCE_POOL][256];
	int nnonces;
	req_t *reqs;
	waiter_t *waiters; /* waiting for the account, newest first */
	waiter_t *due;     /* settled, each with its result, delivered by notify */
	unsigned long next_id;
	/* The gate: a newOrder runs alone, and at most GATE_MAX requests are in
	 * flight. Gentle on any CA; and Pebble deadlocks when newOrders race with
	 * authorization reads (pebble.md), every POST then hanging for good. */
	int inflight;
	bool exclusive_active;
	time_t not_before; /* the CA's wait (acme_client_not_before), wall clock; 0: none */
	ev_timer pump;
	ev_timer notify; /* delivers ready results from the loop */
};

static double timeout_of(const acme_client_t *cl)
{
	return cl->cfg->acme.request_timeout;
}

/* ---------------------------------------------------------------- nonces */

static void nonce_put(acme_client_t *cl, const char *n)
{
	if (!n || !n[0])
		return;
	if (cl->nnonces == NONCE_POOL) {
		memmove(cl->nonces[0], cl->nonces[1], sizeof(cl->nonces[0]) * (NONCE_POOL - 1));
		cl->nnonces--;
	}
	snprintf(cl->nonces[cl->nnonces++], sizeof(cl->nonces[0]), "%s", n);
}

static bool nonce_take(acme_client_t *cl, char *out, size_t cap)
{
	if (!cl->nnonces)
		return false;
	snprintf(out, cap, "%s", cl->nonces[--cl->nnonces]);
	return true;
}

/* ---------------------------------------------------------------- signed requests */

static void gate_leave(req_t *r)
{
	acme_client_t *cl = r->cl;
	if (!r->active)
		return;
	r->active = false;
	cl->inflight--;
	if (r->exclusive)
		cl->exclusive_active = false;
	/* Waiting requests start from the loop, never under the one that ended. */
	ev_timer_stop(cl->loop, &cl->pump);
	ev_timer_set(&cl->pump, 0, 0);
	ev_timer_start(cl->loop, &cl->pump);
}

static void waiters_drop(waiter_t **list, void *arg);

static void req_free(req_t *r)
{
	acme_client_t *cl = r->cl;
	ev_timer_stop(cl->loop, &r->start);
	gate_leave(r);
	waiters_drop(&cl->waiters, r); /* one waiting for the account again (on_account_back) */
	waiters_drop(&cl->due, r);
	for (req_t **pp = &cl->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r->url);
	free(r->payload);
	free(r);
}

static void fill_reply(const acme_http_resp_t *resp, acme_reply_t *out)
{
	memset(out, 0, sizeof(*out));
	out->curl_code = resp->curl_code;
	out->error = resp->error;
	out->status = resp->status;
	out->body = wf_buf_slice(&resp->body);
	out->location = resp->location;
	out->retry_after = resp->retry_after;
	out->links = wf_buf_slice(&resp->links);
	if (resp->curl_code == 0 && resp->status >= 400) {
		char err[128];
		if (acme_msg_problem(out->body, &out->problem, err, sizeof(err)) == WF_OK)
			out->is_problem = true;
		else
			snprintf(out->problem.detail, sizeof(out->problem.detail), "HTTP %ld without a problem document",
				 resp->status);
	}
}

long acme_reply_retry_after(const acme_reply_t *r)
{
	if (!r->retry_after)
		return -1;
	return acme_msg_retry_after((wf_slice_t){ r->retry_after, strlen(r->retry_after) }, time(NULL));
}

/* ---------------------------------------------------------------- the CA's wait */

#define NOT_BEFORE_FILE "not_before"
#define NOT_BEFORE_MAX (86400 + 60) /* Retry-After is read up to a day (acme_msg_retry_after) */

time_t acme_client_not_before(const acme_client_t *cl)
{
	return cl->not_before > time(NULL) ? cl->not_before : 0;
}

static void wait_save(acme_client_t *cl)
{
	if (wf_durable_mkdirs(cl->dir_path, 0700) != WF_OK)
		return;
	int dfd = open(cl->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char text[32];
	int n = snprintf(text, sizeof(text), "%lld\n", (long long)cl->not_before);
	if (dfd < 0 || wf_durable_write(dfd, NOT_BEFORE_FILE, text, (size_t)n, 0644) != WF_OK)
		wf_log_warn("acme %s: cannot keep the CA's wait in %s/%s for a restart: %m", cl->ca->url, cl->dir_path,
			    NOT_BEFORE_FILE);
	if (dfd >= 0)
		close(dfd);
}

/* A wait an earlier run recorded: only one still to come, and no longer than
 * a Retry-After can ask (a hand edit, a clock that jumped). */
static void wait_load(acme_client_t *cl)
{
	int dfd = open(cl->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	wf_buf_t b;
	wf_buf_init(&b, 16384); /* wf_durable_read reads 4 KiB at a time */
	if (wf_durable_read(dfd, NOT_BEFORE_FILE, 64, &b) == WF_OK && wf_buf_append(&b, "", 1) == WF_OK) {
		char *end;
		long long t = strtoll(wf_buf_head(&b), &end, 10);
		time_t now = time(NULL);
		if (end != wf_buf_head(&b) && t > now)
			cl->not_before = t - now > NOT_BEFORE_MAX ? now + NOT_BEFORE_MAX : (time_t)t;
	}
	wf_buf_fini(&b);
	close(dfd);
}

/* A 429 or a 503 with a Retry-After, to any request: the CA's wait for this
 * account, for every certificate (never shortened by a later, shorter one). */
static void note_wait(acme_client_t *cl, const acme_http_resp_t *resp)
{
	if (resp->curl_code != 0 || (resp->status != 429 && resp->status != 503))
		return;
	long ra = acme_msg_retry_after((wf_slice_t){ resp->retry_after, strlen(resp->retry_after) }, time(NULL));
	if (ra <= 0)
		return;
	time_t until = time(NULL) + ra;
	if (until <= cl->not_before)
		return;
	cl->not_before = until;
	char at[32];
	struct tm tm;
	gmtime_r(&until, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	wf_log_warn("acme %s: the CA answered HTTP %ld and asks to wait until %s (Retry-After %ld s); no new order "
		    "goes to it before then",
		    cl->ca->url, resp->status, at, ra);
	wait_save(cl);
}

static void req_send(req_t *r);

static void deliver_as(req_t *r, const acme_http_resp_t *resp, bool local, bool waited)
{
	acme_reply_t reply;
	fill_reply(resp, &reply);
	/* Location may be relative (RFC 9110 10.2.2): made absolute against
	 * the request's URL, or dropped when it cannot be (the step then
	 * fails for want of one, before any later request could use it). */
	char location[ACME_URL_MAX];
	if (reply.location && reply.location[0])
		reply.location = acme_msg_location(reply.location, r->url, location, sizeof(location)) == WF_OK ? location : "";
	reply.local = local;
	reply.waited = waited;
	acme_reply_cb cb = r->cb;
	void *arg = r->arg;
	req_free(r);
	cb(arg, &reply);
}

static void deliver(req_t *r, const acme_http_resp_t *resp)
{
	deliver_as(r, resp, false, false);
}

static void on_start_timer(struct ev_loop *loop, ev_timer *t, int revents);

/* The account is back (or could not be had): r goes through the gate again,
 * with the account's new kid, or fails with why the account could not be
 * had. */
static void on_account_back(void *arg, bool ok, const acme_ready_why_t *why)
{
	req_t *r = arg;
	acme_client_t *cl = r->cl;
	if (ok) {
		r->tries = 0;
		ev_timer_set(&r->start, 0, 0);
		ev_timer_start(cl->loop, &r->start);
		return;
	}
	acme_reply_t reply;
	memset(&reply, 0, sizeof(reply));
	reply.curl_code = -1; /* never answered: what the account step met says why */
	reply.error = why->problem.detail;
	reply.local = why->local;
	reply.waited = why->waited;
	reply.account_lost = why;
	acme_reply_cb cb = r->cb;
	void *cb_arg = r->arg;
	req_free(r); /* why stays: its waiter is being delivered, off every list */
	cb(cb_arg, &reply);
}

static void wait_for_account(req_t *r)
{
	r->http_handle = 0;
	gate_leave(r); /* the account's own requests must pass, a newOrder's gate too */
	acme_client_ready(r->cl, on_account_back, r);
}

static void account_again(req_t *r)
{
	r->account_again = true;
	wait_for_account(r);
}

static void on_post(void *arg, const acme_http_resp_t *resp)
{
	req_t *r = arg;
	r->http_handle = 0;
	acme_client_t *cl = r->cl;
	nonce_put(cl, resp->replay_nonce);
	note_wait(cl, resp);
	acme_problem_t p;
	char err[64];
	if (resp->curl_code == 0 && resp->status >= 400 &&
	    acme_msg_problem(wf_buf_slice(&resp->body), &p, err, sizeof(err)) == WF_OK) {
		if (strcmp(p.type, "urn:ietf:params:acme:error:badNonce") == 0 && ++r->tries < BAD_NONCE_TRIES) {
			wf_log_debug("acme %s: badNonce for %s, retrying (%d)", cl->ca->url, r->url, r->tries);
			req_send(r);
			return;
		}
		/* The CA forgot the account (a restarted CA, a purge): the
		 * account is looked up again (or registered), and the request,
		 * which the CA did nothing with, is sent again under it, once.
		 * Failing it instead cost a whole backoff step, and counted as
		 * the CA's failure. */
		if (!r->use_jwk && !r->account_again &&
		    strcmp(p.type, "urn:ietf:params:acme:error:accountDoesNotExist") == 0) {
			/* Signed for an account already replaced (a request sent
			 * before another one's refusal): only sent again. */
			if (cl->state == CL_READY && strcmp(r->kid, cl->kid) == 0) {
				wf_log_warn("acme %s: the CA no longer knows account %s; looking it up again", cl->ca->url,
					    cl->kid);
				cl->state = CL_IDLE;
				cl->kid[0] = '\0';
			}
			account_again(r);
			return;
		}
		/* "unauthorized" is also what a CA says to an account it has
		 * deactivated or revoked, and nothing else tells the two apart:
		 * the next attempt asks about the account first (one request),
		 * which replaces it if that is why (on_account_found). */
		if (!r->use_jwk && cl->state == CL_READY &&
		    strcmp(p.type, "urn:ietf:params:acme:error:unauthorized") == 0) {
			wf_log_debug("acme %s: unauthorized; account %s is checked at the next attempt", cl->ca->url,
				     cl->kid);
			cl->state = CL_IDLE;
		}
	}
	deliver(r, resp);
}

/* The request ends before the CA answered it: by what the CA gave us (a URL
 * not followed, a nonce answer without a nonce), or, when ours, by a fault of
 * this machine that says nothing about the CA (local). */
static void fail_unsent(req_t *r, bool ours, const char *why)
{
	acme_http_resp_t fake;
	memset(&fake, 0, sizeof(fake));
	fake.curl_code = -1;
	snprintf(fake.error, sizeof(fake.error), "%s", why);
	wf_buf_init(&fake.body, 0);
	wf_buf_init(&fake.links, 0);
	deliver_as(r, &fake, ours, false);
}

/* A newOrder while the CA's wait runs: it never leaves (reply.waited). */
static void fail_waited(req_t *r)
{
	acme_http_resp_t fake;
	memset(&fake, 0, sizeof(fake));
	fake.curl_code = -1;
	char at[32];
	struct tm tm;
	gmtime_r(&r->cl->not_before, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(fake.error, sizeof(fake.error), "not sent: the CA asked to wait until %s", at);
	wf_buf_init(&fake.body, 0);
	wf_buf_init(&fake.links, 0);
	deliver_as(r, &fake, false, true);
}

static void wait_for_account(req_t *r);

static void post_with_nonce(req_t *r, const char *nonce)
{
	acme_client_t *cl = r->cl;
	/* The account is being looked up again (the CA forgot it): a request
	 * signed for it waits for the account found or made, as the one that
	 * hit the refusal does, instead of going out with no kid. */
	if (!r->use_jwk && !cl->no_account && cl->state != CL_READY) {
		nonce_put(cl, nonce);
		wait_for_account(r);
		return;
	}
	snprintf(r->kid, sizeof(r->kid), "%s", r->use_jwk ? "" : cl->kid);
	wf_buf_t jws;
	wf_buf_init(&jws, 1 << 20);
	int rc = acme_jws_sign(r->key ? r->key : cl->key, r->use_jwk ? NULL : cl->kid, nonce, r->url, r->payload, &jws);
	if (rc != WF_OK) {
		wf_buf_fini(&jws);
		if (rc == WF_DECLINED) /* its nonce, a URL or the account URL cannot go in a JWS */
			fail_unsent(r, false, "the CA gave a nonce or URL that no request can carry");
		else if (r->key) /* the key (a damaged key file), or memory: ours */
			fail_unsent(r, true, "cannot sign the request with the certificate key");
		else {
			char why[1200];
			snprintf(why, sizeof(why), "cannot sign the request with the account key %s/account.key",
				 cl->dir_path);
			fail_unsent(r, true, why);
		}
		return;
	}
	r->http_handle = acme_http_request(cl->http, "POST", r->url, "application/jose+json", wf_buf_slice(&jws),
					   timeout_of(cl), on_post, r);
	wf_buf_fini(&jws);
	if (!r->http_handle)
		fail_unsent(r, true, "cannot start the request (out of memory, or libcurl refused it)");
}

static void on_nonce(void *arg, const acme_http_resp_t *resp)
{
	req_t *r = arg;
	r->http_handle = 0;
	note_wait(r->cl, resp);
	/* No nonce for a CA that is down or rate-limits: its answer (and its
	 * Retry-After) is the request's. */
	if (resp->curl_code != 0 || resp->status == 429 || resp->status == 503) {
		deliver(r, resp);
		return;
	}
	/* Never let the nonce answer pass for the answer to the request itself. */
	if (!resp->replay_nonce[0]) {
		fail_unsent(r, false, "the CA's newNonce gave no Replay-Nonce");
		return;
	}
	post_with_nonce(r, resp->replay_nonce);
}

/* Sends (or re-sends) r: a pooled nonce if there is one, else a fresh one first.
 * Runs from the loop only, so a failure may call back at once. */
static void on_get(void *arg, const acme_http_resp_t *resp)
{
	req_t *r = arg;
	r->http_handle = 0;
	nonce_put(r->cl, resp->replay_nonce);
	/* ARI's renewalInfo is public, and limited apart from the account: its
	 * 429 says to ask it less often (the ARI poll's business), its 503
	 * that the CA is down. */
	if (resp->status == 503)
		note_wait(r->cl, resp);
	deliver(r, resp);
}

static void req_send(req_t *r)
{
	acme_client_t *cl = r->cl;
	char nonce[256];
	/* New work waits for the CA's word; an order under way goes on. */
	if (r->exclusive && acme_client_not_before(cl)) {
		fail_waited(r);
		return;
	}
	const char *bad = !acme_msg_url_allowed(cl->ca->url, r->url) ? r->url :
			  !r->plain_get && !acme_msg_url_allowed(cl->ca->url, cl->dir.new_nonce) ? cl->dir.new_nonce :
											NULL;
	if (bad) {
		char why[ACME_URL_MAX + 120];
		snprintf(why, sizeof(why), "the CA gave a URL not followed (plain http, or a local address): %.*s",
			 ACME_URL_MAX, bad);
		fail_unsent(r, false, why);
		return;
	}
	if (r->plain_get) {
		r->http_handle = acme_http_request(cl->http, "GET", r->url, NULL, (wf_slice_t){ NULL, 0 }, timeout_of(cl),
						   on_get, r);
		if (!r->http_handle)
			fail_unsent(r, true, "cannot start the request (out of memory, or libcurl refused it)");
		return;
	}
	if (nonce_take(cl, nonce, sizeof(nonce))) {
		post_with_nonce(r, nonce);
		return;
	}
	r->http_handle = acme_http_request(cl->http, "HEAD", cl->dir.new_nonce, NULL, (wf_slice_t){ NULL, 0 },
					   timeout_of(cl), on_nonce, r);
	if (!r->http_handle)
		fail_unsent(r, true, "cannot start the request (out of memory, or libcurl refused it)");
}

static req_t *req_new(acme_client_t *cl, const char *url, const char *payload, bool use_jwk, acme_reply_cb cb,
		      void *arg)
{
	req_t *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cl = cl;
	r->id = ++cl->next_id;
	r->url = strdup(url);
	r->payload = payload ? strdup(payload) : NULL;
	r->use_jwk = use_jwk;
	r->cb = cb;
	r->arg = arg;
	r->next = cl->reqs;
	cl->reqs = r;
	return r;
}

/* A start function never calls back before it returns: the first send is
 * deferred to the loop, where a synchronous failure may call back at once. */
static bool gate_open(const acme_client_t *cl, const req_t *r)
{
	if (cl->exclusive_active || cl->inflight >= GATE_MAX)
		return false;
	return !r->exclusive || cl->inflight == 0;
}

static void gate_enter(req_t *r)
{
	acme_client_t *cl = r->cl;
	r->queued = false;
	r->active = true;
	cl->inflight++;
	if (r->exclusive)
		cl->exclusive_active = true;
	req_send(r);
}

/* Starts waiting requests in the order they came (the list is newest first). */
static void on_pump(struct ev_loop *loop, ev_timer *t, int revents)
{
	acme_client_t *cl = wf_container_of(t, acme_client_t, pump);
	for (;;) {
		req_t *oldest = NULL;
		for (req_t *r = cl->reqs; r; r = r->next)
			if (r->queued)
				oldest = r;
		if (!oldest || !gate_open(cl, oldest))
			return;
		gate_enter(oldest);
	}
}

static void on_start_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	req_t *r = wf_container_of(t, req_t, start);
	acme_client_t *cl = r->cl;
	bool waiting = false;
	for (req_t *q = cl->reqs; q; q = q->next)
		waiting |= q->queued;
	if (!waiting && gate_open(cl, r)) {
		gate_enter(r);
		return;
	}
	r->queued = true;
}

static unsigned long post_internal(acme_client_t *cl, const char *url, const char *payload, bool use_jwk,
				   acme_reply_cb cb, void *arg)
{
	req_t *r = req_new(cl, url, payload, use_jwk, cb, arg);
	if (!r)
		return 0;
	r->exclusive = strcmp(url, cl->dir.new_order) == 0;
	ev_timer_init(&r->start, on_start_timer, 0, 0);
	ev_timer_start(cl->loop, &r->start);
	return r->id;
}

unsigned long acme_client_post(acme_client_t *cl, const char *url, const char *payload, acme_reply_cb cb, void *arg)
{
	return post_internal(cl, url, payload, false, cb, arg);
}

unsigned long acme_client_post_key(acme_client_t *cl, const acme_key_t *key, const char *url, const char *payload,
				   acme_reply_cb cb, void *arg)
{
	req_t *r = req_new(cl, url, payload, true, cb, arg);
	if (!r)
		return 0;
	r->key = key;
	ev_timer_init(&r->start, on_start_timer, 0, 0);
	ev_timer_start(cl->loop, &r->start);
	return r->id;
}

unsigned long acme_client_get(acme_client_t *cl, const char *url, acme_reply_cb cb, void *arg)
{
	req_t *r = req_new(cl, url, NULL, false, cb, arg);
	if (!r)
		return 0;
	r->plain_get = true;
	ev_timer_init(&r->start, on_start_timer, 0, 0);
	ev_timer_start(cl->loop, &r->start);
	return r->id;
}

static void waiters_drop(waiter_t **list, void *arg)
{
	for (waiter_t **pp = list; *pp;) {
		waiter_t *w = *pp;
		if (w->arg == arg) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

void acme_client_cancel_all(acme_client_t *cl, void *arg)
{
	waiters_drop(&cl->waiters, arg);
	waiters_drop(&cl->due, arg);
	for (req_t *r = cl->reqs, *next; r; r = next) {
		next = r->next;
		if (r->arg != arg)
			continue;
		if (r->http_handle)
			acme_http_cancel(cl->http, r->http_handle);
		req_free(r);
	}
}

/* ---------------------------------------------------------------- readiness */

static void notify_waiters(struct ev_loop *loop, ev_timer *t, int revents)
{
	acme_client_t *cl = wf_container_of(t, acme_client_t, notify);
	/* One off the list at a time: a callback may free a request whose
	 * waiter is next (req_free drops it from cl->due). */
	waiter_t *w;
	while ((w = cl->due)) {
		cl->due = w->next;
		w->cb(w->arg, w->ok, &w->why);
		free(w);
	}
}

/* Gives w its result now and delivers it from the loop: a waiter hears the
 * outcome of the attempt it waited for, even if a later one has begun (or
 * ended otherwise) by the time the timer runs. */
static void settle(acme_client_t *cl, waiter_t *w, bool ok, const acme_ready_why_t *why)
{
	w->ok = ok;
	if (!ok) {
		w->why = *why;
	} else {
		memset(&w->why, 0, sizeof(w->why));
		w->why.retry_after = -1;
	}
	w->next = cl->due;
	cl->due = w;
	ev_timer_stop(cl->loop, &cl->notify);
	ev_timer_set(&cl->notify, 0, 0);
	ev_timer_start(cl->loop, &cl->notify);
}

static void retirement_done(acme_client_t *cl);
static void retirement_undo(acme_client_t *cl, const char *why);

/* The attempt is over, every waiter hears how: ready when why is NULL. */
static void become(acme_client_t *cl, const acme_ready_why_t *why)
{
	bool ok = why == NULL;
	cl->state = ok ? CL_READY : CL_IDLE;
	if (cl->retired) {
		if (ok)
			retirement_done(cl);
		else
			retirement_undo(cl, why->problem.detail);
	}
	/* Told once, by whoever waited for us (the order's failure line). */
	if (!ok)
		wf_log_debug("acme %s: %s%s%s%s", cl->ca->url, why->local ? "local: " : "", why->problem.type,
			     why->problem.type[0] ? ": " : "", why->problem.detail);
	/* Refused with a wait: one request went out, for the waiter that
	 * started the attempt (the oldest: the list is newest first). The
	 * others asked nothing of the CA, and are told to wait, not refused. */
	bool wait = !ok && why->retry_after > 0 && acme_client_not_before(cl);
	acme_ready_why_t waited;
	if (wait) {
		waited = *why;
		waited.waited = true;
	}
	waiter_t *w = cl->waiters;
	cl->waiters = NULL;
	while (w) {
		waiter_t *next = w->next;
		settle(cl, w, ok, wait && next ? &waited : why);
		w = next;
	}
}

static void fail_as(acme_client_t *cl, bool local, const char *type, const char *detail, long retry_after)
{
	acme_ready_why_t why;
	memset(&why, 0, sizeof(why));
	/* Cut to fit, on purpose (and said so, for -Wformat-truncation). */
	snprintf(why.problem.type, sizeof(why.problem.type), "%.*s", (int)sizeof(why.problem.type) - 1, type);
	snprintf(why.problem.detail, sizeof(why.problem.detail), "%.*s", (int)sizeof(why.problem.detail) - 1, detail);
	why.retry_after = retry_after;
	why.local = local;
	become(cl, &why);
}

/* The CA's doing: its answer (with its Retry-After, or -1), or its silence. */
static void fail_ca(acme_client_t *cl, const char *type, const char *detail, long retry_after)
{
	fail_as(cl, false, type, detail, retry_after);
}

/* Ours: the account folder, the account key, the EAB settings. Says nothing
 * about the CA, so it never counts toward trying the next one. */
static void fail_setup(acme_client_t *cl, const char *detail)
{
	fail_as(cl, true, "", detail, -1);
}

static void fail_reply(acme_client_t *cl, const char *what, const acme_reply_t *r)
{
	char detail[700];
	if (r->curl_code)
		snprintf(detail, sizeof(detail), "%s: %s", what, r->error ? r->error : "no answer");
	else
		snprintf(detail, sizeof(detail), "%s: HTTP %ld: %s", what, r->status, r->problem.detail);
	/* Never sent, by our fault (a key that cannot sign): not the CA's. */
	if (r->local) {
		fail_setup(cl, detail);
		return;
	}
	/* Read as the order's steps read it (a 429 or 503 at the account step). */
	fail_ca(cl, r->is_problem ? r->problem.type : "", detail, acme_reply_retry_after(r));
}

static void on_account(void *arg, const acme_reply_t *r);
static void retire_account(acme_client_t *cl, const char *status, const char *detail);

/* JSON string members from the config: only characters that need no escaping. */
static bool json_safe(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

static void create_account(acme_client_t *cl)
{
	wf_buf_t p;
	wf_buf_init(&p, 64 * 1024);
	wf_buf_append_str(&p, "{\"termsOfServiceAgreed\":true");
	const char *contact = cl->cfg->acme.contact;
	if (contact[0] && json_safe(contact))
		wf_buf_printf(&p, ",\"contact\":[\"%s%s\"]", strncmp(contact, "mailto:", 7) ? "mailto:" : "", contact);
	if (cl->ca->eab_kid[0]) {
		unsigned char mac[ACME_EAB_KEY_MAX];
		ssize_t n = acme_eab_key_decode(cl->ca->eab_hmac, mac); /* as the config load checked it */
		if (n < 0 || !json_safe(cl->ca->eab_kid)) {
			gnutls_memset(mac, 0, sizeof(mac));
			wf_buf_fini(&p);
			fail_setup(cl, n < 0 ? "eab_hmac is not valid base64url" :
					       "eab_kid cannot go in a request (printable ASCII without '\"' or '\\')");
			return;
		}
		wf_buf_append_str(&p, ",\"externalAccountBinding\":");
		int built = acme_jws_eab(cl->key, cl->ca->eab_kid, (wf_slice_t){ (const char *)mac, (size_t)n },
					 cl->dir.new_account, &p);
		gnutls_memset(mac, 0, sizeof(mac)); /* the key lives in the config alone, not on the stack */
		if (built != WF_OK) {
			wf_buf_fini(&p);
			fail_setup(cl, "cannot build the External Account Binding (check eab_kid and eab_hmac)");
			return;
		}
	}
	wf_buf_append_str(&p, "}");
	wf_buf_append(&p, "", 1);
	post_internal(cl, cl->dir.new_account, wf_buf_head(&p), true, on_account, cl);
	wf_buf_fini(&p);
}

static void on_account(void *arg, const acme_reply_t *r)
{
	acme_client_t *cl = arg;
	if (r->curl_code == 0 && (r->status == 200 || r->status == 201) && r->location && r->location[0]) {
		snprintf(cl->kid, sizeof(cl->kid), "%s", r->location);
		cl->key_is_new = false; /* registered: later attempts look it up */
		wf_log_info("acme %s: account %s %s", cl->ca->url, cl->kid, r->status == 201 ? "created" : "found");
		become(cl, NULL);
		return;
	}
	fail_reply(cl, "account", r);
}

/* The answer to onlyReturnExisting: the account, none (register one), or
 * one the CA will not take any more. */
static void on_account_found(void *arg, const acme_reply_t *r)
{
	acme_client_t *cl = arg;
	if (r->is_problem && strcmp(r->problem.type, "urn:ietf:params:acme:error:accountDoesNotExist") == 0) {
		create_account(cl);
		return;
	}
	/* RFC 8555 7.3.6: a deactivated account's key is refused; Boulder and
	 * Pebble answer newAccount with it "unauthorized". */
	if (r->is_problem && strcmp(r->problem.type, "urn:ietf:params:acme:error:unauthorized") == 0) {
		retire_account(cl, "deactivated", r->problem.detail);
		return;
	}
	acme_account_t acct;
	char err[128];
	if (r->curl_code == 0 && r->status == 200 && acme_msg_account(r->body, &acct, err, sizeof(err)) == WF_OK &&
	    (acct.status == ACME_ST_DEACTIVATED || acct.status == ACME_ST_REVOKED)) {
		retire_account(cl, acme_status_name(acct.status), "the account object says so");
		return;
	}
	on_account(arg, r);
}

/* A new account key, stored under name in dfd before any use: never an
 * account under a key that is not on disk (the next start would make
 * another and lose this one's orders). NULL on failure. */
static acme_key_t *make_key_file(acme_client_t *cl, int dfd, const char *name)
{
	acme_key_type_t t = ACME_KEY_EC256;
	acme_key_type_parse(cl->cfg->acme.account_key_type, &t);
	acme_key_t *k = acme_key_generate(t);
	wf_buf_t pem;
	wf_buf_init(&pem, KEY_MAX);
	if (!k || acme_key_export(k, &pem) != WF_OK ||
	    wf_durable_write(dfd, name, wf_buf_head(&pem), wf_buf_size(&pem), 0600) != WF_OK) {
		acme_key_free(k);
		k = NULL;
	}
	if (pem.data)
		gnutls_memset(pem.data, 0, pem.cap);
	wf_buf_fini(&pem);
	return k;
}

static int open_account_dir(acme_client_t *cl)
{
	char why[1200];
	if (wf_durable_mkdirs(cl->dir_path, 0700) != WF_OK) {
		snprintf(why, sizeof(why), "cannot create the account folder %s: %s", cl->dir_path, strerror(errno));
		fail_setup(cl, why);
		return -1;
	}
	int dfd = open(cl->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(why, sizeof(why), "cannot open the account folder %s: %s", cl->dir_path, strerror(errno));
		fail_setup(cl, why);
	}
	return dfd;
}

/* Cluster nodes answer HTTP-01 with the controller's (docs/cluster.md). */
static void share_thumbprint(acme_client_t *cl)
{
	if (acme_cluster_is_controller(cl->cfg))
		acme_cluster_thumbprint_save(cl->cfg->state_dir, cl->key->thumbprint);
}

static int load_or_make_key(acme_client_t *cl)
{
	int dfd = open_account_dir(cl);
	if (dfd < 0)
		return WF_ERR;
	wf_buf_t pem;
	wf_buf_init(&pem, KEY_MAX);
	int rc = WF_OK;
	if (wf_durable_read(dfd, "account.key", KEY_MAX, &pem) == WF_OK) {
		cl->key = acme_key_load(wf_buf_slice(&pem));
		if (!cl->key) {
			fail_setup(cl, "account.key does not parse; move it away to make a new account");
			rc = WF_ERR;
		}
	} else if (errno == ENOENT) {
		cl->key = make_key_file(cl, dfd, "account.key");
		cl->key_is_new = cl->key != NULL;
		if (!cl->key) {
			fail_setup(cl, "cannot make or store the account key");
			rc = WF_ERR;
		}
	} else {
		fail_setup(cl, "cannot read account.key");
		rc = WF_ERR;
	}
	if (pem.data)
		gnutls_memset(pem.data, 0, pem.cap);
	wf_buf_fini(&pem);
	close(dfd);
	if (rc == WF_OK)
		share_thumbprint(cl);
	return rc;
}

/* The CA will not take this key's account any more (its holder deactivated
 * it, or the CA revoked it), so every order would fail until someone acts.
 * As an admin would: a new key (stored first as account.key.next) registers
 * a new account, and only once the CA has taken it does the old key move
 * aside (never deleted: it may be wanted to revoke its certificates) and
 * the new one take its name. Should the registration fail (a single-use
 * EAB key, a CA that said "unauthorized" for another reason), nothing has
 * changed on disk. Certificates already issued stay valid and keep serving. */
static void retire_account(acme_client_t *cl, const char *status, const char *detail)
{
	int dfd = open_account_dir(cl);
	if (dfd < 0)
		return;
	acme_key_t *fresh = make_key_file(cl, dfd, "account.key.next");
	close(dfd);
	if (!fresh) {
		char why[600];
		snprintf(why, sizeof(why), "the account is %s at the CA (%.200s), and a new key cannot be stored", status,
			 detail);
		/* The key that would mend it cannot be stored: that is ours to fix. */
		fail_as(cl, true, "urn:ietf:params:acme:error:unauthorized", why, -1);
		return;
	}
	wf_log_warn("acme %s: the account is %s at the CA (%s); registering a new one", cl->ca->url, status, detail);
	snprintf(cl->retired_status, sizeof(cl->retired_status), "%s", status);
	cl->retired = cl->key;
	cl->key = fresh;
	cl->kid[0] = '\0';
	create_account(cl);
}

/* The new account exists: the old key goes aside, the new one takes its name. */
static void retirement_done(acme_client_t *cl)
{
	char aside[96] = "";
	int dfd = open(cl->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool moved = false;
	if (dfd >= 0) {
		/* Never over a key kept aside before (two retirements in one second). */
		long long now = (long long)time(NULL);
		bool aside_ok = false;
		for (int i = 0; i < 10 && !aside_ok; i++) {
			if (i == 0)
				snprintf(aside, sizeof(aside), "account.key.%s-%lld", cl->retired_status, now);
			else
				snprintf(aside, sizeof(aside), "account.key.%s-%lld-%d", cl->retired_status, now, i);
			aside_ok = xfer_path_rename_new(dfd, "account.key", dfd, aside) == 0;
			if (!aside_ok && errno != EEXIST)
				break;
		}
		moved = aside_ok && renameat(dfd, "account.key.next", dfd, "account.key") == 0;
		wf_durable_sync_dir(dfd);
		close(dfd);
	}
	if (moved)
		wf_log_error("acme %s: account %s registered in place of the %s one; the old key is kept as %s/%s",
			     cl->ca->url, cl->kid, cl->retired_status, cl->dir_path, aside);
	else
		wf_log_error("acme %s: account %s registered in place of the %s one, but its key could not take the "
			     "name account.key in %s (%m): it is account.key.next there; rename it by hand",
			     cl->ca->url, cl->kid, cl->retired_status, cl->dir_path);
	acme_key_free(cl->retired);
	cl->retired = NULL;
	share_thumbprint(cl);
}

/* The new account could not be registered: back to the old key, as on disk. */
static void retirement_undo(acme_client_t *cl, const char *why)
{
	wf_log_error("acme %s: no new account in place of the %s one: %s; account.key stays as it was, and the next "
		     "attempt tries again",
		     cl->ca->url, cl->retired_status, why);
	int dfd = open(cl->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		unlinkat(dfd, "account.key.next", 0);
		close(dfd);
	}
	acme_key_free(cl->key);
	cl->key = cl->retired;
	cl->retired = NULL;
}

static void on_directory(void *arg, const acme_http_resp_t *resp)
{
	acme_client_t *cl = arg;
	note_wait(cl, resp);
	if (resp->curl_code != 0 || resp->status != 200) {
		acme_reply_t r;
		fill_reply(resp, &r);
		char detail[700];
		if (r.curl_code)
			snprintf(detail, sizeof(detail), "directory unreachable: %s", r.error);
		else if (r.is_problem)
			snprintf(detail, sizeof(detail), "directory answered HTTP %ld: %s", r.status, r.problem.detail);
		else
			snprintf(detail, sizeof(detail), "directory answered HTTP %ld", r.status);
		/* A CA that is down for maintenance or rate-limits says when to come back (429, 503). */
		fail_ca(cl, r.is_problem ? r.problem.type : "", detail, acme_reply_retry_after(&r));
		return;
	}
	char err[256];
	if (acme_msg_directory(wf_buf_slice(&resp->body), &cl->dir, err, sizeof(err)) != WF_OK) {
		char detail[400];
		snprintf(detail, sizeof(detail), "directory malformed: %s", err);
		fail_ca(cl, "", detail, -1);
		return;
	}
	nonce_put(cl, resp->replay_nonce);
	if (cl->no_account) {
		become(cl, NULL);
		return;
	}
	if (!cl->key && load_or_make_key(cl) != WF_OK)
		return;
	if (cl->key_is_new)
		create_account(cl);
	else
		post_internal(cl, cl->dir.new_account, "{\"onlyReturnExisting\":true}", true, on_account_found, cl);
}

void acme_client_ready(acme_client_t *cl, acme_ready_cb cb, void *arg)
{
	waiter_t *w = calloc(1, sizeof(*w));
	if (!w)
		abort();
	w->cb = cb;
	w->arg = arg;
	if (cl->state == CL_READY) {
		settle(cl, w, true, NULL);
		return;
	}
	w->next = cl->waiters;
	cl->waiters = w;
	if (cl->state == CL_BUSY)
		return;
	cl->state = CL_BUSY;
	if (!acme_http_request(cl->http, "GET", cl->ca->url, NULL, (wf_slice_t){ NULL, 0 }, timeout_of(cl), on_directory,
			       cl))
		fail_setup(cl, "cannot start the directory request");
}

/* ---------------------------------------------------------------- life */

acme_client_t *acme_client_new(struct ev_loop *loop, wf_config_t *cfg, const wf_acme_ca_cfg_t *ca)
{
	acme_client_t *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->loop = loop;
	cl->cfg = wf_config_ref(cfg);
	cl->ca = ca;
	cl->http = acme_http_new(loop, ca->ca_bundle[0] ? ca->ca_bundle : NULL, "wharf/" WHARF_VERSION);
	if (!cl->http) {
		wf_config_unref(cl->cfg);
		free(cl);
		return NULL;
	}
	/* One account folder per directory URL, so accounts at several CAs live
	 * side by side, those on one host too (account_dir.h). */
	if (acme_account_dir_path(cfg, ca, cl->dir_path, sizeof(cl->dir_path)) != WF_OK) {
		wf_log_error("acme %s: cannot name its account folder under %s/acme (too long a path, or no memory)",
			     ca->url, cfg->state_dir);
		acme_http_free(cl->http);
		wf_config_unref(cl->cfg);
		free(cl);
		return NULL;
	}
	wait_load(cl);
	ev_timer_init(&cl->notify, notify_waiters, 0, 0);
	ev_timer_init(&cl->pump, on_pump, 0, 0);
	return cl;
}

void acme_client_free(acme_client_t *cl)
{
	if (!cl)
		return;
	acme_http_free(cl->http); /* no callbacks run after this */
	while (cl->reqs)
		req_free(cl->reqs);
	/* Last: freeing an active request restarts the pump. */
	ev_timer_stop(cl->loop, &cl->notify);
	ev_timer_stop(cl->loop, &cl->pump);
	waiter_t *lists[] = { cl->waiters, cl->due };
	for (size_t i = 0; i < 2; i++)
		while (lists[i]) {
			waiter_t *w = lists[i];
			lists[i] = w->next;
			free(w);
		}
	acme_key_free(cl->key);
	acme_key_free(cl->retired);
	wf_config_unref(cl->cfg);
	free(cl);
}

void acme_client_without_account(acme_client_t *cl)
{
	cl->no_account = true;
}

bool acme_client_account_stored(const acme_client_t *cl)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/account.key", cl->dir_path);
	return access(path, F_OK) == 0;
}

const acme_directory_t *acme_client_directory(const acme_client_t *cl)
{
	return &cl->dir;
}

const acme_key_t *acme_client_account_key(const acme_client_t *cl)
{
	return cl->key;
}

const char *acme_client_url(const acme_client_t *cl)
{
	return cl->ca->url;
}
