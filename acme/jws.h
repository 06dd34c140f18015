/* JWS requests for ACME (RFC 8555 6.2): flattened JSON serialization. */
#ifndef ACME_JWS_H
#define ACME_JWS_H

#include "key.h"

/* Appends {"protected":...,"payload":...,"signature":...} to out.
 * protected = {"alg":ALG,"kid":KID,"nonce":NONCE,"url":URL}, with "jwk"
 * instead of "kid" when kid is NULL (newAccount, revocation by cert key).
 * payload NULL means POST-as-GET (empty payload ""); payload is the JSON text.
 * The nonce must be non-empty base64url, url and kid non-empty printable
 * ASCII without '"' or '\\' (no escaping is done: such values are refused
 * with WF_DECLINED; they come from the CA). WF_ERR: the request could not be
 * built or signed (the key, memory): our own failure. Either way out is left
 * as it was. */
int acme_jws_sign(const acme_key_t *k, const char *kid, const char *nonce, const char *url, const char *payload,
		  wf_buf_t *out);

/* External Account Binding (RFC 8555 7.3.4): appends the JWS object to put as
 * "externalAccountBinding" in a newAccount payload: protected {"alg":"HS256",
 * "kid":EAB_KID,"url":URL}, payload = the account's JWK, HMAC-SHA256 with the
 * (already base64url-decoded) MAC key. An empty MAC key, or an EAB kid or url
 * that would need JSON escaping, is refused. On WF_ERR out is left as it was. */
int acme_jws_eab(const acme_key_t *account, const char *eab_kid, wf_slice_t mac_key, const char *url, wf_buf_t *out);

/* token "." thumbprint (RFC 8555 8.1), NUL-terminated; WF_ERR if cap too small
 * or the token is not non-empty base64url (it also names an HTTP-01 path). */
int acme_key_authorization(const acme_key_t *account, const char *token, char *out, size_t cap);

#define ACME_DNS01_VALUE_MAX 44 /* 43 base64url characters and the NUL */
/* The dns-01 TXT record text for a key authorization: base64url of its
 * SHA-256 (RFC 8555 8.4). WF_OK, or WF_ERR when cap is too small. Pure. */
int acme_dns01_value(const char *key_authorization, char *out, size_t cap);

#endif
