/* Request-target to confined relative path, and back: see url.h.
 * Dot segments are judged after percent-decoding, so "%2e%2e" is a ".." like
 * any other; and since a decoded '/' is refused, a decoded segment is always a
 * single path component. openat2 confines the result again at open time: this
 * is the first wall, not the only one. */
#include "url.h"

#include <arpa/inet.h>
#include <string.h>

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int xfer_url_byte_ok(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

/* The output only grows by whole segments: a segment is decoded into place
 * after a '/' that is written only once the segment turns out to be kept, so
 * a "." or ".." needs no room, and a dropped segment leaves no trace. Once a
 * kept segment has not fitted, nothing more is written, but the rest is still
 * checked (depth counts the kept segments), so a malformed target is told
 * from a long one; and a ".." that removes the segment that did not fit
 * brings back the path written so far, since only the result must fit. */
int xfer_url_to_path(wf_slice_t target, char *out, size_t outcap, int *is_dir)
{
	if (!outcap || !target.len || target.ptr[0] != '/')
		return WF_ERR;
	const unsigned char *p = (const unsigned char *)target.ptr;
	const unsigned char *end = p;
	while (end < p + target.len && *end != '?' && *end != '#')
		end++;

	size_t o = 0;     /* out[0..o) is the path so far */
	size_t depth = 0; /* segments in it, or that would be */
	size_t fits = 0;  /* segments in out[0..o) while too_long */
	int dir = 0, too_long = 0;
	while (p < end) {
		p++; /* the '/' that starts every segment */
		size_t seg = o ? o + 1 : 0;
		size_t sl = 0;
		unsigned char head[2] = { 0, 0 };
		int overflow = too_long;
		while (p < end && *p != '/') {
			unsigned char c = *p;
			if (c == '%') {
				int hi, lo;
				if (end - p < 3 || (hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0)
					return WF_ERR;
				c = (unsigned char)(hi << 4 | lo);
				/* One URL segment must stay one path segment. */
				if (c == '/')
					return WF_ERR;
				p += 3;
			} else {
				p++;
			}
			if (!xfer_url_byte_ok(c))
				return WF_ERR;
			if (sl < 2)
				head[sl] = c;
			/* Keep room for the NUL; an oversized segment fails
			 * only if it is kept (it may still be a dot segment). */
			if (!overflow && seg + sl + 1 < outcap)
				out[seg + sl] = (char)c;
			else
				overflow = 1;
			sl++;
		}

		if (sl == 0 || (sl == 1 && head[0] == '.')) {
			dir = 1;
		} else if (sl == 2 && head[0] == '.' && head[1] == '.') {
			/* Never clamped: climbing out of the home is an error,
			 * not a request for the home. */
			if (!depth)
				return WF_ERR;
			depth--;
			if (!too_long) {
				while (o && out[o - 1] != '/')
					o--;
				if (o)
					o--;
			} else if (depth == fits) {
				too_long = 0;
			}
			dir = 1;
		} else {
			depth++;
			if (overflow) {
				if (!too_long)
					fits = depth - 1;
				too_long = 1;
			} else {
				if (o)
					out[o] = '/';
				o = seg + sl;
			}
			dir = 0;
		}
	}
	if (too_long)
		return XFER_URL_TOO_LONG;
	out[o] = '\0';
	*is_dir = dir || !o;
	return WF_OK;
}

static int keep_in_href(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~' || c == '/';
}

ssize_t xfer_url_encode_path(const char *path, char *out, size_t outcap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		size_t need = keep_in_href(*p) ? 1 : 3;
		if (outcap - o <= need)
			return -1;
		if (need == 1) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o >= outcap)
		return -1;
	out[o] = '\0';
	return (ssize_t)o;
}

/* RFC 3986 2.3 unreserved and 2.2 sub-delims. */
static int host_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~' || (c && strchr("!$&'()*+,;=", c));
}

int xfer_url_host_valid(wf_slice_t v)
{
	const unsigned char *p = (const unsigned char *)v.ptr, *end = p + v.len;
	if (p < end && *p == '[') {
		const unsigned char *close = memchr(p, ']', v.len);
		if (!close)
			return 0;
		const unsigned char *lit = p + 1;
		size_t n = (size_t)(close - lit);
		if (n && (*lit == 'v' || *lit == 'V')) {
			/* IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
			size_t i = 1;
			while (i < n && hexval(lit[i]) >= 0)
				i++;
			if (i == 1 || i >= n - 1 || lit[i] != '.')
				return 0;
			for (i++; i < n; i++)
				if (!host_byte(lit[i]) && lit[i] != ':')
					return 0;
		} else {
			char ip6[INET6_ADDRSTRLEN];
			unsigned char a[16];
			if (n == 0 || n >= sizeof(ip6))
				return 0;
			memcpy(ip6, lit, n);
			ip6[n] = '\0';
			if (inet_pton(AF_INET6, ip6, a) != 1)
				return 0;
		}
		p = close + 1;
	} else {
		for (; p < end && *p != ':'; p++) {
			if (*p == '%') {
				if (end - p < 3 || hexval(p[1]) < 0 || hexval(p[2]) < 0)
					return 0;
				p += 2;
			} else if (!host_byte(*p)) {
				return 0;
			}
		}
	}
	if (p == end)
		return 1;
	if (*p++ != ':')
		return 0;
	for (; p < end; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}
