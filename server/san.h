/* The names a certificate covers, as subjectAltName entries: a DNS name, or an
 * IP address (RFC 8738 lets ACME CAs certify those). One place decides which
 * a configured name is, so the provisional certificate, the CSR, the order's
 * identifiers and the check of an issued chain never disagree. */
#ifndef WF_SAN_H
#define WF_SAN_H

#include <gnutls/x509.h>
#include <stdbool.h>
#include <stddef.h>

#define WF_SAN_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* 4 or 16 (the address in addr, network order) when name is an IPv4 or IPv6
 * literal, else 0. Pure. */
int wf_san_ip(const char *name, unsigned char addr[16]);

/* Is name an IP literal (wf_san_ip without the address)? Pure. */
bool wf_san_is_ip(const char *name);

/* When *name (owned, malloc'd) is an IP literal: replaces it with its
 * canonical text (inet_ntop's, the form CAs echo back) and returns true;
 * false otherwise, or when out of memory (then *name is unchanged). */
bool wf_san_canonical_ip(char **name);

/* Readies the names (owned, malloc'd) a certificate is to cover, for the
 * config and `cert batch` alike: lower-cases them, writes IP literals in
 * their canonical text, and checks each is a DNS name as RFC 1035/1123 and
 * CAs take it (labels of 1 to 63 letters, digits and '-', no '-' at either
 * end, 253 bytes in all; "*." in front for a wildcard) or an IP literal a
 * CA certifies as asked (not an IPv4-mapped or -compatible IPv6 address,
 * which comes back as, or is, the IPv4 one), and that none repeats another.
 * WF_OK, or WF_ERR with why (up to whylen bytes, naming the first name
 * refused) and the names perhaps lower-cased. Which challenge may validate
 * a wildcard or an address is the caller's to judge. */
#define WF_SAN_WHY_MAX 400
int wf_san_names_ready(char **names, size_t n, char *why, size_t whylen);

/* The DER of a subjectAltName extension holding names, each as an IP
 * address or a DNS name, built in one go (the crq/crt setters re-encode the
 * whole list at each name). WF_OK (der->data is gnutls_free'd by the caller)
 * or WF_ERR. */
int wf_san_der(char *const *names, size_t n, gnutls_datum_t *der);

/* Is name among the leaf's subjectAltNames (a DNS name case-insensitively,
 * as written, wildcards included; an IP address by value)? */
bool wf_san_has(gnutls_x509_crt_t leaf, const char *name);

#endif
