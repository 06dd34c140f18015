/* ACME message decoding: see msg.h. Every decoder parses the whole document
 * with json-c first (size and depth capped, strict JSON, valid UTF-8), then
 * copies each member it needs into fixed arrays after checking its type, its
 * length and its alphabet: nothing from the CA reaches the caller unchecked. */
#include "msg.h"

#include "../transfer/http_date.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MSG_INPUT_MAX (1u << 20)
/* The deepest document we read is authz > challenges > [i] > error >
 * subproblems > [0] > identifier: 7 levels. 16 leaves room for members we
 * skip while still stopping a stack of brackets early. */
#define MSG_DEPTH 16
#define RETRY_AFTER_MAX 86400

/* Where a decoder is, for its one-line error: "authz: challenges[2]". */
typedef struct dec {
	char *err;
	size_t errlen;
	const char *where;
} dec_t;

const char *acme_status_name(acme_status_t s)
{
	switch (s) {
	case ACME_ST_PENDING:
		return "pending";
	case ACME_ST_READY:
		return "ready";
	case ACME_ST_PROCESSING:
		return "processing";
	case ACME_ST_VALID:
		return "valid";
	case ACME_ST_INVALID:
		return "invalid";
	case ACME_ST_EXPIRED:
		return "expired";
	case ACME_ST_DEACTIVATED:
		return "deactivated";
	case ACME_ST_REVOKED:
		return "revoked";
	case ACME_ST_UNKNOWN:
		break;
	}
	return "unknown";
}

static WF_PRINTF(2, 3) int fail(const dec_t *d, const char *fmt, ...)
{
	if (!d->err || !d->errlen)
		return WF_ERR;
	int n = snprintf(d->err, d->errlen, "%s: ", d->where);
	if (n < 0 || (size_t)n >= d->errlen)
		return WF_ERR;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return WF_ERR;
}

/* An absolute http(s) URL we can hand to curl and write to a state file:
 * printable ASCII without the characters RFC 3986 never allows (so no space,
 * quote or angle bracket), and a non-empty host. Plain http:// is accepted
 * because test CAs and local proxies use it; TLS policy is the HTTP
 * client's business, not the decoder's. */
static bool url_ok(const char *s, size_t n)
{
	size_t i;
	if (n > 8 && memcmp(s, "https://", 8) == 0)
		i = 8;
	else if (n > 7 && memcmp(s, "http://", 7) == 0)
		i = 7;
	else
		return false;
	if (s[i] == '/' || s[i] == '?' || s[i] == '#')
		return false;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c))
			return false;
	}
	return true;
}

/* The scheme ("http"/"https") and authority of an absolute URL, or false. */
static bool url_parts(const char *url, bool *https, const char **auth, size_t *alen)
{
	if (strncasecmp(url, "https://", 8) == 0) {
		*https = true;
		*auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		*https = false;
		*auth = url + 7;
	} else {
		return false;
	}
	*alen = strcspn(*auth, "/?#");
	return *alen > 0;
}

