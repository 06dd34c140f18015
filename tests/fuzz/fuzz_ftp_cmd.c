/* FTP command lines: the input is a client's byte stream, read line by line
 * as the connection will (skipping per ftp_cmd.h on BAD and TOO_LONG). Every
 * slice stays inside its line, every line is what its LF says, every argument
 * parser's answer holds what it promises, and no argument echoed into a reply
 * adds a reply line. */
#include "transfer/ftp_cmd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "invariant broken: %s\n", what);
	abort();
}

static bool inside(wf_slice_t s, const char *lo, const char *hi)
{
	return s.ptr >= lo && s.ptr <= hi && s.len <= (size_t)(hi - s.ptr);
}

static size_t count(const char *p, size_t n, char c)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == c;
	return k;
}

/* Exactly nlines lines, each ending in CRLF, with no CR or LF elsewhere. */
static void check_framing(const wf_buf_t *b, size_t from, size_t nlines, const char *what)
{
	const char *p = wf_buf_head(b) + from;
	size_t n = wf_buf_size(b) - from;
	if (count(p, n, '\n') != nlines || count(p, n, '\r') != nlines)
		fail(what);
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			fail(what);
	if (n < 2 || p[n - 1] != '\n')
		fail(what);
}

/* A resolved path is "/" or "/seg/seg" with no empty, "." or ".." segment,
 * so nothing can climb out of the virtual root; an argument that ends in
 * '/' always names a folder. */
static void check_path(wf_slice_t arg)
{
	char out[512];
	bool dir;
	if (xfer_ftp_path_resolve("/a/b", arg, out, sizeof(out), &dir) != WF_OK)
		return;
	if ((arg.len == 0 || arg.ptr[arg.len - 1] == '/') && !dir)
		fail("folder form");
	size_t n = strlen(out);
	if (out[0] != '/' || (n > 1 && out[n - 1] == '/'))
		fail("resolved path shape");
	for (const char *p = out + 1; n > 1 && p <= out + n;) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			fail("resolved path segment");
		p += l + 1;
	}
}

static void check_args(wf_slice_t arg)
{
	struct sockaddr_storage ss;
	check_path(arg);
	if (xfer_ftp_parse_port(arg, &ss) == WF_OK) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
		if (ss.ss_family != AF_INET || sin->sin_port == 0)
			fail("PORT result");
		for (size_t i = 0; i < arg.len; i++)
			if (arg.ptr[i] != ',' && (arg.ptr[i] < '0' || arg.ptr[i] > '9'))
				fail("PORT accepted a stray byte");
	}
	if (xfer_ftp_parse_eprt(arg, &ss) == WF_OK) {
		if (ss.ss_family == AF_INET) {
			if (((const struct sockaddr_in *)&ss)->sin_port == 0)
				fail("EPRT port");
		} else if (ss.ss_family == AF_INET6) {
			if (((const struct sockaddr_in6 *)&ss)->sin6_port == 0)
				fail("EPRT port");
		} else {
			fail("EPRT family");
		}
		if (memchr(arg.ptr, '\0', arg.len))
			fail("EPRT accepted a NUL");
	}
	uint64_t off;
	if (xfer_ftp_parse_offset(arg, &off) == WF_OK) {
		if (off > (uint64_t)INT64_MAX || arg.len == 0 || arg.len > 19)
			fail("REST range");
		char copy[20];
		memcpy(copy, arg.ptr, arg.len);
		copy[arg.len] = '\0';
		char *end;
		if (strtoull(copy, &end, 10) != off || *end != '\0')
			fail("REST value");
	}
	char t;
	if (xfer_ftp_parse_type(arg, &t) == WF_OK && t != 'A' && t != 'I')
		fail("TYPE result");
	struct timespec when;
	wf_slice_t path;
	if (xfer_ftp_parse_mfmt(arg, &when, &path) == WF_OK) {
		/* Years 1000-9999 of the Gregorian calendar, and a path that is
		 * the argument's tail after the time and one space. */
		if (when.tv_sec < -30610224000LL || when.tv_sec > 253402300799LL || when.tv_nsec < 0 ||
		    when.tv_nsec > 999999999)
			fail("MFMT time range");
		if (path.len == 0 || !inside(path, arg.ptr, arg.ptr + arg.len) ||
		    path.ptr + path.len != arg.ptr + arg.len || path.ptr[-1] != ' ')
			fail("MFMT path");
		struct tm tm;
		time_t sec = when.tv_sec;
		char back[16];
		if (!gmtime_r(&sec, &tm) ||
		    snprintf(back, sizeof(back), "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) != 14 ||
		    memcmp(back, arg.ptr, 14) != 0)
			fail("MFMT time is not the one written");
	}
}

