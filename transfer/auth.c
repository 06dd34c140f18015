/* Password checks: see auth.h. */
#include "auth.h"
#include "../server/base64.h"
#include "../server/ip_guard.h"
#include "../server/log.h"
#include "../server/offload.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_SLOTS 64

typedef struct cache_entry {
	unsigned char digest[32];
	int used;
} cache_entry_t;

/* Verified credentials, and recently refused ones: a client repeating the same
 * wrong password (pipelined, or a retry loop) costs one crypt, not one each.
 * One pair for the process, so that every worker answers a client alike
 * (during a ban, a password verified on one worker is good on the other); a
 * lookup is 128 short compares under an uncontended lock, once per request. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry_t cache[CACHE_SLOTS];
static unsigned cache_next;
static cache_entry_t refused[CACHE_SLOTS];
static unsigned refused_next;

/* A hash to verify against when the user does not exist, so that a wrong
 * name costs the same time as a wrong password and names cannot be probed.
 * Made once per process (it costs a crypt), before the loops run. */
static char dummy[CRYPT_OUTPUT_SIZE];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *r = crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) ?
				crypt_r("wharf-no-such-user", salt, &cd) : NULL;
	snprintf(dummy, sizeof(dummy), "%s", r && r[0] != '*' ? r : "$6$wharf$x");
}

static const char *dummy_hash(void)
{
	pthread_once(&dummy_once, make_dummy);
	return dummy;
}

void xfer_auth_prepare(void)
{
	dummy_hash();
}

static bool cached(cache_entry_t *slots, const unsigned char d[32])
{
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (slots[i].used && gnutls_memcmp(slots[i].digest, d, 32) == 0)
			return true;
	return false;
}

static void remember(cache_entry_t *slots, unsigned *next, const unsigned char d[32])
{
	cache_entry_t *e = &slots[(*next)++ % CACHE_SLOTS];
	memcpy(e->digest, d, 32);
	e->used = 1;
}

static void digest_of(const char *user, size_t ulen, const char *pass, size_t plen, const char *hash,
		      unsigned char out[32])
{
	gnutls_hash_hd_t h;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		memset(out, 0, 32);
		return;
	}
	gnutls_hash(h, user, ulen);
	gnutls_hash(h, "\0", 1);
	gnutls_hash(h, pass, plen);
	gnutls_hash(h, "\0", 1);
	gnutls_hash(h, hash, strlen(hash));
	gnutls_hash_deinit(h, out);
}

int xfer_auth_parse_basic(wf_slice_t authorization, char *user, size_t user_cap, char *pass, size_t pass_cap)
{
	wf_slice_t v = wf_slice_trim(authorization);
	if (v.len < 6 || !wf_slice_eq_ci((wf_slice_t){ v.ptr, 6 }, "Basic "))
		return WF_ERR;
	wf_slice_t b64 = wf_slice_trim((wf_slice_t){ v.ptr + 6, v.len - 6 });
	char plain[1024];
	if (b64.len > 1300)
		return WF_ERR;
	ssize_t n = wf_base64_decode(b64, plain, sizeof(plain), false);
	if (n < 0)
		return WF_ERR;
	char *colon = memchr(plain, ':', (size_t)n);
	/* crypt_r wants C strings: a NUL anywhere never matches. */
	if (!colon || memchr(plain, '\0', (size_t)n)) {
		gnutls_memset(plain, 0, sizeof(plain));
		return WF_ERR;
	}
	size_t ulen = (size_t)(colon - plain), plen = (size_t)n - ulen - 1;
	int rc = WF_ERR;
	if (ulen < user_cap && plen < pass_cap) {
		memcpy(user, plain, ulen);
		user[ulen] = '\0';
		memcpy(pass, colon + 1, plen);
		pass[plen] = '\0';
		rc = WF_OK;
	}
	gnutls_memset(plain, 0, sizeof(plain));
	return rc;
}

/* The user named (or NULL), and d: the key of these credentials in the
 * caches and among checks in flight. */
static const wf_user_cfg_t *key_of(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass, unsigned char d[32])
{
	const wf_user_cfg_t *u = wf_config_user(cfg, user);
	digest_of(user.ptr, user.len, pass.ptr, pass.len, u ? u->password : dummy_hash(), d);
	return u;
}

static xfer_auth_verdict_t verdict_of(const wf_user_cfg_t *u, wf_slice_t pass, const unsigned char d[32])
{
	if (pass.len >= XFER_AUTH_PASS_MAX || memchr(pass.ptr, '\0', pass.len))
		return XFER_AUTH_REFUSED;
	xfer_auth_verdict_t v = XFER_AUTH_UNKNOWN;
	pthread_mutex_lock(&cache_lock);
	if (u && cached(cache, d))
		v = XFER_AUTH_OK;
	else if (cached(refused, d))
		v = XFER_AUTH_REFUSED;
	pthread_mutex_unlock(&cache_lock);
	return v;
}

