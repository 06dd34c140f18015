/* CSRs for finalize and RFC 8737 TLS-ALPN-01 certificates. */
#include "acme/b64url.h"
#include "acme/csr.h"
#include "check.h"
#include "server/san.h"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <time.h>

static gnutls_x509_crq_t crq_from_b64url(const wf_buf_t *b)
{
	static unsigned char der[64 * 1024];
	gnutls_x509_crq_t crq;
	ssize_t n = acme_b64url_decode(wf_buf_slice(b), der, sizeof(der));
	CHECK(n > 0);
	if (n <= 0 || gnutls_x509_crq_init(&crq) < 0)
		return NULL;
	gnutls_datum_t d = {der, (unsigned)n};
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crq_deinit(crq);
		return NULL;
	}
	return crq;
}

/* The DER SubjectPublicKeyInfo of a public key, to compare two keys. */
static int spki(gnutls_pubkey_t pub, gnutls_datum_t *out)
{
	return gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out);
}

static void check_csr(const acme_key_t *k, char *const *names, size_t n, bool want_cn)
{
	wf_buf_t b;
	wf_buf_init(&b, 64 * 1024);
	CHECK_EQ_INT(acme_csr_make(k, names, n, &b), WF_OK);
	/* The buffer is not NUL-terminated: check byte by byte within its size. */
	bool alphabet = true;
	for (size_t i = 0; i < wf_buf_size(&b); i++)
		alphabet &= strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", wf_buf_head(&b)[i]) &&
			    wf_buf_head(&b)[i] != '\0';
	CHECK(alphabet);
	gnutls_x509_crq_t crq = crq_from_b64url(&b);
	CHECK(crq != NULL);
	if (!crq) {
		wf_buf_fini(&b);
		return;
	}
	CHECK_EQ_INT(gnutls_x509_crq_verify(crq, 0), 0);
	CHECK_EQ_INT(gnutls_x509_crq_get_version(crq), 1);

	char buf[512];
	size_t size = sizeof(buf);
	int rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size);
	if (want_cn) {
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_STR(buf, names[0]);
	} else {
		CHECK_EQ_INT(rc, GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	}

	/* Every name, in order, as a DNS SAN, and nothing else. */
	unsigned i;
	for (i = 0;; i++) {
		unsigned type = 0, critical = 0;
		size = sizeof(buf);
		rc = gnutls_x509_crq_get_subject_alt_name(crq, i, buf, &size, &type, &critical);
		if (rc < 0)
			break;
		CHECK_EQ_INT(rc, GNUTLS_SAN_DNSNAME);
		CHECK(i < n);
		if (i < n)
			CHECK_EQ_STR(buf, names[i]);
		/* RFC 5280: critical exactly when the subject is empty. */
		CHECK_EQ_INT(critical, !want_cn);
	}
	CHECK_EQ_INT(rc, GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	CHECK_EQ_INT(i, n);

	/* Signed by, and for, the key we gave. */
	gnutls_pubkey_t pub;
	gnutls_datum_t a = {0}, c = {0};
	CHECK(gnutls_pubkey_init(&pub) == 0);
	CHECK(gnutls_pubkey_import_x509_crq(pub, crq, 0) == 0);
	CHECK(spki(pub, &a) == 0 && spki(k->pub, &c) == 0);
	CHECK(a.size == c.size && a.size > 0 && memcmp(a.data, c.data, a.size) == 0);
	gnutls_free(a.data);
	gnutls_free(c.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crq_deinit(crq);
	wf_buf_fini(&b);
}

static void test_csr(acme_key_type_t type)
{
	acme_key_t *k = acme_key_generate(type);
	CHECK(k != NULL);
	if (!k)
		return;
	char *one[] = {"www.example.test"};
	check_csr(k, one, 1, true);

	char *many[100];
	for (int i = 0; i < 100; i++) {
		many[i] = malloc(32);
		snprintf(many[i], 32, "n%d.example.test", i);
	}
	check_csr(k, many, 100, true);

	/* 70 bytes cannot be a CN (ub-common-name is 64) but is a fine SAN. */
	char long_name[71];
	memset(long_name, 'a', 60);
	memcpy(long_name + 60, ".exam.test", 11);
	CHECK_EQ_INT(strlen(long_name), 70);
	char *lng[] = {long_name, "short.example.test"};
	check_csr(k, lng, 2, false);

	char *wild[] = {"*.example.test", "example.test"};
	check_csr(k, wild, 2, true);

	/* Refusals leave the output alone. */
	wf_buf_t b;
	wf_buf_init(&b, 64 * 1024);
	char *empty[] = {""};
	char *spaced[] = {"ok.test", "bad name.test"};
	CHECK_EQ_INT(acme_csr_make(k, one, 0, &b), WF_ERR);
	CHECK_EQ_INT(acme_csr_make(k, empty, 1, &b), WF_ERR);
	CHECK_EQ_INT(acme_csr_make(k, spaced, 2, &b), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&b), 0);
	wf_buf_fini(&b);
	wf_buf_init(&b, 100);
	CHECK_EQ_INT(acme_csr_make(k, many, 100, &b), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&b), 0);
	wf_buf_fini(&b);

	for (int i = 0; i < 100; i++)
		free(many[i]);
	acme_key_free(k);
}

