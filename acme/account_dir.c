/* The account folder of a CA, one per directory URL. See account_dir.h. */
#include "account_dir.h"
#include "../server/base.h"
#include "../server/durable.h"
#include "../server/log.h"
#include "../transfer/path.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define READABLE_MAX 100
#define HASH_HEX 16

typedef struct readable {
	char s[READABLE_MAX + 1];
	size_t n;
} readable_t;

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* Appends p to the readable part: other bytes become one '_' a run, and the
 * name never starts with '.' (hidden, or "..") nor '-' (an option, to a shell). */
static void readable_add(readable_t *r, const char *p, size_t len, bool fold)
{
	for (size_t i = 0; i < len && r->n < READABLE_MAX; i++) {
		char c = fold ? lower(p[i]) : p[i];
		if (!plain(c) || (r->n == 0 && (c == '.' || c == '-')))
			c = '_';
		if (c == '_' && r->n && r->s[r->n - 1] == '_')
			continue;
		r->s[r->n++] = c;
	}
	r->s[r->n] = '\0';
}

/* Feeds p to the hash, in lower case when fold. */
static int hash_add(gnutls_hash_hd_t hd, const char *p, size_t len, bool fold)
{
	char chunk[64];
	while (len) {
		size_t k = len < sizeof(chunk) ? len : sizeof(chunk);
		for (size_t i = 0; i < k; i++)
			chunk[i] = fold ? lower(p[i]) : p[i];
		if (gnutls_hash(hd, chunk, k) < 0)
			return WF_ERR;
		p += k;
		len -= k;
	}
	return WF_OK;
}

/* The port as compared and written: leading zeros gone, "" when it is the
 * scheme's default (or none was written). */
static void port_of(const char *scheme, size_t slen, const char *p, size_t len, const char **out, size_t *olen)
{
	bool digits = len > 0;
	for (size_t i = 0; i < len; i++)
		digits &= p[i] >= '0' && p[i] <= '9';
	if (digits)
		while (len > 1 && p[0] == '0')
			p++, len--;
	const char *def = slen == 5 && strncasecmp(scheme, "https", 5) == 0 ? "443" :
			  slen == 4 && strncasecmp(scheme, "http", 4) == 0  ? "80" :
									      NULL;
	if (len == 0 || (digits && def && len == strlen(def) && memcmp(p, def, len) == 0))
		len = 0;
	*out = p;
	*olen = len;
}

int acme_account_dir_name(const char *url, char *out, size_t cap)
{
	if (cap < ACME_ACCOUNT_DIR_NAME_MAX)
		return WF_ERR;
	/* SCHEME "://" [USER "@"] HOST [":" PORT] [PATH] ["?" QUERY] ["#" FRAGMENT] */
	const char *sep = strstr(url, "://");
	const char *scheme = sep ? url : "";
	size_t slen = sep ? (size_t)(sep - url) : 0;
	const char *auth = sep ? sep + 3 : url;
	size_t alen = strcspn(auth, "/?#");
	const char *rest = auth + alen;
	size_t rlen = strcspn(rest, "#");
	for (size_t i = alen; i > 0; i--)
		if (auth[i - 1] == '@') { /* credentials name no CA, and have no place in a file name */
			alen -= i;
			auth += i;
			break;
		}
	const char *host = auth, *colon = NULL;
	if (host[0] == '[') {
		const char *close = memchr(host, ']', alen);
		colon = close && close + 1 < auth + alen && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(host, ':', alen);
	}
	size_t hlen = colon ? (size_t)(colon - host) : alen;
	const char *port;
	size_t plen;
	port_of(scheme, slen, colon ? colon + 1 : "", colon ? (size_t)(auth + alen - colon - 1) : 0, &port, &plen);

	readable_t r = { .n = 0 };
	r.s[0] = '\0';
	readable_add(&r, host, hlen, true);
	if (plen) {
		readable_add(&r, "_", 1, false);
		readable_add(&r, port, plen, false);
	}
	readable_add(&r, rest, rlen, false);
	while (r.n && r.s[r.n - 1] == '_')
		r.s[--r.n] = '\0';
	if (!r.n)
		readable_add(&r, "ca", 2, false);

	gnutls_hash_hd_t hd;
	if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0)
		return WF_ERR;
	unsigned char digest[32];
	bool ok = hash_add(hd, scheme, slen, true) == WF_OK && hash_add(hd, "://", 3, false) == WF_OK &&
		  hash_add(hd, host, hlen, true) == WF_OK;
	if (ok && plen)
		ok = hash_add(hd, ":", 1, false) == WF_OK && hash_add(hd, port, plen, false) == WF_OK;
	if (ok && !(rlen && rest[0] == '/')) /* "https://ca.example" is "https://ca.example/" */
		ok = hash_add(hd, "/", 1, false) == WF_OK;
	if (ok)
		ok = hash_add(hd, rest, rlen, false) == WF_OK;
	gnutls_hash_deinit(hd, digest);
	if (!ok)
		return WF_ERR;
	static const char hex[] = "0123456789abcdef";
	char h[HASH_HEX + 1];
	for (size_t i = 0; i < HASH_HEX / 2; i++) {
		h[2 * i] = hex[digest[i] >> 4];
		h[2 * i + 1] = hex[digest[i] & 15];
	}
	h[HASH_HEX] = '\0';
	snprintf(out, cap, "%s-%s", r.s, h);
	return WF_OK;
}