xfer_auth_verdict_t xfer_auth_cached(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass,
				     const wf_user_cfg_t **user_out)
{
	unsigned char d[32];
	const wf_user_cfg_t *u = key_of(cfg, user, pass, d);
	xfer_auth_verdict_t v = verdict_of(u, pass, d);
	if (v == XFER_AUTH_OK)
		*user_out = u;
	return v;
}

static void note_verdict(const unsigned char d[32], bool ok)
{
	pthread_mutex_lock(&cache_lock);
	if (ok)
		remember(cache, &cache_next, d);
	else
		remember(refused, &refused_next, d);
	pthread_mutex_unlock(&cache_lock);
}

/* The crypt itself, remembering nothing: the caller decides whether the
 * verdict may be remembered (not when the address was banned meanwhile). */
static const wf_user_cfg_t *verify(const wf_user_cfg_t *u, wf_slice_t pass)
{
	if (pass.len >= XFER_AUTH_PASS_MAX || memchr(pass.ptr, '\0', pass.len))
		return NULL; /* crypt would see another password */
	const char *stored = u ? u->password : dummy_hash();
	char pw[XFER_AUTH_PASS_MAX];
	memcpy(pw, pass.ptr, pass.len);
	pw[pass.len] = '\0';
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_r(pw, stored, &cd);
	gnutls_memset(pw, 0, sizeof(pw));
	bool ok = u && h && h[0] != '*' && strlen(h) == strlen(stored) && gnutls_memcmp(h, stored, strlen(h)) == 0;
	gnutls_memset(&cd, 0, sizeof(cd));
	return ok ? u : NULL;
}

const wf_user_cfg_t *xfer_auth_check(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass)
{
	unsigned char d[32];
	const wf_user_cfg_t *u = key_of(cfg, user, pass, d);
	xfer_auth_verdict_t v = verdict_of(u, pass, d);
	if (v != XFER_AUTH_UNKNOWN)
		return v == XFER_AUTH_OK ? u : NULL;
	const wf_user_cfg_t *ok = verify(u, pass);
	note_verdict(d, ok != NULL);
	return ok;
}

/* ---------------------------------------------------------------- failures */

bool xfer_auth_failed(const wf_config_t *cfg, const char *addr, time_t now)
{
	if (!addr || !addr[0] ||
	    !wf_ipguard_failed_login(addr, cfg->limits.max_login_failures, cfg->limits.login_ban_seconds, now))
		return false;
	char client[WF_IPGUARD_CLIENT_MAX];
	wf_ipguard_client(addr, client);
	wf_log_warn("logins: banning %s for %d s after %d failed logins", client, cfg->limits.login_ban_seconds,
		    cfg->limits.max_login_failures);
	return true;
}

/* ---------------------------------------------------------------- off the loop */

static atomic_int pending;          /* checks queued or running, all workers */
static _Atomic time_t busy_logged;  /* when "refusing new logins" was last logged */

typedef struct auth_check auth_check_t;

/* One asker of a check: what xfer_auth_start hands out. */
struct xfer_auth_job {
	xfer_auth_done_fn done; /* NULL once cancelled */
	void *arg;
	xfer_auth_job_t *next;
};

/* One crypt on the pool, for every asker of this loop with the same
 * credentials: ten parallel requests of a sync client starting up cost one
 * check, and take one slot. */
struct auth_check {
	wf_config_t *cfg; /* owned reference: the result points into it */
	char addr[48];    /* the client's address, "" when none was given */
	char user[XFER_AUTH_USER_MAX];
	char pass[XFER_AUTH_PASS_MAX];
	size_t user_len, pass_len;
	unsigned char digest[32];    /* of user, password and stored hash: the key askers share */
	const wf_user_cfg_t *ok;     /* the verdict, borrowed from cfg */
	xfer_auth_job_t *askers;     /* owned */
	auth_check_t *next;          /* in this thread's list */
};

static __thread auth_check_t *in_flight; /* this loop's checks on the pool */

static void check_run(void *arg)
{
	auth_check_t *c = arg;
	c->ok = verify(wf_config_user(c->cfg, (wf_slice_t){ c->user, c->user_len }),
		       (wf_slice_t){ c->pass, c->pass_len });
}

/* Everything about the verdict happens here, whether or not the askers are
 * still there: a guesser that resets its request mid-check is still
 * counted, and a right guess that completes once the address is banned is
 * neither told nor remembered (so it cannot be asked again from the cache). */
