/* Certificates on disk: see cert_state.h. */
#include "cert_state.h"
#include "cert_selfsigned.h"
#include "durable.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PEM_MAX (1 << 20)

/* Opens (making as needed) STATE/certs/NAME one component at a time with
 * O_NOFOLLOW: the run user owns this tree, and a symlink planted in it must not
 * send a later start as root writing keys somewhere else. */
static int open_cert_dir(const char *state_dir, const char *name, char *err, size_t errlen)
{
	int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	const char *parts[2] = { "certs", name };
	for (int i = 0; fd >= 0 && i < 2; i++) {
		bool made = mkdirat(fd, parts[i], 0700) == 0;
		if ((!made && errno != EEXIST) || (made && wf_durable_sync_dir(fd) != WF_OK)) {
			close(fd);
			fd = -1;
			break;
		}
		int sub = openat(fd, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = sub;
	}
	if (fd < 0)
		snprintf(err, errlen, "cannot open %s/certs/%s: %s", state_dir, name, strerror(errno));
	return fd;
}

#define PROVISIONAL_MIN_LEFT (7 * 86400) /* a provisional one closer to its end is made anew */

/* The type (S_IFMT bits) of name in dfd when it is there but no regular
 * file (an admin's mistake: a folder made where the file goes), or 0. */
static mode_t odd_type(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISREG(st.st_mode))
		return 0;
	return st.st_mode & S_IFMT;
}

/* Reads name into buf, or says once why not (quietly when absent). */
static int read_one(int dfd, const char *dir, const wf_cert_cfg_t *c, const char *name, wf_buf_t *buf)
{
	if (wf_durable_read(dfd, name, PEM_MAX, buf) == WF_OK)
		return WF_OK;
	int saved = errno;
	mode_t type = saved != ENOENT ? odd_type(dfd, name) : 0;
	/* A folder is never replaced by the next one stored: the rename onto it fails. */
	if (type)
		wf_log_warn("certificate %s: %s/%s is not a regular file (%s); it is not read%s", c->name, dir, name,
			    S_ISDIR(type) ? "a folder" : S_ISLNK(type) ? "a symlink" : "a special file",
			    S_ISDIR(type) ? ", nor can a new one be stored there until it is moved aside" : "");
	else if (saved != ENOENT)
		wf_log_warn("certificate %s: cannot read %s/%s: %s", c->name, dir, name, strerror(saved));
	errno = saved;
	return WF_ERR;
}

void wf_certstate_unusable_reason(wf_slice_t pem, const char *err, char *out, size_t cap)
{
	static const char begin[] = "-----BEGIN ";
	if (!memmem(pem.ptr, pem.len, begin, strlen(begin))) {
		snprintf(out, cap, "%s", pem.len ? "it holds no PEM certificate or key" : "it is empty");
		return;
	}
	size_t n = strlen(err);
	while (n && (err[n - 1] == '.' || err[n - 1] == ' '))
		n--; /* GnuTLS's sentences end in a full stop; ours go on after a ";" */
	snprintf(out, cap, "%.*s", (int)n, err);
}

/* Loads a pair if it is present and usable; NULL (quietly) when absent.
 * dir: the folder open on dfd, for messages; then: what follows an issued
 * pair found damaged (wf_certstate_load). */
