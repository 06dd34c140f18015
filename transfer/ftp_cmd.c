/* FTP command lines, arguments and replies: see ftp_cmd.h. Every byte here
 * comes from an untrusted client, and every reply may carry client-chosen
 * names, so parsing is strict and replies are framed by construction. */
#include "ftp_cmd.h"
#include "url.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const char *const verb_names[XFER_FTP_VERB_COUNT] = {
	[XFER_FTP_UNKNOWN] = "?", [XFER_FTP_USER] = "USER", [XFER_FTP_PASS] = "PASS", [XFER_FTP_QUIT] = "QUIT",
	[XFER_FTP_NOOP] = "NOOP", [XFER_FTP_SYST] = "SYST", [XFER_FTP_FEAT] = "FEAT", [XFER_FTP_OPTS] = "OPTS",
	[XFER_FTP_HELP] = "HELP", [XFER_FTP_STAT] = "STAT", [XFER_FTP_PWD] = "PWD",   [XFER_FTP_CWD] = "CWD",
	[XFER_FTP_CDUP] = "CDUP", [XFER_FTP_TYPE] = "TYPE", [XFER_FTP_MODE] = "MODE", [XFER_FTP_STRU] = "STRU",
	[XFER_FTP_PASV] = "PASV", [XFER_FTP_EPSV] = "EPSV", [XFER_FTP_PORT] = "PORT", [XFER_FTP_EPRT] = "EPRT",
	[XFER_FTP_LIST] = "LIST", [XFER_FTP_NLST] = "NLST", [XFER_FTP_MLSD] = "MLSD", [XFER_FTP_MLST] = "MLST",
	[XFER_FTP_RETR] = "RETR", [XFER_FTP_STOR] = "STOR", [XFER_FTP_STOU] = "STOU", [XFER_FTP_APPE] = "APPE",
	[XFER_FTP_REST] = "REST", [XFER_FTP_SIZE] = "SIZE", [XFER_FTP_MDTM] = "MDTM", [XFER_FTP_DELE] = "DELE",
	[XFER_FTP_RMD] = "RMD",   [XFER_FTP_MKD] = "MKD",   [XFER_FTP_RNFR] = "RNFR", [XFER_FTP_RNTO] = "RNTO",
	[XFER_FTP_ABOR] = "ABOR", [XFER_FTP_AUTH] = "AUTH", [XFER_FTP_PBSZ] = "PBSZ", [XFER_FTP_PROT] = "PROT",
	[XFER_FTP_CCC] = "CCC",   [XFER_FTP_ALLO] = "ALLO", [XFER_FTP_XPWD] = "XPWD", [XFER_FTP_XCWD] = "XCWD",
	[XFER_FTP_XMKD] = "XMKD", [XFER_FTP_XRMD] = "XRMD", [XFER_FTP_SITE] = "SITE", [XFER_FTP_MFMT] = "MFMT",
	[XFER_FTP_XCUP] = "XCUP",
};

/* Sorted by name for the binary search. The X verbs (RFC 775) are their own
 * entries, not folded into PWD/CWD/CDUP/MKD/RMD, so the dispatch table decides what an
 * alias means and a "500 'XPWD'" reply names what the client sent. */
