/* ACME messages from the CA, decoded: pure functions over bytes (json-c).
 * The CA is distrusted like any peer: every string is capped, every list is
 * capped, wrong types are errors, unknown members are ignored. On failure the
 * function returns WF_ERR with a one-line reason in err and *out is zeroed.
 * URLs must be absolute http:// or https:// URLs of printable ASCII without
 * spaces or quotes (plain http for test CAs; TLS policy is the HTTP client's);
 * tokens must be base64url; identifier values must be DNS names or IP
 * literals. A problem's detail alone is cut to fit (it is only logged), with
 * control characters turned into spaces. */
#ifndef ACME_MSG_H
#define ACME_MSG_H

#include "../server/base.h"

#include <stdbool.h>
#include <time.h>

#define ACME_URL_MAX 1024
#define ACME_TOKEN_MAX 256
#define ACME_NAME_MAX 256 /* identifier value */
#define ACME_MAX_AUTHZ 100
#define ACME_MAX_CHALLENGES 8
#define ACME_MAX_PROFILES 16

typedef enum acme_status {
	ACME_ST_UNKNOWN,
	ACME_ST_PENDING,
	ACME_ST_READY,
	ACME_ST_PROCESSING,
	ACME_ST_VALID,
	ACME_ST_INVALID,
	ACME_ST_EXPIRED,
	ACME_ST_DEACTIVATED,
	ACME_ST_REVOKED,
} acme_status_t;

const char *acme_status_name(acme_status_t s);

typedef struct acme_problem {
	char type[128];   /* "urn:ietf:params:acme:error:badNonce", or "" */
	char detail[512];
	int status;       /* HTTP status inside the problem, 0 if absent */
	char identifier[ACME_NAME_MAX]; /* first subproblem's identifier value, if any */
} acme_problem_t;

typedef struct acme_directory {
	char new_nonce[ACME_URL_MAX];
	char new_account[ACME_URL_MAX];
	char new_order[ACME_URL_MAX];
	char revoke_cert[ACME_URL_MAX];
	char key_change[ACME_URL_MAX];
	char renewal_info[ACME_URL_MAX]; /* "" when the CA has no ARI */
	char terms_of_service[ACME_URL_MAX]; /* any URI scheme (Pebble's is data:) */
	bool eab_required;
	size_t nprofiles;
	char profiles[ACME_MAX_PROFILES][64]; /* meta.profiles names; extra or odd names skipped */
} acme_directory_t;

typedef struct acme_account {
	acme_status_t status;
	char orders[ACME_URL_MAX];
} acme_account_t;

typedef struct acme_order {
	acme_status_t status;
	char finalize[ACME_URL_MAX];
	char certificate[ACME_URL_MAX];
	size_t nauthz;
	char (*authorizations)[ACME_URL_MAX]; /* owned: nauthz URLs; free with acme_order_fini */
	acme_problem_t error;                 /* type "" when absent */
} acme_order_t;

typedef struct acme_challenge {
	char type[32]; /* "http-01", "tls-alpn-01", "dns-01", ... */
	char url[ACME_URL_MAX];
	char token[ACME_TOKEN_MAX];
	acme_status_t status;
	acme_problem_t error;
} acme_challenge_t;

typedef struct acme_authz {
	acme_status_t status;
	char identifier[ACME_NAME_MAX]; /* as the CA shows it (no "*." for wildcards) */
	bool wildcard;
	size_t nchallenges;
	acme_challenge_t challenges[ACME_MAX_CHALLENGES];
} acme_authz_t;

/* ARI (RFC 9773) suggested renewal window. */
typedef struct acme_renewal_info {
	time_t start, end;
	char explanation[ACME_URL_MAX];
} acme_renewal_info_t;

int acme_msg_directory(wf_slice_t json, acme_directory_t *out, char *err, size_t errlen);
int acme_msg_account(wf_slice_t json, acme_account_t *out, char *err, size_t errlen);
int acme_msg_order(wf_slice_t json, acme_order_t *out, char *err, size_t errlen);
void acme_order_fini(acme_order_t *o);
int acme_msg_authz(wf_slice_t json, acme_authz_t *out, char *err, size_t errlen);
int acme_msg_challenge(wf_slice_t json, acme_challenge_t *out, char *err, size_t errlen);
int acme_msg_problem(wf_slice_t json, acme_problem_t *out, char *err, size_t errlen);
int acme_msg_renewal_info(wf_slice_t json, acme_renewal_info_t *out, char *err, size_t errlen);

/* Finds rel="REL" in one or more Link header values (RFC 8288; each value may
 * hold several comma-separated links). Copies the first matching URI, made
 * absolute against base if relative, into out. WF_OK, or WF_DECLINED if none.
 * A matching link that is malformed, not http(s) or does not fit is skipped;
 * with base NULL, relative links are skipped. */
int acme_msg_link(wf_slice_t header, const char *rel, const char *base, char *out, size_t cap);
/* A Location header's URL resolved against the URL of the request it
 * answered (RFC 9110 10.2.2: it may be relative), as RFC 3986 5.2.2 says.
 * WF_OK with the absolute URL in out, or WF_ERR (malformed, too long).
 * Pure. */
int acme_msg_location(const char *location, const char *request_url, char *out, size_t cap);
/* May we follow url, given by the CA whose directory is at directory? Not
 * from https down to plain http (a network could then swap the answer), and
 * not to a host other than the directory's (any port of that one is fine)
 * that is loopback, private, link-local or unspecified as written (a hostile answer must not aim our
 * signed requests at services beside us). Userinfo ('@') is refused. Pure. */
bool acme_msg_url_allowed(const char *directory, const char *url);
/* Retry-After: delay-seconds or an HTTP date; returns seconds from now (>= 0),
 * capped at 86400, or -1 if absent or malformed. */
long acme_msg_retry_after(wf_slice_t value, time_t now);
/* RFC 3339 timestamp ("2025-01-02T03:04:05Z", fractions and offsets allowed).
 * WF_OK, or WF_ERR with *out set to 0. */
int acme_msg_time(const char *s, time_t *out);

#endif
