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
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STEP_TIMEOUT_MS 15000
#define HOOK_TIMEOUT 60.0
#define PEM_MAX (1 << 20)


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

/* The chain the server presents for sni, as PEM (leaf first). */
static int fetch_chain(int fd, const char *sni, wf_buf_t *pem, char *err, size_t errlen)
{
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	int rc = WF_ERR;
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return WF_ERR;
	if (gnutls_init(&s, GNUTLS_CLIENT) < 0) {
		gnutls_certificate_free_credentials(cred);
		return WF_ERR;
	}
	/* No verification here: the match with our own key below is the test. */
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
	gnutls_bye(s, GNUTLS_SHUT_WR);
	rc = WF_OK;
out:
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	return rc;
}

static int read_file(const char *path, wf_buf_t *out)
{
	return wf_durable_read(AT_FDCWD, path, PEM_MAX, out);
}

static int leaf_of(wf_slice_t chain_pem, gnutls_x509_crt_t *out)
{
	if (gnutls_x509_crt_init(out) < 0)
		return WF_ERR;
	gnutls_datum_t d = { (unsigned char *)chain_pem.ptr, (unsigned)chain_pem.len };
	if (gnutls_x509_crt_import(*out, &d, GNUTLS_X509_FMT_PEM) < 0) {
		gnutls_x509_crt_deinit(*out);
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

int acme_fetch_main(const char *target, const char *sni, const char *key_file, const char *out_dir,
		    char *const *hook)
{
	char host[512], port[16] = "443";
	snprintf(host, sizeof(host), "%s", target);
	char *colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']') && strchr(host, ':') == colon) {
		*colon = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	}
	char err[1200] = "";
	wf_buf_t key, chain, old;
	wf_buf_init(&key, PEM_MAX);
	wf_buf_init(&chain, PEM_MAX);
	wf_buf_init(&old, PEM_MAX);
	gnutls_x509_crt_t leaf = NULL, cur = NULL;
	gnutls_x509_privkey_t pk = NULL;
	int code = 1;

	if (read_file(key_file, &key) != WF_OK) {
		fprintf(stderr, "cert fetch: cannot read the key %s: %s\n", key_file, strerror(errno));
		goto out;
	}
	int fd = connect_to(host, port, err, sizeof(err));
	if (fd < 0 || fetch_chain(fd, sni, &chain, err, sizeof(err)) != WF_OK) {
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
	/* Ours: the certificate's public key is the one of our private key. */
	gnutls_datum_t kd = { (unsigned char *)wf_buf_head(&key), (unsigned)wf_buf_size(&key) };
	unsigned char id_cert[64], id_key[64];
	size_t l1 = sizeof(id_cert), l2 = sizeof(id_key);
	if (gnutls_x509_privkey_init(&pk) < 0 || gnutls_x509_privkey_import2(pk, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) < 0 ||
	    gnutls_x509_crt_get_key_id(leaf, GNUTLS_KEYID_USE_SHA256, id_cert, &l1) < 0 ||
	    gnutls_x509_privkey_get_key_id(pk, GNUTLS_KEYID_USE_SHA256, id_key, &l2) < 0 || l1 != l2 ||
	    memcmp(id_cert, id_key, l1) != 0) {
		fprintf(stderr, "cert fetch: the certificate %s presents for %s does not match the key %s\n", target, sni,
			key_file);
		goto out;
	}
	if (!gnutls_x509_crt_check_hostname(leaf, sni)) {
		fprintf(stderr, "cert fetch: the certificate does not cover %s\n", sni);
		goto out;
	}
	time_t now = time(NULL), not_after = gnutls_x509_crt_get_expiration_time(leaf),
	       not_before = gnutls_x509_crt_get_activation_time(leaf);
	if (not_after <= now) {
		fprintf(stderr, "cert fetch: the certificate %s presents has expired\n", target);
		goto out;
	}
	/* Newer than what we have, or nothing to do. */
	char cur_path[4200];
	snprintf(cur_path, sizeof(cur_path), "%s/cert.pem", out_dir);
	if (read_file(cur_path, &old) == WF_OK && leaf_of(wf_buf_slice(&old), &cur) == WF_OK &&
	    gnutls_x509_crt_get_activation_time(cur) >= not_before) {
		printf("cert fetch: %s is up to date (the server's certificate is not newer)\n", out_dir);
		code = 0;
		goto out;
	}
	bool changed = false;
	if (acme_output_write(out_dir, wf_buf_slice(&chain), wf_buf_slice(&key), &changed, err, sizeof(err)) != WF_OK) {
		fprintf(stderr, "cert fetch: %s\n", err);
		goto out;
	}
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
	gnutls_memset(wf_buf_head(&key), 0, wf_buf_size(&key));
	wf_buf_fini(&key);
	wf_buf_fini(&chain);
	wf_buf_fini(&old);
	return code;
}