static const struct {
	char name[5];
	xfer_ftp_verb_t verb;
} verbs_sorted[] = {
	{ "ABOR", XFER_FTP_ABOR }, { "ALLO", XFER_FTP_ALLO }, { "APPE", XFER_FTP_APPE }, { "AUTH", XFER_FTP_AUTH },
	{ "CCC", XFER_FTP_CCC },   { "CDUP", XFER_FTP_CDUP }, { "CWD", XFER_FTP_CWD },   { "DELE", XFER_FTP_DELE },
	{ "EPRT", XFER_FTP_EPRT }, { "EPSV", XFER_FTP_EPSV }, { "FEAT", XFER_FTP_FEAT }, { "HELP", XFER_FTP_HELP },
	{ "LIST", XFER_FTP_LIST }, { "MDTM", XFER_FTP_MDTM }, { "MFMT", XFER_FTP_MFMT }, { "MKD", XFER_FTP_MKD },
	{ "MLSD", XFER_FTP_MLSD },
	{ "MLST", XFER_FTP_MLST }, { "MODE", XFER_FTP_MODE }, { "NLST", XFER_FTP_NLST }, { "NOOP", XFER_FTP_NOOP },
	{ "OPTS", XFER_FTP_OPTS }, { "PASS", XFER_FTP_PASS }, { "PASV", XFER_FTP_PASV }, { "PBSZ", XFER_FTP_PBSZ },
	{ "PORT", XFER_FTP_PORT }, { "PROT", XFER_FTP_PROT }, { "PWD", XFER_FTP_PWD },   { "QUIT", XFER_FTP_QUIT },
	{ "REST", XFER_FTP_REST }, { "RETR", XFER_FTP_RETR }, { "RMD", XFER_FTP_RMD },   { "RNFR", XFER_FTP_RNFR },
	{ "RNTO", XFER_FTP_RNTO }, { "SITE", XFER_FTP_SITE }, { "SIZE", XFER_FTP_SIZE }, { "STAT", XFER_FTP_STAT }, { "STOR", XFER_FTP_STOR },
	{ "STOU", XFER_FTP_STOU }, { "STRU", XFER_FTP_STRU }, { "SYST", XFER_FTP_SYST }, { "TYPE", XFER_FTP_TYPE },
	{ "USER", XFER_FTP_USER }, { "XCUP", XFER_FTP_XCUP }, { "XCWD", XFER_FTP_XCWD }, { "XMKD", XFER_FTP_XMKD }, { "XPWD", XFER_FTP_XPWD },
	{ "XRMD", XFER_FTP_XRMD },
};
_Static_assert(WF_ARRAY_LEN(verbs_sorted) == XFER_FTP_VERB_COUNT - 1, "every verb has one lookup entry");

const char *xfer_ftp_verb_name(xfer_ftp_verb_t v)
{
	if ((unsigned)v >= XFER_FTP_VERB_COUNT || !verb_names[v])
		return "?";
	return verb_names[v];
}

/* HELP VERB's text, in the words of RFC 959's command syntax (4.1) that
 * ProFTPD's HELP shows: "<sp>" a space, "[...]" optional. Each verb's own
 * argument as this server takes it. */
static const char *const verb_syntax[XFER_FTP_VERB_COUNT] = {
	[XFER_FTP_USER] = "USER <sp> username",
	[XFER_FTP_PASS] = "PASS <sp> password",
	[XFER_FTP_QUIT] = "QUIT",
	[XFER_FTP_NOOP] = "NOOP",
	[XFER_FTP_SYST] = "SYST",
	[XFER_FTP_FEAT] = "FEAT",
	[XFER_FTP_OPTS] = "OPTS <sp> UTF8 ON | MLST <sp> fact;fact;...",
	[XFER_FTP_HELP] = "HELP [<sp> command]",
	[XFER_FTP_STAT] = "STAT [<sp> pathname]",
	[XFER_FTP_PWD] = "PWD",
	[XFER_FTP_CWD] = "CWD <sp> pathname",
	[XFER_FTP_CDUP] = "CDUP",
	[XFER_FTP_TYPE] = "TYPE <sp> A | I | L 8",
	[XFER_FTP_MODE] = "MODE <sp> S",
	[XFER_FTP_STRU] = "STRU <sp> F",
	[XFER_FTP_PASV] = "PASV",
	[XFER_FTP_EPSV] = "EPSV [<sp> 1 | 2 | ALL]",
	[XFER_FTP_PORT] = "PORT <sp> h1,h2,h3,h4,p1,p2",
	[XFER_FTP_EPRT] = "EPRT <sp> |proto|address|port|",
	[XFER_FTP_LIST] = "LIST [<sp> pathname or pattern]",
	[XFER_FTP_NLST] = "NLST [<sp> pathname or pattern]",
	[XFER_FTP_MLSD] = "MLSD [<sp> pathname]",
	[XFER_FTP_MLST] = "MLST [<sp> pathname]",
	[XFER_FTP_RETR] = "RETR <sp> pathname",
	[XFER_FTP_STOR] = "STOR <sp> pathname",
	[XFER_FTP_STOU] = "STOU [<sp> pathname]",
	[XFER_FTP_APPE] = "APPE <sp> pathname",
	[XFER_FTP_REST] = "REST <sp> offset",
	[XFER_FTP_SIZE] = "SIZE <sp> pathname",
	[XFER_FTP_MDTM] = "MDTM <sp> pathname",
	[XFER_FTP_DELE] = "DELE <sp> pathname",
	[XFER_FTP_RMD] = "RMD <sp> pathname",
	[XFER_FTP_MKD] = "MKD <sp> pathname",
	[XFER_FTP_RNFR] = "RNFR <sp> pathname",
	[XFER_FTP_RNTO] = "RNTO <sp> pathname",
	[XFER_FTP_ABOR] = "ABOR",
	[XFER_FTP_AUTH] = "AUTH <sp> TLS",
	[XFER_FTP_PBSZ] = "PBSZ <sp> 0",
	[XFER_FTP_PROT] = "PROT <sp> C | P",
	[XFER_FTP_CCC] = "CCC",
	[XFER_FTP_ALLO] = "ALLO <sp> bytes",
	[XFER_FTP_XPWD] = "XPWD",
	[XFER_FTP_XCWD] = "XCWD <sp> pathname",
	[XFER_FTP_XMKD] = "XMKD <sp> pathname",
	[XFER_FTP_XRMD] = "XRMD <sp> pathname",
	[XFER_FTP_SITE] = "SITE <sp> command (none is offered)",
	[XFER_FTP_MFMT] = "MFMT <sp> YYYYMMDDHHMMSS <sp> pathname",
	[XFER_FTP_XCUP] = "XCUP",
};