static void check_done(void *arg)
{
	auth_check_t *c = arg;
	atomic_fetch_sub(&pending, 1);
	for (auth_check_t **p = &in_flight; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	time_t now = time(NULL);
	xfer_auth_result_t r = c->ok ? XFER_AUTH_ACCEPTED : XFER_AUTH_WRONG;
	if (c->addr[0]) {
		wf_ipguard_check_end(c->addr);
		int left;
		/* Each asker is one attempt, as each of the same attempts one
		 * after the other would be (answered from the cache). */
		for (xfer_auth_job_t *j = c->askers; j && !c->ok; j = j->next)
			xfer_auth_failed(c->cfg, c->addr, now);
		if (c->ok && wf_ipguard_banned(c->addr, now, &left))
			r = XFER_AUTH_BANNED;
	}
	/* The caches learn the verdict: the next request with the same
	 * credentials, on any worker, is answered inline. */
	if (r != XFER_AUTH_BANNED)
		note_verdict(c->digest, r == XFER_AUTH_ACCEPTED);
	gnutls_memset(c->pass, 0, sizeof(c->pass));
	while (c->askers) {
		xfer_auth_job_t *j = c->askers;
		c->askers = j->next;
		if (j->done)
			j->done(j->arg, r, r == XFER_AUTH_ACCEPTED ? c->ok : NULL);
		else if (r == XFER_AUTH_WRONG) /* the asker would have said so; it is gone */
			wf_log_warn("%s: login failed for user \"%.*s\" (the client left before the check ended)",
				    c->addr[0] ? c->addr : "-", (int)c->user_len, c->user);
		free(j);
	}
	wf_config_unref(c->cfg);
	free(c);
}

static int refuse_busy(const char *why)
{
	/* One line per minute at most: a flood must not flood the log too. */
	time_t now = time(NULL), last = atomic_load(&busy_logged);
	if (now - last >= 60 && atomic_compare_exchange_strong(&busy_logged, &last, now))
		wf_log_warn("logins: %s; refusing new logins unchecked until they drain", why);
	return WF_AGAIN;
}

static xfer_auth_job_t *ask(auth_check_t *c, xfer_auth_done_fn done, void *arg)
{
	xfer_auth_job_t *j = calloc(1, sizeof(*j));
	if (j) {
		j->done = done;
		j->arg = arg;
		j->next = c->askers;
		c->askers = j;
	}
	return j;
}

int xfer_auth_start(struct wf_worker *w, const wf_config_t *cfg, const char *addr, wf_slice_t user,
		    wf_slice_t pass, xfer_auth_done_fn done, void *arg, xfer_auth_job_t **job)
{
	*job = NULL;
	if (!w || user.len >= XFER_AUTH_USER_MAX || pass.len >= XFER_AUTH_PASS_MAX)
		return WF_ERR;
	unsigned char d[32];
	key_of(cfg, user, pass, d);
	for (auth_check_t *c = in_flight; c; c = c->next)
		if (c->cfg == cfg && gnutls_memcmp(c->digest, d, 32) == 0) {
			*job = ask(c, done, arg);
			return *job ? WF_OK : WF_ERR;
		}
	if (atomic_fetch_add(&pending, 1) >= cfg->limits.max_pending_logins) {
		atomic_fetch_sub(&pending, 1);
		return refuse_busy("limits.max_pending_logins password checks already pending");
	}
	/* One address gets an eighth of the slots (at least 2): one client
	 * with a hundred HTTP/2 streams of guesses must not take them all. */
	int per_addr = cfg->limits.max_pending_logins / 8 > 2 ? cfg->limits.max_pending_logins / 8 : 2;
	if (addr && addr[0] && !wf_ipguard_check_begin(addr, per_addr, time(NULL))) {
		atomic_fetch_sub(&pending, 1);
		return refuse_busy("one address has its share of password checks pending");
	}
	auth_check_t *c = calloc(1, sizeof(*c));
	if (!c || !(*job = ask(c, done, arg)))
		goto undo;
	/* The reference count is the only part of cfg a reference changes. */
	c->cfg = wf_config_ref((wf_config_t *)cfg);
	snprintf(c->addr, sizeof(c->addr), "%s", addr ? addr : "");
	memcpy(c->user, user.ptr, user.len);
	c->user_len = user.len;
	memcpy(c->pass, pass.ptr, pass.len);
	c->pass_len = pass.len;
	memcpy(c->digest, d, sizeof(d));
	if (wf_offload_submit(w, check_run, check_done, c) != WF_OK) {
		gnutls_memset(c->pass, 0, sizeof(c->pass));
		wf_config_unref(c->cfg);
		goto undo;
	}
	c->next = in_flight;
	in_flight = c;
	return WF_OK;
undo:
	if (c)
		free(c->askers);
	free(c);
	*job = NULL;
	if (addr && addr[0])
		wf_ipguard_check_end(addr);
	atomic_fetch_sub(&pending, 1);
	return WF_ERR;
}

void xfer_auth_cancel(xfer_auth_job_t *job)
{
	if (job)
		job->done = NULL;
}
