/* Certificate + key objects: see cert_key.h. */
#include "cert_key.h"
#include "san.h"

#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void free_domains(char **d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i]);
	free(d);
}

static void serial_hex(gnutls_x509_crt_t crt, char *out, size_t cap)
{
	unsigned char raw[32];
	size_t n = sizeof(raw);
	out[0] = '\0';
	if (gnutls_x509_crt_get_serial(crt, raw, &n) == 0)
		for (size_t i = 0; i < n && i * 2 + 2 < cap; i++)
			snprintf(out + i * 2, 3, "%02x", raw[i]);
}

bool wf_certkey_pem_leaf(wf_slice_t chain_pem, time_t *not_before, char *serial, size_t cap)
{
	gnutls_x509_crt_t crt;
	if (chain_pem.len > UINT32_MAX || gnutls_x509_crt_init(&crt) < 0)
		return false;
	gnutls_datum_t d = { (unsigned char *)chain_pem.ptr, (unsigned)chain_pem.len };
	bool ok = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0;
	if (ok) {
		*not_before = gnutls_x509_crt_get_activation_time(crt);
		serial_hex(crt, serial, cap);
	}
	gnutls_x509_crt_deinit(crt);
	return ok;
}

wf_certkey_t *wf_certkey_new(const char *name, char *const *domains, size_t ndomains, wf_slice_t chain_pem,
			     wf_slice_t key_pem, bool provisional, char *err, size_t errlen)
{
	wf_certkey_t *ck = calloc(1, sizeof(*ck));
	gnutls_x509_crt_t leaf = NULL;
	if (!ck)
		goto fail;
	atomic_init(&ck->refs, 1);
	ck->name = strdup(name);
	ck->domains = calloc(ndomains + 1, sizeof(char *));
	for (size_t i = 0; i < ndomains; i++)
		ck->domains[i] = strdup(domains[i]);
	ck->ndomains = ndomains;
	ck->provisional = provisional;

	int rc = gnutls_certificate_allocate_credentials(&ck->cred);
	if (rc < 0) {
		snprintf(err, errlen, "%s", gnutls_strerror(rc));
		goto fail;
	}
	gnutls_datum_t c = { (unsigned char *)chain_pem.ptr, (unsigned)chain_pem.len };
	gnutls_datum_t k = { (unsigned char *)key_pem.ptr, (unsigned)key_pem.len };
	/* GnuTLS checks here that the key belongs to the leaf. */
	rc = gnutls_certificate_set_x509_key_mem2(ck->cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		snprintf(err, errlen, "certificate or key rejected: %s", gnutls_strerror(rc));
		goto fail;
	}
	if (gnutls_x509_crt_init(&leaf) < 0 || gnutls_x509_crt_import(leaf, &c, GNUTLS_X509_FMT_PEM) < 0) {
		snprintf(err, errlen, "leaf certificate does not parse");
		goto fail;
	}
	ck->not_before = gnutls_x509_crt_get_activation_time(leaf);
	unsigned bits = 0;
	int pk = gnutls_x509_crt_get_pk_algorithm(leaf, &bits);
	snprintf(ck->key_type, sizeof(ck->key_type), "%s%u",
		 pk == GNUTLS_PK_RSA ? "rsa" : pk == GNUTLS_PK_ECDSA ? "ec" : "other", bits);
	ck->key_kind = pk == GNUTLS_PK_RSA     ? WF_KEY_RSA
		       : pk != GNUTLS_PK_ECDSA ? 0
		       : bits == 256	       ? WF_KEY_EC256
		       : bits == 384	       ? WF_KEY_EC384
		       : bits == 521	       ? WF_KEY_EC521
					       : 0;
	ck->not_after = gnutls_x509_crt_get_expiration_time(leaf);
	size_t sz = sizeof(ck->issuer);
	if (gnutls_x509_crt_get_issuer_dn(leaf, ck->issuer, &sz) < 0)
		snprintf(ck->issuer, sizeof(ck->issuer), "?");
	serial_hex(leaf, ck->serial, sizeof(ck->serial));
	gnutls_x509_crt_deinit(leaf);
	return ck;
fail:
	if (leaf)
		gnutls_x509_crt_deinit(leaf);
	if (ck) {
		if (ck->cred)
			gnutls_certificate_free_credentials(ck->cred);
		free_domains(ck->domains, ck->ndomains);
		free(ck->name);
		free(ck);
	}
	return NULL;
}

wf_certkey_t *wf_certkey_ref(wf_certkey_t *ck)
{
	atomic_fetch_add(&ck->refs, 1);
	return ck;
}

