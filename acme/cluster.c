/* Cluster keys, signed requests, sealed bundles and answer proofs: see
 * cluster.h and docs/cluster.md. Everything here but the state-folder
 * readers and the random nonce is a pure function of its arguments. */
#include "cluster.h"
#include "../server/cert_state.h"
#include "../server/durable.h"
#include "../server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Longest message a request signature or an answer proof covers: the request
 * target is the only long part, and the HTTP parsers cap it well below. */
#define SIGNED_MAX (16u * 1024)
/* Digits of a request time: enough for any date, few enough for int64_t. */
#define TIME_DIGITS_MAX 15

bool acme_cluster_is_controller(const wf_config_t *cfg)
{
	return cfg->cluster.role && strcmp(cfg->cluster.role, "controller") == 0;
}

bool acme_cluster_is_follower(const wf_config_t *cfg)
{
	return cfg->cluster.role && strcmp(cfg->cluster.role, "follower") == 0;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case too: one spelling per value */
}

static bool is_hex(wf_slice_t s)
{
	for (size_t i = 0; i < s.len; i++)
		if (hex_digit(s.ptr[i]) < 0)
			return false;
	return true;
}

static int derive(const char *secret, const char *label, unsigned char out[32])
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, strlen(secret), label, strlen(label), out) < 0 ? WF_ERR
													     : WF_OK;
}

int acme_cluster_keys_init(acme_cluster_keys_t *k, const char *secret)
{
	memset(k, 0, sizeof(*k));
	if (!secret || !secret[0] || derive(secret, "wharf cluster request", k->req) != WF_OK ||
	    derive(secret, "wharf cluster bundle", k->bundle) != WF_OK ||
	    derive(secret, "wharf cluster answer", k->answer) != WF_OK) {
		acme_cluster_keys_fini(k);
		return WF_ERR;
	}
	return WF_OK;
}

void acme_cluster_keys_fini(acme_cluster_keys_t *k)
{
	gnutls_memset(k, 0, sizeof(*k));
}

/* The parts joined with "\n" into b (capped at SIGNED_MAX). */
static int join(wf_buf_t *b, const wf_slice_t *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((i && wf_buf_append(b, "\n", 1) != WF_OK) || wf_buf_append(b, parts[i].ptr, parts[i].len) != WF_OK)
			return WF_ERR;
	return WF_OK;
}

/* HMAC-SHA256 under key of the parts joined with "\n". */
static int mac_of(const unsigned char key[32], const wf_slice_t *parts, size_t n, unsigned char out[32])
{
	wf_buf_t b;
	wf_buf_init(&b, SIGNED_MAX);
	int rc = join(&b, parts, n);
	if (rc == WF_OK && gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, 32, wf_buf_head(&b), wf_buf_size(&b), out) < 0)
		rc = WF_ERR;
	wf_buf_fini(&b);
	return rc;
}

static wf_slice_t str(const char *s)
{
	return (wf_slice_t){ s ? s : "", s ? strlen(s) : 0 };
}

/* ------------------------------------------------------------- requests */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static const char scheme[] = "Wharf-Cluster";
#define SCHEME_LEN (sizeof(scheme) - 1)

bool acme_cluster_auth_is_cluster(wf_slice_t value)
{
	wf_slice_t v = wf_slice_trim(value);
	return v.ptr && v.len >= SCHEME_LEN && wf_slice_eq_ci((wf_slice_t){ v.ptr, SCHEME_LEN }, scheme) &&
	       (v.len == SCHEME_LEN || is_space(v.ptr[SCHEME_LEN]));
}

