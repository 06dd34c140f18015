/* Base64: see base64.h. */
#include "base64.h"

#include <limits.h>
#include <stdint.h>

static int value_of(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Non-canonical encodings (stray bits in the last character) are refused so
 * that every value has exactly one spelling: a signature or thumbprint compared
 * as text then means what it says. */
ssize_t wf_base64_decode(wf_slice_t in, void *out, size_t cap, bool url)
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
		int v = value_of(p[i], url);
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

ssize_t wf_base64_encode(const void *in, size_t len, char *out, size_t cap)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	if (len > (SSIZE_MAX - 1) / 4 * 3 - 3 || (len + 2) / 3 * 4 >= cap)
		return -1;
	char *o = out;
	for (size_t i = 0; i < len; i += 3) {
		size_t left = len - i;
		uint32_t v = (uint32_t)p[i] << 16 | (left > 1 ? (uint32_t)p[i + 1] << 8 : 0) | (left > 2 ? p[i + 2] : 0);
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = left > 1 ? alphabet[v >> 6 & 63] : '=';
		*o++ = left > 2 ? alphabet[v & 63] : '=';
	}
	*o = '\0';
	return o - out;
}
