/* FTP wildcard patterns: see ftp_glob.h. Both the pattern and the names
 * are anyone's bytes (a client sends the one, uploads the other), so
 * nothing here recurses, allocates or reads past a slice. */
#include "ftp_glob.h"

#include <stddef.h>
#include <stdint.h>

#define NO_STAR SIZE_MAX

/* The character at s[0] (n > 0): its length, and its code point in *cp. A
 * byte that does not start a valid UTF-8 sequence (an overlong form, a
 * surrogate, past U+10FFFF, cut short) is a character of its own, mapped to
 * U+DC80..U+DCFF as Python's surrogateescape does: no valid sequence
 * decodes there, so such a byte equals only itself. */
static size_t char_at(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		goto raw;
	}
	if (len > n)
		goto raw;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto raw;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto raw;
	*cp = v;
	return len;
raw:
	*cp = 0xDC00 | c;
	return 1;
}

/* A pattern character at p[i] (i < n), a backslash quoting the next one:
 * its code point in *cp; returns the index after it. A trailing backslash
 * stands for itself. */
static size_t pat_char(const unsigned char *p, size_t n, size_t i, uint32_t *cp)
{
	if (p[i] == '\\' && i + 1 < n)
		i++;
	return i + char_at(p + i, n - i, cp);
}

/* The class that opens with '[' at p[i]: the index after its ']', or 0
 * when it is not closed (then the '[' is a literal). */
static size_t class_end(const unsigned char *p, size_t n, size_t i)
{
	uint32_t cp;
	i++;
	if (i < n && (p[i] == '!' || p[i] == '^'))
		i++;
	if (i < n && p[i] == ']') /* a member, not the end */
		i++;
	while (i < n && p[i] != ']')
		i = pat_char(p, n, i, &cp);
	return i < n ? i + 1 : 0;
}

/* Is c in the class p[i..end) (from its '[' to past its ']')? */
static bool class_has(const unsigned char *p, size_t i, size_t end, uint32_t c)
{
	size_t last = end - 1; /* the closing ']' */
	bool negate = false, in = false;
	i++;
	if (p[i] == '!' || p[i] == '^') {
		negate = true;
		i++;
	}
	while (i < last) {
		uint32_t lo, hi;
		/* a ']' first is a member: pat_char reads it like any other */
		size_t next = pat_char(p, last, i, &lo);
		hi = lo;
		if (next + 1 < last && p[next] == '-') /* a range; a '-' last is a member */
			next = pat_char(p, last, next + 1, &hi);
		if (c >= lo && c <= hi)
			in = true;
		i = next;
	}
	return in != negate;
}

/* Does the one-character token at p[*pi] (not a '*') match the character
 * c? *pi moves past the token. */
static bool token_match(const unsigned char *p, size_t n, size_t *pi, uint32_t c)
{
	size_t i = *pi;
	if (p[i] == '?') {
		*pi = i + 1;
		return true;
	}
	if (p[i] == '[') {
		size_t end = class_end(p, n, i);
		if (end) {
			*pi = end;
			return class_has(p, i, end, c);
		}
		*pi = i + 1;
		return c == '[';
	}
	uint32_t want;
	*pi = pat_char(p, n, i, &want);
	return want == c;
}

bool xfer_ftp_glob_magic(wf_slice_t pat)
{
	const unsigned char *p = (const unsigned char *)pat.ptr;
	for (size_t i = 0; i < pat.len; i++) {
		if (p[i] == '\\')
			i++; /* what it quotes is no wildcard */
		else if (p[i] == '*' || p[i] == '?' || (p[i] == '[' && class_end(p, pat.len, i)))
			return true;
	}
	return false;
}

/* The classic two-pointer match: tokens other than '*' take one character
 * each, so on a mismatch only the last '*' needs to take one character
 * more (an earlier '*' taking more could only lead to a state the last one
 * reaches too). Each name position is retried at most once per token after
 * that '*': at most pattern x name steps. */
bool xfer_ftp_glob_match(wf_slice_t pat, wf_slice_t name)
{
	if (pat.len > XFER_FTP_GLOB_MAX)
		return false;
	const unsigned char *p = (const unsigned char *)pat.ptr, *s = (const unsigned char *)name.ptr;
	size_t pn = pat.len, sn = name.len;
	size_t pi = 0, si = 0, star_pi = NO_STAR, star_si = 0;
	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			while (pi < pn && p[pi] == '*')
				pi++;
			if (pi == pn)
				return true; /* a trailing '*' takes the rest */
			star_pi = pi;
			star_si = si;
			continue;
		}
		uint32_t c;
		size_t clen = char_at(s + si, sn - si, &c);
		size_t next = pi;
		if (pi < pn && token_match(p, pn, &next, c)) {
			pi = next;
			si += clen;
			continue;
		}
		if (star_pi == NO_STAR)
			return false;
		/* The last '*' takes one character more, and the rest starts again after it. */
		star_si += char_at(s + star_si, sn - star_si, &c);
		si = star_si;
		pi = star_pi;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}
