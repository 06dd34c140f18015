/* Conditional requests (RFC 9110 13): the preconditions a request carries,
 * evaluated against its target as it is. GET and HEAD use them for 304,
 * and PUT, DELETE and MKCOL as a lost-update guard (412). Pure functions
 * over bytes and a struct stat (fuzzed: tests/fuzz/fuzz_precond.c). */
#ifndef XFER_PRECOND_H
#define XFER_PRECOND_H

#include "../server/base.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

/* The precondition fields of a request, as received (ptr NULL: absent). */
typedef struct xfer_precond_in {
	wf_slice_t if_match, if_none_match, if_unmodified_since, if_modified_since;
} xfer_precond_in_t;

typedef enum xfer_precond_result {
	XFER_PRECOND_PASS,         /* go on with the request */
	XFER_PRECOND_NOT_MODIFIED, /* a read: 304 */
	XFER_PRECOND_FAILED,       /* 412 Precondition Failed */
} xfer_precond_result_t;

/* Evaluates in[] in RFC 9110 13.2.2's order (If-Match, else
 * If-Unmodified-Since; then If-None-Match, else for a read
 * If-Modified-Since) against the target as it is now: st is its lstat or
 * fstat, NULL when nothing has its name. A regular file has the ETag of
 * xfer_etag_make and its modification time; anything else (a folder) has
 * neither, so only "*" matches it and the dates are ignored. read: GET or
 * HEAD, where a matching If-None-Match answers 304; for a change it
 * answers 412, and If-Modified-Since is ignored. A malformed If-Match or
 * If-None-Match fails a change (412: it cannot be shown to hold, and a
 * change not made is the safe side) and is ignored by a read (a whole
 * answer is always right); a date that is not an HTTP-date is ignored
 * (RFC 9110 13.1.3, 13.1.4). The caller applies them only where the
 * answer without them would be a 2xx (RFC 9110 13.2.1): not to a 404. */
xfer_precond_result_t xfer_precond_eval(const xfer_precond_in_t *in, const struct stat *st, bool read);

/* True when in holds a field that can refuse a change (If-Match,
 * If-None-Match, If-Unmodified-Since). */
bool xfer_precond_any(const xfer_precond_in_t *in);
/* True when If-None-Match is "*" alone: the change may only create. */
bool xfer_precond_create_only(const xfer_precond_in_t *in);

/* An owned copy of a change's preconditions, to be evaluated again where
 * the change is made: on the offload pool, right before the rename or
 * unlink (transfer/upload.c, transfer/fs_job.c). */
typedef struct xfer_precond xfer_precond_t;
/* NULL when memory is short. */
xfer_precond_t *xfer_precond_new(const xfer_precond_in_t *in);
/* True when the change may be made on the target as st shows it (NULL:
 * nothing has its name): xfer_precond_eval passes for a change. */
bool xfer_precond_holds(const xfer_precond_t *c, const struct stat *st);
void xfer_precond_free(xfer_precond_t *c);

/* The errno of a change refused by its preconditions on the pool (nothing
 * was changed): none of the calls a change makes (fsync, rename, unlink,
 * mkdir) returns it. */
#define XFER_PRECOND_REFUSED ECANCELED

#endif