void acme_account_dir_legacy_name(const char *url, char *out, size_t cap)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	size_t n = 0, max = cap ? cap - 1 : 0;
	if (max > 255)
		max = 255;
	for (; *h && *h != '/' && n < max; h++)
		out[n++] = (*h == ':' || *h == '[' || *h == ']') ? '_' : *h;
	if (cap)
		out[n] = '\0';
}

/* The CA whose folder legacy was: the first in acme.cas named so, or NULL. */
static const char *legacy_owner(const wf_config_t *cfg, const char *legacy)
{
	char other[256];
	for (size_t i = 0; i < cfg->acme.ncas; i++) {
		if (!cfg->acme.cas[i].url)
			continue;
		acme_account_dir_legacy_name(cfg->acme.cas[i].url, other, sizeof(other));
		if (strcmp(other, legacy) == 0)
			return cfg->acme.cas[i].url;
	}
	return NULL;
}

int acme_account_dir_path(const wf_config_t *cfg, const wf_acme_ca_cfg_t *ca, char *out, size_t cap)
{
	char name[ACME_ACCOUNT_DIR_NAME_MAX], mine[ACME_ACCOUNT_DIR_NAME_MAX], legacy[256], base[4096];
	if (acme_account_dir_name(ca->url, name, sizeof(name)) != WF_OK)
		return WF_ERR;
	int n = snprintf(out, cap, "%s/acme/%s", cfg->state_dir, name);
	if (n < 0 || (size_t)n >= cap ||
	    (size_t)snprintf(base, sizeof(base), "%s/acme", cfg->state_dir) >= sizeof(base))
		return WF_ERR;
	acme_account_dir_legacy_name(ca->url, legacy, sizeof(legacy));
	if (!legacy[0] || !strcmp(legacy, ".") || !strcmp(legacy, "..") || !strcmp(legacy, name))
		return WF_OK;
	int dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) /* nothing there yet (or the account step will say why) */
		return WF_OK;
	int rc = WF_OK;
	struct stat st;
	const char *owner;
	/* The new folder exists, or its state cannot be known: it is used. An
	 * old name that is no folder holds no account. */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT ||
	    fstatat(dfd, legacy, &st, 0) != 0 || !S_ISDIR(st.st_mode) || !(owner = legacy_owner(cfg, legacy)))
		goto out;
	if (acme_account_dir_name(owner, mine, sizeof(mine)) != WF_OK || strcmp(mine, name) != 0) {
		wf_log_info("acme %s: %s/%s is the account folder of %s, the first CA on that host in acme.cas; this "
			    "one gets an account of its own in %s",
			    ca->url, base, legacy, owner, out);
		goto out;
	}
	if (xfer_path_rename_new(dfd, legacy, dfd, name) == 0) {
		wf_durable_sync_dir(dfd);
		wf_log_info("acme %s: the account folder %s/%s is now %s (one folder per directory URL)", ca->url, base,
			    legacy, out);
	} else if (errno != EEXIST && errno != ENOENT) { /* else another process took it over meanwhile */
		wf_log_warn("acme %s: cannot rename the account folder %s/%s to %s (%m); it is used where it is",
			    ca->url, base, legacy, name);
		n = snprintf(out, cap, "%s/%s", base, legacy);
		if (n < 0 || (size_t)n >= cap)
			rc = WF_ERR;
	}
out:
	close(dfd);
	return rc;
}
