/* ClientHello signature algorithms: see tls_hello.h. */
#include "tls_hello.h"
#include "cert_store.h"

#include <gnutls/gnutls.h>

#define EXT_SIGNATURE_ALGORITHMS 13

unsigned wf_tls_sigalgs_keys(const uint8_t *body, size_t len)
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
		 * signature 1 RSA and 3 ECDSA. */
		if (hi == 0x08)
			bits |= lo >= 0x04 && lo <= 0x06 ? WF_PK_BIT(GNUTLS_PK_RSA) : 0;
		else if (lo == 0x01)
			bits |= WF_PK_BIT(GNUTLS_PK_RSA);
		else if (lo == 0x03)
			bits |= WF_PK_BIT(GNUTLS_PK_ECDSA);
	}
	return bits;
}

static int on_ext(void *ctx, unsigned tls_id, const unsigned char *data, unsigned size)
{
	if (tls_id == EXT_SIGNATURE_ALGORITHMS)
		*(unsigned *)ctx = wf_tls_sigalgs_keys(data, size);
	return 0;
}

unsigned wf_tls_hello_keys(const uint8_t *hello, size_t len)
{
	unsigned bits = 0;
	gnutls_datum_t d = { (unsigned char *)hello, (unsigned)len };
	if (len > UINT32_MAX || gnutls_ext_raw_parse(&bits, on_ext, &d, GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO) < 0)
		return 0;
	return bits;
}
