/* ClientHello signature algorithms: which key kinds each code lets a client
 * verify, and what a malformed extension gives. */
#include "check.h"
#include "server/cert_key.h"
#include "server/tls_hello.h"

#include <stdlib.h>

#define RSA WF_KEY_RSA
#define EC WF_KEY_EC
#define P256 WF_KEY_EC256

/* The codes read as TLS 1.3 reads them, or (keys12) as TLS 1.2 does. */
static unsigned read_as(const uint8_t *codes, size_t n, bool tls13)
{
	uint8_t body[64] = { (uint8_t)(n >> 8), (uint8_t)n };
	memcpy(body + 2, codes, n);
	return wf_tls_sigalgs_keys(body, n + 2, tls13);
}

static unsigned keys(const uint8_t *codes, size_t n)
{
	return read_as(codes, n, true);
}

static unsigned keys12(const uint8_t *codes, size_t n)
{
	return read_as(codes, n, false);
}

static void test_codes(void)
{
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x04 }, 2), RSA);       /* rsa_pss_rsae_sha256 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x06 }, 2), RSA);       /* rsa_pss_rsae_sha512 */
	/* rsa_pkcs1_sha256: TLS 1.3 signs no handshake with it (RFC 8446 4.2.3). */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x04, 0x01 }, 2), 0);
	CHECK_EQ_INT(keys12((const uint8_t[]){ 0x04, 0x01 }, 2), RSA);
	/* TLS 1.2's ECDSA pairs name a hash over any curve. */
	CHECK_EQ_INT(keys12((const uint8_t[]){ 0x04, 0x03 }, 2), EC);
	CHECK_EQ_INT(keys12((const uint8_t[]){ 0x02, 0x03, 0x02, 0x01 }, 4), 0); /* SHA-1 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x04, 0x03 }, 2), P256);      /* ecdsa_secp256r1_sha256 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x05, 0x03 }, 2), WF_KEY_EC384); /* ecdsa_secp384r1_sha384 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x06, 0x03 }, 2), WF_KEY_EC521); /* ecdsa_secp521r1_sha512 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x09 }, 2), 0);         /* rsa_pss_pss: an RSA-PSS key */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x07 }, 2), 0);         /* ed25519 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x07, 0x05, 0x03, 0x08, 0x05 }, 6), RSA | WF_KEY_EC384);
}

/* A ClientHello body: TLS 1.2 framing, the given suites, a
 * signature_algorithms extension when sigalgs, and supported_versions with
 * TLS 1.3 when tls13. Returns its length. */
static size_t hello(uint8_t *out, const uint16_t *suites, size_t nsuites, const uint16_t *sigalgs, size_t nsig,
		    bool tls13)
{
	size_t at = 0;
	out[at++] = 0x03;
	out[at++] = 0x03;
	memset(out + at, 0x5a, 32);
	at += 32;
	out[at++] = 0; /* session id */
	out[at++] = (uint8_t)(nsuites * 2 >> 8);
	out[at++] = (uint8_t)(nsuites * 2);
	for (size_t i = 0; i < nsuites; i++) {
		out[at++] = (uint8_t)(suites[i] >> 8);
		out[at++] = (uint8_t)suites[i];
	}
	out[at++] = 1; /* compression: null */
	out[at++] = 0;
	size_t ext_len_at = at;
	at += 2;
	if (sigalgs) {
		out[at++] = 0;
		out[at++] = 13;
		out[at++] = (uint8_t)((nsig * 2 + 2) >> 8);
		out[at++] = (uint8_t)(nsig * 2 + 2);
		out[at++] = (uint8_t)(nsig * 2 >> 8);
		out[at++] = (uint8_t)(nsig * 2);
		for (size_t i = 0; i < nsig; i++) {
			out[at++] = (uint8_t)(sigalgs[i] >> 8);
			out[at++] = (uint8_t)sigalgs[i];
		}
	}
	if (tls13) {
		const uint8_t sv[] = { 0, 43, 0, 5, 4, 0x03, 0x04, 0x03, 0x03 };
		memcpy(out + at, sv, sizeof(sv));
		at += sizeof(sv);
	}
	size_t ext_len = at - ext_len_at - 2;
	out[ext_len_at] = (uint8_t)(ext_len >> 8);
	out[ext_len_at + 1] = (uint8_t)ext_len;
	return at;
}

