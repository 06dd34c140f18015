/* One certificate order: see order.h. */
#include "order.h"
#include "challenges.h"
#include "dns01.h"
#include "csr.h"
#include "jws.h"
#include "thumbprints.h"
#include "../server/durable.h"
#include "../server/san.h"
#include "../server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define POLL_FIRST 0.05
/* Seconds a controller's new order waits for its followers to learn a new
 * account thumbprint: a long poll hears of it within a second, a follower
 * with no bundle yet asks every 2 s (+20 %). */
#define FOLLOWERS_CATCHUP 4
#define POLL_GROWTH 1.5
#define POLL_MAX 2.0

typedef struct job_authz {
	char url[ACME_URL_MAX];
	char identifier[ACME_NAME_MAX];
} job_authz_t;

struct acme_job;

/* A dns-01 TXT record the hook was asked to add; removed when the order ends.
 * Its address is the queued add's owner, so it never moves. */
typedef struct job_dns {
	struct acme_job *job;            /* borrowed: the order it belongs to */
	char name[ACME_NAME_MAX + 16];   /* "_acme-challenge." and the identifier */
	char value[ACME_DNS01_VALUE_MAX];
	char domain[ACME_NAME_MAX + 2];  /* as configured: "*.example.com" for a wildcard */
	char chal_url[ACME_URL_MAX];     /* POSTed once the record is served */
	bool not_run;                    /* the hook could not be started: nothing to remove */
} job_dns_t;

struct acme_job {
	struct ev_loop *loop;
	acme_client_t *cl;   /* borrowed: outlives the job */
	char name[128];
	char **domains;      /* owned copy */
	size_t ndomains;
	char challenge[16];  /* "http-01", "tls-alpn-01" or "dns-01" */
	char **dns_hook;     /* owned copy of the certificate's dns_hook argv */
	size_t ndns_hook;
	job_dns_t *dns;      /* owned: one slot per authorization (dns-01) */
	size_t ndns;         /* records added, whose removal is owed */
	char profile[64];
	char replaces[256]; /* ARI id of the certificate being replaced, or "" */
	char cert_dir[1024]; /* STATE/certs/NAME: where the pending order is kept */
	bool resumed;        /* picked up from pending.order: one chance, then afresh */
	bool from_pending;   /* the order running is that one (not one ordered anew since) */
	acme_key_type_t key_type;
	acme_key_t *cert_key; /* owned */
	acme_job_state_t state;
	char order_url[ACME_URL_MAX];
	char finalize_url[ACME_URL_MAX];
	char cert_url[ACME_URL_MAX];
	job_authz_t *authz;  /* owned */
	size_t nauthz;
	int outstanding;     /* replies still expected in AUTHZ */
	char **tokens;       /* published HTTP-01 tokens (owned) */
	size_t ntokens;
	char **alpn_names;   /* published TLS-ALPN-01 names (owned) */
	size_t nalpn;
	ev_timer poll;
	double poll_delay;
	ev_timer deadline;   /* stopped while dns_waiting: the hook queue's time is not the order's */
	double deadline_s;   /* its length: acme.order_timeout */
	double deadline_left; /* what was left of it when it stopped for the hooks */
	int dns_waiting;     /* its dns_hook adds queued or running */
	bool dns_waited;     /* the deadline stood still for them at least once */
	ev_timer finish;     /* delivers the result from the loop */
	bool tell_followers; /* a cluster controller's: followers learn the account's thumbprint first */
	ev_timer followers;  /* the new order waits for them (FOLLOWERS_CATCHUP) */
	acme_result_t result;
	wf_buf_t chain, keypem;
	acme_job_done_cb cb;
	void *arg;
};

