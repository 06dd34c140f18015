/* Privilege drop: see privdrop.h. */
#define _XOPEN_SOURCE 700
#include "privdrop.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
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

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return lchown(path, chown_uid, chown_gid) == 0 ? 0 : -1;
}

int wf_privdrop_chown_state(const char *state_dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	chown_uid = uid;
	chown_gid = gid;
	if (nftw(state_dir, chown_one, 16, FTW_PHYS) != 0) {
		snprintf(err, errlen, "cannot give %s to the run user: %s", state_dir, strerror(errno));
		return WF_ERR;
	}
	return WF_OK;
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