const char *xfer_ftp_verb_syntax(xfer_ftp_verb_t v)
{
	if ((unsigned)v >= XFER_FTP_VERB_COUNT || v == XFER_FTP_UNKNOWN || !verb_syntax[v])
		abort(); /* a verb without its line: the table above is missing one */
	return verb_syntax[v];
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Only 3-4 letter tokens can be verbs, so anything else never reaches the
 * table and the upper-cased copy always fits. */
static xfer_ftp_verb_t verb_lookup(wf_slice_t name)
{
	if (name.len < 3 || name.len > 4)
		return XFER_FTP_UNKNOWN;
	char up[5] = { 0 };
	for (size_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.ptr[i];
		if (!is_alpha(c))
			return XFER_FTP_UNKNOWN;
		up[i] = (char)(c & ~0x20);
	}
	size_t lo = 0, hi = WF_ARRAY_LEN(verbs_sorted);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(up, verbs_sorted[mid].name);
		if (c == 0)
			return verbs_sorted[mid].verb;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return XFER_FTP_UNKNOWN;
}

xfer_ftp_verb_t xfer_ftp_verb_of(wf_slice_t name)
{
	return verb_lookup(name);
}

ssize_t xfer_ftp_parse_line(const char *buf, size_t len, xfer_ftp_cmd_t *out)
{
	if (len == 0)
		return XFER_FTP_AGAIN;
	size_t scan = len < XFER_FTP_LINE_MAX ? len : XFER_FTP_LINE_MAX;
	const char *lf = memchr(buf, '\n', scan);
	if (!lf)
		return len >= XFER_FTP_LINE_MAX ? XFER_FTP_TOO_LONG : XFER_FTP_AGAIN;
	size_t used = (size_t)(lf - buf) + 1;

	const char *p = buf, *end = lf;
	if (end > p && end[-1] == '\r')
		end--;
	/* A NUL would cut the name short in any C call downstream, and a lone CR
	 * is how a name smuggles a line break into a reply or a log. */
	if (memchr(p, '\0', (size_t)(end - p)) || memchr(p, '\r', (size_t)(end - p)))
		return XFER_FTP_BAD;
	/* ABOR is preceded by IAC IP and IAC DM; with the DM (or the IAC before
	 * it) sent as TCP urgent data and dropped from the stream by the kernel,
	 * what is left varies, so every Telnet byte here goes: none can start a
	 * verb. */
	while (p < end && (unsigned char)*p >= 0xF0)
		p++;
	if (p == end)
		return XFER_FTP_BAD;

	const char *sp = memchr(p, ' ', (size_t)(end - p));
	wf_slice_t name = { p, (size_t)((sp ? sp : end) - p) };
	wf_slice_t arg = { end, 0 };
	if (sp)
		arg = (wf_slice_t){ sp + 1, (size_t)(end - (sp + 1)) };
	out->verb = verb_lookup(name);
	out->name = name;
	out->arg = arg;
	return (ssize_t)used;
}

/* Decimal digits (at least one, at most max_digits) whose value is no more
 * than limit. The digit cap keeps strict fields strict: a run of leading
 * zeros is no more an address byte or an offset than any other padding. */
static bool parse_uint(const char **pp, const char *end, size_t max_digits, uint64_t limit, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	size_t n = 0;
	while (p < end && is_digit((unsigned char)*p)) {
		if (++n > max_digits)
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
		p++;
	}
	if (n == 0)
		return false;
	*pp = p;
	*out = v;
	return true;
}

int xfer_ftp_parse_port(wf_slice_t arg, struct sockaddr_storage *out)
{
	const char *p = arg.ptr, *end = arg.ptr + arg.len;
	uint8_t b[6];
	for (size_t i = 0; i < 6; i++) {
		uint64_t v;
		if (i > 0) {
			if (p == end || *p != ',')
				return WF_ERR;
			p++;
		}
		if (!parse_uint(&p, end, 3, 255, &v))
			return WF_ERR;
		b[i] = (uint8_t)v;
	}
	if (p != end)
		return WF_ERR;
	uint16_t port = (uint16_t)(b[4] << 8 | b[5]);
	if (port == 0)
		return WF_ERR;

	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	memcpy(&sin.sin_addr, b, 4);
	memset(out, 0, sizeof(*out));
	memcpy(out, &sin, sizeof(sin));
	return WF_OK;
}

int xfer_ftp_parse_eprt(wf_slice_t arg, struct sockaddr_storage *out)
{
	if (arg.len < 2)
		return WF_ERR;
	const char *p = arg.ptr, *end = arg.ptr + arg.len;
	char d = *p++;
	if ((unsigned char)d < 33 || (unsigned char)d > 126)
		return WF_ERR;

	/* <d>proto<d>addr<d>port<d>, and nothing after the last delimiter. */
	wf_slice_t f[3];
	for (size_t i = 0; i < 3; i++) {
		const char *q = memchr(p, d, (size_t)(end - p));
		if (!q)
			return WF_ERR;
		f[i] = (wf_slice_t){ p, (size_t)(q - p) };
		p = q + 1;
	}
	if (p != end)
		return WF_ERR;

	int family;
	if (wf_slice_eq(f[0], "1"))
		family = AF_INET;
	else if (wf_slice_eq(f[0], "2"))
		family = AF_INET6;
	else
		return WF_ERR;

	const char *pp = f[2].ptr;
	uint64_t port;
	if (!parse_uint(&pp, f[2].ptr + f[2].len, 5, 65535, &port) || pp != f[2].ptr + f[2].len || port == 0)
		return WF_ERR;

	/* inet_pton wants a C string: a NUL inside would end the address early
	 * and let trailing bytes through unread; anything longer than the
	 * longest text form of an address cannot be one. */
	char text[INET6_ADDRSTRLEN];
	if (f[1].len == 0 || f[1].len >= sizeof(text) || memchr(f[1].ptr, '\0', f[1].len))
		return WF_ERR;
	memcpy(text, f[1].ptr, f[1].len);
	text[f[1].len] = '\0';

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
			return WF_ERR;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			return WF_ERR;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	}
	*out = ss;
	return WF_OK;
}