const char *acme_job_state_name(acme_job_state_t s)
{
	static const char *const names[] = { "waiting for the account", "new order", "authorizations",
					     "waiting for validation", "finalize", "waiting for issuance",
					     "download", "done", "failed" };
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

acme_job_state_t acme_job_state(const acme_job_t *j)
{
	return j->state;
}

static acme_dns_call_t dns_call(const acme_job_t *j, const job_dns_t *d)
{
	return (acme_dns_call_t){ j->dns_hook, j->ndns_hook, j->name, d->domain, d->name, d->value };
}

/* Every record the hook added, or may have, goes away again, whatever the
 * order's fate: the removes queue behind the adds (dns01.h), and an add not
 * yet done reports to nobody. */
static void dns_remove_all(acme_job_t *j)
{
	for (size_t i = 0; i < j->ndns; i++) {
		/* An add that never ran added nothing, and one whose hook could
		 * not start has told the admin so once already. */
		if (acme_dns_forget(&j->dns[i]) || j->dns[i].not_run)
			continue;
		acme_dns_call_t call = dns_call(j, &j->dns[i]);
		acme_dns_remove(j->loop, &call);
	}
	free(j->dns);
	j->dns = NULL;
	j->ndns = 0;
}

static void withdraw_challenges(acme_job_t *j)
{
	dns_remove_all(j);
	if (j->ntokens || j->nalpn)
		acme_challenges_remove(j->tokens, j->ntokens, j->alpn_names, j->nalpn);
	for (size_t i = 0; i < j->ntokens; i++)
		free(j->tokens[i]);
	for (size_t i = 0; i < j->nalpn; i++)
		free(j->alpn_names[i]);
	free(j->tokens);
	free(j->alpn_names);
	j->tokens = j->alpn_names = NULL;
	j->ntokens = j->nalpn = 0;
}

static void job_free(acme_job_t *j)
{
	ev_timer_stop(j->loop, &j->poll);
	ev_timer_stop(j->loop, &j->deadline);
	ev_timer_stop(j->loop, &j->finish);
	ev_timer_stop(j->loop, &j->followers);
	acme_client_cancel_all(j->cl, j);
	withdraw_challenges(j);
	for (size_t i = 0; i < j->ndomains; i++)
		free(j->domains[i]);
	free(j->domains);
	for (size_t i = 0; i < j->ndns_hook; i++)
		free(j->dns_hook[i]);
	free(j->dns_hook);
	free(j->authz);
	acme_key_free(j->cert_key);
	if (j->keypem.data)
		gnutls_memset(j->keypem.data, 0, j->keypem.cap);
	wf_buf_fini(&j->keypem);
	wf_buf_fini(&j->chain);
	free(j);
}

/* Resumable orders: pending.order holds the order URL as soon as the CA made
 * it, and pending.key (0600) the certificate key before finalize is sent, so
 * a restart picks the order up where the CA has it instead of ordering again
 * (and an issued certificate is never lost for want of its key). */
static int pending_open(const acme_job_t *j)
{
	return open(j->cert_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void pending_clear(acme_job_t *j);

static bool pending_save(acme_job_t *j, const char *name, const char *data, size_t len, mode_t mode)
{
	int dfd = pending_open(j);
	bool ok = dfd >= 0 && wf_durable_write(dfd, name, data, len, mode) == WF_OK;
	if (!ok)
		wf_log_warn("certificate %s: cannot keep %s for a restart: %m", j->name, name);
	if (dfd >= 0)
		close(dfd);
	return ok;
}

/* pending.order: the order URL, then the CA and the names it was for, one per
 * line, so a restart after a config change (or a CA fallback) does not resume
 * an order for other names or at another CA. */
static void pending_identity(const acme_job_t *j, wf_buf_t *out)
{
	wf_buf_printf(out, "%s\n", acme_client_url(j->cl));
	for (size_t i = 0; i < j->ndomains; i++)
		wf_buf_printf(out, "%s%s", i ? " " : "", j->domains[i]);
	wf_buf_append_str(out, "\n");
}

static void pending_save_order(acme_job_t *j)
{
	wf_buf_t b;
	wf_buf_init(&b, 64 * 1024);
	wf_buf_printf(&b, "%s\n", j->order_url);
	pending_identity(j, &b);
	pending_save(j, "pending.order", wf_buf_head(&b), wf_buf_size(&b), 0644);
	wf_buf_fini(&b);
}

static void pending_clear_at(const char *cert_dir)
{
	int dfd = open(cert_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	/* The key first: a stop in between leaves an order URL, which a
	 * resume without its key drops ("its key is gone"), not a spare copy
	 * of a private key that nothing would ever read or remove. */
	unlinkat(dfd, "pending.key", 0);
	unlinkat(dfd, "pending.order", 0);
	close(dfd);
}

/* The thumbprint of the first key in name, in dfd; false when unreadable. */
static bool key_thumbprint_at(int dfd, const char *name, char out[64])
{
	wf_buf_t pem;
	wf_buf_init(&pem, 1 << 20);
	acme_key_t *k = wf_durable_read(dfd, name, 1 << 20, &pem) == WF_OK ? acme_key_load(wf_buf_slice(&pem)) : NULL;
	if (k)
		memcpy(out, k->thumbprint, 64);
	acme_key_free(k);
	if (pem.data)
		gnutls_memset(pem.data, 0, pem.cap);
	wf_buf_fini(&pem);
	return k != NULL;
}

void acme_job_tidy_pending(const char *state_dir, const char *name)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/certs/%s", state_dir, name);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	char pending[64], issued[64];
	bool same = key_thumbprint_at(dfd, "pending.key", pending) && key_thumbprint_at(dfd, "issued.pem", issued) &&
		    memcmp(pending, issued, sizeof(pending)) == 0;
	bool order = faccessat(dfd, "pending.order", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	close(dfd);
	if (!same)
		return;
	pending_clear_at(dir);
	wf_log_info("certificate %s: %s the key of the certificate issued.pem holds (a stop came between storing it "
		    "and tidying up); removed",
		    name, order ? "the unfinished order in pending.order was finalized with" : "pending.key is");
}

static void pending_clear(acme_job_t *j)
{
	pending_clear_at(j->cert_dir);
}

void acme_job_forget_pending(const char *state_dir, const char *name)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/certs/%s", state_dir, name);
	pending_clear_at(dir);
}

static void on_finish(struct ev_loop *loop, ev_timer *t, int revents)
{
	acme_job_t *j = wf_container_of(t, acme_job_t, finish);
	acme_result_t res = j->result;
	res.chain_pem = wf_buf_slice(&j->chain);
	res.key_pem = wf_buf_slice(&j->keypem);
	res.resumed = j->from_pending;
	acme_job_done_cb cb = j->cb;
	void *arg = j->arg;
	cb(arg, &res);
	job_free(j);
}

static void finish(acme_job_t *j)
{
	/* The pending files stay until the certificate is stored for good (the
	 * owner calls acme_job_forget_pending), and after a failure with no word
	 * from the CA (no answer, its internal error, a timeout, a local fault),
	 * so the next attempt resumes the order rather than paying for a new
	 * one. When the CA said no, or a resumed order fails too, the next
	 * attempt starts afresh: one that fails the same way (a chain that
	 * does not match, a CA stuck in processing) is not resumed for ever.
	 * A no to the directory or the account (a rate limit there) is no word
	 * on the order, which the next attempt asks about as it would have. */
	if (!j->result.ok && j->result.failed_in != ACME_JOB_WAIT_CLIENT &&
	    (j->resumed || (j->result.problem_type[0] && !strstr(j->result.problem_type, ":serverInternal"))))
		pending_clear(j);
	ev_timer_stop(j->loop, &j->poll);
	ev_timer_stop(j->loop, &j->deadline);
	ev_timer_stop(j->loop, &j->followers);
	acme_client_cancel_all(j->cl, j);
	withdraw_challenges(j);
	ev_timer_set(&j->finish, 0, 0);
	ev_timer_start(j->loop, &j->finish);
}

static void vfail(acme_job_t *j, bool local, const char *type, const char *domain, long retry_after, const char *fmt,
		  va_list ap) WF_PRINTF(6, 0);
static void vfail(acme_job_t *j, bool local, const char *type, const char *domain, long retry_after, const char *fmt,
		  va_list ap)
{
	if (j->state == ACME_JOB_FAILED || j->state == ACME_JOB_DONE)
		return;
	j->result.ok = false;
	j->result.local = local;
	j->result.failed_in = j->state;
	snprintf(j->result.problem_type, sizeof(j->result.problem_type), "%s", type ? type : "");
	snprintf(j->result.domain, sizeof(j->result.domain), "%s", domain ? domain : "");
	j->result.retry_after = retry_after;
	vsnprintf(j->result.detail, sizeof(j->result.detail), fmt, ap);
	j->state = ACME_JOB_FAILED;
	finish(j);
}

/* The CA's doing: its answer, its silence, or what it asks for. */
static void fail(acme_job_t *j, const char *type, const char *domain, long retry_after, const char *fmt, ...)
	WF_PRINTF(5, 6);
static void fail(acme_job_t *j, const char *type, const char *domain, long retry_after, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(j, false, type, domain, retry_after, fmt, ap);
	va_end(ap);
}

/* Ours: a hook, a key or a file this machine could not make. Says nothing about the CA. */
static void fail_ours(acme_job_t *j, const char *domain, const char *fmt, ...) WF_PRINTF(3, 4);
static void fail_ours(acme_job_t *j, const char *domain, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(j, true, "", domain, -1, fmt, ap);
	va_end(ap);
}

/* Nothing asked of the CA: it asked this account to wait (client.h). */
static void fail_waited(acme_job_t *j)
{
	if (j->state == ACME_JOB_FAILED || j->state == ACME_JOB_DONE)
		return;
	j->result.waited = true;
	time_t until = acme_client_not_before(j->cl);
	char at[32] = "a moment ago";
	struct tm tm;
	if (until) {
		gmtime_r(&until, &tm);
		strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	fail_ours(j, NULL, "not sent: the CA asked to wait until %s", at);
}

/* A reply that is not what the step expects: one failure with what the CA said. */
static void fail_reply(acme_job_t *j, const char *what, const acme_reply_t *r)
{
	long ra = acme_reply_retry_after(r);
	if (r->waited)
		fail_waited(j);
	else if (r->local) /* never sent: a request we could not sign */
		fail_ours(j, NULL, "%s: %s", what, r->error ? r->error : "?");
	else if (r->account_lost) /* as a failed account step (on_client_ready) */
		fail(j, r->account_lost->problem.type, NULL, r->account_lost->retry_after, "%s",
		     r->account_lost->problem.detail);
	else if (r->curl_code)
		fail(j, "", NULL, ra, "%s: no answer from the CA: %s", what, r->error ? r->error : "?");
	else if (r->is_problem)
		fail(j, r->problem.type, r->problem.identifier, ra, "%s: HTTP %ld: %s", what, r->status, r->problem.detail);
	else
		fail(j, "", NULL, ra, "%s: unexpected HTTP %ld", what, r->status);
}

static void poll_order(acme_job_t *j);

static void schedule_poll(acme_job_t *j, const acme_reply_t *r)
{
	double delay = j->poll_delay;
	long ra = r ? acme_reply_retry_after(r) : -1;
	/* The CA's word, within bounds: a longer wait is taken (up to a
	 * minute), a shorter one never makes us poll faster than our own
	 * growing delay, so Retry-After: 0 cannot have us poll flat out. */
	if (ra >= 0 && (double)ra > delay)
		delay = ra > 60 ? 60 : (double)ra;
	j->poll_delay = j->poll_delay * POLL_GROWTH > POLL_MAX ? POLL_MAX : j->poll_delay * POLL_GROWTH;
	ev_timer_set(&j->poll, delay, 0);
	ev_timer_start(j->loop, &j->poll);
}

static void on_poll_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	poll_order(wf_container_of(t, acme_job_t, poll));
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
	acme_job_t *j = wf_container_of(t, acme_job_t, deadline);
	fail(j, "", NULL, -1, "the order did not complete within %.0f s%s (stuck in %s)", j->deadline_s,
	     j->dns_waited ? ", not counting its wait for dns_hook" : "", acme_job_state_name(j->state));
}

/* The dns_hook queue is the process's, one call at a time: orders that start
 * together wait for each other's hooks. That wait is not the order's (each
 * call has a limit of its own), so its clock stands still meanwhile. */
static void dns_wait_begin(acme_job_t *j)
{
	if (j->dns_waiting++ > 0)
		return;
	j->dns_waited = true;
	j->deadline_left = ev_timer_remaining(j->loop, &j->deadline);
	ev_timer_stop(j->loop, &j->deadline);
}

static void dns_wait_end(acme_job_t *j)
{
	if (--j->dns_waiting > 0)
		return;
	ev_timer_set(&j->deadline, j->deadline_left > 0 ? j->deadline_left : 0, 0);
	ev_timer_start(j->loop, &j->deadline);
}

/* ---------------------------------------------------------------- download */

static void on_certificate(void *arg, const acme_reply_t *r)
{
	acme_job_t *j = arg;
	if (r->curl_code || r->status != 200) {
		fail_reply(j, "certificate download", r);
		return;
	}
	wf_buf_reset(&j->chain);
	if (wf_buf_append(&j->chain, r->body.ptr, r->body.len) != WF_OK) {
		fail(j, "", NULL, -1, "certificate download: the chain is larger than %d KiB", ACME_CHAIN_MAX / 1024);
		return;
	}
	/* Distrust the CA's bytes too: the chain must parse, match our key and
	 * cover every name before anything is stored or served. */
	char err[256];
	wf_certkey_t *ck = wf_certkey_new(j->name, j->domains, j->ndomains, wf_buf_slice(&j->chain),
					  wf_buf_slice(&j->keypem), false, err, sizeof(err));
	if (!ck) {
		fail(j, "", NULL, -1, "certificate download: the chain is unusable: %s", err);
		return;
	}
	/* A certificate outside its dates would be served and renewed at once,
	 * again and again: refused, as a CA's failure (backoff, the next CA).
	 * An hour of leeway for a notBefore ahead of our clock. */
	time_t now = time(NULL), nb = ck->not_before, na = ck->not_after;
	wf_certkey_unref(ck);
	if (na <= now || nb > now + ACME_CERT_SKEW) {
		char when[32];
		struct tm tm;
		gmtime_r(na <= now ? &na : &nb, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fail(j, "", NULL, -1, "certificate download: the certificate %s %s", na <= now ? "expired at" : "is valid only from",
		     when);
		return;
	}
	if (!wf_certkey_pem_covers(wf_buf_slice(&j->chain), j->domains, j->ndomains)) {
		fail(j, "", NULL, -1, "certificate download: the certificate does not cover every configured name");
		return;
	}
	j->state = ACME_JOB_DONE;
	j->result.ok = true;
	finish(j);
}

static void download(acme_job_t *j)
{
	j->state = ACME_JOB_DOWNLOAD;
	acme_client_post(j->cl, j->cert_url, NULL, on_certificate, j);
}

/* ---------------------------------------------------------------- finalize */

static void handle_order(acme_job_t *j, const acme_order_t *o, const acme_reply_t *r);

static void on_order_reply(void *arg, const acme_reply_t *r)
{
	acme_job_t *j = arg;
	if (r->curl_code || r->status != 200) {
		fail_reply(j, j->state == ACME_JOB_FINALIZE ? "finalize" : "order status", r);
		return;
	}
	acme_order_t o;
	char err[256];
	if (acme_msg_order(r->body, &o, err, sizeof(err)) != WF_OK) {
		fail(j, "", NULL, -1, "malformed order from the CA: %s", err);
		return;
	}
	handle_order(j, &o, r);
	acme_order_fini(&o);
}

static void finalize(acme_job_t *j)
{
	j->state = ACME_JOB_FINALIZE;
	if (!j->cert_key) {
		j->cert_key = acme_key_generate(j->key_type);
		wf_buf_reset(&j->keypem);
		if (!j->cert_key || acme_key_export(j->cert_key, &j->keypem) != WF_OK) {
			fail_ours(j, NULL, "cannot make the certificate key");
			return;
		}
	}
	/* Never a certificate whose key a crash could lose: the CA would count
	 * its replacement against the rate limits. */
	if (!pending_save(j, "pending.key", wf_buf_head(&j->keypem), wf_buf_size(&j->keypem), 0600)) {
		fail_ours(j, NULL, "cannot store the certificate key before finalizing: %s", strerror(errno));
		return;
	}
	wf_buf_t csr, payload;
	wf_buf_init(&csr, 256 * 1024);
	wf_buf_init(&payload, 256 * 1024);
	if (acme_csr_make(j->cert_key, j->domains, j->ndomains, &csr) != WF_OK ||
	    wf_buf_printf(&payload, "{\"csr\":\"%.*s\"}", (int)wf_buf_size(&csr), wf_buf_head(&csr)) != WF_OK) {
		wf_buf_fini(&csr);
		wf_buf_fini(&payload);
		fail_ours(j, NULL, "cannot make the CSR");
		return;
	}
	wf_buf_append(&payload, "", 1);
	acme_client_post(j->cl, j->finalize_url, wf_buf_head(&payload), on_order_reply, j);
	wf_buf_fini(&csr);
	wf_buf_fini(&payload);
}

/* ---------------------------------------------------------------- diagnosis */

/* An invalid order says little; the failing challenge says what went wrong. */
static void on_diagnose(void *arg, const acme_reply_t *r)
{
	acme_job_t *j = arg;
	acme_authz_t a;
	char err[128];
	if (--j->outstanding < 0)
		j->outstanding = 0;
	if (!r->curl_code && r->status == 200 && acme_msg_authz(r->body, &a, err, sizeof(err)) == WF_OK &&
	    a.status == ACME_ST_INVALID) {
		for (size_t i = 0; i < a.nchallenges; i++)
			if (a.challenges[i].error.type[0]) {
				fail(j, a.challenges[i].error.type, a.identifier, -1, "validation of %s failed: %s",
				     a.identifier, a.challenges[i].error.detail);
				return;
			}
		fail(j, "", a.identifier, -1, "validation of %s failed", a.identifier);
		return;
	}
	if (j->outstanding == 0)
		fail(j, "", NULL, -1, "the order became invalid");
}

static void diagnose(acme_job_t *j)
{
	j->outstanding = (int)j->nauthz;
	for (size_t i = 0; i < j->nauthz; i++)
		acme_client_post(j->cl, j->authz[i].url, NULL, on_diagnose, j);
	if (!j->nauthz)
		fail(j, "", NULL, -1, "the order became invalid");
}

static void handle_order(acme_job_t *j, const acme_order_t *o, const acme_reply_t *r)
{
	if (o->finalize[0])
		snprintf(j->finalize_url, sizeof(j->finalize_url), "%s", o->finalize);
	if (o->certificate[0])
		snprintf(j->cert_url, sizeof(j->cert_url), "%s", o->certificate);
	switch (o->status) {
	case ACME_ST_READY:
		/* Finalize answered, issuance not begun: polled until it begins
		 * (or order_timeout), never finalized again in this attempt. */
		if (j->state == ACME_JOB_FINALIZE || j->state == ACME_JOB_POLL_VALID) {
			j->state = ACME_JOB_POLL_VALID;
			schedule_poll(j, r);
			return;
		}
		finalize(j);
		return;
	case ACME_ST_VALID:
		if (!j->cert_url[0]) {
			fail(j, "", NULL, -1, "the order is valid but names no certificate");
			return;
		}
		download(j);
		return;
	case ACME_ST_PROCESSING:
		if (j->state == ACME_JOB_FINALIZE) {
			/* Issuance usually takes the CA a moment: ask again at once once. */
			j->state = ACME_JOB_POLL_VALID;
			poll_order(j);
			return;
		}
		j->state = ACME_JOB_POLL_VALID;
		schedule_poll(j, r);
		return;
	case ACME_ST_PENDING:
		if (j->state == ACME_JOB_POLL_READY) {
			schedule_poll(j, r);
			return;
		}
		fail(j, "", NULL, -1, "the order is still pending in step %s", acme_job_state_name(j->state));
		return;
	case ACME_ST_INVALID:
		if (o->error.type[0] && strcmp(o->error.type, "urn:ietf:params:acme:error:unauthorized") != 0 &&
		    j->state != ACME_JOB_POLL_READY) {
			fail(j, o->error.type, o->error.identifier, -1, "the order is invalid: %s", o->error.detail);
			return;
		}
		diagnose(j);
		return;
	default:
		fail(j, "", NULL, -1, "the order has status %s", acme_status_name(o->status));
		return;
	}
}

static void poll_order(acme_job_t *j)
{
	acme_client_post(j->cl, j->order_url, NULL, on_order_reply, j);
}

/* ---------------------------------------------------------------- authorizations */

static void authz_step_done(acme_job_t *j)
{
	if (--j->outstanding > 0 || j->state != ACME_JOB_AUTHZ)
		return;
	/* Every challenge is answered: now poll the order, at once first. */
	j->state = ACME_JOB_POLL_READY;
	j->poll_delay = POLL_FIRST;
	poll_order(j);
}

static void on_challenge_posted(void *arg, const acme_reply_t *r)
{
	acme_job_t *j = arg;
	if (r->curl_code || r->status != 200) {
		fail_reply(j, "challenge", r);
		return;
	}
	authz_step_done(j);
}

static void on_dns_added(void *owner, acme_dns_result_t result)
{
	job_dns_t *d = owner;
	acme_job_t *j = d->job;
	dns_wait_end(j);
	d->not_run = result == ACME_DNS_NOT_RUN;
	if (result != ACME_DNS_OK) {
		fail_ours(j, d->domain, "dns_hook could not publish the TXT record %s (see the line above)", d->name);
		return;
	}
	if (!d->chal_url[0]) { /* the CA is checking already (an order resumed after a restart) */
		authz_step_done(j);
		return;
	}
	wf_log_info("certificate %s: TXT record %s published; asking the CA to check it", j->name, d->name);
	acme_client_post(j->cl, d->chal_url, "{}", on_challenge_posted, j);
}

/* Is name one this order asked for? The CA's word alone must not make the
 * hook write records for names nobody configured. */
static bool ordered(const acme_job_t *j, const char *name)
{
	for (size_t i = 0; i < j->ndomains; i++)
		if (strcasecmp(j->domains[i], name) == 0)
			return true;
	return false;
}

/* dns-01: the hook adds the record; the challenge is POSTed once it says the
 * record is served. */
static void publish_dns(acme_job_t *j, const acme_authz_t *a, const acme_challenge_t *ch, const char *keyauth)
{
	if (!j->dns || j->ndns >= j->nauthz) {
		fail_ours(j, a->identifier, "out of memory");
		return;
	}
	job_dns_t *d = &j->dns[j->ndns];
	memset(d, 0, sizeof(*d));
	d->job = j;
	snprintf(d->domain, sizeof(d->domain), "%s%s", a->wildcard ? "*." : "", a->identifier);
	if (!ordered(j, d->domain)) {
		fail(j, "", a->identifier, -1, "the CA asks about %s, which this order does not name", d->domain);
		return;
	}
	if (acme_dns01_value(keyauth, d->value, sizeof(d->value)) != WF_OK) {
		fail_ours(j, a->identifier, "cannot compute the dns-01 record");
		return;
	}
	snprintf(d->name, sizeof(d->name), "_acme-challenge.%s", a->identifier);
	if (ch->status == ACME_ST_PENDING)
		snprintf(d->chal_url, sizeof(d->chal_url), "%s", ch->url);
	acme_dns_call_t call = dns_call(j, d);
	if (!acme_dns_add(j->loop, &call, on_dns_added, d)) {
		fail_ours(j, d->domain, "out of memory");
		return;
	}
	j->ndns++; /* owed a removal from now on, whatever the add does */
	dns_wait_begin(j);
}

static void publish(acme_job_t *j, const acme_authz_t *a, const acme_challenge_t *ch)
{
	const acme_key_t *account = acme_client_account_key(j->cl);
	char keyauth[ACME_TOKEN_MAX + 80];
	if (acme_key_authorization(account, ch->token, keyauth, sizeof(keyauth)) != WF_OK) {
		fail_ours(j, a->identifier, "cannot compute the key authorization");
		return;
	}
	if (strcmp(ch->type, "dns-01") == 0) {
		publish_dns(j, a, ch, keyauth);
		return;
	}
	if (strcmp(ch->type, "http-01") == 0) {
		acme_challenges_add_http(ch->token, keyauth);
		j->tokens = realloc(j->tokens, (j->ntokens + 1) * sizeof(char *));
		j->tokens[j->ntokens++] = strdup(ch->token);
		return;
	}
	/* An address is asked for by its reverse name (RFC 8738 6): that is the
	 * SNI the validator sends, and the key the responder finds it by. */
	char sni[ACME_NAME_MAX];
	if (acme_alpn_sni(a->identifier, sni, sizeof(sni)) != WF_OK) {
		fail_ours(j, a->identifier, "cannot name the tls-alpn-01 certificate");
		return;
	}
	wf_buf_t cert, key;
	wf_buf_init(&cert, 64 * 1024);
	wf_buf_init(&key, 64 * 1024);
	char err[256];
	char *names[1] = { sni };
	wf_certkey_t *ck = NULL;
	if (acme_tlsalpn_cert(a->identifier, keyauth, &cert, &key) == WF_OK)
		ck = wf_certkey_new(a->identifier, names, 1, wf_buf_slice(&cert), wf_buf_slice(&key), true, err,
				    sizeof(err));
	wf_buf_fini(&cert);
	wf_buf_fini(&key);
	if (!ck) {
		fail_ours(j, a->identifier, "cannot make the tls-alpn-01 certificate");
		return;
	}
	acme_challenges_add_alpn(sni, ck);
	j->alpn_names = realloc(j->alpn_names, (j->nalpn + 1) * sizeof(char *));
	j->alpn_names[j->nalpn++] = strdup(sni);
}

static void on_authz(void *arg, const acme_reply_t *r)
{
	acme_job_t *j = arg;
	if (r->curl_code || r->status != 200) {
		fail_reply(j, "authorization", r);
		return;
	}
	acme_authz_t a;
	char err[256];
	if (acme_msg_authz(r->body, &a, err, sizeof(err)) != WF_OK) {
		fail(j, "", NULL, -1, "malformed authorization from the CA: %s", err);
		return;
	}
	switch (a.status) {
	case ACME_ST_VALID: /* reused from an earlier order */
		authz_step_done(j);
		return;
	case ACME_ST_PENDING:
		break;
	default:
		fail(j, "", a.identifier, -1, "authorization for %s is %s", a.identifier, acme_status_name(a.status));
		return;
	}
	/* Never by position: the CA may list challenges in any order. */
	const acme_challenge_t *ch = NULL;
	for (size_t i = 0; i < a.nchallenges; i++)
		if (strcmp(a.challenges[i].type, j->challenge) == 0)
			ch = &a.challenges[i];
	if (!ch || !ch->token[0]) {
		fail(j, "", a.identifier, -1, "the CA offers no %s challenge for %s", j->challenge, a.identifier);
		return;
	}
	publish(j, &a, ch);
	if (j->state == ACME_JOB_FAILED || !strcmp(ch->type, "dns-01")) /* it goes on when the hook is done */
		return;
	if (ch->status == ACME_ST_PENDING) {
		acme_client_post(j->cl, ch->url, "{}", on_challenge_posted, j);
		return;
	}
	authz_step_done(j); /* already processing or valid */
}

/* ---------------------------------------------------------------- new order */

/* Every authorization fetched at once; each is answered as it arrives. */
static void start_authz(acme_job_t *j, const acme_order_t *o)
{
	j->state = ACME_JOB_AUTHZ;
	free(j->authz);
	j->nauthz = o->nauthz;
	j->authz = calloc(o->nauthz + 1, sizeof(*j->authz));
	if (!strcmp(j->challenge, "dns-01"))
		j->dns = calloc(o->nauthz + 1, sizeof(*j->dns)); /* one order per job: none before */
	/* One step per authorization: done when it is valid already, or when
	 * its challenge was answered. Replies come from the loop, after this. */
	j->outstanding = (int)o->nauthz;
	for (size_t i = 0; i < o->nauthz; i++) {
		snprintf(j->authz[i].url, sizeof(j->authz[i].url), "%s", o->authorizations[i]);
		acme_client_post(j->cl, j->authz[i].url, NULL, on_authz, j);
	}
	if (o->nauthz == 0) /* nothing to answer: the order should be ready */
		authz_step_done(j);
}

static void new_order(acme_job_t *j);

static void on_new_order(void *arg, const acme_reply_t *r)
{
	acme_job_t *j = arg;
	if (r->curl_code || (r->status != 201 && r->status != 200) || !r->location || !r->location[0]) {
		/* A CA may refuse "replaces" (already replaced, or a certificate it
		 * did not issue): the renewal matters more than the rate-limit relief.
		 * Not for other refusals (rateLimited, its own errors): ordering again
		 * at once would ignore their Retry-After. */
		if (!r->curl_code && j->replaces[0] && r->is_problem &&
		    (strstr(r->problem.type, ":alreadyReplaced") || strstr(r->problem.type, ":malformed") ||
		     strstr(r->problem.type, ":conflict"))) {
			wf_log_info("certificate %s: the CA refused the order naming what it replaces (%s); ordering "
				    "without it",
				    j->name, r->is_problem ? r->problem.type : "no problem document");
			j->replaces[0] = '\0';
			new_order(j);
			return;
		}
		fail_reply(j, "new order", r);
		return;
	}
	snprintf(j->order_url, sizeof(j->order_url), "%s", r->location);
	acme_order_t o;
	char err[256];
	if (acme_msg_order(r->body, &o, err, sizeof(err)) != WF_OK) {
		fail(j, "", NULL, -1, "malformed order from the CA: %s", err);
		return;
	}
	pending_save_order(j);
	snprintf(j->finalize_url, sizeof(j->finalize_url), "%s", o.finalize);
	if (o.status == ACME_ST_PENDING) {
		start_authz(j, &o);
		acme_order_fini(&o);
		return;
	}
	j->state = ACME_JOB_POLL_READY;
	handle_order(j, &o, r);
	acme_order_fini(&o);
}

/* The answer about an order found in pending.order after a restart. */
static void on_resumed(void *arg, const acme_reply_t *r)
{
	acme_job_t *j = arg;
	acme_order_t o;
	char err[256];
	/* No word on the order (no answer, the CA's own error), or a rate limit:
	 * a new order at once would only be refused too. The next attempt, after
	 * the CA's Retry-After, orders afresh (a resumed order gets one chance). */
	if (r->curl_code || r->status >= 500 || r->status == 429) {
		fail_reply(j, "resuming the order", r);
		return;
	}
	if (r->status != 200 || acme_msg_order(r->body, &o, err, sizeof(err)) != WF_OK) {
		wf_log_info("certificate %s: the unfinished order cannot be resumed (%s); ordering anew", j->name,
			    r->curl_code ? "no answer" : r->is_problem ? r->problem.type : "unexpected answer");
		pending_clear(j);
		new_order(j);
		return;
	}
	bool needs_key = o.status == ACME_ST_PROCESSING || o.status == ACME_ST_VALID;
	if (o.status == ACME_ST_INVALID || o.status == ACME_ST_EXPIRED || (needs_key && !j->cert_key)) {
		wf_log_info("certificate %s: the unfinished order is %s; ordering anew", j->name,
			    needs_key ? "past finalize but its key is gone" : acme_status_name(o.status));
		acme_order_fini(&o);
		pending_clear(j);
		new_order(j);
		return;
	}
	snprintf(j->finalize_url, sizeof(j->finalize_url), "%s", o.finalize);
	if (o.status == ACME_ST_PENDING)
		start_authz(j, &o);
	else
		handle_order(j, &o, r);
	acme_order_fini(&o);
}

/* Looks for an order a previous run left unfinished. */
static bool resume(acme_job_t *j)
{
	int dfd = pending_open(j);
	if (dfd < 0)
		return false;
	wf_buf_t url, key;
	wf_buf_init(&url, 68 * 1024); /* wf_durable_read reads 4 KiB at a time */
	wf_buf_init(&key, 64 * 1024);
	bool found = wf_durable_read(dfd, "pending.order", 64 * 1024, &url) == WF_OK && wf_buf_size(&url) > 8;
	if (found) {
		const char *nl = memchr(wf_buf_head(&url), '\n', wf_buf_size(&url));
		wf_buf_t want;
		wf_buf_init(&want, 64 * 1024);
		pending_identity(j, &want);
		size_t ulen = nl ? (size_t)(nl - wf_buf_head(&url)) : 0;
		found = nl && ulen < sizeof(j->order_url) && wf_buf_size(&url) - ulen - 1 == wf_buf_size(&want) &&
			memcmp(nl + 1, wf_buf_head(&want), wf_buf_size(&want)) == 0;
		wf_buf_fini(&want);
		if (!found)
			wf_log_info("certificate %s: an unfinished order was for other names or another CA; not resumed",
				    j->name);
		else
			snprintf(j->order_url, sizeof(j->order_url), "%.*s", (int)ulen, wf_buf_head(&url));
	}
	if (found && wf_durable_read(dfd, "pending.key", 64 * 1024, &key) == WF_OK) {
		/* The key finalize was sent with wins over a reuse_key one: the
		 * CA's certificate, if any, is for it. */
		acme_key_t *k = acme_key_load(wf_buf_slice(&key));
		wf_buf_t pem;
		wf_buf_init(&pem, 64 * 1024);
		if (k && acme_key_export(k, &pem) == WF_OK) {
			acme_key_free(j->cert_key);
			j->cert_key = k;
			if (j->keypem.data)
				gnutls_memset(j->keypem.data, 0, j->keypem.cap);
			wf_buf_reset(&j->keypem);
			wf_buf_append(&j->keypem, wf_buf_head(&pem), wf_buf_size(&pem));
		} else {
			acme_key_free(k);
		}
		if (pem.data)
			gnutls_memset(pem.data, 0, pem.cap);
		wf_buf_fini(&pem);
	}
	if (key.data)
		gnutls_memset(key.data, 0, key.cap);
	wf_buf_fini(&key);
	wf_buf_fini(&url);
	close(dfd);
	if (!found)
		return false;
	wf_log_info("certificate %s: resuming the unfinished order %s", j->name, j->order_url);
	j->resumed = true;
	j->from_pending = true;
	j->state = ACME_JOB_POLL_READY;
	j->poll_delay = POLL_FIRST;
	acme_client_post(j->cl, j->order_url, NULL, on_resumed, j);
	return true;
}

static bool profile_offered(const acme_directory_t *d, const char *p)
{
	for (size_t i = 0; i < d->nprofiles; i++)
		if (strcmp(d->profiles[i], p) == 0)
			return true;
	return false;
}

static void on_client_ready(void *arg, bool ok, const acme_ready_why_t *why)
{
	acme_job_t *j = arg;
	if ((!ok && why->waited) || (ok && acme_client_not_before(j->cl))) {
		fail_waited(j);
		return;
	}
	if (!ok) {
		if (why->local) /* the account folder or key, the EAB settings: ours */
			fail_ours(j, NULL, "%s", why->problem.detail);
		else
			fail(j, why->problem.type, NULL, why->retry_after, "%s", why->problem.detail);
		return;
	}
	/* Followers answer HTTP-01 with the thumbprint the controller gives
	 * for this certificate: a new one (its first order since the start, or
	 * one at another CA) is given first, and the order (a resumed one
	 * too: its challenges may still be pending) waits until followers
	 * polling the certificate have had it (a long poll wakes on it; one
	 * with no bundle yet asks every 2 s). */
	const acme_key_t *account = acme_client_account_key(j->cl);
	bool told = j->tell_followers && account &&
		    acme_thumbs_set(&acme_thumbs_by_cert, j->name, account->thumbprint);
	if (told && strcmp(j->challenge, "http-01") == 0) {
		wf_log_info("certificate %s: ordering in %d s, once the cluster's followers have the account "
			    "thumbprint its orders use now (%s)",
			    j->name, FOLLOWERS_CATCHUP, account->thumbprint);
		ev_timer_set(&j->followers, FOLLOWERS_CATCHUP, 0);
		ev_timer_start(j->loop, &j->followers);
		return;
	}
	if (!resume(j))
		new_order(j);
}

static void on_followers_told(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	acme_job_t *j = wf_container_of(t, acme_job_t, followers);
	if (!resume(j))
		new_order(j);
}

static void new_order(acme_job_t *j)
{
	const acme_directory_t *d = acme_client_directory(j->cl);
	wf_buf_t p;
	wf_buf_init(&p, 64 * 1024);
	wf_buf_append_str(&p, "{\"identifiers\":[");
	for (size_t i = 0; i < j->ndomains; i++)
		wf_buf_printf(&p, "%s{\"type\":\"%s\",\"value\":\"%s\"}", i ? "," : "",
			      wf_san_is_ip(j->domains[i]) ? "ip" : "dns", j->domains[i]);
	wf_buf_append_str(&p, "]");
	if (j->profile[0]) {
		if (!profile_offered(d, j->profile)) {
			wf_buf_fini(&p);
			fail(j, "", NULL, -1, "the CA does not offer the profile \"%s\"", j->profile);
			return;
		}
		wf_buf_printf(&p, ",\"profile\":\"%s\"", j->profile);
	}
	/* RFC 9773 5: a renewal that names what it replaces is exempt from rate limits. */
	if (j->replaces[0] && d->renewal_info[0]) {
		wf_buf_printf(&p, ",\"replaces\":\"%s\"", j->replaces);
		wf_log_info("certificate %s: the new order replaces %s", j->name, j->replaces);
	}
	wf_buf_append(&p, "}", 2);
	j->state = ACME_JOB_NEW_ORDER;
	j->from_pending = false;
	acme_client_post(j->cl, d->new_order, wf_buf_head(&p), on_new_order, j);
	wf_buf_fini(&p);
}

acme_job_t *acme_job_start(struct ev_loop *loop, acme_client_t *cl, const char *state_dir, const wf_cert_cfg_t *cert,
			   wf_slice_t reuse_key_pem, const char *replaces, double timeout, bool tell_followers,
			   acme_job_done_cb cb, void *arg)
{
	acme_job_t *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->loop = loop;
	j->cl = cl;
	j->cb = cb;
	j->arg = arg;
	snprintf(j->name, sizeof(j->name), "%s", cert->name);
	j->domains = calloc(cert->ndomains + 1, sizeof(char *));
	for (size_t i = 0; i < cert->ndomains; i++)
		j->domains[i] = strdup(cert->domains[i]);
	j->ndomains = cert->ndomains;
	snprintf(j->challenge, sizeof(j->challenge), "%s", cert->challenge);
	j->dns_hook = calloc(cert->ndns_hook + 1, sizeof(char *));
	for (size_t i = 0; i < cert->ndns_hook; i++)
		j->dns_hook[i] = strdup(cert->dns_hook[i]);
	j->ndns_hook = cert->ndns_hook;
	snprintf(j->profile, sizeof(j->profile), "%s", cert->profile ? cert->profile : "");
	snprintf(j->replaces, sizeof(j->replaces), "%s", replaces ? replaces : "");
	snprintf(j->cert_dir, sizeof(j->cert_dir), "%s/certs/%s", state_dir, cert->name);
	j->key_type = ACME_KEY_EC256;
	acme_key_type_parse(cert->key_type, &j->key_type);
	wf_buf_init(&j->chain, ACME_CHAIN_MAX);
	wf_buf_init(&j->keypem, 64 * 1024);
	if (reuse_key_pem.len) {
		j->cert_key = acme_key_load(reuse_key_pem);
		if (j->cert_key && acme_key_export(j->cert_key, &j->keypem) != WF_OK) {
			acme_key_free(j->cert_key);
			j->cert_key = NULL;
		}
		if (!j->cert_key)
			wf_log_warn("certificate %s: reuse_key: the stored key does not load; making a new one", j->name);
	}
	j->poll_delay = POLL_FIRST; /* every path to polling starts short, never at zero */
	ev_timer_init(&j->poll, on_poll_timer, 0, 0);
	ev_timer_init(&j->finish, on_finish, 0, 0);
	ev_timer_init(&j->followers, on_followers_told, 0, 0);
	j->tell_followers = tell_followers;
	j->deadline_s = timeout; /* stands still while its dns_hook calls wait or run */
	ev_timer_init(&j->deadline, on_deadline, j->deadline_s, 0);
	ev_timer_start(loop, &j->deadline);
	j->state = ACME_JOB_WAIT_CLIENT;
	if (acme_client_not_before(cl)) /* reported from the loop (finish), after this returns */
		fail_waited(j);
	else
		acme_client_ready(cl, on_client_ready, j);
	return j;
}

void acme_job_cancel(acme_job_t *j)
{
	if (j)
		job_free(j);
}
