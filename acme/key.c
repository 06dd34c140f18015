/* ACME keys on GnuTLS: see key.h. */
#include "key.h"

#include "b64url.h"
#include "../server/pem_export.h"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A key file is the operator's, but a size cap still keeps a wrong path (a
 * log, a device) from being read into GnuTLS whole. */
#define KEY_PEM_MAX (64 * 1024)

static const struct {
	const char *name;
	const char *alias;
	acme_key_type_t type;
} key_types[] = {
    {"ec256", "p256", ACME_KEY_EC256},	 {"ec384", "p384", ACME_KEY_EC384},   {"rsa2048", NULL, ACME_KEY_RSA2048},
    {"rsa3072", NULL, ACME_KEY_RSA3072}, {"rsa4096", NULL, ACME_KEY_RSA4096},
};

int acme_key_type_parse(const char *s, acme_key_type_t *out)
{
	for (size_t i = 0; i < WF_ARRAY_LEN(key_types); i++) {
		if (strcasecmp(s, key_types[i].name) == 0 ||
		    (key_types[i].alias && strcasecmp(s, key_types[i].alias) == 0)) {
			*out = key_types[i].type;
			return WF_OK;
		}
	}
	return WF_ERR;
}

const char *acme_key_type_name(acme_key_type_t t)
{
	for (size_t i = 0; i < WF_ARRAY_LEN(key_types); i++)
		if (key_types[i].type == t)
			return key_types[i].name;
	return "unknown";
}

static bool type_is_ec(acme_key_type_t t)
{
	return t == ACME_KEY_EC256 || t == ACME_KEY_EC384;
}

/* Bytes of one ECDSA coordinate, r or s: JWS fixes them to the field size. */
static size_t ec_field_size(acme_key_type_t t)
{
	return t == ACME_KEY_EC384 ? 48 : 32;
}

const char *acme_key_alg(const acme_key_t *k)
{
	switch (k->type) {
	case ACME_KEY_EC256:
		return "ES256";
	case ACME_KEY_EC384:
		return "ES384";
	default:
		return "RS256";
	}
}

/* The type a public key has for us, or WF_ERR for keys we do not sign with:
 * other curves, Ed25519, and RSA moduli other than 2048/3072/4096 bits. The
 * type is what the operator configured and what state files record, so an odd
 * RSA size is refused rather than passed off as one of the three. */
static int pubkey_type(gnutls_pubkey_t pub, acme_key_type_t *out)
{
	unsigned bits = 0;
	int pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);
	if (pk == GNUTLS_PK_RSA) {
		switch (bits) {
		case 2048:
			*out = ACME_KEY_RSA2048;
			return WF_OK;
		case 3072:
			*out = ACME_KEY_RSA3072;
			return WF_OK;
		case 4096:
			*out = ACME_KEY_RSA4096;
			return WF_OK;
		default:
			return WF_ERR;
		}
	}
	if (pk == GNUTLS_PK_ECDSA) {
		gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
		gnutls_datum_t x = {0}, y = {0};
		int rc = gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0);
		gnutls_free(x.data);
		gnutls_free(y.data);
		if (rc < 0)
			return WF_ERR;
		if (curve == GNUTLS_ECC_CURVE_SECP256R1) {
			*out = ACME_KEY_EC256;
			return WF_OK;
		}
		if (curve == GNUTLS_ECC_CURVE_SECP384R1) {
			*out = ACME_KEY_EC384;
			return WF_OK;
		}
	}
	return WF_ERR;
}

/* Writes an unsigned big-endian integer as exactly width bytes, left-padded
 * with zeros: JWK coordinates and JWS r and s have the field's fixed size,
 * while GnuTLS and DER give the minimal magnitude (DER perhaps with a sign byte). */
static int put_fixed(unsigned char *dst, const gnutls_datum_t *d, size_t width)
{
	const unsigned char *p = d->data;
	size_t n = d->size;
	while (n && *p == 0) {
		p++;
		n--;
	}
	if (n > width)
		return WF_ERR;
	memset(dst, 0, width - n);
	if (n)
		memcpy(dst + width - n, p, n);
	return WF_OK;
}