int xfer_ftp_parse_offset(wf_slice_t arg, uint64_t *out)
{
	const char *p = arg.ptr, *end = arg.ptr + arg.len;
	uint64_t v;
	/* 2^63-1 so the offset always fits an off_t. */
	if (!parse_uint(&p, end, 19, (uint64_t)INT64_MAX, &v) || p != end)
		return WF_ERR;
	*out = v;
	return WF_OK;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, by
 * whole eras of 400 years (146097 days), so no time zone or libc table is
 * involved. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned month_days(uint64_t y, uint64_t m)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return days[m - 1] + (m == 2 && leap);
}

/* n digits exactly at *pp. */
static bool parse_fixed(const char **pp, const char *end, size_t n, uint64_t *out)
{
	const char *p = *pp;
	if ((size_t)(end - p) < n)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit((unsigned char)p[i]))
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*pp = p + n;
	*out = v;
	return true;
}

int xfer_ftp_parse_mfmt(wf_slice_t arg, struct timespec *when, wf_slice_t *path)
{
	const char *p = arg.ptr, *end = arg.ptr + arg.len;
	uint64_t y, mo, d, h, mi, s, frac = 0;
	if (!parse_fixed(&p, end, 4, &y) || !parse_fixed(&p, end, 2, &mo) || !parse_fixed(&p, end, 2, &d) ||
	    !parse_fixed(&p, end, 2, &h) || !parse_fixed(&p, end, 2, &mi) || !parse_fixed(&p, end, 2, &s))
		return WF_ERR;
	if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || s > 59)
		return WF_ERR;
	if (p < end && *p == '.') {
		p++;
		size_t n = 0;
		for (; p < end && is_digit((unsigned char)*p); p++, n++) {
			if (n == 9)
				return WF_ERR;
			frac = frac * 10 + (uint64_t)(*p - '0');
		}
		if (n == 0)
			return WF_ERR;
		for (; n < 9; n++)
			frac *= 10;
	}
	if (p >= end || *p != ' ' || p + 1 >= end)
		return WF_ERR;
	int64_t secs = days_from_civil((int64_t)y, (unsigned)mo, (unsigned)d) * 86400 + (int64_t)(h * 3600 + mi * 60 + s);
	when->tv_sec = (time_t)secs;
	when->tv_nsec = (long)frac;
	*path = (wf_slice_t){ p + 1, (size_t)(end - p - 1) };
	return WF_OK;
}