int wf_certkey_keep_unsaved(wf_certkey_t *ck, wf_slice_t chain_pem, wf_slice_t key_pem)
{
	ck->unstored = true;
	ck->unsaved_chain = malloc(chain_pem.len ? chain_pem.len : 1);
	ck->unsaved_key = malloc(key_pem.len ? key_pem.len : 1);
	if (!ck->unsaved_chain || !ck->unsaved_key) {
		free(ck->unsaved_chain);
		free(ck->unsaved_key);
		ck->unsaved_chain = ck->unsaved_key = NULL;
		return WF_ERR;
	}
	memcpy(ck->unsaved_chain, chain_pem.ptr, chain_pem.len);
	memcpy(ck->unsaved_key, key_pem.ptr, key_pem.len);
	ck->unsaved_chain_len = chain_pem.len;
	ck->unsaved_key_len = key_pem.len;
	return WF_OK;
}

void wf_certkey_unref(wf_certkey_t *ck)
{
	if (!ck || atomic_fetch_sub(&ck->refs, 1) != 1)
		return;
	if (ck->unsaved_key)
		gnutls_memset(ck->unsaved_key, 0, ck->unsaved_key_len);
	free(ck->unsaved_key);
	free(ck->unsaved_chain);
	gnutls_certificate_free_credentials(ck->cred);
	free_domains(ck->domains, ck->ndomains);
	free(ck->name);
	free(ck);
}

size_t wf_certkey_pem_covered(wf_slice_t chain_pem, char *const *domains, size_t ndomains)
{
	gnutls_x509_crt_t leaf;
	gnutls_datum_t c = { (unsigned char *)chain_pem.ptr, (unsigned)chain_pem.len };
	if (gnutls_x509_crt_init(&leaf) < 0)
		return 0;
	size_t n = 0;
	if (gnutls_x509_crt_import(leaf, &c, GNUTLS_X509_FMT_PEM) == 0)
		for (size_t i = 0; i < ndomains; i++)
			n += wf_san_has(leaf, domains[i]);
	gnutls_x509_crt_deinit(leaf);
	return n;
}

bool wf_certkey_pem_covers(wf_slice_t chain_pem, char *const *domains, size_t ndomains)
{
	return wf_certkey_pem_covered(chain_pem, domains, ndomains) == ndomains;
}

bool wf_certkey_covers(const wf_certkey_t *ck, char *const *domains, size_t ndomains)
{
	gnutls_datum_t der;
	gnutls_x509_crt_t leaf;
	if (gnutls_certificate_get_crt_raw(ck->cred, 0, 0, &der) < 0 || gnutls_x509_crt_init(&leaf) < 0)
		return false;
	size_t n = 0;
	if (gnutls_x509_crt_import(leaf, &der, GNUTLS_X509_FMT_DER) == 0)
		for (size_t i = 0; i < ndomains; i++)
			n += wf_san_has(leaf, domains[i]);
	gnutls_x509_crt_deinit(leaf);
	return n == ndomains;
}

/* Is the SAN of type t (sz bytes in san) one of domains? */
static bool san_configured(int t, const char *san, size_t sz, char *const *domains, size_t ndomains)
{
	for (size_t i = 0; i < ndomains; i++) {
		unsigned char addr[16];
		int n = wf_san_ip(domains[i], addr);
		if (t == GNUTLS_SAN_IPADDRESS && n && sz == (size_t)n && memcmp(san, addr, sz) == 0)
			return true;
		if (t == GNUTLS_SAN_DNSNAME && !n && strcasecmp(san, domains[i]) == 0)
			return true;
	}
	return false;
}

size_t wf_certkey_names_beyond(const wf_certkey_t *ck, char *const *domains, size_t ndomains)
{
	gnutls_datum_t der;
	gnutls_x509_crt_t leaf;
	if (gnutls_certificate_get_crt_raw(ck->cred, 0, 0, &der) < 0 || gnutls_x509_crt_init(&leaf) < 0)
		return 0;
	size_t beyond = 0;
	if (gnutls_x509_crt_import(leaf, &der, GNUTLS_X509_FMT_DER) == 0)
		for (unsigned idx = 0;; idx++) {
			char san[256];
			size_t sz = sizeof(san) - 1;
			int t = gnutls_x509_crt_get_subject_alt_name(leaf, idx, san, &sz, NULL);
			if (t == GNUTLS_E_SHORT_MEMORY_BUFFER)
				continue; /* no name a config holds (of any type: a URI, say) */
			if (t < 0)
				break;
			san[sz] = '\0';
			if ((t == GNUTLS_SAN_DNSNAME || t == GNUTLS_SAN_IPADDRESS) &&
			    !san_configured(t, san, sz, domains, ndomains))
				beyond++;
		}
	gnutls_x509_crt_deinit(leaf);
	return beyond;
}
