/* base64url without padding: see b64url.h. */
#include "b64url.h"
#include "../server/base64.h"

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

ssize_t acme_b64url_decode(wf_slice_t in, void *out, size_t cap)
{
	return wf_base64_decode(in, out, cap, true);
}

ssize_t acme_eab_key_decode(const char *b64, unsigned char out[ACME_EAB_KEY_MAX])
{
	ssize_t n = acme_b64url_decode((wf_slice_t){ b64, strlen(b64) }, out, ACME_EAB_KEY_MAX);
	return n > 0 ? n : -1;
}