int acme_cluster_auth_parse(wf_slice_t value, acme_cluster_auth_t *out)
{
	const size_t sl = SCHEME_LEN;
	wf_slice_t v = wf_slice_trim(value);
	if (v.len <= sl || !wf_slice_eq_ci((wf_slice_t){ v.ptr, sl }, scheme) || !is_space(v.ptr[sl]))
		return WF_ERR;
	acme_cluster_auth_t a;
	memset(&a, 0, sizeof(a));
	bool have_t = false, have_n = false, have_mac = false;
	const char *p = v.ptr + sl, *end = v.ptr + v.len;
	for (;;) {
		while (p < end && is_space(*p))
			p++;
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			return WF_ERR;
		wf_slice_t key = { p, (size_t)(eq - p) };
		const char *q = eq + 1;
		while (q < end && *q != ',' && !is_space(*q))
			q++;
		wf_slice_t val = { eq + 1, (size_t)(q - eq - 1) };
		if (wf_slice_eq(key, "t") && !have_t) {
			if (val.len == 0 || val.len > TIME_DIGITS_MAX || (val.len > 1 && val.ptr[0] == '0'))
				return WF_ERR;
			int64_t t = 0;
			for (size_t i = 0; i < val.len; i++) {
				if (val.ptr[i] < '0' || val.ptr[i] > '9')
					return WF_ERR;
				t = t * 10 + (val.ptr[i] - '0');
			}
			a.t = t;
			have_t = true;
		} else if (wf_slice_eq(key, "n") && !have_n) {
			if (val.len != ACME_CLUSTER_NONCE_LEN || !is_hex(val))
				return WF_ERR;
			memcpy(a.nonce, val.ptr, val.len);
			a.nonce[val.len] = '\0';
			have_n = true;
		} else if (wf_slice_eq(key, "mac") && !have_mac) {
			if (val.len != 2 * sizeof(a.mac) || !is_hex(val))
				return WF_ERR;
			for (size_t i = 0; i < sizeof(a.mac); i++)
				a.mac[i] = (unsigned char)(hex_digit(val.ptr[2 * i]) << 4 | hex_digit(val.ptr[2 * i + 1]));
			have_mac = true;
		} else {
			return WF_ERR; /* unknown, empty or repeated */
		}
		p = q;
		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		if (*p != ',')
			return WF_ERR;
		p++;
	}
	if (!have_t || !have_n || !have_mac)
		return WF_ERR;
	*out = a;
	return WF_OK;
}

int acme_cluster_nonce(char out[ACME_CLUSTER_NONCE_LEN + 1])
{
	unsigned char r[ACME_CLUSTER_NONCE_LEN / 2];
	if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r)) < 0) {
		out[0] = '\0';
		return WF_ERR;
	}
	hex(r, sizeof(r), out);
	return WF_OK;
}

static int request_mac(const acme_cluster_keys_t *k, wf_slice_t method, wf_slice_t target, int64_t t,
		       const char *nonce, unsigned char out[32])
{
	char ts[32];
	snprintf(ts, sizeof(ts), "%" PRId64, t);
	wf_slice_t parts[] = { method, target, str(ts), str(nonce) };
	return mac_of(k->req, parts, WF_ARRAY_LEN(parts), out);
}

int acme_cluster_auth_make(const acme_cluster_keys_t *k, const char *method, const char *target, int64_t t,
			   const char *nonce, char *out, size_t cap)
{
	unsigned char mac[32];
	char mhex[65];
	if (t < 0 || request_mac(k, str(method), str(target), t, nonce, mac) != WF_OK)
		return WF_ERR;
	hex(mac, sizeof(mac), mhex);
	int n = snprintf(out, cap, "Wharf-Cluster t=%" PRId64 ", n=%s, mac=%s", t, nonce, mhex);
	return n >= 0 && (size_t)n < cap ? WF_OK : WF_ERR;
}

