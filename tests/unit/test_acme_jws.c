/* base64url, ACME keys (JWK, thumbprint, load/export), JWS and EAB.
 * key.c is included whole so the RFC 7638 vector can drive its static JWK
 * builder with a public key made from raw values; the test object then
 * defines every key.c symbol and the library's copy is never linked in. */
#include "acme/key.c"

#include "acme/b64url.h"
#include "acme/jws.h"
#include "check.h"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <json-c/json.h>
#include <stdlib.h>

static void test_b64url_vectors(void)
{
	/* RFC 4648 10, without padding (the url alphabet only differs in 62, 63). */
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"", ""},		{"f", "Zg"},	      {"fo", "Zm8"},	      {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};
	char enc[32];
	unsigned char dec[32];
	for (size_t i = 0; i < WF_ARRAY_LEN(v); i++) {
		size_t n = strlen(v[i].in);
		CHECK_EQ_INT(acme_b64url_encode(v[i].in, n, enc, sizeof(enc)), strlen(v[i].out));
		CHECK_EQ_STR(enc, v[i].out);
		wf_slice_t s = {v[i].out, strlen(v[i].out)};
		CHECK_EQ_INT(acme_b64url_decode(s, dec, sizeof(dec)), n);
		CHECK(memcmp(dec, v[i].in, n) == 0);
	}
	/* 62 and 63: standard "+/8=" is url "-_8". */
	const unsigned char hi[] = {0xfb, 0xff};
	CHECK_EQ_INT(acme_b64url_encode(hi, 2, enc, sizeof(enc)), 3);
	CHECK_EQ_STR(enc, "-_8");
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("-_8"), dec, sizeof(dec)), 2);
	CHECK(dec[0] == 0xfb && dec[1] == 0xff);

	/* Padding is accepted when it completes the quantum. */
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm8="), dec, sizeof(dec)), 2);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zg=="), dec, sizeof(dec)), 1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zg="), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Z==="), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("===="), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("="), dec, sizeof(dec)), -1);

	/* Standard alphabet, padding in the middle, whitespace. */
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm+v"), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm/v"), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm=vYmFy"), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm8=Zm8="), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm9v Zg"), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(((wf_slice_t){"Zm\0v", 4}), dec, sizeof(dec)), -1);
	/* len % 4 == 1 cannot be. */
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Z"), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm9vY"), dec, sizeof(dec)), -1);
	/* Stray low bits: a second spelling of "f" is refused. */
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zh"), dec, sizeof(dec)), -1);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm9"), dec, sizeof(dec)), -1);
	/* Room. */
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm9vYmFy"), dec, 6), 6);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("Zm9vYmFy"), dec, 5), -1);
	CHECK_EQ_INT(acme_b64url_encode("foobar", 6, enc, 9), 8);
	CHECK_EQ_INT(acme_b64url_encode("foobar", 6, enc, 8), -1);
	CHECK_EQ_INT(acme_b64url_encode("", 0, enc, 1), 0);
	CHECK_EQ_INT(acme_b64url_encode("", 0, enc, 0), -1);

	/* append respects the buffer's cap and leaves it as it was. */
	wf_buf_t b;
	wf_buf_init(&b, 10);
	CHECK_EQ_INT(acme_b64url_append(&b, "foobar", 6), WF_OK);
	CHECK_EQ_INT(acme_b64url_append(&b, "foo", 3), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&b), 8);
	CHECK_EQ_INT(acme_b64url_append(&b, "f", 1), WF_OK);
	CHECK(wf_slice_eq(wf_buf_slice(&b), "Zm9vYmFyZg"));
	wf_buf_fini(&b);
}

static void test_b64url_roundtrip(void)
{
	unsigned char in[300], dec[300];
	char enc[401];
	srand(7638);
	for (size_t len = 0; len <= 300; len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)rand();
		ssize_t n = acme_b64url_encode(in, len, enc, sizeof(enc));
		CHECK_EQ_INT(n, (len * 4 + 2) / 3);
		CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == (size_t)n);
		wf_buf_t b;
		wf_buf_init(&b, 1000);
		CHECK_EQ_INT(acme_b64url_append(&b, in, len), WF_OK);
		/* An empty buffer has no data pointer to compare. */
		CHECK(len == 0 ? wf_buf_size(&b) == 0 : wf_slice_eq(wf_buf_slice(&b), enc));
		wf_buf_fini(&b);
		CHECK_EQ_INT(acme_b64url_decode((wf_slice_t){enc, (size_t)n}, dec, sizeof(dec)), len);
		CHECK(memcmp(in, dec, len) == 0);
	}
}