/* A host that names this machine or its private networks, as written. */
static bool host_internal(const char *auth, size_t alen)
{
	char host[256];
	const char *end = auth + alen;
	if (auth[0] == '[') {
		const char *close = memchr(auth, ']', alen);
		if (!close || (size_t)(close - auth - 1) >= sizeof(host))
			return true; /* malformed: not followed */
		memcpy(host, auth + 1, (size_t)(close - auth - 1));
		host[close - auth - 1] = '\0';
		unsigned char a[16];
		if (inet_pton(AF_INET6, host, a) != 1)
			return true;
		static const unsigned char zero[16];
		bool v4mapped = memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff;
		if (v4mapped)
			return a[12] == 127 || a[12] == 10 || a[12] == 0 || (a[12] == 172 && (a[13] & 0xf0) == 16) ||
			       (a[12] == 192 && a[13] == 168) || (a[12] == 169 && a[13] == 254);
		return memcmp(a, zero, 15) == 0 /* :: and ::1 */ || (a[0] & 0xfe) == 0xfc /* fc00::/7 */ ||
		       (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 */;
	}
	const char *colon = memchr(auth, ':', alen);
	size_t hlen = (size_t)((colon ? colon : end) - auth);
	if (hlen == 0 || hlen >= sizeof(host))
		return true;
	memcpy(host, auth, hlen);
	host[hlen] = '\0';
	if (hlen > 0 && host[hlen - 1] == '.')
		host[--hlen] = '\0';
	if (strcasecmp(host, "localhost") == 0 || (hlen > 10 && strcasecmp(host + hlen - 10, ".localhost") == 0))
		return true;
	unsigned char a[4];
	if (inet_pton(AF_INET, host, a) != 1)
		return false; /* a name: what it resolves to is the resolver's business */
	return a[0] == 127 || a[0] == 10 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	       (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254);
}

/* The host part of an authority: up to its port ("[v6]" kept whole). */
static size_t host_len(const char *auth, size_t alen)
{
	if (auth[0] == '[') {
		const char *close = memchr(auth, ']', alen);
		return close ? (size_t)(close - auth) + 1 : alen;
	}
	const char *colon = memchr(auth, ':', alen);
	return colon ? (size_t)(colon - auth) : alen;
}

bool acme_msg_url_allowed(const char *directory, const char *url)
{
	bool dir_https, https;
	const char *dauth, *auth;
	size_t dlen, alen;
	if (!url_parts(directory, &dir_https, &dauth, &dlen) || !url_parts(url, &https, &auth, &alen))
		return false;
	if (memchr(auth, '@', alen) || (dir_https && !https))
		return false;
	/* The CA's own host, on any port: a test CA on loopback is fine, and
	 * so are its other ports. */
	size_t dh = host_len(dauth, dlen), h = host_len(auth, alen);
	if (dh == h && strncasecmp(auth, dauth, h) == 0)
		return true;
	return !host_internal(auth, alen);
}

/* A URI of any scheme (termsOfService is a data: URL at Pebble), shown to
 * people and stored, never fetched by us: printable ASCII only. */
static bool uri_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\')
			return false;
	}
	return true;
}

/* RFC 8555 8.3: the token is base64url without padding. Anything else is
 * refused because the token becomes a file name and a URL path segment. */
static bool token_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_'))
			return false;
	}
	return true;
}

/* Printable ASCII, no space: challenge types, problem types, profile names. */
static bool word_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Letter-digit-hyphen labels (underscore tolerated, "*" only as a whole
 * first label), no empty label: so never "..", "/" or a leading dot. */
static bool dns_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
			continue;
		}
		char c = s[i];
		if (c == '*') {
			if (i != 0 || (n > 1 && s[1] != '.'))
				return false;
		} else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			     c == '_')) {
			return false;
		}
		label++;
	}
	return true;
}

