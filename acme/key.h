/* Keys for ACME: the account key that signs requests (JWS, RFC 7515/8555) and
 * certificate keys. GnuTLS does the cryptography. */
#ifndef ACME_KEY_H
#define ACME_KEY_H

#include "../server/buf.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>

typedef enum acme_key_type {
	ACME_KEY_EC256, /* ECDSA P-256, ES256: the default */
	ACME_KEY_EC384, /* ECDSA P-384, ES384 */
	ACME_KEY_RSA2048,
	ACME_KEY_RSA3072,
	ACME_KEY_RSA4096, /* RSA keys sign JWS with RS256 */
} acme_key_type_t;

typedef struct acme_key {
	gnutls_privkey_t priv; /* owned */
	gnutls_pubkey_t pub;   /* owned */
	acme_key_type_t type;
	char jwk[1400];        /* public JWK, members in RFC 7638 order, no whitespace */
	char thumbprint[64];   /* base64url(SHA-256(jwk)) */
} acme_key_t;

/* "ec256" / "p256", "ec384" / "p384", "rsa2048", "rsa3072", "rsa4096" -> type; WF_ERR if unknown. */
int acme_key_type_parse(const char *s, acme_key_type_t *out);
const char *acme_key_type_name(acme_key_type_t t);

acme_key_t *acme_key_generate(acme_key_type_t type);
/* Loads a PEM private key (unencrypted PKCS#8 or SEC1/PKCS#1). NULL if it
 * does not parse, is encrypted, or is of a type we do not use: curves other
 * than P-256/P-384, Ed25519, and RSA moduli other than 2048/3072/4096 bits
 * are refused rather than mapped onto one of the five types. */
acme_key_t *acme_key_load(wf_slice_t pem);
/* Appends the private key as unencrypted PKCS#8 PEM ("PRIVATE KEY"). */
int acme_key_export(const acme_key_t *k, wf_buf_t *pem_out);
void acme_key_free(acme_key_t *k);

/* "ES256", "ES384" or "RS256". */
const char *acme_key_alg(const acme_key_t *k);

/* Signs data with the key as JWS wants it: ECDSA as raw r||s (each padded to
 * the curve size), RSA PKCS#1 v1.5 with SHA-256. Appends base64url. */
int acme_key_sign_b64url(const acme_key_t *k, wf_slice_t data, wf_buf_t *out);

#endif
