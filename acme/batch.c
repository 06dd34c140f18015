/* The batch CSV: see batch.h. Every field is bounded before it is copied. */
#include "batch.h"
#include "../server/config.h"
#include "../server/san.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS 5

static const char *const key_types[] = { "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096", NULL };

static void fail(char *err, size_t errlen, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "line %d: %s", line, msg);
}

/* Splits s on spaces into a NULL-terminated array of copies. */
static char **split_spaces(const char *s, size_t *n_out)
{
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ' ';
	char **v = calloc(cap + 1, sizeof(char *));
	size_t n = 0;
	if (!v)
		return NULL;
	for (const char *p = s; *p;) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if (e > p)
			v[n++] = strndup(p, (size_t)(e - p));
		p = e;
	}
	*n_out = n;
	return v;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The columns, as a header line names them. */
static const char *const columns[FIELDS] = { "name", "domains", "key_type", "hook", "challenge" };

/* Does the record name the columns (a header), rather than hold a
 * certificate that happens to be called "name"? */
static bool is_header(char f[FIELDS][ACME_BATCH_FIELD_MAX], int nf)
{
	if (nf < 2)
		return false;
	for (int i = 0; i < nf; i++)
		if (strcasecmp(f[i], columns[i]) != 0)
			return false;
	return true;
}

/* A first line that names the columns otherwise ("Name,Domain",
 * "name,domains,keytype", "Certificate,Domains"): read as a certificate, it
 * would order one for a single-label name no public CA issues. */
static bool near_header(char f[FIELDS][ACME_BATCH_FIELD_MAX], int nf)
{
	if (nf < 2 || strchr(f[1], '.') || strchr(f[1], ':'))
		return false;
	return strcasecmp(f[0], columns[0]) == 0 || strncasecmp(f[1], "domain", 6) == 0;
}

static const char *const challenges[] = { "http-01", "tls-alpn-01", "dns-01", NULL };

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* One record: up to FIELDS fields into f (NUL-terminated copies in buf).
 * Returns bytes used (through the line's end), 0 at the end, -1 on error. */
static long record(const char *p, const char *end, char f[FIELDS][ACME_BATCH_FIELD_MAX], int *nf, const char **why)
{
	const char *start = p;
	*nf = 0;
	size_t len = 0;
	bool quoted = false, was_quoted = false;
	f[0][0] = '\0';
	for (;;) {
		if (p == end && quoted) {
			*why = "a quoted field not closed before the end of the file";
			return -1;
		}
		if (p == end || (!quoted && (*p == '\n' || *p == ','))) {
			if (*nf >= FIELDS) {
				*why = "more than 5 fields (name,domains,key_type,hook,challenge)";
				return -1;
			}
			/* Unquoted fields lose a trailing CR (CRLF files). */
			if (!was_quoted && len && f[*nf][len - 1] == '\r')
				len--;
			f[*nf][len] = '\0';
			(*nf)++;
			len = 0;
			was_quoted = false;
			if (p == end || *p == '\n')
				return (long)(p - start) + (p != end);
			p++;
			if (*nf < FIELDS)
				f[*nf][0] = '\0';
			continue;
		}
		char c = *p++;
		if (c == '\r' && was_quoted && !quoted && (p == end || *p == '\n'))
			continue; /* the CR of a CRLF file's line, after its last field's quote */
		if (c == '"' && !quoted && len == 0 && !was_quoted) {
			quoted = was_quoted = true;
			continue;
		}
		if (c == '"' && quoted) {
			if (p < end && *p == '"') {
				p++;
			} else {
				quoted = false;
				continue;
			}
		} else if (c == '"' || (was_quoted && !quoted)) {
			*why = "a quote inside an unquoted field, or text after a closing quote";
			return -1;
		}
		if (c == '\0' || (c == '\n' && quoted) || (c == '\r' && quoted)) {
			*why = "a control byte inside a field";
			return -1;
		}
		if (*nf >= FIELDS) {
			*why = "more than 5 fields (name,domains,key_type,hook,challenge)";
			return -1;
		}
		if (len + 1 >= ACME_BATCH_FIELD_MAX) {
			*why = "a field longer than 4096 bytes";
			return -1;
		}
		f[*nf][len++] = c;
	}
}

void acme_batch_free(acme_batch_t *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->entries[i].name);
		free_strv(b->entries[i].domains);
		free(b->entries[i].key_type);
		free_strv(b->entries[i].hook);
		free(b->entries[i].challenge);
	}
	free(b->entries);
	b->entries = NULL;
	b->n = 0;
}

