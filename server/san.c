/* Certificate names: see san.h. */
#include "san.h"
#include "base.h"

#include <gnutls/x509-ext.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int wf_san_ip(const char *name, unsigned char addr[16])
{
	/* Strict literals only: inet_pton takes no "1.2.3" or "0x7f.1", which
	 * a resolver would, and which no certificate should hold. */
	if (inet_pton(AF_INET, name, addr) == 1)
		return 4;
	if (strchr(name, ':') && inet_pton(AF_INET6, name, addr) == 1)
		return 16;
	return 0;
}

bool wf_san_is_ip(const char *name)
{
	unsigned char addr[16];
	return wf_san_ip(name, addr) != 0;
}

bool wf_san_canonical_ip(char **name)
{
	unsigned char addr[16];
	int n = wf_san_ip(*name, addr);
	char text[WF_SAN_TEXT_MAX];
	char *copy;
	/* Not in place: glibc writes "1::3:4:5:6:7:8" as "1:0:3:4:5:6:7:8". */
	if (!n || !inet_ntop(n == 4 ? AF_INET : AF_INET6, addr, text, sizeof(text)) || !(copy = strdup(text)))
		return false;
	free(*name);
	*name = copy;
	return true;
}

int wf_san_der(char *const *names, size_t n, gnutls_datum_t *der)
{
	gnutls_subject_alt_names_t sans;
	int rc = WF_ERR;
	if (gnutls_subject_alt_names_init(&sans) < 0)
		return WF_ERR;
	for (size_t i = 0; i < n; i++) {
		unsigned char addr[16];
		int len = wf_san_ip(names[i], addr);
		gnutls_datum_t d = len ? (gnutls_datum_t){ addr, (unsigned)len }
				       : (gnutls_datum_t){ (unsigned char *)names[i], (unsigned)strlen(names[i]) };
		if (gnutls_subject_alt_names_set(sans, len ? GNUTLS_SAN_IPADDRESS : GNUTLS_SAN_DNSNAME, &d, NULL) < 0)
			goto out;
	}
	if (gnutls_x509_ext_export_subject_alt_names(sans, der) < 0)
		goto out;
	rc = WF_OK;
out:
	gnutls_subject_alt_names_deinit(sans);
	return rc;
}

bool wf_san_has(gnutls_x509_crt_t leaf, const char *name)
{
	unsigned char addr[16];
	int n = wf_san_ip(name, addr);
	for (unsigned idx = 0;; idx++) {
		char san[256];
		size_t sz = sizeof(san) - 1;
		int t = gnutls_x509_crt_get_subject_alt_name(leaf, idx, san, &sz, NULL);
		if (t == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; /* longer than any name we configure */
		if (t < 0)
			return false;
		if (n && t == GNUTLS_SAN_IPADDRESS && sz == (size_t)n && memcmp(san, addr, sz) == 0)
			return true;
		san[sz] = '\0';
		if (!n && t == GNUTLS_SAN_DNSNAME && strcasecmp(san, name) == 0)
			return true;
	}
}
