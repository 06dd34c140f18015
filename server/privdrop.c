/* Privilege drop: see privdrop.h. */
#include "privdrop.h"
#include "log.h"
#include "state_dir.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int wf_privdrop_resolve(const wf_config_t *cfg, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(cfg->run_user);
	if (!pw) {
		snprintf(err, errlen, "run_user \"%s\" does not exist", cfg->run_user);
		return WF_ERR;
	}
	if (pw->pw_uid == 0 && !cfg->allow_root) {
		snprintf(err, errlen, "refusing to serve files as root: set run_user to an unprivileged user, or "
				      "allow_root = true");
		return WF_ERR;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return WF_OK;
}

static void at_of(const wf_config_t *cfg, wf_config_at_t at, char *out, size_t outlen);

int wf_privdrop_check_user(const wf_config_t *cfg, uid_t *uid, gid_t *gid, FILE *out)
{
	char err[512], where[420];
	if (wf_privdrop_resolve(cfg, uid, gid, err, sizeof(err)) == WF_OK)
		return WF_OK;
	at_of(cfg, cfg->at.run_user, where, sizeof(where));
	fprintf(out, "%s%s\n", where, err);
	return WF_ERR;
}

static int chown_tree(int dfd, const char *rel, uid_t uid, gid_t gid, int depth, char *err, size_t errlen);

/* Gives dfd's entry name (rel: its path from the state folder, for
 * messages) to the run user, a folder with what it holds down to depth.
 *
 * Walks by directory fds with O_NOFOLLOW: the run user owns this tree after
 * the first start, so a path-based walk could be steered through a planted
 * symlink into chowning anything on a later start as root. A planted hard
 * link would do the same where the kernel allows linking others' files
 * (fs.protected_hardlinks=0): wharf makes none here, so a file with more
 * than one link is refused, not given away. Each entry is opened once
 * (O_PATH, so any type opens without side effects) and its type, owner and
 * link count are read from that fd, and its owner changed through it: the
 * run user may rename entries of its folder at will, and a check by name
 * followed by a chown by name could meet two different files. */
static int give_entry(int dfd, const char *name, const char *rel, uid_t uid, gid_t gid, int depth, char *err,
		      size_t errlen)
{
	int rc = WF_OK;
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = WF_ERR;
	} else if (S_ISDIR(st.st_mode)) {
		/* An O_PATH fd cannot be read: the folder it holds is
		 * opened again through it, never by name. */
		int sub = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = sub >= 0 ? chown_tree(sub, rel, uid, gid, depth, err, errlen) : WF_ERR;
		if (sub >= 0)
			close(sub);
	} else if (st.st_uid == uid && st.st_gid == gid) {
		/* already the run user's */
	} else if (!S_ISLNK(st.st_mode) && st.st_nlink > 1) {
		snprintf(err, errlen, "%.300s has %lu hard links: it may be another file's name, so it is not given "
				      "to the run user; remove it",
			 rel, (unsigned long)st.st_nlink);
		rc = WF_ERR;
	} else if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
		rc = WF_ERR;
	}
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return rc;
}

/* A listing of the folder open on dfd, which stays open; NULL on failure. */
static DIR *listing(int dfd)
{
	int dup_fd = dup(dfd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d && dup_fd >= 0)
		close(dup_fd);
	return d;
}

/* The folder open on dfd and, down to depth, what it holds. */
static int chown_tree(int dfd, const char *rel, uid_t uid, gid_t gid, int depth, char *err, size_t errlen)
{
	if (fchown(dfd, uid, gid) != 0)
		return WF_ERR;
	if (depth == 0)
		return WF_OK;
	DIR *d = listing(dfd);
	if (!d)
		return WF_ERR;
	int rc = WF_OK;
	struct dirent *e;
	while (rc == WF_OK && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", rel, e->d_name);
		rc = give_entry(dfd, e->d_name, path, uid, gid, depth - 1, err, errlen);
	}
	closedir(d);
	return rc;
}

