/* ClientHello signature algorithms: see tls_hello.h. */
#include "tls_hello.h"
#include "cert_key.h"

#include <gnutls/gnutls.h>
#include <stdbool.h>

#define EXT_SIGNATURE_ALGORITHMS 13
#define EXT_SUPPORTED_VERSIONS 43
#define RSA WF_KEY_RSA
#define ECDSA WF_KEY_EC

unsigned wf_tls_sigalgs_keys(const uint8_t *body, size_t len, bool tls13)
{
	if (len < 2)
		return 0;
	size_t n = (size_t)body[0] << 8 | body[1];
	if (n > len - 2 || n % 2)
		return 0;
	unsigned bits = 0;
	for (size_t i = 2; i < 2 + n; i += 2) {
		uint8_t hi = body[i], lo = body[i + 1];
		/* RFC 8446 4.2.3: 0x0804-0x0806 are RSA-PSS over an rsaEncryption
		 * key (0x0809-0x080b need an RSA-PSS key, which no CA here
		 * issues); below 0x0800 the TLS 1.2 pairs (hash, signature) with
		 * signature 1 RSA and 3 ECDSA, and hash 4 (SHA-256) or more: the
		 * server's priorities sign with nothing weaker. TLS 1.3 reads
		 * 0x0403, 0x0503 and 0x0603 as ECDSA on P-256, P-384 and P-521
		 * alone, and signs no handshake with PKCS#1 v1.5 (RFC 8446
		 * 4.2.3: those codes are for certificates only); TLS 1.2 reads
		 * the ECDSA pairs as a hash over any curve. */
		if (hi == 0x08)
			bits |= lo >= 0x04 && lo <= 0x06 ? RSA : 0;
		else if (hi >= 0x04 && hi <= 0x06 && lo == 0x01 && !tls13)
			bits |= RSA;
		else if (hi >= 0x04 && hi <= 0x06 && lo == 0x03 && tls13)
			bits |= hi == 0x04 ? WF_KEY_EC256 : hi == 0x05 ? WF_KEY_EC384 : WF_KEY_EC521;
		else if (hi >= 0x04 && hi <= 0x06 && lo == 0x03)
			bits |= ECDSA;
	}
	return bits;
}

/* Under TLS 1.2 the cipher suite names the key too: ECDHE_ECDSA suites
 * need an ECDSA key, ECDHE_RSA and DHE_RSA ones an RSA key (RFC 8422, RFC
 * 5288, RFC 7905, RFC 7251, RFC 6655). Suites the server never
 * negotiates count for neither. */
static unsigned suite_keys(uint8_t hi, uint8_t lo)
{
	static const uint8_t ecdsa_c0[] = { 0x09, 0x0a, 0x23, 0x24, 0x2b, 0x2c, 0xac, 0xad, 0xae, 0xaf };
	static const uint8_t rsa_c0[] = { 0x13, 0x14, 0x27, 0x28, 0x2f, 0x30, 0x9e, 0x9f, 0xa2, 0xa3 };
	static const uint8_t rsa_00[] = { 0x33, 0x39, 0x67, 0x6b, 0x9e, 0x9f };
	if (hi == 0xcc)
		return lo == 0xa9 ? ECDSA : lo == 0xa8 || lo == 0xaa ? RSA : 0;
	const uint8_t *list = hi == 0xc0 ? rsa_c0 : hi == 0x00 ? rsa_00 : NULL;
	size_t n = hi == 0xc0 ? sizeof(rsa_c0) : hi == 0x00 ? sizeof(rsa_00) : 0;
	for (size_t i = 0; i < n; i++)
		if (list[i] == lo)
			return RSA;
	for (size_t i = 0; hi == 0xc0 && i < sizeof(ecdsa_c0); i++)
		if (ecdsa_c0[i] == lo)
			return ECDSA;
	return 0;
}

/* supported_versions of a ClientHello: a length byte, then versions. */
static bool offers_tls13(const uint8_t *body, size_t len)
{
	if (len < 1 || body[0] > len - 1)
		return false;
	for (size_t i = 1; i + 1 < 1u + body[0]; i += 2)
		if (body[i] == 0x03 && body[i + 1] == 0x04)
			return true;
	return false;
}

typedef struct hello_exts {
	wf_slice_t sigalgs; /* the extension's body, read once the version is known */
	bool has_sigalgs;
	bool tls13;
} hello_exts_t;

static int on_ext(void *ctx, unsigned tls_id, const unsigned char *data, unsigned size)
{
	hello_exts_t *x = ctx;
	if (tls_id == EXT_SIGNATURE_ALGORITHMS) {
		x->sigalgs = (wf_slice_t){ (const char *)data, size };
		x->has_sigalgs = true;
	} else if (tls_id == EXT_SUPPORTED_VERSIONS) {
		x->tls13 = offers_tls13(data, size);
	}
	return 0;
}

unsigned wf_tls_hello_keys(const uint8_t *hello, size_t len)
{
	/* version (2), random (32), session id (1 + n), cipher suites (2 + n):
	 * the framing GnuTLS parses again below, to reach the extensions. */
	if (len < 35 || len > UINT32_MAX)
		return 0;
	size_t at = 35 + (size_t)hello[34];
	if (at + 2 > len)
		return 0;
	size_t nsuites = (size_t)hello[at] << 8 | hello[at + 1];
	at += 2;
	if (nsuites > len - at || nsuites % 2)
		return 0;
	unsigned suites = 0;
	for (size_t i = 0; i < nsuites; i += 2)
		suites |= suite_keys(hello[at + i], hello[at + i + 1]);
	hello_exts_t x = { 0 };
	gnutls_datum_t d = { (unsigned char *)hello, (unsigned)len };
	if (gnutls_ext_raw_parse(&x, on_ext, &d, GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO) < 0)
		return 0;
	/* No signature_algorithms: TLS 1.2 lets the client take any key. A
	 * hello that offers TLS 1.3 gets it (the server's maximum). */
	unsigned keys = RSA | ECDSA;
	if (x.has_sigalgs)
		keys = wf_tls_sigalgs_keys((const uint8_t *)x.sigalgs.ptr, x.sigalgs.len, x.tls13);
	return x.tls13 ? keys : keys & suites;
}
