/* Password checks: see auth.h. */
#include "auth.h"
#include "../server/base64.h"

#include "../server/log.h"
#include "../server/offload.h"

#include <crypt.h>
#include <stdatomic.h>
#include <gnutls/crypto.h>
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
 * wrong password (pipelined, or a retry loop) costs one crypt, not one each. */
static __thread cache_entry_t cache[CACHE_SLOTS];
static __thread unsigned cache_next;
static __thread cache_entry_t refused[CACHE_SLOTS];
static __thread unsigned refused_next;

/* A hash to verify against when the user does not exist, so that a wrong
 * name costs the same time as a wrong password and names cannot be probed. */
static const char *dummy_hash(void)
{
	static __thread char h[CRYPT_OUTPUT_SIZE];
	if (!h[0]) {
		char salt[CRYPT_GENSALT_OUTPUT_SIZE];
		struct crypt_data cd;
		memset(&cd, 0, sizeof(cd));
		const char *r = crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) ?
					crypt_r("wharf-no-such-user", salt, &cd) : NULL;
		snprintf(h, sizeof(h), "%s", r && r[0] != '*' ? r : "$6$wharf$x");
	}
	return h;
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

xfer_auth_verdict_t xfer_auth_cached(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass,
				     const wf_user_cfg_t **user_out)
{
	const wf_user_cfg_t *u = wf_config_user(cfg, user);
	unsigned char d[32];
	digest_of(user.ptr, user.len, pass.ptr, pass.len, u ? u->password : dummy_hash(), d);
	if (u && cached(cache, d)) {
		*user_out = u;
		return XFER_AUTH_OK;
	}
	if (cached(refused, d) || pass.len >= XFER_AUTH_PASS_MAX || memchr(pass.ptr, '\0', pass.len))
		return XFER_AUTH_REFUSED;
	return XFER_AUTH_UNKNOWN;
}

/* Records a verdict in this thread's caches. */
static void note_verdict(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass, bool ok)
{
	const wf_user_cfg_t *u = wf_config_user(cfg, user);
	unsigned char d[32];
	digest_of(user.ptr, user.len, pass.ptr, pass.len, u ? u->password : dummy_hash(), d);
	if (ok)
		remember(cache, &cache_next, d);
	else
		remember(refused, &refused_next, d);
}

const wf_user_cfg_t *xfer_auth_check(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass)
{
	const wf_user_cfg_t *u = NULL;
	xfer_auth_verdict_t v = xfer_auth_cached(cfg, user, pass, &u);
	if (v != XFER_AUTH_UNKNOWN)
		return v == XFER_AUTH_OK ? u : NULL;
	u = wf_config_user(cfg, user);
	const char *stored = u ? u->password : dummy_hash();
	char pw[XFER_AUTH_PASS_MAX];
	memcpy(pw, pass.ptr, pass.len); /* fits, and holds no NUL: checked above */
	pw[pass.len] = '\0';
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_r(pw, stored, &cd);
	gnutls_memset(pw, 0, sizeof(pw));
	bool ok = u && h && h[0] != '*' && strlen(h) == strlen(stored) && gnutls_memcmp(h, stored, strlen(h)) == 0;
	gnutls_memset(&cd, 0, sizeof(cd));
	note_verdict(cfg, user, pass, ok);
	return ok ? u : NULL;
}

/* ---------------------------------------------------------------- off the loop */

static atomic_int pending;          /* jobs queued or running, all workers */
static _Atomic time_t busy_logged;  /* when "refusing new logins" was last logged */

struct xfer_auth_job {
	wf_config_t *cfg; /* owned reference: the result points into it */
	xfer_auth_done_fn done; /* NULL once cancelled */
	void *arg;
	char user[XFER_AUTH_USER_MAX];
	char pass[XFER_AUTH_PASS_MAX];
	size_t user_len, pass_len;
	const wf_user_cfg_t *ok; /* the verdict, borrowed from cfg */
};

static void job_run(void *arg)
{
	xfer_auth_job_t *j = arg;
	j->ok = xfer_auth_check(j->cfg, (wf_slice_t){ j->user, j->user_len }, (wf_slice_t){ j->pass, j->pass_len });
}

static void job_done(void *arg)
{
	xfer_auth_job_t *j = arg;
	atomic_fetch_sub(&pending, 1);
	/* This loop's caches learn the verdict too: the next request with the
	 * same credentials is answered inline. */
	note_verdict(j->cfg, (wf_slice_t){ j->user, j->user_len }, (wf_slice_t){ j->pass, j->pass_len }, j->ok != NULL);
	gnutls_memset(j->pass, 0, sizeof(j->pass));
	if (j->done)
		j->done(j->arg, j->ok);
	wf_config_unref(j->cfg);
	free(j);
}

int xfer_auth_start(struct wf_worker *w, const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass,
		    xfer_auth_done_fn done, void *arg, xfer_auth_job_t **job)
{
	*job = NULL;
	if (!w || user.len >= XFER_AUTH_USER_MAX || pass.len >= XFER_AUTH_PASS_MAX)
		return WF_ERR;
	if (atomic_fetch_add(&pending, 1) >= cfg->limits.max_pending_logins) {
		atomic_fetch_sub(&pending, 1);
		/* One line per minute at most: a flood must not flood the log too. */
		time_t now = time(NULL), last = atomic_load(&busy_logged);
		if (now - last >= 60 && atomic_compare_exchange_strong(&busy_logged, &last, now))
			wf_log_warn("logins: %d password checks already pending (limits.max_pending_logins); "
				    "refusing new logins unchecked until they drain",
				    cfg->limits.max_pending_logins);
		return WF_AGAIN;
	}
	xfer_auth_job_t *j = calloc(1, sizeof(*j));
	if (!j) {
		atomic_fetch_sub(&pending, 1);
		return WF_ERR;
	}
	/* The reference count is the only part of cfg a reference changes. */
	j->cfg = wf_config_ref((wf_config_t *)cfg);
	j->done = done;
	j->arg = arg;
	memcpy(j->user, user.ptr, user.len);
	j->user_len = user.len;
	memcpy(j->pass, pass.ptr, pass.len);
	j->pass_len = pass.len;
	if (wf_offload_submit(w, job_run, job_done, j) != WF_OK) {
		gnutls_memset(j->pass, 0, sizeof(j->pass));
		wf_config_unref(j->cfg);
		free(j);
		atomic_fetch_sub(&pending, 1);
		return WF_ERR;
	}
	*job = j;
	return WF_OK;
}

void xfer_auth_cancel(xfer_auth_job_t *job)
{
	if (job)
		job->done = NULL;
}