/* Whether the folder open on dfd holds nothing but wharf's entries. */
static bool only_ours(int dfd)
{
	DIR *d = listing(dfd);
	if (!d)
		return false;
	bool ours = true;
	struct dirent *e;
	while (ours && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		bool known = false;
		for (const wf_state_entry_t *w = wf_state_entries; w->name && !known; w++)
			known = strcmp(e->d_name, w->name) == 0;
		ours = known;
	}
	closedir(d);
	return ours;
}

int wf_privdrop_chown_state(const char *state_dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char why[512] = "";
	int rc = WF_ERR;
	int fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		goto out;
	/* Made here, as root, so that the run user never needs to write the
	 * folder itself, which may be shared. */
	for (const wf_state_entry_t *w = wf_state_entries; w->name; w++)
		if (w->dir && mkdirat(fd, w->name, 0700) != 0 && errno != EEXIST)
			goto out;
	for (const wf_state_entry_t *w = wf_state_entries; w->name; w++)
		if (give_entry(fd, w->name, w->name, uid, gid, 3, why, sizeof(why)) != WF_OK)
			goto out;
	/* The folder itself only when it is wharf's alone: a shared one (other
	 * files beside the state) stays whose it is. */
	struct stat st;
	if (fstat(fd, &st) != 0)
		goto out;
	if ((st.st_uid != uid || st.st_gid != gid) && only_ours(fd) && fchown(fd, uid, gid) != 0)
		goto out;
	rc = WF_OK;
out:
	if (rc != WF_OK)
		snprintf(err, errlen, "cannot give %s to the run user: %s", state_dir, why[0] ? why : strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

int wf_privdrop_check_state(const wf_config_t *cfg, char *err, size_t errlen)
{
	for (const wf_state_entry_t *w = wf_state_entries; w->name; w++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, w->name);
		if (w->dir && access(path, W_OK | X_OK) != 0) {
			snprintf(err, errlen, "run user %s cannot write %.4000s: %s", cfg->run_user, path,
				 strerror(errno));
			return WF_ERR;
		}
	}
	return WF_OK;
}

int wf_privdrop_check_homes(const wf_config_t *cfg, bool dropped, wf_buf_t *out)
{
	char who[300];
	if (dropped)
		snprintf(who, sizeof(who), "run user %s", cfg->run_user);
	else
		snprintf(who, sizeof(who), "the server (uid %d)", (int)geteuid());
	int n = 0;
	for (size_t i = 0; i < cfg->nusers; i++) {
		const wf_user_cfg_t *u = &cfg->users[i];
		if (u->home_fd < 0)
			continue;
		/* What serving takes: entering the home and listing it. */
		int fd = openat(u->home_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		n++;
		if (!out) {
			wf_log_warn("user %s: home %s cannot be read by %s: %m", u->name, u->home, who);
			continue;
		}
		char where[420];
		at_of(cfg, u->at, where, sizeof(where));
		wf_buf_printf(out, "%swarning: user %s: home %s cannot be read by %s: %s\n", where, u->name, u->home, who,
			      strerror(errno));
	}
	if (out) {
		char *nul = wf_buf_reserve(out, 1);
		if (nul)
			*nul = '\0';
	}
	return n;
}

int wf_privdrop_apply(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (uid == 0)
		return WF_OK;
	if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
		snprintf(err, errlen, "cannot drop privileges: %s", strerror(errno));
		return WF_ERR;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		snprintf(err, errlen, "privileges could be regained after the drop; refusing to run");
		return WF_ERR;
	}
	return WF_OK;
}

/* The user the server runs as, for messages: "run user NAME" after a drop,
 * else "the server (uid N)". */
static void runner(const wf_config_t *cfg, bool dropped, char *who, size_t cap)
{
	if (dropped)
		snprintf(who, cap, "run user %s", cfg->run_user);
	else
		snprintf(who, cap, "the server (uid %d)", (int)geteuid());
}

/* What to do, for one who must read path: give it to the run user's group. */
static void readable_hint(const wf_config_t *cfg, bool dropped, const char *path, char *out, size_t cap)
{
	if (!dropped) {
		snprintf(out, cap, "make it readable by the user the server runs as");
		return;
	}
	struct group *gr = getgrgid(getgid());
	snprintf(out, cap, "make it readable by %s, e.g. chown root:%s %.500s && chmod 0640 %.500s", cfg->run_user,
		 gr ? gr->gr_name : cfg->run_user, path, path);
}

/* Why path cannot be read as a file by this process now: NULL when it can. */
static const char *unreadable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return strerror(errno);
	struct stat st;
	bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	return regular ? NULL : "not a regular file";
}