static void check_alpn_cert(const char *name, const char *keyauth, bool want_cn)
{
	wf_buf_t cert, key;
	wf_buf_init(&cert, 16 * 1024);
	wf_buf_init(&key, 16 * 1024);
	time_t now = time(NULL);
	CHECK_EQ_INT(acme_tlsalpn_cert(name, keyauth, &cert, &key), WF_OK);

	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t pk;
	gnutls_datum_t d = {(unsigned char *)wf_buf_head(&cert), (unsigned)wf_buf_size(&cert)};
	CHECK(gnutls_x509_crt_init(&crt) == 0);
	CHECK(gnutls_x509_privkey_init(&pk) == 0);
	CHECK_EQ_INT(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	gnutls_datum_t kd = {(unsigned char *)wf_buf_head(&key), (unsigned)wf_buf_size(&key)};
	CHECK_EQ_INT(gnutls_x509_privkey_import(pk, &kd, GNUTLS_X509_FMT_PEM), 0);
	CHECK_EQ_INT(gnutls_x509_privkey_get_pk_algorithm(pk), GNUTLS_PK_ECDSA);

	/* The key that came with it is the certificate's. */
	unsigned char id1[64], id2[64];
	size_t l1 = sizeof(id1), l2 = sizeof(id2);
	CHECK(gnutls_x509_crt_get_key_id(crt, 0, id1, &l1) == 0);
	CHECK(gnutls_x509_privkey_get_key_id(pk, 0, id2, &l2) == 0);
	CHECK(l1 == l2 && memcmp(id1, id2, l1) == 0);

	/* Exactly one SAN: the DNS name. */
	char buf[512];
	size_t size = sizeof(buf);
	unsigned critical = 0;
	CHECK_EQ_INT(gnutls_x509_crt_get_subject_alt_name(crt, 0, buf, &size, &critical), GNUTLS_SAN_DNSNAME);
	CHECK_EQ_STR(buf, name);
	size = sizeof(buf);
	CHECK_EQ_INT(gnutls_x509_crt_get_subject_alt_name(crt, 1, buf, &size, NULL),
		     GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	size = sizeof(buf);
	int rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size);
	CHECK_EQ_INT(rc, want_cn ? 0 : GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);

	/* acmeIdentifier: critical, DER OCTET STRING of SHA-256(key authorization). */
	gnutls_datum_t ext = {0};
	critical = 0;
	CHECK_EQ_INT(gnutls_x509_crt_get_extension_by_oid2(crt, "1.3.6.1.5.5.7.1.31", 0, &ext, &critical), 0);
	CHECK_EQ_INT(critical, 1);
	CHECK_EQ_INT(ext.size, 34);
	unsigned char want[34] = {0x04, 0x20};
	CHECK(gnutls_hash_fast(GNUTLS_DIG_SHA256, keyauth, strlen(keyauth), want + 2) == 0);
	CHECK(ext.size == 34 && memcmp(ext.data, want, 34) == 0);
	gnutls_free(ext.data);

	CHECK_EQ_INT(gnutls_x509_crt_get_version(crt), 3);
	time_t nb = gnutls_x509_crt_get_activation_time(crt), na = gnutls_x509_crt_get_expiration_time(crt);
	CHECK(nb <= now - 3600 + 5 && nb >= now - 3600 - 5);
	CHECK(na >= now + 7 * 86400 - 5 && na <= now + 7 * 86400 + 5);

	/* The self-signature verifies; DO_NOT_ALLOW_SAME makes GnuTLS check it
	 * instead of trusting the certificate for being in the list, and
	 * acmeIdentifier is a critical extension GnuTLS does not know. */
	unsigned flags = GNUTLS_VERIFY_DO_NOT_ALLOW_SAME | GNUTLS_VERIFY_DISABLE_CA_SIGN |
			 GNUTLS_VERIFY_IGNORE_UNKNOWN_CRIT_EXTENSIONS;
	unsigned status = 1;
	CHECK_EQ_INT(gnutls_x509_crt_verify(crt, &crt, 1, flags, &status), 0);
	CHECK_EQ_INT(status, 0);

	/* A flipped bit in the signature is caught, so the check above means it. */
	gnutls_datum_t der = {0};
	CHECK(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) == 0);
	der.data[der.size - 1] ^= 1;
	gnutls_x509_crt_t bad;
	CHECK(gnutls_x509_crt_init(&bad) == 0);
	CHECK_EQ_INT(gnutls_x509_crt_import(bad, &der, GNUTLS_X509_FMT_DER), 0);
	status = 0;
	CHECK_EQ_INT(gnutls_x509_crt_verify(bad, &bad, 1, flags, &status), 0);
	CHECK(status & GNUTLS_CERT_INVALID);
	CHECK(status & GNUTLS_CERT_SIGNATURE_FAILURE);
	gnutls_x509_crt_deinit(bad);
	gnutls_free(der.data);

	gnutls_x509_privkey_deinit(pk);
	gnutls_x509_crt_deinit(crt);
	wf_buf_fini(&cert);
	wf_buf_fini(&key);
}