int acme_cluster_auth_check(const acme_cluster_keys_t *k, wf_slice_t method, wf_slice_t target,
			    wf_slice_t authorization, int64_t now, acme_cluster_auth_t *out, const char **why)
{
	acme_cluster_auth_t a;
	unsigned char mac[32];
	if (!authorization.ptr || !authorization.len) {
		*why = "no Wharf-Cluster authorization";
		return WF_ERR;
	}
	if (acme_cluster_auth_parse(authorization, &a) != WF_OK) {
		*why = "malformed or not a Wharf-Cluster authorization";
		return WF_ERR;
	}
	if (a.t > now + ACME_CLUSTER_SKEW || a.t < now - ACME_CLUSTER_SKEW) {
		*why = "its time is too far from ours (clocks must agree within 300 s)";
		return WF_ERR;
	}
	if (request_mac(k, method, target, a.t, a.nonce, mac) != WF_OK || gnutls_memcmp(mac, a.mac, sizeof(mac)) != 0) {
		*why = "its signature does not match (another cluster secret?)";
		return WF_ERR;
	}
	*out = a;
	return WF_OK;
}

/* -------------------------------------------------------------- answers */

static int bind_data(const acme_cluster_bind_t *b, wf_buf_t *ad)
{
	wf_slice_t parts[] = { str(b->name), str(b->etag), str(b->thumbprint), str(b->nonce) };
	return join(ad, parts, WF_ARRAY_LEN(parts));
}

static int aead(const acme_cluster_keys_t *k, gnutls_aead_cipher_hd_t *h)
{
	gnutls_datum_t key = { (unsigned char *)k->bundle, sizeof(k->bundle) };
	return gnutls_aead_cipher_init(h, GNUTLS_CIPHER_AES_256_GCM, &key) < 0 ? WF_ERR : WF_OK;
}

int acme_cluster_seal(const acme_cluster_keys_t *k, const acme_cluster_bind_t *b, wf_slice_t pem, wf_buf_t *out)
{
	int rc = WF_ERR;
	wf_buf_t ad;
	gnutls_aead_cipher_hd_t h = NULL;
	wf_buf_init(&ad, SIGNED_MAX);
	if (pem.len > SIZE_MAX - ACME_CLUSTER_IV_LEN - ACME_CLUSTER_TAG_LEN || bind_data(b, &ad) != WF_OK ||
	    aead(k, &h) != WF_OK)
		goto out;
	size_t need = ACME_CLUSTER_IV_LEN + pem.len + ACME_CLUSTER_TAG_LEN;
	unsigned char *dst = (unsigned char *)wf_buf_reserve(out, need);
	if (!dst || gnutls_rnd(GNUTLS_RND_NONCE, dst, ACME_CLUSTER_IV_LEN) < 0)
		goto out;
	size_t clen = need - ACME_CLUSTER_IV_LEN;
	if (gnutls_aead_cipher_encrypt(h, dst, ACME_CLUSTER_IV_LEN, wf_buf_head(&ad), wf_buf_size(&ad),
				       ACME_CLUSTER_TAG_LEN, pem.ptr, pem.len, dst + ACME_CLUSTER_IV_LEN, &clen) < 0 ||
	    clen != pem.len + ACME_CLUSTER_TAG_LEN)
		goto out;
	wf_buf_commit(out, need);
	rc = WF_OK;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	wf_buf_fini(&ad);
	return rc;
}

int acme_cluster_open(const acme_cluster_keys_t *k, const acme_cluster_bind_t *b, wf_slice_t sealed, wf_buf_t *pem)
{
	int rc = WF_ERR;
	wf_buf_t ad;
	gnutls_aead_cipher_hd_t h = NULL;
	wf_buf_init(&ad, SIGNED_MAX);
	if (sealed.len < ACME_CLUSTER_IV_LEN + ACME_CLUSTER_TAG_LEN || bind_data(b, &ad) != WF_OK || aead(k, &h) != WF_OK)
		goto out;
	size_t clen = sealed.len - ACME_CLUSTER_IV_LEN, plen = clen - ACME_CLUSTER_TAG_LEN;
	/* +1: a real destination even for an empty plaintext. */
	char *dst = wf_buf_reserve(pem, plen + 1);
	if (!dst)
		goto out;
	if (gnutls_aead_cipher_decrypt(h, sealed.ptr, ACME_CLUSTER_IV_LEN, wf_buf_head(&ad), wf_buf_size(&ad),
				       ACME_CLUSTER_TAG_LEN, sealed.ptr + ACME_CLUSTER_IV_LEN, clen, dst, &plen) < 0 ||
	    plen != clen - ACME_CLUSTER_TAG_LEN) {
		gnutls_memset(dst, 0, clen - ACME_CLUSTER_TAG_LEN);
		goto out;
	}
	wf_buf_commit(pem, plen);
	rc = WF_OK;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	wf_buf_fini(&ad);
	return rc;
}