int xfer_ftp_parse_type(wf_slice_t arg, char *out)
{
	/* Non-print format (N) is the default and the only one we write; a
	 * local byte size of 8 is just binary. */
	if (wf_slice_eq_ci(arg, "A") || wf_slice_eq_ci(arg, "A N")) {
		*out = 'A';
		return WF_OK;
	}
	if (wf_slice_eq_ci(arg, "I") || wf_slice_eq_ci(arg, "L 8")) {
		*out = 'I';
		return WF_OK;
	}
	return WF_ERR;
}

static void check_code(int code)
{
	if (code < 100 || code > 599)
		abort(); /* a bug: reply codes are three digits, 1xx to 5xx */
}

/* Copies text with CR and LF made spaces: the one place reply text is
 * written, so no caller can forget it. The length is unchanged, which lets
 * a reply be sized before anything is written. */
static char *put_text(char *dst, const char *text, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		*dst++ = (c == '\r' || c == '\n') ? ' ' : c;
	}
	return dst;
}

static char *put_code(char *dst, int code, char sep)
{
	*dst++ = (char)('0' + code / 100);
	*dst++ = (char)('0' + code / 10 % 10);
	*dst++ = (char)('0' + code % 10);
	*dst++ = sep;
	return dst;
}

static char *put_crlf(char *dst)
{
	*dst++ = '\r';
	*dst++ = '\n';
	return dst;
}

int xfer_ftp_reply(wf_buf_t *out, int code, const char *text)
{
	check_code(code);
	if (!text)
		text = "";
	size_t n = strlen(text);
	if (n > SIZE_MAX - 6)
		return WF_ERR;
	/* One reserve for the whole line: a reply that does not fit leaves no
	 * half line behind to confuse the client. */
	char *dst = wf_buf_reserve(out, n + 6);
	if (!dst)
		return WF_ERR;
	char *p = put_code(dst, code, ' ');
	p = put_text(p, text, n);
	p = put_crlf(p);
	wf_buf_commit(out, (size_t)(p - dst));
	return WF_OK;
}

int xfer_ftp_reply_multi(wf_buf_t *out, int code, const char *first, const char *const *lines, size_t nlines,
			 const char *last)
{
	check_code(code);
	if (!first)
		first = "";
	if (!last)
		last = "";
	size_t nfirst = strlen(first), nlast = strlen(last);
	size_t total = nfirst + 6;
	if (nlast > SIZE_MAX - 6 - total)
		return WF_ERR;
	total += nlast + 6;
	for (size_t i = 0; i < nlines; i++) {
		size_t n = lines[i] ? strlen(lines[i]) : 0;
		if (n > SIZE_MAX - 3 - total)
			return WF_ERR;
		total += n + 3;
	}
	char *dst = wf_buf_reserve(out, total);
	if (!dst)
		return WF_ERR;
	char *p = put_code(dst, code, '-');
	p = put_text(p, first, nfirst);
	p = put_crlf(p);
	for (size_t i = 0; i < nlines; i++) {
		const char *l = lines[i] ? lines[i] : "";
		*p++ = ' ';
		p = put_text(p, l, strlen(l));
		p = put_crlf(p);
	}
	p = put_code(p, code, ' ');
	p = put_text(p, last, nlast);
	p = put_crlf(p);
	if ((size_t)(p - dst) != total)
		abort(); /* a bug: the sizing above and the writing disagree */
	wf_buf_commit(out, total);
	return WF_OK;
}

