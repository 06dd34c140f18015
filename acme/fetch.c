/* wharf cert fetch: see fetch.h. A plain blocking client: it runs alone as
 * a command, with a deadline on every step. */
#include "fetch.h"
#include "command.h"
#include "output.h"
#include "../server/buf.h"
#include "../server/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STEP_TIMEOUT_MS 15000
#define HOOK_TIMEOUT 60.0
#define PEM_MAX (1 << 20)


/* HOST, HOST:PORT, [ADDRESS] or [ADDRESS]:PORT (IPv6), or a bare IPv6
 * address, which has no room for a port: it takes 443, and text that is
 * not an address (it would be one with a port glued on) is refused. Pure. */
static int parse_target(const char *target, char *host, size_t hostlen, char *port, size_t portlen, char *err,
			size_t errlen)
{
	const char *h = target, *p = NULL;
	size_t hlen;
	if (target[0] == '[') {
		const char *close = strchr(target, ']');
		if (!close || (close[1] && close[1] != ':')) {
			snprintf(err, errlen, "%s: an IPv6 address is written [ADDRESS] or [ADDRESS]:PORT", target);
			return WF_ERR;
		}
		h = target + 1;
		hlen = (size_t)(close - h);
		if (close[1] == ':')
			p = close + 2;
	} else {
		const char *colon = strchr(target, ':');
		hlen = strlen(target);
		if (colon && !strchr(colon + 1, ':')) {
			hlen = (size_t)(colon - target);
			p = colon + 1;
		} else if (colon) {
			char addr[INET6_ADDRSTRLEN + 64];
			struct in6_addr a6;
			snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(target, "%"), target); /* without a %zone */
			if (strlen(target) >= sizeof(addr) || inet_pton(AF_INET6, addr, &a6) != 1) {
				snprintf(err, errlen, "%s is not an IPv6 address: give one with a port as [ADDRESS]:PORT",
					 target);
				return WF_ERR;
			}
		}
	}
	if (hlen == 0 || hlen >= hostlen) {
		snprintf(err, errlen, "%s: no host, or one too long", target);
		return WF_ERR;
	}
	snprintf(host, hostlen, "%.*s", (int)hlen, h);
	if (!p) {
		snprintf(port, portlen, "443");
		return WF_OK;
	}
	char *end = NULL;
	errno = 0;
	unsigned long n = strtoul(p, &end, 10);
	if (!*p || *end || p[0] < '0' || p[0] > '9' || errno || n == 0 || n > 65535) {
		snprintf(err, errlen, "%s: the port must be a number from 1 to 65535", target);
		return WF_ERR;
	}
	snprintf(port, portlen, "%lu", n);
	return WF_OK;
}

static int connect_to(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { STEP_TIMEOUT_MS / 1000, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			snprintf(err, errlen, "cannot connect to %s port %s: %s", host, port, strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* The CAs a presented chain must lead to: those of ca_file, or the system's. */
static int load_trust(gnutls_certificate_credentials_t cred, const char *ca_file, char *err, size_t errlen)
{
	int n = ca_file ? gnutls_certificate_set_x509_trust_file(cred, ca_file, GNUTLS_X509_FMT_PEM)
			: gnutls_certificate_set_x509_system_trust(cred);
	if (n > 0)
		return WF_OK;
	if (ca_file)
		snprintf(err, errlen, "no CA certificate could be read from %s%s%s", ca_file, n < 0 ? ": " : "",
			 n < 0 ? gnutls_strerror(n) : "");
	else
		snprintf(err, errlen, "the system's trusted CAs could not be loaded%s%s (give them with --ca FILE)",
			 n < 0 ? ": " : "", n < 0 ? gnutls_strerror(n) : "");
	return WF_ERR;
}

/* The chain the server presents for sni, as PEM (leaf first), and in
 * *status GnuTLS's verdict on it: trust (cred, loaded by load_trust), the
 * name sni, TLS server use and the validity dates of every link. The
 * handshake itself does not verify, so that a refusal can say why. */
static int fetch_chain(int fd, const char *sni, gnutls_certificate_credentials_t cred, wf_buf_t *pem,
		       unsigned *status, char *err, size_t errlen)
{
	gnutls_session_t s;
	int rc = WF_ERR;
	if (gnutls_init(&s, GNUTLS_CLIENT) < 0)
		return WF_ERR;
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, sni, strlen(sni));
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, STEP_TIMEOUT_MS);
	int hs;
	do
		hs = gnutls_handshake(s);
	while (hs < 0 && !gnutls_error_is_fatal(hs));
	if (hs < 0) {
		snprintf(err, errlen, "TLS handshake failed: %s", gnutls_strerror(hs));
		goto out;
	}
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	for (unsigned i = 0; certs && i < n; i++) {
		gnutls_datum_t out = { NULL, 0 };
		if (gnutls_pem_base64_encode2("CERTIFICATE", &certs[i], &out) < 0)
			goto out;
		int ok = wf_buf_append(pem, out.data, out.size);
		gnutls_free(out.data);
		if (ok != WF_OK)
			goto out;
	}
	if (!n) {
		snprintf(err, errlen, "the server sent no certificate");
		goto out;
	}
	gnutls_typed_vdata_st vdata[] = {
		{ .type = GNUTLS_DT_DNS_HOSTNAME, .data = (unsigned char *)sni },
		{ .type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER },
	};
	int vr = gnutls_certificate_verify_peers(s, vdata, 2, status);
	if (vr < 0) {
		snprintf(err, errlen, "cannot verify the server's certificate: %s", gnutls_strerror(vr));
		goto out;
	}
	gnutls_bye(s, GNUTLS_SHUT_WR);
	rc = WF_OK;
out:
	gnutls_deinit(s);
	return rc;
}

/* GnuTLS's words for a verification status, without its opening sentence
 * ("The certificate is NOT trusted."), which the caller says itself. */
static void status_reason(unsigned status, char *out, size_t outlen)
{
	gnutls_datum_t d = { NULL, 0 };
	snprintf(out, outlen, "status 0x%x", status);
	if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &d, 0) < 0)
		return;
	const char *text = (const char *)d.data, *skip = "The certificate is NOT trusted. ";
	if (strncmp(text, skip, strlen(skip)) == 0 && text[strlen(skip)])
		text += strlen(skip);
	snprintf(out, outlen, "%s", text);
	gnutls_free(d.data);
}

