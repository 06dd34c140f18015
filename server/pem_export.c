/* Certificates and keys as PEM; EC scalars at the curve's size. See pem_export.h. */
#include "pem_export.h"

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct tlv {
	const uint8_t *at; /* the element's first octet */
	uint8_t tag;
	const uint8_t *val;
	size_t len;  /* of the value */
	size_t size; /* of the whole element */
} tlv_t;

/* One DER element at the start of p[0..n). Single-octet tags and lengths of
 * up to four octets: all a private key needs. */
static int tlv_read(const uint8_t *p, size_t n, tlv_t *t)
{
	if (n < 2 || (p[0] & 0x1f) == 0x1f)
		return WF_ERR;
	size_t hl = 2, len = p[1];
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 4 || n < 2 + k)
			return WF_ERR;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | p[2 + i];
		hl += k;
	}
	if (len > n - hl)
		return WF_ERR;
	t->at = p;
	t->tag = p[0];
	t->val = p + hl;
	t->len = len;
	t->size = hl + len;
	return WF_OK;
}

static size_t hdr_size(size_t len)
{
	return len < 0x80 ? 2 : len <= 0xff ? 3 : len <= 0xffff ? 4 : 5;
}

static uint8_t *put_hdr(uint8_t *w, uint8_t tag, size_t len)
{
	*w++ = tag;
	if (len < 0x80) {
		*w++ = (uint8_t)len;
		return w;
	}
	size_t k = hdr_size(len) - 2;
	*w++ = (uint8_t)(0x80 | k);
	for (size_t i = k; i-- > 0;)
		*w++ = (uint8_t)(len >> (8 * i));
	return w;
}

static uint8_t *put(uint8_t *w, const uint8_t *p, size_t n)
{
	memcpy(w, p, n);
	return w + n;
}

/* id-ecPublicKey, 1.2.840.10045.2.1 */
static const uint8_t EC_OID[] = { 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };

int wf_key_der_fix_ec(wf_slice_t der, size_t field_len, wf_buf_t *out)
{
	const uint8_t *p = (const uint8_t *)der.ptr;
	tlv_t outer, ver, alg, oid, octets, ec, ecver, scalar;
	/* PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, OCTET STRING, [0] attributes OPTIONAL } */
	if (tlv_read(p, der.len, &outer) != WF_OK || outer.tag != 0x30 || outer.size != der.len)
		return WF_ERR;
	const uint8_t *q = outer.val, *end = outer.val + outer.len;
	if (tlv_read(q, (size_t)(end - q), &ver) != WF_OK || ver.tag != 0x02)
		return WF_ERR;
	q += ver.size;
	if (tlv_read(q, (size_t)(end - q), &alg) != WF_OK || alg.tag != 0x30 ||
	    tlv_read(alg.val, alg.len, &oid) != WF_OK)
		return WF_ERR;
	q += alg.size;
	if (tlv_read(q, (size_t)(end - q), &octets) != WF_OK || octets.tag != 0x04)
		return WF_ERR;
	const uint8_t *attrs = q + octets.size;
	size_t attrs_len = (size_t)(end - attrs);
	bool is_ec = oid.size == sizeof(EC_OID) && memcmp(alg.val, EC_OID, sizeof(EC_OID)) == 0;
	if (!is_ec)
		return wf_buf_append(out, der.ptr, der.len);
	/* ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] params OPTIONAL, [1] publicKey OPTIONAL } */
	if (tlv_read(octets.val, octets.len, &ec) != WF_OK || ec.tag != 0x30 || ec.size != octets.len)
		return WF_ERR;
	const uint8_t *r = ec.val, *ec_end = ec.val + ec.len;
	if (tlv_read(r, (size_t)(ec_end - r), &ecver) != WF_OK || ecver.tag != 0x02)
		return WF_ERR;
	r += ecver.size;
	if (tlv_read(r, (size_t)(ec_end - r), &scalar) != WF_OK || scalar.tag != 0x04)
		return WF_ERR;
	const uint8_t *ec_rest = r + scalar.size;
	size_t ec_rest_len = (size_t)(ec_end - ec_rest);
	const uint8_t *d = scalar.val;
	size_t dlen = scalar.len;
	while (dlen > field_len && d[0] == 0) {
		d++;
		dlen--;
	}
	if (dlen > field_len || field_len == 0)
		return WF_ERR;
	if (scalar.len == field_len)
		return wf_buf_append(out, der.ptr, der.len);

	size_t ec_in = ecver.size + hdr_size(field_len) + field_len + ec_rest_len;
	size_t ec_all = hdr_size(ec_in) + ec_in;
	size_t top_in = ver.size + alg.size + hdr_size(ec_all) + ec_all + attrs_len;
	size_t total = hdr_size(top_in) + top_in;
	uint8_t *w = (uint8_t *)wf_buf_reserve(out, total), *start = w;
	if (!w)
		return WF_ERR;
	w = put_hdr(w, 0x30, top_in);
	w = put(w, ver.at, ver.size);
	w = put(w, alg.at, alg.size);
	w = put_hdr(w, 0x04, ec_all);
	w = put_hdr(w, 0x30, ec_in);
	w = put(w, ecver.at, ecver.size);
	w = put_hdr(w, 0x04, field_len);
	memset(w, 0, field_len - dlen);
	w = put(w + (field_len - dlen), d, dlen);
	w = put(w, ec_rest, ec_rest_len);
	w = put(w, attrs, attrs_len);
	wf_buf_commit(out, (size_t)(w - start));
	return WF_OK;
}

