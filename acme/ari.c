/* ARI certificate identifiers: see ari.h. */
#include "ari.h"
#include "b64url.h"

#include <gnutls/x509.h>
#include <string.h>

int acme_ari_cert_id(wf_slice_t chain_pem, char *out, size_t cap)
{
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) < 0)
		return WF_ERR;
	gnutls_datum_t in = { (unsigned char *)chain_pem.ptr, (unsigned)chain_pem.len };
	int rc = WF_ERR;
	unsigned char aki[128], serial[64];
	size_t aki_len = sizeof(aki), serial_len = sizeof(serial);
	unsigned critical;
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crt_get_authority_key_id(crt, aki, &aki_len, &critical) < 0 ||
	    gnutls_x509_crt_get_serial(crt, serial, &serial_len) < 0)
		goto out;
	ssize_t a = acme_b64url_encode(aki, aki_len, out, cap);
	if (a < 0 || (size_t)a + 2 > cap)
		goto out;
	out[a] = '.';
	if (acme_b64url_encode(serial, serial_len, out + a + 1, cap - (size_t)a - 1) < 0)
		goto out;
	rc = WF_OK;
out:
	gnutls_x509_crt_deinit(crt);
	return rc;
}
