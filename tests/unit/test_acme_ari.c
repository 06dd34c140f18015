/* ARI certificate identifiers (RFC 9773 4.1): the RFC's own example. */
#include "check.h"
#include "acme/ari.h"

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <gnutls/x509.h>

/* A certificate with the RFC example's AKI key identifier and serial. */
static void make(wf_buf_t *pem, const unsigned char *serial, size_t serial_len, bool with_aki)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_init(&key);
	gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	gnutls_x509_crt_init(&crt);
	gnutls_x509_crt_set_version(crt, 3);
	gnutls_x509_crt_set_serial(crt, serial, serial_len);
	gnutls_x509_crt_set_activation_time(crt, 1700000000);
	gnutls_x509_crt_set_expiration_time(crt, 1800000000);
	gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "ari.test", 8);
	gnutls_x509_crt_set_key(crt, key);
	static const unsigned char aki[] = { 0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
					     0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4 };
	if (with_aki)
		gnutls_x509_crt_set_authority_key_id(crt, aki, sizeof(aki));
	gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
	gnutls_datum_t d;
	gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
	wf_buf_append(pem, d.data, d.size);
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
}

int main(void)
{
	gnutls_global_init();
	wf_buf_t pem;
	wf_buf_init(&pem, 1 << 16);
	static const unsigned char serial[] = { 0x00, 0x87, 0x65, 0x43, 0x21 };
	make(&pem, serial, sizeof(serial), true);
	char id[256];
	CHECK_EQ_INT(acme_ari_cert_id(wf_buf_slice(&pem), id, sizeof(id)), WF_OK);
	CHECK_EQ_STR(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
	/* Other PEM blocks before the leaf (issued.pem starts with the key) do not matter. */
	wf_buf_t both;
	wf_buf_init(&both, 1 << 16);
	wf_buf_append_str(&both, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	wf_buf_append(&both, wf_buf_head(&pem), wf_buf_size(&pem));
	CHECK_EQ_INT(acme_ari_cert_id(wf_buf_slice(&both), id, sizeof(id)), WF_OK);
	CHECK_EQ_STR(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
	/* Too small an output, and a leaf without AKI, are refused. */
	CHECK_EQ_INT(acme_ari_cert_id(wf_buf_slice(&pem), id, 10), WF_ERR);
	wf_buf_t noaki;
	wf_buf_init(&noaki, 1 << 16);
	make(&noaki, serial + 1, sizeof(serial) - 1, false);
	CHECK_EQ_INT(acme_ari_cert_id(wf_buf_slice(&noaki), id, sizeof(id)), WF_ERR);
	wf_buf_fini(&pem);
	wf_buf_fini(&both);
	wf_buf_fini(&noaki);
	gnutls_global_deinit();
	return check_report();
}
