/* Folder listings: HTML for browsers, JSON for programs. */
#ifndef XFER_LISTING_H
#define XFER_LISTING_H

#include "../server/buf.h"

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

#endif