int wf_privdrop_check_config(const wf_config_t *cfg, bool dropped, char *err, size_t errlen)
{
	char who[300], hint[1400];
	runner(cfg, dropped, who, sizeof(who));
	for (size_t i = 0; i <= cfg->nsources; i++) {
		const char *path = i == 0 ? cfg->path : cfg->sources[i - 1];
		const char *why = unreadable(path);
		if (!why)
			continue;
		readable_hint(cfg, dropped, path, hint, sizeof(hint));
		snprintf(err, errlen, "%s cannot read %s %.500s (%s): every reload (SIGHUP) will be refused; %s", who,
			 i == 0 ? "the config file" : "the @include'd file", path, why, hint);
		return WF_ERR;
	}
	return WF_OK;
}

/* "FILE:LINE: " of an entry, as the config's own problems begin. */
static void at_of(const wf_config_t *cfg, wf_config_at_t at, char *out, size_t outlen)
{
	wf_config_where(cfg, at, out, outlen);
}

int wf_privdrop_check_trust(const wf_config_t *cfg, bool dropped, char *err, size_t errlen)
{
	char who[300], hint[1400], at[420];
	runner(cfg, dropped, who, sizeof(who));
	const char *ca = cfg->cluster.controller_ca;
	bool follower = cfg->cluster.role && strcmp(cfg->cluster.role, "follower") == 0;
	const char *why = follower && ca && ca[0] ? unreadable(ca) : NULL;
	if (why) {
		readable_hint(cfg, dropped, ca, hint, sizeof(hint));
		at_of(cfg, cfg->cluster.at, at, sizeof(at));
		snprintf(err, errlen,
			 "%scluster.controller_ca %.500s: %s cannot read it (%s), so no answer of the controller could be "
			 "trusted; %s",
			 at, ca, who, why, hint);
		return WF_ERR;
	}
	/* A CA's own trust anchor is read by libcurl at each request, as the
	 * run user: one only root may read would fail every order, each
	 * seeming the CA's trouble. One not there yet (a local CA started
	 * after us) is the CA's business: its requests say so. Followers
	 * order nothing. */
	for (size_t i = 0; !follower && i < cfg->acme.ncas; i++) {
		const char *bundle = cfg->acme.cas[i].ca_bundle;
		if (!bundle || !bundle[0] || (access(bundle, F_OK) != 0 && errno == ENOENT) || !(why = unreadable(bundle)))
			continue;
		readable_hint(cfg, dropped, bundle, hint, sizeof(hint));
		at_of(cfg, cfg->acme.cas[i].at, at, sizeof(at));
		snprintf(err, errlen,
			 "%sacme.cas[%zu].ca_bundle %.500s: %s cannot read it (%s), so no request to %.500s could be "
			 "trusted; %s",
			 at, i, bundle, who, why, cfg->acme.cas[i].url, hint);
		return WF_ERR;
	}
	return WF_OK;
}