/* text has no NUL (the line parser refuses them), so it is a C string. */
static void check_replies(wf_buf_t *big, wf_buf_t *small, const char *text, size_t len, const char *name)
{
	wf_buf_reset(big);
	if (xfer_ftp_reply(big, 550, text) != WF_OK)
		fail("reply within cap");
	if (wf_buf_size(big) != len + 6 || memcmp(wf_buf_head(big), "550 ", 4) != 0)
		fail("reply length");
	check_framing(big, 0, 1, "reply framing");

	/* At a small cap a reply is whole or absent; the padding moves the
	 * edge around. */
	wf_buf_reset(small);
	if (wf_buf_append(small, "................................................", len % 48) != WF_OK)
		fail("padding");
	size_t before = wf_buf_size(small);
	if (xfer_ftp_reply(small, 550, text) == WF_OK) {
		if (wf_buf_size(small) - before != wf_buf_size(big) ||
		    memcmp(wf_buf_head(small) + before, wf_buf_head(big), wf_buf_size(big)) != 0)
			fail("reply differs at a small cap");
	} else if (wf_buf_size(small) != before) {
		fail("failed reply left bytes");
	}

	const char *lines[] = { text, name, "211 End", text };
	wf_buf_reset(big);
	if (xfer_ftp_reply_multi(big, 211, text, lines, WF_ARRAY_LEN(lines), text) != WF_OK)
		fail("multi within cap");
	check_framing(big, 0, WF_ARRAY_LEN(lines) + 2, "multi framing");
	/* Only the last line may start with "211 ": every other one is either
	 * the "211-" opener or indented. */
	const char *p = wf_buf_head(big), *end = p + wf_buf_size(big);
	size_t i = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		bool last = nl + 1 == end;
		if (i == 0 ? memcmp(p, "211-", 4) != 0 : last ? memcmp(p, "211 ", 4) != 0 : p[0] != ' ')
			fail("multi line starts");
		p = nl + 1;
		i++;
	}
	before = wf_buf_size(small);
	if (xfer_ftp_reply_multi(small, 211, text, lines, WF_ARRAY_LEN(lines), text) != WF_OK &&
	    wf_buf_size(small) != before)
		fail("failed multi left bytes");

	char q[2 * XFER_FTP_LINE_MAX + 1];
	size_t quotes = count(text, len, '"');
	if (xfer_ftp_quote_path(text, q, sizeof(q)) != WF_OK)
		fail("quote within cap");
	if (strlen(q) != len + quotes || memchr(q, '\r', strlen(q)) || memchr(q, '\n', strlen(q)))
		fail("quoted path");
	char tiny[8];
	if (xfer_ftp_quote_path(text, tiny, sizeof(tiny)) == WF_OK ? strcmp(tiny, q) != 0 : tiny[0] != '\0')
		fail("quote at a small cap");
}

