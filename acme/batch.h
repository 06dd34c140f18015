/* wharf cert batch FILE.csv: the CSV of certificates to issue in one run,
 * one line per certificate:
 *     name,domains,key_type,hook,challenge
 *     shop,shop.example.com www.shop.example.com,ec256,/usr/local/bin/reload-shop
 *     wild,example.com *.example.com,,,dns-01
 * domains (DNS names, "*." wildcards with dns-01, IP addresses without it;
 * checked as the config's, by wf_san_names_ready) are separated by spaces;
 * key_type may be empty (ec256); hook may be empty, or an argv split on
 * spaces (no shell); challenge may be empty or left out (http-01). Quoted
 * fields ("a,b", with "" for a quote) follow RFC 4180. A leading UTF-8 byte
 * order mark, blank lines and lines starting with '#' are skipped, and so
 * is a first line that names the columns (name,domains and the next ones,
 * in any case, nothing else: "name,name.example.com" is a certificate). A
 * first line whose second field is a word with no dot, and whose first is
 * "name" or second starts with "domain" ("Name,Domain", "Cert,Domains"), is
 * refused as a header spelled otherwise. Pure. */
#ifndef ACME_BATCH_H
#define ACME_BATCH_H

#include "../server/base.h"

#include <stddef.h>

#define ACME_BATCH_MAX 1000     /* lines */
#define ACME_BATCH_FIELD_MAX 4096

typedef struct acme_batch_entry {
	char *name;      /* owned */
	char **domains;  /* owned, NULL-terminated */
	size_t ndomains;
	char *key_type;  /* owned: "ec256" when the field was empty */
	char **hook;     /* owned, NULL-terminated argv; empty when none */
	size_t nhook;
	char *challenge; /* owned: "http-01" when the field was empty */
	int line;
} acme_batch_entry_t;

typedef struct acme_batch {
	acme_batch_entry_t *entries; /* owned */
	size_t n;
	const char *path; /* not owned: the CSV's name, where its lines are said; set by the caller */
} acme_batch_t;

/* WF_OK, or WF_ERR with "line N: why" in err (and nothing in out). */
int acme_batch_parse(const char *data, size_t len, acme_batch_t *out, char *err, size_t errlen);
void acme_batch_free(acme_batch_t *b);

#endif