static void test_rfc7638_thumbprint(void)
{
	static const char n_b64[] =
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
	    "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
	    "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
	    "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
	unsigned char n[256], e[3];
	CHECK_EQ_INT(acme_b64url_decode((wf_slice_t){n_b64, strlen(n_b64)}, n, sizeof(n)), 256);
	CHECK_EQ_INT(acme_b64url_decode(WF_SLICE("AQAB"), e, sizeof(e)), 3);
	/* A sign byte in front of the modulus must not reach the JWK. */
	unsigned char n0[257] = {0};
	memcpy(n0 + 1, n, 256);
	gnutls_datum_t m = {n0, sizeof(n0)}, ex = {e, 3};
	gnutls_pubkey_t pub;
	CHECK(gnutls_pubkey_init(&pub) == 0);
	CHECK(gnutls_pubkey_import_rsa_raw(pub, &m, &ex) == 0);
	char jwk[1400], tp[64], want[1400];
	CHECK_EQ_INT(jwk_from_pubkey(pub, jwk, sizeof(jwk)), WF_OK);
	snprintf(want, sizeof(want), "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", n_b64);
	CHECK_EQ_STR(jwk, want);
	CHECK_EQ_INT(thumbprint_of(jwk, tp, sizeof(tp)), WF_OK);
	CHECK_EQ_STR(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	/* Too small an output is an error, not a truncation. */
	CHECK_EQ_INT(jwk_from_pubkey(pub, jwk, 100), WF_ERR);
	gnutls_pubkey_deinit(pub);
}

static void test_key_types(void)
{
	acme_key_type_t t;
	CHECK_EQ_INT(acme_key_type_parse("ec256", &t), WF_OK);
	CHECK_EQ_INT(t, ACME_KEY_EC256);
	CHECK_EQ_INT(acme_key_type_parse("P384", &t), WF_OK);
	CHECK_EQ_INT(t, ACME_KEY_EC384);
	CHECK_EQ_INT(acme_key_type_parse("rsa3072", &t), WF_OK);
	CHECK_EQ_INT(t, ACME_KEY_RSA3072);
	CHECK_EQ_INT(acme_key_type_parse("rsa1024", &t), WF_ERR);
	CHECK_EQ_INT(acme_key_type_parse("", &t), WF_ERR);
	CHECK_EQ_STR(acme_key_type_name(ACME_KEY_RSA4096), "rsa4096");
	CHECK_EQ_STR(acme_key_type_name(ACME_KEY_EC256), "ec256");
}

/* Decodes a base64url JSON string member of o into a NUL-terminated buffer. */
static ssize_t member_b64(json_object *o, const char *key, char *out, size_t cap)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return -1;
	const char *s = json_object_get_string(v);
	ssize_t n = acme_b64url_decode((wf_slice_t){s, strlen(s)}, out, cap - 1);
	if (n >= 0)
		out[n] = '\0';
	return n;
}

