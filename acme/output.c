/* Certificate files for other servers: see output.h. */
#include "output.h"
#include "../server/buf.h"
#include "../server/cert_state.h"
#include "../server/config.h"
#include "../server/durable.h"
#include "../server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PEM_END "-----END CERTIFICATE-----"
#define FILE_MAX (1 << 20)

int acme_output_split(wf_slice_t chain_pem, wf_slice_t *leaf, wf_slice_t *rest)
{
	const char *end = memmem(chain_pem.ptr, chain_pem.len, PEM_END, strlen(PEM_END));
	if (!end)
		return WF_ERR;
	const char *stop = end + strlen(PEM_END);
	const char *limit = chain_pem.ptr + chain_pem.len;
	while (stop < limit && (*stop == '\r' || *stop == '\n'))
		stop++;
	*leaf = (wf_slice_t){ chain_pem.ptr, (size_t)(stop - chain_pem.ptr) };
	*rest = (wf_slice_t){ stop, (size_t)(limit - stop) };
	return WF_OK;
}

/* Does name already hold exactly these bytes, with this mode? */
static bool unchanged(int dfd, const char *name, const char *data, size_t len, mode_t mode)
{
	wf_buf_t old;
	wf_buf_init(&old, FILE_MAX);
	struct stat st;
	bool same = wf_durable_read(dfd, name, FILE_MAX, &old) == WF_OK && wf_buf_size(&old) == len &&
		    memcmp(wf_buf_head(&old), data, len) == 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (st.st_mode & 07777) == mode;
	wf_buf_fini(&old);
	return same;
}

int acme_output_write(const char *dir, wf_slice_t chain_pem, wf_slice_t key_pem, bool *changed, char *err,
		      size_t errlen)
{
	*changed = false;
	wf_slice_t leaf, rest;
	if (acme_output_split(chain_pem, &leaf, &rest) != WF_OK) {
		snprintf(err, errlen, "the chain holds no certificate");
		return WF_ERR;
	}
	if (wf_durable_mkdirs(dir, 0700) != WF_OK) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return WF_ERR;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return WF_ERR;
	}
	wf_buf_t combined;
	wf_buf_init(&combined, 2 * FILE_MAX);
	int rc = WF_OK;
	if (wf_buf_append(&combined, key_pem.ptr, key_pem.len) != WF_OK ||
	    (key_pem.len && key_pem.ptr[key_pem.len - 1] != '\n' && wf_buf_append(&combined, "\n", 1) != WF_OK) ||
	    wf_buf_append(&combined, chain_pem.ptr, chain_pem.len) != WF_OK) {
		snprintf(err, errlen, "certificate too large");
		rc = WF_ERR;
	}
	/* The key first: a reader that sees a new certificate finds its key. */
	struct {
		const char *name;
		const char *data;
		size_t len;
		mode_t mode;
		char tmp[WF_DURABLE_TMP_MAX]; /* staged under this name, or "" */
	} files[] = {
		{ "privkey.pem", key_pem.ptr, key_pem.len, 0600, "" },
		{ "combined.pem", wf_buf_head(&combined), wf_buf_size(&combined), 0600, "" },
		{ "cert.pem", leaf.ptr, leaf.len, 0644, "" },
		{ "chain.pem", rest.ptr, rest.len, 0644, "" },
		{ "fullchain.pem", chain_pem.ptr, chain_pem.len, 0644, "" },
	};
	size_t n = sizeof(files) / sizeof(files[0]);
	/* All five are written and flushed before any is renamed: a full disk
	 * fails the set before the first rename, so a service never finds a
	 * new key beside an old certificate. */
	for (size_t i = 0; rc == WF_OK && i < n; i++)
		if (!unchanged(dfd, files[i].name, files[i].data, files[i].len, files[i].mode) &&
		    wf_durable_stage(dfd, files[i].name, files[i].data, files[i].len, files[i].mode, files[i].tmp,
				     sizeof(files[i].tmp)) != WF_OK) {
			snprintf(err, errlen, "cannot write %s/%s: %s", dir, files[i].name, strerror(errno));
			rc = WF_ERR;
		}
	for (size_t i = 0; i < n; i++) {
		if (!files[i].tmp[0])
			continue;
		if (rc != WF_OK) {
			unlinkat(dfd, files[i].tmp, 0);
			continue;
		}
		*changed = true;
		if (wf_durable_commit(dfd, files[i].tmp, files[i].name) != WF_OK) {
			snprintf(err, errlen, "cannot replace %s/%s: %s", dir, files[i].name, strerror(errno));
			rc = WF_ERR;
		}
	}
	wf_buf_fini(&combined);
	close(dfd);
	return rc;
}

int acme_output_install(const wf_cert_cfg_t *cert, wf_slice_t chain_pem, wf_slice_t key_pem, bool *changed)
{
	*changed = false;
	if (!cert->output_dir || !cert->output_dir[0])
		return WF_OK;
	char err[512];
	int rc = acme_output_write(cert->output_dir, chain_pem, key_pem, changed, err, sizeof(err));
	if (rc != WF_OK)
		wf_log_error("certificate %s: output files in %s not updated: %s", cert->name, cert->output_dir, err);
	else if (*changed)
		wf_log_info("certificate %s: wrote cert.pem, chain.pem, fullchain.pem, privkey.pem and combined.pem in %s",
			    cert->name, cert->output_dir);
	return rc;
}

int acme_output_sync(const char *state_dir, const wf_cert_cfg_t *cert, bool *changed)
{
	*changed = false;
	if (!cert->output_dir || !cert->output_dir[0])
		return WF_OK;
	wf_buf_t pem;
	wf_buf_init(&pem, FILE_MAX);
	int rc = wf_certstate_read_issued(state_dir, cert->name, &pem);
	if (rc != WF_OK) {
		if (rc == WF_ERR)
			wf_log_warn("certificate %s: cannot read the issued certificate: %m", cert->name);
		wf_buf_fini(&pem);
		return rc == WF_DECLINED ? WF_OK : WF_ERR; /* nothing issued yet: nothing to write */
	}
	wf_slice_t key, chain;
	if (wf_certstate_split_issued(wf_buf_slice(&pem), &key, &chain) == WF_OK) {
		rc = acme_output_install(cert, chain, key, changed);
	} else {
		wf_log_error("certificate %s: output files in %s not updated: no certificate after the key", cert->name,
			     cert->output_dir);
		rc = WF_ERR;
	}
	wf_buf_fini(&pem);
	return rc;
}
