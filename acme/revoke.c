/* Certificate revocation from the command line: see revoke.h. */
#include "revoke.h"
#include "b64url.h"
#include "client.h"
#include "status.h"
#include "../server/durable.h"
#include "../transfer/path.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct revoke_ctx {
	acme_client_t *cl;
	struct ev_loop *loop;
	const char *name;
	acme_key_t *cert_key; /* owned: signs the request when there is no account at this CA */
	wf_buf_t payload;
	int code;
} revoke_ctx_t;

/* Moves issued.pem aside under a name no earlier revocation holds: each
 * revoked certificate stays for audit (its serial, its dates). The first
 * keeps the name it always had; later ones carry their serial, the form
 * `cert list` shows, so a name leads to the CA's record. Never replaces:
 * a name taken (a copy put back by hand) moves on to the next. The chosen
 * name is left in as; WF_ERR with errno when none could be taken. */
static int set_aside(int dfd, const char *serial, char *as, size_t aslen)
{
	for (int i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(as, aslen, "issued.pem.revoked");
		else if (i == 1)
			snprintf(as, aslen, "issued.pem.revoked.%s", serial);
		else
			snprintf(as, aslen, "issued.pem.revoked.%s.%d", serial, i);
		if (xfer_path_rename_new(dfd, "issued.pem", dfd, as) == 0) {
			wf_durable_sync_dir(dfd); /* moved either way: a crash at worst brings it back */
			return WF_OK;
		}
		if (errno != EEXIST)
			break;
	}
	return WF_ERR;
}

static void on_revoked(void *arg, const acme_reply_t *r)
{
	revoke_ctx_t *x = arg;
	if (!r->curl_code && r->status == 200) {
		printf("certificate %s: revoked\n", x->name);
		x->code = 0;
	} else if (r->local) {
		fprintf(stderr, "certificate %s: revocation failed: %s\n", x->name, r->error ? r->error : "?");
	} else if (r->curl_code) {
		fprintf(stderr, "certificate %s: revocation failed: no answer from the CA: %s\n", x->name,
			r->error ? r->error : "?");
	} else {
		fprintf(stderr, "certificate %s: revocation refused: HTTP %ld: %s%s%s\n", x->name, r->status,
			r->problem.type, r->problem.type[0] ? ": " : "", r->problem.detail);
	}
	ev_break(x->loop, EVBREAK_ALL);
}

static void on_ready(void *arg, bool ok, const acme_ready_why_t *why)
{
	revoke_ctx_t *x = arg;
	if (!ok) {
		fprintf(stderr, "certificate %s: cannot reach the CA account: %s\n", x->name, why->problem.detail);
		ev_break(x->loop, EVBREAK_ALL);
		return;
	}
	const char *url = acme_client_directory(x->cl)->revoke_cert;
	if (!url[0]) {
		fprintf(stderr, "certificate %s: the CA offers no revocation (no revokeCert in its directory)\n", x->name);
		ev_break(x->loop, EVBREAK_ALL);
		return;
	}
	wf_buf_append(&x->payload, "", 1);
	if (x->cert_key)
		acme_client_post_key(x->cl, x->cert_key, url, wf_buf_head(&x->payload), on_revoked, x);
	else
		acme_client_post(x->cl, url, wf_buf_head(&x->payload), on_revoked, x);
}

