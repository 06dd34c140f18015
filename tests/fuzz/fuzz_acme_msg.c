/* ACME message decoders: never read outside their input, never leak, and
 * whatever they accept holds what msg.h promises (terminated strings, http(s)
 * URLs, base64url tokens, capped counts); whatever they refuse is zeroed.
 * The first byte picks the decoder (0-9), any other value runs them all. */
#include "acme/msg.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "invariant broken: %s\n", what);
	abort();
}

#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

static bool is_url(const char *s)
{
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Empty, or an http(s) URL. */
static void check_url(const char *s, size_t cap, bool required, const char *what)
{
	if (!memchr(s, '\0', cap))
		fail(what);
	if ((required || *s) && !is_url(s))
		fail(what);
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void check_problem(const acme_problem_t *p)
{
	if (!TERMINATED(p->type) || !TERMINATED(p->detail) || !TERMINATED(p->identifier))
		fail("problem strings");
	for (const char *c = p->detail; *c; c++)
		if ((unsigned char)*c < 0x20)
			fail("problem detail control character");
	if (p->status != 0 && (p->status < 100 || p->status > 599))
		fail("problem status");
}

static void check_challenge(const acme_challenge_t *c)
{
	if (!TERMINATED(c->type) || !TERMINATED(c->token) || !c->type[0])
		fail("challenge strings");
	check_url(c->url, sizeof(c->url), true, "challenge url");
	for (const char *t = c->token; *t; t++)
		if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '-' ||
		      *t == '_'))
			fail("challenge token alphabet");
	if (!c->token[0] &&
	    (!strcmp(c->type, "http-01") || !strcmp(c->type, "dns-01") || !strcmp(c->type, "tls-alpn-01")))
		fail("challenge token missing");
	if ((unsigned)c->status > ACME_ST_REVOKED)
		fail("challenge status");
	check_problem(&c->error);
}

static void run_directory(wf_slice_t in)
{
	acme_directory_t d;
	char err[256];
	if (acme_msg_directory(in, &d, err, sizeof(err)) != WF_OK) {
		if (!all_zero(&d, sizeof(d)) || !TERMINATED(err))
			fail("directory not zeroed");
		return;
	}
	check_url(d.new_nonce, sizeof(d.new_nonce), true, "newNonce");
	check_url(d.new_account, sizeof(d.new_account), true, "newAccount");
	check_url(d.new_order, sizeof(d.new_order), true, "newOrder");
	check_url(d.revoke_cert, sizeof(d.revoke_cert), false, "revokeCert");
	check_url(d.key_change, sizeof(d.key_change), false, "keyChange");
	check_url(d.renewal_info, sizeof(d.renewal_info), false, "renewalInfo");
	/* termsOfService may be any URI (Pebble's is data:). */
	if (!TERMINATED(d.terms_of_service) || strchr(d.terms_of_service, ' '))
		fail("termsOfService");
	if (d.nprofiles > ACME_MAX_PROFILES)
		fail("nprofiles");
	for (size_t i = 0; i < d.nprofiles; i++)
		if (!TERMINATED(d.profiles[i]) || !d.profiles[i][0])
			fail("profile name");
}

static void run_account(wf_slice_t in)
{
	acme_account_t a;
	char err[256];
	if (acme_msg_account(in, &a, err, sizeof(err)) != WF_OK) {
		if (!all_zero(&a, sizeof(a)))
			fail("account not zeroed");
		return;
	}
	check_url(a.orders, sizeof(a.orders), false, "account orders");
	if ((unsigned)a.status > ACME_ST_REVOKED)
		fail("account status");
}

static void run_order(wf_slice_t in)
{
	acme_order_t o;
	char err[256];
	if (acme_msg_order(in, &o, err, sizeof(err)) != WF_OK) {
		if (!all_zero(&o, sizeof(o)))
			fail("order not zeroed");
		return;
	}
	if (o.nauthz > ACME_MAX_AUTHZ || (o.nauthz && !o.authorizations))
		fail("nauthz");
	check_url(o.finalize, sizeof(o.finalize), true, "finalize");
	check_url(o.certificate, sizeof(o.certificate), false, "certificate");
	for (size_t i = 0; i < o.nauthz; i++)
		check_url(o.authorizations[i], sizeof(o.authorizations[i]), true, "authorization");
	check_problem(&o.error);
	acme_order_fini(&o);
	if (o.authorizations || o.nauthz)
		fail("order fini");
}