static void check_passive(wf_buf_t *big, wf_slice_t arg)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	uint16_t port = 0;
	unsigned char raw[6] = { 0 };
	memcpy(raw, arg.ptr, arg.len < 6 ? arg.len : 6);
	memcpy(&sin.sin_addr, raw, 4);
	memcpy(&port, raw + 4, 2);
	wf_buf_reset(big);
	if (xfer_ftp_reply_pasv(big, &sin, port) != WF_OK)
		fail("PASV within cap");
	check_framing(big, 0, 1, "PASV framing");
	size_t before = wf_buf_size(big);
	if (xfer_ftp_reply_epsv(big, port) != WF_OK)
		fail("EPSV within cap");
	check_framing(big, before, 1, "EPSV framing");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	wf_buf_t big, small;
	wf_buf_init(&big, 64 * 1024);
	wf_buf_init(&small, 64);
	char *text = malloc(XFER_FTP_LINE_MAX + 1);
	char name[XFER_FTP_LINE_MAX + 1];
	if (!text)
		abort();

	/* The raw bytes, NULs and all, as an argument. */
	check_args((wf_slice_t){ buf, size });

	size_t off = 0;
	while (off < size) {
		const char *line = buf + off;
		size_t rest = size - off;
		const char *lf = memchr(line, '\n', rest);
		xfer_ftp_cmd_t cmd;
		ssize_t n = xfer_ftp_parse_line(line, rest, &cmd);
		if (n > 0) {
			if ((size_t)n > rest || (size_t)n > XFER_FTP_LINE_MAX || !lf ||
			    (size_t)(lf - line) + 1 != (size_t)n)
				fail("line length");
			const char *hi = line + n - 1; /* the LF is no part of any slice */
			if (!inside(cmd.name, line, hi) || !inside(cmd.arg, line, hi))
				fail("slice outside the line");
			if (cmd.arg.len && cmd.name.ptr + cmd.name.len + 1 != cmd.arg.ptr)
				fail("arg not after one space");
			if (memchr(cmd.arg.ptr, '\r', cmd.arg.len) || memchr(cmd.arg.ptr, '\0', cmd.arg.len) ||
			    memchr(cmd.name.ptr, '\0', cmd.name.len) || memchr(cmd.name.ptr, ' ', cmd.name.len))
				fail("byte that should not be there");
			if ((unsigned)cmd.verb >= XFER_FTP_VERB_COUNT)
				fail("verb range");
			if (cmd.verb != XFER_FTP_UNKNOWN && (cmd.name.len < 3 || cmd.name.len > 4 ||
							     !wf_slice_eq_ci(cmd.name, xfer_ftp_verb_name(cmd.verb))))
				fail("verb and name disagree");
			/* The line, one byte short, is still arriving. */
			xfer_ftp_cmd_t again;
			if (xfer_ftp_parse_line(line, (size_t)n - 1, &again) != XFER_FTP_AGAIN)
				fail("prefix of a line is not AGAIN");

			check_args(cmd.arg);
			memcpy(text, cmd.arg.ptr, cmd.arg.len);
			text[cmd.arg.len] = '\0';
			memcpy(name, cmd.name.ptr, cmd.name.len);
			name[cmd.name.len] = '\0';
			check_replies(&big, &small, text, cmd.arg.len, name);
			check_passive(&big, cmd.arg);
			off += (size_t)n;
		} else if (n == XFER_FTP_AGAIN) {
			if (lf || rest >= XFER_FTP_LINE_MAX)
				fail("AGAIN with a line or past the limit");
			break;
		} else if (n == XFER_FTP_TOO_LONG) {
			if (rest < XFER_FTP_LINE_MAX || memchr(line, '\n', XFER_FTP_LINE_MAX))
				fail("TOO_LONG with a line in reach");
			/* Drop through the next LF, as the connection will. */
			if (!lf)
				break;
			off += (size_t)(lf - line) + 1;
		} else if (n == XFER_FTP_BAD) {
			if (!lf)
				fail("BAD before the LF arrived");
			off += (size_t)(lf - line) + 1;
		} else {
			fail("unknown result");
		}
	}

	free(text);
	wf_buf_fini(&small);
	wf_buf_fini(&big);
	free(buf);
	return 0;
}
