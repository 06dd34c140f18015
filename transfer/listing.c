/* Folder listings: see listing.h.
 *
 * Names on Linux are bytes, not text. Both formats declare UTF-8, so each byte
 * that does not start a valid UTF-8 sequence (overlong forms, surrogates and
 * code points past U+10FFFF count as invalid) is shown as U+FFFD, one per byte.
 * HTML also shows control characters as U+FFFD, as markup has no faithful way
 * to carry them; JSON escapes them exactly (\u00XX). HTML hrefs percent-encode
 * the raw bytes, so a link works whatever else the name holds; but not a
 * control byte: a request's path may not hold one, raw or encoded
 * (xfer_url_byte_ok), so the link to such a name, though listed, gets 400.
 * FTPS creates no such name (xfer_ftp_name_creatable): only one put there
 * by other means can have it. */
#include "listing.h"

#include "listing_budget.h"
#include "listing_form.h"
#include "listing_link.h"
#include "path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A folder can hold millions of names; the listing holds this many at most
 * (the first ones readdir returns, then sorted), and says it was cut. */
#define LISTING_MAX_ENTRIES 100000

typedef enum entry_type {
	ENTRY_FILE,
	ENTRY_DIR,
	ENTRY_LINK,
	ENTRY_OTHER,
} entry_type_t;

typedef struct entry {
	union {
		size_t off;       /* into the name arena while reading */
		const char *name; /* into the name arena once it stops moving */
	};
	uint64_t size;
	time_t mtime;
	entry_type_t type;
} entry_t;

typedef struct listing {
	entry_t *entries; /* owned */
	size_t n, cap;
	wf_buf_t names; /* NUL-terminated names, back to back */
	int truncated;
} listing_t;

static const char *const type_names[] = {
	[ENTRY_FILE] = "file",
	[ENTRY_DIR] = "dir",
	[ENTRY_LINK] = "link",
	[ENTRY_OTHER] = "other",
};

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD in UTF-8 */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if s[0] does not
 * start one. n is the bytes available. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;
	if (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return len;
}

/* Appends s as HTML text (json = 0) or as the inside of a JSON string
 * (json = 1). Runs of bytes that need nothing are copied in one append. */
static int append_escaped(wf_buf_t *out, const char *str, int json)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), run = 0, i = 0;
	char esc[8];

	while (i < n) {
		unsigned char c = s[i];
		const char *rep = NULL;
		size_t step = 1;

		if (c >= 0x80) {
			step = utf8_seq_len(s + i, n - i);
			if (step == 0) {
				rep = replacement;
				step = 1;
			}
		} else if (json) {
			if (c == '"')
				rep = "\\\"";
			else if (c == '\\')
				rep = "\\\\";
			else if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				rep = esc;
			}
		} else {
			switch (c) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&#39;"; break;
			default:
				if (c < 0x20 || c == 0x7f)
					rep = replacement;
			}
		}
		if (rep) {
			if (wf_buf_append(out, s + i - run, run) != WF_OK || wf_buf_append_str(out, rep) != WF_OK)
				return WF_ERR;
			run = 0;
		} else {
			run += step;
		}
		i += step;
	}
	return wf_buf_append(out, s + n - run, run);
}

/* Percent-encodes all but RFC 3986 unreserved bytes. A name never holds '/',
 * and encoding ':' keeps "javascript:x" a relative path, not a scheme. */
static int append_href(wf_buf_t *out, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			if (wf_buf_append(out, p, 1) != WF_OK)
				return WF_ERR;
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			if (wf_buf_append(out, e, 3) != WF_OK)
				return WF_ERR;
		}
	}
	return WF_OK;
}