int wf_pem_export_key(gnutls_x509_privkey_t key, wf_buf_t *out)
{
	gnutls_datum_t der = { 0 }, pem = { 0 };
	wf_buf_t fixed;
	wf_buf_init(&fixed, 64 * 1024);
	int rc = WF_ERR;
	size_t field_len = 0;
	if (gnutls_x509_privkey_get_pk_algorithm2(key, NULL) == GNUTLS_PK_ECDSA) {
		gnutls_ecc_curve_t curve;
		gnutls_datum_t x = { 0 }, y = { 0 }, k = { 0 };
		if (gnutls_x509_privkey_export_ecc_raw(key, &curve, &x, &y, &k) < 0)
			goto out;
		field_len = gnutls_ecc_curve_get_size(curve);
		gnutls_free(x.data);
		gnutls_free(y.data);
		gnutls_memset(k.data, 0, k.size);
		gnutls_free(k.data);
	}
	if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &der) < 0)
		goto out;
	if (field_len) {
		if (wf_key_der_fix_ec((wf_slice_t){ (const char *)der.data, der.size }, field_len, &fixed) != WF_OK)
			goto out;
	} else if (wf_buf_append(&fixed, der.data, der.size) != WF_OK) {
		goto out;
	}
	gnutls_datum_t in = { (unsigned char *)wf_buf_head(&fixed), (unsigned)wf_buf_size(&fixed) };
	if (gnutls_pem_base64_encode2("PRIVATE KEY", &in, &pem) < 0)
		goto out;
	rc = wf_buf_append(out, pem.data, pem.size);
out:
	if (pem.data) {
		gnutls_memset(pem.data, 0, pem.size);
		gnutls_free(pem.data);
	}
	if (der.data) {
		gnutls_memset(der.data, 0, der.size);
		gnutls_free(der.data);
	}
	if (fixed.data)
		gnutls_memset(fixed.data, 0, fixed.cap);
	wf_buf_fini(&fixed);
	return rc;
}

int wf_pem_export_crt(gnutls_x509_crt_t crt, wf_buf_t *out)
{
	gnutls_datum_t d = { 0 };
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
		return WF_ERR;
	int rc = wf_buf_append(out, d.data, d.size);
	gnutls_free(d.data);
	return rc;
}
