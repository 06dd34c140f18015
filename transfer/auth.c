/* Basic authentication: see auth.h. */
#include "auth.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <string.h>

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t xfer_base64_decode(wf_slice_t in, char *out, size_t cap)
{
	if (in.len % 4)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < in.len; i += 4) {
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in.ptr[i + (size_t)j];
			if (c == '=' && i + 4 == in.len && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (pad || (v[j] = b64val(c)) < 0) {
				return -1;
			}
		}
		unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
		int bytes = 3 - pad;
		if (n + (size_t)bytes > cap)
			return -1;
		out[n++] = (char)(w >> 16);
		if (bytes > 1)
			out[n++] = (char)(w >> 8);
		if (bytes > 2)
			out[n++] = (char)w;
	}
	return (ssize_t)n;
}

#define CACHE_SLOTS 64

typedef struct cache_entry {
	unsigned char digest[32];
	int used;
} cache_entry_t;

static __thread cache_entry_t cache[CACHE_SLOTS];
static __thread unsigned cache_next;

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
	ssize_t n = xfer_base64_decode(b64, plain, sizeof(plain) - 1);
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
	const wf_user_cfg_t *u = wf_config_user(cfg, (wf_slice_t){ plain, ulen });
	if (!u)
		return NULL;

	unsigned char d[32];
	digest_of(plain, ulen, pass, plen, u->password, d);
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].used && gnutls_memcmp(cache[i].digest, d, 32) == 0)
			return u;

	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_r(pass, u->password, &cd);
	if (!h || h[0] == '*' || strlen(h) != strlen(u->password) || gnutls_memcmp(h, u->password, strlen(h)) != 0)
		return NULL;
	cache_entry_t *e = &cache[cache_next++ % CACHE_SLOTS];
	memcpy(e->digest, d, 32);
	e->used = 1;
	return u;
}