static void utc_text(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Whether leaf, verified and valid now, should replace cur (DIR's
 * cert.pem). Only a verified certificate is ever installed, so cur's
 * dates are the CA's; but a folder written by hand, or by a wharf that did
 * not verify, may hold one whose notBefore lies in the future or that has
 * expired: that one is replaced, so it cannot hold back real renewals.
 * Otherwise the later notBefore wins, then the later notAfter; the same
 * certificate, or an older one, is no change. */
static bool leaf_is_newer(gnutls_x509_crt_t leaf, gnutls_x509_crt_t cur, time_t now)
{
	if (gnutls_x509_crt_equals(leaf, cur))
		return false;
	time_t cur_from = gnutls_x509_crt_get_activation_time(cur), cur_until = gnutls_x509_crt_get_expiration_time(cur);
	if (cur_from == (time_t)-1 || cur_until == (time_t)-1 || cur_from > now || cur_until <= now)
		return true;
	time_t from = gnutls_x509_crt_get_activation_time(leaf), until = gnutls_x509_crt_get_expiration_time(leaf);
	return from > cur_from || (from == cur_from && until > cur_until);
}

static int read_file(const char *path, wf_buf_t *out)
{
	return wf_durable_read(AT_FDCWD, path, PEM_MAX, out);
}

/* The private key of key_file, or WF_ERR with why it cannot be one: read
 * before any connection, so that a wrong file is named as such and not
 * taken for a certificate that "does not match the key". */
static int load_key(const char *key_file, wf_buf_t *key, gnutls_x509_privkey_t *pk, char *err, size_t errlen)
{
	if (read_file(key_file, key) != WF_OK) {
		snprintf(err, errlen, "cannot read the key %s: %s", key_file, strerror(errno));
		return WF_ERR;
	}
	if (wf_buf_size(key) == 0) {
		snprintf(err, errlen, "the key file %s is empty", key_file);
		return WF_ERR;
	}
	gnutls_datum_t kd = { (unsigned char *)wf_buf_head(key), (unsigned)wf_buf_size(key) };
	int rc = gnutls_x509_privkey_init(pk);
	if (rc >= 0)
		rc = gnutls_x509_privkey_import2(*pk, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		snprintf(err, errlen, "the key file %s holds no usable private key (PEM, unencrypted): %s", key_file,
			 gnutls_strerror(rc));
		return WF_ERR;
	}
	return WF_OK;
}

/* path's parent folder, as a path: "." for a bare name, "/" at the root. Pure. */
static void parent_of(const char *path, char *out, size_t outlen)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0)
		snprintf(out, outlen, ".");
	else
		snprintf(out, outlen, "%.*s", (int)n, path);
}

/* --out, checked before any connection: a folder there, or one fetch is
 * to make (*make). Only the last folder is made: a missing parent is more
 * likely a typo than a wish, and a tree made by root where the admin did
 * not look is a surprise, so it is refused (certbot makes its own live/
 * folders, but --out is a path the admin names). */
