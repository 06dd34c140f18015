/* Certificates on disk: see cert_state.h. */
#include "cert_state.h"
#include "cert_selfsigned.h"
#include "durable.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PEM_MAX (1 << 20)

static int open_cert_dir(const char *state_dir, const char *name, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/certs/%s", state_dir, name);
	if (wf_durable_mkdirs(path, 0700) != WF_OK) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	return fd;
}

/* Loads a pair if it is present and usable; NULL (quietly) when absent. */
static wf_certkey_t *load_pair(int dfd, const wf_cert_cfg_t *c, const char *cert_name, const char *key_name,
			       bool provisional, time_t min_left)
{
	wf_buf_t cert, key;
	wf_buf_init(&cert, PEM_MAX);
	wf_buf_init(&key, PEM_MAX);
	wf_certkey_t *ck = NULL;
	if (wf_durable_read(dfd, cert_name, PEM_MAX, &cert) != WF_OK ||
	    wf_durable_read(dfd, key_name, PEM_MAX, &key) != WF_OK) {
		if (errno != ENOENT)
			wf_log_warn("certificate %s: cannot read %s/%s: %m", c->name, cert_name, key_name);
		goto out;
	}
	if (!wf_certkey_pem_covers(wf_buf_slice(&cert), c->domains, c->ndomains)) {
		wf_log_info("certificate %s: stored %s does not cover the configured domains", c->name, cert_name);
		goto out;
	}
	char err[256];
	ck = wf_certkey_new(c->name, c->domains, c->ndomains, wf_buf_slice(&cert), wf_buf_slice(&key), provisional,
			    err, sizeof(err));
	if (!ck) {
		wf_log_warn("certificate %s: stored %s is unusable: %s", c->name, cert_name, err);
		goto out;
	}
	if (ck->not_after - time(NULL) < min_left) {
		wf_log_info("certificate %s: stored %s expires %s", c->name, cert_name,
			    ck->not_after < time(NULL) ? "has expired" : "within a week");
		wf_certkey_unref(ck);
		ck = NULL;
	}
out:
	wf_buf_fini(&cert);
	wf_buf_fini(&key);
	return ck;
}

wf_certkey_t *wf_certstate_load(const char *state_dir, const wf_cert_cfg_t *c, char *err, size_t errlen)
{
	int dfd = open_cert_dir(state_dir, c->name, err, errlen);
	if (dfd < 0)
		return NULL;
	wf_certkey_t *ck = load_pair(dfd, c, "cert.pem", "key.pem", false, 1);
	if (!ck)
		ck = load_pair(dfd, c, "selfsigned.pem", "selfsigned.key", true, 7 * 86400);
	if (ck)
		goto out;

	wf_buf_t cert, key;
	wf_buf_init(&cert, PEM_MAX);
	wf_buf_init(&key, PEM_MAX);
	if (wf_selfsigned_make(c->domains, c->ndomains, &cert, &key) != WF_OK) {
		snprintf(err, errlen, "cannot generate a self-signed certificate");
	} else if (wf_durable_write(dfd, "selfsigned.key", wf_buf_head(&key), wf_buf_size(&key), 0600) != WF_OK ||
		   wf_durable_write(dfd, "selfsigned.pem", wf_buf_head(&cert), wf_buf_size(&cert), 0644) != WF_OK) {
		snprintf(err, errlen, "cannot write the provisional certificate in %s/certs/%s: %s", state_dir,
			 c->name, strerror(errno));
	} else {
		ck = wf_certkey_new(c->name, c->domains, c->ndomains, wf_buf_slice(&cert), wf_buf_slice(&key), true,
				    err, errlen);
		if (ck)
			wf_log_info("certificate %s: made a provisional self-signed certificate for %s%s", c->name,
				    c->domains[0], c->ndomains > 1 ? " and more" : "");
	}
	wf_buf_fini(&cert);
	wf_buf_fini(&key);
out:
	close(dfd);
	return ck;
}

int wf_certstate_save_issued(const char *state_dir, const char *name, wf_slice_t chain_pem, wf_slice_t key_pem,
			     char *err, size_t errlen)
{
	int dfd = open_cert_dir(state_dir, name, err, errlen);
	if (dfd < 0)
		return WF_ERR;
	int rc = WF_OK;
	if (wf_durable_write(dfd, "key.pem", key_pem.ptr, key_pem.len, 0600) != WF_OK ||
	    wf_durable_write(dfd, "cert.pem", chain_pem.ptr, chain_pem.len, 0644) != WF_OK) {
		snprintf(err, errlen, "cannot write %s/certs/%s: %s", state_dir, name, strerror(errno));
		rc = WF_ERR;
	}
	close(dfd);
	return rc;
}
