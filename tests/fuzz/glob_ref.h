/* A second, slow reading of the FTP wildcard rules (transfer/ftp_glob.h),
 * for the unit test and the fuzz target to hold the matcher to: the pattern
 * cut into tokens first, then a table over (token, name position) instead
 * of the matcher's single backtracking point. Written apart from
 * ftp_glob.c on purpose: it shares no code with what it checks. */
#ifndef GLOB_REF_H
#define GLOB_REF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_tok {
	enum { REF_STAR, REF_ANY, REF_CHAR, REF_CLASS } kind;
	uint32_t c;  /* REF_CHAR */
	bool negate; /* REF_CLASS */
	size_t nr;   /* REF_CLASS: ranges */
	uint32_t lo[256], hi[256];
} ref_tok_t;

/* One character: a valid UTF-8 sequence, else one byte as 0xDC00 | byte. */
static size_t ref_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
	if (len == 1) {
		*cp = c;
		return 1;
	}
	if (len && len <= n) {
		uint32_t v = c & (0x7F >> len);
		size_t i;
		for (i = 1; i < len && (s[i] & 0xC0) == 0x80; i++)
			v = v << 6 | (s[i] & 0x3F);
		uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
		if (i == len && v >= min && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF)) {
			*cp = v;
			return len;
		}
	}
	*cp = 0xDC00 | c;
	return 1;
}

/* The tokens of p (at most n of them: one per byte at most). */
static size_t ref_tokens(const unsigned char *p, size_t n, ref_tok_t *t)
{
	size_t k = 0, i = 0;
	while (i < n) {
		ref_tok_t *x = &t[k++];
		memset(x, 0, sizeof(*x));
		if (p[i] == '*') {
			x->kind = REF_STAR;
			i++;
			continue;
		}
		if (p[i] == '?') {
			x->kind = REF_ANY;
			i++;
			continue;
		}
		if (p[i] == '[') {
			/* Read it as a class; if no ']' closes it, the '[' is itself. */
			size_t j = i + 1;
			bool neg = false;
			if (j < n && (p[j] == '!' || p[j] == '^'))
				neg = true, j++;
			size_t nr = 0;
			bool firstm = true, closed = false;
			while (j < n) {
				if (p[j] == ']' && !firstm) {
					closed = true;
					j++;
					break;
				}
				firstm = false;
				uint32_t lo, hi;
				if (p[j] == '\\' && j + 1 < n)
					j++;
				j += ref_char(p + j, n - j, &lo);
				hi = lo;
				if (j + 1 < n && p[j] == '-' && p[j + 1] != ']') {
					j++;
					if (p[j] == '\\' && j + 1 < n)
						j++;
					j += ref_char(p + j, n - j, &hi);
				}
				if (nr < 256) {
					x->lo[nr] = lo;
					x->hi[nr] = hi;
					nr++;
				}
			}
			if (closed) {
				x->kind = REF_CLASS;
				x->negate = neg;
				x->nr = nr;
				i = j;
				continue;
			}
			x->kind = REF_CHAR;
			x->c = '[';
			i++;
			continue;
		}
		if (p[i] == '\\' && i + 1 < n)
			i++;
		x->kind = REF_CHAR;
		i += ref_char(p + i, n - i, &x->c);
	}
	return k;
}

static bool ref_tok_ok(const ref_tok_t *t, uint32_t c)
{
	if (t->kind == REF_ANY)
		return true;
	if (t->kind == REF_CHAR)
		return t->c == c;
	bool in = false;
	for (size_t r = 0; r < t->nr; r++)
		if (c >= t->lo[r] && c <= t->hi[r])
			in = true;
	return in != t->negate;
}

/* ok[k][s]: tokens k.. match the name from character s. */
static bool ref_match(const char *pat, size_t pn, const char *name, size_t sn)
{
	ref_tok_t *t = calloc(pn + 1, sizeof(*t));
	size_t nt = ref_tokens((const unsigned char *)pat, pn, t);
	uint32_t *cs = calloc(sn + 1, sizeof(*cs));
	size_t nc = 0;
	for (size_t i = 0; i < sn;)
		i += ref_char((const unsigned char *)name + i, sn - i, &cs[nc++]);
	bool *ok = calloc((nt + 1) * (nc + 1), sizeof(bool));
#define OK(k, s) ok[(k) * (nc + 1) + (s)]
	OK(nt, nc) = true;
	for (size_t k = nt; k-- > 0;)
		for (size_t s = nc + 1; s-- > 0;) {
			if (t[k].kind == REF_STAR)
				OK(k, s) = OK(k + 1, s) || (s < nc && OK(k, s + 1));
			else
				OK(k, s) = s < nc && ref_tok_ok(&t[k], cs[s]) && OK(k + 1, s + 1);
		}
	bool r = OK(0, 0);
#undef OK
	free(ok);
	free(cs);
	free(t);
	return r;
}

#endif