int acme_batch_parse(const char *data, size_t len, acme_batch_t *out, char *err, size_t errlen)
{
	char f[FIELDS][ACME_BATCH_FIELD_MAX];
	bool first = true;
	acme_batch_t b = { calloc(ACME_BATCH_MAX, sizeof(acme_batch_entry_t)), 0 };
	if (!b.entries) {
		snprintf(err, errlen, "out of memory");
		return WF_ERR;
	}
	const char *p = data, *end = data + len;
	/* A UTF-8 byte order mark, as some editors write, is no part of the
	 * first name. */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	int line = 0;
	while (p < end) {
		line++;
		const char *lend = memchr(p, '\n', (size_t)(end - p));
		size_t llen = lend ? (size_t)(lend - p) : (size_t)(end - p);
		/* Blank lines and comments. */
		size_t k = 0;
		while (k < llen && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
			k++;
		if (k == llen || p[k] == '#') {
			p += llen + (lend != NULL);
			continue;
		}
		int nf = 0;
		const char *why = NULL;
		long used = record(p, end, f, &nf, &why);
		if (used < 0) {
			fail(err, errlen, line, "%s", why);
			goto bad;
		}
		p += used;
		bool header = first && is_header(f, nf);
		if (first && !header && near_header(f, nf)) {
			fail(err, errlen, line,
			     "looks like a header, but the columns are name,domains,key_type,hook,challenge (\"%.64s\" "
			     "would be a certificate for the single label \"%.64s\")",
			     f[0], f[1]);
			goto bad;
		}
		first = false;
		if (header)
			continue;
		if (nf < 2) {
			fail(err, errlen, line, "needs at least a name and domains");
			goto bad;
		}
		if (b.n >= ACME_BATCH_MAX) {
			fail(err, errlen, line, "more than %d certificates", ACME_BATCH_MAX);
			goto bad;
		}
		if (!wf_config_cert_name_ok(f[0])) {
			fail(err, errlen, line,
			     "name \"%.64s\" must be 1-64 letters, digits, '-', '_' or '.', not starting with '.' "
			     "(it names a folder)",
			     f[0]);
			goto bad;
		}
		for (size_t i = 0; i < b.n; i++)
			if (strcmp(b.entries[i].name, f[0]) == 0) {
				fail(err, errlen, line, "name \"%s\" already used on line %d", f[0], b.entries[i].line);
				goto bad;
			}
		acme_batch_entry_t *e = &b.entries[b.n++];
		e->line = line;
		e->name = strdup(f[0]);
		e->domains = split_spaces(f[1], &e->ndomains);
		const char *kt = nf > 2 && f[2][0] ? f[2] : "ec256";
		e->key_type = strdup(kt);
		e->hook = split_spaces(nf > 3 ? f[3] : "", &e->nhook);
		if (!e->name || !e->domains || !e->key_type || !e->hook) {
			fail(err, errlen, line, "out of memory");
			goto bad;
		}
		if (e->ndomains == 0 || e->ndomains > 100) {
			fail(err, errlen, line, "needs 1 to 100 domains, separated by spaces");
			goto bad;
		}
		const char *ch = nf > 4 && f[4][0] ? f[4] : "http-01";
		if (!one_of(ch, challenges)) {
			fail(err, errlen, line, "challenge \"%.32s\": http-01, tls-alpn-01 or dns-01", ch);
			goto bad;
		}
		bool dns01 = strcmp(ch, "dns-01") == 0;
		if (!(e->challenge = strdup(ch))) {
			fail(err, errlen, line, "out of memory");
			goto bad;
		}
		/* The config's rule for names, then the challenge's. */
		char bad_name[WF_SAN_WHY_MAX];
		if (wf_san_names_ready(e->domains, e->ndomains, bad_name, sizeof(bad_name)) != WF_OK) {
			fail(err, errlen, line, "%s", bad_name);
			goto bad;
		}
		for (size_t i = 0; i < e->ndomains; i++) {
			if (dns01 && wf_san_is_ip(e->domains[i])) {
				fail(err, errlen, line, "the IP address %.46s cannot be validated by dns-01", e->domains[i]);
				goto bad;
			}
			if (!dns01 && strncmp(e->domains[i], "*.", 2) == 0) {
				fail(err, errlen, line,
				     "\"%.253s\" is not a DNS name wharf can validate (a wildcard needs dns-01)",
				     e->domains[i]);
				goto bad;
			}
		}
		if (!one_of(kt, key_types)) {
			fail(err, errlen, line, "key type \"%.32s\": ec256, ec384, rsa2048, rsa3072 or rsa4096", kt);
			goto bad;
		}
		if (e->nhook && e->hook[0][0] != '/') {
			fail(err, errlen, line, "the hook must start with an absolute path");
			goto bad;
		}
	}
	if (b.n == 0) {
		snprintf(err, errlen, "no certificate in the file");
		goto bad;
	}
	*out = b;
	return WF_OK;
bad:
	acme_batch_free(&b);
	return WF_ERR;
}
