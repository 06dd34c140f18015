/* Password checks: see auth.h. */
#include "auth.h"
#include "../server/base64.h"
#include "../server/ip_guard.h"
#include "../server/log.h"
#include "../server/offload.h"
#include "../server/passwd.h"

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

/* wharf passwd never makes a hash a login could not reach. */
_Static_assert(WF_PASSWD_MAX < XFER_AUTH_PASS_MAX, "a login reads every password wharf passwd hashes");

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

/* ---------------------------------------------------------------- the dummy hash */

/* A name that does not exist is checked against a dummy hash, so that it
 * costs what a wrong password costs and names cannot be probed by timing.
 * The dummy has the setting (method and cost parameters) of the configured
 * users' hashes, with a fresh salt: a yescrypt dummy beside sha512-crypt
 * users answers an unknown name in 90 ms and a wrong password in 2.
 *
 * When the users' settings differ, the dummy takes the most common one (the
 * first user's among equals): no single dummy hides a user whose hash costs
 * another amount, so the dummy hides as many names as it can. "The costliest"
 * is no better: a user cheaper than the dummy stands out just the same, and
 * costs of different methods cannot be compared without timing them.
 *
 * The dummy is a crypt_gensalt setting (no crypt needed to make it: crypt_r
 * over a setting does the whole work), made at the count that reproduces the
 * model's parameters; when none does (parameters crypt_gensalt would not
 * write, or a method it does not know), the model's own hash is the dummy,
 * which costs the same by construction. One per config, remembered for the
 * few configs alive at once (a reload leaves the old one to its connections),
 * keyed by the config's generation: its address would not do, since a freed
 * config's address (and its users' and their hashes') comes back with a
 * later load, which may hash at another cost. A config of generation 0 (not
 * made by wf_config_load) is never remembered: its dummy is made afresh. */
#define DUMMY_SLOTS 4

typedef struct dummy_slot {
	uint64_t generation; /* of the config this dummy is for; 0: unused */
	char hash[CRYPT_OUTPUT_SIZE];
} dummy_slot_t;

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static dummy_slot_t dummies[DUMMY_SLOTS];
static unsigned dummy_next;
static char no_users_dummy[CRYPT_OUTPUT_SIZE]; /* when no user is configured: yescrypt at wharf passwd's cost */
static pthread_once_t no_users_once = PTHREAD_ONCE_INIT;

static void make_no_users_dummy(void)
{
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, no_users_dummy, sizeof(no_users_dummy)))
		snprintf(no_users_dummy, sizeof(no_users_dummy), "$6$wharf$x");
}

/* Length of h's method and cost parameters: where its salt begins. For the
 * "$id$...$salt$hash" forms, after the '$' before the salt; bcrypt's
 * "$2b$NN$" is followed by salt and hash without a '$'. 0 for the forms
 * without parameters (DES) or not known. */
static size_t params_len(const char *h)
{
	if (h[0] != '$')
		return 0;
	if (h[1] == '2' && h[2] && h[3] == '$' && h[4] && h[5] && h[6] == '$')
		return 7;
	const char *last = strrchr(h, '$');
	const char *p = last;
	while (p > h && p[-1] != '$')
		p--;
	return p > h + 1 ? (size_t)(p - h) : 0; /* p: just past the '$' before the salt */
}

