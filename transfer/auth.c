/* Basic authentication: see auth.h. */
#include "auth.h"
#include "../server/base64.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

const wf_user_cfg_t *xfer_auth_basic(const wf_config_t *cfg, wf_slice_t authorization, char *user_out,
				     size_t user_cap)
{
	wf_slice_t v = wf_slice_trim(authorization);
	if (v.len < 6 || !wf_slice_eq_ci((wf_slice_t){ v.ptr, 6 }, "Basic "))
		return NULL;
	wf_slice_t b64 = wf_slice_trim((wf_slice_t){ v.ptr + 6, v.len - 6 });
	char plain[1024];
	if (b64.len > 1300)
		return NULL;
	ssize_t n = wf_base64_decode(b64, plain, sizeof(plain) - 1, false);
	if (n < 0)
		return NULL;
	plain[n] = '\0';
	char *colon = memchr(plain, ':', (size_t)n);
	if (!colon || memchr(plain, '\0', (size_t)n))
		return NULL;
	size_t ulen = (size_t)(colon - plain);
	const char *pass = colon + 1;
	size_t plen = (size_t)n - ulen - 1;
	if (ulen + 1 <= user_cap) {
		memcpy(user_out, plain, ulen);
		user_out[ulen] = '\0';
	}
	return xfer_auth_check(cfg, (wf_slice_t){ plain, ulen }, (wf_slice_t){ pass, plen });
}

const wf_user_cfg_t *xfer_auth_check(const wf_config_t *cfg, wf_slice_t user, wf_slice_t pass)
{
	const wf_user_cfg_t *u = wf_config_user(cfg, user);
	const char *stored = u ? u->password : dummy_hash();

	unsigned char d[32];
	digest_of(user.ptr, user.len, pass.ptr, pass.len, stored, d);
	if (u && cached(cache, d))
		return u;
	if (cached(refused, d))
		return NULL;

	/* crypt_r wants a C string: a password holding a NUL never matches. */
	char pw[1024];
	if (pass.len >= sizeof(pw) || memchr(pass.ptr, '\0', pass.len)) {
		remember(refused, &refused_next, d);
		return NULL;
	}
	memcpy(pw, pass.ptr, pass.len);
	pw[pass.len] = '\0';
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_r(pw, stored, &cd);
	gnutls_memset(pw, 0, sizeof(pw));
	bool ok = u && h && h[0] != '*' && strlen(h) == strlen(stored) && gnutls_memcmp(h, stored, strlen(h)) == 0;
	if (!ok) {
		remember(refused, &refused_next, d);
		return NULL;
	}
	remember(cache, &cache_next, d);
	return u;
}