static wf_certkey_t *load_pair(int dfd, const char *dir, const wf_cert_cfg_t *c, const char *cert_name,
			       const char *key_name, bool provisional, const char *then)
{
	wf_buf_t cert, key;
	wf_buf_init(&cert, PEM_MAX);
	wf_buf_init(&key, PEM_MAX);
	wf_certkey_t *ck = NULL;
	if (read_one(dfd, dir, c, cert_name, &cert) != WF_OK || read_one(dfd, dir, c, key_name, &key) != WF_OK)
		goto out;
	/* Whether it parses first: a damaged file is not a change of domains. */
	char err[256];
	ck = wf_certkey_new(c->name, c->domains, c->ndomains, wf_buf_slice(&cert), wf_buf_slice(&key), provisional,
			    err, sizeof(err));
	if (!ck) {
		/* The file stays as it is: only a good certificate replaces it,
		 * renamed over it whole (wf_certstate_save_issued). */
		char why[300];
		wf_certstate_unusable_reason(wf_buf_slice(&cert), err, why, sizeof(why));
		if (provisional)
			wf_log_warn("certificate %s: stored %s/%s is unusable: %s; a new provisional certificate is made "
				    "in its place",
				    c->name, dir, cert_name, why);
		else
			wf_log_warn("certificate %s: stored %s/%s is unusable: %s; the provisional self-signed certificate "
				    "serves in its place %s; the file is kept until a good certificate replaces it",
				    c->name, dir, cert_name, why, then);
		goto out;
	}
	time_t now = time(NULL);
	size_t covered = wf_certkey_pem_covered(wf_buf_slice(&cert), c->domains, c->ndomains);
	if (covered < c->ndomains && !provisional && covered > 0 && ck->not_after > now) {
		/* A name added to the config: the issued certificate still serves
		 * the names it has (a self-signed one would break them all until
		 * the CA answers, for as long as it is down), and is due at once
		 * for a new one that names them all (acme/manager.c). */
		ck->short_of_config = true;
		wf_log_info("certificate %s: stored %s names %zu of the %zu configured names; it serves those until "
			    "one for all is issued",
			    c->name, cert_name, covered, c->ndomains);
	} else if (covered < c->ndomains) {
		wf_log_info("certificate %s: stored %s does not cover the configured domains", c->name, cert_name);
		wf_certkey_unref(ck);
		ck = NULL;
		goto out;
	}
	if (!provisional && ck->not_after <= now) {
		/* Served as it was before the restart: the manager then knows its
		 * lifetime (the retry bound, the alarm) and clients see it expired,
		 * not a self-signed stranger. */
		struct tm tm;
		char at[32];
		gmtime_r(&ck->not_after, &tm);
		strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
		wf_log_warn("certificate %s: stored %s expired at %s; it is served until a new one is obtained",
			    c->name, cert_name, at);
	} else if (!provisional && c->key_type && strcasecmp(ck->key_type, c->key_type) != 0) {
		/* Served until the new one comes, rather than a self-signed one
		 * break every client meanwhile; acme/manager.c takes it as due at
		 * once. */
		wf_log_info("certificate %s: stored %s has a %s key, the config asks for %s; it serves until one "
			    "of that type is issued",
			    c->name, cert_name, ck->key_type, c->key_type);
	} else if (provisional && c->key_type && strcasecmp(ck->key_type, c->key_type) != 0) {
		/* A provisional one is made anew, at once: no CA to wait for. */
		wf_log_info("certificate %s: stored %s has a %s key, the config asks for %s", c->name, cert_name,
			    ck->key_type, c->key_type);
		wf_certkey_unref(ck);
		ck = NULL;
	} else if (provisional && ck->not_after - now < PROVISIONAL_MIN_LEFT) {
		wf_log_info("certificate %s: stored %s %s", c->name, cert_name,
			    ck->not_after < now ? "has expired" : "expires within a week");
		wf_certkey_unref(ck);
		ck = NULL;
	}
out:
	wf_buf_fini(&cert);
	wf_buf_fini(&key);
	return ck;
}

wf_certkey_t *wf_certstate_load(const char *state_dir, const wf_cert_cfg_t *c, const char *then, char *err,
				size_t errlen)
{
	int dfd = open_cert_dir(state_dir, c->name, err, errlen);
	if (dfd < 0)
		return NULL;
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/certs/%s", state_dir, c->name);
	wf_certkey_t *ck = load_pair(dfd, dir, c, "issued.pem", "issued.pem", false, then);
	if (!ck)
		ck = load_pair(dfd, dir, c, "selfsigned.pem", "selfsigned.key", true, then);
	if (ck)
		goto out;

	wf_buf_t cert, key;
	wf_buf_init(&cert, PEM_MAX);
	wf_buf_init(&key, PEM_MAX);
	if (wf_selfsigned_make(c->domains, c->ndomains, c->key_type, &cert, &key) != WF_OK) {
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
	/* Key and chain in one file, renamed into place at once: never a new
	 * certificate beside an old key. */
	wf_buf_t both;
	wf_buf_init(&both, 2 * PEM_MAX + 2);
	int rc = WF_OK;
	if (wf_buf_append(&both, key_pem.ptr, key_pem.len) != WF_OK ||
	    (key_pem.len && key_pem.ptr[key_pem.len - 1] != '\n' && wf_buf_append(&both, "\n", 1) != WF_OK) ||
	    wf_buf_append(&both, chain_pem.ptr, chain_pem.len) != WF_OK) {
		snprintf(err, errlen, "certificate too large");
		rc = WF_ERR;
	} else if (wf_durable_write(dfd, "issued.pem", wf_buf_head(&both), wf_buf_size(&both), 0600) != WF_OK) {
		snprintf(err, errlen, "cannot write %s/certs/%s/issued.pem: %s", state_dir, name, strerror(errno));
		rc = WF_ERR;
	}
	wf_buf_fini(&both);
	close(dfd);
	return rc;
}

int wf_certstate_read_issued(const char *state_dir, const char *name, wf_buf_t *out)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/certs/%s", state_dir, name);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = dfd < 0 ? WF_ERR : wf_durable_read(dfd, "issued.pem", PEM_MAX, out);
	int err = errno;
	if (rc != WF_OK && err == EINVAL && S_ISDIR(odd_type(dfd, "issued.pem")))
		err = EISDIR; /* what the caller's message should say, rather than "Invalid argument" */
	if (dfd >= 0)
		close(dfd);
	errno = err;
	return rc == WF_OK ? WF_OK : err == ENOENT ? WF_DECLINED : WF_ERR;
}

