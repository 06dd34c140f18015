/* Entity tags (RFC 9110 8.8.3): the one a file is served with, and the
 * lists of them If-Match and If-None-Match carry. Pure functions over
 * bytes (fuzzed: tests/fuzz/fuzz_precond.c). */
#ifndef XFER_ETAG_H
#define XFER_ETAG_H

#include "../server/base.h"

#include <stdbool.h>
#include <sys/stat.h>

/* A tag as xfer_etag_make writes it, quotes and NUL included (53 at most). */
#define XFER_ETAG_MAX 64

/* The strong ETag of a regular file: its inode, size and modification
 * time in nanoseconds, in hex, quoted ("ino-size-ns"). The one GET sends
 * and the one every precondition is compared with: a file replaced by an
 * upload (a new inode), changed in place (size or time) or touched gets
 * another. */
void xfer_etag_make(const struct stat *st, char out[XFER_ETAG_MAX]);

/* xfer_etag_list_match's answers. */
enum {
	XFER_ETAG_MALFORMED = -1, /* neither "*" nor a list of entity-tags */
	XFER_ETAG_NO_MATCH = 0,   /* a list, and etag is not in it */
	XFER_ETAG_MATCH = 1,      /* a list that holds etag */
	XFER_ETAG_ANY = 2,        /* "*" (alone: in a list it is MALFORMED) */
};

/* Reads an If-Match or If-None-Match field value: "*", or a comma-
 * separated list of entity-tags ([W/]"etagc*"), whitespace around the
 * commas and empty elements allowed (RFC 9110 5.6.1), so an empty value
 * is an empty list. A list is compared with etag (a quoted tag, or NULL
 * when the target has none: nothing matches): strong (If-Match) ignores
 * weak tags, the weak comparison (If-None-Match) drops the W/. Every
 * byte is looked at even after a match, so a value that is malformed
 * anywhere is MALFORMED. */
int xfer_etag_list_match(wf_slice_t field, const char *etag, bool strong);

#endif