int xfer_ftp_reply_pasv(wf_buf_t *out, const struct sockaddr_in *addr, uint16_t port)
{
	const unsigned char *a = (const unsigned char *)&addr->sin_addr;
	return wf_buf_printf(out, "227 Entering Passive Mode (%u,%u,%u,%u,%u,%u).\r\n", a[0], a[1], a[2], a[3],
			     (unsigned)(port >> 8), (unsigned)(port & 0xff));
}

int xfer_ftp_reply_epsv(wf_buf_t *out, uint16_t port)
{
	return wf_buf_printf(out, "229 Entering Extended Passive Mode (|||%u|).\r\n", (unsigned)port);
}

int xfer_ftp_quote_path(const char *path, char *out, size_t cap)
{
	if (cap == 0)
		return WF_ERR;
	size_t o = 0;
	for (const char *s = path; *s; s++) {
		size_t need = *s == '"' ? 2 : 1;
		/* Leave room for the NUL. */
		if (need > cap - 1 - o) {
			out[0] = '\0';
			return WF_ERR;
		}
		if (*s == '"') {
			out[o++] = '"';
			out[o++] = '"';
		} else {
			out[o++] = (*s == '\r' || *s == '\n') ? ' ' : *s;
		}
	}
	out[o] = '\0';
	return WF_OK;
}

/* Appends one segment, or applies "." / ".." to the path built so far. */
static int path_push(char *out, size_t *len, size_t cap, const char *seg, size_t n)
{
	if (n == 0 || (n == 1 && seg[0] == '.'))
		return WF_OK;
	if (n == 2 && seg[0] == '.' && seg[1] == '.') {
		while (*len > 0 && out[*len - 1] != '/')
			(*len)--;
		if (*len > 0)
			(*len)--; /* the '/' before the removed segment; at "/" nothing is left to climb */
		return WF_OK;
	}
	if (*len + 1 + n + 1 > cap)
		return WF_ERR;
	out[(*len)++] = '/';
	memcpy(out + *len, seg, n);
	*len += n;
	return WF_OK;
}

static int path_push_all(char *out, size_t *len, size_t cap, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && p[j] != '/')
			j++;
		if (path_push(out, len, cap, p + i, j - i) != WF_OK)
			return WF_ERR;
		i = j + 1;
	}
	return WF_OK;
}

/* Does p name a folder by its form: empty, or its last segment empty, "."
 * or ".."? */
static bool names_folder(const char *p, size_t n)
{
	size_t i = n;
	while (i > 0 && p[i - 1] != '/')
		i--;
	size_t l = n - i;
	return l == 0 || (l == 1 && p[i] == '.') || (l == 2 && p[i] == '.' && p[i + 1] == '.');
}

int xfer_ftp_path_resolve(const char *cwd, wf_slice_t arg, char *out, size_t cap, bool *is_dir)
{
	size_t len = 0; /* out holds "" for "/", else "/a/b" */
	/* A NUL would end the name early in every call that takes it. */
	if (cap < 2 || (arg.len && memchr(arg.ptr, '\0', arg.len)))
		return WF_ERR;
	if (!(arg.len > 0 && arg.ptr[0] == '/') && path_push_all(out, &len, cap, cwd, strlen(cwd)) != WF_OK)
		return WF_ERR;
	if (path_push_all(out, &len, cap, arg.ptr, arg.len) != WF_OK)
		return WF_ERR;
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	*is_dir = names_folder(arg.ptr, arg.len);
	return WF_OK;
}

bool xfer_ftp_name_creatable(wf_slice_t name)
{
	for (size_t i = 0; i < name.len; i++)
		if (!xfer_url_byte_ok((unsigned char)name.ptr[i]))
			return false;
	return true;
}
