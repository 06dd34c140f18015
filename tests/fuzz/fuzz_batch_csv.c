/* The batch CSV parser on arbitrary bytes: it never reads out of bounds,
 * and what it accepts holds what batch.h promises. */
#include "acme/batch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	acme_batch_t b;
	char err[256];
	if (acme_batch_parse(buf, size, &b, err, sizeof(err)) == WF_OK) {
		if (b.n == 0 || b.n > ACME_BATCH_MAX)
			abort();
		for (size_t i = 0; i < b.n; i++) {
			const acme_batch_entry_t *e = &b.entries[i];
			if (!e->name[0] || strlen(e->name) > 64 || e->ndomains == 0 || e->ndomains > 100 ||
			    e->domains[e->ndomains] || e->hook[e->nhook])
				abort();
			bool dns01 = strcmp(e->challenge, "dns-01") == 0;
			if (!dns01 && strcmp(e->challenge, "http-01") && strcmp(e->challenge, "tls-alpn-01"))
				abort();
			for (size_t j = 0; j < e->ndomains; j++) {
				const char *d = e->domains[j];
				/* A wildcard only as a whole first label, and only with dns-01. */
				if (dns01 && strncmp(d, "*.", 2) == 0)
					d += 2;
				if (strpbrk(d, " ,\r\n\"*") || !d[0])
					abort();
			}
			if (e->nhook && e->hook[0][0] != '/')
				abort();
		}
		acme_batch_free(&b);
	} else if (!strncmp(err, "line ", 5) && strlen(err) >= sizeof(err)) {
		abort();
	}
	free(buf);
	return 0;
}
