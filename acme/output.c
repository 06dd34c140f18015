/* Certificate files for other servers: see output.h. */
#include "output.h"
#include "../server/buf.h"
#include "../server/cert_key.h"
#include "../server/cert_state.h"
#include "../server/config.h"
#include "../server/durable.h"
#include "../server/log.h"

#include <dirent.h>
#include <gnutls/gnutls.h>
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

/* Does name already hold exactly these bytes? Its mode and group are not
 * judged: an admin who let a service's group read privkey.pem (0640) keeps
 * that, and no start-up rewrite (with its deploy hook) undoes it; a file
 * rewritten takes its group and group-read bit along. Read in
 * a block on the stack, wiped after: the file may be a private key. */
static bool unchanged(int dfd, const char *name, const char *data, size_t len)
{
	/* O_NONBLOCK: a FIFO at the name would hold the open for ever; it is
	 * not a regular file, so it is replaced like any other stranger. */
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len;
	char block[4096];
	for (size_t at = 0; same && at < len;) {
		ssize_t n = read(fd, block, len - at < sizeof(block) ? len - at : sizeof(block));
		if (n < 0 && errno == EINTR)
			continue;
		same = n > 0 && memcmp(block, data + at, (size_t)n) == 0;
		at += n > 0 ? (size_t)n : 0;
	}
	gnutls_memset(block, 0, sizeof(block));
	close(fd);
	return same;
}

/* The one way into the folder, for the writes and the sweep alike, so that
 * both reach the same place: an output_dir that is a symlink to a folder
 * (a service's own folder, say) is followed, as the run user, whose
 * permissions are the only rule either applies (docs/acme.md). */
static int open_folder(const char *dir)
{
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
	int dfd = open_folder(dir);
	if (dfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return WF_ERR;
	}
	wf_buf_t combined;
	wf_buf_init(&combined, 2 * FILE_MAX);
	int rc = WF_OK;
	/* Its whole size first: a buffer grown by steps leaves freed copies of the key. */
	if (!wf_buf_reserve(&combined, key_pem.len + 1 + chain_pem.len) ||
	    wf_buf_append(&combined, key_pem.ptr, key_pem.len) != WF_OK ||
	    (key_pem.len && key_pem.ptr[key_pem.len - 1] != '\n' && wf_buf_append(&combined, "\n", 1) != WF_OK) ||
	    wf_buf_append(&combined, chain_pem.ptr, chain_pem.len) != WF_OK) {
		snprintf(err, errlen, "certificate too large");
		rc = WF_ERR;
	}
	/* No order of renames keeps two files in step: between them a reader
	 * can find a new key beside the old certificate. combined.pem is whole
	 * by itself; for the others the deploy hook, run after the last rename,
	 * is the moment the set is consistent (docs/acme.md). */
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
		if (!unchanged(dfd, files[i].name, files[i].data, files[i].len) &&
		    wf_durable_stage_keep_group(dfd, files[i].name, files[i].data, files[i].len, files[i].mode,
						files[i].tmp, sizeof(files[i].tmp)) != WF_OK) {
			snprintf(err, errlen, "cannot write %s/%s: %s", dir, files[i].name, strerror(errno));
			rc = WF_ERR;
		}
	if (rc != WF_OK) {
		for (size_t i = 0; i < n; i++)
			if (files[i].tmp[0])
				unlinkat(dfd, files[i].tmp, 0);
	}
	/* Once one is renamed, a failed rename does not stop the rest: each
	 * file left old could sit beside a new privkey.pem. The folder is
	 * synced once, after the last. */
	bool renamed = false, refused = false;
	for (size_t i = 0; rc == WF_OK && i < n; i++) {
		if (!files[i].tmp[0])
			continue;
		if (wf_durable_rename(dfd, files[i].tmp, files[i].name) != WF_OK) {
			if (!refused) /* the first says why */
				snprintf(err, errlen, "cannot replace %s/%s: %s", dir, files[i].name, strerror(errno));
			refused = true;
			continue;
		}
		renamed = *changed = true;
	}
	if (refused)
		rc = WF_ERR;
	if (renamed && wf_durable_sync_dir(dfd) != WF_OK && rc == WF_OK) {
		snprintf(err, errlen, "cannot sync the folder %s: %s", dir, strerror(errno));
		rc = WF_ERR;
	}
	if (combined.data)
		gnutls_memset(combined.data, 0, combined.cap);
	wf_buf_fini(&combined);
	close(dfd);
	return rc;
}

bool acme_output_ahead(const char *dir, wf_slice_t chain_pem, char *serial, size_t cap)
{
	int dfd = open_folder(dir);
	if (dfd < 0)
		return false;
	wf_buf_t have;
	wf_buf_init(&have, FILE_MAX);
	time_t theirs, ours;
	char ours_serial[64];
	bool ahead = wf_durable_read(dfd, "cert.pem", FILE_MAX, &have) == WF_OK &&
		     wf_certkey_pem_leaf(wf_buf_slice(&have), &theirs, serial, cap) &&
		     wf_certkey_pem_leaf(chain_pem, &ours, ours_serial, sizeof(ours_serial)) && theirs > ours;
	wf_buf_fini(&have);
	close(dfd);
	return ahead;
}

/* ".NAME.tmp.<16 hex>" for one of the five names: wf_durable_stage's temp
 * name, and nothing else. */
static bool own_temp(const char *ent, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		if (ent[0] != '.' || strncmp(ent + 1, names[i], len) != 0 || strncmp(ent + 1 + len, ".tmp.", 5) != 0)
			continue;
		const char *hex = ent + 1 + len + 5;
		size_t k = 0;
		while (hex[k] && ((hex[k] >= '0' && hex[k] <= '9') || (hex[k] >= 'a' && hex[k] <= 'f')))
			k++;
		if (k == 16 && !hex[k])
			return true;
	}
	return false;
}

int acme_output_sweep(const char *dir)
{
	static const char *const names[] = { "privkey.pem", "combined.pem", "cert.pem", "chain.pem", "fullchain.pem" };
	int dfd = open_folder(dir);
	if (dfd < 0)
		return 0;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (own_temp(e->d_name, names, sizeof(names) / sizeof(names[0])) && unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	closedir(d);
	return n;
}