static void test_tlsalpn(void)
{
	check_alpn_cert("www.example.test",
			"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI",
			true);
	char long_name[71];
	memset(long_name, 'b', 60);
	memcpy(long_name + 60, ".exam.test", 11);
	check_alpn_cert(long_name, "tok.thumb", false);

	wf_buf_t cert, key;
	wf_buf_init(&cert, 16 * 1024);
	wf_buf_init(&key, 100); /* too small for the key */
	CHECK_EQ_INT(acme_tlsalpn_cert("x.test", "a.b", &cert, &key), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&cert), 0);
	CHECK_EQ_INT(wf_buf_size(&key), 0);
	CHECK_EQ_INT(acme_tlsalpn_cert("", "a.b", &cert, &key), WF_ERR);
	CHECK_EQ_INT(acme_tlsalpn_cert("a\nb", "a.b", &cert, &key), WF_ERR);
	wf_buf_fini(&cert);
	wf_buf_fini(&key);
}

/* RFC 8738: addresses go into the CSR as iPAddress SANs, never as a CN. */
static void test_ip_names(void)
{
	acme_key_t *k = acme_key_generate(ACME_KEY_EC256);
	CHECK(k != NULL);
	if (!k)
		return;
	char *names[] = { "192.0.2.7", "2001:db8::7", "www.example.test" };
	wf_buf_t b;
	wf_buf_init(&b, 64 * 1024);
	CHECK_EQ_INT(acme_csr_make(k, names, 3, &b), WF_OK);
	gnutls_x509_crq_t crq = crq_from_b64url(&b);
	CHECK(crq != NULL);
	if (crq) {
		char buf[512];
		size_t size = sizeof(buf);
		CHECK_EQ_INT(gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size),
			     GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
		static const unsigned char v4[4] = { 192, 0, 2, 7 };
		static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 };
		unsigned type, critical;
		size = sizeof(buf);
		CHECK_EQ_INT(gnutls_x509_crq_get_subject_alt_name(crq, 0, buf, &size, &type, &critical),
			     GNUTLS_SAN_IPADDRESS);
		CHECK(size == 4 && memcmp(buf, v4, 4) == 0);
		CHECK_EQ_INT(critical, 1); /* empty subject */
		size = sizeof(buf);
		CHECK_EQ_INT(gnutls_x509_crq_get_subject_alt_name(crq, 1, buf, &size, &type, &critical),
			     GNUTLS_SAN_IPADDRESS);
		CHECK(size == 16 && memcmp(buf, v6, 16) == 0);
		size = sizeof(buf);
		CHECK_EQ_INT(gnutls_x509_crq_get_subject_alt_name(crq, 2, buf, &size, &type, &critical),
			     GNUTLS_SAN_DNSNAME);
		CHECK_EQ_STR(buf, "www.example.test");
		gnutls_x509_crq_deinit(crq);
	}
	wf_buf_fini(&b);
	acme_key_free(k);

	/* The SNI a TLS-ALPN-01 validator sends for each (RFC 8738 6). */
	char sni[128];
	CHECK_EQ_INT(acme_alpn_sni("127.0.0.1", sni, sizeof(sni)), WF_OK);
	CHECK_EQ_STR(sni, "1.0.0.127.in-addr.arpa");
	CHECK_EQ_INT(acme_alpn_sni("2001:db8::7", sni, sizeof(sni)), WF_OK);
	CHECK_EQ_STR(sni, "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	CHECK_EQ_INT(acme_alpn_sni("www.example.test", sni, sizeof(sni)), WF_OK);
	CHECK_EQ_STR(sni, "www.example.test");
	CHECK_EQ_INT(acme_alpn_sni("2001:db8::7", sni, 40), WF_ERR);

	/* Which names are addresses, and their canonical text. */
	unsigned char a[16];
	CHECK_EQ_INT(wf_san_ip("10.0.0.1", a), 4);
	CHECK_EQ_INT(wf_san_ip("::1", a), 16);
	CHECK_EQ_INT(wf_san_ip("10.0.1", a), 0);
	CHECK_EQ_INT(wf_san_ip("1.2.3.4.example", a), 0);
	CHECK_EQ_INT(wf_san_ip("example.test", a), 0);
	char *text = strdup("2001:DB8:0:0:0:0:0:07");
	CHECK(wf_san_canonical_ip(&text));
	CHECK_EQ_STR(text, "2001:db8::7");
	free(text);
	text = strdup("1::3:4:5:6:7:8"); /* its canonical text is longer */
	CHECK(wf_san_canonical_ip(&text));
	CHECK_EQ_STR(text, "1:0:3:4:5:6:7:8");
	free(text);
	char *dns = strdup("example.test");
	CHECK(!wf_san_canonical_ip(&dns));
	CHECK_EQ_STR(dns, "example.test");
	free(dns);
}

int main(void)
{
	test_csr(ACME_KEY_EC256);
	test_csr(ACME_KEY_EC384);
	test_csr(ACME_KEY_RSA2048);
	test_tlsalpn();
	test_ip_names();
	return check_report();
}
