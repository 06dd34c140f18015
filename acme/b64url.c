/* base64url without padding: see b64url.h. */
#include "b64url.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Length without padding or NUL; SIZE_MAX when it would overflow. */
static size_t encoded_len(size_t len)
{
	if (len > (SIZE_MAX - 2) / 4)
		return SIZE_MAX;
	return (len * 4 + 2) / 3;
}

/* Writes exactly encoded_len(len) characters, no NUL. */
static void encode(const unsigned char *in, size_t len, char *out)
{
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = alphabet[v >> 18 & 63];
		*out++ = alphabet[v >> 12 & 63];
		*out++ = alphabet[v >> 6 & 63];
		*out++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*out++ = alphabet[v >> 18 & 63];
		*out++ = alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*out++ = alphabet[v >> 18 & 63];
		*out++ = alphabet[v >> 12 & 63];
		*out++ = alphabet[v >> 6 & 63];
	}
}

ssize_t acme_b64url_encode(const void *in, size_t len, char *out, size_t cap)
{
	size_t n = encoded_len(len);
	if (n == SIZE_MAX || n >= cap || n > SSIZE_MAX)
		return -1;
	encode(in, len, out);
	out[n] = '\0';
	return (ssize_t)n;
}

int acme_b64url_append(wf_buf_t *out, const void *in, size_t len)
{
	size_t n = encoded_len(len);
	if (n == SIZE_MAX)
		return WF_ERR;
	if (n == 0)
		return WF_OK;
	char *dst = wf_buf_reserve(out, n);
	if (!dst)
		return WF_ERR;
	encode(in, len, dst);
	wf_buf_commit(out, n);
	return WF_OK;
}

static int value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Non-canonical encodings (stray bits in the last character) are refused so
 * that every value has exactly one spelling: a signature or thumbprint compared
 * as text then means what it says. */
ssize_t acme_b64url_decode(wf_slice_t in, void *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in.ptr;
	size_t len = in.len;
	/* Padding, when present, must complete the last quantum exactly. */
	if (len && p[len - 1] == '=') {
		if (len % 4 != 0)
			return -1;
		len--;
		if (len && p[len - 1] == '=')
			len--;
	}
	size_t rem = len % 4;
	if (rem == 1)
		return -1;
	size_t n = len / 4 * 3 + (rem ? rem - 1 : 0);
	if (n > cap || n > SSIZE_MAX)
		return -1;
	unsigned char *o = out;
	uint32_t acc = 0;
	size_t i;
	for (i = 0; i < len; i++) {
		int v = value_of(p[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			*o++ = (unsigned char)(acc >> 16);
			*o++ = (unsigned char)(acc >> 8);
			*o++ = (unsigned char)acc;
			acc = 0;
		}
	}
	if (rem == 2) {
		if (acc & 0xf)
			return -1;
		*o++ = (unsigned char)(acc >> 4);
	} else if (rem == 3) {
		if (acc & 0x3)
			return -1;
		*o++ = (unsigned char)(acc >> 10);
		*o++ = (unsigned char)(acc >> 2);
	}
	return (ssize_t)n;
}
