/* Flattened JWS for ACME: see jws.h. */
#include "jws.h"

#include "b64url.h"

#include <gnutls/crypto.h>
#include <stdio.h>
#include <string.h>

/* Values the CA hands us (nonce, URLs, the account URL used as kid) are pasted
 * into JSON by hand, so they are checked instead of escaped: anything that
 * would need escaping is not a nonce or a URL we would want to send anyway. */
#define JWS_VALUE_MAX 2048

static bool is_b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Nonces (RFC 8555 6.5.1) and challenge tokens (8.3) are base64url. */
static bool b64url_string_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > JWS_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_b64url_char((unsigned char)s[i]))
			return false;
	return true;
}

/* Printable ASCII without the two characters JSON strings escape: covers
 * URLs (RFC 3986 has no raw '"' or '\\') and EAB key ids. */
static bool json_safe(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > JWS_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* Undoes a failed build: the caller's buffer is back to what it held. */
static void buf_truncate(wf_buf_t *b, size_t size)
{
	b->len = b->off + size;
}

typedef int (*sign_fn)(const void *ctx, wf_slice_t input, wf_buf_t *out);

/* Appends {"protected":P,"payload":L,"signature":S} where P and L are the
 * base64url protected header and payload, S signs "P.L" by sign(). */
static int flattened(const char *protected_json, const char *payload, size_t payload_len, sign_fn sign, const void *ctx,
		     wf_buf_t *out)
{
	size_t before = wf_buf_size(out);
	/* The signing input is "P.L"; built aside, then laid out in the object. */
	wf_buf_t input;
	wf_buf_init(&input, out->max);
	int rc = WF_ERR;
	if (acme_b64url_append(&input, protected_json, strlen(protected_json)) != WF_OK)
		goto out;
	size_t plen = wf_buf_size(&input);
	if (wf_buf_append(&input, ".", 1) != WF_OK || acme_b64url_append(&input, payload, payload_len) != WF_OK)
		goto out;
	wf_slice_t in = wf_buf_slice(&input);
	if (wf_buf_append_str(out, "{\"protected\":\"") != WF_OK || wf_buf_append(out, in.ptr, plen) != WF_OK ||
	    wf_buf_append_str(out, "\",\"payload\":\"") != WF_OK ||
	    wf_buf_append(out, in.ptr + plen + 1, in.len - plen - 1) != WF_OK ||
	    wf_buf_append_str(out, "\",\"signature\":\"") != WF_OK || sign(ctx, in, out) != WF_OK ||
	    wf_buf_append_str(out, "\"}") != WF_OK)
		goto out;
	rc = WF_OK;
out:
	if (rc != WF_OK)
		buf_truncate(out, before);
	wf_buf_fini(&input);
	return rc;
}

static int sign_with_key(const void *ctx, wf_slice_t input, wf_buf_t *out)
{
	return acme_key_sign_b64url(ctx, input, out);
}

int acme_jws_sign(const acme_key_t *k, const char *kid, const char *nonce, const char *url, const char *payload,
		  wf_buf_t *out)
{
	/* Values the CA gave that no request can carry: its doing, not ours. */
	if (!b64url_string_ok(nonce) || !json_safe(url) || (kid && !json_safe(kid)))
		return WF_DECLINED;
	wf_buf_t prot;
	wf_buf_init(&prot, sizeof(k->jwk) + 3 * JWS_VALUE_MAX + 128);
	int rc = WF_ERR;
	if (wf_buf_printf(&prot, "{\"alg\":\"%s\",", acme_key_alg(k)) != WF_OK)
		goto out;
	if (kid)
		rc = wf_buf_printf(&prot, "\"kid\":\"%s\",", kid);
	else
		rc = wf_buf_printf(&prot, "\"jwk\":%s,", k->jwk);
	if (rc != WF_OK || wf_buf_printf(&prot, "\"nonce\":\"%s\",\"url\":\"%s\"}", nonce, url) != WF_OK ||
	    wf_buf_append(&prot, "", 1) != WF_OK) {
		rc = WF_ERR;
		goto out;
	}
	/* POST-as-GET (RFC 8555 6.3) signs the empty string, not "{}". */
	rc =
	    flattened(wf_buf_head(&prot), payload ? payload : "", payload ? strlen(payload) : 0, sign_with_key, k, out);
out:
	wf_buf_fini(&prot);
	return rc;
}

static int sign_with_hmac(const void *ctx, wf_slice_t input, wf_buf_t *out)
{
	const wf_slice_t *mac_key = ctx;
	unsigned char mac[32];
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, mac_key->ptr, mac_key->len, input.ptr, input.len, mac) < 0)
		return WF_ERR;
	return acme_b64url_append(out, mac, sizeof(mac));
}

int acme_jws_eab(const acme_key_t *account, const char *eab_kid, wf_slice_t mac_key, const char *url, wf_buf_t *out)
{
	/* An empty MAC key would "authenticate" anyone: a config mistake. */
	if (mac_key.len == 0 || !json_safe(eab_kid) || !json_safe(url))
		return WF_ERR;
	wf_buf_t prot;
	wf_buf_init(&prot, 2 * JWS_VALUE_MAX + 64);
	int rc = WF_ERR;
	/* RFC 8555 7.3.4: no nonce in the inner JWS. */
	if (wf_buf_printf(&prot, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"url\":\"%s\"}", eab_kid, url) != WF_OK ||
	    wf_buf_append(&prot, "", 1) != WF_OK)
		goto out;
	rc = flattened(wf_buf_head(&prot), account->jwk, strlen(account->jwk), sign_with_hmac, &mac_key, out);
out:
	wf_buf_fini(&prot);
	return rc;
}

int acme_key_authorization(const acme_key_t *account, const char *token, char *out, size_t cap)
{
	/* The token also names a file under /.well-known/acme-challenge/ and
	 * goes into JSON: only base64url (RFC 8555 8.3) gets through. */
	if (!b64url_string_ok(token))
		return WF_ERR;
	int n = snprintf(out, cap, "%s.%s", token, account->thumbprint);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return WF_ERR;
	}
	return WF_OK;
}

int acme_dns01_value(const char *key_authorization, char *out, size_t cap)
{
	unsigned char digest[32];
	if (cap < ACME_DNS01_VALUE_MAX ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, key_authorization, strlen(key_authorization), digest) < 0 ||
	    acme_b64url_encode(digest, sizeof(digest), out, cap) < 0) {
		if (cap)
			out[0] = '\0';
		return WF_ERR;
	}
	return WF_OK;
}
