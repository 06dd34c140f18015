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

/* Why d, lower case and no IP literal, is not a DNS name a CA takes (to
 * follow the name in a message); NULL when it is one. */
static const char *dns_name_problem(const char *d)
{
	static const char *const not_dns = "is not a valid DNS name or IP address";
	if (strlen(d) > 253)
		return "is not a valid DNS name: it is longer than 253 bytes";
	if (strncmp(d, "*.", 2) == 0)
		d += 2;
	for (const char *label = d;; label++) {
		size_t n = strcspn(label, ".");
		if (n == 0)
			return not_dns; /* empty: a leading, trailing or doubled '.' */
		if (n > 63)
			return "is not a valid DNS name: a label is longer than 63 bytes";
		for (size_t i = 0; i < n; i++)
			if (!((label[i] >= 'a' && label[i] <= 'z') || (label[i] >= '0' && label[i] <= '9') ||
			      label[i] == '-'))
				return not_dns;
		if (label[0] == '-' || label[n - 1] == '-')
			return "is not a valid DNS name: a label starts or ends with '-'";
		label += n;
		if (!*label)
			return NULL;
	}
}

/* "mapped" for ::ffff:a.b.c.d, which a CA certifies as a.b.c.d (Go's
 * net.IP writes it so): the certificate would not cover the name asked
 * for, at every retry. "compatible" for ::a.b.c.d, deprecated by RFC 4291
 * and written in no agreed way. NULL for any other address. */
static const char *ipv4_in_ipv6(const unsigned char addr[16])
{
	static const unsigned char zero[10];
	if (memcmp(addr, zero, 10) != 0)
		return NULL;
	if (addr[10] == 0xff && addr[11] == 0xff)
		return "mapped";
	/* ::a.b.c.d, a.b not 0.0: inet_ntop's test (::1 is no such form). */
	if (addr[10] == 0 && addr[11] == 0 && (addr[12] | addr[13]) != 0)
		return "compatible";
	return NULL;
}

int wf_san_names_ready(char **names, size_t n, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		for (char *p = names[i]; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		unsigned char addr[16];
		int len = wf_san_ip(names[i], addr);
		const char *form = len == 16 ? ipv4_in_ipv6(addr) : NULL;
		if (form) {
			char v4[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, addr + 12, v4, sizeof(v4));
			snprintf(why, whylen, "\"%s\" is an IPv4-%s IPv6 address: write the IPv4 address %s", names[i],
				 form, v4);
			return WF_ERR;
		}
		if (len && !wf_san_canonical_ip(&names[i])) {
			snprintf(why, whylen, "out of memory");
			return WF_ERR;
		}
		const char *problem = len ? NULL : dns_name_problem(names[i]);
		if (problem) {
			snprintf(why, whylen, "\"%.253s\" %s", names[i], problem);
			return WF_ERR;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[j], names[i]) == 0) {
				snprintf(why, whylen, "\"%s\" is listed twice%s", names[i],
					 len ? "" : " (names ignore case)");
				return WF_ERR;
			}
	}
	return WF_OK;
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
