/* Keys leave as PKCS#8 with an EC scalar of exactly the curve's size (RFC
 * 5915), whatever GnuTLS's own encoder wrote, and load back as the same key. */
#include "server/pem_export.h"

#include "check.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

/* The privateKey octets of the ECPrivateKey inside a PKCS#8 DER: the one
 * "02 01 01 04 len" run (version 1, then the OCTET STRING). */
static size_t scalar_len(const unsigned char *der, size_t n)
{
	for (size_t i = 0; i + 5 < n; i++)
		if (der[i] == 0x02 && der[i + 1] == 1 && der[i + 2] == 1 && der[i + 3] == 0x04)
			return der[i + 4];
	return 0;
}

static void check_curve(gnutls_ecc_curve_t curve, size_t field_len, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		gnutls_x509_privkey_t key, back;
		CHECK(gnutls_x509_privkey_init(&key) == 0);
		CHECK(gnutls_x509_privkey_init(&back) == 0);
		CHECK(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(curve), 0) == 0);
		wf_buf_t pem;
		wf_buf_init(&pem, 64 * 1024);
		CHECK_EQ_INT(wf_pem_export_key(key, &pem), WF_OK);
		CHECK(wf_buf_size(&pem) > 0 && strncmp(wf_buf_head(&pem), "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
		gnutls_datum_t in = { (unsigned char *)wf_buf_head(&pem), (unsigned)wf_buf_size(&pem) }, der = { 0 };
		CHECK(gnutls_pem_base64_decode2("PRIVATE KEY", &in, &der) == 0);
		CHECK_EQ_INT(scalar_len(der.data, der.size), field_len);
		/* The same key comes back. */
		CHECK(gnutls_x509_privkey_import2(back, &in, GNUTLS_X509_FMT_PEM, NULL, 0) == 0);
		gnutls_ecc_curve_t c1, c2;
		gnutls_datum_t x1, y1, k1, x2, y2, k2;
		CHECK(gnutls_x509_privkey_export_ecc_raw(key, &c1, &x1, &y1, &k1) == 0);
		CHECK(gnutls_x509_privkey_export_ecc_raw(back, &c2, &x2, &y2, &k2) == 0);
		CHECK(c1 == c2 && k1.size == k2.size && memcmp(k1.data, k2.data, k1.size) == 0);
		CHECK(x1.size == x2.size && memcmp(x1.data, x2.data, x1.size) == 0);
		gnutls_free(x1.data), gnutls_free(y1.data), gnutls_free(k1.data);
		gnutls_free(x2.data), gnutls_free(y2.data), gnutls_free(k2.data);
		gnutls_free(der.data);
		wf_buf_fini(&pem);
		gnutls_x509_privkey_deinit(key);
		gnutls_x509_privkey_deinit(back);
	}
}

/* A PKCS#8 EC P-256 key around a scalar of n octets (no params, no public key). */
static size_t make_der(unsigned char *out, const unsigned char *scalar, size_t n)
{
	static const unsigned char alg[] = { 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
					     0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	size_t ec_in = 3 + 2 + n, ec_all = 2 + ec_in, top_in = 3 + sizeof(alg) + 2 + ec_all;
	size_t o = 0;
	out[o++] = 0x30, out[o++] = (unsigned char)top_in;
	out[o++] = 0x02, out[o++] = 1, out[o++] = 0;
	memcpy(out + o, alg, sizeof(alg)), o += sizeof(alg);
	out[o++] = 0x04, out[o++] = (unsigned char)ec_all;
	out[o++] = 0x30, out[o++] = (unsigned char)ec_in;
	out[o++] = 0x02, out[o++] = 1, out[o++] = 1;
	out[o++] = 0x04, out[o++] = (unsigned char)n;
	memcpy(out + o, scalar, n), o += n;
	return o;
}

static int fix(const unsigned char *der, size_t n, wf_buf_t *out)
{
	wf_buf_reset(out);
	return wf_key_der_fix_ec((wf_slice_t){ (const char *)der, n }, 32, out);
}

int main(void)
{
	CHECK(gnutls_global_init() == 0);
	/* GnuTLS 3.7 gets about half of these wrong on its own. */
	check_curve(GNUTLS_ECC_CURVE_SECP256R1, 32, 64);
	check_curve(GNUTLS_ECC_CURVE_SECP384R1, 48, 16);
	check_curve(GNUTLS_ECC_CURVE_SECP521R1, 66, 16);

	unsigned char s33[33], s31[31], s34[34], der[128], want[128];
	memset(s33, 0xab, sizeof(s33));
	s33[0] = 0x00;
	memset(s31, 0x11, sizeof(s31));
	memset(s34, 0xcd, sizeof(s34));
	wf_buf_t out;
	wf_buf_init(&out, 4096);

	/* A sign octet before a high bit goes. */
	size_t n = make_der(der, s33, 33), wn = make_der(want, s33 + 1, 32);
	CHECK_EQ_INT(fix(der, n, &out), WF_OK);
	CHECK(wf_buf_size(&out) == wn && memcmp(wf_buf_head(&out), want, wn) == 0);
	/* Leading zero octets come back. */
	unsigned char s32[32] = { 0 };
	memcpy(s32 + 1, s31, 31);
	n = make_der(der, s31, 31), wn = make_der(want, s32, 32);
	CHECK_EQ_INT(fix(der, n, &out), WF_OK);
	CHECK(wf_buf_size(&out) == wn && memcmp(wf_buf_head(&out), want, wn) == 0);
	/* Right already: copied as it is. */
	n = make_der(der, s32, 32);
	CHECK_EQ_INT(fix(der, n, &out), WF_OK);
	CHECK(wf_buf_size(&out) == n && memcmp(wf_buf_head(&out), der, n) == 0);
	/* Too big for the curve, whatever its zeros. */
	n = make_der(der, s34, 34);
	CHECK_EQ_INT(fix(der, n, &out), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&out), 0);
	/* Malformed: cut short, trailing bytes, lengths past the end. */
	n = make_der(der, s33, 33);
	CHECK_EQ_INT(fix(der, n - 1, &out), WF_ERR);
	der[n] = 0;
	CHECK_EQ_INT(fix(der, n + 1, &out), WF_ERR);
	der[1] = 0x84, der[2] = 0xff;
	CHECK_EQ_INT(fix(der, n, &out), WF_ERR);
	CHECK_EQ_INT(fix(der, 0, &out), WF_ERR);
	/* Not EC (rsaEncryption): copied as it is. */
	n = make_der(der, s33, 33);
	static const unsigned char rsa_oid[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
	unsigned char rsa[160];
	size_t r = 0;
	rsa[r++] = 0x30, rsa[r++] = 0; /* length below */
	rsa[r++] = 0x02, rsa[r++] = 1, rsa[r++] = 0;
	rsa[r++] = 0x30, rsa[r++] = sizeof(rsa_oid) + 2;
	memcpy(rsa + r, rsa_oid, sizeof(rsa_oid)), r += sizeof(rsa_oid);
	rsa[r++] = 0x05, rsa[r++] = 0;
	rsa[r++] = 0x04, rsa[r++] = 3, rsa[r++] = 0x30, rsa[r++] = 1, rsa[r++] = 0;
	rsa[1] = (unsigned char)(r - 2);
	CHECK_EQ_INT(fix(rsa, r, &out), WF_OK);
	CHECK(wf_buf_size(&out) == r && memcmp(wf_buf_head(&out), rsa, r) == 0);

	wf_buf_fini(&out);
	gnutls_global_deinit();
	return check_report();
}