static bool ip_ok(const char *s, size_t n)
{
	char buf[64];
	unsigned char addr[16];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* Parses the whole slice as one JSON object. The slice is not NUL-terminated
 * and a NUL inside it is refused outright rather than left to json-c. */
static int parse_root(const dec_t *d, wf_slice_t json, json_object **root)
{
	*root = NULL;
	if (!json.ptr || json.len == 0)
		return fail(d, "empty document");
	if (json.len > MSG_INPUT_MAX)
		return fail(d, "document larger than %u bytes", MSG_INPUT_MAX);
	if (memchr(json.ptr, '\0', json.len))
		return fail(d, "NUL byte in document");
	/* Decided before json-c sees it: a bare scalar such as "42" or "null"
	 * would otherwise read as truncated (json-c waits for more digits). */
	size_t first = 0;
	while (first < json.len && (json.ptr[first] == ' ' || json.ptr[first] == '\t' || json.ptr[first] == '\r' ||
				    json.ptr[first] == '\n'))
		first++;
	if (first == json.len)
		return fail(d, "empty document");
	if (json.ptr[first] != '{')
		return fail(d, "not a JSON object");
	json_tokener *tok = json_tokener_new_ex(MSG_DEPTH);
	if (!tok)
		return fail(d, "out of memory");
	/* Trailing characters are allowed by json-c and refused below, which
	 * gives a clearer reason than json-c's "unexpected character". */
	json_tokener_set_flags(tok,
			       JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, json.ptr, (int)json.len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o) {
		if (jerr == json_tokener_success)
			return fail(d, "not a JSON object");
		if (jerr == json_tokener_continue)
			return fail(d, "truncated JSON");
		return fail(d, "bad JSON: %s", json_tokener_error_desc(jerr));
	}
	for (; end < json.len; end++) {
		char c = json.ptr[end];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(o);
			return fail(d, "trailing data after JSON");
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return fail(d, "not a JSON object");
	}
	*root = o;
	return WF_OK;
}

/* A member that is absent or null: NULL. */
static json_object *member(json_object *obj, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* *s is NULL when an optional member is absent. */
static int get_str(const dec_t *d, json_object *obj, const char *key, bool required, const char **s, size_t *n)
{
	json_object *v = member(obj, key);
	*s = NULL;
	*n = 0;
	if (!v && !required)
		return WF_OK;
	if (!v || !json_object_is_type(v, json_type_string))
		return fail(d, "\"%s\" missing or not a string", key);
	*s = json_object_get_string(v);
	*n = (size_t)json_object_get_string_len(v);
	return WF_OK;
}

enum kind { K_URL, K_URI, K_TOKEN, K_WORD };

/* Copies a checked string member. Never truncates: a string that does not
 * fit is an error, since a cut URL or token would point somewhere else. */
static int copy_str(const dec_t *d, json_object *obj, const char *key, bool required, enum kind kind, char *dst,
		    size_t cap)
{
	const char *s;
	size_t n;
	if (get_str(d, obj, key, required, &s, &n))
		return WF_ERR;
	if (!s)
		return WF_OK;
	if (n >= cap)
		return fail(d, "\"%s\" longer than %zu bytes", key, cap - 1);
	switch (kind) {
	case K_URL:
		if (!url_ok(s, n))
			return fail(d, "\"%s\" is not an http(s) URL", key);
		break;
	case K_URI:
		if (!uri_ok(s, n))
			return fail(d, "\"%s\" is not a URI", key);
		break;
	case K_TOKEN:
		if (!token_ok(s, n))
			return fail(d, "\"%s\" is not base64url", key);
		break;
	case K_WORD:
		if (!word_ok(s, n))
			return fail(d, "\"%s\" is empty or not printable ASCII", key);
		break;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return WF_OK;
}

/* Unknown status strings are not errors: a later RFC may add one, and the
 * state machine treats ACME_ST_UNKNOWN like an unexpected status. */
static int get_status(const dec_t *d, json_object *obj, acme_status_t *st)
{
	const char *s;
	size_t n;
	*st = ACME_ST_UNKNOWN;
	if (get_str(d, obj, "status", true, &s, &n))
		return WF_ERR;
	for (acme_status_t i = ACME_ST_PENDING; i <= ACME_ST_REVOKED; i++) {
		const char *name = acme_status_name(i);
		if (strlen(name) == n && memcmp(name, s, n) == 0)
			*st = i;
	}
	return WF_OK;
}

static int get_bool(const dec_t *d, json_object *obj, const char *key, bool *out)
{
	json_object *v = member(obj, key);
	*out = false;
	if (!v)
		return WF_OK;
	if (!json_object_is_type(v, json_type_boolean))
		return fail(d, "\"%s\" not a boolean", key);
	*out = json_object_get_boolean(v);
	return WF_OK;
}

/* identifier {type, value}: only the value is kept, checked by its type.
 * Other types (email, ...) are refused: wharf orders only dns and ip, so the
 * CA has no business showing anything else, and the value may end up in a
 * file name. */
static int identifier_obj(const dec_t *d, json_object *id, char out[ACME_NAME_MAX])
{
	const char *type, *value;
	size_t tn, vn;
	if (!id || !json_object_is_type(id, json_type_object))
		return fail(d, "\"identifier\" missing or not an object");
	if (get_str(d, id, "type", true, &type, &tn) || get_str(d, id, "value", true, &value, &vn))
		return WF_ERR;
	if (vn >= ACME_NAME_MAX)
		return fail(d, "identifier value longer than %d bytes", ACME_NAME_MAX - 1);
	bool ok;
	if (tn == 3 && memcmp(type, "dns", 3) == 0)
		ok = dns_name_ok(value, vn);
	else if (tn == 2 && memcmp(type, "ip", 2) == 0)
		ok = ip_ok(value, vn);
	else
		return fail(d, "identifier type is neither dns nor ip");
	if (!ok)
		return fail(d, "identifier value is not a valid name for its type");
	memcpy(out, value, vn);
	out[vn] = '\0';
	return WF_OK;
}

/* RFC 7807 detail is free text for a log line: cut at the field (on a UTF-8
 * boundary) rather than lose the problem type, control characters become
 * spaces so it stays one line. */
static void copy_detail(const char *s, size_t n, char *dst, size_t cap)
{
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	dst[n] = '\0';
}

static int problem_obj(const dec_t *d, json_object *o, acme_problem_t *p)
{
	const char *s;
	size_t n;
	if (copy_str(d, o, "type", false, K_WORD, p->type, sizeof(p->type)))
		return WF_ERR;
	if (get_str(d, o, "detail", false, &s, &n))
		return WF_ERR;
	if (s)
		copy_detail(s, n, p->detail, sizeof(p->detail));
	json_object *st = member(o, "status");
	if (st) {
		if (!json_object_is_type(st, json_type_int))
			return fail(d, "\"status\" not an integer");
		int64_t v = json_object_get_int64(st);
		if (v < 100 || v > 599)
			return fail(d, "\"status\" not an HTTP status");
		p->status = (int)v;
	}
	json_object *subs = member(o, "subproblems");
	if (subs) {
		if (!json_object_is_type(subs, json_type_array))
			return fail(d, "\"subproblems\" not an array");
		if (json_object_array_length(subs) > 0) {
			char where[128];
			snprintf(where, sizeof(where), "%s: subproblems[0]", d->where);
			dec_t sub = {d->err, d->errlen, where};
			json_object *first = json_object_array_get_idx(subs, 0);
			if (!first || !json_object_is_type(first, json_type_object))
				return fail(&sub, "not an object");
			json_object *id = member(first, "identifier");
			if (id && identifier_obj(&sub, id, p->identifier))
				return WF_ERR;
		}
	}
	return WF_OK;
}

/* An optional "error" member holding a problem document. */
static int error_member(const dec_t *d, json_object *obj, acme_problem_t *p)
{
	json_object *e = member(obj, "error");
	if (!e)
		return WF_OK;
	if (!json_object_is_type(e, json_type_object))
		return fail(d, "\"error\" not an object");
	char where[128];
	snprintf(where, sizeof(where), "%s: error", d->where);
	dec_t sub = {d->err, d->errlen, where};
	return problem_obj(&sub, e, p);
}

/* Challenge types whose token goes into a file name, a URL or a DNS record. */
static bool type_needs_token(const char *type)
{
	return strcmp(type, "http-01") == 0 || strcmp(type, "dns-01") == 0 || strcmp(type, "tls-alpn-01") == 0;
}

static int challenge_obj(const dec_t *d, json_object *o, acme_challenge_t *c)
{
	if (copy_str(d, o, "type", true, K_WORD, c->type, sizeof(c->type)) ||
	    copy_str(d, o, "url", true, K_URL, c->url, sizeof(c->url)) || get_status(d, o, &c->status) ||
	    copy_str(d, o, "token", type_needs_token(c->type), K_TOKEN, c->token, sizeof(c->token)) ||
	    error_member(d, o, &c->error))
		return WF_ERR;
	return WF_OK;
}

#define DECODE_BEGIN(what)                                                                                             \
	dec_t d = {err, errlen, what};                                                                                 \
	json_object *root = NULL;                                                                                      \
	int rc = WF_ERR;                                                                                               \
	memset(out, 0, sizeof(*out));                                                                                  \
	if (err && errlen)                                                                                             \
		err[0] = '\0';                                                                                         \
	if (parse_root(&d, json, &root))                                                                               \
		goto out;

/* Every decoder ends the same way: on failure nothing of a half-filled *out
 * survives. */
#define DECODE_END                                                                                                     \
	rc = WF_OK;                                                                                                    \
	out:                                                                                                           \
	json_object_put(root);                                                                                         \
	if (rc != WF_OK)                                                                                               \
		memset(out, 0, sizeof(*out));                                                                          \
	return rc;

int acme_msg_directory(wf_slice_t json, acme_directory_t *out, char *err, size_t errlen)
{
	DECODE_BEGIN("directory");
	/* revokeCert and keyChange are optional here although RFC 8555 lists
	 * them: issuance needs neither, and refusing a CA over them helps nobody. */
	if (copy_str(&d, root, "newNonce", true, K_URL, out->new_nonce, sizeof(out->new_nonce)) ||
	    copy_str(&d, root, "newAccount", true, K_URL, out->new_account, sizeof(out->new_account)) ||
	    copy_str(&d, root, "newOrder", true, K_URL, out->new_order, sizeof(out->new_order)) ||
	    copy_str(&d, root, "revokeCert", false, K_URL, out->revoke_cert, sizeof(out->revoke_cert)) ||
	    copy_str(&d, root, "keyChange", false, K_URL, out->key_change, sizeof(out->key_change)) ||
	    copy_str(&d, root, "renewalInfo", false, K_URL, out->renewal_info, sizeof(out->renewal_info)))
		goto out;
	json_object *meta = member(root, "meta");
	if (meta) {
		dec_t dm = {err, errlen, "directory: meta"};
		if (!json_object_is_type(meta, json_type_object)) {
			fail(&d, "\"meta\" not an object");
			goto out;
		}
		if (copy_str(&dm, meta, "termsOfService", false, K_URI, out->terms_of_service,
			     sizeof(out->terms_of_service)) ||
		    get_bool(&dm, meta, "externalAccountRequired", &out->eab_required))
			goto out;
		json_object *profiles = member(meta, "profiles");
		if (profiles && !json_object_is_type(profiles, json_type_object)) {
			fail(&dm, "\"profiles\" not an object");
			goto out;
		}
		/* Profiles only tell the operator what the CA offers: names that
		 * do not fit and names past the cap are skipped, not fatal. */
		if (profiles) {
			json_object_object_foreach(profiles, name, val)
			{
				(void)val;
				size_t n = strlen(name);
				if (out->nprofiles == ACME_MAX_PROFILES)
					break;
				if (n >= sizeof(out->profiles[0]) || !word_ok(name, n))
					continue;
				memcpy(out->profiles[out->nprofiles++], name, n + 1);
			}
		}
	}
	DECODE_END
}

int acme_msg_account(wf_slice_t json, acme_account_t *out, char *err, size_t errlen)
{
	DECODE_BEGIN("account");
	/* "orders" is optional: Let's Encrypt does not send it. */
	if (get_status(&d, root, &out->status) ||
	    copy_str(&d, root, "orders", false, K_URL, out->orders, sizeof(out->orders)))
		goto out;
	DECODE_END
}

void acme_order_fini(acme_order_t *o)
{
	free(o->authorizations);
	o->authorizations = NULL;
	o->nauthz = 0;
}

int acme_msg_order(wf_slice_t json, acme_order_t *out, char *err, size_t errlen)
{
	DECODE_BEGIN("order");
	if (get_status(&d, root, &out->status) ||
	    copy_str(&d, root, "finalize", true, K_URL, out->finalize, sizeof(out->finalize)) ||
	    copy_str(&d, root, "certificate", false, K_URL, out->certificate, sizeof(out->certificate)) ||
	    error_member(&d, root, &out->error))
		goto out;
	json_object *authz = member(root, "authorizations");
	if (!authz || !json_object_is_type(authz, json_type_array)) {
		fail(&d, "\"authorizations\" missing or not an array");
		goto out;
	}
	/* Unlike challenges, authorizations cannot be skipped: every one must
	 * be valid for the order to be ready, so too many is an error. */
	size_t n = json_object_array_length(authz);
	if (n > ACME_MAX_AUTHZ) {
		fail(&d, "more than %d authorizations", ACME_MAX_AUTHZ);
		goto out;
	}
	if (n) {
		out->authorizations = calloc(n, sizeof(*out->authorizations));
		if (!out->authorizations) {
			fail(&d, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(authz, i);
		if (!v || !json_object_is_type(v, json_type_string)) {
			fail(&d, "authorizations[%zu] not a string", i);
			goto out;
		}
		const char *s = json_object_get_string(v);
		size_t len = (size_t)json_object_get_string_len(v);
		if (len >= ACME_URL_MAX) {
			fail(&d, "authorizations[%zu] longer than %d bytes", i, ACME_URL_MAX - 1);
			goto out;
		}
		if (!url_ok(s, len)) {
			fail(&d, "authorizations[%zu] is not an http(s) URL", i);
			goto out;
		}
		memcpy(out->authorizations[i], s, len);
		out->authorizations[i][len] = '\0';
		out->nauthz = i + 1;
	}
	rc = WF_OK;
out:
	json_object_put(root);
	if (rc != WF_OK) {
		acme_order_fini(out);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

int acme_msg_authz(wf_slice_t json, acme_authz_t *out, char *err, size_t errlen)
{
	DECODE_BEGIN("authz");
	if (get_status(&d, root, &out->status) || identifier_obj(&d, member(root, "identifier"), out->identifier) ||
	    get_bool(&d, root, "wildcard", &out->wildcard))
		goto out;
	json_object *chals = member(root, "challenges");
	if (!chals || !json_object_is_type(chals, json_type_array)) {
		fail(&d, "\"challenges\" missing or not an array");
		goto out;
	}
	/* Challenges past the cap are ignored: any one of them completes the
	 * authz, and no CA offers more than a handful. */
	size_t n = json_object_array_length(chals);
	for (size_t i = 0; i < n && i < ACME_MAX_CHALLENGES; i++) {
		char where[64];
		snprintf(where, sizeof(where), "authz: challenges[%zu]", i);
		dec_t dc = {err, errlen, where};
		json_object *c = json_object_array_get_idx(chals, i);
		if (!c || !json_object_is_type(c, json_type_object)) {
			fail(&dc, "not an object");
			goto out;
		}
		if (challenge_obj(&dc, c, &out->challenges[i]))
			goto out;
		out->nchallenges = i + 1;
	}
	DECODE_END
}

int acme_msg_challenge(wf_slice_t json, acme_challenge_t *out, char *err, size_t errlen)
{
	DECODE_BEGIN("challenge");
	if (challenge_obj(&d, root, out))
		goto out;
	DECODE_END
}

int acme_msg_problem(wf_slice_t json, acme_problem_t *out, char *err, size_t errlen)
{
	DECODE_BEGIN("problem");
	if (problem_obj(&d, root, out))
		goto out;
	DECODE_END
}

static int time_member(const dec_t *d, json_object *obj, const char *key, time_t *t)
{
	const char *s;
	size_t n;
	if (get_str(d, obj, key, true, &s, &n))
		return WF_ERR;
	/* json-c strings are NUL-terminated, but may hold a \u0000 too. */
	if (strlen(s) != n || acme_msg_time(s, t))
		return fail(d, "\"%s\" is not an RFC 3339 time", key);
	return WF_OK;
}

int acme_msg_renewal_info(wf_slice_t json, acme_renewal_info_t *out, char *err, size_t errlen)
{
	DECODE_BEGIN("renewalInfo");
	json_object *win = member(root, "suggestedWindow");
	if (!win || !json_object_is_type(win, json_type_object)) {
		fail(&d, "\"suggestedWindow\" missing or not an object");
		goto out;
	}
	dec_t dw = {err, errlen, "renewalInfo: suggestedWindow"};
	if (time_member(&dw, win, "start", &out->start) || time_member(&dw, win, "end", &out->end))
		goto out;
	if (out->end <= out->start) {
		fail(&dw, "\"end\" not after \"start\"");
		goto out;
	}
	if (copy_str(&d, root, "explanationURL", false, K_URL, out->explanation, sizeof(out->explanation)))
		goto out;
	DECODE_END
}

/* ---- Link (RFC 8288) ---- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_tchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* After a malformed link-value, resumes at the next comma outside quotes. */
static const char *skip_link(const char *p, const char *end)
{
	bool quoted = false;
	for (; p < end; p++) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == ',')
			break;
	}
	return p;
}

/* A rel value is a space-separated list of relation types, compared
 * case-insensitively (RFC 8288 2.1.1). */
static bool rel_has(const char *v, size_t n, const char *rel)
{
	size_t rn = strlen(rel);
	size_t i = 0;
	while (i < n) {
		while (i < n && is_ows(v[i]))
			i++;
		size_t start = i;
		while (i < n && !is_ows(v[i]))
			i++;
		if (i - start == rn && rn && strncasecmp(v + start, rel, rn) == 0)
			return true;
	}
	return false;
}

/* RFC 3986 5.2.4, in place on a NUL-terminated path. */
static void remove_dot_segments(char *path)
{
	const char *in = path;
	char *o = path;
	size_t olen = 0;
	while (*in) {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0) {
			in += 2;
		} else if (strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			o[olen++] = '/';
			break;
		} else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
			bool last = in[3] == '\0';
			in += 3;
			while (olen > 0 && o[olen - 1] != '/')
				olen--;
			if (olen > 0)
				olen--;
			if (last) {
				o[olen++] = '/';
				break;
			}
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			break;
		} else {
			/* Output never outruns input: each step writes at most what it consumed. */
			if (*in == '/')
				o[olen++] = *in++;
			while (*in && *in != '/')
				o[olen++] = *in++;
		}
	}
	o[olen] = '\0';
}

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" (RFC 3986 3.1) */
static bool has_scheme(const char *ref, size_t rn)
{
	for (size_t i = 0; i < rn; i++) {
		char c = ref[i];
		if (c == ':')
			return i > 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
			return false;
	}
	return false;
}

/* RFC 3986 5.2.2 against an absolute http(s) base. References with a scheme
 * are kept as they are. */
static int resolve(const char *ref, size_t rn, const char *base, char *out, size_t cap)
{
	char path[2 * ACME_URL_MAX + 2];
	if (rn >= ACME_URL_MAX)
		return WF_ERR;
	if (has_scheme(ref, rn)) {
		if (rn >= cap || !url_ok(ref, rn))
			return WF_ERR;
		memcpy(out, ref, rn);
		out[rn] = '\0';
		return WF_OK;
	}
	if (!base)
		return WF_ERR;
	size_t bn = strlen(base);
	if (bn >= ACME_URL_MAX || !url_ok(base, bn))
		return WF_ERR;
	const char *auth = strstr(base, "://") + 3;
	const char *bpath = auth + strcspn(auth, "/?#");
	const char *bquery = bpath + strcspn(bpath, "?#");
	const char *bfrag = bquery + strcspn(bquery, "#");
	size_t rpath = 0;
	while (rpath < rn && ref[rpath] != '?' && ref[rpath] != '#')
		rpath++;
	int n;
	if (rn >= 2 && ref[0] == '/' && ref[1] == '/') {
		n = snprintf(out, cap, "%.*s%.*s", (int)(auth - 2 - base), base, (int)rn, ref);
	} else if (rpath == 0) {
		/* Same document: the base path, and its query unless ref has one. */
		if (rn > 0 && ref[0] == '?')
			n = snprintf(out, cap, "%.*s%.*s", (int)(bquery - base), base, (int)rn, ref);
		else
			n = snprintf(out, cap, "%.*s%.*s", (int)(bfrag - base), base, (int)rn, ref);
	} else {
		if (ref[0] == '/') {
			memcpy(path, ref, rpath);
			path[rpath] = '\0';
		} else {
			/* Merge with the base's directory (RFC 3986 5.2.3). */
			size_t dir = (size_t)(bquery - bpath);
			while (dir > 0 && bpath[dir - 1] != '/')
				dir--;
			if (dir == 0) {
				path[0] = '/';
				dir = 1;
			} else {
				memcpy(path, bpath, dir);
			}
			memcpy(path + dir, ref, rpath);
			path[dir + rpath] = '\0';
		}
		remove_dot_segments(path);
		n = snprintf(out, cap, "%.*s%s%.*s", (int)(bpath - base), base, path, (int)(rn - rpath), ref + rpath);
	}
	if (n < 0 || (size_t)n >= cap || (size_t)n >= ACME_URL_MAX || !url_ok(out, (size_t)n))
		return WF_ERR;
	return WF_OK;
}

int acme_msg_location(const char *location, const char *request_url, char *out, size_t cap)
{
	return resolve(location, strlen(location), request_url, out, cap);
}

/* Links that cannot be used (malformed, not http(s), too long) are skipped
 * and the search goes on, so a later usable link with the same rel wins. */
int acme_msg_link(wf_slice_t header, const char *rel, const char *base, char *out, size_t cap)
{
	if (!out || cap == 0)
		return WF_DECLINED;
	out[0] = '\0';
	if (!header.ptr || !rel || !*rel)
		return WF_DECLINED;
	const char *p = header.ptr, *end = header.ptr + header.len;
	while (p < end) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		if (p == end)
			break;
		if (*p != '<') {
			p = skip_link(p, end);
			continue;
		}
		const char *uri = ++p;
		while (p < end && *p != '>')
			p++;
		if (p == end)
			break;
		size_t urilen = (size_t)(p - uri);
		p++;
		bool match = false, seen_rel = false, bad = false;
		for (;;) {
			while (p < end && is_ows(*p))
				p++;
			if (p == end || *p == ',')
				break;
			if (*p != ';') {
				bad = true;
				break;
			}
			p++;
			while (p < end && is_ows(*p))
				p++;
			const char *name = p;
			while (p < end && is_tchar(*p))
				p++;
			size_t namelen = (size_t)(p - name);
			if (namelen == 0) {
				bad = true;
				break;
			}
			while (p < end && is_ows(*p))
				p++;
			char val[256];
			size_t vlen = 0;
			bool vlong = false;
			if (p < end && *p == '=') {
				p++;
				while (p < end && is_ows(*p))
					p++;
				if (p < end && *p == '"') {
					for (p++; p < end && *p != '"'; p++) {
						if (*p == '\\' && p + 1 < end)
							p++;
						if (vlen < sizeof(val))
							val[vlen++] = *p;
						else
							vlong = true;
					}
					if (p == end) {
						bad = true;
						break;
					}
					p++;
				} else {
					for (; p < end && is_tchar(*p); p++) {
						if (vlen < sizeof(val))
							val[vlen++] = *p;
						else
							vlong = true;
					}
				}
			}
			/* Only the first rel parameter counts (RFC 8288 3.3). */
			if (namelen == 3 && strncasecmp(name, "rel", 3) == 0 && !seen_rel) {
				seen_rel = true;
				match = !vlong && rel_has(val, vlen, rel);
			}
		}
		if (bad) {
			p = skip_link(p, end);
			continue;
		}
		if (match && resolve(uri, urilen, base, out, cap) == WF_OK)
			return WF_OK;
		out[0] = '\0';
	}
	out[0] = '\0';
	return WF_DECLINED;
}

/* ---- Retry-After and times ---- */

long acme_msg_retry_after(wf_slice_t value, time_t now)
{
	wf_slice_t v = wf_slice_trim(value);
	if (!v.ptr || v.len == 0)
		return -1;
	size_t i = 0;
	long secs = 0;
	while (i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9') {
		if (secs <= RETRY_AFTER_MAX)
			secs = secs * 10 + (v.ptr[i] - '0');
		i++;
	}
	if (i == v.len)
		return secs > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : secs;
	if (i > 0)
		return -1;
	time_t t;
	if (xfer_http_date_parse(v, &t) != WF_OK)
		return -1;
	if (t <= now)
		return 0;
	/* Compared before subtracting, so a far date cannot overflow. */
	if (t - now > RETRY_AFTER_MAX)
		return RETRY_AFTER_MAX;
	return (long)(t - now);
}

static int num(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return WF_ERR;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return WF_OK;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return WF_ERR;
	(*p)++;
	return WF_OK;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[month - 1];
}

int acme_msg_time(const char *s, time_t *out)
{
	const char *p = s;
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	*out = 0;
	if (!s)
		return WF_ERR;
	if (num(&p, 4, &year) || expect(&p, '-') || num(&p, 2, &mon) || expect(&p, '-') || num(&p, 2, &day))
		return WF_ERR;
	/* RFC 3339 5.6 allows a lower-case t and z, and a space "for readability". */
	if (*p != 'T' && *p != 't' && *p != ' ')
		return WF_ERR;
	p++;
	if (num(&p, 2, &hour) || expect(&p, ':') || num(&p, 2, &min) || expect(&p, ':') || num(&p, 2, &sec))
		return WF_ERR;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return WF_ERR;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (num(&p, 2, &oh) || expect(&p, ':') || num(&p, 2, &om) || oh > 23 || om > 59)
			return WF_ERR;
	} else {
		return WF_ERR;
	}
	if (*p != '\0')
		return WF_ERR;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 || min > 59 || sec > 60)
		return WF_ERR;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	/* A leap second (:60) lands on the next second, as timegm normalises. */
	*out = t - sign * (oh * 3600 + om * 60);
	return WF_OK;
}
