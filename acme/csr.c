/* CSRs and TLS-ALPN-01 certificates on GnuTLS: see csr.h. */
#include "csr.h"

#include "b64url.h"
#include "../server/pem_export.h"
#include "../server/san.h"

#include <gnutls/crypto.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31" /* RFC 8737 3 */
#define OID_SUBJECT_ALT_NAME "2.5.29.17"
#define CN_MAX 64 /* ub-common-name, RFC 5280 A.1 */
#define NAME_MAX_LEN 253

/* A DNS name as it goes into a SAN: the CA judges the rest, but nothing
 * empty, overlong or outside printable ASCII is put into DER. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void buf_truncate(wf_buf_t *b, size_t size)
{
	b->len = b->off + size;
}

int acme_csr_make(const acme_key_t *key, char *const *names, size_t n, wf_buf_t *b64url_out)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t ext = {0}, der = {0};
	int rc = WF_ERR;
	if (n == 0)
		return WF_ERR;
	for (size_t i = 0; i < n; i++)
		if (!name_ok(names[i]))
			return WF_ERR;
	if (gnutls_x509_crq_init(&crq) < 0) {
		crq = NULL;
		goto out;
	}
	size_t cnlen = strlen(names[0]);
	bool has_cn = cnlen <= CN_MAX && !wf_san_is_ip(names[0]); /* an address is no common name */
	if (gnutls_x509_crq_set_version(crq, 1) < 0 ||
	    (has_cn &&
	     gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, names[0], (unsigned)cnlen) < 0))
		goto out;
	/* RFC 5280 4.2.1.6: with an empty subject the SAN must be critical. */
	if (wf_san_der(names, n, &ext) != WF_OK ||
	    gnutls_x509_crq_set_extension_by_oid(crq, OID_SUBJECT_ALT_NAME, ext.data, ext.size, !has_cn) < 0)
		goto out;
	if (gnutls_x509_crq_set_pubkey(crq, key->pub) < 0 ||
	    gnutls_x509_crq_privkey_sign(crq, key->priv, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der) < 0)
		goto out;
	rc = acme_b64url_append(b64url_out, der.data, der.size);
out:
	gnutls_free(der.data);
	gnutls_free(ext.data);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	return rc;
}

int acme_tlsalpn_cert(const char *name, const char *key_authorization, wf_buf_t *cert_pem, wf_buf_t *key_pem)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t san = {0};
	size_t cert_before = wf_buf_size(cert_pem), key_before = wf_buf_size(key_pem);
	int rc = WF_ERR;
	if (!name_ok(name))
		return WF_ERR;
	/* The extension value is DER: OCTET STRING (0x04), length 32, digest. */
	unsigned char ext[2 + 32] = {0x04, 0x20};
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key_authorization, strlen(key_authorization), ext + 2) < 0)
		return WF_ERR;
	if (gnutls_x509_privkey_init(&key) < 0) {
		key = NULL;
		goto out;
	}
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
		goto out;
	if (gnutls_x509_crt_init(&crt) < 0) {
		crt = NULL;
		goto out;
	}
	unsigned char serial[16];
	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		goto out;
	/* Positive, and no leading zero byte that DER would call non-minimal. */
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
	time_t now = time(NULL);
	size_t namelen = strlen(name);
	/* The validator reads only the SAN and the extension; a CN just helps
	 * whoever looks at the certificate in a capture. */
	bool has_cn = namelen <= CN_MAX && !wf_san_is_ip(name);
	if (gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 7 * 86400) < 0 ||
	    (has_cn &&
	     gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, name, (unsigned)namelen) < 0) ||
	    gnutls_x509_crt_set_key(crt, key) < 0 || wf_san_der((char *const *)&name, 1, &san) != WF_OK ||
	    gnutls_x509_crt_set_extension_by_oid(crt, OID_SUBJECT_ALT_NAME, san.data, san.size, !has_cn) < 0 ||
	    gnutls_x509_crt_set_extension_by_oid(crt, OID_ACME_IDENTIFIER, ext, sizeof(ext), 1) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
		goto out;
	if (wf_pem_export_crt(crt, cert_pem) != WF_OK || wf_pem_export_key(key, key_pem) != WF_OK)
		goto out;
	rc = WF_OK;
out:
	if (rc != WF_OK) {
		buf_truncate(cert_pem, cert_before);
		buf_truncate(key_pem, key_before);
	}
	gnutls_free(san.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return rc;
}

int acme_alpn_sni(const char *identifier, char *out, size_t cap)
{
	unsigned char a[16];
	int n = wf_san_ip(identifier, a), w;
	if (n == 4)
		w = snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
	else if (n == 16) {
		static const char hex[] = "0123456789abcdef";
		char nibbles[64];
		for (int i = 0; i < 16; i++) {
			nibbles[4 * i] = hex[a[15 - i] & 0xf];
			nibbles[4 * i + 1] = '.';
			nibbles[4 * i + 2] = hex[a[15 - i] >> 4];
			nibbles[4 * i + 3] = '.';
		}
		w = snprintf(out, cap, "%.64sip6.arpa", nibbles);
	} else
		w = snprintf(out, cap, "%s", identifier);
	return w >= 0 && (size_t)w < cap ? WF_OK : WF_ERR;
}
