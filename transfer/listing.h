/* Folder listings: HTML for browsers, JSON for programs. */
#ifndef XFER_LISTING_H
#define XFER_LISTING_H

#include "../server/buf.h"

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
 * end in '/', as hrefs are relative to it.
 * Entries are sorted by name (bytewise); hidden names (xfer_path_is_hidden) and
 * "." are skipped, ".." is shown as a parent link (HTML only) unless url_path
 * is "/". At most 100000 entries are listed (the first readdir returns), and
 * the output says when the folder held more.
 * Each entry gives name, type, size and mtime (UTC). type is "file", "dir",
 * "link" (a symlink, not followed; size 0) or "other" (fifo, socket, device;
 * size 0); "dir" has size 0 too.
 * Names are bytes: a byte that is not part of valid UTF-8 is shown as U+FFFD.
 * HTML: folders first, then the rest; names HTML-escaped (control characters
 * shown as U+FFFD), hrefs percent-encoded from the raw bytes, UTF-8 declared;
 * "other" entries get no link; sizes human-readable with the exact count in a
 * title attribute. The page has one inline <style> and no script.
 * JSON: {"path":"/a/","entries":[{"name":"x","type":"file","size":1,
 *        "mtime":"2026-01-01T00:00:00Z"},...],"truncated":false}\n with RFC 8259
 * string escaping (control characters as \u00XX); mtime is null if it cannot
 * be expressed.
 * Returns WF_OK, or WF_ERR (out's cap reached or I/O error, including dir_fd
 * not being a folder); on WF_ERR out is left as it was. */
int xfer_listing_render(int dir_fd, const char *url_path, xfer_listing_format_t fmt, wf_buf_t *out);

/* The same listing built off the loop: reading a folder of 100000 entries,
 * one stat each, then sorting them takes long enough to stall every other
 * connection of a worker. The job reads in short steps, each a task of its
 * own on the offload pool that touches only what the job owns, with a pass
 * through the worker's loop in between; the last step sorts the entries and
 * measures the page. (FTP's listing job, ftp_job.h, writes each entry as it
 * is read; this one must see them all before the first line, to sort.)
 *
 * What the job yields is not the page but the sorted entries and the page's
 * size: the page is rendered a piece at a time as it is read out
 * (xfer_listing_read), so a connection holds the entries (32 bytes each
 * plus the name) and a piece or two, never the whole page, whose HTML is
 * several times larger. */
typedef struct wf_worker wf_worker_t;
typedef struct xfer_listing_job xfer_listing_job_t;
typedef struct xfer_listing xfer_listing_t;

/* On the worker's loop, once the job ran to its end: the owner takes the
 * listing and frees the job. */
typedef void (*xfer_listing_done_fn)(void *arg, xfer_listing_job_t *job);

/* A job listing the open folder dir_fd (not consumed: opened afresh here, as
 * xfer_listing_render does) as fmt. NULL when out of memory. */
xfer_listing_job_t *xfer_listing_job_new(int dir_fd, const char *url_path, xfer_listing_format_t fmt);
/* Runs the job on w's offload pool: WF_OK, and done(arg, job) comes later on
 * w's loop, never before this returns; or, without a worker or a pool,
 * WF_DONE: the job ran here and done is never called. Either way the caller
 * owns the job at the end. */
int xfer_listing_job_start(xfer_listing_job_t *j, wf_worker_t *w, xfer_listing_done_fn done, void *arg);
/* The owner lets go of a started job before its end (NULL: nothing): it stops
 * at its next step, done is never called, and it frees itself. */
void xfer_listing_job_cancel(xfer_listing_job_t *j);
/* Once done: the listing, now the caller's (free it with xfer_listing_free);
 * or NULL (the folder could not be read, no memory, or the pool stopped). */
xfer_listing_t *xfer_listing_job_take(xfer_listing_job_t *j);
/* Frees a job that is not running. */
void xfer_listing_job_free(xfer_listing_job_t *j);

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
