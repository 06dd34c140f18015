/* A certificate chain with its private key, ready for GnuTLS: one immutable,
 * reference-counted object per configured certificate name. Snapshots of the
 * certificate store share these; a connection reaches one through its snapshot. */
#ifndef WF_CERT_KEY_H
#define WF_CERT_KEY_H

#include "base.h"

#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

/* Kinds of key a client may or may not be able to verify: RSA, or ECDSA on
 * one curve, since a TLS 1.3 signature scheme names its curve
 * (ecdsa_secp256r1_sha256 verifies nothing on P-384). */
#define WF_KEY_RSA 1u
#define WF_KEY_EC256 2u
#define WF_KEY_EC384 4u
#define WF_KEY_EC521 8u
#define WF_KEY_EC (WF_KEY_EC256 | WF_KEY_EC384 | WF_KEY_EC521)

typedef struct wf_certkey {
	atomic_int refs;
	char *name;     /* owned: the config's certificate name */
	char **domains; /* owned: names this cert is chosen for by SNI (lowercase, "*.x" wildcards) */
	size_t ndomains;
	gnutls_certificate_credentials_t cred; /* owned */
	time_t not_before, not_after;
	char issuer[256];  /* issuer DN of the leaf, for `cert list` and logs */
	char serial[64];   /* hex */
	unsigned key_kind; /* the leaf's WF_KEY_*: what a client must be able to verify */
	char key_type[16]; /* the same as the config spells it ("ec256", "rsa2048", ...) */
	bool provisional;  /* self-signed stand-in until a CA-issued one arrives */
	bool short_of_config; /* issued for some of the configured names, not all (a name
			       * added since): served for those until one for all is issued */
	bool unstored;	      /* issued, but issued.pem could not take it: served from memory only,
			       * so a reload keeps it (server.c) rather than fall back to the disk's */
	/* Owned, with unstored (wf_certkey_keep_unsaved): the PEM the store
	 * could not take, so whoever holds this can store it later
	 * (acme/unsaved.c); the key is wiped when this is freed. */
	char *unsaved_chain, *unsaved_key;
	size_t unsaved_chain_len, unsaved_key_len;
} wf_certkey_t;

/* Builds from a PEM chain (leaf first) and a PEM key. Fails (NULL, reason in
 * err) when either does not parse or the key does not match the leaf. */
wf_certkey_t *wf_certkey_new(const char *name, char *const *domains, size_t ndomains, wf_slice_t chain_pem,
			     wf_slice_t key_pem, bool provisional, char *err, size_t errlen);
/* Marks a certificate not yet shared as unstored, with a copy of its PEM.
 * WF_ERR when out of memory (still marked, without the copy). */
int wf_certkey_keep_unsaved(wf_certkey_t *ck, wf_slice_t chain_pem, wf_slice_t key_pem);
wf_certkey_t *wf_certkey_ref(wf_certkey_t *ck);
void wf_certkey_unref(wf_certkey_t *ck);

/* The leaf's notBefore and serial (lower-case hex, cut to cap - 1
 * characters), or false when chain_pem holds no certificate. */
bool wf_certkey_pem_leaf(wf_slice_t chain_pem, time_t *not_before, char *serial, size_t cap);

/* True if every configured name is among the leaf's SANs (DNS names, with
 * wildcards as written, or IP addresses; san.h). Used to decide whether a
 * stored cert still fits the config. */
bool wf_certkey_pem_covers(wf_slice_t chain_pem, char *const *domains, size_t ndomains);
/* How many of the configured names the leaf covers (0 when it does not parse). */
size_t wf_certkey_pem_covered(wf_slice_t chain_pem, char *const *domains, size_t ndomains);
/* The same for a built certificate's leaf: true if it names every domain. */
bool wf_certkey_covers(const wf_certkey_t *ck, char *const *domains, size_t ndomains);
/* How many of the leaf's DNS and IP subjectAltNames are none of domains (a
 * DNS name compared case-insensitively, as written; an address by value, so
 * "::1" is "0:0::1"): names removed from the config since it was issued. */
size_t wf_certkey_names_beyond(const wf_certkey_t *ck, char *const *domains, size_t ndomains);

#endif