static int check_out_dir(const char *dir, bool *make, char *err, size_t errlen)
{
	struct stat st;
	*make = false;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return WF_OK;
		snprintf(err, errlen, "--out %s is not a folder", dir);
		return WF_ERR;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "cannot use --out %s: %s", dir, strerror(errno));
		return WF_ERR;
	}
	char parent[4200];
	parent_of(dir, parent, sizeof(parent));
	if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "--out %s: its parent folder %s %s; fetch makes only the last folder of --out, create the "
			 "parent first",
			 dir, parent, errno == ENOENT ? "does not exist" : "is not a folder");
		return WF_ERR;
	}
	*make = true;
	return WF_OK;
}

/* The folder check_out_dir found missing, 0700 as the files it holds are
 * a key's, and said in one line. */
static int make_out_dir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return WF_ERR;
	}
	char parent[4200];
	parent_of(dir, parent, sizeof(parent));
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0) {
		wf_durable_sync_dir(pfd); /* a crash may forget the folder: the next fetch makes it again */
		close(pfd);
	}
	printf("cert fetch: created the folder %s (mode 0700)\n", dir);
	return WF_OK;
}

static int leaf_of(wf_slice_t chain_pem, gnutls_x509_crt_t *out)
{
	if (gnutls_x509_crt_init(out) < 0)
		return WF_ERR;
	gnutls_datum_t d = { (unsigned char *)chain_pem.ptr, (unsigned)chain_pem.len };
	if (gnutls_x509_crt_import(*out, &d, GNUTLS_X509_FMT_PEM) < 0) {
		gnutls_x509_crt_deinit(*out);
		*out = NULL; /* the caller frees what is left set */
		return WF_ERR;
	}
	return WF_OK;
}

static void on_hook_done(void *owner, bool ok)
{
	*(int *)owner = ok ? WF_OK : WF_ERR;
}

/* The hook runs like the daemon's (acme/command.c: own process group,
 * timeout, one line on its exit); this one-shot tool just waits for it. */
static int run_hook(char *const *hook, const char *dir, const char *sni)
{
	char e1[64] = "WHARF_EVENT=fetched", e2[4200], e3[600];
	snprintf(e2, sizeof(e2), "WHARF_OUTPUT_DIR=%s", dir);
	snprintf(e3, sizeof(e3), "WHARF_DOMAINS=%s", sni);
	char *vars[] = { e1, e2, e3, NULL };
	size_t n = 0;
	while (hook[n])
		n++;
	int result = WF_ERR;
	struct ev_loop *loop = EV_DEFAULT;
	if (!acme_cmd_run(loop, hook, n, NULL, vars, HOOK_TIMEOUT, "cert fetch: hook", on_hook_done, &result))
		return WF_ERR;
	ev_run(loop, 0); /* returns once the child and its timer are done */
	return result;
}