static const char *member_str(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int member_raw(json_object *o, const char *key, unsigned char *out, size_t cap, gnutls_datum_t *d)
{
	const char *s = member_str(o, key);
	if (!s)
		return -1;
	ssize_t n = acme_b64url_decode((wf_slice_t){s, strlen(s)}, out, cap);
	if (n < 0)
		return -1;
	d->data = out;
	d->size = (unsigned)n;
	return 0;
}

/* A public key rebuilt from the JWK alone: verifying with it checks the JWK
 * and the signature together, as the CA does. */
static gnutls_pubkey_t pubkey_from_jwk(const char *jwk)
{
	gnutls_pubkey_t pub = NULL;
	json_object *o = json_tokener_parse(jwk);
	unsigned char a[600], b[600];
	gnutls_datum_t da, db;
	if (!o || gnutls_pubkey_init(&pub) < 0)
		goto fail;
	const char *kty = member_str(o, "kty");
	if (kty && strcmp(kty, "EC") == 0) {
		const char *crv = member_str(o, "crv");
		gnutls_ecc_curve_t curve = crv && strcmp(crv, "P-256") == 0   ? GNUTLS_ECC_CURVE_SECP256R1
					   : crv && strcmp(crv, "P-384") == 0 ? GNUTLS_ECC_CURVE_SECP384R1
									      : GNUTLS_ECC_CURVE_INVALID;
		size_t width = curve == GNUTLS_ECC_CURVE_SECP384R1 ? 48 : 32;
		if (member_raw(o, "x", a, sizeof(a), &da) || member_raw(o, "y", b, sizeof(b), &db))
			goto fail;
		CHECK_EQ_INT(da.size, width);
		CHECK_EQ_INT(db.size, width);
		if (gnutls_pubkey_import_ecc_raw(pub, curve, &da, &db) < 0)
			goto fail;
	} else if (kty && strcmp(kty, "RSA") == 0) {
		if (member_raw(o, "n", a, sizeof(a), &da) || member_raw(o, "e", b, sizeof(b), &db))
			goto fail;
		CHECK(da.size > 0 && da.data[0] != 0);
		CHECK(db.size > 0 && db.data[0] != 0);
		if (gnutls_pubkey_import_rsa_raw(pub, &da, &db) < 0)
			goto fail;
	} else {
		goto fail;
	}
	json_object_put(o);
	return pub;
fail:
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (o)
		json_object_put(o);
	return NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void check_jwk_shape(const acme_key_t *k)
{
	switch (k->type) {
	case ACME_KEY_EC256:
		CHECK(starts_with(k->jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""));
		break;
	case ACME_KEY_EC384:
		CHECK(starts_with(k->jwk, "{\"crv\":\"P-384\",\"kty\":\"EC\",\"x\":\""));
		break;
	default:
		CHECK(starts_with(k->jwk, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\""));
		break;
	}
	CHECK(strchr(k->jwk, ' ') == NULL);
	/* The thumbprint, recomputed here from the JWK string. */
	unsigned char d[32];
	char tp[64];
	CHECK(gnutls_hash_fast(GNUTLS_DIG_SHA256, k->jwk, strlen(k->jwk), d) == 0);
	CHECK_EQ_INT(acme_b64url_encode(d, sizeof(d), tp, sizeof(tp)), 43);
	CHECK_EQ_STR(k->thumbprint, tp);
}

/* Parses a flattened JWS made by acme_jws_sign and checks it through. */
static void check_jws(const acme_key_t *k, const char *jws, const char *kid, const char *nonce, const char *url,
		      const char *payload)
{
	static char prot[4096], pay[4096];
	unsigned char sig[600];
	json_object *o = json_tokener_parse(jws);
	CHECK(o != NULL);
	if (!o)
		return;
	CHECK_EQ_INT(json_object_object_length(o), 3);
	CHECK(member_b64(o, "protected", prot, sizeof(prot)) > 0);
	CHECK(member_b64(o, "payload", pay, sizeof(pay)) >= 0);
	CHECK_EQ_STR(pay, payload ? payload : "");

	json_object *h = json_tokener_parse(prot);
	CHECK(h != NULL);
	if (h) {
		CHECK_EQ_STR(member_str(h, "alg"), acme_key_alg(k));
		CHECK_EQ_STR(member_str(h, "nonce"), nonce);
		CHECK_EQ_STR(member_str(h, "url"), url);
		json_object *jwk;
		if (kid) {
			CHECK_EQ_STR(member_str(h, "kid"), kid);
			CHECK(!json_object_object_get_ex(h, "jwk", NULL));
		} else {
			CHECK(!json_object_object_get_ex(h, "kid", NULL));
			CHECK(json_object_object_get_ex(h, "jwk", &jwk) && json_object_is_type(jwk, json_type_object));
			/* The JWK goes in verbatim: the CA's thumbprint must match ours. */
			char want[1500];
			snprintf(want, sizeof(want), "\"jwk\":%s,", k->jwk);
			CHECK(strstr(prot, want) != NULL);
		}
		CHECK_EQ_INT(json_object_object_length(h), 4);
		json_object_put(h);
	}

	/* Signing input: the two base64url strings as they stand in the object. */
	const char *p64 = member_str(o, "protected"), *l64 = member_str(o, "payload");
	char input[8192];
	snprintf(input, sizeof(input), "%s.%s", p64, l64);
	gnutls_datum_t data = {(unsigned char *)input, (unsigned)strlen(input)};
	const char *s64 = member_str(o, "signature");
	ssize_t slen = acme_b64url_decode((wf_slice_t){s64, strlen(s64)}, sig, sizeof(sig));
	gnutls_datum_t der = {0};
	gnutls_sign_algorithm_t algo = GNUTLS_SIGN_RSA_SHA256;
	if (k->type == ACME_KEY_EC256 || k->type == ACME_KEY_EC384) {
		size_t width = k->type == ACME_KEY_EC384 ? 48 : 32;
		algo = k->type == ACME_KEY_EC384 ? GNUTLS_SIGN_ECDSA_SHA384 : GNUTLS_SIGN_ECDSA_SHA256;
		CHECK_EQ_INT(slen, 2 * width);
		gnutls_datum_t r = {sig, (unsigned)width}, s = {sig + width, (unsigned)width};
		CHECK(gnutls_encode_rs_value(&der, &r, &s) == 0);
	} else {
		CHECK_EQ_INT(slen, 256);
		der.data = gnutls_malloc((size_t)slen);
		memcpy(der.data, sig, (size_t)slen);
		der.size = (unsigned)slen;
	}
	gnutls_pubkey_t pub = pubkey_from_jwk(k->jwk);
	CHECK(pub != NULL);
	if (pub) {
		CHECK_EQ_INT(gnutls_pubkey_verify_data2(pub, algo, 0, &data, &der), 0);
		/* And a changed input does not verify. */
		input[0] ^= 1;
		CHECK(gnutls_pubkey_verify_data2(pub, algo, 0, &data, &der) < 0);
		gnutls_pubkey_deinit(pub);
	}
	gnutls_free(der.data);
	json_object_put(o);
}

static void test_jws(acme_key_type_t type)
{
	acme_key_t *k = acme_key_generate(type);
	CHECK(k != NULL);
	if (!k)
		return;
	CHECK_EQ_INT(k->type, type);
	check_jwk_shape(k);

	const char *url = "https://127.0.0.1:14000/sign-me-up";
	const char *kid = "https://127.0.0.1:14000/my-account/1f2e";
	const char *nonce = "zP9_5xYs-ZSwj7oj0Tn_hw";
	wf_buf_t b;
	wf_buf_init(&b, 64 * 1024);

	const char *payload = "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:a@example.test\"]}";
	CHECK_EQ_INT(acme_jws_sign(k, NULL, nonce, url, payload, &b), WF_OK);
	CHECK_EQ_INT(wf_buf_append(&b, "", 1), WF_OK);
	check_jws(k, wf_buf_head(&b), NULL, nonce, url, payload);
	wf_buf_reset(&b);

	CHECK_EQ_INT(acme_jws_sign(k, kid, nonce, url, "{}", &b), WF_OK);
	CHECK_EQ_INT(wf_buf_append(&b, "", 1), WF_OK);
	check_jws(k, wf_buf_head(&b), kid, nonce, url, "{}");
	wf_buf_reset(&b);

	/* POST-as-GET: the payload member is present and empty. */
	CHECK_EQ_INT(acme_jws_sign(k, kid, nonce, url, NULL, &b), WF_OK);
	CHECK_EQ_INT(wf_buf_append(&b, "", 1), WF_OK);
	CHECK(strstr(wf_buf_head(&b), "\"payload\":\"\"") != NULL);
	check_jws(k, wf_buf_head(&b), kid, nonce, url, NULL);
	wf_buf_reset(&b);

	/* CA values that would need escaping are refused as the CA's (WF_DECLINED);
	 * out is untouched. */
	CHECK_EQ_INT(wf_buf_append_str(&b, "keep"), WF_OK);
	CHECK_EQ_INT(acme_jws_sign(k, kid, "ab\"c", url, NULL, &b), WF_DECLINED);
	CHECK_EQ_INT(acme_jws_sign(k, kid, "abc=", url, NULL, &b), WF_DECLINED);
	CHECK_EQ_INT(acme_jws_sign(k, kid, "", url, NULL, &b), WF_DECLINED);
	CHECK_EQ_INT(acme_jws_sign(k, kid, nonce, "https://x/\\", NULL, &b), WF_DECLINED);
	CHECK_EQ_INT(acme_jws_sign(k, kid, nonce, "https://x/a\"b", NULL, &b), WF_DECLINED);
	CHECK_EQ_INT(acme_jws_sign(k, kid, nonce, "https://x/a b", NULL, &b), WF_DECLINED);
	CHECK_EQ_INT(acme_jws_sign(k, kid, nonce, "https://x/\n", NULL, &b), WF_DECLINED);
	CHECK_EQ_INT(acme_jws_sign(k, "https://x/\x01", nonce, url, NULL, &b), WF_DECLINED);
	CHECK_EQ_INT(acme_jws_sign(k, kid, nonce, "https://x/\xc3\xa9", NULL, &b), WF_DECLINED);
	CHECK(wf_slice_eq(wf_buf_slice(&b), "keep"));
	wf_buf_fini(&b);

	/* A cap too small for the object fails whole. */
	wf_buf_init(&b, 200);
	CHECK_EQ_INT(wf_buf_append_str(&b, "keep"), WF_OK);
	CHECK_EQ_INT(acme_jws_sign(k, kid, nonce, url, payload, &b), WF_ERR);
	CHECK(wf_slice_eq(wf_buf_slice(&b), "keep"));
	wf_buf_fini(&b);

	acme_key_free(k);
}

/* r, s, x and y shorter than the field (1 in 256 each) must be left-padded:
 * sign until such signatures have certainly been seen, and look for a key
 * whose x has a leading zero byte. */
static void test_ec_padding(void)
{
	acme_key_t *k = acme_key_generate(ACME_KEY_EC256);
	CHECK(k != NULL);
	if (!k)
		return;
	gnutls_pubkey_t pub = pubkey_from_jwk(k->jwk);
	CHECK(pub != NULL);
	int short_seen = 0;
	for (int i = 0; i < 2000 && pub; i++) {
		char msg[32];
		unsigned char raw[64];
		snprintf(msg, sizeof(msg), "message %d", i);
		wf_buf_t b;
		wf_buf_init(&b, 1024);
		CHECK_EQ_INT(acme_key_sign_b64url(k, (wf_slice_t){msg, strlen(msg)}, &b), WF_OK);
		CHECK_EQ_INT(acme_b64url_decode(wf_buf_slice(&b), raw, sizeof(raw)), 64);
		wf_buf_fini(&b);
		if (raw[0] == 0 || raw[32] == 0)
			short_seen++;
		gnutls_datum_t r = {raw, 32}, s = {raw + 32, 32}, der = {0};
		gnutls_datum_t data = {(unsigned char *)msg, (unsigned)strlen(msg)};
		CHECK(gnutls_encode_rs_value(&der, &r, &s) == 0);
		CHECK_EQ_INT(gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der), 0);
		gnutls_free(der.data);
	}
	CHECK(short_seen > 0);
	if (pub)
		gnutls_pubkey_deinit(pub);
	acme_key_free(k);

	bool found = false;
	for (int i = 0; i < 5000 && !found; i++) {
		k = acme_key_generate(ACME_KEY_EC256);
		if (!k)
			break;
		gnutls_ecc_curve_t curve;
		gnutls_datum_t x = {0}, y = {0};
		CHECK(gnutls_pubkey_export_ecc_raw2(k->pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ) == 0);
		if (x.size < 32 || y.size < 32) {
			found = true;
			check_jwk_shape(k);
			pub = pubkey_from_jwk(k->jwk); /* checks 32-byte x and y */
			CHECK(pub != NULL);
			gnutls_datum_t a = {0}, c = {0};
			CHECK(pub && gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0);
			CHECK(gnutls_pubkey_export2(k->pub, GNUTLS_X509_FMT_DER, &c) == 0);
			CHECK(a.size == c.size && a.size && memcmp(a.data, c.data, a.size) == 0);
			gnutls_free(a.data);
			gnutls_free(c.data);
			if (pub)
				gnutls_pubkey_deinit(pub);
		}
		gnutls_free(x.data);
		gnutls_free(y.data);
		acme_key_free(k);
	}
	CHECK(found);
}

static void test_eab(void)
{
	acme_key_t *k = acme_key_generate(ACME_KEY_EC256);
	CHECK(k != NULL);
	if (!k)
		return;
	const unsigned char mac_key[] = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
	wf_slice_t mk = {(const char *)mac_key, sizeof(mac_key) - 1};
	const char *url = "https://127.0.0.1:14000/sign-me-up";
	wf_buf_t b;
	wf_buf_init(&b, 16 * 1024);
	CHECK_EQ_INT(acme_jws_eab(k, "kid-1", mk, url, &b), WF_OK);
	CHECK_EQ_INT(wf_buf_append(&b, "", 1), WF_OK);

	json_object *o = json_tokener_parse(wf_buf_head(&b));
	CHECK(o != NULL);
	if (o) {
		char prot[512], pay[1500];
		CHECK(member_b64(o, "protected", prot, sizeof(prot)) > 0);
		CHECK(member_b64(o, "payload", pay, sizeof(pay)) > 0);
		CHECK_EQ_STR(pay, k->jwk);
		json_object *h = json_tokener_parse(prot);
		CHECK(h != NULL);
		if (h) {
			CHECK_EQ_STR(member_str(h, "alg"), "HS256");
			CHECK_EQ_STR(member_str(h, "kid"), "kid-1");
			CHECK_EQ_STR(member_str(h, "url"), url);
			CHECK(!json_object_object_get_ex(h, "nonce", NULL));
			CHECK(!json_object_object_get_ex(h, "jwk", NULL));
			CHECK_EQ_INT(json_object_object_length(h), 3);
			json_object_put(h);
		}
		char input[4096];
		snprintf(input, sizeof(input), "%s.%s", member_str(o, "protected"), member_str(o, "payload"));
		unsigned char mac[32];
		char want[64];
		CHECK(gnutls_hmac_fast(GNUTLS_MAC_SHA256, mk.ptr, mk.len, input, strlen(input), mac) == 0);
		CHECK_EQ_INT(acme_b64url_encode(mac, sizeof(mac), want, sizeof(want)), 43);
		CHECK_EQ_STR(member_str(o, "signature"), want);
		json_object_put(o);
	}
	wf_buf_reset(&b);
	CHECK_EQ_INT(acme_jws_eab(k, "kid-1", (wf_slice_t){"", 0}, url, &b), WF_ERR);
	CHECK_EQ_INT(acme_jws_eab(k, "kid\"1", mk, url, &b), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&b), 0);
	wf_buf_fini(&b);
	acme_key_free(k);
}