/* One problem of check_runs, at the entry it is written at. */
WF_PRINTF(4, 5)
static void run_problem(const wf_config_t *cfg, wf_config_at_t at, wf_buf_t *out, const char *fmt, ...)
{
	char where[420];
	at_of(cfg, at, where, sizeof(where));
	wf_buf_append_str(out, where);
	va_list ap;
	va_start(ap, fmt);
	wf_buf_vprintf(out, fmt, ap);
	va_end(ap);
	wf_buf_append_str(out, "\n");
}

/* Whether this process may run argv0 as posix_spawnp will look for it: a
 * path with '/' as it is, a bare name through PATH. The load checked the
 * mode bits as whoever loaded (root, at a start); access(2) here asks the
 * kernel as the user the hooks run as, folders on the way included. */
static bool may_execute(const char *argv0)
{
	if (strchr(argv0, '/'))
		return access(argv0, X_OK) == 0;
	const char *path = getenv("PATH");
	char *dirs = strdup(path ? path : "/bin:/usr/bin");
	bool found = false;
	for (char *save = NULL, *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d && !found; d = strtok_r(NULL, ":", &save)) {
		char *full;
		if (asprintf(&full, "%s/%s", d, argv0) < 0)
			break;
		struct stat st;
		found = access(full, X_OK) == 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode);
		free(full);
	}
	free(dirs);
	return found;
}

static int check_run_hook(const wf_config_t *cfg, wf_config_at_t at, const char *key, char *const *argv, size_t n,
			  const char *who, wf_buf_t *out)
{
	if (!n || !argv[0][0] || may_execute(argv[0]))
		return 0;
	run_problem(cfg, at, out, "%s %s: %s may not execute it (%s)", key, argv[0], who,
		    strchr(argv[0], '/') ? strerror(errno) : "not so in any folder of PATH");
	return 1;
}

/* A folder the server makes when it first writes there (with the folders
 * above it that are missing), then writes by temp file and rename: the
 * folder, or the nearest one above it that is there, must be writable and
 * searchable by who writes. Problems begin with what (the key and its
 * value). */
static int check_writable_dir(const wf_config_t *cfg, wf_config_at_t at, const char *what, const char *path,
			      const char *who, wf_buf_t *out)
{
	char *dir = strdup(path);
	if (!dir)
		return 0;
	int rc = 0;
	for (;;) {
		struct stat st;
		int there = stat(dir, &st) == 0 ? 0 : errno;
		/* A file, or a link to nothing, on the way: no mkdir gets past it. */
		const char *why = !there && !S_ISDIR(st.st_mode)	    ? "not a folder"
				  : there == ENOENT && lstat(dir, &st) == 0 ? "a symbolic link to nothing"
									    : NULL;
		if (why) {
			run_problem(cfg, at, out, "%s: %s is %s", what, dir, why);
			rc = 1;
			break;
		}
		if (there != ENOENT && there != ENOTDIR) {
			if (access(dir, W_OK | X_OK) != 0) {
				run_problem(cfg, at, out, "%s: %s cannot write there (or create it): %s: %s", what, who, dir,
					    strerror(errno));
				rc = 1;
			}
			break;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || (slash == dir && !slash[1]))
			break;
		slash[slash == dir] = '\0'; /* the folder above: "/" above "/srv" */
	}
	free(dir);
	return rc;
}

static int check_output_dir(const wf_config_t *cfg, const wf_cert_cfg_t *c, const char *who, wf_buf_t *out)
{
	if (!c->output_dir || !c->output_dir[0])
		return 0;
	char what[600];
	snprintf(what, sizeof(what), "certificate \"%s\": output_dir %.500s", c->name, c->output_dir);
	return check_writable_dir(cfg, c->at, what, c->output_dir, who, out);
}

/* HTTP-01 answers are written under webroot/.well-known/acme-challenge,
 * made at the start (acme_challenges_set_webroot), as the server runs. */
