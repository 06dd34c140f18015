/* Provisional self-signed certificate generation with GnuTLS. */
#include "cert_selfsigned.h"
#include "pem_export.h"
#include "san.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int wf_selfsigned_make(char *const *domains, size_t ndomains, const char *key_type, wf_buf_t *cert_pem,
		       wf_buf_t *key_pem)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int rc = WF_ERR;
	if (ndomains == 0)
		return WF_ERR;
	gnutls_pk_algorithm_t pk = GNUTLS_PK_ECDSA;
	unsigned bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
	if (key_type && strcasecmp(key_type, "ec384") == 0) {
		bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1);
	} else if (key_type && strncasecmp(key_type, "rsa", 3) == 0) {
		pk = GNUTLS_PK_RSA;
		bits = (unsigned)strtoul(key_type + 3, NULL, 10);
		if (bits < 2048 || bits > 4096)
			return WF_ERR;
	}
	if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_privkey_generate(key, pk, bits, 0) < 0)
		goto out;
	if (gnutls_x509_crt_init(&crt) < 0)
		goto out;
	unsigned char serial[16];
	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		goto out;
	serial[0] &= 0x7f; /* positive */
	time_t now = time(NULL);
	const char *cn = domains[0];
	/* A wildcard makes a poor CN, an address none at all (RFC 8738 leaves it
	 * out too); any SAN matters to clients, the CN to humans. The subject
	 * keeps its O, so the SAN need not be critical. */
	bool has_cn = !wf_san_is_ip(cn);
	if (gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 90 * 86400) < 0 ||
	    (has_cn && gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)) < 0) ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "wharf provisional",
					  (unsigned)strlen("wharf provisional")) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 || gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
		goto out;
	gnutls_datum_t san = { 0 };
	bool san_ok = wf_san_der(domains, ndomains, &san) == WF_OK &&
		      gnutls_x509_crt_set_extension_by_oid(crt, "2.5.29.17", san.data, san.size, 0) >= 0;
	gnutls_free(san.data);
	if (!san_ok)
		goto out;
	unsigned char kid[64];
	size_t kidlen = sizeof(kid);
	if (gnutls_x509_crt_get_key_id(crt, 0, kid, &kidlen) == 0)
		gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
	if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
		goto out;
	if (wf_pem_export_crt(crt, cert_pem) != WF_OK || wf_pem_export_key(key, key_pem) != WF_OK)
		goto out;
	rc = WF_OK;
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return rc;
}