static void format_mtime(time_t t, char *out, size_t cap)
{
	struct tm tm;
	out[0] = '\0';
	if (gmtime_r(&t, &tm))
		strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void format_size(uint64_t size, char *out, size_t cap)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	if (size < 1024) {
		snprintf(out, cap, "%llu B", (unsigned long long)size);
		return;
	}
	double v = (double)size / 1024;
	size_t u = 0;
	/* 1023.95 and up would print as "1024.0": move to the next unit instead. */
	while (v >= 1023.95 && u + 1 < WF_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, "%.1f %s", v, units[u]);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

static int add_entry(listing_t *l, const char *name, const struct stat *st)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		if (cap > LISTING_MAX_ENTRIES)
			cap = LISTING_MAX_ENTRIES;
		entry_t *e = realloc(l->entries, cap * sizeof(*e));
		if (!e)
			return WF_ERR;
		l->entries = e;
		l->cap = cap;
	}
	entry_t *e = &l->entries[l->n];
	e->off = wf_buf_size(&l->names);
	if (wf_buf_append(&l->names, name, strlen(name) + 1) != WF_OK)
		return WF_ERR;
	if (S_ISDIR(st->st_mode))
		e->type = ENTRY_DIR;
	else if (S_ISREG(st->st_mode))
		e->type = ENTRY_FILE;
	else if (S_ISLNK(st->st_mode))
		e->type = ENTRY_LINK;
	else
		e->type = ENTRY_OTHER;
	e->size = e->type == ENTRY_FILE ? (uint64_t)st->st_size : 0;
	e->mtime = st->st_mtim.tv_sec;
	l->n++;
	return WF_OK;
}

/* A fresh open of the same folder rather than dup(): a dup shares the file
 * offset, so readdir would start wherever the caller's fd was and leave it
 * at the end; and fdopendir refuses an O_PATH fd, this does not. */
DIR *xfer_listing_open(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int err = errno;
		close(fd);
		errno = err;
	}
	return d;
}

/* Reads up to max more of d's names into l: WF_DONE once the folder is read
 * to its end (or to the entry cap), WF_AGAIN when names remain, WF_ERR on an
 * I/O error or no memory. A symlink is listed as what a request for it gets
 * (transfer/listing_link.h). */
static int read_entries(DIR *d, listing_t *l, xfer_listing_links_t *links, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de)
			return errno ? WF_ERR : WF_DONE;
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || xfer_path_is_reserved(name))
			continue;
		if (l->n == LISTING_MAX_ENTRIES) {
			l->truncated = 1;
			return WF_DONE;
		}
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			/* ENOENT: removed since readdir saw it. EACCES: a folder the
			 * server may read but not search (mode r--): the entry is out
			 * of reach, so it is left out, as nginx's autoindex and this
			 * server's FTPS listings leave it, rather than the folder
			 * failing as a whole. */
			if (errno == ENOENT || errno == EACCES)
				continue;
			return WF_ERR;
		}
		xfer_listing_links_follow(links, name, &st);
		if (add_entry(l, name, &st) != WF_OK)
			return WF_ERR;
	}
	return WF_AGAIN;
}

/* The arena no longer moves: turn offsets into pointers, then sort. */
static void sort_entries(listing_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		l->entries[i].name = l->names.data + l->names.off + l->entries[i].off;
	if (l->n)
		qsort(l->entries, l->n, sizeof(entry_t), by_name);
}

static int render_html_entry(wf_buf_t *out, const entry_t *e)
{
	char size[32], mtime[64];
	int is_dir = e->type == ENTRY_DIR;

	format_mtime(e->mtime, mtime, sizeof(mtime));
	if (wf_buf_append_str(out, "<tr><td>") != WF_OK)
		return WF_ERR;
	/* Sockets, fifos and devices get no link: there is nothing to fetch. */
	if (e->type != ENTRY_OTHER) {
		if (wf_buf_append_str(out, "<a href=\"") != WF_OK || append_href(out, e->name) != WF_OK ||
		    wf_buf_append_str(out, is_dir ? "/\">" : "\">") != WF_OK)
			return WF_ERR;
	}
	if (append_escaped(out, e->name, 0) != WF_OK || wf_buf_append_str(out, is_dir ? "/" : "") != WF_OK ||
	    wf_buf_append_str(out, e->type != ENTRY_OTHER ? "</a></td>" : "</td>") != WF_OK)
		return WF_ERR;
	if (e->type == ENTRY_FILE) {
		format_size(e->size, size, sizeof(size));
		if (wf_buf_printf(out, "<td class=\"s\" title=\"%llu bytes\">%s</td>", (unsigned long long)e->size,
				  size) != WF_OK)
			return WF_ERR;
	} else if (wf_buf_append_str(out, "<td class=\"s\">-</td>") != WF_OK) {
		return WF_ERR;
	}
	return wf_buf_printf(out, "<td>%s</td></tr>\n", mtime);
}