int acme_cluster_answer_proof(const acme_cluster_keys_t *k, int status, const acme_cluster_bind_t *b, char out[65])
{
	char st[16];
	unsigned char mac[32];
	snprintf(st, sizeof(st), "%d", status);
	wf_slice_t parts[] = { str(st), str(b->nonce), str(b->etag), str(b->thumbprint) };
	out[0] = '\0';
	if (mac_of(k->answer, parts, WF_ARRAY_LEN(parts), mac) != WF_OK)
		return WF_ERR;
	hex(mac, sizeof(mac), out);
	return WF_OK;
}

bool acme_cluster_answer_ok(const acme_cluster_keys_t *k, int status, const acme_cluster_bind_t *b, const char *proof)
{
	char want[65];
	if (!proof || strlen(proof) != 64 || acme_cluster_answer_proof(k, status, b, want) != WF_OK)
		return false;
	return gnutls_memcmp(want, proof, 64) == 0;
}

/* -------------------------------------------------------- state folder */

int acme_cluster_bundle(const wf_config_t *cfg, const char *name, wf_buf_t *pem, char etag[72])
{
	if (!wf_config_cert(cfg, name))
		return WF_DECLINED;
	int rc = wf_certstate_read_issued(cfg->state_dir, name, pem);
	if (rc != WF_OK)
		return rc;
	unsigned char digest[32];
	gnutls_hash_fast(GNUTLS_DIG_SHA256, wf_buf_head(pem), wf_buf_size(pem), digest);
	char h[65];
	hex(digest, 16, h);
	snprintf(etag, 72, "\"%s\"", h);
	return WF_OK;
}

void acme_cluster_wipe(wf_buf_t *b)
{
	if (b->data)
		gnutls_memset(b->data, 0, b->cap);
	wf_buf_fini(b);
}

static bool is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool acme_cluster_thumbprint_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= ACME_CLUSTER_THUMBPRINT_LEN || !is_b64url(s[n]))
			return false;
	return n == ACME_CLUSTER_THUMBPRINT_LEN;
}

void acme_cluster_thumbprint(const char *state_dir, char *out, size_t cap)
{
	out[0] = '\0';
	char path[4200];
	snprintf(path, sizeof(path), "%s/acme", state_dir);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	wf_buf_t b;
	wf_buf_init(&b, 8192); /* wf_durable_read reads in 4 KiB steps */
	if (wf_durable_read(dfd, "thumbprint", 200, &b) == WF_OK && wf_buf_size(&b) < cap) {
		memcpy(out, wf_buf_head(&b), wf_buf_size(&b));
		out[wf_buf_size(&b)] = '\0';
		/* Only base64url: it goes into responses and headers. */
		for (char *p = out; *p; p++)
			if (!is_b64url(*p)) {
				out[0] = '\0';
				break;
			}
	}
	wf_buf_fini(&b);
	close(dfd);
}

int acme_cluster_thumbprint_save(const char *state_dir, const char *thumbprint)
{
	char cur[128];
	acme_cluster_thumbprint(state_dir, cur, sizeof(cur));
	if (strcmp(cur, thumbprint) == 0)
		return WF_OK;
	char path[4200];
	snprintf(path, sizeof(path), "%s/acme", state_dir);
	if (wf_durable_mkdirs(path, 0700) != WF_OK)
		return WF_ERR;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return WF_ERR;
	int rc = wf_durable_write(dfd, "thumbprint", thumbprint, strlen(thumbprint), 0644);
	close(dfd);
	return rc;
}
