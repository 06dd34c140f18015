/* The one owning, growable byte buffer, with a hard cap fixed at init.
 * Appends past the cap fail (WF_ERR) and leave the buffer unchanged, so a
 * peer-controlled size can never grow memory beyond what the owner allowed. */
#ifndef WF_BUF_H
#define WF_BUF_H

#include "base.h"

#include <stdarg.h>

typedef struct wf_buf {
	char *data; /* owned; NULL until the first append */
	size_t off; /* start of unconsumed bytes */
	size_t len; /* end of valid bytes (data[off..len) is the content) */
	size_t cap; /* allocated size */
	size_t max; /* hard cap on content size */
} wf_buf_t;

void wf_buf_init(wf_buf_t *b, size_t max);
void wf_buf_fini(wf_buf_t *b);
/* Drops content and frees memory (an idle connection keeps nothing). */
void wf_buf_release(wf_buf_t *b);
static inline size_t wf_buf_size(const wf_buf_t *b) { return b->len - b->off; }
static inline char *wf_buf_head(const wf_buf_t *b) { return b->data + b->off; }
static inline wf_slice_t wf_buf_slice(const wf_buf_t *b) { return (wf_slice_t){ b->data + b->off, b->len - b->off }; }
int wf_buf_append(wf_buf_t *b, const void *p, size_t n);
int wf_buf_append_str(wf_buf_t *b, const char *s);
int wf_buf_printf(wf_buf_t *b, const char *fmt, ...) WF_PRINTF(2, 3);
int wf_buf_vprintf(wf_buf_t *b, const char *fmt, va_list ap) WF_PRINTF(2, 0);
/* Makes room for at least n more bytes at the tail; returns the tail pointer,
 * or NULL if that would pass the cap. Follow with wf_buf_commit. */
char *wf_buf_reserve(wf_buf_t *b, size_t n);
static inline size_t wf_buf_room(const wf_buf_t *b) { return b->cap - b->len; }
static inline void wf_buf_commit(wf_buf_t *b, size_t n) { b->len += n; }
void wf_buf_consume(wf_buf_t *b, size_t n);
void wf_buf_reset(wf_buf_t *b);

#endif