/* The inline style is the page's only resource: a CSP without
 * style-src 'unsafe-inline' just leaves the table unstyled, still usable. */
static const char html_style[] = "<style>body{font-family:system-ui,sans-serif;margin:2em}"
				 "table{border-collapse:collapse}th,td{padding:.2em 1em;text-align:left}"
				 "td.s{text-align:right;white-space:nowrap}</style>\n";

static void listing_init(listing_t *l)
{
	memset(l, 0, sizeof(*l));
	wf_buf_init(&l->names, (size_t)LISTING_MAX_ENTRIES * (NAME_MAX + 1));
}

static void listing_fini(listing_t *l)
{
	wf_buf_fini(&l->names);
	free(l->entries);
}

static int render_html_head(const char *url_path, unsigned tools, wf_buf_t *out)
{
	if (wf_buf_append_str(out, "<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
				   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
				   "<title>Index of ") != WF_OK ||
	    append_escaped(out, url_path, 0) != WF_OK ||
	    wf_buf_append_str(out, "</title>\n") != WF_OK || wf_buf_append_str(out, html_style) != WF_OK ||
	    wf_buf_append_str(out, "</head>\n<body>\n<h1>Index of ") != WF_OK ||
	    append_escaped(out, url_path, 0) != WF_OK ||
	    wf_buf_append_str(out, "</h1>\n") != WF_OK || xfer_listing_form_append(out, tools) != WF_OK ||
	    wf_buf_append_str(out, "<table>\n<thead><tr><th>Name</th><th>Size</th><th>Modified</th>"
				   "</tr></thead>\n<tbody>\n") != WF_OK)
		return WF_ERR;
	if (strcmp(url_path, "/") != 0 &&
	    wf_buf_append_str(out, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n") != WF_OK)
		return WF_ERR;
	return WF_OK;
}

static int render_html_tail(const listing_t *l, wf_buf_t *out)
{
	if (wf_buf_append_str(out, "</tbody>\n</table>\n") != WF_OK)
		return WF_ERR;
	if (l->truncated && wf_buf_printf(out, "<p>Only the first %d entries are listed.</p>\n",
					  LISTING_MAX_ENTRIES) != WF_OK)
		return WF_ERR;
	return wf_buf_append_str(out, "</body>\n</html>\n");
}

static int render_json_head(const char *url_path, wf_buf_t *out)
{
	if (wf_buf_append_str(out, "{\"path\":\"") != WF_OK || append_escaped(out, url_path, 1) != WF_OK ||
	    wf_buf_append_str(out, "\",\"entries\":[") != WF_OK)
		return WF_ERR;
	return WF_OK;
}

static int render_json_entry(wf_buf_t *out, const entry_t *e, bool first)
{
	char mtime[64];

	format_mtime(e->mtime, mtime, sizeof(mtime));
	if (wf_buf_append_str(out, first ? "{\"name\":\"" : ",{\"name\":\"") != WF_OK ||
	    append_escaped(out, e->name, 1) != WF_OK)
		return WF_ERR;
	/* The name shows a byte that is not UTF-8 as U+FFFD, which names
	 * another file; href, as the HTML link, has the raw bytes, and is
	 * null where the HTML has no link (nothing to fetch). */
	if (e->type == ENTRY_OTHER) {
		if (wf_buf_append_str(out, "\",\"href\":null") != WF_OK)
			return WF_ERR;
	} else if (wf_buf_append_str(out, "\",\"href\":\"") != WF_OK || append_href(out, e->name) != WF_OK ||
		   wf_buf_append_str(out, e->type == ENTRY_DIR ? "/\"" : "\"") != WF_OK) {
		return WF_ERR;
	}
	if (wf_buf_printf(out, ",\"type\":\"%s\",\"size\":%llu,\"mtime\":", type_names[e->type],
			  (unsigned long long)e->size) != WF_OK)
		return WF_ERR;
	/* A time gmtime cannot express (far past year 2^31) is null. */
	return mtime[0] ? wf_buf_printf(out, "\"%s\"}", mtime) : wf_buf_append_str(out, "null}");
}

static int render_json_tail(const listing_t *l, wf_buf_t *out)
{
	return wf_buf_printf(out, "],\"truncated\":%s}\n", l->truncated ? "true" : "false");
}

/* ------------------------------------------------- rendered in pieces */

/* A sorted listing is rendered a piece at a time (the page's head, one
 * entry, its tail) as the connection can take it: the page itself is never
 * held, only the entries it is made from. Its size is known beforehand
 * (xfer_listing_sort renders it once, counting), so the answer has a
 * Content-Length like any other. */
typedef enum part {
	PART_HEAD,
	PART_ENTRIES,
	PART_TAIL,
	PART_END,
} part_t;

typedef struct cursor {
	part_t part;
	int pass; /* HTML: 0 lists the folders, 1 the rest; JSON: 1 */
	size_t i; /* the next entry of the pass */
} cursor_t;

struct xfer_listing {
	listing_t l;
	xfer_listing_format_t fmt;
	unsigned tools; /* XFER_LISTING_UPLOAD, _MKDIR: the form on an HTML page */
	char *url_path; /* owned */
	char *dir_rel;  /* owned: url_path as a path beneath the home ("" for "/"), for the links in it */
	xfer_listing_links_t links;
	cursor_t at;
	uint64_t size;     /* the whole page's bytes, once measured */
	uint64_t produced; /* bytes read out so far */
	wf_buf_t stage;    /* rendered, not yet read */
	xfer_listing_hold_t hold; /* owned: its count against the listings' budget, if begun */
	xfer_listing_refusal_t refused; /* why the budget stopped it, or GRANTED */
};

/* No piece comes near this: a name is at most NAME_MAX bytes, each at most
 * 9 once escaped and linked; the head holds the path twice, escaped (6
 * bytes a byte at most: 48 KiB), and the upload form (under 4 KiB). */
#define PIECE_MAX (64u << 10)
/* Bytes one read gives at most, so the stage stays below READ_MAX + PIECE_MAX. */
#define READ_MAX (256u << 10)

static void cursor_rewind(xfer_listing_t *L)
{
	L->at = (cursor_t){ .part = PART_HEAD, .pass = L->fmt == XFER_LISTING_HTML ? 0 : 1, .i = 0 };
}

/* Appends the next piece to out and moves past it: WF_OK; WF_DONE when the
 * page is complete; WF_ERR when out has no room (out and the cursor are
 * then as they were). HTML lists folders first, then everything else; each
 * group keeps the name order. */
static int render_piece(xfer_listing_t *L, wf_buf_t *out)
{
	const listing_t *l = &L->l;
	cursor_t was = L->at;
	size_t before = wf_buf_size(out);
	bool html = L->fmt == XFER_LISTING_HTML;
	int rc = WF_DONE;

	while (rc == WF_DONE && L->at.part != PART_END) {
		switch (L->at.part) {
		case PART_HEAD:
			L->at.part = PART_ENTRIES;
			rc = html ? render_html_head(L->url_path, L->tools, out) : render_json_head(L->url_path, out);
			break;
		case PART_ENTRIES:
			if (L->at.i == l->n) {
				if (L->at.pass == 0) {
					L->at.pass = 1;
					L->at.i = 0;
				} else {
					L->at.part = PART_TAIL;
				}
				break;
			}
			const entry_t *e = &l->entries[L->at.i++];
			if (!html)
				rc = render_json_entry(out, e, L->at.i == 1);
			else if ((e->type == ENTRY_DIR) == (L->at.pass == 0))
				rc = render_html_entry(out, e);
			break;
		case PART_TAIL:
			L->at.part = PART_END;
			rc = html ? render_html_tail(l, out) : render_json_tail(l, out);
			break;
		case PART_END:
			break;
		}
	}
	if (rc == WF_ERR) {
		/* The buffer may have slid its content to the front, so restore
		 * by size, not offset. */
		out->len = out->off + before;
		L->at = was;
	}
	return rc;
}

xfer_listing_t *xfer_listing_new(const char *url_path, xfer_listing_format_t fmt, unsigned tools)
{
	xfer_listing_t *L = calloc(1, sizeof(*L));
	if (!L)
		return NULL;
	L->url_path = strdup(url_path);
	const char *rel = url_path + (url_path[0] == '/');
	size_t n = strlen(rel);
	while (n && rel[n - 1] == '/')
		n--;
	L->dir_rel = strndup(rel, n);
	if (!L->url_path || !L->dir_rel) {
		free(L->url_path);
		free(L->dir_rel);
		free(L);
		return NULL;
	}
	listing_init(&L->l);
	xfer_listing_links_init(&L->links, -1, L->dir_rel);
	L->fmt = fmt;
	L->tools = fmt == XFER_LISTING_HTML ? tools : 0;
	wf_buf_init(&L->stage, READ_MAX + PIECE_MAX);
	cursor_rewind(L);
	return L;
}

void xfer_listing_free(xfer_listing_t *L)
{
	if (!L)
		return;
	xfer_listing_hold_end(&L->hold);
	listing_fini(&L->l);
	wf_buf_fini(&L->stage);
	xfer_listing_links_fini(&L->links);
	free(L->url_path);
	free(L->dir_rel);
	free(L);
}

void xfer_listing_count(xfer_listing_t *L, xfer_listing_hold_t *hold_take)
{
	L->hold = *hold_take;
	memset(hold_take, 0, sizeof(*hold_take));
}

xfer_listing_refusal_t xfer_listing_refused(const xfer_listing_t *L)
{
	return L->refused;
}

/* What the listing holds that grows with the folder: the entries and the
 * names, as allocated. The piece being read out (the stage, below
 * READ_MAX + PIECE_MAX) and the listing's own few hundred bytes are not
 * counted: they are bounded per listing, and the listings per connection
 * are; so the largest listing (100000 names of NAME_MAX bytes: 3.2 MB of
 * entries, 32 MiB of names) fits a client's share of the default budget,
 * as the largest FTP listing (64 MiB of lines) does. */
static size_t held_bytes(const xfer_listing_t *L)
{
	return L->l.cap * sizeof(entry_t) + L->l.names.cap;
}

/* The budget's count brought up to what L holds: false (errno ENOBUFS,
 * L->refused saying why) when it may not hold that much. */
static bool charge(xfer_listing_t *L)
{
	if (!L->hold.addr[0])
		return true;
	L->refused = xfer_listing_hold_set(&L->hold, held_bytes(L));
	if (L->refused == XFER_LISTING_GRANTED)
		return true;
	errno = ENOBUFS;
	return false;
}

int xfer_listing_add(xfer_listing_t *L, DIR *d, int home_fd, size_t max)
{
	L->links.home_fd = home_fd;
	int rc = read_entries(d, &L->l, &L->links, max);
	if (rc != WF_ERR && !charge(L))
		return WF_ERR;
	return rc;
}

/* The page is rendered once to count its bytes, holding one piece at a time. */
int xfer_listing_sort(xfer_listing_t *L)
{
	wf_buf_t piece;
	uint64_t size = 0;
	int rc;

	sort_entries(&L->l);
	/* The array doubled as it grew: up to half of it is spare, for as
	 * long as the client takes to read the page. */
	if (L->l.n && L->l.n < L->l.cap) {
		entry_t *e = realloc(L->l.entries, L->l.n * sizeof(*e));
		if (e) {
			L->l.entries = e;
			L->l.cap = L->l.n;
		}
	}
	if (!charge(L))
		return WF_ERR;
	xfer_listing_hold_built(&L->hold); /* what is left is measuring, and the memory it holds */
	wf_buf_init(&piece, PIECE_MAX);
	cursor_rewind(L);
	while ((rc = render_piece(L, &piece)) == WF_OK) {
		size += wf_buf_size(&piece);
		wf_buf_reset(&piece);
	}
	wf_buf_fini(&piece);
	cursor_rewind(L);
	L->size = size;
	return rc == WF_DONE ? WF_OK : WF_ERR;
}

uint64_t xfer_listing_size(const xfer_listing_t *L)
{
	return L->size;
}

uint64_t xfer_listing_left(const xfer_listing_t *L)
{
	return L->size - L->produced;
}

ssize_t xfer_listing_read(xfer_listing_t *L, char *dst, size_t cap)
{
	if (cap > READ_MAX)
		cap = READ_MAX;
	while (wf_buf_size(&L->stage) < cap) {
		int rc = render_piece(L, &L->stage);
		if (rc == WF_DONE)
			break;
		if (rc != WF_OK)
			return -1;
	}
	size_t n = wf_buf_size(&L->stage) < cap ? wf_buf_size(&L->stage) : cap;
	if (n > L->size - L->produced)
		abort(); /* a bug: the page came out longer than measured, and its length was promised */
	memcpy(dst, wf_buf_head(&L->stage), n);
	wf_buf_consume(&L->stage, n);
	L->produced += n;
	if (wf_buf_size(&L->stage) == 0)
		wf_buf_reset(&L->stage);
	return (ssize_t)n;
}

int xfer_listing_render(int dir_fd, int home_fd, const char *url_path, xfer_listing_format_t fmt, unsigned tools,
			wf_buf_t *out)
{
	int rc = WF_ERR;
	xfer_listing_t *L = xfer_listing_new(url_path, fmt, tools);
	if (!L)
		return WF_ERR;
	DIR *d = xfer_listing_open(dir_fd);
	L->links.home_fd = home_fd;
	if (!d || read_entries(d, &L->l, &L->links, SIZE_MAX) != WF_DONE)
		goto out;
	sort_entries(&L->l);
	size_t before = wf_buf_size(out);
	while ((rc = render_piece(L, out)) == WF_OK)
		;
	if (rc == WF_DONE) {
		rc = WF_OK;
	} else {
		out->len = out->off + before; /* all or nothing, never half a page */
		rc = WF_ERR;
	}
out:
	if (d)
		closedir(d);
	xfer_listing_free(L);
	return rc;
}

/* Next element of a list separated by sep (',' or ';'), skipping separators
 * inside quoted strings. Advances *p past the separator. */
static wf_slice_t next_elem(const char **p, const char *end, char sep)
{
	const char *s = *p;
	int quoted = 0;
	while (*p < end) {
		char c = **p;
		if (quoted && c == '\\' && *p + 1 < end) {
			*p += 2;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (c == sep && !quoted)
			break;
		(*p)++;
	}
	wf_slice_t e = wf_slice_trim((wf_slice_t){ s, (size_t)(*p - s) });
	if (*p < end)
		(*p)++;
	return e;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths. Anything else is malformed and counts as 0. */
static int parse_q(wf_slice_t v)
{
	if (v.len == 0 || (v.ptr[0] != '0' && v.ptr[0] != '1'))
		return 0;
	int q = (v.ptr[0] - '0') * 1000;
	if (v.len == 1)
		return q;
	if (v.ptr[1] != '.' || v.len > 5)
		return 0;
	int scale = 100;
	for (size_t i = 2; i < v.len; i++, scale /= 10) {
		if (v.ptr[i] < '0' || v.ptr[i] > '9')
			return 0;
		q += (v.ptr[i] - '0') * scale;
	}
	return q > 1000 ? 0 : q;
}

xfer_listing_format_t xfer_listing_pick(wf_slice_t accept)
{
	int q_json = 0, q_html = 0;

	if (!accept.ptr)
		return XFER_LISTING_HTML;
	const char *p = accept.ptr, *end = accept.ptr + accept.len;
	while (p < end) {
		wf_slice_t range = next_elem(&p, end, ',');
		const char *rp = range.ptr, *rend = range.ptr + range.len;
		wf_slice_t type = next_elem(&rp, rend, ';');
		int q = 1000;
		while (rp < rend) {
			wf_slice_t param = next_elem(&rp, rend, ';');
			if (param.len >= 2 && (param.ptr[0] == 'q' || param.ptr[0] == 'Q') && param.ptr[1] == '=') {
				q = parse_q((wf_slice_t){ param.ptr + 2, param.len - 2 });
				break; /* what follows q is accept-ext */
			}
		}
		/* A type listed twice keeps its best q. */
		if (wf_slice_eq_ci(type, "application/json") && q > q_json)
			q_json = q;
		else if (wf_slice_eq_ci(type, "text/html") && q > q_html)
			q_html = q;
	}
	return q_json > q_html ? XFER_LISTING_JSON : XFER_LISTING_HTML;
}