static int check_webroot(const wf_config_t *cfg, const char *webroot, const char *who, wf_buf_t *out)
{
	if (!webroot || !webroot[0])
		return 0;
	char what[600], path[4200];
	snprintf(what, sizeof(what), "cannot write into the webroot %.500s", webroot);
	snprintf(path, sizeof(path), "%s/.well-known/acme-challenge", webroot);
	/* --webroot (cert obtain) is not written in the file. */
	wf_config_at_t at = webroot == cfg->acme.webroot ? cfg->at.webroot : (wf_config_at_t){ NULL, 0 };
	return check_writable_dir(cfg, at, what, path, who, out);
}

int wf_privdrop_check_runs(const wf_config_t *cfg, bool dropped, const char *webroot, wf_buf_t *out)
{
	char who[300];
	if (dropped) {
		snprintf(who, sizeof(who), "the run user %s", cfg->run_user);
	} else {
		struct passwd *pw = getpwuid(geteuid());
		if (pw)
			snprintf(who, sizeof(who), "the user %s the server runs as", pw->pw_name);
		else
			snprintf(who, sizeof(who), "the uid %d the server runs as", (int)geteuid());
	}
	int n = 0;
	n += check_run_hook(cfg, cfg->acme.at, "acme.event_hook", cfg->acme.event_hook, cfg->acme.nevent_hook, who, out);
	n += check_run_hook(cfg, cfg->acme.at, "acme.dns_hook", cfg->acme.dns_hook, cfg->acme.ndns_hook, who, out);
	for (size_t i = 0; i < cfg->ncertificates; i++) {
		const wf_cert_cfg_t *c = &cfg->certificates[i];
		char key[128];
		/* A program acme.dns_hook runs too (the one every dns-01
		 * certificate without its own takes) is said there, once. */
		if (c->ndns_hook && !(cfg->acme.ndns_hook && strcmp(c->dns_hook[0], cfg->acme.dns_hook[0]) == 0)) {
			snprintf(key, sizeof(key), "certificate \"%s\": dns_hook", c->name);
			n += check_run_hook(cfg, c->at, key, c->dns_hook, c->ndns_hook, who, out);
		}
		snprintf(key, sizeof(key), "certificate \"%s\": deploy_hook", c->name);
		n += check_run_hook(cfg, c->at, key, c->deploy_hook, c->ndeploy_hook, who, out);
		n += check_output_dir(cfg, c, who, out);
	}
	n += check_webroot(cfg, webroot, who, out);
	char *nul = wf_buf_reserve(out, 1);
	if (nul)
		*nul = '\0';
	return n;
}

int wf_privdrop_check_as(const wf_config_t *cfg, uid_t uid, gid_t gid, FILE *out)
{
	fflush(NULL); /* nothing buffered is written twice, by the child too */
	pid_t pid = fork();
	if (pid < 0)
		return WF_OK; /* nothing said: the start will say it */
	if (pid == 0) {
		char err[2048];
		int code = 0;
		if (wf_privdrop_apply(uid, gid, err, sizeof(err)) != WF_OK)
			_exit(0);
		if (wf_privdrop_check_config(cfg, true, err, sizeof(err)) != WF_OK)
			fprintf(out, "%s: warning: %s\n", cfg->path, err);
		if (wf_privdrop_check_trust(cfg, true, err, sizeof(err)) != WF_OK) {
			fprintf(out, "%s\n", err);
			code = 1;
		}
		wf_buf_t runs;
		wf_buf_init(&runs, 1 << 20);
		if (wf_privdrop_check_runs(cfg, true, cfg->acme.webroot, &runs)) {
			fputs(wf_buf_head(&runs), out);
			code = 1;
		}
		wf_buf_reset(&runs);
		if (wf_privdrop_check_homes(cfg, true, &runs))
			fputs(wf_buf_head(&runs), out);
		wf_buf_fini(&runs);
		fflush(out);
		_exit(code);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 1 ? WF_ERR : WF_OK;
}