static int append_padded(wf_buf_t *b, const gnutls_datum_t *d, size_t width)
{
	unsigned char tmp[48];
	if (width > sizeof(tmp) || put_fixed(tmp, d, width) != WF_OK)
		return WF_ERR;
	return acme_b64url_append(b, tmp, width);
}

/* The public JWK with exactly the required members in lexicographic order and
 * no whitespace: RFC 7638 hashes this very string for the thumbprint. */
static int jwk_from_pubkey(gnutls_pubkey_t pub, char *out, size_t cap)
{
	acme_key_type_t type;
	gnutls_datum_t a = {0}, b = {0};
	wf_buf_t buf;
	int rc = WF_ERR;
	wf_buf_init(&buf, cap ? cap - 1 : 0);
	if (cap == 0 || pubkey_type(pub, &type) != WF_OK)
		goto out;
	if (type_is_ec(type)) {
		gnutls_ecc_curve_t curve;
		size_t width = ec_field_size(type);
		if (gnutls_pubkey_export_ecc_raw2(pub, &curve, &a, &b, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
			goto out;
		if (wf_buf_printf(&buf, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"",
				  type == ACME_KEY_EC384 ? "P-384" : "P-256") != WF_OK ||
		    append_padded(&buf, &a, width) != WF_OK || wf_buf_append_str(&buf, "\",\"y\":\"") != WF_OK ||
		    append_padded(&buf, &b, width) != WF_OK || wf_buf_append_str(&buf, "\"}") != WF_OK)
			goto out;
	} else {
		/* a = modulus, b = exponent; NO_LZ already strips the sign byte. */
		if (gnutls_pubkey_export_rsa_raw2(pub, &a, &b, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
			goto out;
		if (wf_buf_append_str(&buf, "{\"e\":\"") != WF_OK ||
		    acme_b64url_append(&buf, b.data, b.size) != WF_OK ||
		    wf_buf_append_str(&buf, "\",\"kty\":\"RSA\",\"n\":\"") != WF_OK ||
		    acme_b64url_append(&buf, a.data, a.size) != WF_OK || wf_buf_append_str(&buf, "\"}") != WF_OK)
			goto out;
	}
	memcpy(out, wf_buf_head(&buf), wf_buf_size(&buf));
	out[wf_buf_size(&buf)] = '\0';
	rc = WF_OK;
out:
	gnutls_free(a.data);
	gnutls_free(b.data);
	wf_buf_fini(&buf);
	return rc;
}

static int thumbprint_of(const char *jwk, char *out, size_t cap)
{
	unsigned char digest[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, jwk, strlen(jwk), digest) < 0)
		return WF_ERR;
	return acme_b64url_encode(digest, sizeof(digest), out, cap) < 0 ? WF_ERR : WF_OK;
}

/* Takes ownership of priv (also on failure) and completes the key: public
 * half, type, JWK and thumbprint. */
static acme_key_t *key_from_privkey(gnutls_privkey_t priv)
{
	acme_key_t *k = calloc(1, sizeof(*k));
	if (!k) {
		gnutls_privkey_deinit(priv);
		return NULL;
	}
	k->priv = priv;
	if (gnutls_pubkey_init(&k->pub) < 0) {
		k->pub = NULL;
		goto fail;
	}
	if (gnutls_pubkey_import_privkey(k->pub, priv, 0, 0) < 0 || pubkey_type(k->pub, &k->type) != WF_OK ||
	    jwk_from_pubkey(k->pub, k->jwk, sizeof(k->jwk)) != WF_OK ||
	    thumbprint_of(k->jwk, k->thumbprint, sizeof(k->thumbprint)) != WF_OK)
		goto fail;
	return k;
fail:
	acme_key_free(k);
	return NULL;
}

acme_key_t *acme_key_generate(acme_key_type_t type)
{
	gnutls_privkey_t priv = NULL;
	gnutls_pk_algorithm_t pk = GNUTLS_PK_RSA;
	unsigned bits;
	switch (type) {
	case ACME_KEY_EC256:
		pk = GNUTLS_PK_ECDSA;
		bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
		break;
	case ACME_KEY_EC384:
		pk = GNUTLS_PK_ECDSA;
		bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1);
		break;
	case ACME_KEY_RSA2048:
		bits = 2048;
		break;
	case ACME_KEY_RSA3072:
		bits = 3072;
		break;
	case ACME_KEY_RSA4096:
		bits = 4096;
		break;
	default:
		return NULL;
	}
	if (gnutls_privkey_init(&priv) < 0)
		return NULL;
	if (gnutls_privkey_generate2(priv, pk, bits, 0, NULL, 0) < 0) {
		gnutls_privkey_deinit(priv);
		return NULL;
	}
	return key_from_privkey(priv);
}

acme_key_t *acme_key_load(wf_slice_t pem)
{
	gnutls_x509_privkey_t x = NULL;
	gnutls_privkey_t priv = NULL;
	if (pem.len == 0 || pem.len > KEY_PEM_MAX)
		return NULL;
	gnutls_datum_t d = {(unsigned char *)pem.ptr, (unsigned)pem.len};
	if (gnutls_x509_privkey_init(&x) < 0)
		return NULL;
	/* No password: an encrypted key fails here instead of prompting. */
	if (gnutls_x509_privkey_import2(x, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 || gnutls_privkey_init(&priv) < 0) {
		gnutls_x509_privkey_deinit(x);
		return NULL;
	}
	if (gnutls_privkey_import_x509(priv, x, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
		gnutls_privkey_deinit(priv);
		gnutls_x509_privkey_deinit(x);
		return NULL;
	}
	return key_from_privkey(priv);
}

int acme_key_export(const acme_key_t *k, wf_buf_t *pem_out)
{
	gnutls_x509_privkey_t x = NULL;
	if (gnutls_privkey_export_x509(k->priv, &x) < 0)
		return WF_ERR;
	int rc = wf_pem_export_key(x, pem_out);
	gnutls_x509_privkey_deinit(x);
	return rc;
}

void acme_key_free(acme_key_t *k)
{
	if (!k)
		return;
	if (k->pub)
		gnutls_pubkey_deinit(k->pub);
	if (k->priv)
		gnutls_privkey_deinit(k->priv);
	free(k);
}

int acme_key_sign_b64url(const acme_key_t *k, wf_slice_t data, wf_buf_t *out)
{
	gnutls_datum_t in = {(unsigned char *)data.ptr, (unsigned)data.len};
	gnutls_datum_t sig = {0}, r = {0}, s = {0};
	gnutls_sign_algorithm_t algo;
	int rc = WF_ERR;
	if (data.len > UINT_MAX)
		return WF_ERR;
	switch (k->type) {
	case ACME_KEY_EC256:
		algo = GNUTLS_SIGN_ECDSA_SHA256;
		break;
	case ACME_KEY_EC384:
		algo = GNUTLS_SIGN_ECDSA_SHA384;
		break;
	default:
		algo = GNUTLS_SIGN_RSA_SHA256;
		break;
	}
	if (gnutls_privkey_sign_data2(k->priv, algo, 0, &in, &sig) < 0)
		goto out;
	if (type_is_ec(k->type)) {
		/* GnuTLS gives the X.509 form, a DER SEQUENCE of two INTEGERs;
		 * JWS (RFC 7518 3.4) wants the two fixed-size halves side by side. */
		unsigned char raw[96];
		size_t width = ec_field_size(k->type);
		if (gnutls_decode_rs_value(&sig, &r, &s) < 0 || put_fixed(raw, &r, width) != WF_OK ||
		    put_fixed(raw + width, &s, width) != WF_OK)
			goto out;
		rc = acme_b64url_append(out, raw, 2 * width);
	} else {
		rc = acme_b64url_append(out, sig.data, sig.size);
	}
out:
	gnutls_free(sig.data);
	gnutls_free(r.data);
	gnutls_free(s.data);
	return rc;
}
