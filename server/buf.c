/* Growable buffer with a hard cap: see buf.h. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wf_buf_init(wf_buf_t *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void wf_buf_fini(wf_buf_t *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void wf_buf_release(wf_buf_t *b)
{
	wf_buf_fini(b);
}

void wf_buf_reset(wf_buf_t *b)
{
	b->off = b->len = 0;
}

char *wf_buf_reserve(wf_buf_t *b, size_t n)
{
	size_t size = b->len - b->off;
	if (n > b->max || size > b->max - n)
		return NULL;
	if (b->cap - b->len >= n)
		return b->data + b->len;
	/* Slide unconsumed bytes to the front before growing. */
	if (b->off) {
		memmove(b->data, b->data + b->off, size);
		b->off = 0;
		b->len = size;
		if (b->cap - b->len >= n)
			return b->data + b->len;
	}
	size_t want = b->cap ? b->cap : 256;
	while (want < size + n)
		want *= 2;
	if (want > b->max)
		want = b->max;
	char *p = realloc(b->data, want);
	if (!p)
		return NULL;
	b->data = p;
	b->cap = want;
	return b->data + b->len;
}

int wf_buf_append(wf_buf_t *b, const void *p, size_t n)
{
	if (n == 0)
		return WF_OK;
	char *dst = wf_buf_reserve(b, n);
	if (!dst)
		return WF_ERR;
	memcpy(dst, p, n);
	b->len += n;
	return WF_OK;
}

int wf_buf_append_str(wf_buf_t *b, const char *s)
{
	return wf_buf_append(b, s, strlen(s));
}

int wf_buf_vprintf(wf_buf_t *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return WF_ERR;
	char *dst = wf_buf_reserve(b, (size_t)n + 1);
	if (!dst)
		return WF_ERR;
	vsnprintf(dst, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return WF_OK;
}

int wf_buf_printf(wf_buf_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = wf_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void wf_buf_consume(wf_buf_t *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}