static void run_authz(wf_slice_t in)
{
	acme_authz_t a;
	char err[256];
	if (acme_msg_authz(in, &a, err, sizeof(err)) != WF_OK) {
		if (!all_zero(&a, sizeof(a)))
			fail("authz not zeroed");
		return;
	}
	if (!TERMINATED(a.identifier) || !a.identifier[0] || strstr(a.identifier, "..") || strchr(a.identifier, '/'))
		fail("authz identifier");
	if (a.nchallenges > ACME_MAX_CHALLENGES)
		fail("nchallenges");
	for (size_t i = 0; i < a.nchallenges; i++)
		check_challenge(&a.challenges[i]);
}

static void run_challenge(wf_slice_t in)
{
	acme_challenge_t c;
	char err[256];
	if (acme_msg_challenge(in, &c, err, sizeof(err)) != WF_OK) {
		if (!all_zero(&c, sizeof(c)))
			fail("challenge not zeroed");
		return;
	}
	check_challenge(&c);
}

static void run_problem(wf_slice_t in)
{
	acme_problem_t p;
	char err[256];
	if (acme_msg_problem(in, &p, err, sizeof(err)) != WF_OK) {
		if (!all_zero(&p, sizeof(p)))
			fail("problem not zeroed");
		return;
	}
	check_problem(&p);
}

static void run_renewal_info(wf_slice_t in)
{
	acme_renewal_info_t r;
	char err[256];
	if (acme_msg_renewal_info(in, &r, err, sizeof(err)) != WF_OK) {
		if (!all_zero(&r, sizeof(r)))
			fail("renewalInfo not zeroed");
		return;
	}
	if (r.end <= r.start)
		fail("renewal window");
	check_url(r.explanation, sizeof(r.explanation), false, "explanationURL");
}

static void run_link(wf_slice_t in)
{
	static const char *const rels[] = {"up", "alternate", "next", "index"};
	for (size_t i = 0; i < WF_ARRAY_LEN(rels); i++) {
		char out[ACME_URL_MAX];
		memset(out, 'X', sizeof(out));
		int rc = acme_msg_link(in, rels[i], "https://ca.example:14000/acme/cert/abc?x=1", out, sizeof(out));
		if (rc == WF_OK)
			check_url(out, sizeof(out), true, "link");
		else if (rc != WF_DECLINED || out[0])
			fail("link declined");
	}
	/* A small output: never written past its end. */
	char small[16];
	if (acme_msg_link(in, "up", NULL, small, sizeof(small)) == WF_OK)
		check_url(small, sizeof(small), true, "small link");
}

static void run_retry_after(wf_slice_t in)
{
	long s = acme_msg_retry_after(in, 1735787045);
	if (s < -1 || s > 86400)
		fail("retry-after range");
}

static void run_time(const char *s)
{
	time_t t;
	if (acme_msg_time(s, &t) != WF_OK && t != 0)
		fail("time not zeroed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned sel = data[0];
	size--;
	/* An exact-size copy so any over-read hits ASan's redzone; a second,
	 * NUL-terminated one for the C-string API. */
	char *copy = malloc(size ? size : 1);
	char *cstr = malloc(size + 1);
	memcpy(copy, data + 1, size);
	memcpy(cstr, data + 1, size);
	cstr[size] = '\0';
	wf_slice_t in = {copy, size};
	bool all = sel > 9;
	if (all || sel == 0)
		run_directory(in);
	if (all || sel == 1)
		run_account(in);
	if (all || sel == 2)
		run_order(in);
	if (all || sel == 3)
		run_authz(in);
	if (all || sel == 4)
		run_challenge(in);
	if (all || sel == 5)
		run_problem(in);
	if (all || sel == 6)
		run_renewal_info(in);
	if (all || sel == 7)
		run_link(in);
	if (all || sel == 8)
		run_retry_after(in);
	if (all || sel == 9)
		run_time(cstr);
	free(cstr);
	free(copy);
	return 0;
}