static void test_key_authorization(void)
{
	acme_key_t *k = acme_key_generate(ACME_KEY_EC256);
	CHECK(k != NULL);
	if (!k)
		return;
	char out[128], want[128];
	snprintf(want, sizeof(want), "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.%s", k->thumbprint);
	CHECK_EQ_INT(acme_key_authorization(k, "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, want);
	CHECK_EQ_INT(acme_key_authorization(k, "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", out, strlen(want)),
		     WF_ERR);
	CHECK_EQ_INT(acme_key_authorization(k, "../../etc/passwd", out, sizeof(out)), WF_ERR);
	CHECK_EQ_INT(acme_key_authorization(k, "a/b", out, sizeof(out)), WF_ERR);
	CHECK_EQ_INT(acme_key_authorization(k, "", out, sizeof(out)), WF_ERR);
	acme_key_free(k);
}

/* dns-01's TXT text: base64url(SHA-256(key authorization)), no padding
 * (RFC 8555 8.4); the expected value computed independently (Python's
 * hashlib and base64). */
static void test_dns01_value(void)
{
	char out[ACME_DNS01_VALUE_MAX];
	const char *ka = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
	CHECK_EQ_INT(acme_dns01_value(ka, out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, "lCM7cZyQXcVHK2nnW3jjAhNT3Fvm18UN-kWZZknKoYM");
	CHECK_EQ_INT(acme_dns01_value(ka, out, sizeof(out) - 1), WF_ERR);
}

/* The legacy PEM ("EC PRIVATE KEY", "RSA PRIVATE KEY") of a key. */
static int legacy_pem(const acme_key_t *k, wf_buf_t *out)
{
	gnutls_x509_privkey_t x;
	gnutls_datum_t d = {0};
	if (gnutls_privkey_export_x509(k->priv, &x) < 0)
		return -1;
	int rc = gnutls_x509_privkey_export2(x, GNUTLS_X509_FMT_PEM, &d);
	gnutls_x509_privkey_deinit(x);
	if (rc < 0)
		return -1;
	rc = wf_buf_append(out, d.data, d.size);
	gnutls_free(d.data);
	return rc;
}

static void test_key_roundtrip(acme_key_type_t type)
{
	acme_key_t *k = acme_key_generate(type);
	CHECK(k != NULL);
	if (!k)
		return;
	CHECK_EQ_INT(k->type, type);
	check_jwk_shape(k);
	wf_buf_t pem;
	wf_buf_init(&pem, 16 * 1024);
	CHECK_EQ_INT(acme_key_export(k, &pem), WF_OK);
	CHECK_EQ_INT(wf_buf_append(&pem, "", 1), WF_OK);
	CHECK(strstr(wf_buf_head(&pem), "-----BEGIN PRIVATE KEY-----") == wf_buf_head(&pem));
	acme_key_t *k2 = acme_key_load((wf_slice_t){wf_buf_head(&pem), wf_buf_size(&pem) - 1});
	CHECK(k2 != NULL);
	if (k2) {
		CHECK_EQ_INT(k2->type, type);
		CHECK_EQ_STR(k2->jwk, k->jwk);
		CHECK_EQ_STR(k2->thumbprint, k->thumbprint);
		acme_key_free(k2);
	}
	wf_buf_reset(&pem);
	CHECK_EQ_INT(legacy_pem(k, &pem), WF_OK);
	CHECK_EQ_INT(wf_buf_append(&pem, "", 1), WF_OK);
	const char *hdr = type == ACME_KEY_EC256 || type == ACME_KEY_EC384 ? "-----BEGIN EC PRIVATE KEY-----"
									   : "-----BEGIN RSA PRIVATE KEY-----";
	CHECK(strstr(wf_buf_head(&pem), hdr) != NULL);
	k2 = acme_key_load((wf_slice_t){wf_buf_head(&pem), wf_buf_size(&pem) - 1});
	CHECK(k2 != NULL);
	if (k2) {
		CHECK_EQ_INT(k2->type, type);
		CHECK_EQ_STR(k2->thumbprint, k->thumbprint);
		acme_key_free(k2);
	}
	/* Too small a buffer: an error, nothing appended. */
	wf_buf_t small;
	wf_buf_init(&small, 64);
	CHECK_EQ_INT(acme_key_export(k, &small), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&small), 0);
	wf_buf_fini(&small);
	wf_buf_fini(&pem);
	acme_key_free(k);
}

/* A key of a kind we refuse, as PKCS#8 PEM. */
static acme_key_t *load_generated(gnutls_pk_algorithm_t pk, unsigned bits)
{
	gnutls_x509_privkey_t x;
	gnutls_datum_t d = {0};
	acme_key_t *k = NULL;
	if (gnutls_x509_privkey_init(&x) < 0)
		return NULL;
	if (gnutls_x509_privkey_generate(x, pk, bits, 0) == 0 &&
	    gnutls_x509_privkey_export2_pkcs8(x, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d) == 0) {
		k = acme_key_load((wf_slice_t){(const char *)d.data, d.size});
		gnutls_free(d.data);
	} else {
		fprintf(stderr, "note: could not generate pk %d bits %u\n", (int)pk, bits);
	}
	gnutls_x509_privkey_deinit(x);
	return k;
}

/* An RSA key whose private exponent is damaged (a bit flipped on disk): it
 * loads, its public half is whole, but no signature it makes verifies, and
 * GnuTLS refuses to make one. acme_jws_sign says so as our own failure
 * (WF_ERR), not as a value from the CA (WF_DECLINED). */
static acme_key_t *load_damaged_rsa(void)
{
	gnutls_x509_privkey_t x = NULL, y = NULL;
	gnutls_datum_t m = {0}, e = {0}, d = {0}, p = {0}, q = {0}, u = {0}, e1 = {0}, e2 = {0}, pem = {0};
	acme_key_t *k = NULL;
	if (gnutls_x509_privkey_init(&x) < 0 || gnutls_x509_privkey_init(&y) < 0 ||
	    gnutls_x509_privkey_generate(x, GNUTLS_PK_RSA, 2048, 0) < 0 ||
	    gnutls_x509_privkey_export_rsa_raw2(x, &m, &e, &d, &p, &q, &u, &e1, &e2) < 0)
		goto out;
	/* e1, e2 left out: GnuTLS derives them from the damaged exponent. */
	d.data[d.size - 1] ^= 0x02;
	if (gnutls_x509_privkey_import_rsa_raw2(y, &m, &e, &d, &p, &q, &u, NULL, NULL) == 0 &&
	    gnutls_x509_privkey_export2_pkcs8(y, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem) == 0)
		k = acme_key_load((wf_slice_t){(const char *)pem.data, pem.size});
out:
	gnutls_free(m.data);
	gnutls_free(e.data);
	gnutls_free(d.data);
	gnutls_free(p.data);
	gnutls_free(q.data);
	gnutls_free(u.data);
	gnutls_free(e1.data);
	gnutls_free(e2.data);
	gnutls_free(pem.data);
	if (x)
		gnutls_x509_privkey_deinit(x);
	if (y)
		gnutls_x509_privkey_deinit(y);
	return k;
}

static void test_jws_key_cannot_sign(void)
{
	acme_key_t *k = load_damaged_rsa();
	CHECK(k != NULL);
	if (!k)
		return;
	wf_buf_t b;
	wf_buf_init(&b, 64 * 1024);
	CHECK_EQ_INT(wf_buf_append_str(&b, "keep"), WF_OK);
	CHECK_EQ_INT(acme_jws_sign(k, NULL, "zP9_5xYs-ZSwj7oj0Tn_hw", "https://127.0.0.1:14000/sign-me-up", "{}", &b),
		     WF_ERR);
	CHECK(wf_slice_eq(wf_buf_slice(&b), "keep"));
	wf_buf_fini(&b);
	acme_key_free(k);
}

static void test_key_load_bad(void)
{
	CHECK(acme_key_load(WF_SLICE("")) == NULL);
	CHECK(acme_key_load(WF_SLICE("garbage")) == NULL);
	CHECK(acme_key_load(WF_SLICE("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")) == NULL);
	CHECK(acme_key_load(WF_SLICE("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n")) ==
	      NULL);
	/* Kinds outside the five types: refused, not guessed at. */
	CHECK(load_generated(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP521R1)) == NULL);
	CHECK(load_generated(GNUTLS_PK_EDDSA_ED25519, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519)) == NULL);
	CHECK(load_generated(GNUTLS_PK_RSA, 2560) == NULL);

	/* An encrypted key is refused rather than prompting for a password. */
	acme_key_t *k = acme_key_generate(ACME_KEY_EC256);
	CHECK(k != NULL);
	if (k) {
		gnutls_x509_privkey_t x;
		gnutls_datum_t d = {0};
		CHECK(gnutls_privkey_export_x509(k->priv, &x) == 0);
		CHECK(gnutls_x509_privkey_export2_pkcs8(x, GNUTLS_X509_FMT_PEM, "secret", GNUTLS_PKCS_PBES2_AES_256,
							&d) == 0);
		CHECK(acme_key_load((wf_slice_t){(const char *)d.data, d.size}) == NULL);
		gnutls_free(d.data);
		gnutls_x509_privkey_deinit(x);
		acme_key_free(k);
	}
	acme_key_free(NULL);
}

int main(void)
{
	test_b64url_vectors();
	test_b64url_roundtrip();
	test_rfc7638_thumbprint();
	test_key_types();
	test_jws(ACME_KEY_EC256);
	test_jws(ACME_KEY_EC384);
	test_jws(ACME_KEY_RSA2048);
	test_ec_padding();
	test_eab();
	test_key_authorization();
	test_dns01_value();
	test_key_roundtrip(ACME_KEY_EC256);
	test_key_roundtrip(ACME_KEY_EC384);
	test_key_roundtrip(ACME_KEY_RSA2048);
	test_key_roundtrip(ACME_KEY_RSA3072);
	test_key_roundtrip(ACME_KEY_RSA4096);
	test_key_load_bad();
	test_jws_key_cannot_sign();
	return check_report();
}