static void test_hello(void)
{
	uint8_t buf[512];
	const uint16_t both_suites[] = { 0xc02b, 0xc02f }; /* ECDHE_ECDSA and ECDHE_RSA AES128-GCM */
	const uint16_t rsa_suites[] = { 0xc02f, 0xc030, 0xcca8 };
	const uint16_t ecdsa_suites[] = { 0xc02c };
	const uint16_t both_sigs[] = { 0x0403, 0x0804 };
	const uint16_t rsa_sigs[] = { 0x0804, 0x0401 };
	size_t n = hello(buf, both_suites, 2, both_sigs, 2, false);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), RSA | EC);
	n = hello(buf, both_suites, 2, rsa_sigs, 2, false);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), RSA);
	/* TLS 1.2 with RSA suites alone: no ECDSA, whatever the signatures say. */
	n = hello(buf, rsa_suites, 3, both_sigs, 2, false);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), RSA);
	n = hello(buf, ecdsa_suites, 1, NULL, 0, false);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), EC);
	/* No signature_algorithms: the suites alone. */
	n = hello(buf, both_suites, 2, NULL, 0, false);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), RSA | EC);
	/* Offering TLS 1.3, whose suites name no key: the signatures alone,
	 * its ECDSA schemes one curve each (TLS 1.2 above: any curve). */
	const uint16_t tls13_suites[] = { 0x1301, 0x1302 };
	n = hello(buf, tls13_suites, 2, both_sigs, 2, true);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), RSA | P256);
	/* PKCS#1 v1.5 beside it: no RSA under TLS 1.3, RSA under TLS 1.2. */
	const uint16_t p384_pkcs1_sigs[] = { 0x0503, 0x0401 };
	n = hello(buf, tls13_suites, 2, p384_pkcs1_sigs, 2, true);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), WF_KEY_EC384);
	n = hello(buf, both_suites, 2, p384_pkcs1_sigs, 2, false);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), RSA | EC);
	const uint16_t p384_sigs[] = { 0x0503 };
	n = hello(buf, tls13_suites, 2, p384_sigs, 1, true);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), WF_KEY_EC384);
	n = hello(buf, both_suites, 2, p384_sigs, 1, false);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), EC);
	n = hello(buf, tls13_suites, 2, rsa_sigs, 2, true);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), RSA);
	/* SHA-1 pairs verify nothing the server signs. */
	const uint16_t sha1_sigs[] = { 0x0203, 0x0201 };
	n = hello(buf, both_suites, 2, sha1_sigs, 2, false);
	CHECK_EQ_INT(wf_tls_hello_keys(buf, n), 0);
	/* Cut before its suites end, or inside its extensions: nothing claimed
	 * (ASan sees that nothing past the cut is read). */
	n = hello(buf, both_suites, 2, both_sigs, 2, false);
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, buf, cut);
		if (cut < 2 + 32 + 1 + 2 + 4 || cut > 2 + 32 + 1 + 2 + 4 + 2 + 2)
			CHECK_EQ_INT(wf_tls_hello_keys(copy, cut), 0);
		free(copy);
	}
}

static void test_malformed(void)
{
	CHECK_EQ_INT(wf_tls_sigalgs_keys((const uint8_t[]){ 0x00 }, 1, true), 0);
	/* A length past the end, an odd one. */
	CHECK_EQ_INT(wf_tls_sigalgs_keys((const uint8_t[]){ 0x00, 0x04, 0x04, 0x03 }, 4, true), 0);
	CHECK_EQ_INT(wf_tls_sigalgs_keys((const uint8_t[]){ 0x00, 0x03, 0x04, 0x03, 0x04 }, 5, false), 0);
	CHECK_EQ_INT(wf_tls_hello_keys((const uint8_t[]){ 0x03, 0x03 }, 2), 0);
	CHECK_EQ_INT(wf_tls_hello_keys(NULL, 0), 0);
}

int main(void)
{
	test_codes();
	test_hello();
	test_malformed();
	return check_report();
}
