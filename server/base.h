/* Shared vocabulary of every wharf module: return codes, slices, container_of.
 * Kept tiny on purpose: anything with behaviour lives in its own file. */
#ifndef WF_BASE_H
#define WF_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The small return-code set of the house style. Parsers use their own
 * "bytes consumed / need more / malformed" convention on top of these. */
enum {
	WF_OK = 0,
	WF_ERR = -1,
	WF_AGAIN = -2,    /* would block, or needs more input */
	WF_DECLINED = -3, /* not for me: the caller tries the next option */
	WF_DONE = -4,     /* finished: nothing more to do */
};

/* Non-owning view of bytes; never assumed NUL-terminated. */
typedef struct wf_slice {
	const char *ptr;
	size_t len;
} wf_slice_t;

#define WF_SLICE(lit) ((wf_slice_t){ (lit), sizeof(lit) - 1 })
#define WF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define wf_container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define WF_UNUSED __attribute__((unused))
#define WF_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Case-insensitive comparison of a slice with a NUL-terminated ASCII literal. */
int wf_slice_eq_ci(wf_slice_t s, const char *lit);
/* Exact comparison of a slice with a NUL-terminated string. */
int wf_slice_eq(wf_slice_t s, const char *lit);
/* Slice with leading and trailing spaces and tabs removed. */
wf_slice_t wf_slice_trim(wf_slice_t s);

#endif