int acme_revoke_main(wf_config_t *cfg, const char *name)
{
	const wf_cert_cfg_t *c = wf_config_cert(cfg, name);
	if (!c) {
		fprintf(stderr, "wharf cert revoke: no certificate named \"%s\" in %s\n", name, cfg->path);
		return 1;
	}
	if (!cfg->acme.ncas) {
		fprintf(stderr, "wharf cert revoke: %s has no acme block\n", cfg->path);
		return 1;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/certs/%s", cfg->state_dir, name);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	wf_buf_t pem;
	wf_buf_init(&pem, 1 << 20);
	if (dfd < 0 || wf_durable_read(dfd, "issued.pem", 1 << 20, &pem) != WF_OK) {
		fprintf(stderr, "wharf cert revoke: %s has no issued certificate (%s/issued.pem: %s)\n", name, dir,
			strerror(errno));
		if (dfd >= 0)
			close(dfd);
		wf_buf_fini(&pem);
		return 1;
	}
	gnutls_x509_crt_t crt;
	gnutls_datum_t in = { (unsigned char *)wf_buf_head(&pem), (unsigned)wf_buf_size(&pem) }, der = { 0 };
	revoke_ctx_t x = { .name = name, .code = 1 };
	wf_buf_init(&x.payload, 64 * 1024);
	gnutls_x509_crt_init(&crt);
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0) {
		fprintf(stderr, "wharf cert revoke: %s/issued.pem does not parse\n", dir);
		goto out;
	}
	unsigned char sn[64];
	size_t snlen = sizeof(sn);
	char serial[2 * sizeof(sn) + 1] = "";
	if (gnutls_x509_crt_get_serial(crt, sn, &snlen) == 0)
		for (size_t i = 0; i < snlen; i++)
			snprintf(serial + 2 * i, 3, "%02x", sn[i]);
	wf_buf_append_str(&x.payload, "{\"certificate\":\"");
	acme_b64url_append(&x.payload, der.data, der.size);
	wf_buf_append_str(&x.payload, "\"}");
	x.loop = ev_loop_new(EVFLAG_AUTO);
	/* The CA that issued it, which need not be the one in use now: after
	 * failures the manager moves on to the next. */
	acme_status_rec_t rec;
	acme_status_load(cfg->state_dir, name, &rec);
	char why[400];
	int ca = acme_status_issuing_ca(cfg, &rec, why, sizeof(why));
	if (ca < 0) {
		fprintf(stderr, "wharf cert revoke: %s: %s\n", name, why);
		goto out;
	}
	x.cl = acme_client_new(x.loop, cfg, &cfg->acme.cas[ca]);
	if (!x.cl) {
		fprintf(stderr, "wharf cert revoke: cannot set up the ACME client\n");
		goto out;
	}
	/* No account there (it was lost, or never made): the certificate's own
	 * key signs the request (RFC 8555 7.6), rather than a new account made
	 * only to be refused, as it would not be the one that ordered. */
	bool by_key = !acme_client_account_stored(x.cl);
	if (by_key) {
		x.cert_key = acme_key_load(wf_buf_slice(&pem));
		if (!x.cert_key) {
			fprintf(stderr, "wharf cert revoke: %s: no account at %s, and the key in %s/issued.pem does not "
				"load\n", name, cfg->acme.cas[ca].url, dir);
			goto out;
		}
		acme_client_without_account(x.cl);
	}
	printf("certificate %s: revoking at %s (%s), signed with %s\n", name, cfg->acme.cas[ca].url, why,
	       by_key ? "the certificate's own key (no account there)" : "the account key");
	fflush(stdout);
	acme_client_ready(x.cl, on_ready, &x);
	ev_run(x.loop, 0);
	if (x.code == 0) {
		/* Set aside, not deleted: the next start orders a replacement.
		 * Only if it still is the one revoked: a daemon beside us may have
		 * stored a renewal meanwhile, and that one is good. */
		wf_buf_t now;
		char as[200];
		wf_buf_init(&now, 1 << 20);
		bool same = wf_durable_read(dfd, "issued.pem", 1 << 20, &now) == WF_OK &&
			    wf_buf_size(&now) == wf_buf_size(&pem) &&
			    memcmp(wf_buf_head(&now), wf_buf_head(&pem), wf_buf_size(&pem)) == 0;
		if (now.data)
			gnutls_memset(now.data, 0, now.cap);
		wf_buf_fini(&now);
		if (!same)
			printf("certificate %s: issued.pem changed while it was revoked (a renewal stored a new one): "
			       "left as it is\n", name);
		else if (set_aside(dfd, serial[0] ? serial : "unknown-serial", as, sizeof(as)) == WF_OK)
			printf("certificate %s: serial %s moved to %s; a replacement is ordered at the next start "
			       "or SIGHUP\n", name, serial[0] ? serial : "(unreadable)", as);
		else {
			/* Left in place it would be served on, and never replaced. */
			fprintf(stderr, "certificate %s: revoked, but %s/issued.pem could not be set aside: %s; move it "
				"away by hand, then restart or SIGHUP\n", name, dir, strerror(errno));
			x.code = 1;
		}
	}
out:
	acme_client_free(x.cl);
	acme_key_free(x.cert_key);
	if (x.loop)
		ev_loop_destroy(x.loop);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	wf_buf_fini(&x.payload);
	wf_buf_fini(&pem);
	close(dfd);
	return x.code;
}
