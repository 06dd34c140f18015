/* Folder listings: HTML for browsers, JSON for programs. */
#ifndef XFER_LISTING_H
#define XFER_LISTING_H

#include "listing_budget.h"
#include "listing_form.h"
#include "../server/buf.h"

#include <dirent.h>
#include <stdint.h>

typedef enum xfer_listing_format {
	XFER_LISTING_HTML,
	XFER_LISTING_JSON,
} xfer_listing_format_t;

/* Picks the format from an Accept header value (NULL slice ptr = absent):
 * JSON when application/json is acceptable with a q higher than text/html's
 * (or text/html is not listed), else HTML. Exactly: JSON iff application/json
 * is listed with q > 0 and its q is strictly greater than text/html's (absent
 * text/html counts as 0). Ranges with a '*' wildcard do not count; a
 * malformed q counts as 0; a type listed twice keeps its best q. */
xfer_listing_format_t xfer_listing_pick(wf_slice_t accept);

/* Appends a listing of the open folder dir_fd (the fd is not consumed: the
 * function reopens it with openat(".") for reading, so the fd's offset is left
 * alone and an O_PATH fd works too) to out. url_path is the decoded path of the
 * folder as the client sees it ("/" or "/a/b/"), used for the title; it must
 * end in '/', as hrefs are relative to it. It is also the folder's path
 * beneath home_fd (borrowed), where its symlinks are resolved
 * (transfer/listing_link.h; -1: none is).
 * Entries are sorted by name (bytewise); reserved names (xfer_path_is_reserved) and
 * "." are skipped, ".." is shown as a parent link (HTML only) unless url_path
 * is "/". At most 100000 entries are listed (the first readdir returns), and
 * the output says when the folder held more.
 * Each entry gives name, type, size and mtime (UTC). type is "file", "dir",
 * "link" (a symlink that lists as no target, transfer/listing_link.h: one
 * that does has the target's type, size and mtime; size 0) or
 * "other" (fifo, socket, device; size 0); "dir" has size 0 too.
 * Names are bytes: a byte that is not part of valid UTF-8 is shown as U+FFFD.
 * HTML: folders first, then the rest; names HTML-escaped (control characters
 * shown as U+FFFD), hrefs percent-encoded from the raw bytes, UTF-8 declared;
 * "other" entries get no link; sizes human-readable with the exact count in a
 * title attribute. The page has one inline <style>; with tools (XFER_LISTING_*
 * bits of transfer/listing_form.h, for what the user may do there) it also
 * has the upload form and its one inline script, before the table (the
 * page's size then depends on tools too); with 0 it has no script. JSON
 * ignores tools.
 * JSON: {"path":"/a/","entries":[{"name":"x","type":"file","size":1,
 *        "mtime":"2026-01-01T00:00:00Z"},...],"truncated":false}\n with RFC 8259
 * string escaping (control characters as \u00XX); mtime is null if it cannot
 * be expressed.
 * Returns WF_OK, or WF_ERR (out's cap reached or I/O error, including dir_fd
 * not being a folder); on WF_ERR out is left as it was. */
int xfer_listing_render(int dir_fd, int home_fd, const char *url_path, xfer_listing_format_t fmt, unsigned tools,
			wf_buf_t *out);

/* The same listing built a step at a time, so that it can be built off the
 * loop (transfer/listing_job.c). What comes of it is not the page but the
 * sorted entries and the page's size: the page is rendered a piece at a
 * time as it is read out (xfer_listing_read), so a connection holds the
 * entries (32 bytes each plus the name) and a piece or two, never the whole
 * page, whose HTML is several times larger. */
typedef struct xfer_listing xfer_listing_t;

/* An empty listing of the folder the client sees as url_path, as fmt, with
 * tools (all as for xfer_listing_render). NULL when out of memory. */
xfer_listing_t *xfer_listing_new(const char *url_path, xfer_listing_format_t fmt, unsigned tools);
/* The open folder dir_fd (not consumed) opened afresh for reading, as
 * xfer_listing_render does; NULL (errno set) when it cannot be. */
DIR *xfer_listing_open(int dir_fd);
/* Counts l against the listings' budget (transfer/listing_budget.h) from
 * now until it is freed: the begun hold_take moves into it, and each
 * xfer_listing_add and xfer_listing_sort brings its count up to the
 * entries and names l holds, failing when the budget or the client's
 * share of it is passed. A listing never counted is not bounded but by
 * its entry cap. */
void xfer_listing_count(xfer_listing_t *l, xfer_listing_hold_t *hold_take);
/* Why the budget stopped l (an add or sort that failed with ENOBUFS), or
 * XFER_LISTING_GRANTED. */
xfer_listing_refusal_t xfer_listing_refused(const xfer_listing_t *l);
/* Reads up to max more of d's names into l, its symlinks resolved beneath
 * home_fd (borrowed; -1: none is), as xfer_listing_render: WF_DONE once the
 * folder is read to its end (or to the entry cap), WF_AGAIN when names
 * remain, WF_ERR on an I/O error (errno set), no memory, or the budget
 * (errno ENOBUFS: xfer_listing_refused says why). */
int xfer_listing_add(xfer_listing_t *l, DIR *d, int home_fd, size_t max);
/* Once all is read: sorts the entries, then measures the page (renders it
 * once, counting, a piece at a time). WF_OK, or WF_ERR (no memory, or the
 * budget: errno ENOBUFS). */
int xfer_listing_sort(xfer_listing_t *l);

/* The page's whole size in bytes, and what is left of it to read. */
uint64_t xfer_listing_size(const xfer_listing_t *l);
uint64_t xfer_listing_left(const xfer_listing_t *l);
/* Renders the next bytes of the page into dst: up to cap bytes (fewer only
 * at the end, or past 256 KiB), 0 once all xfer_listing_size bytes were
 * read, or -1 when out of memory. The bytes are those xfer_listing_render
 * gives for the folder as the job read it. */
ssize_t xfer_listing_read(xfer_listing_t *l, char *dst, size_t cap);
void xfer_listing_free(xfer_listing_t *l);

#endif