int acme_fetch_main(const char *target, const char *sni, const char *key_file, const char *ca_file,
		    const char *out_dir, char *const *hook)
{
	char host[512], port[16], err[2 * 4200 + 300] = "", when[32]; /* room for two paths */
	wf_buf_t key, chain, old;
	wf_buf_init(&key, PEM_MAX);
	wf_buf_init(&chain, PEM_MAX);
	wf_buf_init(&old, PEM_MAX);
	gnutls_x509_crt_t leaf = NULL, cur = NULL;
	gnutls_x509_privkey_t pk = NULL;
	gnutls_certificate_credentials_t cred = NULL;
	unsigned status = 0;
	int code = 1;
	bool make_out = false;

	/* Everything local first: with no server reachable, a wrong --key,
	 * --ca or --out would otherwise hide behind "cannot connect". */
	if (parse_target(target, host, sizeof(host), port, sizeof(port), err, sizeof(err)) != WF_OK ||
	    load_key(key_file, &key, &pk, err, sizeof(err)) != WF_OK ||
	    check_out_dir(out_dir, &make_out, err, sizeof(err)) != WF_OK) {
		fprintf(stderr, "cert fetch: %s\n", err);
		goto out;
	}
	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		cred = NULL;
		fprintf(stderr, "cert fetch: out of memory\n");
		goto out;
	}
	if (load_trust(cred, ca_file, err, sizeof(err)) != WF_OK) {
		fprintf(stderr, "cert fetch: %s\n", err);
		goto out;
	}
	int fd = connect_to(host, port, err, sizeof(err));
	if (fd < 0 || fetch_chain(fd, sni, cred, &chain, &status, err, sizeof(err)) != WF_OK) {
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "cert fetch: %s\n", err[0] ? err : "cannot fetch the certificate");
		goto out;
	}
	close(fd);
	if (leaf_of(wf_buf_slice(&chain), &leaf) != WF_OK) {
		fprintf(stderr, "cert fetch: the server's certificate does not parse\n");
		goto out;
	}
	/* Trusted first: the public key is public, so anyone can make a
	 * certificate that matches it; only a CA's signature says the name is
	 * ours. The leaf's own dates get words of their own below. */
	const unsigned dates = GNUTLS_CERT_INVALID | GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_EXPIRED;
	if ((status & ~dates) == GNUTLS_CERT_UNEXPECTED_OWNER) {
		fprintf(stderr, "cert fetch: the certificate %s presents does not cover %s\n", target, sni);
		goto out;
	}
	if (status & ~dates) {
		status_reason(status, err, sizeof(err));
		fprintf(stderr, "cert fetch: the certificate %s presents for %s is not trusted%s: %s\n", target, sni,
			ca_file ? " by --ca" : "", err);
		goto out;
	}
	time_t now = time(NULL), not_after = gnutls_x509_crt_get_expiration_time(leaf),
	       not_before = gnutls_x509_crt_get_activation_time(leaf);
	if (not_before == (time_t)-1 || not_before > now) {
		utc_text(not_before, when, sizeof(when));
		fprintf(stderr, "cert fetch: the certificate %s presents is not yet valid (not before %s)\n", target,
			when);
		goto out;
	}
	if (not_after == (time_t)-1 || not_after <= now) {
		utc_text(not_after, when, sizeof(when));
		fprintf(stderr, "cert fetch: the certificate %s presents has expired (not after %s)\n", target, when);
		goto out;
	}
	if (status) { /* the leaf is in date: a CA of its chain is not */
		status_reason(status, err, sizeof(err));
		fprintf(stderr, "cert fetch: the certificate %s presents for %s is not trusted%s: %s\n", target, sni,
			ca_file ? " by --ca" : "", err);
		goto out;
	}
	/* Ours: the certificate's public key is the one of our private key. */
	unsigned char id_cert[64], id_key[64];
	size_t l1 = sizeof(id_cert), l2 = sizeof(id_key);
	if (gnutls_x509_crt_get_key_id(leaf, GNUTLS_KEYID_USE_SHA256, id_cert, &l1) < 0 ||
	    gnutls_x509_privkey_get_key_id(pk, GNUTLS_KEYID_USE_SHA256, id_key, &l2) < 0 || l1 != l2 ||
	    memcmp(id_cert, id_key, l1) != 0) {
		fprintf(stderr, "cert fetch: the certificate %s presents for %s does not match the key %s\n", target, sni,
			key_file);
		goto out;
	}
	/* What a killed write left: the names are ours, no write of ours runs. */
	int swept = acme_output_sweep(out_dir);
	if (swept)
		printf("cert fetch: removed %d temp file%s an interrupted write left in %s\n", swept,
		       swept == 1 ? "" : "s", out_dir);
	/* Newer than what we have, or nothing to do. The same certificate as
	 * cert.pem still goes through the write, which compares all five files:
	 * a write killed between its renames leaves cert.pem new beside an old
	 * fullchain.pem, and only a rewrite (with its hook) mends the set. */
	char cur_path[4200];
	snprintf(cur_path, sizeof(cur_path), "%s/cert.pem", out_dir);
	bool same = false;
	if (read_file(cur_path, &old) == WF_OK && leaf_of(wf_buf_slice(&old), &cur) == WF_OK) {
		same = gnutls_x509_crt_equals(leaf, cur);
		if (!same && !leaf_is_newer(leaf, cur, now)) {
			printf("cert fetch: %s is up to date (the server's certificate is not newer)\n", out_dir);
			code = 0;
			goto out;
		}
	}
	bool changed = false;
	if (make_out && make_out_dir(out_dir, err, sizeof(err)) != WF_OK) {
		fprintf(stderr, "cert fetch: %s\n", err);
		goto out;
	}
	if (acme_output_write(out_dir, wf_buf_slice(&chain), wf_buf_slice(&key), &changed, err, sizeof(err)) != WF_OK) {
		fprintf(stderr, "cert fetch: %s\n", err);
		goto out;
	}
	if (same && !changed) {
		printf("cert fetch: %s is up to date (the server's certificate is not newer)\n", out_dir);
		code = 0;
		goto out;
	}
	if (same)
		printf("cert fetch: rewrote the files in %s that lagged behind cert.pem\n", out_dir);
	else
		printf("cert fetch: installed the certificate of %s for %s in %s\n", target, sni, out_dir);
	code = 0;
	if (changed && hook && hook[0] && run_hook(hook, out_dir, sni) != WF_OK)
		code = 1;
out:
	if (leaf)
		gnutls_x509_crt_deinit(leaf);
	if (cur)
		gnutls_x509_crt_deinit(cur);
	if (pk)
		gnutls_x509_privkey_deinit(pk);
	if (cred)
		gnutls_certificate_free_credentials(cred);
	gnutls_memset(wf_buf_head(&key), 0, wf_buf_size(&key));
	wf_buf_fini(&key);
	wf_buf_fini(&chain);
	wf_buf_fini(&old);
	return code;
}
