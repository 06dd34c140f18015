/* ClientHello signature algorithms: which key kinds each code lets a client
 * verify, and what a malformed extension gives. */
#include "check.h"
#include "server/cert_store.h"
#include "server/tls_hello.h"

#define RSA WF_PK_BIT(GNUTLS_PK_RSA)
#define EC WF_PK_BIT(GNUTLS_PK_ECDSA)

static unsigned keys(const uint8_t *codes, size_t n)
{
	uint8_t body[64] = { (uint8_t)(n >> 8), (uint8_t)n };
	memcpy(body + 2, codes, n);
	return wf_tls_sigalgs_keys(body, n + 2);
}

static void test_codes(void)
{
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x04 }, 2), RSA);       /* rsa_pss_rsae_sha256 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x06 }, 2), RSA);       /* rsa_pss_rsae_sha512 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x04, 0x01 }, 2), RSA);       /* rsa_pkcs1_sha256 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x04, 0x03 }, 2), EC);        /* ecdsa_secp256r1_sha256 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x09 }, 2), 0);         /* rsa_pss_pss: an RSA-PSS key */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x07 }, 2), 0);         /* ed25519 */
	CHECK_EQ_INT(keys((const uint8_t[]){ 0x08, 0x07, 0x05, 0x03, 0x08, 0x05 }, 6), RSA | EC);
}

static void test_malformed(void)
{
	CHECK_EQ_INT(wf_tls_sigalgs_keys((const uint8_t[]){ 0x00 }, 1), 0);
	/* A length past the end, an odd one. */
	CHECK_EQ_INT(wf_tls_sigalgs_keys((const uint8_t[]){ 0x00, 0x04, 0x04, 0x03 }, 4), 0);
	CHECK_EQ_INT(wf_tls_sigalgs_keys((const uint8_t[]){ 0x00, 0x03, 0x04, 0x03, 0x04 }, 5), 0);
	CHECK_EQ_INT(wf_tls_hello_keys((const uint8_t[]){ 0x03, 0x03 }, 2), 0);
	CHECK_EQ_INT(wf_tls_hello_keys(NULL, 0), 0);
}

int main(void)
{
	test_codes();
	test_malformed();
	return check_report();
}