int wf_certstate_split_issued(wf_slice_t issued, wf_slice_t *key, wf_slice_t *chain)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	const char *at = memmem(issued.ptr, issued.len, begin, strlen(begin));
	if (!at || at == issued.ptr)
		return WF_ERR;
	*key = (wf_slice_t){ issued.ptr, (size_t)(at - issued.ptr) };
	*chain = (wf_slice_t){ at, (size_t)(issued.ptr + issued.len - at) };
	return WF_OK;
}

#define DEPLOY_PENDING "deploy-pending"
#define DEPLOY_PENDING_MAX 256 /* a serial and a line end; more is no mark of ours */

/* STATE/certs/NAME as it is, never made: a mark is only ever read or
 * cleared where a certificate was stored. -1 with errno. */
static int open_cert_dir_existing(const char *state_dir, const char *name)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/certs/%s", state_dir, name);
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int wf_certstate_set_deploy_pending(const char *state_dir, const char *name, const char *token)
{
	char err[64], line[DEPLOY_PENDING_MAX];
	int dfd = open_cert_dir(state_dir, name, err, sizeof(err));
	if (dfd < 0)
		return WF_ERR;
	int n = snprintf(line, sizeof(line), "%s\n", token);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	int rc = wf_durable_write(dfd, DEPLOY_PENDING, line, len, 0600);
	int saved = errno;
	close(dfd);
	errno = saved;
	return rc;
}

int wf_certstate_clear_deploy_pending(const char *state_dir, const char *name)
{
	int dfd = open_cert_dir_existing(state_dir, name);
	if (dfd < 0)
		return errno == ENOENT ? WF_OK : WF_ERR;
	int rc = WF_OK;
	if (unlinkat(dfd, DEPLOY_PENDING, 0) == 0)
		rc = wf_durable_sync_dir(dfd); /* else a crash could bring the mark back */
	else if (errno != ENOENT)
		rc = WF_ERR;
	int saved = errno;
	close(dfd);
	errno = saved;
	return rc;
}

int wf_certstate_read_deploy_pending(const char *state_dir, const char *name, char *token, size_t cap)
{
	wf_buf_t buf;
	wf_buf_init(&buf, DEPLOY_PENDING_MAX + 4096); /* wf_durable_read asks room for a 4 KiB read */
	int dfd = open_cert_dir_existing(state_dir, name);
	int rc = dfd < 0 ? WF_ERR : wf_durable_read(dfd, DEPLOY_PENDING, DEPLOY_PENDING_MAX, &buf);
	int saved = errno;
	if (dfd >= 0)
		close(dfd);
	if (rc == WF_OK && cap) {
		size_t n = 0;
		wf_slice_t s = wf_buf_slice(&buf);
		for (; n < s.len && n + 1 < cap && s.ptr[n] != '\n' && s.ptr[n] != '\r'; n++)
			token[n] = s.ptr[n] >= 0x20 && s.ptr[n] < 0x7f ? s.ptr[n] : '?'; /* for a log line */
		token[n] = '\0';
	}
	wf_buf_fini(&buf);
	errno = saved;
	return rc == WF_OK ? WF_OK : saved == ENOENT ? WF_DECLINED : WF_ERR;
}