static int compare_params(const char *a, const char *b)
{
	size_t la = params_len(a), lb = params_len(b);
	int c = memcmp(a, b, la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

static const wf_config_t *sort_cfg; /* qsort's context, under dummy_lock */

static int by_params(const void *x, const void *y)
{
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	int c = compare_params(sort_cfg->users[i].password, sort_cfg->users[j].password);
	return c ? c : (i > j) - (i < j);
}

/* The user whose hash has the most common setting (the first such user among
 * equally common ones). */
static size_t model_user(const wf_config_t *cfg)
{
	size_t *order = malloc(cfg->nusers * sizeof(*order));
	if (!order)
		return 0;
	for (size_t i = 0; i < cfg->nusers; i++)
		order[i] = i;
	sort_cfg = cfg;
	qsort(order, cfg->nusers, sizeof(*order), by_params);
	size_t best = 0, best_n = 0;
	for (size_t i = 0; i < cfg->nusers;) {
		size_t j = i, first = order[i];
		while (j < cfg->nusers && compare_params(cfg->users[order[j]].password, cfg->users[first].password) == 0)
			j++;
		/* Within a run the order is by index: order[i] is its first user. */
		if (j - i > best_n || (j - i == best_n && first < best)) {
			best = first;
			best_n = j - i;
		}
		i = j;
	}
	free(order);
	return best;
}

/* Where a bare setting (crypt_gensalt's output: parameters, then the salt)
 * has its salt: at 7 for bcrypt, else after its last '$' (or, for the forms
 * that end a setting with '$', after the one before). */
static size_t setting_params_len(const char *s)
{
	size_t n = strlen(s);
	if (n && s[n - 1] == '$')
		return params_len(s);
	if (s[0] == '$' && s[1] == '2')
		return params_len(s);
	const char *last = strrchr(s, '$');
	return last ? (size_t)(last - s) + 1 : 0;
}

/* The methods whose salt is apart from their parameters, so that a fresh
 * salt keeps the cost (scrypt's "$7$", for one, packs both together). */
static const char *const fresh_salt_methods[] = { "$y$", "$gy$", "$2a$", "$2b$", "$2y$", "$5$", "$6$", "$1$", "$sha1$", NULL };

/* A fresh setting with model's method and cost into out (cap
 * CRYPT_OUTPUT_SIZE): crypt_gensalt at the count that writes model's
 * parameters. Else model itself. */
static void dummy_like(const char *model, char *out)
{
	size_t plen = params_len(model);
	const char *method = NULL;
	for (int i = 0; plen && fresh_salt_methods[i] && !method; i++)
		if (strncmp(model, fresh_salt_methods[i], strlen(fresh_salt_methods[i])) == 0)
			method = fresh_salt_methods[i];
	if (method) {
		/* The counts to try: the default, the small ones (yescrypt's cost
		 * 1-11), and the first number in the parameters (rounds=N,
		 * bcrypt's NN). Each try is cheap: crypt_gensalt only draws
		 * random bytes. */
		unsigned long counts[13];
		size_t ncounts = 0;
		for (unsigned long k = 0; k <= 11; k++)
			counts[ncounts++] = k;
		const char *digit = strpbrk(model + strlen(method), "0123456789");
		if (digit && digit < model + plen) {
			unsigned long n = strtoul(digit, NULL, 10);
			if (n > 11 && n < 1000000000UL)
				counts[ncounts++] = n;
		}
		for (size_t k = 0; k < ncounts; k++)
			if (crypt_gensalt_rn(method, counts[k], NULL, 0, out, CRYPT_OUTPUT_SIZE) &&
			    setting_params_len(out) == plen && memcmp(out, model, plen) == 0)
				return;
	}
	snprintf(out, CRYPT_OUTPUT_SIZE, "%s", model);
}

/* The dummy for cfg, copied into out (CRYPT_OUTPUT_SIZE). */
static void dummy_hash(const wf_config_t *cfg, char *out)
{
	if (!cfg || cfg->nusers == 0) {
		pthread_once(&no_users_once, make_no_users_dummy);
		memcpy(out, no_users_dummy, CRYPT_OUTPUT_SIZE);
		return;
	}
	pthread_mutex_lock(&dummy_lock); /* also model_user's qsort context */
	dummy_slot_t *d = NULL;
	for (int i = 0; i < DUMMY_SLOTS && !d && cfg->generation; i++)
		if (dummies[i].generation == cfg->generation)
			d = &dummies[i];
	if (!cfg->generation) {
		dummy_like(cfg->users[model_user(cfg)].password, out);
	} else {
		if (!d) {
			d = &dummies[dummy_next++ % DUMMY_SLOTS];
			d->generation = cfg->generation;
			dummy_like(cfg->users[model_user(cfg)].password, d->hash);
		}
		memcpy(out, d->hash, CRYPT_OUTPUT_SIZE);
	}
	pthread_mutex_unlock(&dummy_lock);
}

void xfer_auth_dummy(const wf_config_t *cfg, char *out)
{
	dummy_hash(cfg, out);
}

void xfer_auth_prepare(void)
{
	pthread_once(&no_users_once, make_no_users_dummy);
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
	char dummy[CRYPT_OUTPUT_SIZE];
	if (!u)
		dummy_hash(cfg, dummy);
	digest_of(user.ptr, user.len, pass.ptr, pass.len, u ? u->password : dummy, d);
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
static const wf_user_cfg_t *verify(const wf_config_t *cfg, const wf_user_cfg_t *u, wf_slice_t pass)
{
	if (pass.len >= XFER_AUTH_PASS_MAX || memchr(pass.ptr, '\0', pass.len))
		return NULL; /* crypt would see another password */
	char dummy[CRYPT_OUTPUT_SIZE];
	if (!u)
		dummy_hash(cfg, dummy);
	const char *stored = u ? u->password : dummy;
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
	const wf_user_cfg_t *ok = verify(cfg, u, pass);
	note_verdict(d, ok != NULL);
	return ok;
}

/* ---------------------------------------------------------------- failures */

bool xfer_auth_failed(const wf_config_t *cfg, const char *addr, time_t now)
{
	char who[WF_IPGUARD_WHO_MAX];
	if (!addr || !addr[0] ||
	    !wf_ipguard_failed_login(addr, cfg->limits.max_login_failures, cfg->limits.login_ban_seconds, now, who))
		return false;
	wf_log_warn("logins: banning %s for %d s after %d failed logins", who, cfg->limits.login_ban_seconds,
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
	c->ok = verify(c->cfg, wf_config_user(c->cfg, (wf_slice_t){ c->user, c->user_len }),
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
	if (wf_offload_submit_login(w, check_run, check_done, c) != WF_OK) {
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
