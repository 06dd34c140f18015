/* ACME message decoding: real CA documents (RFC 8555 examples, Pebble, Let's
 * Encrypt), hostile documents, Link, Retry-After and RFC 3339 times. */
#include "acme/msg.h"

#include "check.h"

#include <stdlib.h>

#define S(lit) WF_SLICE(lit)

static char g_err[256];

static wf_slice_t str_slice(const char *s)
{
	return (wf_slice_t){s, strlen(s)};
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ---- directory ---- */

static void test_directory_pebble(void)
{
	acme_directory_t d;
	int rc = acme_msg_directory(
	    S("{\"keyChange\":\"https://127.0.0.1:14000/rollover-account-key\",\"meta\":{\"externalAccountRequired\":"
	      "false,\"termsOfService\":\"data:text/plain,Do%20what%20thou%20wilt\"},\"newAccount\":\"https://"
	      "127.0.0.1:14000/sign-me-up\",\"newNonce\":\"https://127.0.0.1:14000/nonce-plz\",\"newOrder\":"
	      "\"https://127.0.0.1:14000/order-plz\",\"revokeCert\":\"https://127.0.0.1:14000/revoke-cert\"}"),
	    &d, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_STR(d.new_nonce, "https://127.0.0.1:14000/nonce-plz");
	CHECK_EQ_STR(d.new_account, "https://127.0.0.1:14000/sign-me-up");
	CHECK_EQ_STR(d.new_order, "https://127.0.0.1:14000/order-plz");
	CHECK_EQ_STR(d.revoke_cert, "https://127.0.0.1:14000/revoke-cert");
	CHECK_EQ_STR(d.key_change, "https://127.0.0.1:14000/rollover-account-key");
	CHECK_EQ_STR(d.renewal_info, "");
	CHECK_EQ_STR(d.terms_of_service, "data:text/plain,Do%20what%20thou%20wilt");
	CHECK(!d.eab_required);
	CHECK_EQ_INT(d.nprofiles, 0);
}

static void test_directory_rfc(void)
{
	acme_directory_t d;
	int rc = acme_msg_directory(S("{\n"
				      " \"newNonce\": \"https://example.com/acme/new-nonce\",\n"
				      " \"newAccount\": \"https://example.com/acme/new-account\",\n"
				      " \"newOrder\": \"https://example.com/acme/new-order\",\n"
				      " \"newAuthz\": \"https://example.com/acme/new-authz\",\n"
				      " \"revokeCert\": \"https://example.com/acme/revoke-cert\",\n"
				      " \"keyChange\": \"https://example.com/acme/key-change\",\n"
				      " \"meta\": {\n"
				      "   \"termsOfService\": \"https://example.com/acme/terms/2017-5-30\",\n"
				      "   \"website\": \"https://www.example.com/\",\n"
				      "   \"caaIdentities\": [\"example.com\"],\n"
				      "   \"externalAccountRequired\": true\n"
				      " }\n"
				      "}\n"),
				    &d, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_STR(d.new_order, "https://example.com/acme/new-order");
	CHECK_EQ_STR(d.terms_of_service, "https://example.com/acme/terms/2017-5-30");
	CHECK(d.eab_required);
}

static void test_directory_letsencrypt(void)
{
	acme_directory_t d;
	int rc = acme_msg_directory(
	    S("{\"Rv2B5xoR3gI\": \"https://community.letsencrypt.org/t/adding-random-entries-to-the-directory/33417\","
	      "\"keyChange\": \"https://acme-v02.api.letsencrypt.org/acme/key-change\","
	      "\"meta\": {\"caaIdentities\": [\"letsencrypt.org\"],"
	      "\"profiles\": {\"classic\": \"https://letsencrypt.org/docs/profiles#classic\","
	      "\"shortlived\": \"https://letsencrypt.org/docs/profiles#shortlived\","
	      "\"tlsserver\": \"https://letsencrypt.org/docs/profiles#tlsserver\"},"
	      "\"termsOfService\": \"https://letsencrypt.org/documents/LE-SA-v1.5-February-24-2025.pdf\","
	      "\"website\": \"https://letsencrypt.org\"},"
	      "\"newAccount\": \"https://acme-v02.api.letsencrypt.org/acme/new-acct\","
	      "\"newNonce\": \"https://acme-v02.api.letsencrypt.org/acme/new-nonce\","
	      "\"newOrder\": \"https://acme-v02.api.letsencrypt.org/acme/new-order\","
	      "\"renewalInfo\": \"https://acme-v02.api.letsencrypt.org/draft-ietf-acme-ari-03/renewalInfo\","
	      "\"revokeCert\": \"https://acme-v02.api.letsencrypt.org/acme/revoke-cert\"}"),
	    &d, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_STR(d.renewal_info, "https://acme-v02.api.letsencrypt.org/draft-ietf-acme-ari-03/renewalInfo");
	CHECK_EQ_INT(d.nprofiles, 3);
	CHECK_EQ_STR(d.profiles[0], "classic");
	CHECK_EQ_STR(d.profiles[1], "shortlived");
	CHECK_EQ_STR(d.profiles[2], "tlsserver");
	CHECK(!d.eab_required);
}

static void test_directory_errors(void)
{
	acme_directory_t d;
	int rc = acme_msg_directory(S("{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\"}"), &d, g_err,
				    sizeof(g_err));
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK_EQ_STR(g_err, "directory: \"newOrder\" missing or not a string");
	CHECK(all_zero(&d, sizeof(d)));

	rc = acme_msg_directory(S("{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\",\"newOrder\":42}"), &d,
				g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK_EQ_STR(g_err, "directory: \"newOrder\" missing or not a string");

	rc = acme_msg_directory(S("{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\",\"newOrder\":"
				  "\"https://a/o\",\"meta\":{\"externalAccountRequired\":\"yes\"}}"),
				&d, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK_EQ_STR(g_err, "directory: meta: \"externalAccountRequired\" not a boolean");

	rc = acme_msg_directory(S("{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\",\"newOrder\":"
				  "\"https://a/o\",\"meta\":{\"profiles\":[\"classic\"]}}"),
				&d, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK_EQ_STR(g_err, "directory: meta: \"profiles\" not an object");

	rc = acme_msg_directory(S("{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\",\"newOrder\":"
				  "\"https://a/o\",\"meta\":[]}"),
				&d, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_ERR);

	rc = acme_msg_directory(S("{\"newNonce\":\"ftp://a/n\",\"newAccount\":\"https://a/a\",\"newOrder\":"
				  "\"https://a/o\"}"),
				&d, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK_EQ_STR(g_err, "directory: \"newNonce\" is not an http(s) URL");

	/* Plain http is allowed (test CAs, local proxies). */
	rc = acme_msg_directory(S("{\"newNonce\":\"http://localhost:4001/n\",\"newAccount\":\"http://localhost/a\","
				  "\"newOrder\":\"http://localhost/o\"}"),
				&d, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_STR(d.key_change, "");
}

static void test_directory_profiles_cap(void)
{
	char doc[4096];
	int n = snprintf(doc, sizeof(doc),
			 "{\"newNonce\":\"https://a/n\",\"newAccount\":\"https://a/a\",\"newOrder\":\"https://a/o\","
			 "\"meta\":{\"profiles\":{\"%0100d\":\"too long\",\"bad name\":\"x\"",
			 0);
	for (int i = 0; i < 20; i++)
		n += snprintf(doc + n, sizeof(doc) - (size_t)n, ",\"p%d\":\"d\"", i);
	snprintf(doc + n, sizeof(doc) - (size_t)n, "}}}");
	acme_directory_t d;
	CHECK_EQ_INT(acme_msg_directory(str_slice(doc), &d, g_err, sizeof(g_err)), WF_OK);
	CHECK_EQ_INT(d.nprofiles, ACME_MAX_PROFILES);
	CHECK_EQ_STR(d.profiles[0], "p0");
	CHECK_EQ_STR(d.profiles[15], "p15");
}

/* ---- account ---- */

static void test_account(void)
{
	acme_account_t a;
	CHECK_EQ_INT(acme_msg_account(S("{\"status\":\"valid\",\"contact\":[\"mailto:cert-admin@example.org\"],"
					"\"orders\":\"https://example.com/acme/orders/rzGoeA\"}"),
				      &a, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_INT(a.status, ACME_ST_VALID);
	CHECK_EQ_STR(a.orders, "https://example.com/acme/orders/rzGoeA");

	/* Let's Encrypt sends no "orders". */
	CHECK_EQ_INT(acme_msg_account(S("{\"key\":{\"kty\":\"EC\"},\"initialIp\":\"192.0.2.1\",\"createdAt\":"
					"\"2025-01-01T00:00:00Z\",\"status\":\"deactivated\"}"),
				      &a, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_INT(a.status, ACME_ST_DEACTIVATED);
	CHECK_EQ_STR(a.orders, "");

	CHECK_EQ_INT(acme_msg_account(S("{\"status\":\"sleepy\"}"), &a, g_err, sizeof(g_err)), WF_OK);
	CHECK_EQ_INT(a.status, ACME_ST_UNKNOWN);

	CHECK_EQ_INT(acme_msg_account(S("{\"orders\":\"https://a/o\"}"), &a, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_STR(g_err, "account: \"status\" missing or not a string");
	CHECK_EQ_INT(acme_msg_account(S("{\"status\":1}"), &a, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_account(S("{\"status\":\"valid\",\"orders\":[]}"), &a, g_err, sizeof(g_err)), WF_ERR);
	CHECK(all_zero(&a, sizeof(a)));
}

/* ---- order ---- */

static void test_order_rfc(void)
{
	acme_order_t o;
	int rc = acme_msg_order(S("{\n"
				  " \"status\": \"valid\",\n"
				  " \"expires\": \"2016-01-20T14:09:07.99Z\",\n"
				  " \"notBefore\": \"2016-01-01T00:00:00Z\",\n"
				  " \"notAfter\": \"2016-01-08T00:00:00Z\",\n"
				  " \"identifiers\": [\n"
				  "   { \"type\": \"dns\", \"value\": \"www.example.org\" },\n"
				  "   { \"type\": \"dns\", \"value\": \"example.org\" }\n"
				  " ],\n"
				  " \"authorizations\": [\n"
				  "   \"https://example.com/acme/authz/PAniVnsZcis\",\n"
				  "   \"https://example.com/acme/authz/r4HqLzrSrpI\"\n"
				  " ],\n"
				  " \"finalize\": \"https://example.com/acme/order/TOlocE8rfgo/finalize\",\n"
				  " \"certificate\": \"https://example.com/acme/cert/mAt3xBGaobw\"\n"
				  "}"),
				&o, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_INT(o.status, ACME_ST_VALID);
	CHECK_EQ_INT(o.nauthz, 2);
	CHECK_EQ_STR(o.authorizations[0], "https://example.com/acme/authz/PAniVnsZcis");
	CHECK_EQ_STR(o.authorizations[1], "https://example.com/acme/authz/r4HqLzrSrpI");
	CHECK_EQ_STR(o.finalize, "https://example.com/acme/order/TOlocE8rfgo/finalize");
	CHECK_EQ_STR(o.certificate, "https://example.com/acme/cert/mAt3xBGaobw");
	CHECK_EQ_STR(o.error.type, "");
	acme_order_fini(&o);
	CHECK(o.authorizations == NULL);
	CHECK_EQ_INT(o.nauthz, 0);
	acme_order_fini(&o); /* twice is harmless */
}

/* An order document with n authorizations, in the given status. */
static char *order_doc(const char *status, int n, const char *extra)
{
	size_t cap = 512 + (size_t)n * 80 + strlen(extra);
	char *doc = malloc(cap);
	size_t len = (size_t)snprintf(doc, cap,
				      "{\"status\":\"%s\",\"expires\":\"2025-01-02T03:04:05Z\",\"identifiers\":"
				      "[{\"type\":\"dns\",\"value\":\"a.example\"}],\"finalize\":"
				      "\"https://127.0.0.1:14000/finalize-order/Xyz\",%s\"authorizations\":[",
				      status, extra);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(doc + len, cap - len, "%s\"https://127.0.0.1:14000/authZ/tok%d\"", i ? "," : "",
					i);
	snprintf(doc + len, cap - len, "]}");
	return doc;
}

static void test_order_statuses(void)
{
	static const struct {
		const char *name;
		acme_status_t st;
	} sts[] = {
	    {"pending", ACME_ST_PENDING},	  {"ready", ACME_ST_READY},
	    {"processing", ACME_ST_PROCESSING},	  {"valid", ACME_ST_VALID},
	    {"invalid", ACME_ST_INVALID},	  {"expired", ACME_ST_EXPIRED},
	    {"deactivated", ACME_ST_DEACTIVATED}, {"revoked", ACME_ST_REVOKED},
	    {"Valid", ACME_ST_UNKNOWN},		  {"", ACME_ST_UNKNOWN},
	};
	for (size_t i = 0; i < WF_ARRAY_LEN(sts); i++) {
		for (int n = 1; n <= 100; n += 99) {
			char *doc = order_doc(sts[i].name, n, "");
			acme_order_t o;
			int rc = acme_msg_order(str_slice(doc), &o, g_err, sizeof(g_err));
			CHECK_EQ_INT(rc, WF_OK);
			CHECK_EQ_INT(o.status, sts[i].st);
			CHECK_EQ_INT(o.nauthz, n);
			if (rc == WF_OK) {
				char want[64];
				snprintf(want, sizeof(want), "https://127.0.0.1:14000/authZ/tok%d", n - 1);
				CHECK_EQ_STR(o.authorizations[n - 1], want);
			}
			CHECK_EQ_STR(o.certificate, "");
			acme_order_fini(&o);
			free(doc);
		}
		if (sts[i].st != ACME_ST_UNKNOWN)
			CHECK_EQ_STR(acme_status_name(sts[i].st), sts[i].name);
	}
	CHECK_EQ_STR(acme_status_name(ACME_ST_UNKNOWN), "unknown");
	CHECK_EQ_STR(acme_status_name((acme_status_t)99), "unknown");
}

static void test_order_too_many(void)
{
	char *doc = order_doc("pending", 101, "");
	acme_order_t o;
	CHECK_EQ_INT(acme_msg_order(str_slice(doc), &o, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_STR(g_err, "order: more than 100 authorizations");
	CHECK(all_zero(&o, sizeof(o)));
	free(doc);

	doc = order_doc("pending", 0, "");
	CHECK_EQ_INT(acme_msg_order(str_slice(doc), &o, g_err, sizeof(g_err)), WF_OK);
	CHECK_EQ_INT(o.nauthz, 0);
	acme_order_fini(&o);
	free(doc);
}

static void test_order_invalid_with_error(void)
{
	char *doc = order_doc("invalid", 1,
			      "\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":"
			      "\"Error finalizing order :: CSR names differ\",\"status\":403},");
	acme_order_t o;
	CHECK_EQ_INT(acme_msg_order(str_slice(doc), &o, g_err, sizeof(g_err)), WF_OK);
	CHECK_EQ_INT(o.status, ACME_ST_INVALID);
	CHECK_EQ_STR(o.error.type, "urn:ietf:params:acme:error:unauthorized");
	CHECK_EQ_STR(o.error.detail, "Error finalizing order :: CSR names differ");
	CHECK_EQ_INT(o.error.status, 403);
	acme_order_fini(&o);
	free(doc);
}

static void check_order_err(wf_slice_t doc, const char *want)
{
	acme_order_t o;
	memset(&o, 0x5a, sizeof(o));
	int rc = acme_msg_order(doc, &o, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK(all_zero(&o, sizeof(o)));
	if (want)
		CHECK_EQ_STR(g_err, want);
	if (rc == WF_OK)
		acme_order_fini(&o);
}

static void test_order_errors(void)
{
	check_order_err(S("{\"status\":\"pending\",\"authorizations\":[]}"),
			"order: \"finalize\" missing or not a string");
	check_order_err(S("{\"status\":\"pending\",\"finalize\":null,\"authorizations\":[]}"),
			"order: \"finalize\" missing or not a string");
	check_order_err(S("{\"status\":\"pending\",\"finalize\":\"https://a/f\"}"),
			"order: \"authorizations\" missing or not an array");
	check_order_err(S("{\"status\":\"pending\",\"finalize\":\"https://a/f\",\"authorizations\":\"https://a/z\"}"),
			"order: \"authorizations\" missing or not an array");
	/* A bad entry after good ones: the array is freed, nothing leaks. */
	check_order_err(S("{\"status\":\"pending\",\"finalize\":\"https://a/f\",\"authorizations\":[\"https://a/1\","
			  "\"https://a/2\",3]}"),
			"order: authorizations[2] not a string");
	check_order_err(S("{\"status\":\"pending\",\"finalize\":\"https://a/f\",\"authorizations\":[\"https://a/1\","
			  "\"https://a/ 2\"]}"),
			"order: authorizations[1] is not an http(s) URL");
	check_order_err(S("{\"status\":\"pending\",\"finalize\":\"https://a/f\",\"authorizations\":[],"
			  "\"certificate\":\"https://a/c\\\"><script>\"}"),
			"order: \"certificate\" is not an http(s) URL");
	check_order_err(S("{\"status\":\"pending\",\"finalize\":\"https://a/f\",\"authorizations\":[],"
			  "\"error\":\"badCSR\"}"),
			"order: \"error\" not an object");
	check_order_err(S("{\"status\":\"pending\",\"finalize\":\"https://a/f\",\"authorizations\":[],"
			  "\"error\":{\"type\":5}}"),
			"order: error: \"type\" missing or not a string");
	check_order_err(S("{\"status\":[\"pending\"],\"finalize\":\"https://a/f\",\"authorizations\":[]}"),
			"order: \"status\" missing or not a string");
}

/* URLs of exactly the field's capacity minus one fit; one more is an error. */
static void test_order_long_url(void)
{
	static char doc[4 * ACME_URL_MAX];
	for (int extra = 0; extra <= 1; extra++) {
		size_t ulen = ACME_URL_MAX - 1 + (size_t)extra;
		char url[ACME_URL_MAX + 1];
		memcpy(url, "https://a/", 10);
		memset(url + 10, 'x', ulen - 10);
		url[ulen] = '\0';
		snprintf(doc, sizeof(doc), "{\"status\":\"ready\",\"finalize\":\"%s\",\"authorizations\":[\"%s\"]}",
			 url, url);
		acme_order_t o;
		int rc = acme_msg_order(str_slice(doc), &o, g_err, sizeof(g_err));
		CHECK_EQ_INT(rc, extra ? WF_ERR : WF_OK);
		if (rc == WF_OK) {
			CHECK_EQ_INT(strlen(o.finalize), ACME_URL_MAX - 1);
			CHECK_EQ_INT(strlen(o.authorizations[0]), ACME_URL_MAX - 1);
		} else {
			CHECK_EQ_STR(g_err, "order: \"finalize\" longer than 1023 bytes");
		}
		acme_order_fini(&o);
	}
}

/* ---- authz and challenges ---- */

static void test_authz_rfc(void)
{
	acme_authz_t a;
	int rc = acme_msg_authz(S("{\n"
				  "  \"status\": \"valid\",\n"
				  "  \"expires\": \"2015-03-01T14:09:07.99Z\",\n"
				  "  \"identifier\": { \"type\": \"dns\", \"value\": \"www.example.org\" },\n"
				  "  \"challenges\": [\n"
				  "    { \"url\": \"https://example.com/acme/chall/prV_B7yEyA4\",\n"
				  "      \"type\": \"http-01\", \"status\": \"valid\",\n"
				  "      \"token\": \"DGyRejmCefe7v4NfDGDKfA\",\n"
				  "      \"validated\": \"2014-12-01T12:05:58.16Z\" }\n"
				  "  ],\n"
				  "  \"wildcard\": false\n"
				  "}"),
				&a, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_INT(a.status, ACME_ST_VALID);
	CHECK_EQ_STR(a.identifier, "www.example.org");
	CHECK(!a.wildcard);
	CHECK_EQ_INT(a.nchallenges, 1);
	CHECK_EQ_STR(a.challenges[0].type, "http-01");
	CHECK_EQ_STR(a.challenges[0].url, "https://example.com/acme/chall/prV_B7yEyA4");
	CHECK_EQ_STR(a.challenges[0].token, "DGyRejmCefe7v4NfDGDKfA");
	CHECK_EQ_INT(a.challenges[0].status, ACME_ST_VALID);
}

/* Pebble shuffles challenges: order of the array is kept, nothing assumed. */
static void test_authz_pebble_shuffled(void)
{
	acme_authz_t a;
	int rc =
	    acme_msg_authz(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"www.example.test\"},"
			     "\"challenges\":[{\"type\":\"tls-alpn-01\",\"url\":\"https://127.0.0.1:14000/chalZ/aB3\","
			     "\"token\":\"q2Fs-tWwKzyT2AZs2X3VtZfxMu1_n1S8r-ELxZvdP5o\",\"status\":\"pending\"},"
			     "{\"type\":\"dns-01\",\"url\":\"https://127.0.0.1:14000/chalZ/cD4\",\"token\":"
			     "\"tV0Bo2dB0WY8vUn_4N8ZVjCmNx6e6P5H5N0a2W2EYbE\",\"status\":\"pending\"},"
			     "{\"type\":\"http-01\",\"url\":\"https://127.0.0.1:14000/chalZ/eF5\",\"token\":"
			     "\"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0\",\"status\":\"pending\"}],"
			     "\"expires\":\"2025-01-02T04:04:05Z\"}"),
			   &a, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_INT(a.status, ACME_ST_PENDING);
	CHECK_EQ_INT(a.nchallenges, 3);
	CHECK_EQ_STR(a.challenges[0].type, "tls-alpn-01");
	CHECK_EQ_STR(a.challenges[1].type, "dns-01");
	CHECK_EQ_STR(a.challenges[2].type, "http-01");
	CHECK_EQ_STR(a.challenges[2].url, "https://127.0.0.1:14000/chalZ/eF5");
	CHECK_EQ_STR(a.challenges[2].token, "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0");
	CHECK_EQ_STR(a.challenges[1].error.type, "");
}

static void test_authz_wildcard_and_ip(void)
{
	acme_authz_t a;
	CHECK_EQ_INT(acme_msg_authz(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":"
				      "\"example.test\"},\"wildcard\":true,\"challenges\":[{\"type\":\"dns-01\","
				      "\"url\":\"https://127.0.0.1:14000/chalZ/x\",\"token\":\"abc\",\"status\":"
				      "\"pending\"}]}"),
				    &a, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK(a.wildcard);
	CHECK_EQ_STR(a.identifier, "example.test");
	CHECK_EQ_INT(a.nchallenges, 1);

	CHECK_EQ_INT(acme_msg_authz(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"ip\",\"value\":"
				      "\"2001:db8::1\"},\"challenges\":[]}"),
				    &a, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_STR(a.identifier, "2001:db8::1");
	CHECK_EQ_INT(acme_msg_authz(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"ip\",\"value\":"
				      "\"127.0.0.1\"},\"challenges\":[]}"),
				    &a, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_INT(acme_msg_authz(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"ip\",\"value\":"
				      "\"example.test\"},\"challenges\":[]}"),
				    &a, g_err, sizeof(g_err)),
		     WF_ERR);
	CHECK_EQ_STR(g_err, "authz: identifier value is not a valid name for its type");
	CHECK_EQ_INT(acme_msg_authz(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"email\",\"value\":"
				      "\"a@example.test\"},\"challenges\":[]}"),
				    &a, g_err, sizeof(g_err)),
		     WF_ERR);
	CHECK_EQ_STR(g_err, "authz: identifier type is neither dns nor ip");
	CHECK_EQ_INT(acme_msg_authz(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":"
				      "\"*.example.test\"},\"challenges\":[]}"),
				    &a, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_INT(acme_msg_authz(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":"
				      "\"a.*.example.test\"},\"challenges\":[]}"),
				    &a, g_err, sizeof(g_err)),
		     WF_ERR);
	CHECK_EQ_INT(acme_msg_authz(S("{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":"
				      "\"example.test.\"},\"challenges\":[]}"),
				    &a, g_err, sizeof(g_err)),
		     WF_ERR);
}

static void test_authz_invalid_challenge(void)
{
	acme_authz_t a;
	int rc = acme_msg_authz(
	    S("{\"status\":\"invalid\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},\"challenges\":"
	      "[{\"type\":\"http-01\",\"url\":\"https://127.0.0.1:14000/chalZ/1\",\"token\":\"tok1\",\"status\":"
	      "\"invalid\",\"error\":{\"type\":\"urn:ietf:params:acme:error:connection\",\"detail\":"
	      "\"127.0.0.1: Fetching http://a.example:5002/.well-known/acme-challenge/tok1:\\n"
	      "Connection refused\",\"status\":400}}]}"),
	    &a, g_err, sizeof(g_err));
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_INT(a.status, ACME_ST_INVALID);
	CHECK_EQ_INT(a.challenges[0].status, ACME_ST_INVALID);
	CHECK_EQ_STR(a.challenges[0].error.type, "urn:ietf:params:acme:error:connection");
	/* Control characters become spaces: the detail is logged as one line. */
	CHECK_EQ_STR(a.challenges[0].error.detail,
		     "127.0.0.1: Fetching http://a.example:5002/.well-known/acme-challenge/tok1: Connection refused");
	CHECK_EQ_INT(a.challenges[0].error.status, 400);
}

static void test_authz_challenge_cap(void)
{
	char doc[8192];
	size_t n = (size_t)snprintf(doc, sizeof(doc),
				    "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.b\"},"
				    "\"challenges\":[");
	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n,
				      "%s{\"type\":\"x-%d\",\"url\":\"https://a/c/%d\",\"status\":\"pending\"}",
				      i ? "," : "", i, i);
	/* Past the cap, even a broken entry is ignored. */
	snprintf(doc + n, sizeof(doc) - n, ",42]}");
	acme_authz_t a;
	CHECK_EQ_INT(acme_msg_authz(str_slice(doc), &a, g_err, sizeof(g_err)), WF_OK);
	CHECK_EQ_INT(a.nchallenges, ACME_MAX_CHALLENGES);
	CHECK_EQ_STR(a.challenges[7].type, "x-7");
	CHECK_EQ_STR(a.challenges[7].token, "");
}

static void check_authz_err(wf_slice_t doc, const char *want)
{
	acme_authz_t a;
	memset(&a, 0x5a, sizeof(a));
	CHECK_EQ_INT(acme_msg_authz(doc, &a, g_err, sizeof(g_err)), WF_ERR);
	CHECK(all_zero(&a, sizeof(a)));
	if (want)
		CHECK_EQ_STR(g_err, want);
}

#define AUTHZ_HEAD "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"
#define CHAL(tok)                                                                                                      \
	"\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://a/c\",\"status\":\"pending\",\"token\":" tok "}]}"

static void test_authz_errors(void)
{
	check_authz_err(S(AUTHZ_HEAD CHAL("\"../../etc/passwd\"")), "authz: challenges[0]: \"token\" is not base64url");
	check_authz_err(S(AUTHZ_HEAD CHAL("\"a/b\"")), NULL);
	check_authz_err(S(AUTHZ_HEAD CHAL("\"..\"")), NULL);
	check_authz_err(S(AUTHZ_HEAD CHAL("\"abc=\"")), NULL);
	check_authz_err(S(AUTHZ_HEAD CHAL("\"ab c\"")), NULL);
	check_authz_err(S(AUTHZ_HEAD CHAL("\"ab\\u0000c\"")), NULL);
	check_authz_err(S(AUTHZ_HEAD CHAL("\"\"")), NULL);
	check_authz_err(S(AUTHZ_HEAD CHAL("12345")), "authz: challenges[0]: \"token\" missing or not a string");
	check_authz_err(S(AUTHZ_HEAD "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://a/c\",\"status\":"
				     "\"pending\"}]}"),
			"authz: challenges[0]: \"token\" missing or not a string");
	check_authz_err(S(AUTHZ_HEAD "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://a/c d\",\"status\":"
				     "\"pending\",\"token\":\"t\"}]}"),
			"authz: challenges[0]: \"url\" is not an http(s) URL");
	check_authz_err(S(AUTHZ_HEAD "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://a/c\\\"d\",\"status\":"
				     "\"pending\",\"token\":\"t\"}]}"),
			NULL);
	check_authz_err(S(AUTHZ_HEAD "\"challenges\":[\"http-01\"]}"), "authz: challenges[0]: not an object");
	check_authz_err(S(AUTHZ_HEAD "\"challenges\":{}}"), "authz: \"challenges\" missing or not an array");
	check_authz_err(S(AUTHZ_HEAD "\"wildcard\":\"true\",\"challenges\":[]}"), "authz: \"wildcard\" not a boolean");
	check_authz_err(S("{\"status\":\"pending\",\"challenges\":[]}"),
			"authz: \"identifier\" missing or not an object");
	check_authz_err(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"../x\"},"
			  "\"challenges\":[]}"),
			NULL);
	check_authz_err(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a..b\"},"
			  "\"challenges\":[]}"),
			NULL);
	check_authz_err(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a b\"},"
			  "\"challenges\":[]}"),
			NULL);
	check_authz_err(S("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":7},"
			  "\"challenges\":[]}"),
			"authz: \"value\" missing or not a string");
	/* The challenge type is capped like every string. */
	check_authz_err(S(AUTHZ_HEAD "\"challenges\":[{\"type\":\"a-challenge-type-of-more-than-31-chars\",\"url\":"
				     "\"https://a/c\",\"status\":\"pending\"}]}"),
			"authz: challenges[0]: \"type\" longer than 31 bytes");
}

static void test_challenge(void)
{
	acme_challenge_t c;
	CHECK_EQ_INT(acme_msg_challenge(S("{\"type\":\"http-01\",\"url\":\"https://127.0.0.1:14000/chalZ/x\",\"token\":"
					  "\"Tk-_09\",\"status\":\"processing\"}"),
					&c, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_INT(c.status, ACME_ST_PROCESSING);
	CHECK_EQ_STR(c.token, "Tk-_09");
	/* A token is optional for types we do not know. */
	CHECK_EQ_INT(acme_msg_challenge(S("{\"type\":\"dns-persist-01\",\"url\":\"https://a/c\",\"status\":"
					  "\"pending\",\"issuer-domain-names\":[\"ca.example\"]}"),
					&c, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_STR(c.token, "");
	CHECK_EQ_INT(acme_msg_challenge(S("{\"type\":\"dns-01\",\"url\":\"https://a/c\",\"status\":\"pending\"}"), &c,
					g_err, sizeof(g_err)),
		     WF_ERR);
	CHECK(all_zero(&c, sizeof(c)));
}

/* ---- problems ---- */

static void test_problems(void)
{
	acme_problem_t p;
	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":"
					"\"JWS has an invalid anti-replay nonce: \\\"abc\\\"\",\"status\":400}"),
				      &p, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_STR(p.type, "urn:ietf:params:acme:error:badNonce");
	CHECK_EQ_STR(p.detail, "JWS has an invalid anti-replay nonce: \"abc\"");
	CHECK_EQ_INT(p.status, 400);
	CHECK_EQ_STR(p.identifier, "");

	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:ietf:params:acme:error:rateLimited\",\"detail\":"
					"\"too many certificates (5) already issued for this exact set of domains in "
					"the last 168h0m0s, retry after 2025-01-02 03:04:05 UTC\",\"status\":429}"),
				      &p, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_STR(p.type, "urn:ietf:params:acme:error:rateLimited");
	CHECK_EQ_INT(p.status, 429);

	/* RFC 8555 6.7.1 */
	CHECK_EQ_INT(
	    acme_msg_problem(S("{\n"
			       "    \"type\": \"urn:ietf:params:acme:error:malformed\",\n"
			       "    \"detail\": \"Some of the identifiers requested were rejected\",\n"
			       "    \"subproblems\": [\n"
			       "        {\n"
			       "            \"type\": \"urn:ietf:params:acme:error:malformed\",\n"
			       "            \"detail\": \"Invalid underscore in DNS name \\\"_example.org\\\"\",\n"
			       "            \"identifier\": {\n"
			       "                \"type\": \"dns\",\n"
			       "                \"value\": \"_example.org\"\n"
			       "            }\n"
			       "        },\n"
			       "        {\n"
			       "            \"type\": \"urn:ietf:params:acme:error:rejectedIdentifier\",\n"
			       "            \"detail\": \"This CA will not issue for \\\"example.net\\\"\",\n"
			       "            \"identifier\": {\n"
			       "                \"type\": \"dns\",\n"
			       "                \"value\": \"example.net\"\n"
			       "            }\n"
			       "        }\n"
			       "    ]\n"
			       "}"),
			     &p, g_err, sizeof(g_err)),
	    WF_OK);
	CHECK_EQ_STR(p.type, "urn:ietf:params:acme:error:malformed");
	CHECK_EQ_STR(p.identifier, "_example.org");
	CHECK_EQ_INT(p.status, 0);

	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":"
					"\"Error creating new order :: Cannot issue for \\\"blocked.example\\\"\","
					"\"status\":400,\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:"
					"rejectedIdentifier\",\"identifier\":{\"type\":\"dns\",\"value\":"
					"\"blocked.example\"}}]}"),
				      &p, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_STR(p.identifier, "blocked.example");

	/* A long detail is cut, not refused, and on a UTF-8 boundary. */
	char doc[2048];
	char detail[700];
	memset(detail, 'a', 510);
	strcpy(detail + 510, "\xc3\xa9tail");
	snprintf(doc, sizeof(doc), "{\"type\":\"urn:x\",\"detail\":\"%s\"}", detail);
	CHECK_EQ_INT(acme_msg_problem(str_slice(doc), &p, g_err, sizeof(g_err)), WF_OK);
	CHECK_EQ_INT(strlen(p.detail), 510);

	CHECK_EQ_INT(acme_msg_problem(S("{}"), &p, g_err, sizeof(g_err)), WF_OK);
	CHECK_EQ_STR(p.type, "");

	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:x\",\"status\":\"400\"}"), &p, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_STR(g_err, "problem: \"status\" not an integer");
	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:x\",\"status\":400.5}"), &p, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:x\",\"status\":-1}"), &p, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:x\",\"detail\":[]}"), &p, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:x\",\"subproblems\":{}}"), &p, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:x\",\"subproblems\":[1]}"), &p, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_STR(g_err, "problem: subproblems[0]: not an object");
	CHECK_EQ_INT(acme_msg_problem(S("{\"type\":\"urn:x\",\"subproblems\":[{\"identifier\":{\"type\":\"dns\","
					"\"value\":\"a/b\"}}]}"),
				      &p, g_err, sizeof(g_err)),
		     WF_ERR);
	CHECK(all_zero(&p, sizeof(p)));
}

/* ---- renewalInfo ---- */

static void test_renewal_info(void)
{
	acme_renewal_info_t r;
	CHECK_EQ_INT(acme_msg_renewal_info(S("{\"suggestedWindow\":{\"start\":\"2025-01-02T03:04:05Z\",\"end\":"
					     "\"2025-03-01T00:00:00Z\"},\"explanationURL\":"
					     "\"https://acme.example.com/docs/ari\"}"),
					   &r, g_err, sizeof(g_err)),
		     WF_OK);
	CHECK_EQ_INT(r.start, 1735787045);
	CHECK_EQ_INT(r.end, 1740787200);
	CHECK_EQ_STR(r.explanation, "https://acme.example.com/docs/ari");

	CHECK_EQ_INT(acme_msg_renewal_info(S("{\"suggestedWindow\":{\"start\":\"2025-01-02T03:04:05.5+00:00\","
					     "\"end\":\"2025-01-02T04:04:05.5+01:00\"}}"),
					   &r, g_err, sizeof(g_err)),
		     WF_ERR);
	CHECK_EQ_STR(g_err, "renewalInfo: suggestedWindow: \"end\" not after \"start\"");
	CHECK(all_zero(&r, sizeof(r)));

	CHECK_EQ_INT(acme_msg_renewal_info(S("{\"suggestedWindow\":{\"start\":\"2025-01-02T03:04:05Z\"}}"), &r, g_err,
					   sizeof(g_err)),
		     WF_ERR);
	CHECK_EQ_STR(g_err, "renewalInfo: suggestedWindow: \"end\" missing or not a string");
	CHECK_EQ_INT(acme_msg_renewal_info(S("{\"suggestedWindow\":{\"start\":\"2025-13-02T03:04:05Z\",\"end\":"
					     "\"2025-03-01T00:00:00Z\"}}"),
					   &r, g_err, sizeof(g_err)),
		     WF_ERR);
	CHECK_EQ_STR(g_err, "renewalInfo: suggestedWindow: \"start\" is not an RFC 3339 time");
	CHECK_EQ_INT(acme_msg_renewal_info(S("{\"suggestedWindow\":[]}"), &r, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_renewal_info(S("{\"suggestedWindow\":{\"start\":1735787045,\"end\":1740787200}}"), &r,
					   g_err, sizeof(g_err)),
		     WF_ERR);
}

/* ---- hostile input common to every decoder ---- */

static void check_all_err(wf_slice_t doc, const char *want_suffix)
{
	acme_directory_t d;
	acme_account_t a;
	acme_order_t o;
	acme_authz_t z;
	acme_challenge_t c;
	acme_problem_t p;
	acme_renewal_info_t r;
	CHECK_EQ_INT(acme_msg_directory(doc, &d, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_account(doc, &a, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_order(doc, &o, g_err, sizeof(g_err)), WF_ERR);
	CHECK(o.authorizations == NULL);
	CHECK_EQ_INT(acme_msg_authz(doc, &z, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_challenge(doc, &c, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_problem(doc, &p, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_INT(acme_msg_renewal_info(doc, &r, g_err, sizeof(g_err)), WF_ERR);
	if (want_suffix) {
		size_t n = strlen(g_err), m = strlen(want_suffix);
		CHECK(n >= m && strcmp(g_err + n - m, want_suffix) == 0);
		if (!(n >= m && strcmp(g_err + n - m, want_suffix) == 0))
			fprintf(stderr, "  got \"%s\"\n", g_err);
	}
}

static void test_hostile(void)
{
	check_all_err(S("[]"), ": not a JSON object");
	check_all_err(S("\"https://a/\""), ": not a JSON object");
	check_all_err(S("42"), ": not a JSON object");
	check_all_err(S("null"), ": not a JSON object");
	check_all_err(S("null "), ": not a JSON object");
	check_all_err(S(""), ": empty document");
	check_all_err((wf_slice_t){NULL, 0}, ": empty document");
	check_all_err(S(" \r\n\t"), ": empty document");
	check_all_err(S("{\"status\":\"valid\""), ": truncated JSON");
	check_all_err(S("{\"status\":\"val"), ": truncated JSON");
	check_all_err(S("{\"status\":\"valid\"} {}"), ": trailing data after JSON");
	check_all_err(S("{\"status\":\"valid\"}x"), ": trailing data after JSON");
	check_all_err(S("{'status':'valid'}"), NULL);
	check_all_err(S("{\"status\":\"valid\",}"), NULL);
	check_all_err(S("{\"status\":\"\xff\xfe\"}"), NULL);
	/* The slice is not a C string: a NUL does not end the document early. */
	check_all_err(S("{\"status\":\"valid\"}\0garbage"), ": NUL byte in document");
	check_all_err(S("{\"status\":\"va\0lid\"}"), ": NUL byte in document");

	/* Nesting deeper than the tokener's limit. */
	char deep[512];
	size_t n = 0;
	deep[n++] = '{';
	memcpy(deep + n, "\"a\":", 4);
	n += 4;
	for (int i = 0; i < 200; i++)
		deep[n++] = '[';
	for (int i = 0; i < 200; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	check_all_err((wf_slice_t){deep, n}, ": bad JSON: nesting too deep");

	/* Larger than 1 MiB, even when valid. */
	size_t big = (1u << 20) + 16;
	char *huge = malloc(big);
	memset(huge, ' ', big);
	memcpy(huge, "{\"status\":\"valid\"}", 18);
	check_all_err((wf_slice_t){huge, big}, ": document larger than 1048576 bytes");
	/* A huge string member inside the limit: refused by its field's cap. */
	memcpy(huge, "{\"status\":\"valid\",\"finalize\":\"https://a/", 40);
	memset(huge + 40, 'x', 900000);
	memcpy(huge + 900040, "\",\"orders\":\"https://a/\",\"authorizations\":[]}", 44);
	acme_order_t o;
	CHECK_EQ_INT(acme_msg_order((wf_slice_t){huge, 900084}, &o, g_err, sizeof(g_err)), WF_ERR);
	CHECK_EQ_STR(g_err, "order: \"finalize\" longer than 1023 bytes");
	free(huge);

	/* A tiny err buffer still gets a terminated message; NULL err is fine. */
	char small[8];
	acme_problem_t p;
	CHECK_EQ_INT(acme_msg_problem(S("[]"), &p, small, sizeof(small)), WF_ERR);
	CHECK_EQ_STR(small, "problem");
	CHECK_EQ_INT(acme_msg_problem(S("[]"), &p, NULL, 0), WF_ERR);
}

/* ---- Link ---- */

static char g_link[ACME_URL_MAX];

static int get_link(const char *hdr, const char *rel, const char *base)
{
	return acme_msg_link(str_slice(hdr), rel, base, g_link, sizeof(g_link));
}

static void check_link(const char *hdr, const char *rel, const char *base, const char *want)
{
	int rc = get_link(hdr, rel, base);
	if (rc != WF_OK || strcmp(g_link, want) != 0)
		fprintf(stderr, "link \"%s\" rel %s: rc %d \"%s\"\n", hdr, rel, rc, g_link);
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_STR(g_link, want);
}

static void check_no_link(const char *hdr, const char *rel, const char *base)
{
	int rc = get_link(hdr, rel, base);
	if (rc != WF_DECLINED)
		fprintf(stderr, "link \"%s\" rel %s: unexpected \"%s\"\n", hdr, rel, g_link);
	CHECK_EQ_INT(rc, WF_DECLINED);
	CHECK_EQ_STR(g_link, "");
}

static void test_link(void)
{
	const char *base = "https://127.0.0.1:14000/certZ/5a3e/alternate/0";
	/* What Pebble sends on a certificate, joined by the HTTP client. */
	const char *pebble = "<https://127.0.0.1:14000/dir>;rel=\"index\", "
			     "<https://127.0.0.1:14000/certZ/5a3e/alternate/1>;rel=\"alternate\", "
			     "<https://127.0.0.1:14000/certZ/5a3e/alternate/2>;rel=\"alternate\"";
	check_link(pebble, "index", base, "https://127.0.0.1:14000/dir");
	check_link(pebble, "alternate", base, "https://127.0.0.1:14000/certZ/5a3e/alternate/1");
	check_no_link(pebble, "up", base);
	check_no_link(pebble, "alt", base);

	check_link("<https://acme.example/acme/authz/1234>;rel=\"up\"", "up", NULL,
		   "https://acme.example/acme/authz/1234");
	check_link("<https://a/1>; rel=alternate,<https://a/2> ;  rel = up", "up", NULL, "https://a/2");
	check_link("<https://a/1>\t;\trel=alternate", "alternate", NULL, "https://a/1");
	check_link("<https://a/1>; REL=\"UP\"", "up", NULL, "https://a/1");
	check_link("<https://a/3>; rel=\"next  alternate\"", "alternate", NULL, "https://a/3");
	check_link("<https://a/3>; rel=\"next alternate\"", "next", NULL, "https://a/3");
	check_link("<https://a/3>; title=\"a, b; rel=up\"; rel=\"index\", <https://a/4>;rel=up", "up", NULL,
		   "https://a/4");
	check_link("<https://a/x,y>;rel=up", "up", NULL, "https://a/x,y");
	check_link("<https://a/1>;rel=\"u\\p\"", "up", NULL, "https://a/1");
	check_link(",, <https://a/1>;rel=up,", "up", NULL, "https://a/1");
	/* Malformed or unusable links are skipped, later ones still count. */
	check_link("garbage, <https://a/2>;rel=up", "up", NULL, "https://a/2");
	check_link("<https://a/1> junk;rel=up, <https://a/2>;rel=up", "up", NULL, "https://a/2");
	check_link("<ftp://a/1>;rel=up, <https://a/2>;rel=up", "up", NULL, "https://a/2");
	check_link("<https://a/ 1>;rel=up, <https://a/2>;rel=up", "up", NULL, "https://a/2");
	/* Only the first rel parameter counts (RFC 8288 3.3). */
	check_no_link("<https://a/1>; rel=\"index\"; rel=\"up\"", "up", NULL);
	check_no_link("<https://a/1>; title=\"up\"", "up", NULL);
	check_no_link("<https://a/1>", "up", NULL);
	check_no_link("<https://a/1>; rel", "up", NULL);
	check_no_link("<https://a/1>; rel=\"up", "up", NULL);
	check_no_link("<https://a/1;rel=up", "up", NULL);
	check_no_link("https://a/1;rel=up", "up", NULL);
	check_no_link("", "up", NULL);
	CHECK_EQ_INT(acme_msg_link((wf_slice_t){NULL, 0}, "up", NULL, g_link, sizeof(g_link)), WF_DECLINED);
	check_no_link("<https://a/1>;rel=up", "", NULL);

	/* Relative references. */
	check_link("</acme/cert/1/alt>;rel=\"alternate\"", "alternate", "https://ca.example:14000/acme/cert/1",
		   "https://ca.example:14000/acme/cert/1/alt");
	check_link("</x/../y/./z>;rel=up", "up", "https://h/a/b", "https://h/y/z");
	check_link("<alt/2>;rel=up", "up", "https://h/certZ/abc", "https://h/certZ/alt/2");
	check_link("<../x>;rel=up", "up", "https://h/a/b/c", "https://h/a/x");
	check_link("<../../../../x>;rel=up", "up", "https://h/a/b/c", "https://h/x");
	check_link("<./>;rel=up", "up", "https://h/a/b?q", "https://h/a/");
	check_link("<x>;rel=up", "up", "https://h", "https://h/x");
	check_link("<?page=2>;rel=next", "next", "https://h/list?page=1#f", "https://h/list?page=2");
	check_link("<#frag>;rel=next", "next", "https://h/list?page=1", "https://h/list?page=1#frag");
	check_link("<>;rel=self", "self", "https://h/list?page=1", "https://h/list?page=1");
	check_link("<//other.example/x>;rel=up", "up", "http://h/a", "http://other.example/x");
	check_link("<page/3?x=1>;rel=next", "next", "https://h:8443/orders/", "https://h:8443/orders/page/3?x=1");
	check_no_link("</x>;rel=up", "up", NULL);
	check_no_link("</x>;rel=up", "up", "not a url");
	check_no_link("</x y>;rel=up", "up", "https://h/");

	/* Too small an output buffer: nothing usable. */
	char tiny[8];
	CHECK_EQ_INT(acme_msg_link(S("<https://a/long>;rel=up"), "up", NULL, tiny, sizeof(tiny)), WF_DECLINED);
	CHECK_EQ_STR(tiny, "");
}

/* ---- Location ---- */

static void test_location(void)
{
	char out[ACME_URL_MAX];
	/* Absolute: as it is. */
	CHECK_EQ_INT(acme_msg_location("https://ca/order/1", "https://ca/new-order", out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, "https://ca/order/1");
	/* Relative (RFC 9110 10.2.2): against the request's URL. */
	CHECK_EQ_INT(acme_msg_location("/order/1", "https://ca.example:14000/acme/new-order", out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, "https://ca.example:14000/order/1");
	CHECK_EQ_INT(acme_msg_location("acct/7", "https://ca/acme/new-acct", out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, "https://ca/acme/acct/7");
	/* What cannot be made a URL. */
	CHECK_EQ_INT(acme_msg_location("/x y", "https://ca/a", out, sizeof(out)), WF_ERR);
	CHECK_EQ_INT(acme_msg_location("/x", "not a url", out, sizeof(out)), WF_ERR);
}

/* ---- Retry-After ---- */

static void test_retry_after(void)
{
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	CHECK_EQ_INT(acme_msg_retry_after(S("120"), now), 120);
	CHECK_EQ_INT(acme_msg_retry_after(S(" 5 "), now), 5);
	CHECK_EQ_INT(acme_msg_retry_after(S("0"), now), 0);
	CHECK_EQ_INT(acme_msg_retry_after(S("86400"), now), 86400);
	CHECK_EQ_INT(acme_msg_retry_after(S("86401"), now), 86400);
	CHECK_EQ_INT(acme_msg_retry_after(S("99999999999999999999999999"), now), 86400);
	CHECK_EQ_INT(acme_msg_retry_after(S("-5"), now), -1);
	CHECK_EQ_INT(acme_msg_retry_after(S("+5"), now), -1);
	CHECK_EQ_INT(acme_msg_retry_after(S("1.5"), now), -1);
	CHECK_EQ_INT(acme_msg_retry_after(S("12abc"), now), -1);
	CHECK_EQ_INT(acme_msg_retry_after(S("abc"), now), -1);
	CHECK_EQ_INT(acme_msg_retry_after(S(""), now), -1);
	CHECK_EQ_INT(acme_msg_retry_after(S("  "), now), -1);
	CHECK_EQ_INT(acme_msg_retry_after((wf_slice_t){NULL, 0}, now), -1);
	CHECK_EQ_INT(acme_msg_retry_after(S("Sun, 06 Nov 1994 08:50:37 GMT"), now), 60);
	CHECK_EQ_INT(acme_msg_retry_after(S("Sun, 06 Nov 1994 08:49:37 GMT"), now), 0);
	CHECK_EQ_INT(acme_msg_retry_after(S("Sat, 05 Nov 1994 08:49:37 GMT"), now), 0);
	CHECK_EQ_INT(acme_msg_retry_after(S("Fri, 31 Dec 9999 23:59:59 GMT"), now), 86400);
	CHECK_EQ_INT(acme_msg_retry_after(S("Sun, 06 Nov 1994 08:49:97 GMT"), now), -1);
	CHECK_EQ_INT(acme_msg_retry_after(S("tomorrow"), now), -1);
}

/* ---- RFC 3339 ---- */

static void check_time(const char *s, time_t want)
{
	time_t t = -1;
	int rc = acme_msg_time(s, &t);
	if (rc != WF_OK || t != want)
		fprintf(stderr, "time \"%s\": rc %d %lld\n", s, rc, (long long)t);
	CHECK_EQ_INT(rc, WF_OK);
	CHECK_EQ_INT(t, want);
}

static void check_time_err(const char *s)
{
	time_t t = -1;
	int rc = acme_msg_time(s, &t);
	if (rc != WF_ERR)
		fprintf(stderr, "time \"%s\" accepted as %lld\n", s, (long long)t);
	CHECK_EQ_INT(rc, WF_ERR);
}

static void test_time(void)
{
	check_time("2025-01-02T03:04:05Z", 1735787045);
	check_time("2025-01-02t03:04:05z", 1735787045);
	check_time("2025-01-02 03:04:05Z", 1735787045);
	check_time("2025-01-02T03:04:05.123456789Z", 1735787045);
	check_time("2025-01-02T03:04:05.9Z", 1735787045);
	check_time("2025-01-02T05:04:05+02:00", 1735787045);
	check_time("2025-01-01T22:04:05-05:00", 1735787045);
	check_time("2025-01-02T08:34:05.5+05:30", 1735787045);
	check_time("2025-01-02T03:04:05-00:00", 1735787045);
	check_time("2016-01-01T00:00:00Z", 1451606400);
	check_time("2024-02-29T12:00:00Z", 1709208000);
	check_time("2016-12-31T23:59:60Z", 1483228800);
	check_time("1994-11-06T08:49:37Z", 784111777);
	check_time_err("2025-13-02T03:04:05Z");
	check_time_err("2025-00-02T03:04:05Z");
	check_time_err("2025-01-00T03:04:05Z");
	check_time_err("2023-02-29T00:00:00Z");
	check_time_err("2025-04-31T00:00:00Z");
	check_time_err("2025-01-02T24:00:00Z");
	check_time_err("2025-01-02T03:60:05Z");
	check_time_err("2025-01-02T03:04:61Z");
	check_time_err("2025-01-02T03:04:05");
	check_time_err("2025-01-02T03:04:05.Z");
	check_time_err("2025-01-02T03:04:05Zjunk");
	check_time_err("2025-01-02T03:04:05+24:00");
	check_time_err("2025-01-02T03:04:05+02");
	check_time_err("2025-01-02T03:04:05+0200");
	check_time_err("2025-01-02");
	check_time_err("25-01-02T03:04:05Z");
	check_time_err("2025-1-02T03:04:05Z");
	check_time_err("2025-01-02X03:04:05Z");
	check_time_err("");
	check_time_err(NULL);
}

static void test_url_allowed(void)
{
	const char *le = "https://acme-v02.api.letsencrypt.org/directory";
	const char *local = "https://127.0.0.1:14000/dir";
	/* The CA's own host, or any public one, over https. */
	CHECK(acme_msg_url_allowed(le, "https://acme-v02.api.letsencrypt.org/acme/order/1/2"));
	CHECK(acme_msg_url_allowed(le, "https://ACME-V02.api.letsencrypt.org/acme/cert/3"));
	CHECK(acme_msg_url_allowed(le, "https://cdn.example.net/cert/3"));
	CHECK(acme_msg_url_allowed(le, "https://[2001:db8::1]/x"));
	CHECK(acme_msg_url_allowed(local, "https://127.0.0.1:14000/my-account/1"));   /* a test CA on loopback */
	CHECK(acme_msg_url_allowed("http://127.0.0.1:4001/dir", "http://127.0.0.1:4001/x"));
	CHECK(acme_msg_url_allowed("http://ca.test/dir", "https://ca.test/x"));
	/* Never down to plain http. */
	CHECK(!acme_msg_url_allowed(le, "http://acme-v02.api.letsencrypt.org/acme/cert/3"));
	CHECK(!acme_msg_url_allowed(local, "http://127.0.0.1:14000/x"));
	/* Never at this machine or its private networks, unless that is the CA. */
	CHECK(!acme_msg_url_allowed(le, "https://127.0.0.1:8443/.wharf/cluster/bundle/main"));
	CHECK(!acme_msg_url_allowed(le, "https://localhost/x"));
	CHECK(!acme_msg_url_allowed(le, "https://admin.localhost./x"));
	CHECK(!acme_msg_url_allowed(le, "https://10.1.2.3/x"));
	CHECK(!acme_msg_url_allowed(le, "https://172.20.0.1/x"));
	CHECK(!acme_msg_url_allowed(le, "https://192.168.1.1:443/x"));
	CHECK(!acme_msg_url_allowed(le, "https://169.254.169.254/latest/meta-data"));
	CHECK(!acme_msg_url_allowed(le, "https://0.0.0.0/x"));
	CHECK(!acme_msg_url_allowed(le, "https://[::1]:8443/x"));
	CHECK(!acme_msg_url_allowed(le, "https://[fd00::5]/x"));
	CHECK(!acme_msg_url_allowed(le, "https://[fe80::1]/x"));
	CHECK(!acme_msg_url_allowed(le, "https://[::ffff:127.0.0.1]/x"));
	CHECK(acme_msg_url_allowed(local, "https://127.0.0.1:15000/x"));  /* another port of the CA's host */
	CHECK(!acme_msg_url_allowed(local, "https://10.0.0.1/x"));          /* not the CA's host */
	CHECK(acme_msg_url_allowed(le, "https://172.32.0.1/x"));           /* just past 172.16/12 */
	/* Malformed, or with userinfo. */
	CHECK(!acme_msg_url_allowed(le, "https://acme-v02.api.letsencrypt.org@127.0.0.1/x"));
	CHECK(!acme_msg_url_allowed(le, "ftp://example.com/x"));
	CHECK(!acme_msg_url_allowed(le, "https:///x"));
	CHECK(!acme_msg_url_allowed(le, "https://[::1/x"));
}

int main(void)
{
	test_directory_pebble();
	test_directory_rfc();
	test_directory_letsencrypt();
	test_directory_errors();
	test_directory_profiles_cap();
	test_account();
	test_order_rfc();
	test_order_statuses();
	test_order_too_many();
	test_order_invalid_with_error();
	test_order_errors();
	test_order_long_url();
	test_authz_rfc();
	test_authz_pebble_shuffled();
	test_authz_wildcard_and_ip();
	test_authz_invalid_challenge();
	test_authz_challenge_cap();
	test_authz_errors();
	test_challenge();
	test_problems();
	test_renewal_info();
	test_hostile();
	test_link();
	test_location();
	test_retry_after();
	test_time();
	test_url_allowed();
	return check_report();
}
